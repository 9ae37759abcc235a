"""nablite train --context: the tutorial's models computed on the simulated device
give the CPU's losses and parameters; a device context without CuPy is a one-line
error before anything is written."""
import contextlib
import io

import numpy as np
import pytest

import nablite as nn
from nablite import backend
from nablite.train import train_tutorial_model

pytest.importorskip("h5py")


def _run(model, context, out):
    result = train_tutorial_model(model, steps=12, batch_size=16, seed=3, out=str(out),
                                  progress=False, context=context)
    params = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    return result, params


@pytest.mark.host_context
@pytest.mark.parametrize("model", ["cnn", "rnn", "siamese"])
def test_device_context_trains_as_the_cpu(model, tmp_path, monkeypatch, fresh_parameters):
    cpu, cpu_params = _run(model, "cpu", tmp_path / "cpu")
    monkeypatch.setattr(backend, "_sim", True)
    dev, dev_params = _run(model, "cudnn", tmp_path / "dev")
    np.testing.assert_allclose([v for _, v in dev["loss"]], [v for _, v in cpu["loss"]],
                               rtol=1e-5, atol=1e-6)
    assert dev["summary"][0].endswith(", context cudnn")
    assert not cpu["summary"][0].endswith("context cpu")
    assert dev_params.keys() == cpu_params.keys()
    for k in cpu_params:
        np.testing.assert_allclose(dev_params[k], cpu_params[k], rtol=1e-4, atol=1e-6,
                                   err_msg=k)
    assert abs(dev["test_accuracy"] - cpu["test_accuracy"]) <= 1 / 297
    assert nn.get_current_context().backend_name == "cpu"  # the run's context is undone


@pytest.mark.host_context
def test_device_context_without_cupy_is_a_one_line_error(tmp_path, monkeypatch):
    from nablite import cli
    monkeypatch.setattr(backend, "_sim", False)
    monkeypatch.setattr(backend, "cupy", None)
    err = io.StringIO()
    out = tmp_path / "never"
    with contextlib.redirect_stderr(err):
        rc = cli.main(["train", "cnn", "--context", "cudnn", "--no-progress", "-o", str(out)])
    assert rc == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nablite train: error: --context cudnn:")
    assert "needs CuPy" in lines[0] and "nablite[cuda13]" in lines[0]
    assert not out.exists()  # refused before the output folder was made
