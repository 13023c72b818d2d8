"""Causal Keras layers of PixelRNN and PixelCNN."""

from pixelrnn_tf.layers.class_condition import ClassCondition
from pixelrnn_tf.layers.diagonal_bilstm import DiagonalBiLSTM
from pixelrnn_tf.layers.diagonal_lstm import DiagonalLSTM
from pixelrnn_tf.layers.diagonal_lstm import DiagonalLSTMCell
from pixelrnn_tf.layers.discretized_logistic_mixture_head import (
    DiscretizedLogisticMixtureHead,
)
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.per_channel_softmax_head import PerChannelSoftmaxHead
from pixelrnn_tf.layers.pixel_cnn_residual_block import PixelCNNResidualBlock
from pixelrnn_tf.layers.pixel_rnn_residual_block import PixelRNNResidualBlock
from pixelrnn_tf.layers.row_lstm import RowLSTM
from pixelrnn_tf.layers.row_lstm import RowLSTMCell
