"""Data sources: where a :class:`~nablite.utils.data_iterator.DataIterator`
gets its samples from, and the wrappers that cache or slice them.

A data source hands out one sample at a time (a tuple with one value per
variable) through :meth:`DataSource.next`, keeps a ``position`` in the
current pass and starts a new pass with :meth:`DataSource.reset`. Subclasses
set ``_size`` and ``_variables`` and implement ``_get_data(position)``.

The wrappers here (:class:`DataSourceWithMemoryCache`,
:class:`DataSourceWithFileCache`, :class:`SlicedDataSource`) read the
wrapped source through its ``_get_data`` and draw their shuffled orders from
their ``rng`` at the same moments as NNabla 1.39's, so the same seeded
generators give the same batches in both libraries. That includes NNabla's
visible habits: a memory cache serves its second pass in the order of the
first and reshuffles from the third on; a file cache shuffles whole chunk
files and then the samples inside each chunk.

The concrete sources (:class:`SimpleDataSource`, :class:`CsvDataSource`,
:class:`CacheDataSource`, :class:`ConcatDataSource`) live in
:mod:`nablite.utils.data_source_implements`, as in NNabla.
"""
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._atomic_file import atomic_write
from ..config import get_int, nnabla_config
from ..logger import logger, progress_bar
from ._data_cache import CACHE_INDEX, CACHE_INFO, read_chunk, write_chunk, write_rows

__all__ = ["DataSource", "DataSourceWithMemoryCache", "DataSourceWithFileCache",
           "DataSourceWithFileCacheError", "SlicedDataSource"]

DEFAULT_SEED = 313


class DataSource:
    """Base class of all data sources.

    Args:
        shuffle (bool): Visit the samples in a new random order each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator used for
            shuffling. ``None`` gives ``RandomState(313)``.

    Subclasses set ``self._size`` (number of samples) and ``self._variables``
    (names of the values in a sample) and implement ``_get_data(position)``,
    which returns the values of the ``position``-th sample of the current
    pass; a subclass that shuffles draws its order in ``reset()`` before
    calling ``super().reset()``.
    """

    def __init__(self, shuffle=False, rng=None):
        logger.info("DataSource with shuffle(%s)", shuffle)
        self._rng = np.random.RandomState(DEFAULT_SEED) if rng is None else rng
        self._variables = None
        self._generation = -1
        self._shuffle = shuffle
        self._position = 0
        self._size = 0
        self._closed = False
        self._order = None
        self._original_order = None
        self._original_source_uri = None

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
        self._shuffle = value

    @property
    def order(self):
        """The sample order of the current pass (None where the source keeps
        none)."""
        return self._order

    def _get_data(self, position):
        raise NotImplementedError(
            f"{type(self).__name__}._get_data: subclasses of DataSource must "
            "return the values of the sample at `position`")

    def _get_data_of_generation(self, position, generation):
        """The sample at ``position`` in the order of pass ``generation``
        (sources that keep several orders, for slices, override this)."""
        return self._get_data(position)

    def _generate_order(self, generation):
        """Draw the order of pass ``generation`` if not drawn yet (for
        sources that keep several orders)."""

    def next(self):
        """Return the next sample and advance ``position``."""
        data = self._get_data(self._position)
        self._position += 1
        return data

    __next__ = next

    def reset(self):
        """Start a new pass: ``position`` goes back to 0."""
        self._position = 0

    def apply_order(self):
        """Called by the iterator after a batch that crossed the end of a
        pass: the moment for sources with generations to draw a new order."""

    def close(self):
        """Release files and temporary folders held by the source."""
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self._size


def check_source(source, who, name="data_source"):
    """A clear TypeError for anything that is not a data source."""
    if not isinstance(source, DataSource) and not all(
            hasattr(source, a) for a in ("size", "variables", "_get_data", "reset")):
        raise TypeError(f"{who}: {name} must be a DataSource, got "
                        f"{type(source).__name__}")
    return source


def _first_sample_bytes(sample):
    return sum(np.asarray(v, dtype=np.float32 if isinstance(v, list) else None).nbytes
               for v in sample)


class DataSourceWithMemoryCache(DataSource):
    """Keeps the samples of another source in memory as they are first read.

    The first pass reads the wrapped source in its own order and keeps each
    sample; the second pass serves them in the same order, and each later
    pass in a new permutation drawn from ``rng`` (when ``shuffle``). Sources
    larger than ``buffer_max_size`` bytes (``data_source_buffer_max_size`` of
    nablite.config: 1 GiB by default, as NNabla's) are passed through uncached.

    Args:
        data_source (DataSource): Source to cache.
        shuffle (bool): Shuffle each pass from the third on.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
    """

    buffer_max_size = get_int("DATA_ITERATOR", "data_source_buffer_max_size")

    def __init__(self, data_source, shuffle=False, rng=None):
        logger.info("Using DataSourceWithMemoryCache")
        super().__init__(shuffle=shuffle, rng=rng)
        self._data_source = check_source(data_source, "DataSourceWithMemoryCache")
        self._size = data_source.size
        self._variables = data_source.variables
        self._order = list(range(self._size))
        self._cache = []
        total = _first_sample_bytes(data_source._get_data(0)) * self._size
        self._on_memory = total < self.buffer_max_size
        if self._on_memory:
            logger.info("DataSourceWithMemoryCache: on memory (%d bytes)", total)

    def _get_data(self, position):
        if self._on_memory:
            index = self._order[position]
            if index < len(self._cache):
                data = self._cache[index]
            else:
                data = self._data_source._get_data(position)
                self._cache.append(data)
        else:
            data = self._data_source._get_data(position)
        self._position = position
        return data

    def reset(self):
        if self._on_memory:
            self._generation += 1
            if self._shuffle and self._generation > 0:
                self._order = list(self._rng.permutation(self._size))
            else:
                self._order = list(range(self._size))
            if self._position == 0:
                self._generation = -1
            else:
                self._data_source._position = self._position
                self._data_source.reset()
        else:
            self._data_source.reset()
            self._generation = getattr(self._data_source, "_generation", -1)
            self._position = self._data_source.position
        super().reset()

    def close(self):
        if not self._closed:
            self._data_source.close()
        super().close()


def write_cache_folder(cache_dir, source, prefix, file_format, cache_size,
                       num_of_threads, who):
    """Write the samples of ``source`` (``source._get_data(position)`` for each
    position of its current order) into ``cache_dir`` in NNabla's layout:
    chunks of ``cache_size`` samples, ``cache_index.csv``, ``cache_info.csv``
    (``.npy``) and, for a CSV source, ``original.csv`` and ``order.csv``.
    Returns [(chunk path, number of samples)]."""
    names = [str(v) for v in source.variables]
    per = max(1, int(cache_size))
    files = []
    with ThreadPoolExecutor(max(1, int(num_of_threads))) as pool:
        for start in progress_bar(range(0, source.size, per), desc="Create cache",
                                  unit="file"):
            end = min(start + per, source.size)
            samples = list(pool.map(source._get_data, range(start, end)))
            name = f"{prefix}_{start:08d}_{end - 1:08d}{file_format}"
            write_chunk(os.path.join(cache_dir, name), names, samples, who)
            files.append((os.path.join(cache_dir, name), end - start))
    write_rows(os.path.join(cache_dir, CACHE_INDEX),
               [(os.path.basename(p), n) for p, n in files])
    if file_format == ".npy":
        write_rows(os.path.join(cache_dir, CACHE_INFO), [(n,) for n in names])
    uri = getattr(source, "_original_source_uri", None)
    if uri is not None:
        from .data_source_loader import FileReader
        with FileReader(uri).open() as f:
            text = f.read()

        def copy(tmp):
            with open(tmp, "wb") as o:
                o.write(text)
        atomic_write(os.path.join(cache_dir, "original.csv"), copy)
    order, original = getattr(source, "_order", None), getattr(source, "_original_order", None)
    if order is not None and original is not None:
        write_rows(os.path.join(cache_dir, "order.csv"),
                   [[int(a), int(b)] for a, b in zip(original, order)])
    return files


class DataSourceWithFileCacheError(Exception):
    """The file cache cannot be written."""


def _temporary_location():
    """Where temporary caches go: nablite.config's data_source_file_cache_location,
    or the system's temporary folder when it is empty."""
    where = nnabla_config.get("DATA_ITERATOR", "data_source_file_cache_location")
    if where:
        os.makedirs(where, exist_ok=True)
    return where or None


class DataSourceWithFileCache(DataSource):
    """Copies another source into cache files once, then reads from them.

    All samples are written when the object is made, in chunks of
    ``cache_size`` samples (``<prefix>_<first>_<last>.npy``; set the class
    attribute ``cache_file_format = '.h5'`` for HDF5; both, and the threads that
    write them, ``num_of_threads``, default to nablite.config's settings), with
    ``cache_index.csv``, ``cache_info.csv`` and, for a CSV source,
    ``original.csv`` and ``order.csv``: NNabla's layout, which
    :class:`~nablite.utils.data_source_implements.CacheDataSource` and
    NNabla's ``data_iterator_cache`` read back. With ``shuffle``, each pass
    permutes the chunks and then the samples inside each chunk.

    Args:
        data_source (DataSource): Source to copy.
        cache_dir (None or str): Where to write. ``None`` uses a temporary
            folder that :meth:`close` removes; a given folder is kept.
        cache_file_name_prefix (str): Start of the chunk file names.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
    """

    # from nablite.config (NNabla's configuration files) when nablite is imported
    cache_file_format = nnabla_config.get("DATA_ITERATOR", "cache_file_format")
    cache_size = get_int("DATA_ITERATOR", "data_source_file_cache_size")
    num_of_threads = get_int("DATA_ITERATOR", "data_source_file_cache_num_of_threads")

    def __init__(self, data_source, cache_dir=None, cache_file_name_prefix="cache",
                 shuffle=False, rng=None):
        logger.info("Using DataSourceWithFileCache")
        super().__init__(shuffle=shuffle, rng=rng)
        if self.cache_file_format not in (".npy", ".h5"):
            raise ValueError("DataSourceWithFileCache: cache_file_format must be "
                             f"'.npy' or '.h5', got {self.cache_file_format!r}")
        self._data_source = check_source(data_source, "DataSourceWithFileCache")
        self._size = data_source.size
        self._variables = data_source.variables
        self._prefix = cache_file_name_prefix
        self._tempdir_created = cache_dir is None
        self._cache_dir = tempfile.mkdtemp(prefix="nablite-cache-", dir=_temporary_location()) \
            if cache_dir is None else os.fspath(cache_dir)
        os.makedirs(self._cache_dir, exist_ok=True)
        self._lock = threading.Lock()
        self._current = (None, None)
        try:
            self._create_cache()
        except BaseException:
            self.close()
            raise
        self._file_order = list(range(len(self._files)))
        self._sample_orders = [list(range(n)) for _, n in self._files]
        self._order = list(range(self._size))
        self._build_table()

    @property
    def cache_dir(self):
        return self._cache_dir

    def _create_cache(self):
        self._files = write_cache_folder(
            self._cache_dir, self._data_source, self._prefix, self.cache_file_format,
            self.cache_size, self.num_of_threads, "DataSourceWithFileCache")

    def _build_table(self):
        """Where each position of the pass lies: (chunk, sample in chunk)."""
        per = max(1, int(self.cache_size))
        self._table = []
        order = []
        for k in self._file_order:
            for j in self._sample_orders[k]:
                self._table.append((k, j))
                order.append(j + k * per)
        self._order = order

    def _get_data(self, position):
        with self._lock:
            self._position = position
            k, j = self._table[position]
            if self._current[0] != k:
                self._current = (k, read_chunk(self._files[k][0], self._variables,
                                               "DataSourceWithFileCache"))
            data = self._current[1]
            return [data[v][j] for v in self._variables]

    def reset(self):
        with self._lock:
            if self._shuffle:
                self._file_order = list(self._rng.permutation(self._file_order))
                self._sample_orders = [list(self._rng.permutation(o))
                                       for o in self._sample_orders]
            self._build_table()
            self._data_source.reset()
            self._position = 0
            self._generation += 1

    def close(self):
        if not self._closed:
            if self._tempdir_created:
                shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._data_source.close()
        super().close()


class SlicedDataSource(DataSource):
    """The samples at positions ``slice_start .. slice_end-1`` of another
    source's passes, for one process of several.

    The slice reads the wrapped source's order of its own pass number
    (``_get_data_of_generation``), so the slices of one source drawn with the
    same generator cover disjoint parts of the same permutation.

    Args:
        data_source (DataSource): Source to take the slice from.
        shuffle (bool): Kept for NNabla's signature; the order comes from the
            wrapped source.
        rng (None or :obj:`numpy.random.RandomState`): As ``shuffle``.
        slice_start (int): First position.
        slice_end (int): One past the last position.
    """

    def __init__(self, data_source, shuffle=False, rng=None, slice_start=None,
                 slice_end=None):
        logger.info("Using SlicedDataSource")
        super().__init__(shuffle=shuffle, rng=rng)
        check_source(data_source, "SlicedDataSource")
        for name, v in (("slice_start", slice_start), ("slice_end", slice_end)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
                raise TypeError(f"SlicedDataSource: {name} must be an int, got {v!r}")
        start = 0 if slice_start is None else int(slice_start)
        end = data_source.size if slice_end is None else int(slice_end)
        if not 0 <= start < end <= data_source.size:
            raise ValueError(
                f"SlicedDataSource: slice_start={slice_start}, slice_end={slice_end} "
                f"must satisfy 0 <= start < end <= size ({data_source.size})")
        self._data_source = data_source
        self._variables = list(data_source.variables) \
            if isinstance(data_source.variables, list) else data_source.variables
        self._slice_start, self._slice_end = start, end
        self._size = end - start
        self._generation = 0

    @property
    def slice_start(self):
        return self._slice_start

    @property
    def slice_end(self):
        return self._slice_end

    def apply_order(self):
        self._generation += 1
        self._data_source._generate_order(self._generation)

    def reset(self):
        self._data_source.reset()
        self._data_source._position = self._slice_start
        self._position = 0

    def _get_data(self, position):
        self._position = position
        return self._data_source._get_data_of_generation(self._slice_start + position,
                                                         self._generation)
