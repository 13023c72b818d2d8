"""Training, evaluation and sampling CLIs over `train.run(config, workdir)`."""

from train.run import run

__all__ = ["run"]
