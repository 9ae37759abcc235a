"""Mini-batch iterators over data sources.

:class:`DataIterator` takes samples one by one from a
:class:`~nablite.utils.data_source.DataSource` and stacks them into a tuple of
NumPy arrays, one per variable. It never stops on its own (unless
``stop_exhausted``): a batch that runs past the end of the data continues
with the start of the next pass, and ``epoch`` counts the passes done.

With ``use_thread=True`` (the default) the next batch is read in a
background thread while the caller works on the current one, so file
decoding overlaps a training step; ``position`` is then the position after
that prefetched batch, as in NNabla. An error while reading is raised by the
``next()`` that would have returned the batch.

Batches, shuffled orders and the moments the epoch callbacks run are NNabla
1.39's for the same seeded generators.
"""
import math
import threading

import numpy as np

from ..logger import logger
from .data_source import (DataSourceWithFileCache, DataSourceWithMemoryCache,
                          SlicedDataSource, check_source)
from .data_source_implements import (CacheDataSource, ConcatDataSource,
                                     CsvDataSource, SimpleDataSource)

__all__ = [
    "DataIterator", "data_iterator", "data_iterator_simple",
    "data_iterator_csv_dataset", "data_iterator_cache",
    "data_iterator_concat_datasets",
]


class _Prefetch:
    """One batch read in a daemon thread; ``result()`` waits for it and
    re-raises what the reader raised."""

    def __init__(self, read):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(read,),
                                        name="nablite-prefetch", daemon=True)
        self._thread.start()

    def _run(self, read):
        try:
            self._value = read()
        except BaseException as e:  # handed to the caller's thread
            self._error = e

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class DataIterator:
    """Yields mini-batches from a data source.

    Args:
        data_source (DataSource): Where samples come from.
        batch_size (int): Samples per batch.
        rng (None or :obj:`numpy.random.RandomState`): Kept for NNabla's
            signature (the sources hold the generators that shuffle).
        use_thread (bool): Read the next batch in a background thread.
        epoch_begin_callbacks (list of callables): Called with the new epoch
            index when a batch crosses the end of a pass (not at epoch 0).
        epoch_end_callbacks (list of callables): Called with the index of the
            epoch that ended, just before the begin callbacks.
        stop_exhausted (bool): Iterate over one pass only: once fewer than
            ``batch_size`` samples are left, ``next()`` raises
            ``StopIteration`` (again on each call, as NNabla) until
            :meth:`reset` starts the next pass.

    ``next()`` returns a tuple with one array per variable of shape
    ``(batch_size, *sample_shape)``.
    """

    def __init__(self, data_source, batch_size, rng=None, use_thread=True,
                 epoch_begin_callbacks=[], epoch_end_callbacks=[],
                 stop_exhausted=False):
        logger.info("Using DataIterator")
        check_source(data_source, "DataIterator")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"DataIterator: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if not data_source.size or data_source.size <= 0:
            raise ValueError(f"DataIterator: data_source {type(data_source).__name__} "
                             "holds no samples")
        if isinstance(data_source.variables, (str, bytes)) or \
                not hasattr(data_source.variables, "__len__"):
            raise ValueError(f"DataIterator: {type(data_source).__name__}.variables must "
                             f"be a tuple or list of names, got {data_source.variables!r} "
                             "(set self._variables in the source's __init__)")
        self._data_source = data_source
        self._batch_size = int(batch_size)
        self._rng = np.random.RandomState(313) if rng is None else rng
        self._shuffle = data_source.shuffle
        self._variables = data_source.variables
        self._size = data_source.size
        self._stop_exhausted = bool(stop_exhausted)
        self._epoch_begin_callbacks = list(epoch_begin_callbacks)
        self._epoch_end_callbacks = list(epoch_end_callbacks)
        self._epoch = 0
        self._served = False  # whether next() returned a batch of this pass
        self._fresh = True  # no batch returned since construction or reset()
        self._closed = False
        data_source.reset()
        self._use_thread = bool(use_thread)
        self._pending = _Prefetch(self._read_batch) if self._use_thread else None

    @property
    def epoch(self):
        """Number of completed passes over the data."""
        return self._epoch

    @property
    def position(self):
        """Position in the current pass (after the prefetched batch when
        ``use_thread``)."""
        return self._data_source.position

    @property
    def size(self):
        """Number of samples in the data source."""
        return self._size

    @property
    def batch_size(self):
        """Samples per batch."""
        return self._batch_size

    @property
    def variables(self):
        """Names of the arrays in a batch."""
        return self._variables

    def register_epoch_begin_callback(self, callback):
        """Call ``callback(epoch)`` whenever an epoch starts."""
        self._epoch_begin_callbacks.append(callback)

    def register_epoch_end_callback(self, callback):
        """Call ``callback(epoch)`` whenever an epoch ends."""
        self._epoch_end_callbacks.append(callback)

    def _read_batch(self):
        """(batch, number of pass ends crossed), or None when exhausted."""
        source, size = self._data_source, self._size
        if self._stop_exhausted and source.position + self._batch_size > size:
            return None
        n = len(self._variables)
        columns = [[] for _ in range(n)]
        crossed = 0
        for _ in range(self._batch_size):
            sample = source.next()
            if sample is None:
                return None
            if source.position >= size and not self._stop_exhausted:
                crossed += 1
                source.reset()
            if len(sample) < n:
                raise ValueError(
                    f"DataIterator.next: {type(source).__name__} returned "
                    f"{len(sample)} values for the {n} variables {self._variables}")
            for column, value in zip(columns, sample):
                column.append(value)
        if crossed:
            source.apply_order()
        return tuple(self._stack(name, c) for name, c in zip(self._variables, columns)), \
            crossed

    @staticmethod
    def _stack(name, values):
        try:
            return np.array(values)
        except ValueError as e:
            shapes = sorted({str(np.shape(v)) for v in values})
            raise ValueError(f"DataIterator.next: the samples of variable {name!r} "
                             f"have different shapes {shapes}; every sample must "
                             f"have the same shape ({e})") from None

    def next(self):
        """Return the next mini-batch as a tuple of arrays."""
        if self._closed:
            raise RuntimeError("DataIterator.next: the iterator is closed")
        if self._use_thread and self._pending is not None:
            pending, self._pending = self._pending, None  # gone even if it raised
            got = pending.result()
        else:
            got = self._read_batch()
        if self._use_thread:
            self._pending = _Prefetch(self._read_batch)
        if got is None:
            raise StopIteration
        batch, crossed = got
        self._served = not crossed
        self._fresh = False
        for _ in range(crossed):
            self._fire(self._epoch_end_callbacks)
            self._epoch += 1
            self._fire(self._epoch_begin_callbacks)
        return batch

    __next__ = next

    def __iter__(self):
        return self

    def _fire(self, callbacks):
        for callback in callbacks:
            callback(self._epoch)

    def _settle(self):
        """Wait for a prefetched batch and put it back (the source position
        goes back to before it)."""
        if self._pending is not None:
            try:
                self._pending.result()
            finally:
                self._pending = None

    def reset(self):
        """Start the next pass now: the current epoch ends (its callbacks run
        if any sample of it was read), the sources start over from position 0
        and draw a new order. Nothing happens when no batch was returned since
        the iterator was made or last reset (it is at the start of a pass)."""
        if self._fresh:
            return
        self._fresh = True
        self._settle()
        if self._served:
            self._served = False
            self._fire(self._epoch_end_callbacks)
            self._epoch += 1
            self._fire(self._epoch_begin_callbacks)
        self._data_source.reset()
        self._data_source.apply_order()
        if self._use_thread:
            self._pending = _Prefetch(self._read_batch)

    def close(self):
        """Stop the prefetch thread and close the data source (removes
        temporary file caches)."""
        if not self._closed:
            try:
                self._settle()
            except Exception:  # closing must not fail on a batch nobody reads
                pass
            self._data_source.close()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def slice(self, rng, num_of_slices=None, slice_pos=None, slice_start=None,
              slice_end=None, cache_dir=None, use_cache=False, drop_last=False):
        """A new iterator over a contiguous part of the data, for one process
        of several.

        Give either ``num_of_slices`` and ``slice_pos`` (part ``slice_pos`` of
        ``num_of_slices``: ``ceil(size / n)`` samples each, the last part moved
        back to fit, so some samples are read twice; ``floor(size / n)`` with
        ``drop_last=True``), or ``slice_start`` and ``slice_end``. Otherwise a
        critical message is logged and ``None`` returned.

        The slice reads this iterator's source in its shuffled order of each
        pass, so the slices of all processes (built from sources seeded alike)
        split the same permutation. With ``use_cache`` the slice is kept in
        memory, written to a file cache first when ``cache_dir`` is given or a
        file cache lies under this iterator.
        """
        size = self._size
        if num_of_slices is not None and slice_pos is not None \
                and slice_start is None and slice_end is None:
            if isinstance(num_of_slices, bool) or not isinstance(
                    num_of_slices, (int, np.integer)) or num_of_slices <= 0:
                raise ValueError(f"DataIterator.slice: num_of_slices must be a positive "
                                 f"int, got {num_of_slices!r}")
            if not 0 <= slice_pos < num_of_slices:
                raise ValueError(f"DataIterator.slice: slice_pos must be in "
                                 f"[0, {num_of_slices}), got {slice_pos}")
            if drop_last:
                part = size // num_of_slices
                if part == 0:
                    raise ValueError(f"DataIterator.slice: {size} samples cannot "
                                     f"make {num_of_slices} slices with drop_last")
                slice_start = part * slice_pos
            else:
                part = math.ceil(size / num_of_slices)
                slice_start = (part * slice_pos) % size
                slice_start -= max(0, slice_start + part - size)
            slice_end = slice_start + part
        elif not (num_of_slices is None and slice_pos is None
                  and slice_start is not None and slice_end is not None):
            logger.critical("DataIterator.slice: give either num_of_slices and "
                            "slice_pos, or slice_start and slice_end")
            return None
        if cache_dir is None:
            ds = self._data_source
            while hasattr(ds, "_data_source"):
                cache_dir = getattr(ds, "_cache_dir", cache_dir)
                ds = ds._data_source
        ds = SlicedDataSource(self._data_source, self._data_source.shuffle,
                              slice_start=slice_start, slice_end=slice_end)
        if use_cache:
            if cache_dir is not None:
                ds = DataSourceWithFileCache(
                    ds, cache_dir=cache_dir,
                    cache_file_name_prefix=f"cache_sliced_{slice_start:08d}_{slice_end:08d}",
                    shuffle=self._shuffle, rng=rng)
            ds = DataSourceWithMemoryCache(ds, shuffle=self._shuffle, rng=rng)
        return DataIterator(ds, self._batch_size)


# ---------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------
def data_iterator(data_source, batch_size, rng=None, use_thread=True,
                  with_memory_cache=True, with_file_cache=False,
                  cache_dir=None, epoch_begin_callbacks=[],
                  epoch_end_callbacks=[], stop_exhausted=False):
    """A :class:`DataIterator` over ``data_source``, optionally behind a file
    cache (``with_file_cache``, in ``cache_dir`` or a temporary folder)
    and/or a memory cache (``with_memory_cache``); both caches shuffle with
    ``rng`` (``None``: each its own ``RandomState(313)``).

    The other factories build their source and call this without ``rng``, as
    NNabla's do: the source shuffles with the given generator, the caches
    with their own."""
    ds = data_source
    if with_file_cache:
        ds = DataSourceWithFileCache(ds, cache_dir=cache_dir,
                                     shuffle=ds.shuffle, rng=rng)
    if with_memory_cache:
        ds = DataSourceWithMemoryCache(ds, shuffle=ds.shuffle, rng=rng)
    return DataIterator(ds, batch_size, rng=rng, use_thread=use_thread,
                        epoch_begin_callbacks=epoch_begin_callbacks,
                        epoch_end_callbacks=epoch_end_callbacks,
                        stop_exhausted=stop_exhausted)


_FACTORY_OPTIONS = ("use_thread", "with_memory_cache", "with_file_cache", "cache_dir",
                    "epoch_begin_callbacks", "epoch_end_callbacks", "stop_exhausted")


def _over(source, batch_size, options):
    """``data_iterator(source, batch_size, ...)`` with the options a factory
    took (its ``locals()``; those it lacks keep data_iterator's defaults, and
    no ``rng``: the source shuffles with it, the caches with their own)."""
    return data_iterator(source, batch_size,
                         **{k: options[k] for k in _FACTORY_OPTIONS if k in options})


def data_iterator_simple(load_func, num_examples, batch_size, shuffle=False,
                         rng=None, use_thread=True, with_memory_cache=False,
                         with_file_cache=False, cache_dir=None,
                         epoch_begin_callbacks=[], epoch_end_callbacks=[],
                         stop_exhausted=False):
    """Mini-batches of samples made by ``load_func(index)``, for
    ``index`` in ``range(num_examples)``.

    ``load_func`` returns a tuple of per-sample values (variables are named
    ``x0, x1, ...``); every call must give values of the same shapes.
    """
    source = SimpleDataSource(load_func, num_examples, shuffle=shuffle, rng=rng)
    return _over(source, batch_size, locals())


def data_iterator_csv_dataset(uri, batch_size, shuffle=False, rng=None,
                              use_thread=True, normalize=True,
                              with_memory_cache=True, with_file_cache=True,
                              cache_dir=None, epoch_begin_callbacks=[],
                              epoch_end_callbacks=[], stop_exhausted=False):
    """Mini-batches of the dataset described by the CSV file ``uri`` (see
    :class:`~nablite.utils.data_source_implements.CsvDataSource`): a path,
    ``file://`` or ``http(s)://`` URL."""
    source = CsvDataSource(uri, shuffle=shuffle, rng=rng, normalize=normalize)
    return _over(source, batch_size, locals())


def data_iterator_cache(uri, batch_size, shuffle=False, rng=None,
                        use_thread=True, normalize=True,
                        with_memory_cache=True, epoch_begin_callbacks=[],
                        epoch_end_callbacks=[], stop_exhausted=False):
    """Mini-batches read from a cache directory written by a file cache."""
    source = CacheDataSource(uri, shuffle=shuffle, rng=rng, normalize=normalize)
    return _over(source, batch_size, locals())


def data_iterator_concat_datasets(data_source_list, batch_size, shuffle=False,
                                  rng=None, use_thread=True,
                                  with_memory_cache=True,
                                  with_file_cache=False, cache_dir=None,
                                  epoch_begin_callbacks=[],
                                  epoch_end_callbacks=[], stop_exhausted=False):
    """Mini-batches over several data sources joined end to end."""
    source = ConcatDataSource(data_source_list, shuffle=shuffle, rng=rng)
    return _over(source, batch_size, locals())
