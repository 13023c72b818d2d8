import keras

from pixelrnn_tf import logistic_mixture
from pixelrnn_tf.layers.per_channel_softmax_head import PerChannelSoftmaxHead


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiscretizedLogisticMixtureHead(PerChannelSoftmaxHead):
    """Output stack and a discretized logistic mixture per sub-pixel.

    The output stack of `PerChannelSoftmaxHead`, whose last 1×1 mask-B conv
    gives each colour the parameters of a mixture of `num_mixtures`
    logistics (weights, means, log-scales: 3K features per R|G|B group),
    discretized to the levels with the edge levels taking the tails
    (PixelCNN++ eq. 2; `pixelrnn_tf.logistic_mixture`). The colour order is
    the masks': R's mixture sees the context, G's also R, B's also R and G.

    The output is the normalised log-probability of every level, (B, H, W,
    C, num_levels): as logits, they give every path made for the softmax
    head (likelihood, sampling, serving) this distribution unchanged. A
    model's `fit` and `log_prob` skip the table: with `emit_parameters`
    set, the head returns the mixtures' parameters (B, H, W, C, 3K), and
    `logistic_mixture.nll` scores the observed levels only (O(K) per
    sub-pixel instead of O(K·L)).

    Args:
        num_levels: int. Levels per sub-pixel, at least 2.
        hidden_dim: int. Width of the hidden 1×1 layer.
        num_mixtures: int. Logistics per sub-pixel, K. Defaults to `5`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        **kwargs: base `Layer` arguments; `dtype` defaults to `"float32"`.

    Example:
    >>> head = DiscretizedLogisticMixtureHead(num_levels=4, hidden_dim=6)
    >>> head(np.zeros((2, 5, 5, 12))).shape
    (2, 5, 5, 3, 4)

    Reference:
     - [Salimans et al., 2017](https://arxiv.org/abs/1701.05517), §2.1
    """

    def __init__(
        self, num_levels, hidden_dim, num_mixtures=5, color_channels=3, **kwargs
    ):
        if not isinstance(num_mixtures, int) or num_mixtures < 1:
            raise ValueError(
                "`num_mixtures` must be a positive integer. "
                f"Received: num_mixtures={num_mixtures!r}"
            )
        self.num_mixtures = num_mixtures
        self.emit_parameters = False
        super().__init__(num_levels, hidden_dim, color_channels, **kwargs)

    @property
    def outputs_per_color(self):
        """Logits of the weights, means and log-scales: 3K."""
        return 3 * self.num_mixtures

    def level_logits(self, outputs):
        if self.emit_parameters:
            return outputs
        return logistic_mixture.log_probs(outputs, self.num_levels)

    def get_config(self):
        return {**super().get_config(), "num_mixtures": self.num_mixtures}
