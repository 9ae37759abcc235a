"""Bad arguments to the data layer: each error is raised by the public name
the user called (or the reader it names), says what was given and what was
expected, and is never a raw AttributeError / NumPy traceback."""
import numpy as np
import pytest

import nablite.datasets as D
from nablite.utils import data_iterator as DI
from nablite.utils import data_source_loader as L
from nablite.utils import image_utils as iu
from nablite.utils.data_source import DataSourceWithMemoryCache, SlicedDataSource
from nablite.utils.data_source_implements import (CacheDataSource, ConcatDataSource,
                                                  CsvDataSource, SimpleDataSource)


def _simple():
    return SimpleDataSource(lambda i: (i,), 4)


CASES = [
    (lambda: iu.imread(None), TypeError, "imread: path must be a file name"),
    (lambda: iu.imread("/nonexistent.png"), FileNotFoundError, "imread: no image file"),
    (lambda: iu.imresize(np.zeros((4, 4), np.uint8), (100000, 100000)), ValueError,
     "imresize: size=.* more than the limit"),
    (lambda: iu.imresize(np.zeros((4, 4), np.uint8), (0, 3)), ValueError,
     "imresize: size must be positive"),
    (lambda: iu.imresize(None, (3, 3)), TypeError, "imresize: img must be a numpy.ndarray"),
    (lambda: iu.imsave("x.png", np.zeros((2, 2), complex)), TypeError,
     "imsave: img must hold real numbers, got dtype complex128"),
    (lambda: iu.imsave("x.qqq", np.zeros((2, 2), np.uint8)), ValueError,
     "imsave: cannot tell the image format"),
    (lambda: iu.set_backend(None), ValueError, "set_backend: backend must be one of"),
    (lambda: L.load_csv(None), TypeError, "load_csv: file must be a path"),
    (lambda: L.load_npy(None), TypeError, "load_npy: path must be a path"),
    (lambda: L.load(None), ValueError, "load: no loader for the file extension None"),
    (lambda: L.download(None), TypeError, "download: url must be a str"),
    (lambda: L.FileReader(None), TypeError, "FileReader: base_uri must be a path or URL"),
    (lambda: DI.data_iterator_simple(lambda i: (i,), "x", 2), ValueError,
     "SimpleDataSource: num_examples must be a positive int, got 'x'"),
    (lambda: DI.data_iterator_simple(lambda i: 5, 3, 2), TypeError,
     "SimpleDataSource: load_func\\(0\\) must return a tuple"),
    (lambda: DI.data_iterator_simple(lambda i: (i,), 3, 2.5), ValueError,
     "DataIterator: batch_size must be a positive int, got 2.5"),
    (lambda: CsvDataSource(None), TypeError, "CsvDataSource: filename must be a path"),
    (lambda: CsvDataSource("/"), FileNotFoundError, "FileReader: '/' is not a file"),
    (lambda: CacheDataSource(None), TypeError, "CacheDataSource: the cache folder must be"),
    (lambda: ConcatDataSource(None), TypeError, "ConcatDataSource: data_source_list must be"),
    (lambda: ConcatDataSource([_simple(), 2]), TypeError,
     r"ConcatDataSource: data_source_list\[1\] must be a DataSource, got int"),
    (lambda: SlicedDataSource(_simple(), slice_start="a", slice_end=2), TypeError,
     "SlicedDataSource: slice_start must be an int"),
    (lambda: SlicedDataSource(None, slice_start=0, slice_end=2), TypeError,
     "SlicedDataSource: data_source must be a DataSource"),
    (lambda: DataSourceWithMemoryCache(None), TypeError,
     "DataSourceWithMemoryCache: data_source must be a DataSource"),
    (lambda: DI.DataIterator(None, 2), TypeError, "DataIterator: data_source must be"),
    (lambda: DI.DataIterator(_simple(), 2).slice(None, 0, 0), ValueError,
     "DataIterator.slice: num_of_slices must be a positive int"),
    (lambda: DI.DataIterator(_simple(), 2).slice(None, 2, 5), ValueError,
     r"DataIterator.slice: slice_pos must be in \[0, 2\), got 5"),
    (lambda: D.load_mnist(path=5), TypeError, "load_mnist: path must be a folder name"),
    (lambda: D.load_cifar10(path=5), TypeError, "load_cifar10: path must be an archive"),
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_bad_argument_is_named(k, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call, error, match = CASES[k]
    with pytest.raises(error, match="^" + match):
        call()
