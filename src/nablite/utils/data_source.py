"""Data sources: where a :class:`~nablite.utils.data_iterator.DataIterator`
gets its samples from.

A data source hands out one sample at a time (a tuple with one value per
variable) through :meth:`DataSource.next`, keeps a ``position`` in the current
pass, and starts a new pass with :meth:`DataSource.reset` (reshuffling when
``shuffle`` is on). The iterator groups samples into mini-batches.

Two kinds of subclass exist:

* user sources in NNabla's style, which set ``_size`` and ``_variables`` in
  ``__init__``, implement ``_get_data(position)`` and usually override
  ``reset()`` to redraw their own index order before calling
  ``super().reset()``; and
* the sources defined here, which derive from :class:`_IndexedDataSource` and
  only say how to fetch the sample with a given *original* index
  (``_get_sample(index)``); the base then serves them in ``order``.

Wrappers (:class:`DataSourceWithMemoryCache`, :class:`DataSourceWithFileCache`,
:class:`SlicedDataSource`, :class:`ConcatDataSource`) address the wrapped
samples by their original index, whatever order the wrapped source is in,
and serve them in their own order. A wrapped user source, which offers no
access by index, is read once at wrapping time, in its order after
``reset()``.
"""
import csv
import os
import shutil
import tempfile

import numpy as np

from ..logger import logger

__all__ = [
    "DataSource", "SimpleDataSource", "CsvDataSource", "CacheDataSource",
    "ConcatDataSource", "SlicedDataSource", "DataSourceWithMemoryCache",
    "DataSourceWithFileCache",
]

DEFAULT_SEED = 313


def _default_rng(rng):
    return np.random.RandomState(DEFAULT_SEED) if rng is None else rng


class DataSource:
    """Base class of all data sources.

    Args:
        shuffle (bool): Visit the samples in a new random order each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator used for
            shuffling. ``None`` gives ``RandomState(313)``.

    Subclasses set ``self._size`` (number of samples) and ``self._variables``
    (names of the values in a sample) and implement ``_get_data(position)``,
    which returns the tuple for the ``position``-th sample of the current pass.
    """

    def __init__(self, shuffle=False, rng=None):
        logger.info("DataSource with shuffle(%s)", shuffle)
        self._shuffle = bool(shuffle)
        self._rng = _default_rng(rng)
        self._variables = ()
        self._size = 0
        self._position = 0
        self._order = None
        self._closed = False

    # -- properties ---------------------------------------------------------
    @property
    def variables(self):
        """Names of the values in one sample (tuple or list)."""
        return self._variables

    @property
    def size(self):
        """Number of samples in one pass."""
        return self._size

    @property
    def position(self):
        """Number of samples already taken in the current pass."""
        return self._position

    @property
    def shuffle(self):
        """Whether each pass visits the samples in a new random order."""
        return self._shuffle

    @shuffle.setter
    def shuffle(self, value):
        self._shuffle = bool(value)

    @property
    def order(self):
        """Indices of the original samples in the order of the current pass
        (``None`` for sources that keep no order of their own)."""
        return self._order

    # -- protocol -----------------------------------------------------------
    def _get_data(self, position):
        raise NotImplementedError(
            f"{type(self).__name__}._get_data: subclasses of DataSource must "
            "return the tuple of values of the sample at `position`")

    def next(self):
        """Return the next sample (a tuple) and advance ``position``."""
        data = self._get_data(self._position)
        self._position += 1
        return data

    def reset(self):
        """Start a new pass: ``position`` goes back to 0."""
        self._position = 0

    def apply_order(self):
        """Draw the order of the coming pass: a fresh permutation of
        ``range(size)`` when shuffling, the identity otherwise."""
        if self._shuffle:
            self._order = self._rng.permutation(self._size)
        else:
            self._order = np.arange(self._size)

    def close(self):
        """Release files and temporary directories held by the source."""
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self._size


class _IndexedDataSource(DataSource):
    """A source with random access by original index: subclasses implement
    ``_get_sample(index)``; the order of a pass comes from :meth:`apply_order`,
    which :meth:`reset` calls."""

    def _get_sample(self, index):
        raise NotImplementedError

    def _get_data(self, position):
        if self._order is None:
            self.apply_order()
        if not 0 <= position < self._size:
            raise IndexError(
                f"{type(self).__name__}: position {position} is outside the "
                f"{self._size} samples of this source; call reset() to start "
                "a new pass")
        return self._get_sample(int(self._order[position]))

    def reset(self):
        self.apply_order()
        super().reset()


class _RandomAccess:
    """Random access to the samples of another source by original index.

    Sources defined here are read through ``_get_sample`` without touching
    their position or order (``keep=True`` remembers what was read). Any
    other source (a user subclass that only knows ``_get_data``) is read
    once, from its start, in the order it has after ``reset()``, and reset
    again afterwards.
    """

    def __init__(self, source, keep=False):
        self.source = source
        self.items = {} if keep else None
        if not isinstance(source, _IndexedDataSource):
            source.reset()
            self.items = [tuple(source.next()) for _ in range(source.size)]
            source.reset()

    def __getitem__(self, index):
        if isinstance(self.items, list):
            return self.items[index]
        if self.items is None:
            return tuple(self.source._get_sample(index))
        item = self.items.get(index)
        if item is None:
            item = self.items[index] = tuple(self.source._get_sample(index))
        return item


# ---------------------------------------------------------------------------
# Concrete sources
# ---------------------------------------------------------------------------
class SimpleDataSource(_IndexedDataSource):
    """Samples produced by a function of the sample index.

    Args:
        load_func (callable): ``load_func(index)`` returns the values of one
            sample, as a tuple (or any sequence: an array of length 3 counts
            as three values).
        num_examples (int): Number of samples.
        shuffle (bool): Reshuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.

    Variables are named ``x0, x1, ...`` (a list).
    """

    def __init__(self, load_func, num_examples, shuffle=False, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        if not callable(load_func):
            raise TypeError(f"SimpleDataSource: load_func must be callable, "
                            f"got {type(load_func).__name__}")
        if int(num_examples) <= 0:
            raise ValueError(f"SimpleDataSource: num_examples must be a "
                             f"positive int, got {num_examples!r}")
        self._load_func = load_func
        self._size = int(num_examples)
        first = tuple(load_func(0))
        self._variables = [f"x{i}" for i in range(len(first))]
        self.reset()

    def _get_sample(self, index):
        return tuple(self._load_func(index))


class ConcatDataSource(_IndexedDataSource):
    """Several sources with the same variables, one after the other.

    Args:
        data_source_list (list of DataSource): Sources to join; every one must
            have the same ``variables``.
        shuffle (bool): Shuffle over the joined samples each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
    """

    def __init__(self, data_source_list, shuffle=True, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        sources = list(data_source_list)
        if not sources:
            raise ValueError("ConcatDataSource: data_source_list is empty; "
                             "expected at least one DataSource")
        names = tuple(sources[0].variables)
        for i, s in enumerate(sources[1:], 1):
            if tuple(s.variables) != names:
                raise ValueError(
                    f"ConcatDataSource: data_source_list[{i}] has variables "
                    f"{tuple(s.variables)}, but data_source_list[0] has {names}")
        self._sources = sources
        self._copies = [_RandomAccess(s) for s in sources]
        self._offsets = np.cumsum([0] + [s.size for s in sources])
        self._size = int(self._offsets[-1])
        self._variables = sources[0].variables
        self.reset()

    def _get_sample(self, index):
        k = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return self._copies[k][index - int(self._offsets[k])]

    def close(self):
        for s in self._sources:
            s.close()
        super().close()


class SlicedDataSource(_IndexedDataSource):
    """The samples ``slice_start .. slice_end-1`` (original indices) of
    another source.

    Args:
        data_source (DataSource): Source to take the slice from.
        shuffle (bool): Shuffle the slice each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
        slice_start (int): First sample (default 0).
        slice_end (int): One past the last sample (default: the source size).
    """

    def __init__(self, data_source, shuffle=False, rng=None,
                 slice_start=None, slice_end=None):
        super().__init__(shuffle=shuffle, rng=rng)
        start = 0 if slice_start is None else int(slice_start)
        end = data_source.size if slice_end is None else int(slice_end)
        if not 0 <= start < end <= data_source.size:
            raise ValueError(
                f"SlicedDataSource: slice_start={slice_start}, slice_end="
                f"{slice_end} must satisfy 0 <= start < end <= size "
                f"({data_source.size})")
        self._data_source = data_source
        self._slice_start, self._slice_end = start, end
        self._copy = _RandomAccess(data_source)
        self._size = end - start
        self._variables = data_source.variables
        self.reset()

    @property
    def slice_start(self):
        return self._slice_start

    @property
    def slice_end(self):
        return self._slice_end

    def _get_sample(self, index):
        return self._copy[self._slice_start + index]

    def close(self):
        self._data_source.close()
        super().close()


class DataSourceWithMemoryCache(_IndexedDataSource):
    """Keeps every sample of another source in memory after the first read.

    Args:
        data_source (DataSource): Source to cache; each sample is read from it
            once, when first asked for.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
    """

    def __init__(self, data_source, shuffle=False, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        logger.info("Using DataSourceWithMemoryCache")
        self._data_source = data_source
        self._copy = _RandomAccess(data_source, keep=True)
        self._size = data_source.size
        self._variables = data_source.variables
        logger.info("On-memory")
        self.reset()

    def _get_sample(self, index):
        return self._copy[index]

    def close(self):
        self._data_source.close()
        super().close()


# ---------------------------------------------------------------------------
# File cache
# ---------------------------------------------------------------------------
CACHE_INFO = "cache_info.csv"     # one variable name a line
CACHE_INDEX = "cache_index.csv"   # "<file name>,<number of samples>" a line


def _write_chunk(path, arrays, names):
    if path.endswith(".h5"):
        import h5py
        with h5py.File(path, "w") as f:
            for name, a in zip(names, arrays):
                f.create_dataset(name, data=a)
    else:
        with open(path, "wb") as f:
            for a in arrays:
                np.save(f, a, allow_pickle=False)


def _read_chunk(path, names):
    if path.endswith(".h5"):
        import h5py
        with h5py.File(path, "r") as f:
            return [f[name][()] for name in names]
    with open(path, "rb") as f:
        return [np.load(f, allow_pickle=False) for _ in names]


class _ChunkedCache:
    """Reader of a cache directory: ``cache_info.csv`` lists the variables,
    ``cache_index.csv`` the chunk files in sample order with their sizes.
    The most recently used chunk is kept in memory."""

    def __init__(self, cache_dir, index_name=CACHE_INDEX, info_name=CACHE_INFO,
                 who="CacheDataSource"):
        index_path = os.path.join(cache_dir, index_name)
        info_path = os.path.join(cache_dir, info_name)
        for p in (index_path, info_path):
            if not os.path.isfile(p):
                raise FileNotFoundError(
                    f"{who}: {p} not found; expected a cache directory "
                    f"written by DataSourceWithFileCache ({info_name} and "
                    f"{index_name})")
        with open(info_path) as f:
            self.names = [line.strip() for line in f if line.strip()]
        self.files, counts = [], []
        with open(index_path) as f:
            for row in csv.reader(f):
                if row:
                    self.files.append(os.path.join(cache_dir, row[0]))
                    counts.append(int(row[1]))
        self.offsets = np.cumsum([0] + counts)
        self.size = int(self.offsets[-1])
        self._loaded = (None, None)

    def sample(self, index):
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        if self._loaded[0] != k:
            self._loaded = (k, _read_chunk(self.files[k], self.names))
        local = index - int(self.offsets[k])
        return tuple(a[local] for a in self._loaded[1])


def _normalize_value(value):
    """uint8 data to float32 in [0, 1]; everything else unchanged."""
    a = np.asarray(value)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return value


class CacheDataSource(_IndexedDataSource):
    """Samples read back from a cache directory written by
    :class:`DataSourceWithFileCache`.

    Args:
        cachedir (str): The cache directory.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
        normalize (bool): Turn uint8 values into float32 divided by 255.
    """

    def __init__(self, cachedir, shuffle=False, rng=None, normalize=False):
        super().__init__(shuffle=shuffle, rng=rng)
        self._cache = _ChunkedCache(cachedir)
        self._normalize = normalize
        self._size = self._cache.size
        self._variables = tuple(self._cache.names)
        self.reset()

    def _get_sample(self, index):
        values = self._cache.sample(index)
        if self._normalize:
            values = tuple(_normalize_value(v) for v in values)
        return values


class DataSourceWithFileCache(_IndexedDataSource):
    """Copies another source into cache files once, then reads from them.

    All samples are written when the object is created, in chunks of
    ``num_of_data_per_file`` samples (``<prefix>_<start>_<end>.npy``; set the
    class attribute ``cache_file_format = '.h5'`` for HDF5 files), together
    with ``cache_info.csv`` and ``cache_index.csv``, so that
    :class:`CacheDataSource` / ``data_iterator_cache`` can reopen the
    directory later.

    Args:
        data_source (DataSource): Source to copy.
        cache_dir (None or str): Where to write. ``None`` uses a temporary
            directory that :meth:`close` removes; a given directory is kept.
        cache_file_name_prefix (str): Start of the chunk file names.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
    """

    cache_file_format = ".npy"
    num_of_data_per_file = 1000

    def __init__(self, data_source, cache_dir=None,
                 cache_file_name_prefix="cache", shuffle=False, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        logger.info("Using DataSourceWithFileCache")
        if self.cache_file_format not in (".npy", ".h5"):
            raise ValueError(
                "DataSourceWithFileCache: cache_file_format must be '.npy' or "
                f"'.h5', got {self.cache_file_format!r}")
        self._data_source = data_source
        self._temporary = cache_dir is None
        self._cache_dir = (tempfile.mkdtemp(prefix="nablite-cache-")
                           if cache_dir is None else str(cache_dir))
        os.makedirs(self._cache_dir, exist_ok=True)
        self._prefix = cache_file_name_prefix
        self._size = data_source.size
        self._variables = data_source.variables
        self._write_all()
        self._cache = _ChunkedCache(self._cache_dir, who="DataSourceWithFileCache")
        self.reset()

    @property
    def cache_dir(self):
        return self._cache_dir

    def _write_all(self):
        names = [str(v) for v in self._variables]
        per = max(1, int(self.num_of_data_per_file))
        src = _RandomAccess(self._data_source)
        rows = []
        for start in range(0, self._size, per):
            end = min(start + per, self._size)
            samples = [src[i] for i in range(start, end)]
            arrays = [np.array([s[i] for s in samples])
                      for i in range(len(names))]
            fname = f"{self._prefix}_{start:08d}_{end - 1:08d}{self.cache_file_format}"
            _write_chunk(os.path.join(self._cache_dir, fname), arrays, names)
            rows.append((fname, end - start))
        with open(os.path.join(self._cache_dir, CACHE_INFO), "w") as f:
            f.write("".join(n + "\n" for n in names))
        with open(os.path.join(self._cache_dir, CACHE_INDEX), "w", newline="") as f:
            csv.writer(f).writerows(rows)

    def _get_sample(self, index):
        return self._cache.sample(index)

    def close(self):
        if self._closed:
            return
        self._data_source.close()
        if self._temporary:
            shutil.rmtree(self._cache_dir, ignore_errors=True)
        super().close()


# ---------------------------------------------------------------------------
# CSV datasets
# ---------------------------------------------------------------------------
def _parse_header(cell):
    """``NAME[__INDEX][:LABEL]`` -> (name, index or None)."""
    name = cell.split(":", 1)[0].strip()
    if "__" in name:
        base, _, idx = name.rpartition("__")
        if idx.isdigit():
            return base, int(idx)
    return name, None


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _load_file(path, normalize, who):
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{who}: the file {path!r} named in the CSV "
                                "does not exist")
    if ext == ".npy":
        return np.load(path, allow_pickle=False)
    if ext in (".csv", ".txt"):
        a = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=1)
        return a
    if ext in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"):
        from .image_utils import imread
        img = imread(path, channel_first=True)
        if img.ndim == 2:
            img = img[None]
        if normalize:
            scale = 65535.0 if img.dtype == np.uint16 else 255.0
            return img.astype(np.float32) / scale
        return img
    raise ValueError(f"{who}: cannot load {path!r}: unknown file extension "
                     f"{ext!r} (expected .npy, .csv, .txt or an image)")


class CsvDataSource(_IndexedDataSource):
    """Samples described by a CSV file with a header row.

    Header cells are ``NAME[__INDEX][:LABEL]``. Columns whose header starts
    with ``#`` are ignored. Columns ``NAME__0, NAME__1, ...`` form one vector
    variable ``NAME``. A cell that reads as a number is a value (a plain
    column gives a float32 array of shape (1,)); any other cell is a file path
    relative to the CSV file, loaded by extension (images as (C, H, W),
    ``.npy``, ``.csv``).

    Args:
        filename (str): The CSV file.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
        normalize (bool): Divide loaded images by 255 (65535 for 16 bit).
    """

    def __init__(self, filename, shuffle=False, rng=None, normalize=False):
        super().__init__(shuffle=shuffle, rng=rng)
        filename = str(filename)
        if not os.path.isfile(filename):
            raise FileNotFoundError(f"CsvDataSource: {filename!r} not found")
        self._base = os.path.dirname(os.path.abspath(filename))
        self._normalize = normalize
        with open(filename, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
        if not rows:
            raise ValueError(f"CsvDataSource: {filename!r} is empty; expected "
                             "a header row and data rows")
        header, self._rows = rows[0], rows[1:]
        self._columns = []   # (name, [column indices])
        for col, cell in enumerate(header):
            if cell.strip().startswith("#"):
                continue
            name, _ = _parse_header(cell)
            for entry in self._columns:
                if entry[0] == name:
                    entry[1].append(col)
                    break
            else:
                self._columns.append((name, [col]))
        for n, row in enumerate(self._rows, 2):
            if len(row) < len(header):
                raise ValueError(f"CsvDataSource: line {n} of {filename!r} "
                                 f"has {len(row)} cells, the header has "
                                 f"{len(header)}")
        self._size = len(self._rows)
        self._variables = tuple(name for name, _ in self._columns)
        self.reset()

    def _value(self, cells):
        if all(_is_float(c) for c in cells):
            return np.array([float(c) for c in cells], dtype=np.float32)
        if len(cells) != 1:
            raise ValueError(f"CsvDataSource: vector columns must hold "
                             f"numbers, got {cells}")
        path = cells[0].strip()
        if not os.path.isabs(path):
            path = os.path.join(self._base, path)
        return _load_file(path, self._normalize, "CsvDataSource")

    def _get_sample(self, index):
        row = self._rows[index]
        return tuple(self._value([row[c] for c in cols])
                     for _, cols in self._columns)
