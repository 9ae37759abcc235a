"""What nablite shows on the console: the ``nablite`` logger and the progress bar.

As in NNabla, ``nablite.logger`` is the ``logging.Logger`` object, not this
module: ``import nablite.logger as logger``, ``from nablite.logger import
logger`` and ``nablite.logger`` all give it, so ``logger.info(...)`` works
(under ``nablite run`` with ``nnabla`` in place of ``nablite`` too).

Messages of level INFO and above reach stderr as
``2026-12-02 08:00:00,000 [nablite][INFO]: ...``, the format NNabla prints.
This is configured with the standard ``logging`` module:

- ``NABLITE_LOG_LEVEL=WARNING`` (or DEBUG, ERROR, CRITICAL, a number) sets the
  level of the ``nablite`` logger when nablite is imported;
  ``logging.getLogger("nablite").setLevel(...)`` does the same later.
- Once the application configures logging itself (a handler on the root
  logger, e.g. ``logging.basicConfig``), nablite's console handler steps aside
  and the records go to the application's handlers only.
"""
import logging
import os
import sys
from typing import Any, Iterable, Optional, TextIO, TypeVar

__all__ = ["logger", "CONSOLE_FORMAT", "LEVEL_ENV", "progress_bar"]

CONSOLE_FORMAT = "%(asctime)s [%(name)s][%(levelname)s]: %(message)s"  # NNabla's
LEVEL_ENV = "NABLITE_LOG_LEVEL"


class _ConsoleHandler(logging.StreamHandler):
    """stderr, unless the application has configured the root logger itself."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(CONSOLE_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            self.stream = sys.stderr  # the current one (pytest and others replace it)
            super().emit(record)


def _level_from_env() -> int:
    value = os.environ.get(LEVEL_ENV, "").strip()
    if not value:
        return logging.INFO
    if value.lstrip("-").isdigit():
        return int(value)
    level = logging.getLevelName(value.upper())
    if isinstance(level, int):
        return level
    sys.stderr.write(f"nablite: {LEVEL_ENV}={value!r} is not a logging level "
                     f"(DEBUG, INFO, WARNING, ERROR, CRITICAL or a number); using INFO\n")
    return logging.INFO


logger = logging.getLogger("nablite")
if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
    logger.addHandler(_ConsoleHandler())
logger.setLevel(_level_from_env())


# -- progress bar -------------------------------------------------------------------
T = TypeVar("T")


class _LineStream:
    """tqdm's output as whole lines: each redraw (``\\r`` + status) becomes one line,
    so a log file gets a readable line per update instead of carriage returns."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Iterable[T], desc: str = "", disable: bool = False,
                 unit: str = "it", **kwargs: Any) -> Any:
    """A tqdm bar over ``iterable`` on stderr.

    On a terminal it is the usual bar redrawn in place. Anywhere else (a pipe,
    a log file, CI) it writes a plain line at the start, every 10 seconds and
    at the end, so the log shows the progress without hundreds of redraws.
    """
    from tqdm import tqdm
    stream = sys.stderr
    if not disable and not (hasattr(stream, "isatty") and stream.isatty()):
        kwargs.setdefault("mininterval", 10.0)
        kwargs.setdefault("maxinterval", 10.0)
        kwargs.setdefault("ncols", 100)
        kwargs.setdefault("ascii", True)
        kwargs["file"] = _LineStream(stream)
    return tqdm(iterable, desc=desc, disable=disable, unit=unit, **kwargs)
