"""Training monitors: log scalar series, time per interval and images to the
console (through the ``nablite`` logger) and to files under one directory.

Example::

    monitor = Monitor("tmp.monitor")
    loss_log = MonitorSeries("Training loss", monitor, interval=10)
    timer = MonitorTimeElapsed("Training time", monitor, interval=100)
    for i in range(1000):
        ...
        loss_log.add(i, loss.d)
        timer.add(i)

writes ``tmp.monitor/Training-loss.series.txt`` ("<iter> <mean>" a line,
averaged over each interval) and ``tmp.monitor/Training-time.timer.txt``.
"""
import numbers
import os
import time

import numpy as np

from . import backend
from .logger import logger

__all__ = [
    "Monitor", "MonitorSeries", "MonitorTimeElapsed", "MonitorImage",
    "MonitorImageTile", "tile_images", "plot_series", "plot_time_elapsed",
]


def _as_numpy(value):
    """The data of a Variable (``.d``), an NdArray (``.data``), an array (host
    or device: copied to the host) or a number, as a NumPy array copy."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if backend.is_device_array(value):  # before .data: CuPy's is a memory pointer
        return backend.to_numpy(value)
    if hasattr(value, "d"):
        return np.array(value.d)
    data = getattr(value, "data", None)
    if data is not None and not isinstance(data, memoryview):
        return np.array(data)
    return np.array(value)


def _real_values(value, where):
    """``value`` as a NumPy array of real numbers, or an error naming ``where``."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{where}: value must be a number, an array, a Variable or an "
                        f"NdArray, got {type(value).__name__}")
    try:
        arr = _as_numpy(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: value {type(value).__name__} is not an array of "
                        f"numbers ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: value has dtype {arr.dtype}; expected real numbers")
    return arr


def _save_path_of(monitor, where, optional=True):
    if monitor is None and optional:
        return None
    path = getattr(monitor, "save_path", None)
    if path is None:
        raise TypeError(f"{where}: monitor must be a Monitor{' or None' if optional else ''}"
                        f", got {type(monitor).__name__}")
    return path


def _file_name(name):
    return name.replace(" ", "-")


def _check_name(name, where):
    if not isinstance(name, str):
        raise TypeError(f"{where}: name must be a str, got {type(name).__name__} {name!r}")
    return name


def _check_real(value, what, where):
    """A real number (NNabla takes interval=0, -1 or 1.5 for series and timers)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {what} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    return value


def _check_count(value, what, where):
    """A positive integer (an image interval divides the index; 0 images is nothing)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {what} must be an integer >= 1, got "
                        f"{type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{where}: {what} must be an integer >= 1, got {value}")
    return int(value)


class Monitor:
    """A directory where monitors write their files.

    Args:
        save_path (str): Directory; created if missing.
    """

    def __init__(self, save_path):
        if not isinstance(save_path, (str, os.PathLike)):
            raise TypeError(f"Monitor: save_path must be a str or path-like, got "
                            f"{type(save_path).__name__} {save_path!r}")
        self._save_path = os.fspath(save_path)
        os.makedirs(self._save_path, exist_ok=True)

    @property
    def save_path(self):
        return self._save_path


class MonitorSeries:
    """Averages values over an interval and logs the mean.

    ``add(index, value)`` stores ``value``; once ``index`` is at least
    ``interval`` past the last flush (the first flush counts from -1), the
    mean of everything stored is logged as ``iter=<index> {<name>}=<mean>``
    and appended to ``<save_path>/<name>.series.txt`` (spaces in ``name``
    become '-') as ``"<index> <mean>"``.

    Args:
        name (str): Name of the series.
        monitor (None or Monitor): Where to write; ``None`` only logs.
        interval (int): Flush interval in iterations.
        verbose (bool): Log the flushed means at INFO level.
    """

    def __init__(self, name, monitor=None, interval=1, verbose=True):
        self.name = _check_name(name, "MonitorSeries")
        self.interval = _check_real(interval, "interval", f"MonitorSeries({name!r})")
        self.verbose = verbose
        self.flush_at = -1
        self.buf = []
        self.path = None
        save_path = _save_path_of(monitor, "MonitorSeries")
        if save_path is not None:
            self.path = os.path.join(save_path, _file_name(name) + ".series.txt")
            open(self.path, "w").close()

    def add(self, index, value):
        """Store ``value`` (number, array, Variable or NdArray) for ``index``
        and flush the mean when the interval is reached."""
        where = f"MonitorSeries({self.name!r}).add"
        _check_real(index, "index", where)
        self.buf.append(_real_values(value, where))
        if index - self.flush_at < self.interval:
            return
        mean = np.mean(self.buf)
        if self.verbose:
            logger.info("iter={} {{{}}}={}".format(index, self.name, mean))
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write("{} {:g}\n".format(index, mean))
        self.flush_at = index
        self.buf = []


class MonitorTimeElapsed:
    """Logs wall-clock time per interval.

    ``add(index)`` does nothing until ``index`` is at least ``interval`` past
    the last flush (counting from -1); then it logs
    ``iter=<index> {<name>}=<elapsed>[sec/<it>iter] <total>[sec]`` and appends
    ``"<index> <elapsed> <it> <total>"`` to ``<save_path>/<name>.timer.txt``,
    where ``elapsed`` is the time since the previous flush (or creation),
    ``it`` the iterations since then and ``total`` the time since creation.

    Args:
        name (str): Name of the timer.
        monitor (None or Monitor): Where to write; ``None`` only logs.
        interval (int): Flush interval in iterations.
        verbose (bool): Log at INFO level.
    """

    def __init__(self, name, monitor=None, interval=100, verbose=True):
        self.name = _check_name(name, "MonitorTimeElapsed")
        self.interval = _check_real(interval, "interval", f"MonitorTimeElapsed({name!r})")
        self.verbose = verbose
        self.flush_at = -1
        self.path = None
        save_path = _save_path_of(monitor, "MonitorTimeElapsed")
        if save_path is not None:
            self.path = os.path.join(save_path, _file_name(name) + ".timer.txt")
            open(self.path, "w").close()
        self.start = time.time()
        self.lap = self.start

    def add(self, index):
        """Flush the timing for ``index`` when the interval is reached."""
        _check_real(index, "index", f"MonitorTimeElapsed({self.name!r}).add")
        if index - self.flush_at < self.interval:
            return
        now = time.time()
        elapsed, total = now - self.lap, now - self.start
        it = index - self.flush_at
        self.lap = now
        if self.verbose:
            logger.info("iter={} {{{}}}={}[sec/{}iter] {}[sec]".format(
                index, self.name, elapsed, it, total))
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write("{} {} {} {}\n".format(index, elapsed, it, total))
        self.flush_at = index


def _min_max(x):
    lo, hi = x.min(), x.max()
    if hi == lo:
        return np.zeros_like(x, dtype=np.float64)
    return (x - lo) / (hi - lo)


class MonitorImage:
    """Saves a few images of a mini-batch as PNG files.

    ``add(index, var)`` acts at ``index == 0`` and whenever ``index + 1`` is
    a multiple of ``interval``. ``var`` is (N, ..., C, H, W); it is reshaped
    to (-1, C, H, W), the first ``num_images`` are kept and normalized to
    [0, 1] by ``normalize_method`` (default: min-max over the whole batch),
    channels beyond 3 are dropped and a two-channel image gets a third channel
    of ones. Image ``j`` is written to
    ``<save_path>/<name>/<index:06d>-<j:03d>.png``.

    Args:
        name (str): Name; also the sub-directory (spaces become '-').
        monitor (Monitor): Where to write.
        interval (int): Save interval in iterations.
        verbose (bool): Log where images were written.
        num_images (int): Images per save.
        normalize_method (None or callable): Maps an (N, C, H, W) array to
            values in [0, 1].
    """

    def __init__(self, name, monitor, interval=1000, verbose=True,
                 num_images=16, normalize_method=None):
        kind = type(self).__name__
        self.name = _check_name(name, kind)
        self.interval = _check_count(interval, "interval", f"{kind}({name!r})")
        self.verbose = verbose
        self.num_images = _check_count(num_images, "num_images", f"{kind}({name!r})")
        if normalize_method is not None and not callable(normalize_method):
            raise TypeError(f"{kind}({name!r}): normalize_method must be None or a callable, "
                            f"got {type(normalize_method).__name__}")
        self.normalize_method = normalize_method or _min_max
        save_path = _save_path_of(monitor, type(self).__name__, optional=False)
        self.save_dir = os.path.join(save_path, _file_name(name))
        os.makedirs(self.save_dir, exist_ok=True)

    def _due(self, index):
        _check_real(index, "index", f"{type(self).__name__}({self.name!r}).add")
        return index == 0 or (index + 1) % self.interval == 0

    def _prepare(self, var):
        data = _real_values(var, f"{type(self).__name__}.add")
        if data.ndim <= 2:
            raise ValueError(f"{type(self).__name__}.add: var must be "
                             f"(N, ..., C, H, W) with ndim > 2, got shape "
                             f"{data.shape}")
        data = data.reshape((-1,) + data.shape[-3:])[:self.num_images]
        data = self.normalize_method(data)
        channels = data.shape[1]
        if channels > 3:
            data = data[:, :3]
        elif channels == 2:
            ones = np.ones((data.shape[0], 1) + data.shape[2:], dtype=data.dtype)
            data = np.concatenate([data, ones], axis=1)
        return data

    def add(self, index, var):
        """Save images of ``var`` if ``index`` is due."""
        if not self._due(index):
            return
        from .utils.image_utils import imsave
        data = self._prepare(var)
        for j, img in enumerate(data):
            img = img.transpose(1, 2, 0)
            if img.shape[-1] == 1:
                img = img[..., 0]
            imsave(os.path.join(self.save_dir, f"{index:06d}-{j:03d}.png"), img)
        if self.verbose:
            logger.info("iter={} {{{}}} are written to {}.".format(
                index, self.name,
                os.path.join(self.save_dir, f"{index:06d}-*.png")))


class MonitorImageTile(MonitorImage):
    """Like :class:`MonitorImage`, but the images of one save are tiled into a
    single file ``<save_path>/<name>/<index:06d>.png`` (see
    :func:`tile_images`)."""

    def add(self, index, var):
        """Save a tile of images of ``var`` if ``index`` is due."""
        if not self._due(index):
            return
        from .utils.image_utils import imsave
        path = os.path.join(self.save_dir, f"{index:06d}.png")
        imsave(path, tile_images(self._prepare(var)))
        if self.verbose:
            logger.info("iter={} {{{}}} is written to {}.".format(
                index, self.name, path))


def tile_images(data, padsize=1, padval=0):
    """Arrange a batch of images (N, C, H, W) on an n x n grid,
    n = ceil(sqrt(N)).

    Every tile gets ``padsize`` pixels of ``padval`` on its bottom and right;
    empty grid cells are filled with ``padval``.

    Returns:
        numpy.ndarray: (n*(H+padsize), n*(W+padsize), C), or 2-D when C == 1.
    """
    data = np.asarray(backend.to_numpy(data))  # a device array comes to the host
    assert data.ndim == 4, f"tile_images: data must be (N, C, H, W), got shape {data.shape}"
    n_img, c, h, w = data.shape
    n = int(np.ceil(np.sqrt(n_img)))
    th, tw = h + padsize, w + padsize
    grid = np.full((n * n, th, tw, c), padval, dtype=np.result_type(data, padval))
    grid[:n_img, :h, :w] = data.transpose(0, 2, 3, 1)
    out = grid.reshape(n, n, th, tw, c).transpose(0, 2, 1, 3, 4)
    out = out.reshape(n * th, n * tw, c)
    return out[..., 0] if c == 1 else out


def _read_columns(filename, columns):
    data = np.loadtxt(filename, ndmin=2, usecols=columns)
    return data[:, 0].astype(np.int64), data[:, 1].astype(np.float64)


def plot_series(filename, plot_kwargs=None):
    """Plot a ``.series.txt`` file (index against value) on the current
    matplotlib axes."""
    import matplotlib.pyplot as plt
    index, values = _read_columns(filename, (0, 1))
    plt.plot(index, values, **(plot_kwargs or {}))


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def plot_time_elapsed(filename, elapsed=False, unit="s", plot_kwargs=None):
    """Plot a ``.timer.txt`` file: time per interval, or the total time when
    ``elapsed=True``, in ``unit`` 's', 'm', 'h' or 'd'."""
    if unit not in _UNITS:
        raise ValueError(f"plot_time_elapsed: unit must be one of "
                         f"{sorted(_UNITS)}, got {unit!r}")
    import matplotlib.pyplot as plt
    index, values = _read_columns(filename, (0, 3 if elapsed else 1))
    plt.plot(index, values / _UNITS[unit], **(plot_kwargs or {}))
