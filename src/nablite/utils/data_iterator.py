"""Mini-batch iterators over data sources.

:class:`DataIterator` takes samples one by one from a
:class:`~nablite.utils.data_source.DataSource` and stacks them into a tuple of
NumPy arrays, one per variable. It never stops on its own: a batch that runs
past the end of the data continues with the start of the next pass (which is
reshuffled when the source shuffles), and ``epoch`` counts the passes done.

nablite reads batches in the calling thread: the ``use_thread`` arguments
are accepted for compatibility and ignored, so ``position`` is always the
position of the next sample to be read.
"""
import math

import numpy as np

from ..logger import logger
from .data_source import (CacheDataSource, ConcatDataSource, CsvDataSource,
                          DataSourceWithFileCache, DataSourceWithMemoryCache,
                          SimpleDataSource, SlicedDataSource)

__all__ = [
    "DataIterator", "data_iterator", "data_iterator_simple",
    "data_iterator_csv_dataset", "data_iterator_cache",
    "data_iterator_concat_datasets",
]


class DataIterator:
    """Yields mini-batches from a data source.

    Args:
        data_source (DataSource): Where samples come from.
        batch_size (int): Samples per batch.
        rng (None or :obj:`numpy.random.RandomState`): Kept for slicing;
            ``None`` gives ``RandomState(313)``.
        use_thread (bool): Accepted and ignored (batches are read in the
            calling thread).
        epoch_begin_callbacks (list of callables): Called with the epoch
            index when an epoch starts (epoch 0 at construction).
        epoch_end_callbacks (list of callables): Called with the epoch index
            when an epoch ends.
        stop_exhausted (bool): Iterate over one epoch only: when fewer than
            ``batch_size`` samples are left, the epoch is closed and
            ``StopIteration`` is raised (the next call starts a new epoch).

    ``next()`` returns a tuple with one array per variable of shape
    ``(batch_size, *sample_shape)``.
    """

    def __init__(self, data_source, batch_size, rng=None, use_thread=True,
                 epoch_begin_callbacks=[], epoch_end_callbacks=[],
                 stop_exhausted=False):
        logger.info("Using DataIterator")
        if isinstance(batch_size, bool) or int(batch_size) != batch_size \
                or batch_size <= 0:
            raise ValueError(f"DataIterator: batch_size must be a positive "
                             f"int, got {batch_size!r}")
        if data_source.size <= 0:
            raise ValueError(f"DataIterator: data_source "
                             f"{type(data_source).__name__} holds no samples")
        self._data_source = data_source
        self._batch_size = int(batch_size)
        self._rng = np.random.RandomState(313) if rng is None else rng
        self._use_thread = use_thread
        self._stop_exhausted = bool(stop_exhausted)
        self._epoch_begin_callbacks = list(epoch_begin_callbacks)
        self._epoch_end_callbacks = list(epoch_end_callbacks)
        self._shuffle = data_source.shuffle
        self._closed = False
        self._epoch = 0
        data_source.reset()
        self._fire(self._epoch_begin_callbacks, 0)

    # -- properties ---------------------------------------------------------
    @property
    def epoch(self):
        """Number of completed passes over the data."""
        return self._epoch

    @property
    def position(self):
        """Position of the next sample in the current pass."""
        return self._data_source.position

    @property
    def size(self):
        """Number of samples in the data source."""
        return self._data_source.size

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def variables(self):
        """Names of the arrays in a batch."""
        return self._data_source.variables

    # -- epochs -------------------------------------------------------------
    @staticmethod
    def _fire(callbacks, epoch):
        for callback in callbacks:
            callback(epoch)

    def _new_epoch(self):
        self._fire(self._epoch_end_callbacks, self._epoch)
        self._epoch += 1
        self._data_source.reset()
        self._fire(self._epoch_begin_callbacks, self._epoch)

    def register_epoch_begin_callback(self, callback):
        """Call ``callback(epoch)`` whenever an epoch starts."""
        self._epoch_begin_callbacks.append(callback)

    def register_epoch_end_callback(self, callback):
        """Call ``callback(epoch)`` whenever an epoch ends."""
        self._epoch_end_callbacks.append(callback)

    # -- batches ------------------------------------------------------------
    def next(self):
        """Return the next mini-batch as a tuple of arrays."""
        if self._closed:
            raise RuntimeError("DataIterator.next: the iterator is closed")
        source, size = self._data_source, self._data_source.size
        if self._stop_exhausted and source.position + self._batch_size > size:
            self._new_epoch()
            raise StopIteration
        columns = None
        for _ in range(self._batch_size):
            sample = source.next()
            if columns is None:
                columns = [[] for _ in sample]
            for column, value in zip(columns, sample):
                column.append(value)
            if source.position >= size and not self._stop_exhausted:
                self._new_epoch()
        return tuple(np.array(c) for c in columns)

    __next__ = next

    def __iter__(self):
        return self

    # -- life cycle ---------------------------------------------------------
    def close(self):
        """Close the data source (removes temporary file caches)."""
        if not self._closed:
            self._data_source.close()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- slicing ------------------------------------------------------------
    def slice(self, rng, num_of_slices=None, slice_pos=None, slice_start=None,
              slice_end=None, cache_dir=None, use_cache=False, drop_last=False):
        """A new iterator over a contiguous part of the data.

        Give either ``num_of_slices`` and ``slice_pos`` (part ``slice_pos`` of
        ``num_of_slices`` equal parts: ``ceil(size / n)`` samples each, the
        last one moved back to fit, or ``floor(size / n)`` with
        ``drop_last=True``), or ``slice_start`` and ``slice_end``.
        Otherwise a critical message is logged and ``None`` returned.
        With ``cache_dir`` (or ``use_cache`` and a file cache below this
        iterator) the slice is also written to a file cache.
        """
        size = self.size
        if num_of_slices is not None and slice_pos is not None \
                and slice_start is None and slice_end is None:
            if not 0 <= slice_pos < num_of_slices:
                raise ValueError(f"DataIterator.slice: slice_pos must be in "
                                 f"[0, {num_of_slices}), got {slice_pos}")
            if drop_last:
                part = size // num_of_slices
                if part == 0:
                    raise ValueError(f"DataIterator.slice: {size} samples "
                                     f"cannot make {num_of_slices} slices")
                slice_start = part * slice_pos
            else:
                part = math.ceil(size / num_of_slices)
                slice_start = (part * slice_pos) % size
                if slice_start + part > size:
                    slice_start = size - part
            slice_end = slice_start + part
        elif num_of_slices is None and slice_pos is None \
                and slice_start is not None and slice_end is not None:
            pass
        else:
            logger.critical("DataIterator.slice: give either num_of_slices and "
                            "slice_pos, or slice_start and slice_end")
            return None

        if cache_dir is None and use_cache:
            ds = self._data_source
            while ds is not None:
                cache_dir = cache_dir or getattr(ds, "_cache_dir", None)
                ds = getattr(ds, "_data_source", None)
        ds = SlicedDataSource(self._data_source, self._data_source.shuffle,
                              slice_start=slice_start, slice_end=slice_end)
        if cache_dir is not None:
            ds = DataSourceWithFileCache(
                ds, cache_dir=cache_dir,
                cache_file_name_prefix=f"cache_sliced_{slice_start:08d}_{slice_end:08d}",
                shuffle=self._shuffle, rng=rng)
        ds = DataSourceWithMemoryCache(ds, shuffle=self._shuffle, rng=rng)
        return DataIterator(ds, self._batch_size, rng=rng,
                            use_thread=self._use_thread,
                            stop_exhausted=self._stop_exhausted)


# ---------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------
def data_iterator(data_source, batch_size, rng=None, use_thread=True,
                  with_memory_cache=True, with_file_cache=False,
                  cache_dir=None, epoch_begin_callbacks=[],
                  epoch_end_callbacks=[], stop_exhausted=False):
    """A :class:`DataIterator` over ``data_source``, optionally behind a file
    cache (``with_file_cache``, in ``cache_dir`` or a temporary directory)
    and/or a memory cache (``with_memory_cache``)."""
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
    return data_iterator(source, batch_size, rng=rng, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache, cache_dir=cache_dir,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)


def data_iterator_csv_dataset(uri, batch_size, shuffle=False, rng=None,
                              use_thread=True, normalize=True,
                              with_memory_cache=True, with_file_cache=True,
                              cache_dir=None, epoch_begin_callbacks=[],
                              epoch_end_callbacks=[], stop_exhausted=False):
    """Mini-batches of the dataset described by the CSV file ``uri`` (see
    :class:`~nablite.utils.data_source.CsvDataSource`). Only local files are
    supported."""
    source = CsvDataSource(uri, shuffle=shuffle, rng=rng, normalize=normalize)
    return data_iterator(source, batch_size, rng=rng, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache, cache_dir=cache_dir,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)


def data_iterator_cache(uri, batch_size, shuffle=False, rng=None,
                        use_thread=True, normalize=True,
                        with_memory_cache=True, epoch_begin_callbacks=[],
                        epoch_end_callbacks=[], stop_exhausted=False):
    """Mini-batches read from a cache directory written by a file cache."""
    source = CacheDataSource(uri, shuffle=shuffle, rng=rng, normalize=normalize)
    return data_iterator(source, batch_size, rng=rng, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=False,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)


def data_iterator_concat_datasets(data_source_list, batch_size, shuffle=False,
                                  rng=None, use_thread=True,
                                  with_memory_cache=True,
                                  with_file_cache=False, cache_dir=None,
                                  epoch_begin_callbacks=[],
                                  epoch_end_callbacks=[], stop_exhausted=False):
    """Mini-batches over several data sources joined end to end."""
    source = ConcatDataSource(data_source_list, shuffle=shuffle, rng=rng)
    return data_iterator(source, batch_size, rng=rng, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache, cache_dir=cache_dir,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)
