"""What the command modules share: a handler wrapper turning expected failures
into one-line errors, and checks of the files a command is given."""
import contextlib
import functools
import logging
import os
import sys


class CommandError(Exception):
    """A failure to report as one line, ``nablite <command>: <message>``."""


# Failures whose message already says what went wrong (nablite's own errors name
# the function, the file and the problem); anything else is a bug and keeps its
# traceback.
_EXPECTED = (CommandError, FileNotFoundError, IsADirectoryError, PermissionError, ValueError,
             TypeError, KeyError, ImportError, NotImplementedError, RuntimeError)


def handler(name):
    """Decorate ``fn(opts) -> int`` as the handler of subcommand ``name``."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(opts):
            try:
                status = fn(opts)
            except BrokenPipeError:  # the reader went away (`nablite dump ... | head`)
                sys.stdout = open(os.devnull, "w")
                return 0
            except _EXPECTED as e:
                message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
                print(f"nablite {name}: {message.splitlines()[0] if message else type(e).__name__}",
                      file=sys.stderr)
                return 1
            return 0 if status is None else status
        return run
    return wrap


def existing_file(path, what="file"):
    """``path`` if it is a file, else a CommandError naming it."""
    if not os.path.exists(path):
        raise CommandError(f"no such {what}: {path}")
    if not os.path.isfile(path):
        raise CommandError(f"{what} {path} is not a file")
    return path


def existing_dir(path, what="directory"):
    if not os.path.isdir(path):
        raise CommandError(f"no such {what}: {path}")
    return path


@contextlib.contextmanager
def quiet():
    """Hide nablite's INFO lines (e.g. about temporary files a command writes)."""
    log = logging.getLogger("nablite")
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)
