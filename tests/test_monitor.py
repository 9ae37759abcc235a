import logging
import os

import numpy as np
import pytest

import nablite.monitor as M
from nablite.monitor import (Monitor, MonitorImage, MonitorImageTile,
                             MonitorSeries, MonitorTimeElapsed, tile_images)


class FakeVariable:
    def __init__(self, d):
        self.d = np.asarray(d)


class FakeNdArray:
    def __init__(self, data):
        self.data = np.asarray(data)


def _lines(path):
    with open(path) as f:
        return f.read().splitlines()


def test_monitor_creates_directory(tmp_path):
    m = Monitor(str(tmp_path / "a" / "b"))
    assert os.path.isdir(tmp_path / "a" / "b")
    assert m.save_path == str(tmp_path / "a" / "b")
    Monitor(str(tmp_path / "a" / "b"))  # exist_ok


def test_series_interval_mean_file_and_log(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="nablite")
    m = Monitor(str(tmp_path))
    s = MonitorSeries("Training loss", m, interval=3)
    path = tmp_path / "Training-loss.series.txt"
    assert path.exists() and _lines(path) == []
    for i in range(10):
        s.add(i, float(i))
    # flushes at 2 (2 - (-1) >= 3), 5, 8; the buffer 9 is pending
    assert _lines(path) == ["2 1", "5 4", "8 7"]
    assert "iter=2 {Training loss}=1.0" in caplog.text
    assert "iter=8 {Training loss}=7.0" in caplog.text
    # a new monitor with the same name truncates the file
    MonitorSeries("Training loss", m)
    assert _lines(path) == []


def test_series_accepts_variables_ndarrays_and_arrays(tmp_path):
    m = Monitor(str(tmp_path))
    s = MonitorSeries("v", m, interval=1, verbose=False)
    s.add(0, FakeVariable(np.float32(0.25)))
    s.add(1, FakeNdArray(np.array([1.0, 3.0])))
    s.add(2, np.array([[2.0, 4.0]]))
    s.add(3, 1.23456789e-7)
    assert _lines(tmp_path / "v.series.txt") == ["0 0.25", "1 2", "2 3", "3 1.23457e-07"]


def test_device_arrays_come_to_the_host(tmp_path):
    """Monitors and tile_images take device arrays (copied to the host)."""
    from nablite._device_sim import xp
    pytest.importorskip("PIL")
    m = Monitor(str(tmp_path))
    s = MonitorSeries("dev", m, interval=2, verbose=False)
    s.add(0, xp.asarray(np.array([1.0, 2.0])))
    s.add(1, xp.asarray(np.array([4.0, 5.0])))
    s.add(2, xp.asarray(np.float32(4.5)))  # a 0-d device array
    s.add(3, xp.asarray(np.float32(5.5)))
    assert _lines(tmp_path / "dev.series.txt") == ["1 3", "3 5"]
    x = np.random.RandomState(1).rand(3, 3, 2, 2).astype(np.float32)
    np.testing.assert_array_equal(tile_images(xp.asarray(x)), tile_images(x))
    MonitorImage("host", m, interval=1, verbose=False).add(0, x)
    MonitorImage("dev", m, interval=1, verbose=False).add(0, xp.asarray(x))
    for j in range(3):
        assert _png(tmp_path / "dev" / f"000000-{j:03d}.png")[1].tolist() == \
            _png(tmp_path / "host" / f"000000-{j:03d}.png")[1].tolist()


def test_series_copies_variable_data(tmp_path):
    v = FakeVariable(np.array([1.0]))
    s = MonitorSeries("c", Monitor(str(tmp_path)), interval=2, verbose=False)
    s.add(0, v)
    v.d[...] = 5.0  # changed after add: must not affect the stored value
    s.add(1, v)
    assert _lines(tmp_path / "c.series.txt") == ["1 3"]


def test_series_without_monitor_only_logs(caplog):
    caplog.set_level(logging.INFO, logger="nablite")
    s = MonitorSeries("x", interval=2)
    s.add(0, 1.0)
    assert "iter=0" not in caplog.text
    s.add(1, 2.0)
    assert "iter=1 {x}=1.5" in caplog.text


def test_time_elapsed(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="nablite")
    clock = iter([100.0, 102.5, 104.0])

    class FakeTime:
        @staticmethod
        def time():
            return next(clock)
    monkeypatch.setattr(M, "time", FakeTime)
    t = MonitorTimeElapsed("Training time", Monitor(str(tmp_path)), interval=10)
    for i in range(25):
        t.add(i)
    assert _lines(tmp_path / "Training-time.timer.txt") == [
        "9 2.5 10 2.5", "19 1.5 10 4.0"]
    assert "iter=9 {Training time}=2.5[sec/10iter] 2.5[sec]" in caplog.text


def _png(path):
    from PIL import Image
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def test_monitor_image_trigger_and_files(tmp_path):
    pytest.importorskip("PIL")
    m = Monitor(str(tmp_path))
    mi = MonitorImage("gen images", m, interval=3, num_images=2, verbose=False)
    x = np.arange(4 * 1 * 2 * 3, dtype=np.float32).reshape(4, 1, 2, 3)
    for i in range(6):
        mi.add(i, x)
    d = tmp_path / "gen-images"
    assert sorted(os.listdir(d)) == ["000000-000.png", "000000-001.png",
                                     "000002-000.png", "000002-001.png",
                                     "000005-000.png", "000005-001.png"]
    mode, img = _png(d / "000000-001.png")
    assert mode == "L" and img.shape == (2, 3)
    # min-max over the first two images: values 0..11 -> 0..255, truncated as NNabla's
    expected = np.floor(np.arange(6, 12, dtype=np.float32) / np.float32(11)
                        * np.float32(255)).reshape(2, 3)
    np.testing.assert_array_equal(img, expected)


def test_monitor_image_channels(tmp_path):
    pytest.importorskip("PIL")
    m = Monitor(str(tmp_path))
    two = MonitorImage("two", m, interval=1, num_images=1, verbose=False)
    x = np.zeros((1, 2, 2, 2), np.float32)
    x[0, 0] = 1.0
    two.add(0, FakeVariable(x))
    mode, img = _png(tmp_path / "two" / "000000-000.png")
    assert mode == "RGB"
    np.testing.assert_array_equal(img[0, 0], [255, 0, 255])
    four = MonitorImage("four", m, interval=1, num_images=5,
                        normalize_method=lambda a: a / 10.0, verbose=False)
    four.add(0, np.full((2, 3, 4, 2, 2), 5.0))  # (N, ..., C, H, W)
    files = sorted(os.listdir(tmp_path / "four"))
    assert len(files) == 5
    mode, img = _png(tmp_path / "four" / files[0])
    assert mode == "RGB" and img.shape == (2, 2, 3)
    assert np.all(img == 127)  # 0.5 * 255 truncated, as NNabla's
    with pytest.raises(ValueError, match="ndim > 2"):
        four.add(0, np.zeros((3, 3)))


def test_monitor_image_tile(tmp_path):
    pytest.importorskip("PIL")
    mt = MonitorImageTile("tile", Monitor(str(tmp_path)), interval=2,
                          num_images=4, verbose=False)
    x = np.random.RandomState(0).rand(6, 3, 5, 5)
    for i in range(4):
        mt.add(i, x)
    assert sorted(os.listdir(tmp_path / "tile")) == ["000000.png", "000001.png", "000003.png"]
    mode, img = _png(tmp_path / "tile" / "000003.png")
    assert mode == "RGB" and img.shape == (12, 12, 3)


def test_tile_images_layout():
    data = np.arange(5 * 1 * 2 * 2).reshape(5, 1, 2, 2) + 1
    t = tile_images(data, padsize=1, padval=0)
    assert t.shape == (9, 9)  # n = 3 tiles of 2 + 1 pixels
    np.testing.assert_array_equal(t[0:2, 0:2], data[0, 0])
    np.testing.assert_array_equal(t[0:2, 3:5], data[1, 0])
    np.testing.assert_array_equal(t[3:5, 0:2], data[3, 0])
    assert np.all(t[2, :] == 0) and np.all(t[:, 2] == 0)
    assert np.all(t[3:, 6:] == 0)  # missing tile 5 (row 1, col 2) and row 2
    rgb = tile_images(np.ones((4, 3, 2, 2)), padsize=0, padval=7)
    assert rgb.shape == (4, 4, 3) and np.all(rgb == 1)
    filled = tile_images(np.ones((2, 3, 1, 1)), padsize=2, padval=9)
    assert filled.shape == (6, 6, 3) and filled[5, 5, 0] == 9 and filled[0, 0, 0] == 1
    with pytest.raises(AssertionError):
        tile_images(np.zeros((2, 3, 4)))


def test_plots(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    m = Monitor(str(tmp_path))
    s = MonitorSeries("loss", m, verbose=False)
    for i in range(3):
        s.add(i, 10.0 - i)
    (tmp_path / "t.timer.txt").write_text("99 60.0 100 60.0\n199 120.0 100 180.0\n")
    plt.figure()
    M.plot_series(str(tmp_path / "loss.series.txt"))
    line = plt.gca().lines[-1]
    assert list(line.get_xdata()) == [0, 1, 2] and list(line.get_ydata()) == [10, 9, 8]
    M.plot_time_elapsed(str(tmp_path / "t.timer.txt"), unit="m")
    assert list(plt.gca().lines[-1].get_ydata()) == [1.0, 2.0]
    M.plot_time_elapsed(str(tmp_path / "t.timer.txt"), elapsed=True, unit="h")
    np.testing.assert_allclose(plt.gca().lines[-1].get_ydata(), [60 / 3600, 180 / 3600])
    with pytest.raises(ValueError, match="unit"):
        M.plot_time_elapsed(str(tmp_path / "t.timer.txt"), unit="x")
    plt.close("all")
