"""Cache folders in NNabla's layout: the committed NNabla-written fixture
(tests/fixtures/data_cache, made by its make_data_cache.py) read without NNabla,
and nablite's own file caches read back."""
import json
import os

import numpy as np
import pytest

from nablite.utils.data_iterator import data_iterator_cache, data_iterator_simple
from nablite.utils.data_source import DataSourceWithFileCache
from nablite.utils.data_source_implements import CacheDataSource, SimpleDataSource

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "data_cache")


@pytest.mark.parametrize("fmt", ["npy", "h5"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_reads_nnabla_written_cache(fmt, shuffle):
    if fmt == "h5":
        pytest.importorskip("h5py")
    with open(os.path.join(FIXTURE, "expected.json")) as f:
        want = json.load(f)[fmt]
    di = data_iterator_cache(os.path.join(FIXTURE, fmt), 4, shuffle=shuffle,
                             rng=np.random.RandomState(11), use_thread=True)
    assert list(di.variables) == want["variables"]
    for batch, expected in zip((di.next() for _ in range(6)), want[str(shuffle)]):
        for a, e in zip(batch, expected):
            assert a.dtype.str == e["dtype"] and list(a.shape) == e["shape"]
            np.testing.assert_array_equal(a.ravel(), np.array(e["values"], dtype=e["dtype"]))
    di.close()


def test_file_cache_written_then_read(tmp_path):
    def load(i):
        return np.full((2, 3), i, np.uint8), np.array([i], np.int32)
    di = data_iterator_simple(load, 250, 50, with_file_cache=True, cache_dir=str(tmp_path),
                              use_thread=False)
    di.close()
    names = sorted(os.listdir(tmp_path))
    assert names == ["cache_00000000_00000099.npy", "cache_00000100_00000199.npy",
                     "cache_00000200_00000249.npy", "cache_index.csv", "cache_info.csv"]
    assert (tmp_path / "cache_index.csv").read_text() == (
        "cache_00000000_00000099.npy,100\ncache_00000100_00000199.npy,100\n"
        "cache_00000200_00000249.npy,50\n")
    src = CacheDataSource(str(tmp_path))
    got = [src.next() for _ in range(250)]
    assert [int(y[0]) for _, y in got] == list(range(250))
    assert got[7][0].dtype == np.uint8 and got[7][1].dtype == np.int32
    # shuffled: chunk files permuted, then the samples inside each chunk
    rng = np.random.RandomState(4)
    shuffled = CacheDataSource(str(tmp_path), shuffle=True, rng=np.random.RandomState(4))
    files = rng.permutation(3)
    first = [int(j) + 100 * int(files[0]) for j in rng.permutation(100 if files[0] < 2 else 50)]
    assert [int(shuffled.next()[1][0]) for _ in range(len(first))] == first


def test_cache_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="CacheDataSource: the cache folder"):
        CacheDataSource(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="holds no cache"):
        CacheDataSource(str(tmp_path))
    fc = DataSourceWithFileCache(SimpleDataSource(lambda i: (np.arange(3) + i,), 5),
                                 cache_dir=str(tmp_path))
    fc.close()
    (tmp_path / "cache_index.csv").write_text("../../etc/passwd,5\n")
    with pytest.raises(ValueError, match="must lie in the cache folder"):
        CacheDataSource(str(tmp_path))
    (tmp_path / "cache_index.csv").write_text("cache_00000000_00000004.npy,x\n")
    with pytest.raises(ValueError, match="line 1 of .*cache_index.csv"):
        CacheDataSource(str(tmp_path))
    (tmp_path / "cache_index.csv").write_text("cache_00000000_00000004.npy,9\n")
    with pytest.raises(ValueError, match="holds 5 samples of 'x0'; the cache index says 9"):
        CacheDataSource(str(tmp_path)).next()


def test_ragged_samples_cannot_be_cached(tmp_path):
    src = SimpleDataSource(lambda i: (np.zeros(i + 1),), 3)
    with pytest.raises(ValueError, match="variable 'x0' have different shapes"):
        DataSourceWithFileCache(src, cache_dir=str(tmp_path))


def test_create_cache_writes_a_readable_folder(tmp_path):
    """CreateCache (NNabla's conv_dataset class) on a CSV of numbers: chunks of
    100 rows in CSV order (shuffle=False), the CSV copied, the order kept."""
    from nablite.utils.create_cache import CreateCache
    lines = ["x__0,x__1,y"] + [f"{i},{-i},{i % 7}" for i in range(130)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    CreateCache(str(tmp_path / "d.csv")).create(str(tmp_path / "out"))
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == [
        "cache_00000000_00000099.npy", "cache_00000100_00000129.npy", "cache_index.csv",
        "cache_info.csv", "order.csv", "original.csv"]
    assert (out / "cache_info.csv").read_text() == "x\ny\n"
    assert (out / "original.csv").read_bytes() == (tmp_path / "d.csv").read_bytes()
    assert (out / "order.csv").read_text().splitlines()[5] == "5,5"
    src = CacheDataSource(str(out))
    x, y = zip(*(src.next() for _ in range(130)))
    assert x[42].dtype == np.float32 and x[42].tolist() == [42.0, -42.0]
    assert [float(v[0]) for v in y[:8]] == [0, 1, 2, 3, 4, 5, 6, 0]
    with pytest.raises(ValueError, match="CreateCache: num_of_threads must be an int >= 0 "
                                         "or None, got -1"):
        CreateCache(str(tmp_path / "d.csv"), num_of_threads=-1)
    CreateCache(str(tmp_path / "d.csv"), num_of_threads=0).create(str(tmp_path / "zero"))
    assert (tmp_path / "zero" / "cache_index.csv").exists()  # 0: the default, as NNabla
