"""The 8x8 handwritten digits bundled with nablite.

1797 grayscale images of the digits 0-9 (the test set of the UCI "Optical
Recognition of Handwritten Digits" data, the same data as scikit-learn's
``load_digits``). Each pixel counts the "on" pixels of a 4x4 block of the
original 32x32 bitmap, so values are integers in 0..16. Attribution and
license: ``data/DIGITS_LICENSE.txt`` next to this module.
"""
import functools
import gzip
import os

import numpy as np

__all__ = ["Bunch", "load_digits", "DIGITS_PATH"]

DIGITS_PATH = os.path.join(os.path.dirname(__file__), "data", "digits.csv.gz")


class Bunch(dict):
    """A dict whose keys can also be read and written as attributes
    (``d.images`` is ``d['images']``)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __dir__(self):
        return list(self.keys()) + dir(dict)


@functools.lru_cache(maxsize=1)
def _raw():
    """Parse the bundled file once: (1797, 65) int array, label last."""
    with gzip.open(DIGITS_PATH, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    table.setflags(write=False)
    return table


def load_digits(n_class=10):
    """Load the 8x8 digits.

    Args:
        n_class (int): Keep the classes ``0 .. n_class-1`` (1 to 10).

    Returns:
        Bunch: with ``images`` (N, 8, 8) float64 in 0..16, ``data`` (N, 64)
        float64 (the images flattened), ``target`` (N,) int64 labels,
        ``target_names`` (``arange(n_class)``) and ``DESCR``. N is 1797 for
        ``n_class=10``. The arrays are fresh copies on each call; the file is
        read once, on first use.
    """
    if isinstance(n_class, bool) or not isinstance(n_class, (int, np.integer)) \
            or not 1 <= n_class <= 10:
        raise ValueError(f"load_digits: n_class must be an int in 1..10, "
                         f"got {n_class!r}")
    table = _raw()
    keep = table[:, -1] < n_class
    data = table[keep, :-1].astype(np.float64)
    target = table[keep, -1].astype(np.int64)
    return Bunch(
        data=data,
        images=data.reshape(-1, 8, 8),
        target=target,
        target_names=np.arange(n_class),
        DESCR=(f"8x8 handwritten digits (UCI Optical Recognition of "
               f"Handwritten Digits, test set), {len(target)} images of "
               f"{n_class} classes, pixel values 0..16."),
    )
