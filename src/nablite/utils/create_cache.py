"""NNabla's ``nnabla.utils.create_cache``: :class:`CreateCache` turns a CSV data
set into a cache folder (what ``nnabla_cli conv_dataset`` does), which
``data_iterator_cache`` in either library reads."""
import os

from .data_source import DataSourceWithFileCache, write_cache_folder
from .data_source_implements import CsvDataSource
from .data_source_loader import FileReader  # noqa: F401 (NNabla's name here)

__all__ = ["CreateCache"]


class CreateCache(CsvDataSource):
    """A CSV data set (see
    :class:`~nablite.utils.data_source_implements.CsvDataSource`) to be
    written as a cache folder by :meth:`create`.

    Args:
        input_csv_filename (str): The CSV file.
        rng (None or :obj:`numpy.random.RandomState`): Generator for the
            order (``RandomState(313)`` when None).
        shuffle (bool): Write the rows in a permutation drawn from ``rng``
            (once, here), as NNabla's.
        num_of_threads (None or int): Threads that load the files of a chunk
            (None or 0, as NNabla takes it: ``DataSourceWithFileCache.num_of_threads``).

    The chunk size and file format are
    ``DataSourceWithFileCache.cache_size`` (100) and ``.cache_file_format``
    (``'.npy'``), NNabla's configuration defaults.
    """

    def __init__(self, input_csv_filename, rng=None, shuffle=False, num_of_threads=None):
        super().__init__(input_csv_filename, shuffle=shuffle, rng=rng)
        if num_of_threads is not None and (isinstance(num_of_threads, bool) or not
                                           isinstance(num_of_threads, int)
                                           or num_of_threads < 0):
            raise ValueError(f"CreateCache: num_of_threads must be an int >= 0 or None, "
                             f"got {num_of_threads!r}")
        self._num_of_threads = num_of_threads or DataSourceWithFileCache.num_of_threads

    def create(self, output_cache_dirname, normalize=True, cache_file_name_prefix="cache"):
        """Write the cache folder ``output_cache_dirname`` (created if
        missing): chunk files, ``cache_index.csv``, ``cache_info.csv``,
        ``original.csv`` and ``order.csv``, byte for byte as NNabla's
        ``CreateCache`` for the same CSV and generator.

        Args:
            output_cache_dirname (str): The folder to write.
            normalize (bool): Images as float64 in [0, 1] (else uint8).
            cache_file_name_prefix (str): Start of the chunk file names.
        """
        if not isinstance(output_cache_dirname, (str, os.PathLike)):
            raise TypeError(f"CreateCache.create: output_cache_dirname must be a "
                            f"folder name, got {type(output_cache_dirname).__name__}")
        fmt = DataSourceWithFileCache.cache_file_format
        if fmt not in (".npy", ".h5"):
            raise ValueError("CreateCache.create: DataSourceWithFileCache.cache_file_format "
                             f"must be '.npy' or '.h5', got {fmt!r}")
        folder = os.fspath(output_cache_dirname)
        os.makedirs(folder, exist_ok=True)
        self._normalize = normalize
        write_cache_folder(folder, self, cache_file_name_prefix, fmt,
                           DataSourceWithFileCache.cache_size, self._num_of_threads,
                           "CreateCache.create")
