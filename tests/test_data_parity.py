"""The data layer against the real NNabla 1.39: the same batches (shuffled with
the same seeded generators, across epochs, with caches and slices, and the
same epoch-callback moments), and cache folders written by one library read
by the other. Skipped where NNabla is not installed."""
import os

import numpy as np
import pytest

from nnabla_parity import check_same_source, run_in_nnabla


def _png_csv(folder, n=7, seed=0):
    """A CSV of n small RGB PNGs with a label and a 2-vector per row."""
    pytest.importorskip("PIL")
    from PIL import Image
    rng = np.random.RandomState(seed)
    lines = ["x:image,y:label,v__0,v__1"]
    for i in range(n):
        Image.fromarray(rng.randint(0, 256, (4, 5, 3)).astype(np.uint8)).save(
            folder / f"img{i}.png")
        lines.append(f"img{i}.png,{i % 3},{i * 0.5},{-i}")
    (folder / "ds.csv").write_text("\n".join(lines) + "\n")
    return str(folder / "ds.csv")


def orders(csv_path):
    import nnabla.utils.data_iterator as D
    from nnabla.utils.data_source_implements import SimpleDataSource
    from nnabla.utils.data_source import DataSource

    def take(di, n):
        log = []
        di.register_epoch_end_callback(lambda e: log.append(-1 - e))
        di.register_epoch_begin_callback(lambda e: log.append(e))
        out = []
        for _ in range(n):
            out.extend(di.next())
            out.append(np.array(log + [di.epoch]))
        di.close()
        return out

    def load(i):
        return (np.float32(i) * np.ones(2, np.float32), np.int64(i))

    class User(DataSource):  # a source in NNabla's examples' style
        def __init__(self, shuffle, rng):
            super().__init__(shuffle=shuffle)
            self._size, self._variables, self.rng = 9, ("x",), rng
            self.reset()

        def reset(self):
            self._idx = self.rng.permutation(self._size) if self._shuffle \
                else np.arange(self._size)
            super().reset()

        def _get_data(self, position):
            return (np.array([self._idx[position]]),)

    out = {}
    for name, kw in [("plain", {}), ("thread", {"use_thread": True}),
                     ("memory", {"with_memory_cache": True}),
                     ("file", {"with_file_cache": True}),
                     ("file_only", {"with_file_cache": True, "with_memory_cache": False})]:
        kw.setdefault("use_thread", False)
        out["simple_" + name] = take(D.data_iterator_simple(
            load, 10, 4, shuffle=True, rng=np.random.RandomState(5), **kw), 8)
    big = D.data_iterator_simple(load, 250, 64, shuffle=True,
                                 rng=np.random.RandomState(2), with_file_cache=True,
                                 use_thread=False)  # three chunk files
    out["file_chunks"] = take(big, 9)
    out["direct_rng"] = take(D.data_iterator(
        SimpleDataSource(load, 10, shuffle=True, rng=np.random.RandomState(1)), 3,
        rng=np.random.RandomState(9), with_file_cache=True, use_thread=False), 9)
    base = D.data_iterator_simple(load, 11, 3, shuffle=True, rng=np.random.RandomState(0),
                                  use_thread=False)
    for pos in range(3):
        out[f"slice{pos}"] = take(base.slice(np.random.RandomState(pos), 3, pos), 6)
    out["slice_drop"] = take(base.slice(None, 4, 3, drop_last=True), 4)
    out["slice_cache"] = take(base.slice(np.random.RandomState(4), 3, 1, use_cache=True), 6)
    out["stop"] = [b for d in D.data_iterator_simple(load, 10, 3, stop_exhausted=True,
                                                     use_thread=False) for b in d]
    for name, kw in [("csv_mem", {"with_file_cache": False}),
                     ("csv_file", {}), ("csv_raw", {"with_file_cache": False,
                                                    "with_memory_cache": False,
                                                    "normalize": False})]:
        out[name] = take(D.data_iterator_csv_dataset(
            csv_path, 3, shuffle=True, rng=np.random.RandomState(7), use_thread=False,
            **kw), 7)
    out["concat"] = take(D.data_iterator_concat_datasets(
        [SimpleDataSource(load, 4), SimpleDataSource(lambda i: load(10 + i), 3)], 2,
        shuffle=True, rng=np.random.RandomState(3), use_thread=False), 8)
    out["user"] = take(D.data_iterator(User(True, np.random.RandomState(8)), 4,
                                       with_memory_cache=False, use_thread=False), 6)
    return out


def test_same_batches_as_nnabla(tmp_path):
    csv_path = _png_csv(tmp_path)
    mine, want = check_same_source(orders, csv_path=csv_path)
    assert len(mine) == 18
    assert not np.array_equal(mine["simple_plain"][0], mine["simple_plain"][3])


def read_caches(folders):
    import nnabla.utils.data_iterator as D
    out = {}
    for k, folder in enumerate(folders):
        for shuffle in (False, True):
            di = D.data_iterator_cache(folder, 4, shuffle=shuffle,
                                       rng=np.random.RandomState(11), use_thread=False)
            out[f"{k}_{shuffle}"] = [a for _ in range(6) for a in di.next()]
            out[f"{k}_variables"] = [str(v) for v in di.variables]
            di.close()
    return out


_NNABLA_WRITES = r"""
import os
import numpy as np
from nnabla.utils.data_iterator import data_iterator_csv_dataset
from nnabla.utils.create_cache import CreateCache
os.makedirs(out_dir + "/iterator")
os.makedirs(out_dir + "/conv")
di = data_iterator_csv_dataset(csv_path, 4, shuffle=True, rng=np.random.RandomState(6),
                               cache_dir=out_dir + "/iterator", use_thread=False)
di.close()
CreateCache(csv_path, shuffle=True, rng=np.random.RandomState(6)).create(out_dir + "/conv")
RESULT = sorted(os.listdir(out_dir + "/conv"))
"""


def _files(folder):
    return {n: open(os.path.join(folder, n), "rb").read() for n in sorted(os.listdir(folder))}


def test_caches_both_ways(tmp_path, monkeypatch):
    csv_path = _png_csv(tmp_path, n=9, seed=3)
    got = run_in_nnabla(_NNABLA_WRITES, csv_path=csv_path, out_dir=str(tmp_path / "nn"))
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    assert "cache_index.csv" in got and "order.csv" in got
    # nablite writes the same folder as NNabla's iterator from the same CSV and rng ...
    from nablite.utils.data_iterator import data_iterator_csv_dataset
    di = data_iterator_csv_dataset(csv_path, 4, shuffle=True, rng=np.random.RandomState(6),
                                   cache_dir=str(tmp_path / "nl"), use_thread=False)
    di.close()
    theirs, ours = _files(tmp_path / "nn" / "iterator"), _files(tmp_path / "nl")
    assert sorted(theirs) == sorted(ours)
    for name in ("cache_index.csv", "cache_info.csv", "order.csv", "original.csv"):
        assert ours[name] == theirs[name], name
    chunk = [n for n in ours if n.endswith(".npy")][0]
    assert ours[chunk] == theirs[chunk]  # byte for byte
    # ... and the same folder as NNabla's CreateCache (conv_dataset), every file ...
    from nablite.utils.create_cache import CreateCache
    CreateCache(csv_path, shuffle=True, rng=np.random.RandomState(6)).create(
        str(tmp_path / "nl_conv"))
    assert _files(tmp_path / "nl_conv") == _files(tmp_path / "nn" / "conv")
    # ... and each reads the other's (and conv_dataset's) caches as NNabla does,
    # nablite's HDF5 chunks too.
    pytest.importorskip("h5py")
    from nablite.utils.data_source import DataSourceWithFileCache
    monkeypatch.setattr(DataSourceWithFileCache, "cache_file_format", ".h5")
    data_iterator_csv_dataset(csv_path, 4, shuffle=True, rng=np.random.RandomState(6),
                              cache_dir=str(tmp_path / "nl_h5"), use_thread=False).close()
    assert sorted(os.listdir(tmp_path / "nl_h5")) == [
        "cache_00000000_00000008.h5", "cache_index.csv", "order.csv", "original.csv"]
    mine, _ = check_same_source(read_caches, folders=[str(tmp_path / f) for f in
                                                      ("nn/iterator", "nn/conv", "nl",
                                                       "nl_conv", "nl_h5")])
    assert len(mine) == 15 and mine["0_variables"] == ["x", "y", "v"]
    assert mine["4_variables"] == ["v", "x", "y"]  # HDF5 lists names sorted, in both


def read_images(folder):
    import os
    from nnabla.utils.image_utils import imread, imresize
    from nnabla.utils.data_source_loader import load_image
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        for k, kw in enumerate([{}, {"grayscale": True}, {"num_channels": 3},
                                {"num_channels": 4}, {"size": (4, 3)},
                                {"size": (9, 7), "interpolate": "bicubic"},
                                {"channel_first": True},
                                {"grayscale": True, "num_channels": 3}]):
            out[f"{name}_{k}"] = imread(path, **kw)
        out[name + "_load"] = load_image(path, normalize=True)
    a = np.random.RandomState(0).randint(0, 256, (6, 8, 3)).astype(np.uint8)
    for interp in ["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"]:
        out["resize_" + interp] = imresize(a, (5, 3), interpolate=interp)
        out["resize_f_" + interp] = imresize(a.astype(np.float32) / 255, (5, 3),
                                             interpolate=interp)
    return out


def test_same_images_as_nnabla(tmp_path):
    """8-bit files read, converted and resized as NNabla's Pillow backend does."""
    pytest.importorskip("PIL")
    from PIL import Image
    rng = np.random.RandomState(0)
    Image.fromarray(rng.randint(0, 256, (5, 7, 3)).astype(np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(rng.randint(0, 256, (5, 7, 4)).astype(np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(rng.randint(0, 256, (5, 7)).astype(np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray(rng.randint(0, 256, (5, 7, 3)).astype(np.uint8)).convert("P").save(
        tmp_path / "pal.png")
    Image.fromarray(rng.randint(0, 256, (5, 7, 3)).astype(np.uint8)).save(
        tmp_path / "photo.jpg", quality=90)
    Image.fromarray(rng.randint(0, 256, (5, 7, 3)).astype(np.uint8)).save(tmp_path / "c.bmp")
    mine, _ = check_same_source(read_images, folder=str(tmp_path))
    assert len(mine) == 6 * 9 + 12


def read_wavs(folder):
    import os
    from nnabla.utils.data_source_loader import load
    return {n: load(".wav")(os.path.join(folder, n)) for n in sorted(os.listdir(folder))}


def test_same_wav_as_nnabla(tmp_path):
    import wave
    rng = np.random.RandomState(0)
    for width, channels in [(1, 1), (2, 1), (2, 2), (4, 1)]:
        dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
        info = np.iinfo(np.dtype(dtype))
        frames = rng.randint(info.min, info.max, (50, channels)).astype(dtype)
        with wave.open(str(tmp_path / f"s{width}_{channels}.wav"), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(width)
            w.setframerate(8000)
            w.writeframes(frames.tobytes())
    mine, _ = check_same_source(read_wavs, folder=str(tmp_path))
    assert mine["s2_2.wav"].shape == (50, 2)



def exhausted():
    import nnabla.utils.data_iterator as D
    out = {}

    def load(i):
        return (np.array([i], np.int64),)
    for thread in (False, True):
        for cache in (False, True):
            for n in (9, 10):  # a last partial batch, and batches that fit exactly
                log = []
                di = D.data_iterator_simple(load, n, 3, shuffle=True,
                                            rng=np.random.RandomState(2), use_thread=thread,
                                            with_memory_cache=cache, stop_exhausted=True)
                di.register_epoch_end_callback(lambda e: log.append(-1 - e))
                di.register_epoch_begin_callback(lambda e: log.append(e))
                got = []
                for _ in range(5):
                    try:
                        got.extend(di.next())
                    except StopIteration:
                        got.append(np.array([-99] + log + [di.epoch]))
                        break  # (NNabla's next() hangs when called again with its thread)
                    # (with the thread, position moves while the next batch is read)
                    got.append(np.array(log + [di.epoch] + ([] if thread else [di.position])))
                di.close()
                out[f"thread{thread}_cache{cache}_{n}"] = got
    return out


def test_stop_exhausted_and_callbacks_as_nnabla():
    """With stop_exhausted: the same batches, StopIteration at the same call,
    the same epoch, position (without the thread) and callback calls as NNabla,
    with and without the prefetch thread and the memory cache. (NNabla's
    DataIterator has no public reset(); nablite's is tested in
    test_data_iterator.py.)"""
    mine, _ = check_same_source(exhausted)
    assert len(mine) == 8
    assert int(mine["threadTrue_cacheFalse_9"][-1][0]) == -99


def read_files(folder):
    import os
    from nnabla.utils.data_source_loader import load
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        ext = os.path.splitext(name)[1]
        for normalize in (False, True):
            with open(path, "rb") as f:
                out[f"{name}_{normalize}"] = load(ext)(f, normalize=normalize)
    return out


def test_same_csv_and_npy_values_as_nnabla(tmp_path):
    """The .csv and .npy loaders CSV data sets use (load(ext)(file)) give
    NNabla's arrays: values, shapes and dtypes."""
    rng = np.random.RandomState(0)
    np.save(tmp_path / "f.npy", rng.rand(3, 4).astype(np.float32))
    np.save(tmp_path / "i.npy", rng.randint(0, 9, (2, 5)).astype(np.uint8))
    np.save(tmp_path / "s.npy", np.float64(2.5))
    (tmp_path / "m.csv").write_text("1,2,3\n4.5,-6,7e-3\n")
    (tmp_path / "v.csv").write_text("0.25\n0.5\n")
    mine, _ = check_same_source(read_files, folder=str(tmp_path))
    assert mine["m.csv_False"].shape == (2, 3) and mine["i.npy_True"].dtype == np.uint8
