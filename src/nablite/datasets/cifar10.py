"""CIFAR-10 from the local "python version" of the data set.

nablite downloads nothing: get ``cifar-10-python.tar.gz`` from
https://www.cs.toronto.edu/~kriz/cifar.html and pass either the archive, the
extracted ``cifar-10-batches-py`` directory, or its parent directory.

The batches are pickles. They are read with a restricted unpickler that
builds only plain containers and NumPy arrays: a pickle that names any other
global (``os.system``, ``builtins.eval``, ...) is refused with
:class:`pickle.UnpicklingError` instead of being run.
"""
import io
import os
import pickle
import tarfile

import numpy as np

from ..utils.data_iterator import data_iterator_simple

__all__ = ["load_cifar10", "data_iterator_cifar10", "safe_load_pickle",
           "DEFAULT_CIFAR10_DIR"]

DEFAULT_CIFAR10_DIR = os.environ.get(
    "NABLITE_CIFAR10_DIR",
    os.path.join(os.path.expanduser("~"), "nablite_data", "cifar10"))
_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_TEST = ["test_batch"]
_SUBDIR = "cifar-10-batches-py"
_DOWNLOAD = "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz)"


def _allowed_globals():
    """(module, name) -> object, for the globals array pickles need."""
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    for mod in ("numpy.core", "numpy._core"):
        allowed[(mod + ".multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(mod + ".multiarray", "scalar")] = multiarray.scalar
        if hasattr(numeric, "_frombuffer"):
            allowed[(mod + ".numeric", "_frombuffer")] = numeric._frombuffer
    import _codecs
    # Python 3 pickles of protocol <= 2 write bytes as _codecs.encode(str, 'latin1').
    allowed[("_codecs", "encode")] = _codecs.encode
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    _allowed = None

    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self._source = source
        if _RestrictedUnpickler._allowed is None:
            _RestrictedUnpickler._allowed = _allowed_globals()

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"safe_load_pickle: refusing to load global '{module}.{name}' "
                f"from {self._source}; only plain containers and NumPy arrays "
                "are allowed (is this really a CIFAR-10 batch?)") from None


def safe_load_pickle(data, source="<bytes>"):
    """Unpickle ``data`` (bytes or a binary file) allowing only plain
    containers, numbers, strings and NumPy arrays/dtypes.

    Raises:
        pickle.UnpicklingError: The pickle refers to any other global.
    """
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    return _RestrictedUnpickler(f, source).load()


def _batch_reader(path):
    """A function name -> unpickled batch, for a directory or a tar.gz."""
    if os.path.isfile(path) and tarfile.is_tarfile(path):
        def read(name):
            with tarfile.open(path, "r:*") as tar:
                try:
                    member = tar.getmember(f"{_SUBDIR}/{name}")
                except KeyError:
                    raise FileNotFoundError(
                        f"load_cifar10: {_SUBDIR}/{name} not found in the "
                        f"archive {path!r}") from None
                return safe_load_pickle(tar.extractfile(member).read(),
                                        f"{path}:{member.name}")
        return read
    folder = path
    if os.path.isdir(os.path.join(path, _SUBDIR)):
        folder = os.path.join(path, _SUBDIR)

    def read(name):
        p = os.path.join(folder, name)
        if not os.path.isfile(p):
            raise FileNotFoundError(
                f"load_cifar10: {name} not found in {folder!r}; expected the "
                f"CIFAR-10 python batches ({', '.join(_TRAIN + _TEST)}) there "
                f"or in {_SUBDIR}/ below it. Download them from {_DOWNLOAD}.")
        with open(p, "rb") as f:
            return safe_load_pickle(f, p)
    return read


def _field(batch, key, name):
    if not isinstance(batch, dict):
        raise ValueError(f"load_cifar10: {name} holds a "
                         f"{type(batch).__name__}, expected a dict")
    for k in (key, key.encode()):
        if k in batch:
            return batch[k]
    raise ValueError(f"load_cifar10: {name} has no '{key}' entry "
                     f"(keys: {sorted(map(str, batch))})")


def load_cifar10(path=None, train=True):
    """Load the CIFAR-10 training (50000) or test (10000) images.

    Args:
        path (None or str): ``cifar-10-python.tar.gz``, the
            ``cifar-10-batches-py`` directory or its parent (``None``: the
            ``NABLITE_CIFAR10_DIR`` environment variable, else
            ``~/nablite_data/cifar10``).
        train (bool): Training batches 1-5, or the test batch.

    Returns:
        tuple: images uint8 (N, 3, 32, 32), labels int64 (N,).
    """
    path = DEFAULT_CIFAR10_DIR if path is None else str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"load_cifar10: {path!r} does not exist; expected "
            f"cifar-10-python.tar.gz or the {_SUBDIR} directory. Download it "
            f"from {_DOWNLOAD}.")
    read = _batch_reader(path)
    images, labels = [], []
    for name in (_TRAIN if train else _TEST):
        batch = read(name)
        data = np.asarray(_field(batch, "data", name))
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"load_cifar10: {name} data is {data.dtype} "
                             f"{data.shape}, expected uint8 (N, 3072)")
        lab = np.asarray(_field(batch, "labels", name), dtype=np.int64)
        if lab.shape != (data.shape[0],):
            raise ValueError(f"load_cifar10: {name} has {data.shape[0]} "
                             f"images but labels of shape {lab.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def data_iterator_cifar10(batch_size, train=True, path=None, shuffle=True,
                          rng=None):
    """Mini-batches of CIFAR-10: images uint8 (B, 3, 32, 32) and labels
    int32 (B, 1). See :func:`load_cifar10` for ``path``."""
    images, labels = load_cifar10(path, train=train)
    labels = labels.astype(np.int32)[:, None]

    def load_func(index):
        return images[index], labels[index]

    return data_iterator_simple(load_func, images.shape[0], batch_size,
                                shuffle=shuffle, rng=rng, with_file_cache=False)
