"""NNabla's cache folder format, written and read with bounded allocation.

A cache folder holds chunk files ``<prefix>_<first>_<last>.npy`` (or ``.h5``)
of up to 100 samples each, plus

* ``cache_index.csv``: ``<chunk file name>,<number of samples>`` a line, in
  sample order;
* ``cache_info.csv``: one variable name a line (``.npy`` caches only; an
  ``.h5`` chunk names its datasets);
* ``original.csv`` / ``order.csv``: the source CSV and its sample order,
  where the cache was made from a CSV file.

An ``.npy`` chunk is one ``numpy.save`` per variable, one after the other in
``cache_info.csv`` order, each array stacking the samples along axis 0.
This is what NNabla's ``DataSourceWithFileCache`` and ``conv_dataset`` write,
so each library reads the other's caches.
"""
import csv
import io
import os

import numpy as np

from .._atomic_file import atomic_write
from ._data_bounded import max_read_bytes, read_npy

__all__ = ["CACHE_INDEX", "CACHE_INFO", "write_chunk", "write_rows",
           "read_chunk", "read_cache_folder"]

CACHE_INDEX = "cache_index.csv"
CACHE_INFO = "cache_info.csv"


def _stack(who, name, values):
    arrays = [v if isinstance(v, np.ndarray) else np.array(v).astype(np.float32)
              for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"{who}: the samples of variable {name!r} have different "
                         f"shapes {sorted(shapes)}; a cache needs one shape per "
                         "variable")
    return np.array(arrays)


def write_chunk(path, variables, samples, who):
    """Write ``samples`` (tuples, one value per variable) as one chunk file
    (``.npy`` or ``.h5`` by the extension of ``path``), atomically."""
    columns = [_stack(who, name, [s[i] for s in samples])
               for i, name in enumerate(variables)]
    if path.endswith(".h5"):
        import h5py

        def write(tmp):
            with h5py.File(tmp, "w") as f:
                for name, a in zip(variables, columns):
                    f.create_dataset(name, data=a)
    else:
        def write(tmp):
            with open(tmp, "wb") as f:
                for a in columns:
                    np.save(f, a, allow_pickle=False)
    atomic_write(path, write)


def write_rows(path, rows):
    """A small CSV file (``\\n`` line ends, as NNabla writes), atomically."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    text = buf.getvalue()

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            f.write(text)
    atomic_write(path, write)


def read_chunk(path, variables, who):
    """{variable: array} of one chunk file, each array's size checked
    before it is read."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{who}: the cache file {path} is missing")
    if path.lower().endswith(".h5"):
        return _read_h5(path, who)
    out = {}
    with open(path, "rb") as f:
        for name in variables:
            out[name] = read_npy(f, who, f"{path} (variable {name!r})")
    return out


def _read_h5(path, who):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            out = {}
            for name, ds in f.items():
                if not isinstance(ds, h5py.Dataset):
                    raise ValueError(f"{who}: {path} holds a group {name!r}; a "
                                     "cache file holds one dataset per variable")
                if ds.dtype.hasobject or ds.dtype.kind not in "biuf":
                    raise ValueError(f"{who}: {path} dataset {name!r} has dtype "
                                     f"{ds.dtype}; only numbers are read")
                nbytes = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize
                if nbytes > max_read_bytes():
                    raise ValueError(f"{who}: {path} dataset {name!r} declares "
                                     f"{ds.shape} ({nbytes} bytes), more than the "
                                     f"limit of {max_read_bytes()}")
                # unfiltered data is stored as it is: more than the file holds
                # is a truncated or forged file (filtered data has the limit only)
                if not ds.compression and ds.compression_opts is None \
                        and nbytes > os.path.getsize(path):
                    raise ValueError(f"{who}: {path} dataset {name!r} declares "
                                     f"{ds.shape} ({nbytes} bytes), more than the "
                                     f"{os.path.getsize(path)} bytes of the file")
                out[name] = ds[()]
            return out
    except (OSError, RuntimeError, KeyError) as e:  # h5py's errors on corrupt files
        raise ValueError(f"{who}: {path} is not a readable HDF5 cache file "
                         f"({type(e).__name__}: {e})") from None


def _h5_lengths(path, who):
    """{dataset name: first dimension} of an .h5 chunk, from its metadata."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return {k: (v.shape[0] if getattr(v, "shape", None) else 0)
                    for k, v in f.items()}
    except (OSError, RuntimeError, KeyError) as e:  # h5py's errors on corrupt files
        raise ValueError(f"{who}: {path} is not a readable HDF5 cache file "
                         f"({type(e).__name__}: {e})") from None


def _check_name(who, folder, name):
    if not name or os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        raise ValueError(f"{who}: {CACHE_INDEX} in {folder} names {name!r}; "
                         "chunk files must lie in the cache folder")
    return os.path.join(folder, name)


def read_cache_folder(folder, who):
    """(variables, [(chunk path, number of samples)]) of a cache folder.

    With ``cache_index.csv`` the chunks are the ones it lists (``.npy`` with
    ``cache_info.csv`` naming the variables, else ``.h5``); without it, every
    ``.h5`` file of the folder in name order.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"{who}: the cache folder must be a path, got "
                        f"{type(folder).__name__}")
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{who}: the cache folder {folder!r} does not exist")
    info = os.path.join(folder, CACHE_INFO)
    variables = None
    if os.path.isfile(info):
        with open(info, newline="", encoding="utf-8-sig") as f:
            variables = [row[0] for row in csv.reader(f) if row]
    chunks = []
    index = os.path.join(folder, CACHE_INDEX)
    if os.path.isfile(index):
        with open(index, newline="", encoding="utf-8-sig") as f:
            for n, row in enumerate(csv.reader(f), 1):
                if not row:
                    continue
                try:
                    length = int(row[1])
                except (IndexError, ValueError):
                    raise ValueError(f"{who}: line {n} of {index} is {row}; expected "
                                     "'<file name>,<number of samples>'") from None
                if length < 0:
                    raise ValueError(f"{who}: line {n} of {index} gives a negative "
                                     f"number of samples ({length})")
                chunks.append((_check_name(who, folder, row[0]), length))
    else:
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(".h5"):
                lengths = set(_h5_lengths(os.path.join(folder, name), who).values())
                if len(lengths) != 1:
                    raise ValueError(f"{who}: the datasets of {name} in {folder} "
                                     f"have different lengths {sorted(lengths)}")
                chunks.append((os.path.join(folder, name), lengths.pop()))
    if not chunks:
        raise FileNotFoundError(
            f"{who}: {folder!r} holds no cache ({CACHE_INDEX} with {CACHE_INFO} "
            "and .npy chunks, or .h5 chunks)")
    if variables is None:
        path = chunks[0][0]
        if not path.lower().endswith(".h5"):
            raise FileNotFoundError(f"{who}: {info} is missing; an .npy cache "
                                    "needs it to name its variables")
        variables = list(_h5_lengths(path, who))
    return variables, chunks
