"""Bad monitor input: a save path that is not a path, a monitor that is not one,
values that are not real numbers."""
import os

import numpy as np
import pytest

import nablite as nn
import nablite.monitor as M
from nablite.monitor import (Monitor, MonitorImage, MonitorImageTile, MonitorSeries,
                             MonitorTimeElapsed)


@pytest.mark.parametrize("bad", [None, 3, ["a"]], ids=["None", "int", "list"])
def test_monitor_save_path_must_be_a_path(bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match="^Monitor: save_path must be a str or path-like"):
        Monitor(bad)
    assert os.listdir(tmp_path) == []  # no folder named 'None'


def test_monitor_accepts_path_objects(tmp_path):
    m = Monitor(tmp_path / "logs")
    assert m.save_path == str(tmp_path / "logs") and os.path.isdir(m.save_path)


@pytest.mark.parametrize("cls", [MonitorSeries, MonitorTimeElapsed, MonitorImage,
                                 MonitorImageTile], ids=lambda c: c.__name__)
def test_a_monitor_argument_that_is_not_a_monitor(cls, tmp_path):
    with pytest.raises(TypeError, match=rf"^{cls.__name__}: monitor must be a Monitor"):
        cls("x", str(tmp_path))


@pytest.mark.parametrize("bad", [None, "1.0", np.array([1j]), np.array(["a"])],
                         ids=["None", "str", "complex", "str-array"])
def test_series_values_must_be_real_numbers(bad, tmp_path):
    s = MonitorSeries("loss", Monitor(tmp_path), interval=2)
    with pytest.raises(TypeError, match=r"^MonitorSeries\('loss'\).add: value"):
        s.add(0, bad)
    s.add(0, 1.0)
    s.add(1, nn.Variable.from_numpy_array(np.array(3.0)))
    assert open(os.path.join(str(tmp_path), "loss.series.txt")).read() == "1 2\n"


def test_image_values_must_be_real_numbers(tmp_path):
    m = MonitorImage("img", Monitor(tmp_path), interval=1)
    with pytest.raises(TypeError, match="^MonitorImage.add: value has dtype complex"):
        m.add(0, np.ones((1, 1, 2, 2), complex))


@pytest.mark.parametrize("make,exc,match", [
    (lambda m: M.MonitorSeries(None, m), TypeError,
     r"^MonitorSeries: name must be a str, got NoneType None"),
    (lambda m: M.MonitorSeries("a", m, interval="a"), TypeError,
     r"^MonitorSeries\('a'\): interval must be a number, got str 'a'"),
    (lambda m: M.MonitorTimeElapsed("t", m, interval=None), TypeError,
     r"^MonitorTimeElapsed\('t'\): interval must be a number, got NoneType"),
    (lambda m: M.MonitorImage("i", m, interval=0), ValueError,
     r"^MonitorImage\('i'\): interval must be an integer >= 1, got 0"),
    (lambda m: M.MonitorImage("i", m, interval=1.5), TypeError,
     r"^MonitorImage\('i'\): interval must be an integer >= 1, got float 1.5"),
    (lambda m: M.MonitorImageTile("i", m, num_images=0), ValueError,
     r"^MonitorImageTile\('i'\): num_images must be an integer >= 1, got 0"),
    (lambda m: M.MonitorImage("i", m, normalize_method="minmax"), TypeError,
     r"^MonitorImage\('i'\): normalize_method must be None or a callable"),
])
def test_monitor_arguments_are_checked_when_made(make, exc, match, tmp_path):
    """NNabla 1.39: a None name is an AttributeError, interval=0 for images a
    ZeroDivisionError at the first add, num_images=0 a NumPy "zero-size array"
    error. (Series and timers take any number as interval, as NNabla's.)"""
    with pytest.raises(exc, match=match):
        make(M.Monitor(str(tmp_path)))


def test_monitor_indices_must_be_numbers(tmp_path):
    m = M.Monitor(str(tmp_path))
    series = M.MonitorSeries("a", m, interval=2, verbose=False)
    series.add(0, 1.0)
    for index in ("x", None):
        with pytest.raises(TypeError, match=r"^MonitorSeries\('a'\).add: index must be a number"):
            series.add(index, 3.0)
    assert series.buf == [1.0]  # the refused value was not stored
    with pytest.raises(TypeError, match=r"^MonitorTimeElapsed\('t'\).add: index must be a"):
        M.MonitorTimeElapsed("t", m).add("x")
    with pytest.raises(TypeError, match=r"^MonitorImage\('i'\).add: index must be a number"):
        M.MonitorImage("i", m, interval=2).add("x", np.zeros((1, 1, 2, 2)))
    every = M.MonitorSeries("b", m, interval=0, verbose=False)  # as NNabla: every add flushes
    for i in range(3):
        every.add(i, float(i))
    assert open(every.path).read().split() == ["0", "0", "1", "1", "2", "2"]
