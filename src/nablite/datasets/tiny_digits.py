"""The helper module of the "NNabla by examples" tutorial.

The tutorial does ``import tiny_digits``; with nablite write
``from nablite.datasets import tiny_digits``. The digits come from the copy
bundled with nablite (see :mod:`nablite.datasets.digits`), so scikit-learn
is not needed.
"""
import sys

import numpy as np

from ..utils.data_iterator import data_iterator_simple
from . import digits as _digits

__all__ = ["load_digits", "plot_stats", "data_iterator_tiny_digits"]

_WINDOWLESS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")


def load_digits(n_class=10):
    """The 8x8 digits of classes ``0 .. n_class-1``: an object with
    ``images`` (N, 8, 8), ``data`` (N, 64) and ``target`` (N,)."""
    return _digits.load_digits(n_class=n_class)


def _draw(tile, save_path):
    """Show ``tile`` inline in a notebook and/or save it; never opens a
    window. Does nothing without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return
    opts = dict(cmap="gray", interpolation="nearest")
    backend = matplotlib.get_backend().lower()
    if "matplotlib.pyplot" in sys.modules and (
            "inline" in backend or backend in _WINDOWLESS):
        # The caller already uses pyplot without windows (a notebook, or
        # Agg): draw on its current figure, as the tutorial expects.
        import matplotlib.pyplot as plt
        plt.imshow(tile, **opts)
    if save_path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=(4, 4))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        ax.imshow(tile, **opts)
        ax.set_axis_off()
        fig.savefig(save_path)


def plot_stats(digits, save_path=None):
    """Print the size of the data set and draw its first 64 images.

    Prints ``Num images``, ``Image shape`` and ``Labels`` (the distinct
    labels). The images are tiled; when pyplot is in use with a backend that
    opens no window (a notebook's inline backend, Agg, ...) they are drawn on
    the current figure, and with ``save_path`` they are written to that file
    (Agg). No window is ever opened.

    Returns:
        numpy.ndarray: The tiled image.
    """
    from ..monitor import tile_images
    print("Num images:", digits.images.shape[0])
    print("Image shape:", digits.images.shape[1:])
    print("Labels:", np.unique(digits.target))
    tile = tile_images(np.asarray(digits.images[:64])[:, None])
    _draw(tile, save_path)
    return tile


def data_iterator_tiny_digits(digits, batch_size=64, shuffle=False, rng=None):
    """Mini-batches of ``(images, labels)``: images float32 (B, 1, 8, 8) with
    the raw pixel values (0..16), labels int32 (B, 1).

    Args:
        digits: The object returned by :func:`load_digits`.
        batch_size (int): Samples per batch.
        shuffle (bool): Reshuffle every epoch.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling
            (``None``: ``RandomState(313)``).

    Returns:
        :class:`~nablite.utils.data_iterator.DataIterator`
    """
    images = np.asarray(digits.images, dtype=np.float32)[:, None]
    labels = np.asarray(digits.target, dtype=np.int32)[:, None]

    def load_func(index):
        return images[index], labels[index]

    return data_iterator_simple(load_func, images.shape[0], batch_size,
                                shuffle=shuffle, rng=rng, with_file_cache=False)
