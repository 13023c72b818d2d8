"""Training, evaluation and sampling CLIs over `train.run(config, workdir)`.

`import train` loads no TensorFlow, so the CLIs answer `--help` at once;
`train.run` imports `train.runner` (and TensorFlow) on first use.
"""

__all__ = ["run"]


def __getattr__(name):
    if name == "run":
        from train.runner import run

        return run
    raise AttributeError(f"module 'train' has no attribute {name!r}")
