"""MNIST from local IDX files.

nablite downloads nothing: put the four files of MNIST (or of a data set in
the same format, such as Fashion-MNIST) in one directory, gzipped or not::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

They can be downloaded from https://yann.lecun.com/exdb/mnist/ or the mirror
https://ossci-datasets.s3.amazonaws.com/mnist/ .
"""
import gzip
import os

import numpy as np

from ..utils.data_iterator import data_iterator_simple

__all__ = ["read_idx", "load_mnist", "data_iterator_mnist", "DEFAULT_MNIST_DIR"]

DEFAULT_MNIST_DIR = os.environ.get(
    "NABLITE_MNIST_DIR", os.path.join(os.path.expanduser("~"), "nablite_data", "mnist"))

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}
_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_DOWNLOAD = ("https://yann.lecun.com/exdb/mnist/ (mirror: "
             "https://ossci-datasets.s3.amazonaws.com/mnist/)")


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path, ndim=None):
    """Read one IDX file (gzipped or not) into a NumPy array.

    Args:
        path (str): The file.
        ndim (None or int): Number of dimensions the file must have.

    Raises:
        ValueError: The magic number is not an IDX one, the number of
            dimensions differs from ``ndim``, or the file is truncated.
    """
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (magic number "
                         f"{raw[:4].hex() or 'missing'}; expected 0000 "
                         "followed by a type code 08/09/0b/0c/0d/0e and the "
                         "number of dimensions)")
    dims = raw[3]
    if ndim is not None and dims != ndim:
        raise ValueError(f"read_idx: {path} has {dims} dimensions, expected "
                         f"{ndim} (magic number {raw[:4].hex()})")
    head = 4 + 4 * dims
    shape = tuple(int(d) for d in np.frombuffer(raw[4:head], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - head != need:
        raise ValueError(f"read_idx: {path} holds {len(raw) - head} bytes of "
                         f"data, but its header {shape} needs {need}")
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape) \
        .astype(dtype.newbyteorder("="))


def _find(path, stem):
    names = [stem, stem + ".gz", stem.replace("-idx", ".idx"),
             stem.replace("-idx", ".idx") + ".gz"]
    for name in names:
        p = os.path.join(path, name)
        if os.path.isfile(p):
            return p
    return None


def load_mnist(path=None, train=True, with_channel=False):
    """Load the MNIST training or test set from IDX files in ``path``.

    Args:
        path (None or str): Directory holding the files (``None``: the
            ``NABLITE_MNIST_DIR`` environment variable, else
            ``~/nablite_data/mnist``).
        train (bool): Training set (60000 images) or test set (10000).
        with_channel (bool): Return images as (N, 1, 28, 28).

    Returns:
        tuple: images uint8 (N, 28, 28) (or (N, 1, 28, 28)), labels uint8 (N,).
    """
    path = DEFAULT_MNIST_DIR if path is None else str(path)
    image_stem, label_stem = _FILES[bool(train)]
    image_file, label_file = _find(path, image_stem), _find(path, label_stem)
    if image_file is None or label_file is None:
        missing = [s + "[.gz]" for s, f in ((image_stem, image_file),
                                            (label_stem, label_file)) if f is None]
        raise FileNotFoundError(
            f"load_mnist: {', '.join(missing)} not found in {path!r}; expected "
            f"the MNIST IDX files {image_stem}[.gz] and {label_stem}[.gz] "
            f"there. Download them from {_DOWNLOAD}.")
    images = read_idx(image_file, ndim=3)
    labels = read_idx(label_file, ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(f"load_mnist: expected unsigned byte IDX files, got "
                         f"{images.dtype} images and {labels.dtype} labels")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"load_mnist: {image_file} has {images.shape[0]} "
                         f"images but {label_file} has {labels.shape[0]} labels")
    if with_channel:
        images = images[:, None]
    return images, labels


def data_iterator_mnist(batch_size, train=True, path=None, shuffle=True,
                        rng=None):
    """Mini-batches of MNIST: images uint8 (B, 1, 28, 28) and labels uint8
    (B, 1), as in NNabla's MNIST examples (divide the images by 255 in the
    network). See :func:`load_mnist` for ``path``."""
    images, labels = load_mnist(path, train=train, with_channel=True)
    labels = labels[:, None]

    def load_func(index):
        return images[index], labels[index]

    return data_iterator_simple(load_func, images.shape[0], batch_size,
                                shuffle=shuffle, rng=rng, with_file_cache=False)
