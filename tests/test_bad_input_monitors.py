"""Bad monitor input: a save path that is not a path, a monitor that is not one,
values that are not real numbers."""
import os

import numpy as np
import pytest

import nablite as nn
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
