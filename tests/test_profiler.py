"""nablite.utils.profiler.GraphProfiler: a row per function in forward and
backward, the whole-graph and training entries, and the CSV (structure only;
no timing is asserted)."""
import csv
import io

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.utils.profiler import (GraphProfiler, GraphProfilerCsvWriter, ProfileStat,
                                    convert_time_scale)


@pytest.fixture
def loss():
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).randn(2, 3, 5, 5))
    h = F.relu(PF.convolution(x, 2, (3, 3), name="c1"))
    yield F.mean(PF.affine(h, 3, name="fc"))
    nn.clear_parameters()


def test_profiles_each_function_and_training(loss):
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    w = nn.get_parameters()["fc/affine/W"]
    before = w.d.copy()
    p = GraphProfiler(loss, device_id="0", ext_name="cpu", solver=solver, n_run=2)
    p.run()
    r = p.get_result()
    names = ["Convolution", "ReLU", "Affine", "Mean"]
    for direction in ("forward", "backward"):
        assert [s.function_name for s in r[direction]] == names
        assert all(isinstance(s, ProfileStat) and 1 <= s.n_run <= 2 for s in r[direction])
        float(r[direction][0].mean_time)
    assert r["forward"][0].parameter_scope == "c1/conv"
    assert r["forward"][1].parameter_scope is None
    assert r["forward"][2].inputs_shape == [(2, 2, 3, 3), (18, 3), (3,)]
    assert dict(r["forward"][0].args_info)["pad"] == [0, 0]
    assert {"forward_all", "backward_all", "training"} <= set(r)
    assert not np.array_equal(w.d, before)  # training steps ran the solver


def test_csv_like_nnabla(loss):
    p = GraphProfiler(loss, device_id="0", ext_name="cpu", n_run=1, time_scale="u")
    p.run()
    out = io.StringIO()
    GraphProfilerCsvWriter(p, out).write()
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["num. of run", "1"] and rows[3] == ["time scale", "u"]
    header = rows.index(["parameter_scope", "function_name", "inputs_shape", "args_info",
                         "forward", "backward", "forward_n_run", "backward_n_run"])
    body = rows[header + 1:header + 5]
    assert [r[1] for r in body] == ["Convolution", "ReLU", "Affine", "Mean"]
    assert body[0][0] == "c1/conv" and body[2][3] == "base_axis: 1"
    totals = {x[0]: x[1] for x in rows if len(x) == 2}
    assert totals["forward all"] == p.result["forward_all"] and totals["forward_all_n_run"] == "1"
    assert not [x for x in rows if x and x[0].startswith("training")]  # no solver given
    assert rows[-1] == ["backward_all_n_run", "1"] and rows[-3] == []  # no empty row at the end


def test_bad_arguments(loss):
    with pytest.raises(ValueError, match="n_run"):
        GraphProfiler(loss, "0", "cpu", n_run=0)
    with pytest.raises(ValueError, match="ext_name"):
        GraphProfiler(loss, "0", "tpu")
    with pytest.raises(ValueError, match="format"):
        GraphProfiler(loss, "0", "cpu", time_scale="h")
    with pytest.raises(ValueError, match="run the GraphProfiler first"):
        GraphProfilerCsvWriter(GraphProfiler(loss, "0", "cpu"), io.StringIO()).write()
    assert convert_time_scale(2.0, "u") == 2e6


@pytest.mark.parametrize("accum", [False, True])
def test_profiles_on_the_device(on_device, accum):
    """Each function's backward is run on its device's arrays (the graph's own,
    not host copies), accumulating into the inputs' gradients there if asked."""
    from nablite import backend
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(np.random.RandomState(1).randn(2, 3, 5, 5),
                                     need_grad=True)
    loss = F.mean(PF.affine(F.relu(PF.convolution(x, 2, (3, 3), name="c1")), 3, name="fc"))
    p = GraphProfiler(loss, device_id="0", ext_name="cudnn", n_run=2, backward_accum=accum)
    p.run()
    assert [s.function_name for s in p.result["backward"]] == ["Convolution", "ReLU",
                                                              "Affine", "Mean"]
    w = nn.get_parameters()["fc/affine/W"]
    assert backend.is_device_array(w.data._arr) and backend.is_device_array(x.grad._arr)
    assert np.isfinite(x.g).all() and x.g.shape == x.shape
    nn.clear_parameters()
