"""Quantization-aware training's converters (QuantizeNonQNNToRecordingModifier,
QuantizeRecordingToTrainingModifier) and nablite.utils.qnn: the graphs, recorded
ranges and outputs NNabla 1.39 makes (where it is installed), and a NumPy
reference of the recording and fake-quantized forward that always runs."""
import numpy as np
import pytest

import nablite as nn
import nablite.experimental.graph_converters as GC
import nablite.functions as F
import nablite.parametric_functions as PF
from nablite.utils import qnn
from nnabla_parity import run_in_nnabla


@pytest.fixture(autouse=True)
def _fresh():
    nn.clear_parameters()
    yield
    nn.clear_parameters()


# The two conversions of quantization-aware training, as source both libraries run
# (the parity case below, and _convert for the NumPy-reference tests): a float graph
# to one with recorders, then (recorders removed) to the fake-quantized training graph.
_CONVERT = """
def to_recording(y, cfg, **kwargs):
    ranks = qnn.FunctionsRankRecorder()
    y.visit(ranks)
    return GC.GraphConverter([GC.QuantizeNonQNNToRecordingModifier(
        ranks.functions_ranks, config=cfg, **kwargs)]).convert(y)


def to_training(rec, cfg):
    plain = GC.GraphConverter([GC.RemoveFunctionModifier(rm_funcs=[
        cfg.recorder_activation().name(), cfg.recorder_weight().name()])]).convert(rec)
    ranks = qnn.FunctionsRankRecorder()
    plain.visit(ranks)
    return GC.GraphConverter([GC.QuantizeRecordingToTrainingModifier(
        ranks.functions_ranks, config=cfg)]).convert(plain)
"""
_QAT = {"GC": GC, "qnn": qnn}
exec(_CONVERT, _QAT)

# One source for both libraries: build a net, record three batches, convert to the
# training graph, forward once. RESULT: function types of both graphs, outputs, the
# parameters the converters made (scope '<type>-<rank>').
_SOURCE = """
import numpy as np
rng = np.random.RandomState(0)
RESULT = []
for net, position in CASES:
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 8, 8).astype(np.float32))
    if net == "res":  # a residual block: Add2 of a deep branch and a shallow one
        h0 = F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="c1"))
        a = PF.convolution(F.relu(PF.convolution(h0, 4, (3, 3), pad=(1, 1), name="c2")),
                           4, (3, 3), pad=(1, 1), name="c3")
        y = PF.affine(F.relu(F.add2(a, h0)), 5, name="fc")
    else:
        h = F.relu(PF.convolution(x, 4, (3, 3), name="c1"))
        h = F.relu(PF.convolution(h, 4, (3, 3), name="c2"))
        y = PF.affine(F.relu(PF.affine(h, 6, name="fc1")), 5, name="fc2")
    for k, p in sorted(nn.get_parameters().items()):
        p.d = rng.randn(*p.shape).astype(np.float32) * 0.5
    cfg = qnn.QATConfig()
    cfg.recorder_position = getattr(cfg.RecorderPosition, position)
    if net == "seq":
        cfg.recorder_weight = qnn.AbsMaxRecorderCallback
        cfg.recorder_activation = qnn.MinMaxMvaRecorderCallback
        cfg.narrow_range = True
        cfg.pow2 = cfg.RoundingMethod.NOTROUND
    rec = to_recording(y, cfg, training=True)
    out = {"rec_types": []}
    rec.visit(lambda f: out["rec_types"].append(f.info.type_name))
    for _ in range(3):
        x.d = rng.randn(2, 3, 8, 8).astype(np.float32)
        rec.forward()
    out["rec_y"] = rec.d.tolist()
    tr = to_training(rec, cfg)
    out["tr_types"] = []
    tr.visit(lambda f: out["tr_types"].append(f.info.type_name))
    tr.forward()
    out["tr_y"] = tr.d.tolist()
    out["params"] = {k: v.d.ravel().astype(float).tolist()
                     for k, v in nn.get_parameters(grad_only=False).items()
                     if "-" in k.split("/")[0]}
    RESULT.append(out)
"""

# Graphs whose choices do not depend on the order of a variable's function
# references (NNabla keeps them in an order of its own, not the graph's: with
# RecorderPosition.BOTH a residual block's ranges then go to other scopes).
PARITY_CASES = [("res", "BEFORE"), ("seq", "BEFORE"), ("seq", "BOTH")]


def _run_here(cases):
    ns = {"nn": nn, "F": F, "PF": PF, "GC": GC, "qnn": qnn, "CASES": cases}
    exec(_CONVERT + _SOURCE, ns)
    return ns["RESULT"]


def test_same_graphs_ranges_and_outputs_as_nnabla():
    want = run_in_nnabla("import nnabla as nn\nimport nnabla.functions as F\n"
                         "import nnabla.parametric_functions as PF\n"
                         "import nnabla.experimental.graph_converters as GC\n"
                         "from nnabla.utils import qnn\n"
                         "import warnings\nwarnings.simplefilter('ignore')\n"
                         + _CONVERT + _SOURCE,
                         CASES=PARITY_CASES)
    if want is None:
        pytest.skip("NNabla 1.39 is not installed")
    with np.errstate(all="ignore"):
        got = _run_here(PARITY_CASES)
    for case, w, g in zip(PARITY_CASES, want, got):
        assert g["rec_types"] == w["rec_types"], case
        assert g["tr_types"] == w["tr_types"], case
        assert "QuantizeLinear" in g["tr_types"] and "DequantizeLinear" in g["tr_types"]
        np.testing.assert_allclose(g["rec_y"], w["rec_y"], rtol=1e-5, atol=1e-5, err_msg=str(case))
        np.testing.assert_allclose(g["tr_y"], w["tr_y"], rtol=1e-5, atol=1e-5, err_msg=str(case))
        assert sorted(g["params"]) == sorted(w["params"]), case
        for k in w["params"]:
            np.testing.assert_allclose(g["params"][k], w["params"][k], rtol=1e-5, atol=1e-7,
                                       err_msg=f"{case} {k}")


# -- NumPy reference -------------------------------------------------------------------
def _fake_quant(v, s, lo=-128, hi=127):
    return np.clip(np.round(v / s), lo, hi) * s  # np.round: half to even


def _pow2(s):
    return 2.0 ** np.round(np.log2(s))


def _mlp():
    rng = np.random.RandomState(1)
    x = nn.Variable.from_numpy_array(rng.randn(4, 6).astype(np.float32))
    y = PF.affine(F.relu(PF.affine(x, 5, name="fc1")), 3, name="fc2")
    for k, p in sorted(nn.get_parameters().items()):
        p.d = rng.randn(*p.shape).astype(np.float32)
    return x, y


def _convert(y, cfg, forwards=4):
    rec = _QAT["to_recording"](y, cfg)
    for _ in range(forwards):
        rec.forward()
    return rec, _QAT["to_training"](rec, cfg)


def _types(y):
    out = []
    y.visit(lambda f: out.append(f.info.type_name))
    return out


def test_recording_and_training_against_numpy():
    x, y = _mlp()
    params = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    W1, b1, W2, b2 = (params[k] for k in ("fc1/affine/W", "fc1/affine/b",
                                           "fc2/affine/W", "fc2/affine/b"))
    y.forward()
    cfg = qnn.QATConfig()  # MaxMva activations, MinMaxMinMax weights, pow2 scales
    rec, tr = _convert(y, cfg, forwards=4)
    # the last affine (an output layer) is left alone; recorders pass values through
    assert _types(rec) == ["MaxMvaRecorder", "MinMaxMinMaxRecorder", "MinMaxMinMaxRecorder",
                           "Affine", "MaxMvaRecorder", "ReLU", "Affine"]
    np.testing.assert_allclose(rec.d, y.d, rtol=1e-6)
    P = {k: v.d for k, v in nn.get_parameters(grad_only=False).items()}
    h1 = x.d @ W1 + b1
    mva = 1 - 0.99 ** 4  # four updates from 0 of the same batch's max
    np.testing.assert_allclose(P["Affine-0/M-x0"], [[x.d.max() * mva]], rtol=1e-5)
    np.testing.assert_allclose(P["ReLU-1/M-x0"], [[h1.max() * mva]], rtol=1e-5)
    np.testing.assert_allclose(P["Affine-0/m-w0"], [[min(0, W1.min())]], rtol=1e-6)
    np.testing.assert_allclose(P["Affine-0/M-w0"], [[max(0, W1.max())]], rtol=1e-6)
    np.testing.assert_allclose(P["Affine-0/M-w1"], [max(0, b1.max())], rtol=1e-6)

    assert _types(tr) == ["QuantizeLinear", "DequantizeLinear", "QuantizeLinear",
                          "DequantizeLinear", "QuantizeLinear", "DequantizeLinear", "Affine",
                          "QuantizeLinear", "DequantizeLinear", "ReLU", "Affine"]
    sx = _pow2(2 * x.d.max() * mva / 255)
    sw = _pow2((max(0, W1.max()) - min(0, W1.min())) / 255)
    sh = _pow2(2 * h1.max() * mva / 255)
    P = {k: v.d for k, v in nn.get_parameters(grad_only=False).items()}
    np.testing.assert_allclose(P["Affine-0/scale-b"], [sx * sw], rtol=1e-6)
    h = _fake_quant(x.d, sx) @ _fake_quant(W1, sw) + _fake_quant(b1, sx * sw)
    want = np.maximum(_fake_quant(h, sh), 0) @ W2 + b2
    tr.forward()
    np.testing.assert_allclose(tr.d, want, rtol=1e-5, atol=1e-5)
    assert np.abs(tr.d - y.d).max() > 1e-4  # the quantization does change the output


def test_skip_bias_narrow_range_and_recorders_after():
    x, y = _mlp()
    b1 = nn.get_parameters()["fc1/affine/b"].d.copy()
    cfg = qnn.QATConfig()
    cfg.skip_bias = True
    cfg.narrow_range = True
    cfg.recorder_position = cfg.RecorderPosition.BOTH
    cfg.skip_outputs_layers = []
    rec, tr = _convert(y, cfg, forwards=1)
    # BOTH: a recorder after each recorded function's output, named for its consumer
    assert _types(rec).count("MaxMvaRecorder") == 4
    assert "Affine-2/M-x0" in nn.get_parameters(grad_only=False)
    tr_types = _types(tr)
    # quantized: x, both weights, fc1's and relu's outputs; the biases stay float
    assert tr_types == ["QuantizeLinear", "DequantizeLinear", "QuantizeLinear",
                        "DequantizeLinear", "Affine", "QuantizeLinear", "DequantizeLinear",
                        "ReLU", "QuantizeLinear", "DequantizeLinear", "QuantizeLinear",
                        "DequantizeLinear", "Affine"]
    biases = [f.inputs[2] for f in _graph(tr) if f.info.type_name == "Affine"]
    assert [b.parent for b in biases] == [None, None]
    np.testing.assert_array_equal(biases[0].d, b1)
    q = [f for f in _graph(tr) if f.info.type_name == "QuantizeLinear"][0]
    assert q.info.args["narrow_range"] is True and q.info.args["round_mode"] == "HALF_TO_EVEN"


def _graph(y):
    out = []
    y.visit(out.append)
    return out


@pytest.mark.parametrize("callback, ranges", [
    (qnn.MinMaxMinMaxRecorderCallback, lambda seen, d: (min(0, seen.min()), max(0, seen.max()))),
    (qnn.MinMaxMvaRecorderCallback, None),
    (qnn.AbsMaxRecorderCallback, lambda seen, d: (max(0, np.abs(seen).max()),)),
    (qnn.MaxMaxRecorderCallback, lambda seen, d: (max(0, seen.max()),)),
    (qnn.MaxMvaRecorderCallback, None),
])
def test_recorders_against_numpy(callback, ranges):
    rng = np.random.RandomState(3)
    batches = [rng.randn(2, 3).astype(np.float32) * (i + 1) for i in range(3)]
    x = nn.Variable((2, 3), need_grad=True)
    with nn.parameter_scope("s"):
        y = callback()(x, name="a")
    assert y.parent.info.type_name == callback().name() == callback.__name__[:-8]
    moving = [np.float32(0), np.float32(0)]
    for d in batches:
        x.d = d
        y.forward()
        np.testing.assert_array_equal(y.d, d)
        moving = [np.float32(0.99) * moving[0] + np.float32(0.01) * d.min(),
                  np.float32(0.99) * moving[1] + np.float32(0.01) * d.max()]
    seen = np.concatenate(batches)
    P = nn.get_parameters(grad_only=False)
    if ranges is None:  # moving averages, decay 0.99
        want = tuple(moving) if "MinMax" in callback.__name__ else (moving[1],)
    else:
        want = ranges(seen, batches)
    keys = ["s/m-a", "s/M-a"] if len(want) == 2 else ["s/M-a"]
    for k, w in zip(keys, want):
        np.testing.assert_allclose(P[k].d, [[w]], rtol=1e-5)
    y.backward(np.ones((2, 3), np.float32))  # straight through
    np.testing.assert_array_equal(x.g, np.ones((2, 3)))
    with nn.parameter_scope("s"):
        scale, zp = callback.get_scale_zeropoint(x, round_method="NOTROUND", name="a")
        none = callback.get_scale_zeropoint(x, name="nothing")
    assert none == (None, None)
    width = (want[1] - want[0]) if len(want) == 2 else 2 * want[0]
    np.testing.assert_allclose(scale.d, [[width / 255]], rtol=1e-5)
    np.testing.assert_array_equal(zp.d, [[0]])


def test_recorders_update_their_ranges_on_the_device(on_device):
    from nablite import backend
    rng = np.random.RandomState(4)
    batches = [rng.randn(2, 3).astype(np.float32) * (i + 1) for i in range(3)]
    x = nn.Variable((2, 3), need_grad=True)
    with nn.parameter_scope("s"):
        y = qnn.MinMaxMinMaxRecorderCallback()(x, name="a")
        z = qnn.MaxMvaRecorderCallback()(x, name="b")
    loss = F.sum(y + 2 * z)
    mva = np.float32(0)
    for d in batches:
        x.d = d
        loss.forward()
        mva = np.float32(0.99) * mva + np.float32(0.01) * d.max()
    P = nn.get_parameters(grad_only=False)
    for k in ("s/m-a", "s/M-a", "s/M-b"):  # written in place where the graph runs
        assert backend.is_device_array(P[k].data._arr), k
    seen = np.concatenate(batches)
    np.testing.assert_allclose(P["s/m-a"].d, [[min(0, seen.min())]])
    np.testing.assert_allclose(P["s/M-a"].d, [[max(0, seen.max())]])
    np.testing.assert_allclose(P["s/M-b"].d, [[mva]], rtol=1e-6)
    np.testing.assert_allclose(loss.d, 3 * batches[-1].sum(), rtol=1e-5)
    x.grad.zero()
    loss.backward()  # straight through both recorders
    np.testing.assert_array_equal(x.g, np.full((2, 3), 3, np.float32))


def test_scheduler_switches_the_graph():
    x, y = _mlp()
    cfg = qnn.QATConfig()
    cfg.niter_to_recording, cfg.niter_to_training = 1, 3
    sched = qnn.QATScheduler(config=cfg)
    sched(y)
    states = []
    for _ in range(4):
        sched.step()
        y.forward()
        states.append(sched.state)
    assert states == [qnn.QNNState.NON_QNN, qnn.QNNState.RECORDING, qnn.QNNState.RECORDING,
                      qnn.QNNState.TRAINING]
    assert "QuantizeLinear" in _types(y) and "MaxMvaRecorder" not in _types(y)
    with pytest.raises(ValueError, match="niter_to_training"):
        bad = qnn.QATConfig()
        bad.niter_to_recording, bad.niter_to_training = 5, 5
        qnn.QATScheduler(config=bad)


def test_bad_configurations():
    x, y = _mlp()
    with pytest.raises(ValueError, match="QuantizeNonQNNToRecordingModifier: config"):
        GC.QuantizeNonQNNToRecordingModifier({})
    cfg = qnn.QATConfig()
    cfg.precision_mode = qnn.PrecisionMode.QNN
    with pytest.raises(NotImplementedError, match="only PrecisionMode.SIM_QNN"):
        GC.QuantizeRecordingToTrainingModifier({}, config=cfg)
    with pytest.raises(ValueError, match="MaxMvaRecorder: a range input"):
        qnn.max_mva_recorder(x, nn.Variable((1, 2)))


def test_nnablas_module_paths_under_nablite_run(tmp_path):
    """Scripts importing the converters from NNabla's per-modifier modules (and
    nnabla.utils.qnn) run under ``nablite run`` with nablite's classes."""
    import subprocess
    import sys
    (tmp_path / "s.py").write_text(
        "from nnabla.experimental.graph_converters.identity import IdentityModifier\n"
        "from nnabla.experimental.graph_converters.quantize import (\n"
        "    QuantizeNonQNNToRecordingModifier, QuantizeRecordingToTrainingModifier)\n"
        "import nnabla.experimental.graph_converters.batch_normalization_folding as bnf\n"
        "from nnabla.utils.qnn import QATConfig, QATScheduler, MaxMvaRecorderCallback\n"
        "import nnabla.experimental.graph_converters as GC\n"
        "print(IdentityModifier is GC.IdentityModifier,\n"
        "      bnf.BatchNormalizationFoldingModifier is GC.BatchNormalizationFoldingModifier,\n"
        "      QuantizeRecordingToTrainingModifier.__module__, QATConfig.__module__)\n")
    proc = subprocess.run([sys.executable, "-m", "nablite.cli", "run", "s.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True",
                                   "nablite.experimental.graph_converters.quantization",
                                   "nablite.utils.qnn"]
    import nablite.experimental.graph_converters.prune as prune
    assert prune.PruningModifier is GC.PruningModifier
