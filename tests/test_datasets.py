import gzip
import os
import pickle
import tarfile

import numpy as np
import pytest

from nablite import datasets as D
from nablite.datasets import digits as digits_mod
from nablite.datasets import tiny_digits


# --- digits -------------------------------------------------------------------
def test_load_digits_contents():
    d = D.load_digits()
    assert d.images.shape == (1797, 8, 8) and d.images.dtype == np.float64
    assert d.data.shape == (1797, 64) and d.target.shape == (1797,)
    assert np.issubdtype(d.target.dtype, np.integer)
    assert d.images.min() == 0 and d.images.max() == 16
    assert np.all(d.images == np.round(d.images))
    np.testing.assert_array_equal(d.data.reshape(-1, 8, 8), d.images)
    # the class sizes of the UCI test set
    assert np.bincount(d.target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first image is a zero
    assert d.target[0] == 0
    assert d.images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert d.images[0, 7].tolist() == [0, 0, 6, 13, 10, 0, 0, 0]
    assert d.target[:10].tolist() == list(range(10))
    assert d["images"] is d.images


def test_load_digits_n_class_and_caching():
    d3 = D.load_digits(n_class=3)
    assert set(d3.target.tolist()) == {0, 1, 2}
    assert len(d3.target) == 178 + 182 + 177 == d3.images.shape[0]
    a, b = D.load_digits(), D.load_digits()
    a.images[0, 0, 0] = 99  # callers get their own copies
    assert b.images[0, 0, 0] == 0 and D.load_digits().images[0, 0, 0] == 0
    assert digits_mod._raw() is digits_mod._raw()
    for bad in (0, 11, 2.5, True):
        with pytest.raises(ValueError, match="load_digits: n_class"):
            D.load_digits(n_class=bad)


def test_license_file_bundled():
    path = os.path.join(os.path.dirname(digits_mod.__file__), "data", "DIGITS_LICENSE.txt")
    with open(path) as f:
        text = f.read()
    assert "Alpaydin" in text and "CC BY 4.0" in text and "BSD 3-Clause" in text


# --- tiny_digits ----------------------------------------------------------------
def test_plot_stats_prints(capsys, tmp_path):
    d = tiny_digits.load_digits(n_class=10)
    out_png = tmp_path / "stats.png"
    tile = tiny_digits.plot_stats(d, save_path=str(out_png))
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Num images: 1797", "Image shape: (8, 8)",
                     "Labels: [0 1 2 3 4 5 6 7 8 9]"]
    assert tile.shape == (72, 72)
    np.testing.assert_array_equal(tile[:8, :8], d.images[0])
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not out_png.exists()
    else:
        assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_data_iterator_tiny_digits():
    d = tiny_digits.load_digits()
    di = tiny_digits.data_iterator_tiny_digits(d, batch_size=64, shuffle=False)
    img, label = di.next()
    assert img.shape == (64, 1, 8, 8) and img.dtype == np.float32
    assert label.shape == (64, 1) and label.dtype == np.int32
    np.testing.assert_array_equal(img[:, 0], d.images[:64])
    np.testing.assert_array_equal(label[:, 0], d.target[:64])
    sh = tiny_digits.data_iterator_tiny_digits(d, batch_size=64, shuffle=True)
    seen = np.concatenate([sh.next()[1][:, 0] for _ in range(29)])
    assert sh.epoch == 1  # 29 * 64 = 1856 > 1797 samples
    first_epoch = seen[:1797]
    assert first_epoch[:64].tolist() != d.target[:64].tolist()  # shuffled
    assert np.bincount(first_epoch).tolist() == np.bincount(d.target).tolist()
    img2, lab2 = sh.next()
    idx = [np.flatnonzero((d.images == im[0]).all(axis=(1, 2)))[0] for im in img2[:5]]
    assert [d.target[i] for i in idx] == lab2[:5, 0].tolist()  # pairs stay together


# --- spiral ---------------------------------------------------------------------
def test_make_spiral():
    X, y = D.make_spiral()
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert y.shape == (300,) and np.issubdtype(y.dtype, np.integer)
    assert np.bincount(y).tolist() == [100, 100, 100]
    r = np.linspace(0, 1, 100)
    for j in range(3):
        np.testing.assert_allclose(np.linalg.norm(X[y == j], axis=1), r, atol=1e-6)
    X2, _ = D.make_spiral()
    np.testing.assert_array_equal(X, X2)
    X3, _ = D.make_spiral(seed=1)
    assert not np.allclose(X, X3)
    # no noise: angles are exactly the linspace of the arm
    Xn, _ = D.make_spiral(n_per_class=5, n_classes=2, noise=0.0)
    t = np.linspace(4, 8, 5)
    np.testing.assert_allclose(Xn[5:], np.c_[np.linspace(0, 1, 5) * np.sin(t),
                                             np.linspace(0, 1, 5) * np.cos(t)], atol=1e-6)
    with pytest.raises(ValueError, match="make_spiral: n_classes"):
        D.make_spiral(n_classes=0)


# --- MNIST ----------------------------------------------------------------------
def _idx(arr, code=0x08):
    arr = np.asarray(arr)
    head = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    return head + arr.astype(">u1" if code == 0x08 else ">i4").tobytes()


def _write(path, data, gz):
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def _mnist_files(folder, n=7, train=False, gz=True, seed=0):
    rng = np.random.RandomState(seed)
    imgs = rng.randint(0, 256, (n, 28, 28)).astype(np.uint8)
    labs = rng.randint(0, 10, n).astype(np.uint8)
    part = "train" if train else "t10k"
    _write(folder / f"{part}-images-idx3-ubyte", _idx(imgs), gz)
    _write(folder / f"{part}-labels-idx1-ubyte", _idx(labs), gz)
    return imgs, labs


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_folder(tmp_path, gz):
    imgs, labs = _mnist_files(tmp_path, gz=gz)
    x, t = D.load_mnist(train=False, path=str(tmp_path))
    assert x.dtype == np.uint8 and x.shape == (7, 1, 28, 28) and t.shape == (7, 1)
    np.testing.assert_array_equal(x[:, 0], imgs)
    np.testing.assert_array_equal(t[:, 0], labs)
    di = D.data_iterator_mnist(3, train=False, path=str(tmp_path), shuffle=False)
    bx, bt = di.next()
    assert bx.shape == (3, 1, 28, 28) and bt.shape == (3, 1) and bt.dtype == np.uint8
    np.testing.assert_array_equal(bt[:, 0], labs[:3])


def test_mnist_through_the_data_home(tmp_path, monkeypatch):
    """The files placed in the data home are used as download's cache: no network."""
    monkeypatch.setenv("NABLITE_DATA_HOME", str(tmp_path))
    imgs, labs = _mnist_files(tmp_path, n=10, train=True)
    di = D.data_iterator_mnist(4, train=True, rng=np.random.RandomState(3))
    x, y = di.next()
    # MnistDataSource draws at construction and again at the iterator's reset
    rng = np.random.RandomState(3)
    rng.permutation(10)
    order = rng.permutation(10)[:4]
    np.testing.assert_array_equal(x[:, 0], imgs[order])
    np.testing.assert_array_equal(y[:, 0], labs[order])
    di.close()


def test_read_idx_other_types(tmp_path):
    a = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    (tmp_path / "a.idx").write_bytes(_idx(a, code=0x0C))
    b = D.read_idx(str(tmp_path / "a.idx"))
    assert b.dtype == np.int32 and b.dtype.isnative
    np.testing.assert_array_equal(b, a)


def test_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        D.load_mnist(train=True, path=str(tmp_path))
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and "yann.lecun.com" in msg and str(tmp_path) in msg
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x12\x34\x56\x78" + b"\0" * 20)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match="not an IDX file"):
        D.load_mnist(path=str(tmp_path))
    # labels file given where images are expected: wrong number of dimensions
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match="has 1 dimensions, expected 3"):
        D.load_mnist(path=str(tmp_path))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(np.zeros((3, 28, 28), np.uint8)))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        D.load_mnist(path=str(tmp_path))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(np.zeros((2, 28, 28), np.uint8))[:-5])
    with pytest.raises(ValueError, match="needs 1568"):
        D.load_mnist(path=str(tmp_path))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(np.zeros((2, 28, 28), np.uint8)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.array([3, 10], np.uint8)))
    with pytest.raises(ValueError, match="label 10; MNIST labels are 0..9"):
        D.load_mnist(path=str(tmp_path))


# --- CIFAR-10 / 100 -------------------------------------------------------------
def _batch(n, seed, protocol, byte_keys=False, label_key="labels", classes=10):
    rng = np.random.RandomState(seed)
    data = rng.randint(0, 256, (n, 3072)).astype(np.uint8)
    labels = rng.randint(0, classes, n).tolist()
    d = {"data": data, label_key: labels, "batch_label": "fake"}
    if byte_keys:
        d = {k.encode(): v for k, v in d.items()}
    return pickle.dumps(d, protocol=protocol), data, labels


def _cifar_dir(root, protocol=2, byte_keys=False):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    expected = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        raw, data, labels = _batch(4, i, protocol, byte_keys)
        (folder / name).write_bytes(raw)
        expected[name] = (data, labels)
    return folder, expected


@pytest.mark.parametrize("protocol,byte_keys", [(2, False), (4, True), (5, False)])
def test_load_cifar10(tmp_path, protocol, byte_keys):
    folder, expected = _cifar_dir(tmp_path, protocol, byte_keys)
    x, t = D.load_cifar10(train=True, path=str(tmp_path))  # parent folder
    assert x.shape == (20, 3, 32, 32) and x.dtype == np.uint8
    assert t.shape == (20, 1) and t.dtype == np.int64
    np.testing.assert_array_equal(x[:4], expected["data_batch_1"][0].reshape(4, 3, 32, 32))
    assert t[16:, 0].tolist() == expected["data_batch_5"][1]
    xt, tt = D.load_cifar10(train=False, path=str(folder))  # the batches folder
    np.testing.assert_array_equal(xt.reshape(4, -1), expected["test_batch"][0])
    assert tt[:, 0].tolist() == expected["test_batch"][1]
    di = D.data_iterator_cifar10(3, train=False, path=str(folder), shuffle=False)
    bx, bt = di.next()
    assert bx.shape == (3, 3, 32, 32) and bt.shape == (3, 1)


def test_cifar10_archive_through_the_data_home(tmp_path, monkeypatch):
    folder, expected = _cifar_dir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NABLITE_DATA_HOME", str(home))
    with tarfile.open(home / "cifar-10-python.tar.gz", "w:gz") as tar:
        for k in (3, 1, 2, 5, 4):  # archive order is the order read, as NNabla's examples
            tar.add(folder / f"data_batch_{k}", arcname=f"cifar-10-batches-py/data_batch_{k}")
        tar.add(folder / "test_batch", arcname="cifar-10-batches-py/test_batch")
    x, t = D.load_cifar10(train=True)
    np.testing.assert_array_equal(x[:4].reshape(4, -1), expected["data_batch_3"][0])
    assert t[4:8, 0].tolist() == expected["data_batch_1"][1]
    xt, tt = D.load_cifar10(train=False)
    assert xt.shape == (4, 3, 32, 32) and tt[:, 0].tolist() == expected["test_batch"][1]


def test_cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    raw, data, labels = _batch(6, 0, 2, label_key="fine_labels", classes=100)
    (folder / "train").write_bytes(raw)
    (folder / "test").write_bytes(_batch(2, 1, 2, label_key="fine_labels", classes=100)[0])
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    x, t = D.load_cifar100(train=True, path=str(archive))
    np.testing.assert_array_equal(x.reshape(6, -1), data)
    assert t[:, 0].tolist() == labels
    di = D.data_iterator_cifar100(2, train=False, path=str(folder), shuffle=False)
    assert di.next()[0].shape == (2, 3, 32, 32)


def test_cifar_label_range(tmp_path):
    folder, _ = _cifar_dir(tmp_path)
    (folder / "test_batch").write_bytes(pickle.dumps(
        {"data": np.zeros((2, 3072), np.uint8), "labels": [1, 12]}))
    with pytest.raises(ValueError, match="label 12; CIFAR-10 labels are 0..9"):
        D.load_cifar10(train=False, path=str(folder))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_pickle",))


def test_cifar10_refuses_malicious_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder, _ = _cifar_dir(tmp_path)
    evil = pickle.dumps({"data": _Evil(), "labels": [1]}, protocol=2)
    (folder / "test_batch").write_bytes(evil)
    with pytest.raises(pickle.UnpicklingError) as e:
        D.load_cifar10(train=False, path=str(folder))
    assert "system" in str(e.value) and "refusing" in str(e.value)
    assert not (tmp_path / "pwned_by_pickle").exists()
    import builtins
    for payload in (pickle.dumps(builtins.eval), pickle.dumps(np.load)):
        with pytest.raises(pickle.UnpicklingError, match="only plain containers"):
            D.safe_load_pickle(payload)
    assert D.safe_load_pickle(pickle.dumps({"a": [1, (2, 3.5)], "b": b"x"})) == \
        {"a": [1, (2, 3.5)], "b": b"x"}


def test_cifar10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="cs.toronto.edu"):
        D.load_cifar10(path=str(tmp_path / "nope"))
    (tmp_path / "x").mkdir()
    with pytest.raises(FileNotFoundError, match="no training batch"):
        D.load_cifar10(path=str(tmp_path / "x"))


def test_plot_stats_draws_on_windowless_pyplot(capsys):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    plt.figure()
    tiny_digits.plot_stats(tiny_digits.load_digits(n_class=2))
    images = plt.gca().get_images()
    assert len(images) == 1 and images[0].get_array().shape == (72, 72)  # first 64 only
    plt.close("all")
    assert "Num images: 360" in capsys.readouterr().out


# --- through a local HTTP server ---------------------------------------------------
@pytest.fixture
def www(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; an empty data home."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("NABLITE_DATA_HOME", str(tmp_path / "home"))
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_mnist_and_cifar10_downloaded_from_a_server(www, tmp_path, monkeypatch):
    """The loaders fetch their archives once through download() (the server
    here stands in for NNabla's URLs), keep them in the data home, and read
    them from there the next time without the server."""
    import nablite.datasets.cifar10 as C
    import nablite.datasets.mnist as M
    root, url = www
    imgs, labs = _mnist_files(root, n=6, train=False)
    monkeypatch.setitem(M.MNIST_URLS, False, tuple(
        f"{url}/{name}" for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")))
    folder, expected = _cifar_dir(tmp_path)
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    monkeypatch.setitem(C._KINDS, 10, (f"{url}/cifar-10-python.tar.gz",) + C._KINDS[10][1:])
    for _ in range(2):
        x, t = D.load_mnist(train=False)
        np.testing.assert_array_equal(x[:, 0], imgs)
        np.testing.assert_array_equal(t[:, 0], labs)
        di = D.data_iterator_cifar10(4, train=False, shuffle=False)
        bx, bt = di.next()
        di.close()
        np.testing.assert_array_equal(bx.reshape(4, -1), expected["test_batch"][0])
        assert bt[:, 0].tolist() == expected["test_batch"][1]
        for name in os.listdir(root):  # the second pass: no server files at all
            if os.path.isfile(root / name):
                os.remove(root / name)
    assert sorted(os.listdir(tmp_path / "home")) == [
        "cifar-10-python.tar.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
