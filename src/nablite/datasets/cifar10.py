"""CIFAR-10 and CIFAR-100 as NNabla's examples read them
(``cifar10-100-collection``).

The "python version" archives come from NNabla's download URLs through the
local data home (:func:`nablite.utils.data_source_loader.download`), so a
machine without a network runs the examples once ``cifar-10-python.tar.gz``
(or ``cifar-100-python.tar.gz``) is in ``get_data_home()``. ``path=`` reads
an archive or an extracted folder from elsewhere.

The batches are pickles. They are read with a restricted unpickler that
builds only plain containers and NumPy arrays: a pickle that names any other
global (``os.system``, ``builtins.eval``, ...) is refused with
:class:`pickle.UnpicklingError` instead of being run. Archive members that
are links are refused, sizes are checked against the read limit, and each
batch must hold a uint8 (N, 3072) array and N integer labels in the class
range.
"""
import os
import tarfile
import zlib

import numpy as np

from ..utils._data_bounded import safe_load_pickle, tar_member_bytes
from ..utils.data_iterator import data_iterator
from ._in_memory import InMemoryDataSource
from ..utils.data_source_loader import download, get_data_home

__all__ = ["load_cifar10", "load_cifar100", "Cifar10DataSource",
           "Cifar100DataSource", "data_iterator_cifar10", "data_iterator_cifar100",
           "safe_load_pickle", "CIFAR10_URL", "CIFAR100_URL"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"

# classes, URL, folder in the archive, label key, member test for (train, test)
_KINDS = {
    10: (CIFAR10_URL, "cifar-10-batches-py", "labels",
         (lambda n: "data_batch" in n, lambda n: "test_batch" in n)),
    100: (CIFAR100_URL, "cifar-100-python", "fine_labels",
          (lambda n: n.endswith("/train") or n == "train",
           lambda n: n.endswith("/test") or n == "test")),
}


def _field(batch, key, name, who):
    if not isinstance(batch, dict):
        raise ValueError(f"{who}: {name} holds a {type(batch).__name__}, expected "
                         "a dict")
    for k in (key, key.encode()):
        if k in batch:
            return batch[k]
    raise ValueError(f"{who}: {name} has no '{key}' entry (keys: "
                     f"{sorted(map(str, batch))})")


def _batch_arrays(batch, name, label_key, classes, who):
    data = _field(batch, "data", name, who)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) \
            else type(data).__name__
        raise ValueError(f"{who}: {name} data is {desc}, expected a uint8 array "
                         "(N, 3072)")
    labels = _field(batch, label_key, name, who)
    # A list of exactly N ints: anything else (nested lists sharing references
    # can describe huge arrays in a tiny pickle) is refused before conversion.
    if isinstance(labels, np.ndarray):
        ok = labels.ndim == 1 and labels.dtype.kind in "iu"
    else:
        ok = isinstance(labels, (list, tuple)) and \
            all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                for v in labels)
    if not ok or len(labels) != data.shape[0]:
        raise ValueError(f"{who}: {name} must hold {data.shape[0]} integer labels "
                         f"(one per image), got {type(labels).__name__} of length "
                         f"{len(labels) if hasattr(labels, '__len__') else '?'}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"{who}: {name} holds the label "
                         f"{int(labels.min() if labels.min() < 0 else labels.max())}; "
                         f"CIFAR-{classes} labels are 0..{classes - 1}")
    return data, labels


def _read_batches(path, classes, train, who):
    """[(name, unpickled batch)] of the training or test part, in archive
    order (as the examples read them) or file name order for a folder."""
    url, folder_name, _, tests = _KINDS[classes]
    wanted = tests[0 if train else 1]
    if os.path.isdir(path):
        folder = os.path.join(path, folder_name) \
            if os.path.isdir(os.path.join(path, folder_name)) else path
        names = sorted(n for n in os.listdir(folder) if wanted(n))
        if not names:
            raise FileNotFoundError(
                f"{who}: no {'training' if train else 'test'} batch in {folder!r}; "
                f"expected the files of {url.split('/')[-1]} there or in "
                f"{folder_name}/ below it. Download it from {url}.")
        out = []
        for n in names:
            with open(os.path.join(folder, n), "rb") as f:
                out.append((n, safe_load_pickle(f, os.path.join(folder, n))))
        return out
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{who}: {path!r} does not exist; expected "
                                f"{url.split('/')[-1]} or its extracted folder. "
                                f"Download it from {url}.")
    try:
        out = []
        with tarfile.open(path, "r:*") as tar:
            # Member by member, so a hostile member is refused when it comes,
            # before the rest of the archive is inflated.
            for member in tar:
                if wanted(member.name):
                    data = tar_member_bytes(tar, member, who, path)
                    out.append((member.name, safe_load_pickle(data, f"{path}:{member.name}")))
        if not out:
            raise FileNotFoundError(f"{who}: the archive {path} holds no "
                                    f"{'training' if train else 'test'} batch")
        return out
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{who}: {path} is not a readable tar archive (truncated "
                         f"or corrupt: {e})") from None


def _load(classes, train, path, who):
    url, _, label_key, _ = _KINDS[classes]
    if path is None:
        download(url, open_file=False)
        path = os.path.join(get_data_home(), url.split("/")[-1])
    elif not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be an archive or folder name, or None, got "
                        f"{type(path).__name__}")
    images, labels = [], []
    for name, batch in _read_batches(os.fspath(path), classes, train, who):
        data, lab = _batch_arrays(batch, name, label_key, classes, who)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels).reshape(-1, 1)


def load_cifar10(train=True, path=None):
    """CIFAR-10's training (50000) or test (10000) images.

    Args:
        train (bool): Training batches 1-5 (in archive order), or the test
            batch.
        path (None or str): ``None`` fetches NNabla's URL through the data
            home; else ``cifar-10-python.tar.gz``, the ``cifar-10-batches-py``
            folder or its parent.

    Returns:
        tuple: images uint8 (N, 3, 32, 32), labels int64 (N, 1).
    """
    return _load(10, train, path, "load_cifar10")


def load_cifar100(train=True, path=None):
    """CIFAR-100's training (50000) or test (10000) images with their fine
    labels; ``path`` as in :func:`load_cifar10` (``cifar-100-python``)."""
    return _load(100, train, path, "load_cifar100")


class _CifarDataSource(InMemoryDataSource):
    _classes = 10

    def __init__(self, train=True, shuffle=False, rng=None, path=None):
        self._train = train
        super().__init__(*_load(self._classes, train, path, type(self).__name__),
                         shuffle=shuffle, rng=rng)


class Cifar10DataSource(_CifarDataSource):
    """CIFAR-10 samples ``(image (3, 32, 32) uint8, label (1,) int64)``, a
    new permutation at every reset when ``shuffle`` (as NNabla's examples)."""
    _classes = 10


class Cifar100DataSource(_CifarDataSource):
    """CIFAR-100 samples with fine labels, as :class:`Cifar10DataSource`."""
    _classes = 100


def data_iterator_cifar10(batch_size, train=True, rng=None, shuffle=True,
                          with_memory_cache=False, with_file_cache=False, path=None):
    """Mini-batches of CIFAR-10 as in NNabla's examples: images uint8
    (B, 3, 32, 32), labels int64 (B, 1). ``path`` (nablite) as in
    :func:`load_cifar10`."""
    return data_iterator(Cifar10DataSource(train, shuffle, rng, path), batch_size,
                         rng=rng, with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache)


def data_iterator_cifar100(batch_size, train=True, rng=None, shuffle=True,
                           with_memory_cache=False, with_file_cache=False, path=None):
    """Mini-batches of CIFAR-100 (fine labels), as :func:`data_iterator_cifar10`."""
    return data_iterator(Cifar100DataSource(train, shuffle, rng, path), batch_size,
                         rng=rng, with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache)
