"""Hostile and broken files for every data reader: oversized declared shapes,
decompression bombs, nested-reference pickles, truncated archives and files,
tar members that are links. Each must fail fast with an error naming the
reader and the file, after allocating little (measured with tracemalloc)."""
import gzip
import io
import pickle
import struct
import tarfile
import tracemalloc
import zlib

import numpy as np
import pytest

import nablite.datasets as D
from nablite.utils import data_source_loader as L
from nablite.utils._data_bounded import decompress
from nablite.utils.data_source_implements import CacheDataSource

LIMIT_MB = 64  # no hostile file may make a reader allocate more than this


def refused(fn, error, match):
    """fn() raises error matching match, with a bounded peak allocation."""
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match) as e:
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < LIMIT_MB << 20, f"peak allocation {peak >> 20} MB"
    return str(e.value)


def _npy_header(shape, dtype="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


# --- oversized declared shapes ---------------------------------------------------
def test_npy_declaring_a_huge_shape(tmp_path):
    p = tmp_path / "huge.npy"
    p.write_bytes(_npy_header((100000, 100000)) + b"\0" * 64)
    msg = refused(lambda: L.load_npy(str(p)), ValueError, "only 64 bytes follow")
    assert "load_npy" in msg and "huge.npy" in msg and "(100000, 100000)" in msg
    p.write_bytes(_npy_header((10,), "|O") + b"\0" * 80)
    refused(lambda: L.load_npy(str(p)), ValueError, "object array")


def test_npy_over_the_read_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("NABLITE_MAX_READ_BYTES", "1000")
    p = tmp_path / "big.npy"
    np.save(p, np.zeros(200))  # 1600 bytes, honest but over the limit
    refused(lambda: L.load_npy(str(p)), ValueError, "more than the limit of 1000 bytes")


def test_idx_declaring_a_huge_shape(tmp_path):
    head = bytes([0, 0, 8, 3]) + np.array([10 ** 6, 10 ** 4, 10 ** 4], ">u4").tobytes()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(head + b"\0" * 100)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 0]))
    refused(lambda: D.load_mnist(False, path=str(tmp_path)), ValueError,
            "declares .*more than the limit")
    # under the limit (3.9 GB) but a gzip of 1 kB: refused without setting 3.9 GB aside
    head = bytes([0, 0, 8, 3]) + np.array([5000, 28000, 28], ">u4").tobytes()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(head + b"\0" * 1000)
    refused(lambda: D.read_idx(str(tmp_path / "t10k-images-idx3-ubyte.gz")), ValueError,
            r"holds 1000 bytes of data, but its header \(5000, 28000, 28\) needs 3920000000")


def test_cache_chunk_declaring_a_huge_shape(tmp_path):
    (tmp_path / "cache_info.csv").write_text("x\n")
    (tmp_path / "cache_index.csv").write_text("c.npy,3\n")
    (tmp_path / "c.npy").write_bytes(_npy_header((3, 50000, 50000)) + b"\0" * 100)
    refused(lambda: CacheDataSource(str(tmp_path)).next(), ValueError,
            "CacheDataSource: .*c.npy .*only 100 bytes follow")


# --- decompression bombs ---------------------------------------------------------
def _png(width, height, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_png_declaring_100k_by_100k(tmp_path):
    pytest.importorskip("PIL")
    p = tmp_path / "bomb.png"
    p.write_bytes(_png(100000, 100000, b"\0" * 100001))
    msg = refused(lambda: L.load_image(str(p)), ValueError, "imread: .*bomb.png")
    assert "bomb" in msg


def test_png_over_nablites_pixel_limit(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    from nablite.utils.image_utils import imread, imsave
    imsave(str(tmp_path / "ok.png"), np.zeros((40, 40), np.uint8))
    monkeypatch.setenv("NABLITE_MAX_IMAGE_PIXELS", "1000")
    refused(lambda: imread(str(tmp_path / "ok.png")), ValueError,
            "declares 40 x 40 pixels, more than the limit of 1000 pixels")


def test_gzip_bombs(tmp_path, monkeypatch):
    bomb = gzip.compress(b"\0" * (32 << 20))  # 32 MB of zeros in ~32 kB
    assert len(bomb) < 100 << 10
    monkeypatch.setenv("NABLITE_MAX_READ_BYTES", str(1 << 20))
    refused(lambda: decompress(bomb, "reader", "bomb.gz"), ValueError,
            "reader: bomb.gz inflates to more than 1048576 bytes")
    monkeypatch.delenv("NABLITE_MAX_READ_BYTES")
    assert decompress(gzip.compress(b"abc"), "reader", "x.gz") == b"abc"
    # an honest small IDX header followed by megabytes more than it declares
    head = bytes([0, 0, 8, 1]) + np.array([4], ">u4").tobytes()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(head + b"\1" * (32 << 20)))
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array([4, 2, 2], ">u4").tobytes() + b"\0" * 16)
    refused(lambda: D.load_mnist(False, path=str(tmp_path)), ValueError,
            r"holds 5\+ bytes of data, but its header \(4,\) needs 4")


def test_tar_member_declaring_more_than_the_limit(tmp_path, monkeypatch):
    archive = tmp_path / "cifar-10-python.tar.gz"
    raw = pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0]})
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    monkeypatch.setenv("NABLITE_MAX_READ_BYTES", "1000")
    refused(lambda: D.load_cifar10(False, path=str(archive)), ValueError,
            "test_batch in the archive .* declares .* more than the limit")


# --- pickles -----------------------------------------------------------------------
def test_nested_reference_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    level = [0] * 1000
    for _ in range(3):  # 10**12 elements by reference, a few kB pickled
        level = [level] * 1000
    data = np.zeros((2, 3072), np.uint8)
    for batch in ({"data": data, "labels": level},
                  {"data": data, "labels": [level, level]},
                  {"data": level, "labels": [0, 1]}):
        raw = pickle.dumps(batch, protocol=2)
        assert len(raw) < 20000
        (folder / "test_batch").write_bytes(raw)
        refused(lambda: D.load_cifar10(False, path=str(folder)), ValueError,
                "load_cifar10: test_batch")
    def key(name):
        return b"X" + struct.pack("<I", len(name)) + name
    depth = 100000  # lists nested 10**5 deep, written opcode by opcode
    deep = b"]" * depth + b"a" * (depth - 1)
    (folder / "test_batch").write_bytes(b"\x80\x02}" + key(b"data") + deep + b"s" +
                                        key(b"labels") + b"]s.")
    refused(lambda: D.load_cifar10(False, path=str(folder)), ValueError,
            "data is list, expected a uint8 array")


# --- truncated files and archives ------------------------------------------------------
def test_truncated_files(tmp_path):
    pytest.importorskip("PIL")
    from nablite.utils.image_utils import imread, imsave
    imsave(str(tmp_path / "a.png"), np.random.RandomState(0).randint(
        0, 256, (64, 64, 3)).astype(np.uint8))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    refused(lambda: imread(str(tmp_path / "cut.png")), ValueError,
            "imread: .*cut.png is truncated or corrupt")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    refused(lambda: imread(str(tmp_path / "junk.png")), ValueError,
            "imread: cannot read .*junk.png as an image")
    buf = io.BytesIO()
    np.save(buf, np.arange(100.0))
    (tmp_path / "cut.npy").write_bytes(buf.getvalue()[:300])
    refused(lambda: L.load_npy(str(tmp_path / "cut.npy")), ValueError, "cut.npy")
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array([9, 28, 28], ">u4").tobytes() + b"\0" * 7056)
    cut = (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(cut[:len(cut) // 2])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9]) + b"\0" * 9)
    refused(lambda: D.load_mnist(False, path=str(tmp_path)), ValueError,
            "read_idx: .*t10k-images-idx3-ubyte.gz is truncated or corrupt")


def test_truncated_h5_cache(tmp_path):
    pytest.importorskip("h5py")
    from nablite.utils.data_source import DataSourceWithFileCache
    from nablite.utils.data_source_implements import SimpleDataSource
    DataSourceWithFileCache.cache_file_format = ".h5"
    try:
        DataSourceWithFileCache(SimpleDataSource(lambda i: (np.arange(50.0) + i,), 20),
                                cache_dir=str(tmp_path)).close()
    finally:
        DataSourceWithFileCache.cache_file_format = ".npy"
    chunk = tmp_path / "cache_00000000_00000019.h5"
    chunk.write_bytes(chunk.read_bytes()[:3000])
    refused(lambda: CacheDataSource(str(tmp_path)).next(), ValueError,
            "CacheDataSource: .*cache_00000000_00000019.h5 is not a readable HDF5")


def test_h5_cache_declaring_more_than_the_file_holds(tmp_path):
    """An .h5 chunk whose unfiltered dataset declares 80 MB (under the limit)
    with no data stored: refused before h5py makes 80 MB of fill values."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "cache_00000000_00000009.h5", "w") as f:
        f.create_dataset("x", shape=(10, 2000, 1000), dtype="f4")
        f.create_dataset("y", data=np.zeros((10, 1)))
    refused(lambda: CacheDataSource(str(tmp_path)).next(), ValueError,
            r"CacheDataSource: .*cache_00000000_00000009.h5 dataset 'x' declares "
            r"\(10, 2000, 1000\) \(80000000 bytes\), more than the \d+ bytes of the file")


def _cifar_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def test_truncated_and_corrupt_archives(tmp_path):
    raw = pickle.dumps({"data": np.random.RandomState(0).randint(
        0, 256, (300, 3072)).astype(np.uint8), "labels": [0] * 300})
    info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
    info.size = len(raw)
    good = tmp_path / "good.tar.gz"
    _cifar_tar(good, [(info, raw)])
    data = good.read_bytes()
    for n, cut in enumerate((len(data) // 2, 600, 40)):
        p = tmp_path / f"cut{n}.tar.gz"
        p.write_bytes(data[:cut])
        refused(lambda: D.load_cifar10(False, path=str(p)), ValueError,
                f"load_cifar10: .*cut{n}.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b" + b"junk" * 50)
    refused(lambda: D.load_cifar10(False, path=str(tmp_path / "junk.tar.gz")), ValueError,
            "not a readable tar archive")


@pytest.mark.parametrize("gz", [False, True])
def test_tar_member_declaring_more_than_it_holds(tmp_path, gz):
    """A header declaring 3 GB (under the limit) before a few kB of data:
    refused as truncated without setting the 3 GB aside."""
    raw = pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0]})
    info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
    info.size = 3 << 30
    data = info.tobuf(format=tarfile.GNU_FORMAT) + raw
    p = tmp_path / ("short.tar.gz" if gz else "short.tar")
    p.write_bytes(gzip.compress(data) if gz else data)
    refused(lambda: D.load_cifar10(False, path=str(p)), ValueError,
            "load_cifar10: the archive .*short.tar.* is truncated")


# --- tar links (issue 13: a raw KeyError before) ---------------------------------------
@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_members_that_are_links(tmp_path, kind):
    link = tarfile.TarInfo("cifar-10-batches-py/test_batch")
    link.type = kind
    link.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else "missing_member"
    archive = tmp_path / "links.tar.gz"
    _cifar_tar(archive, [(link, None)])
    msg = refused(lambda: D.load_cifar10(False, path=str(archive)), ValueError,
                  "test_batch in the archive .* is a (symbolic|hard) link")
    assert "only regular files are read" in msg


# --- CSV files ---------------------------------------------------------------------------
def test_hostile_csv_files(tmp_path, monkeypatch):
    """A CSV data set or a CSV of numbers over the read limit, with a field
    over the csv module's limit, or not UTF-8: a ValueError naming the reader
    and the file (not a raw csv.Error / UnicodeDecodeError)."""
    from nablite.utils.data_source_implements import CsvDataSource
    (tmp_path / "field.csv").write_text("x,y\n1," + "2" * 200000 + "\n")
    (tmp_path / "latin1.csv").write_bytes("x,y\n1,caf\xe9.png\n".encode("latin-1"))
    (tmp_path / "long.csv").write_text("x,y\n" + "1,2\n" * 300)
    for reader in (CsvDataSource, L.load_csv):
        who = reader.__name__
        refused(lambda: reader(str(tmp_path / "field.csv")), ValueError,
                f"{who}: line 2 of .*field.csv cannot be read as CSV .*field limit")
        refused(lambda: reader(str(tmp_path / "latin1.csv")), ValueError,
                f"{who}: .*latin1.csv is not UTF-8 text")
    monkeypatch.setenv("NABLITE_MAX_READ_BYTES", "1000")
    for reader in (CsvDataSource, L.load_csv):
        refused(lambda: reader(str(tmp_path / "long.csv")), ValueError,
                f"{reader.__name__}: .*long.csv is larger than the limit of 1000 bytes")


def test_wav_declaring_more_than_it_holds(tmp_path):
    """A .wav header declaring 2 GB of 16-bit samples before 100 bytes:
    refused as truncated without setting the 2 GB aside."""
    n = 1 << 31
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 8000, 16000, 2, 16)
    (tmp_path / "h.wav").write_bytes(b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + fmt
                                     + b"data" + struct.pack("<I", n) + b"\0" * 100)
    refused(lambda: L.load_wav(str(tmp_path / "h.wav")), ValueError,
            "load_wav: .*h.wav is truncated: 100 of the 2147483648 bytes")
