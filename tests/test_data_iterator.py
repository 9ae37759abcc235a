import logging
import os

import numpy as np
import pytest

from nablite.utils.data_iterator import (
    DataIterator, data_iterator, data_iterator_cache,
    data_iterator_concat_datasets, data_iterator_csv_dataset,
    data_iterator_simple)
from nablite.utils.data_source import (
    DataSource, DataSourceWithFileCache, DataSourceWithMemoryCache,
    SlicedDataSource)
from nablite.utils.data_source_implements import (
    CacheDataSource, ConcatDataSource, CsvDataSource, SimpleDataSource)


def _ints(i):
    return (np.float32(i) * np.ones((2,), np.float32), i)


def _di(size=10, batch=4, **kw):
    kw.setdefault("use_thread", False)
    return data_iterator_simple(_ints, size, batch, **kw)


def _first_col(batch):
    return batch[1].tolist()


# --- DataIterator basics ------------------------------------------------------
def test_wraparound_epoch_and_position():
    di = _di()
    assert di.size == 10 and di.batch_size == 4 and di.epoch == 0
    got = []
    for _ in range(4):
        x, y = di.next()
        got.append((y.tolist(), di.epoch, di.position))
    assert got == [([0, 1, 2, 3], 0, 4), ([4, 5, 6, 7], 0, 8),
                   ([8, 9, 0, 1], 1, 2), ([2, 3, 4, 5], 1, 6)]


def test_batch_exactly_at_end_counts_epoch():
    di = _di(size=8, batch=4)
    di.next()
    assert di.epoch == 0
    di.next()
    assert di.epoch == 1 and di.position == 0
    assert _first_col(di.next()) == [0, 1, 2, 3]


def test_dtypes_and_shapes():
    x, y = _di().next()
    assert x.dtype == np.float32 and x.shape == (4, 2)
    assert y.dtype == np.int64 and y.shape == (4,)
    np.testing.assert_array_equal(x[:, 0], [0, 1, 2, 3])


def test_variables_list_and_sequence_return():
    assert _di().variables == ["x0", "x1"]
    di = data_iterator_simple(lambda i: np.arange(3) + i, 5, 2)
    assert di.variables == ["x0", "x1", "x2"]
    a, b, c = di.next()
    assert a.tolist() == [0, 1] and c.tolist() == [2, 3]


def test_shuffle_permutes_each_epoch_and_is_reproducible():
    def epochs(di, n):
        return [np.concatenate([di.next()[1] for _ in range(2)]) for _ in range(n)]
    a = epochs(_di(size=10, batch=5, shuffle=True), 3)
    b = epochs(_di(size=10, batch=5, shuffle=True), 3)
    for e in a:
        assert sorted(e.tolist()) == list(range(10))
    assert any(e.tolist() != list(range(10)) for e in a)
    assert a[0].tolist() != a[1].tolist()
    for x, y in zip(a, b):  # default rng is RandomState(313) both times
        np.testing.assert_array_equal(x, y)
    c = epochs(_di(size=10, batch=5, shuffle=True,
                   rng=np.random.RandomState(1)), 1)
    assert c[0].tolist() != a[0].tolist()


def test_callbacks():
    log = []
    di = _di(size=6, batch=4,
             epoch_begin_callbacks=[lambda e: log.append(("begin", e))],
             epoch_end_callbacks=[lambda e: log.append(("end", e))])
    di.register_epoch_end_callback(lambda e: log.append(("end2", e)))
    assert log == []  # NNabla calls no begin callback for epoch 0
    di.next()
    assert log == []
    di.next()  # crosses the end
    assert log == [("end", 0), ("end2", 0), ("begin", 1)]


def test_stop_exhausted():
    di = _di(size=10, batch=3, stop_exhausted=True)
    batches = [b[1].tolist() for b in di]
    assert batches == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert di.epoch == 0 and list(di) == []  # stays exhausted, as NNabla
    log = []
    di.register_epoch_end_callback(lambda e: log.append(e))
    di.reset()  # nablite: start the next pass explicitly
    assert log == [0] and di.epoch == 1
    assert [b[1].tolist() for b in di] == batches
    di2 = _di(size=10, batch=5, stop_exhausted=True, use_thread=True)
    assert len(list(di2)) == 2 and len(list(di2)) == 0
    di2.reset()
    assert len(list(di2)) == 2


@pytest.mark.parametrize("thread", [False, True])
def test_reset_mid_epoch(thread):
    """reset() after part of a pass ends that epoch (callbacks run once, in
    NNabla's end-then-begin order), and the next batch opens a new shuffled
    pass from position 0; a reset with nothing read since runs no callbacks."""
    log = []
    di = _di(size=10, batch=4, shuffle=True, rng=np.random.RandomState(5), use_thread=thread,
             epoch_begin_callbacks=[lambda e: log.append(("begin", e))],
             epoch_end_callbacks=[lambda e: log.append(("end", e))])
    rng = np.random.RandomState(5)
    first, second = rng.permutation(10), rng.permutation(10)
    assert _first_col(di.next()) == first[:4].tolist()
    di.reset()
    assert log == [("end", 0), ("begin", 1)] and di.epoch == 1
    di.reset()
    assert log == [("end", 0), ("begin", 1)] and di.epoch == 1
    assert _first_col(di.next()) == second[:4].tolist()
    assert di.position == (8 if thread else 4)  # after the prefetched batch, as NNabla
    di.close()


def test_context_manager_closes_file_cache(tmp_path):
    with _di(with_file_cache=True) as di:
        cache = di._data_source._cache_dir
        assert os.path.isdir(cache)
        assert _first_col(di.next()) == [0, 1, 2, 3]
    assert not os.path.exists(cache)
    with pytest.raises(RuntimeError, match="closed"):
        di.next()


def test_data_iterator_class_directly():
    di = DataIterator(SimpleDataSource(lambda i: (i, -i), 5), 2,
                      use_thread=False)
    assert di.variables == ["x0", "x1"] and di.size == 5
    a, b = di.next()
    assert a.tolist() == [0, 1] and b.tolist() == [0, -1]
    assert [x.tolist() for x in next(iter(di))] == [[2, 3], [-2, -3]]


def test_bad_batch_size():
    with pytest.raises(ValueError, match="DataIterator: batch_size"):
        _di(batch=0)


# --- slice --------------------------------------------------------------------
def _all_values(di):
    return sorted(np.concatenate([di.next()[1] for _ in range(di.size)]).tolist()[:di.size])


def test_slice_by_position():
    di = _di(size=10, batch=2)
    parts = [di.slice(None, num_of_slices=3, slice_pos=p) for p in range(3)]
    assert [p.size for p in parts] == [4, 4, 4]
    assert [_all_values(p) for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
    drop = [di.slice(None, num_of_slices=3, slice_pos=p, drop_last=True) for p in range(3)]
    assert [_all_values(p) for p in drop] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_slice_by_range_and_invalid():
    di = _di(size=10, batch=2)
    part = di.slice(None, slice_start=3, slice_end=7)
    assert part.size == 4 and _first_col(part.next()) == [3, 4]
    assert di.slice(None, num_of_slices=2) is None


def test_slice_with_cache_dir(tmp_path):
    di = _di(size=10, batch=2)
    part = di.slice(None, slice_start=2, slice_end=6, cache_dir=str(tmp_path),
                    use_cache=True)
    assert _first_col(part.next()) == [2, 3]
    assert any(f.startswith("cache_sliced_00000002_00000006") for f in os.listdir(tmp_path))


# --- caches -------------------------------------------------------------------
def test_memory_cache_loads_each_sample_once():
    calls = []

    def load(i):
        calls.append(i)
        return (np.array([i]),)
    di = data_iterator_simple(load, 5, 2, with_memory_cache=True, use_thread=False)
    calls.clear()
    for _ in range(10):
        di.next()
    assert sorted(calls) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("fmt", [".npy", ".h5"])
def test_file_cache_roundtrip(tmp_path, monkeypatch, fmt):
    if fmt == ".h5":
        pytest.importorskip("h5py")
    monkeypatch.setattr(DataSourceWithFileCache, "cache_file_format", fmt)
    monkeypatch.setattr(DataSourceWithFileCache, "cache_size", 3)
    src = SimpleDataSource(lambda i: (np.full((2, 2), i, np.uint8), np.int32(i)), 7)
    fc = DataSourceWithFileCache(src, cache_dir=str(tmp_path))
    names = sorted(os.listdir(tmp_path))
    assert "cache_index.csv" in names
    assert ("cache_info.csv" in names) == (fmt == ".npy")  # .h5 chunks name their datasets
    assert f"cache_00000000_00000002{fmt}" in names and f"cache_00000006_00000006{fmt}" in names
    assert fc.size == 7
    got = [fc.next() for _ in range(7)]
    assert [int(g[1]) for g in got] == list(range(7))
    fc.close()
    assert os.path.isdir(tmp_path)  # a given cache_dir is kept
    di = data_iterator_cache(str(tmp_path), 7, normalize=True)
    x, y = di.next()
    assert x.dtype == np.float32 and x.shape == (7, 2, 2)
    np.testing.assert_allclose(x[:, 0, 0], np.arange(7) / 255.0, rtol=1e-6)
    assert y.dtype == np.float32 and y.tolist() == list(range(7))  # non-arrays become float32
    raw = CacheDataSource(str(tmp_path))
    assert raw.variables == ["x0", "x1"] and raw.next()[0].dtype == np.uint8


def test_cache_source_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="CacheDataSource"):
        CacheDataSource(str(tmp_path))


# --- sources ------------------------------------------------------------------
class _UserSource(DataSource):
    """A DataSource written the way NNabla examples write them."""

    def __init__(self, n, shuffle=False, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        self._data = np.arange(n) * 10
        self._size = n
        self._variables = ("x",)
        self.reset()

    def _get_data(self, position):
        return (self._data[self._indexes[position]],)

    def reset(self):
        self._indexes = self._rng.permutation(self._size) if self._shuffle \
            else np.arange(self._size)
        super().reset()


def test_user_data_source_with_data_iterator():
    di = data_iterator(_UserSource(5), 3)
    assert di.variables == ("x",)
    assert di.next()[0].tolist() == [0, 10, 20]
    assert di.next()[0].tolist() == [30, 40, 0]
    assert di.epoch == 1
    di2 = data_iterator(_UserSource(5, shuffle=True), 5, with_memory_cache=False)
    assert sorted(di2.next()[0].tolist()) == [0, 10, 20, 30, 40]


def test_base_data_source_protocol():
    ds = DataSource()
    assert ds.size == 0 and ds.position == 0 and ds.shuffle is False
    with pytest.raises(NotImplementedError, match="_get_data"):
        ds.next()
    s = SimpleDataSource(lambda i: (i,), 4, shuffle=True, rng=np.random.RandomState(0))
    want = np.random.RandomState(0).permutation(4).tolist()
    first = [s.next()[0] for _ in range(4)]
    assert first == want and s.position == 4
    s.reset()
    assert s.position == 0 and [s.next()[0] for _ in range(4)] == want
    s.shuffle = False
    s.apply_order()  # a new pass order is drawn only here, as NNabla
    s.reset()
    assert [s.next()[0] for _ in range(4)] == [0, 1, 2, 3]


def test_sliced_and_memory_sources():
    base = SimpleDataSource(lambda i: (i,), 10)
    sl = SlicedDataSource(base, slice_start=2, slice_end=5)
    assert sl.size == 3 and [sl.next()[0] for _ in range(3)] == [2, 3, 4]
    with pytest.raises(ValueError, match="SlicedDataSource"):
        SlicedDataSource(base, slice_start=5, slice_end=20)
    mc = DataSourceWithMemoryCache(base, shuffle=True)
    assert sorted(mc.next()[0] for _ in range(10)) == list(range(10))


def test_concat():
    a = SimpleDataSource(lambda i: (i,), 3)
    b = SimpleDataSource(lambda i: (100 + i,), 2)
    cat = ConcatDataSource([a, b], shuffle=False)
    assert cat.size == 5
    assert [cat.next()[0] for _ in range(5)] == [0, 1, 2, 100, 101]
    di = data_iterator_concat_datasets([SimpleDataSource(lambda i: (i,), 3),
                                        SimpleDataSource(lambda i: (100 + i,), 2)],
                                       5, shuffle=True)
    assert sorted(di.next()[0].tolist()) == [0, 1, 2, 100, 101]
    c = SimpleDataSource(lambda i: (i, i), 2)
    with pytest.raises(ValueError, match=r"data_source_list\[1\]"):
        ConcatDataSource([a, c])


def test_csv_dataset(tmp_path):
    np.save(tmp_path / "v0.npy", np.array([1.0, 2.0], np.float32))
    np.save(tmp_path / "v1.npy", np.array([3.0, 4.0], np.float32))
    (tmp_path / "d.csv").write_text(
        "x__0:a,x__1:b,#comment,y:label,f\n"
        "1.5,2.5,ignored,0,v0.npy\n"
        "3.5,4.5,ignored,1,v1.npy\n")
    src = CsvDataSource(str(tmp_path / "d.csv"))
    assert src.variables == ("x", "y", "f") and src.size == 2
    di = data_iterator_csv_dataset(str(tmp_path / "d.csv"), 2,
                                   with_file_cache=False)
    x, y, f = di.next()  # numbers are float64 without a file cache, as NNabla
    assert x.dtype == np.float64 and x.tolist() == [[1.5, 2.5], [3.5, 4.5]]
    assert y.shape == (2, 1) and y.tolist() == [[0.0], [1.0]]
    assert f.tolist() == [[1, 2], [3, 4]]


def test_csv_dataset_images_and_file_cache(tmp_path):
    pytest.importorskip("PIL")
    from nablite.utils.image_utils import imsave
    imsave(str(tmp_path / "a.png"), np.full((3, 4), 255, np.uint8))
    imsave(str(tmp_path / "b.png"), np.zeros((3, 4), np.uint8))
    (tmp_path / "d.csv").write_text("x:image,y\na.png,1\nb.png,0\n")
    di = data_iterator_csv_dataset(str(tmp_path / "d.csv"), 2)  # file cache on
    x, y = di.next()
    assert x.shape == (2, 1, 3, 4) and x.dtype == np.float64  # NNabla's dtypes
    assert y.dtype == np.float32
    np.testing.assert_allclose(x[0], 1.0)
    np.testing.assert_allclose(x[1], 0.0)
    di.close()
    raw = CsvDataSource(str(tmp_path / "d.csv"), normalize=False)
    assert raw.next()[0].dtype == np.uint8


def test_csv_missing_file(tmp_path):
    (tmp_path / "d.csv").write_text("x\nnothere.npy\n")
    with pytest.raises(FileNotFoundError, match="nothere.npy"):
        CsvDataSource(str(tmp_path / "d.csv")).next()


def test_logs_info(caplog):
    caplog.set_level(logging.INFO, logger="nablite")
    _di(with_memory_cache=True)
    text = caplog.text
    assert "DataSource with shuffle(False)" in text
    assert "Using DataSourceWithMemoryCache" in text and "Using DataIterator" in text


# --- the prefetch thread ----------------------------------------------------------
def test_prefetch_gives_the_same_batches():
    def run(use_thread):
        di = _di(size=10, batch=4, shuffle=True, rng=np.random.RandomState(2),
                 use_thread=use_thread, with_memory_cache=True)
        out = [(_first_col(di.next()), di.epoch) for _ in range(7)]
        di.close()
        return out
    assert run(False) == run(True)


def test_prefetch_reads_while_the_caller_works():
    import threading
    asked = threading.Event()
    main = threading.get_ident()
    reader = {}

    def load(i):
        reader[i] = threading.get_ident()
        if i == 4:
            asked.set()
        return (i,)
    di = data_iterator_simple(load, 8, 4, use_thread=True)
    assert di.next()[0].tolist() == [0, 1, 2, 3]
    # nobody calls next(): the next batch is being read in the background
    assert asked.wait(10)
    assert reader[4] != main and reader[7] != main
    assert di.next()[0].tolist() == [4, 5, 6, 7]
    di.close()


def test_prefetch_errors_reach_the_caller():
    failures = [6]

    def load(i):
        if i in failures:
            failures.remove(i)
            raise OSError("disk gone at sample 6")
        return (i,)
    di = data_iterator_simple(load, 10, 3, use_thread=True)
    assert di.next()[0].tolist() == [0, 1, 2]
    assert di.next()[0].tolist() == [3, 4, 5]
    with pytest.raises(OSError, match="disk gone at sample 6"):
        di.next()
    assert di.next()[0].tolist() == [6, 7, 8]  # goes on once the read succeeds
    di.close()


def test_ragged_samples_named():
    di = data_iterator_simple(lambda i: (np.zeros(i % 2 + 1),), 4, 2, use_thread=False)
    with pytest.raises(ValueError, match="variable 'x0' have different shapes"):
        di.next()


def test_csv_errors_name_the_row_and_file(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,2\nweird.xyz,3\n")
    src = CsvDataSource(str(tmp_path / "d.csv"))
    src.next()
    with pytest.raises(ValueError, match=r"CsvDataSource: data row 2 of .*d.csv: load: no "
                                         r"loader for the file extension '.xyz'"):
        src.next()
    (tmp_path / "e.csv").write_text("x,y\n1,2\n3\n")
    with pytest.raises(ValueError, match="line 3 of .*e.csv' has 1 cells, the header has 2"):
        CsvDataSource(str(tmp_path / "e.csv"))


def test_source_without_variables_is_named():
    class NoVars(DataSource):
        def __init__(self):
            super().__init__()
            self._size = 3

        def _get_data(self, position):
            return (position,)
    with pytest.raises(ValueError, match="NoVars.variables must be a tuple or list"):
        DataIterator(NoVars(), 2)


def test_memory_cache_passes_large_sources_through(monkeypatch):
    monkeypatch.setattr(DataSourceWithMemoryCache, "buffer_max_size", 10)
    calls = []

    def load(i):
        calls.append(i)
        return (np.full(4, i, np.float32),)
    di = data_iterator_simple(load, 6, 3, with_memory_cache=True, use_thread=False,
                              shuffle=True, rng=np.random.RandomState(1))
    assert not di._data_source._on_memory
    calls.clear()
    batches = [di.next()[0][:, 0].tolist() for _ in range(4)]
    assert len(calls) == 12  # read from the source every time
    # NNabla 1.39 does the same (checked): the wrapped source keeps its first
    # permutation, as nothing asks it for a new one.
    first = np.random.RandomState(1).permutation(6).tolist()
    assert batches == [first[:3], first[3:]] * 2


def test_integer_data_reaching_a_static_graph_leaves_prefetching_threads_alone(monkeypatch):
    """The first integer batch fed to a built graph makes its functions re-check
    their input dtypes; finding them must not hold the process's other objects
    (gc.get_objects did, and a DataIterator's prefetching thread then failed to
    build its batch tuple: SystemError in _read_batch)."""
    import gc
    import nablite as nn
    import nablite.functions as F

    def refuse():
        raise AssertionError("gc.get_objects was called")
    monkeypatch.setattr(gc, "get_objects", refuse)

    def load(i):
        return np.full((3, 4, 4), i % 256, np.uint8), np.array([i % 3], np.int32)
    it = data_iterator_simple(load, 64, 16, shuffle=False)
    try:
        for _ in range(5):
            x, t = nn.Variable((16, 3, 4, 4)), nn.Variable((16, 1))
            y = F.mean(F.softmax_cross_entropy(F.mean(x, axis=(2, 3)), t))
            img, lab = it.next()
            x.d, t.d = img, lab  # uint8 images, int32 labels arrive after the build
            y.forward()
            assert x.d.dtype == np.uint8 and np.isfinite(y.d)
            np.testing.assert_allclose(float(y.d), np.log(3), rtol=1e-5)  # equal logits
    finally:
        it.close()
