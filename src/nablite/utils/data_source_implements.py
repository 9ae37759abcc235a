"""The concrete data sources: a function, a CSV file, a cache folder, several
sources joined.

Each draws its shuffled orders from its ``rng`` at the moments NNabla 1.39's
does, so the same seeded generator gives the same samples in the same order.
"""
import os
from collections import deque

import numpy as np

from ..logger import logger
from ._data_cache import read_cache_folder, read_chunk
from .data_source import DataSource, SlicedDataSource, check_source  # noqa: F401
from .data_source_loader import FileReader, load, read_csv_rows

__all__ = ["SimpleDataSource", "CsvDataSource", "CacheDataSource", "ConcatDataSource",
           "SlicedDataSource"]


class SimpleDataSource(DataSource):
    """Samples produced by a function of the sample index.

    Args:
        load_func (callable): ``load_func(index)`` returns the values of one
            sample, as a tuple (or any sequence: an array of length 3 counts
            as three values).
        num_examples (int): Number of samples.
        shuffle (bool): A new permutation of the indices each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.

    Variables are named ``x0, x1, ...`` (a list). The order of each pass is
    kept under its pass number (the last 15), so slices of this source that
    run at different speeds still read the same permutation per pass.
    """

    _kept_orders = 15

    def __init__(self, load_func, num_examples, shuffle=False, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        if not callable(load_func):
            raise TypeError(f"SimpleDataSource: load_func must be callable, got "
                            f"{type(load_func).__name__}")
        if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)) \
                or num_examples <= 0:
            raise ValueError(f"SimpleDataSource: num_examples must be a positive "
                             f"int, got {num_examples!r}")
        self._load_func = load_func
        self._size = int(num_examples)
        self._generation = 0
        first = load_func(0)
        if not hasattr(first, "__len__") or isinstance(first, (str, bytes)):
            raise TypeError(f"SimpleDataSource: load_func(0) must return a tuple of the "
                            f"sample's values, got {type(first).__name__}")
        self._variables = [f"x{i}" for i in range(len(first))]
        self._orders = deque(maxlen=self._kept_orders)
        self.reset()
        self._generate_order(0)

    def _generate_order(self, generation):
        if any(g == generation for g, _ in self._orders):
            return
        order = self._rng.permutation(self._size) if self._shuffle \
            else np.arange(self._size)
        self._orders.append((generation, order))

    def apply_order(self):
        self._generation += 1
        self._generate_order(self._generation)

    def _get_data_of_generation(self, position, generation):
        for g, order in self._orders:
            if g == generation:
                return self._load_func(int(order[position]))
        raise ValueError(
            f"SimpleDataSource: the order of pass {generation} is no longer kept "
            f"(the last {self._kept_orders} are); slices of this source drifted "
            "too far apart")

    def _get_data(self, position):
        return self._get_data_of_generation(position, self._generation)


def _parse_header(cell):
    """``NAME[__INDEX][:LABEL]`` -> (name, index or None, label or None)."""
    name, _, label = cell.partition(":")
    var, sep, index = name.partition("__")
    return var, (index if sep else None), (label if _ else None)


class CsvDataSource(DataSource):
    """Samples described by a CSV file with a header row.

    Header cells are ``NAME[__INDEX][:LABEL]``; columns whose header starts
    with ``#`` are ignored; ``NAME__0, NAME__1, ...`` columns form one vector
    variable ``NAME``. A cell that reads as a number is a value (a plain
    column gives ``[value]``, a float64 batch of (B, 1)); any other cell names
    a file relative to the CSV (which may be a URL), loaded by its extension
    through :func:`nablite.utils.data_source_loader.load` (images as
    (C, H, W)).

    Args:
        filename (str): The CSV file (path, ``file://`` or ``http(s)://``).
        shuffle (bool): A new permutation of the rows each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
        normalize (bool): Scale loaded images to float64 in [0, 1].
    """

    def __init__(self, filename, shuffle=False, rng=None, normalize=False):
        super().__init__(shuffle=shuffle, rng=rng)
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"CsvDataSource: filename must be a path or URL, got "
                            f"{type(filename).__name__}")
        self._filename = filename
        self._normalize = normalize
        self._generation = -1
        self._filereader = FileReader(filename)
        with self._filereader.open() as f:
            rows = read_csv_rows(f, "CsvDataSource", filename)
        if not rows:
            raise ValueError(f"CsvDataSource: {filename!r} is empty; expected a "
                             "header row and data rows")
        header, body = rows[0], rows[1:]
        keep = [i for i, cell in enumerate(header) if not cell.startswith("#")]
        self._rows = []
        for n, row in enumerate(body, 2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"CsvDataSource: line {n} of {filename!r} has "
                                 f"{len(row)} cells, the header has {len(header)}")
            self._rows.append([row[i] for i in keep])
        self._columns = [_parse_header(header[i]) for i in keep]
        names = []
        for var, _, _ in self._columns:
            if var not in names:
                names.append(var)
        self._size = len(self._rows)
        self._original_source_uri = filename
        self._original_order = list(range(self._size))
        self._order = list(range(self._size))
        self._variables = tuple(names)
        self.reset()

    def reset(self):
        if self._shuffle:
            self._order = list(self._rng.permutation(self._size))
        self._generation += 1
        super().reset()

    def _value(self, cell, vector):
        try:
            return [float(cell)] if vector else float(cell)
        except ValueError:
            pass
        loader = load(os.path.splitext(cell)[1].lower())
        with self._filereader.open(cell) as f:
            return loader(f, normalize=self._normalize)

    def _get_data(self, position):
        row_index = self._order[position]
        values = {}
        try:
            for cell, (var, index, _) in zip(self._rows[row_index], self._columns):
                if index is None:
                    values[var] = self._value(cell, vector=True)
                else:
                    values.setdefault(var, []).append(self._value(cell, vector=False))
        except (ValueError, OSError) as e:  # say which row of which CSV
            msg = f"CsvDataSource: data row {row_index + 1} of {self._filename}: {e}"
            try:
                again = type(e)(msg)
            except TypeError:  # exceptions with other constructors (UnicodeError)
                again = ValueError(msg)
            raise again from None
        return tuple(values.values())


class CacheDataSource(DataSource):
    """Samples read back from a cache folder (NNabla's layout: see
    :mod:`nablite.utils._data_cache`), written by
    :class:`~nablite.utils.data_source.DataSourceWithFileCache` or NNabla's
    ``conv_dataset`` / ``create_cache``.

    With ``shuffle``, each pass permutes the chunk files and, chunk by chunk
    in that order, the samples inside each. One chunk is in memory at a time.

    Args:
        cachedir (str): The cache folder.
        shuffle (bool): Shuffle each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
        normalize (bool): uint8 values to float32 / 255, uint16 to / 65535.
    """

    def __init__(self, cachedir, shuffle=False, rng=None, normalize=False):
        super().__init__(shuffle=shuffle, rng=rng)
        self._cachedir = cachedir
        self._normalize = normalize
        self._variables, self._cache_files = read_cache_folder(cachedir,
                                                               "CacheDataSource")
        logger.info("CacheDataSource: %d cache files in %s", len(self._cache_files),
                    cachedir)
        self._current = (None, None)
        self.reset()

    def reset(self):
        super().reset()
        files = range(len(self._cache_files))
        order = []
        for i in (self._rng.permutation(len(files)) if self._shuffle else files):
            name, length = self._cache_files[i]
            samples = self._rng.permutation(length) if self._shuffle else range(length)
            order.extend((int(i), int(j)) for j in samples)
        self._order = order
        self._size = len(order)
        self._generation += 1

    def _chunk(self, i):
        if self._current[0] != i:
            path, length = self._cache_files[i]
            data = read_chunk(path, self._variables, "CacheDataSource")
            for v in self._variables:
                if v not in data:
                    raise ValueError(f"CacheDataSource: {path} has no variable {v!r} "
                                     f"(it holds {sorted(data)})")
                if len(data[v]) < length:
                    raise ValueError(f"CacheDataSource: {path} holds {len(data[v])} "
                                     f"samples of {v!r}; the cache index says {length}")
            self._current = (i, data)
        return self._current[1]

    def _get_data(self, position):
        self._position = position
        i, j = self._order[position]
        data = self._chunk(i)
        values = [data[v][j] for v in self._variables]
        if self._normalize:
            values = [v.astype(np.float32) * np.float32(1.0 / 255.0) if v.dtype == np.uint8
                      else v.astype(np.float32) * np.float32(1.0 / 65535.0)
                      if v.dtype == np.uint16 else v for v in values]
        return values


class ConcatDataSource(DataSource):
    """Several sources with the same variables, one after the other.

    Args:
        data_source_list (list of DataSource): Sources to join; every one must
            have the same ``variables``.
        shuffle (bool): Shuffle over the joined samples each pass.
        rng (None or :obj:`numpy.random.RandomState`): Generator for shuffling.
    """

    def __init__(self, data_source_list, shuffle=True, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        if not isinstance(data_source_list, (list, tuple)):
            raise TypeError("ConcatDataSource: data_source_list must be a list of "
                            f"DataSources, got {type(data_source_list).__name__}")
        sources = [check_source(s, "ConcatDataSource", f"data_source_list[{i}]")
                   for i, s in enumerate(data_source_list)]
        if not sources:
            raise ValueError("ConcatDataSource: data_source_list is empty; expected "
                             "at least one DataSource")
        names = tuple(sources[0].variables)
        for i, s in enumerate(sources[1:], 1):
            if tuple(s.variables) != names:
                raise ValueError(f"ConcatDataSource: data_source_list[{i}] has "
                                 f"variables {tuple(s.variables)}, but "
                                 f"data_source_list[0] has {names}")
        self._data_sources = sources
        self._offsets = np.cumsum([0] + [s.size for s in sources])
        self._size = int(self._offsets[-1])
        self._variables = sources[0].variables
        self.reset()

    def reset(self):
        self._indexes = self._rng.permutation(self._size) if self._shuffle \
            else np.arange(self._size)
        super().reset()

    def _get_data(self, position):
        index = int(self._indexes[position])
        k = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return self._data_sources[k]._get_data(index - int(self._offsets[k]))

    def close(self):
        if not self._closed:
            for s in self._data_sources:
                s.close()
        super().close()
