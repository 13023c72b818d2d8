"""`ArgumentParser`: the command lines' parser, with one-line errors."""

import argparse
import os
import sys

# Modules of the optional extras -> the extra that installs them.
EXTRAS = {"sklearn": "demo", "tensorflow_serving": "serving", "grpc": "serving"}


class ArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` for the CLIs: errors are one line.

    A usage error prints `error: ...` and exits with code 2. `run` calls the
    command and does the same for the failures a user can fix: a bad value,
    a refused request, a missing optional extra. No traceback for those.

    Args:
        module: the `python -m` module, the program name unless the command
            runs as a console script (`pixelrnn-train`).
        epilog: a string, or a function returning one, called only for
            `--help` (e.g. a listing that costs an import).
    """

    def __init__(self, *args, module=None, **kwargs):
        script = os.path.basename(sys.argv[0])
        if module and "prog" not in kwargs:
            kwargs["prog"] = (
                script
                if script.startswith("pixelrnn-")
                else f"python -m {module}"
            )
        super().__init__(*args, **kwargs)

    def format_help(self):
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

    def run(self, command, args, expected=(ValueError,)):
        """`command(args)`; returns 0, or 2 after one `error: ...` line.

        Handles exceptions of the `expected` classes, TensorFlow's
        InvalidArgumentError (bad data), `serving.client.ServingError` (a
        server's refusal) and an import of a missing optional extra; any
        other exception is a bug and propagates with its traceback.
        """
        try:
            command(args)
        except Exception as error:  # noqa: BLE001 - re-raised unless expected
            message = _user_error(error, expected)
            if message is None:
                raise
            print(f"error: {message}", file=sys.stderr)
            return 2
        return 0


def _user_error(error, expected):
    """The one-line message for a failure the user can fix, else None."""
    if isinstance(error, ImportError):
        message = _first_line(str(error))
        if "pip install 'pixelrnn_tf[" in message:  # says what to install
            return message
        extra = EXTRAS.get((error.name or "").partition(".")[0])
        if extra is None:
            return None
        return f"{message}: pip install 'pixelrnn_tf[{extra}]'"
    tf = sys.modules.get("tensorflow")  # loaded, if the error came from it
    if tf is not None and isinstance(error, tf.errors.InvalidArgumentError):
        return _first_line(error.message)
    client = sys.modules.get("serving.client")
    if isinstance(error, expected) or (
        client is not None and isinstance(error, client.ServingError)
    ):
        return _first_line(str(error))
    return None


def _first_line(text):
    return (text.strip().splitlines() or [""])[0]
