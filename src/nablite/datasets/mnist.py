"""MNIST as NNabla's examples read it (``mnist-collection/mnist_data.py``).

The four IDX files come from NNabla's download URLs through the local data
home (:func:`nablite.utils.data_source_loader.download`): a machine without a
network runs the examples once the files are in ``get_data_home()``
(``~/nnabla_data``, or ``$NABLITE_DATA_HOME``), where NNabla keeps them too::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

``path=`` reads the same files (gzipped or not) from another folder instead.
Every header is checked against the file and the read limit before the data
is inflated, and labels outside 0..9 are refused.
"""
import gzip
import os
import zlib

import numpy as np

from ..utils._data_bounded import max_read_bytes, read_at_most
from ..utils.data_iterator import data_iterator
from ._in_memory import InMemoryDataSource
from ..utils.data_source_loader import download, get_data_home

__all__ = ["read_idx", "load_mnist", "MnistDataSource", "data_iterator_mnist",
           "MNIST_URLS"]

MNIST_URLS = {
    True: ("http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",
           "http://yann.lecun.com/exdb/mnist/train-labels-idx1-ubyte.gz"),
    False: ("http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz",
            "http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz"),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path, ndim=None):
    """Read one IDX file (gzipped or not) into a NumPy array.

    The header's shape is checked against ``ndim``, the read limit
    (``NABLITE_MAX_READ_BYTES``) and, for plain files, the file size before
    anything more is read.

    Raises:
        ValueError: Not an IDX file, the wrong number of dimensions, a size
            over the limit, or a truncated / corrupt file.
    """
    try:
        with _open(path) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or \
                    magic[2] not in _IDX_DTYPES:
                raise ValueError(
                    f"read_idx: {path} is not an IDX file (magic number "
                    f"{magic.hex() or 'missing'}; expected 0000 followed by a type "
                    "code 08/09/0b/0c/0d/0e and the number of dimensions)")
            dims = magic[3]
            if ndim is not None and dims != ndim:
                raise ValueError(f"read_idx: {path} has {dims} dimensions, expected "
                                 f"{ndim} (magic number {magic.hex()})")
            head = f.read(4 * dims)
            if len(head) != 4 * dims:
                raise ValueError(f"read_idx: {path} ends inside its header")
            shape = tuple(int(d) for d in np.frombuffer(head, dtype=">u4"))
            dtype = np.dtype(_IDX_DTYPES[magic[2]])
            need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if need > max_read_bytes():
                raise ValueError(f"read_idx: {path} declares {shape} ({need} bytes), "
                                 f"more than the limit of {max_read_bytes()} bytes "
                                 "(NABLITE_MAX_READ_BYTES)")
            raw = read_at_most(f, need)  # in pieces: a gzip may hold less than it declares
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"read_idx: {path} is truncated or corrupt ({e})") from None
    if len(raw) != need:
        raise ValueError(f"read_idx: {path} holds {len(raw)}{'+' if len(raw) > need else ''} "
                         f"bytes of data, but its header {shape} needs {need}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder, url):
    stem = url.split("/")[-1][:-3]
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(
        f"load_mnist: {stem}[.gz] not found in {folder!r}; expected the MNIST IDX "
        f"files there (from {url}, mirror https://ossci-datasets.s3.amazonaws.com/"
        "mnist/)")


def load_mnist(train=True, path=None):
    """The MNIST training (60000) or test (10000) set, as NNabla's examples.

    Args:
        train (bool): Training or test set.
        path (None or str): ``None`` fetches NNabla's URLs through the data
            home (no network needed once the files are there); a folder reads
            the files from it.

    Returns:
        tuple: images uint8 (N, 1, H, W), labels uint8 (N, 1).
    """
    image_url, label_url = MNIST_URLS[bool(train)]
    if path is None:
        files = []
        for url in (image_url, label_url):
            download(url, open_file=False)
            files.append(os.path.join(get_data_home(), url.split("/")[-1]))
    elif not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_mnist: path must be a folder name or None, got "
                        f"{type(path).__name__}")
    else:
        files = [_find(os.fspath(path), u) for u in (image_url, label_url)]
    images = read_idx(files[0], ndim=3)
    labels = read_idx(files[1], ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(f"load_mnist: expected unsigned byte IDX files, got "
                         f"{images.dtype} images and {labels.dtype} labels")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"load_mnist: {files[0]} has {images.shape[0]} images but "
                         f"{files[1]} has {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"load_mnist: {files[1]} holds the label {int(labels.max())}; "
                         "MNIST labels are 0..9")
    return images[:, None], labels[:, None]


class MnistDataSource(InMemoryDataSource):
    """MNIST samples ``(image (1, 28, 28) uint8, label (1,) uint8)``, with a
    new permutation at every reset when ``shuffle`` (as NNabla's examples).

    Args:
        train (bool): Training or test set.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): ``None`` gives
            ``RandomState(313)``.
        path (None or str): See :func:`load_mnist`.
    """

    def __init__(self, train=True, shuffle=False, rng=None, path=None):
        self._train = train
        super().__init__(*load_mnist(train, path), shuffle=shuffle, rng=rng)


def data_iterator_mnist(batch_size, train=True, rng=None, shuffle=True,
                        with_memory_cache=False, with_file_cache=False, path=None):
    """Mini-batches of MNIST as in NNabla's examples: images uint8
    (B, 1, 28, 28) (divide by 255 in the network), labels uint8 (B, 1).

    The batches are the examples' for the same ``rng``. ``path`` (nablite)
    reads the IDX files from a folder instead of the data home.
    """
    return data_iterator(MnistDataSource(train=train, shuffle=shuffle, rng=rng,
                                         path=path),
                         batch_size, rng, with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache)
