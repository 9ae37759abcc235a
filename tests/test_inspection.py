"""nablite.utils.inspection: pprint's text and statistics, NanInfTracer's
first bad function in forward and backward, TimeProfiler's tables (their
structure; no timing is asserted)."""
import csv

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
from nablite.utils.inspection import NanInfTracer, TimeProfiler, pprint


@pytest.fixture
def net():
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).randn(2, 3), need_grad=True)
    h = PF.affine(x, 4, name="fc")
    y = F.mean(F.tanh(h))
    yield x, h, y
    nn.clear_parameters()


def test_pprint_lists_functions_in_order(net, capsys):
    x, h, y = net
    pprint(y)
    out = capsys.readouterr().out
    assert out.index("fc/affine/Affine(Affine)") < out.index("Tanh(Tanh)") < out.index("Mean(Mean)")
    assert "\tDepth = 1" in out and "\tInputs: [(2, 3), (3, 4), (4,)]" in out
    assert "\tArgs: ['base_axis=1']" in out
    assert "\tBackward Inputs: [True, True, True]" in out


def test_pprint_summary_is_numpy_statistics(net, capsys):
    x, h, y = net
    p = pprint(y, forward=True, backward=True, summary=True, hidden=True, printer=True)
    out = capsys.readouterr().out
    tanh_part = out[out.index("Tanh(Tanh)"):out.index("Mean(Mean)")]
    med = tanh_part.split("Output Data:")[1].split("Med:  ")[1].split("\n")[0]
    np.testing.assert_allclose(eval(med)[0], np.median(np.tanh(h.d)), rtol=1e-6)
    assert [f["name"] for f in p.functions] == ["fc/affine/Affine(Affine)", "Tanh(Tanh)",
                                                "Mean(Mean)"]
    assert p.functions[1]["inputs"][0] is h
    assert pprint(y) is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_inf_tracer_names_the_first_function_in_forward(capsys):
    x = nn.Variable.from_numpy_array(np.array([[0.0, 1.0]]))
    y = F.sum(F.exp(F.log(x)))  # log(0) = -inf; exp(-inf) = 0 hides it downstream
    nit = NanInfTracer()
    with pytest.raises(ValueError, match=r"forward.*1st output of function 'Log'.*1 Inf"):
        with nit.trace():
            y.forward(function_post_hook=nit.forward_post_hook)
    quiet = NanInfTracer(trace_inf=False)
    with quiet.trace():
        y.forward(function_post_hook=quiet.forward_post_hook)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_inf_tracer_in_backward():
    x = nn.Variable.from_numpy_array(np.array([0.0, 4.0]), need_grad=True)
    y = F.sum(F.mul_scalar(F.pow_scalar(x, 0.5), 2.0))  # d sqrt(x)/dx at 0 is inf
    nit = NanInfTracer()
    y.forward(function_post_hook=nit.forward_post_hook)
    y.backward(function_post_hook=nit.backward_post_hook)
    with pytest.raises(ValueError, match=r"backward.*input gradient of function 'PowScalar'"):
        nit.check()


def test_nan_inf_tracer_passes_clean_graphs(net):
    x, h, y = net
    nit = NanInfTracer()
    with nit.trace():
        y.forward(function_post_hook=nit.forward_post_hook)
        y.backward(function_post_hook=nit.backward_post_hook)
    assert list(nit.key_to_stat_fwd)[0].info.type_name == "Affine"
    with pytest.raises(NotImplementedError, match="forward_post_hook"):
        nit.post_hook
    assert NanInfTracer(trace_nan=False, trace_inf=False).forward_post_hook is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_inf_tracer_counts_on_the_device(on_device):
    """On a device the values are counted there: the outputs and gradients stay
    on the device (no copy to the host and back between the functions)."""
    from nablite import backend
    x = nn.Variable.from_numpy_array(np.array([0.0, 4.0, -1.0]), need_grad=True)
    h = F.pow_scalar(x, 0.5)  # sqrt(-1) = nan forward; d sqrt(x)/dx at 0 = inf
    y = F.sum(F.mul_scalar(h, 2.0))
    nit = NanInfTracer()
    y.forward(function_post_hook=nit.forward_post_hook)
    assert backend.is_device_array(h.data._arr) and backend.is_device_array(y.data._arr)
    y.backward(function_post_hook=nit.backward_post_hook)
    stat = next(iter(nit.key_to_stat_fwd.values()))
    assert stat["name"] == "PowScalar" and stat["nan"] == [1] and stat["inf"] == [0]
    with pytest.raises(ValueError, match=r"forward.*1st output of function 'PowScalar'.*1 NaN"):
        nit.check()
    nit.key_to_stat_fwd.clear()
    with pytest.raises(ValueError, match=r"backward.*input gradient of function 'PowScalar'"
                                         r" \(rank \d+\) has 1 NaN and 1 Inf"):
        nit.check()
    assert backend.is_device_array(x.grad._arr)


def test_time_profiler_tables(net, tmp_path, capsys):
    x, h, y = net
    tp = TimeProfiler("cpu", "0")
    for _ in range(3):
        with tp.scope("forward"):
            y.forward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
        with tp.scope("backward"):
            y.backward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
        tp.calc_elapsed_time(["forward", "backward", "summary"])
    avg = tp.average(start_index=1)
    assert [f.info.type_name for f in avg["forward"]] == ["Affine", "Tanh", "Mean"]
    assert [f.info.type_name for f in avg["backward"]] == ["Mean", "Tanh", "Affine"]
    assert {r["num"] for r in avg["forward"].values()} == {2}
    assert set(avg["summary"]) == {"forward", "backward"}
    tp()
    assert "### forward ###" in capsys.readouterr().out
    tp.to_csv(tmp_path)
    summary = list(csv.DictReader(open(tmp_path / "profile_summary.csv")))
    assert [r["scope"] for r in summary] == ["forward", "backward"]
    assert all(r["num"] == "2" and r["scale"] == "ms" for r in summary)
    detail = list(csv.DictReader(open(tmp_path / "profile_detail.csv")))
    assert len(detail) == 3 and {"time_forward", "time_backward", "num_forward"} <= set(detail[0])


def test_time_profiler_errors(net):
    with pytest.raises(NotImplementedError, match="TimeProfiler.*'tpu'"):
        TimeProfiler("tpu", "0")
    tp = TimeProfiler("cpu", "0")
    with pytest.raises(ValueError, match="calc_elapsed_time.*'nowhere'"):
        tp.calc_elapsed_time("nowhere")
    with pytest.raises(ValueError, match="no scope 'x'"):
        tp.call_post_hook("x", "k")
