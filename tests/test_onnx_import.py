"""nablite.onnx.import_model: PyTorch-made ONNX files (an MLP, a CNN with batch
normalization, a residual block, an Elman RNN, ...) give PyTorch's outputs —
from the committed fixtures without torch (TorchScript exporter at opsets 11,
13, 17; dynamo exporter at 18, 20), and exported afresh when torch is
installed — and one small graph per supported operator (and per later or
earlier form of one) gives onnxruntime's output."""
import functools
import glob
import os
import warnings

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nablite.onnx import OnnxImportError, export, import_model, import_rules  # noqa: E402

from _helpers import load_fixture_maker  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "onnx")
rng = np.random.RandomState(0)


pytestmark = pytest.mark.usefixtures("fresh_parameters")


@functools.lru_cache(maxsize=None)
def _fixture_maker():
    return load_fixture_maker("make_onnx_fixtures")


def run_imported(path, x, **kwargs):
    kwargs.setdefault("batch_size", x.shape[0])  # for files with a dynamic batch axis
    net = import_model(path, **kwargs)
    net.inputs["x"].d = x
    y = net.outputs["y"]
    y.forward()
    return y.d, net


FIXTURE_FILES = sorted(glob.glob(os.path.join(FIXTURES, "*.onnx")))


def test_fixtures_are_there():
    names = {os.path.basename(p) for p in FIXTURE_FILES}
    for model in ("mlp", "cnn_bn", "residual", "rnn", "sequences", "tokens", "decoder",
                  "encoder", "flattening"):
        for opset in (11, 13, 17):
            assert f"{model}_opset{opset}.onnx" in names or (model == "encoder" and opset < 14)
        for opset in (18, 20):  # the dynamo exporter writes the weights beside the file
            assert {f"{model}_dynamo{opset}.onnx", f"{model}_dynamo{opset}.onnx.data"} <= \
                set(os.listdir(FIXTURES))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=os.path.basename)
def test_pytorch_fixture(path):
    data = np.load(path[:-len(".onnx")] + ".npz")
    y, net = run_imported(path, data["x"])
    np.testing.assert_allclose(y, data["y"], rtol=1e-4, atol=1e-5)
    assert net.parameters and all(k in nn.get_parameters(grad_only=False)
                                  for k in net.parameters)


NNABLA_FILES = sorted(glob.glob(os.path.join(HERE, "fixtures", "onnx_nnabla", "*.onnx")))


@pytest.mark.parametrize("path", NNABLA_FILES, ids=os.path.basename)
def test_nnabla_converter_file(path):
    """Files NNabla 1.39's converter wrote at its default opset 11 (``nnabla_cli
    convert net.nnp net.onnx`` on small networks; the ``.npz`` holds NNabla's
    inputs x0, x1, ... and output y) give NNabla's output."""
    data = np.load(path[:-len(".onnx")] + ".npz")
    assert onnx.load(path).opset_import[0].version == 11
    net = import_model(path)
    for k, v in enumerate(net.inputs.values()):
        v.d = data[f"x{k}"]
    (y,) = net.outputs.values()
    y.forward()
    np.testing.assert_allclose(y.d, data["y"], rtol=1e-5, atol=1e-6)


def test_batch_normalization_stays_batch_normalization():
    net = import_model(os.path.join(FIXTURES, "cnn_bn_opset17.onnx"))
    names = {f.info.type_name for f in nn.graph.topological_order(list(net.outputs.values()))}
    assert {"Convolution", "BatchNormalization", "MaxPooling", "Affine"} <= names


@pytest.mark.parametrize("model", ["mlp", "cnn_bn", "residual", "rnn", "sequences", "tokens",
                                   "decoder", "encoder", "flattening"])
@pytest.mark.parametrize("opset", [9, 11, 13, 15, 17, "dynamo18", "dynamo20"])
def test_pytorch_export_live(tmp_path, model, opset):
    pytest.importorskip("torch")
    maker = _fixture_maker()
    dynamo = isinstance(opset, str)
    if dynamo:
        if not maker.has_dynamo_exporter():
            pytest.skip("PyTorch's dynamo exporter needs onnxscript")
        opset = int(opset[len("dynamo"):])
    if opset < maker.min_opset(model):
        pytest.skip(f"PyTorch exports {model} from opset {maker.min_opset(model)} on")
    path, x, expected = maker.export(model, opset, str(tmp_path), seed=opset, dynamo=dynamo)
    y, _ = run_imported(path, x)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_pytorch_folded_batch_norm_and_dynamic_batch(tmp_path):
    torch = pytest.importorskip("torch")
    model, _, _ = _fixture_maker().models()["cnn_bn"]
    x = torch.randn(5, 1, 8, 8)
    path = str(tmp_path / "dyn.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), path, opset_version=17, dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    with pytest.raises(OnnxImportError, match="symbolic dimension 'batch'; pass batch_size="):
        import_model(path)
    y, net = run_imported(path, x.numpy(), batch_size=5)
    with torch.no_grad():
        np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_scope_and_names():
    path = os.path.join(FIXTURES, "mlp_opset17.onnx")
    with nn.parameter_scope("imported"):
        net = import_model(path)
    params = nn.get_parameters(grad_only=False)
    assert "imported/0.weight" not in params  # Flatten is module 0: the first Linear is 1
    w = params["imported/1.weight"]
    model = onnx.load(path)
    stored = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(w.d, stored["1.weight"].T)  # Gemm transB=1 -> (in, out)
    assert list(net.inputs) == ["x"] and list(net.outputs) == ["y"]
    inputs, outputs = net
    assert inputs is net.inputs and outputs is net.outputs
    nn.clear_parameters()
    import_model(path, scope="other")
    assert "other/1.weight" in nn.get_parameters(grad_only=False)


def test_nablite_round_trip(tmp_path):
    """nablite -> ONNX -> nablite gives the same outputs (the tutorial's CNN)."""
    from nablite import tutorial
    x = nn.Variable.from_numpy_array(rng.randn(3, 1, 8, 8).astype(np.float32))
    y = tutorial.cnn(x, test=True)
    for k, v in nn.get_parameters(grad_only=False).items():
        v.d = (np.abs(rng.randn(*v.shape)) + 0.5 if k.endswith("/var")
               else rng.randn(*v.shape) * 0.5).astype(np.float32)
    y.forward()
    export({"y": y}, tmp_path / "cnn.onnx", inputs={"x": x})
    with nn.parameter_scope("back"):
        got, net = run_imported(tmp_path / "cnn.onnx", x.d)
    np.testing.assert_allclose(got, y.d, rtol=1e-5, atol=1e-6)
    assert "back/cnn/conv1/conv/W" in nn.get_parameters(grad_only=False)


# -- one graph per operator, against onnxruntime --------------------------------
def f32(*shape):
    return rng.randn(*shape).astype(np.float32)


def pos(*shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def i64(*values):
    return np.array(values, np.int64)


def graph_case(op, inputs, consts=(), n_out=1, opset=17, order=None, **attrs):
    """A one-node model: ``inputs`` [(name, array)] are graph inputs, ``consts``
    [(name, array)] initializers; the node reads inputs then consts, or the names
    in ``order=[...]`` ("" for an absent optional input)."""
    return {"op": op, "inputs": list(inputs), "consts": list(consts), "n_out": n_out,
            "opset": opset, "attrs": attrs, "order": order}


def make_model(case):
    ins = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
           for n, a in case["inputs"]]
    inits = [numpy_helper.from_array(a, n) for n, a in case["consts"] if n]  # "": absent
    names = case["order"] or [n for n, _ in case["inputs"] + case["consts"]]
    outs = [f"y{i}" for i in range(case["n_out"])]
    nodes = [helper.make_node(case["op"], names, outs, **case["attrs"])]
    if case["op"] in OUTPUT_CAST:
        i = OUTPUT_CAST[case["op"]]
        nodes[0].output[i] = "raw"
        nodes.append(helper.make_node("Cast", ["raw"], [f"y{i}"], to=TensorProto.FLOAT))
    g = helper.make_graph(nodes, "case", ins,
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
                          inits)
    opsets = [helper.make_opsetid("", case["opset"])]
    ir_version = helper.find_min_ir_version_for(opsets)
    if ir_version < 4:  # before IR 4 every initializer was a graph input too
        g.input.extend(helper.make_tensor_value_info(t.name, t.data_type, t.dims)
                       for t in inits)
    return helper.make_model(g, opset_imports=opsets, ir_version=ir_version)


X4 = f32(2, 3, 6, 6)
X3 = f32(2, 3, 4)
SPECIAL = np.array([[1.0, np.nan, -np.inf, 2.0], [np.inf, 0.0, np.nan, -3.0]], np.float32)
OP_CASES = {
    "Relu": graph_case("Relu", [("x", X3)]), "Sigmoid": graph_case("Sigmoid", [("x", X3)]),
    "Tanh": graph_case("Tanh", [("x", X3)]), "Exp": graph_case("Exp", [("x", X3)]),
    "Log": graph_case("Log", [("x", pos(3, 4))]), "Abs": graph_case("Abs", [("x", X3)]),
    "Sin": graph_case("Sin", [("x", X3)]), "Cos": graph_case("Cos", [("x", X3)]),
    "Tan": graph_case("Tan", [("x", X3 * 0.5)]), "Erf": graph_case("Erf", [("x", X3)]),
    "Floor": graph_case("Floor", [("x", X3 * 3)]), "Ceil": graph_case("Ceil", [("x", X3 * 3)]),
    "Sign": graph_case("Sign", [("x", X3)]), "Softsign": graph_case("Softsign", [("x", X3)]),
    "Softplus": graph_case("Softplus", [("x", X3)]),
    "Asin": graph_case("Asin", [("x", X3 * 0.3)]), "Acos": graph_case("Acos", [("x", X3 * 0.3)]),
    "Atan": graph_case("Atan", [("x", X3)]), "Sinh": graph_case("Sinh", [("x", X3)]),
    "Cosh": graph_case("Cosh", [("x", X3)]), "Asinh": graph_case("Asinh", [("x", X3)]),
    "Acosh": graph_case("Acosh", [("x", pos(3, 4) + 1)]),
    "Atanh": graph_case("Atanh", [("x", X3 * 0.3)]), "Identity": graph_case("Identity", [("x", X3)]),
    "Sqrt": graph_case("Sqrt", [("x", pos(3, 4))]), "Neg": graph_case("Neg", [("x", X3)]),
    "Reciprocal": graph_case("Reciprocal", [("x", pos(3, 4))]),
    "LeakyRelu": graph_case("LeakyRelu", [("x", X3)], alpha=0.3),
    "Elu": graph_case("Elu", [("x", X3)], alpha=0.5), "Selu": graph_case("Selu", [("x", X3)]),
    "HardSigmoid": graph_case("HardSigmoid", [("x", X3 * 3)], alpha=0.3, beta=0.4),
    "HardSwish": graph_case("HardSwish", [("x", X3 * 4)]),
    "PRelu": graph_case("PRelu", [("x", X4)], [("slope", f32(3, 1, 1))]),
    "Clip": graph_case("Clip", [("x", X3)], [("lo", np.array(-0.5, np.float32)),
                                             ("hi", np.array(0.7, np.float32))]),
    "Softmax": graph_case("Softmax", [("x", X3)], axis=1),
    "LogSoftmax": graph_case("LogSoftmax", [("x", X3)]),
    "Add": graph_case("Add", [("x", X3)], [("c", f32(3, 1))]),
    "Sub": graph_case("Sub", [("x", X3), ("z", f32(4))]),
    "Mul": graph_case("Mul", [("x", X3)], [("c", np.array([2.5], np.float32))]),
    "Div": graph_case("Div", [("x", X3)], [("c", np.array(4.0, np.float32))]),
    "Pow": graph_case("Pow", [("x", pos(3, 4))], [("c", np.array(1.5, np.float32))]),
    "Max": graph_case("Max", [("x", X3), ("z", f32(2, 3, 4)), ("w", f32(4))]),
    "Min": graph_case("Min", [("x", X3), ("z", f32(2, 3, 4))]),
    "Sum": graph_case("Sum", [("x", X3), ("z", f32(2, 3, 4)), ("w", f32(3, 1))]),
    "Mean": graph_case("Mean", [("x", X3), ("z", f32(2, 3, 4))]),
    "Dropout": graph_case("Dropout", [("x", X3)]),
    "Cast": graph_case("Cast", [("x", X3)], to=TensorProto.FLOAT),
    "Conv": graph_case("Conv", [("x", X4)], [("w", f32(4, 3, 3, 3)), ("b", f32(4))],
                       pads=[0, 1, 2, 1], strides=[2, 1], dilations=[1, 2]),
    "ConvTranspose": graph_case("ConvTranspose", [("x", X4)], [("w", f32(3, 2, 3, 3))],
                                pads=[1, 1, 1, 1], strides=[2, 2], output_padding=[1, 0]),
    "MaxPool": graph_case("MaxPool", [("x", X4)], kernel_shape=[3, 3], strides=[2, 2],
                          pads=[1, 0, 1, 1]),
    "AveragePool": graph_case("AveragePool", [("x", X4)], kernel_shape=[2, 2], strides=[2, 2],
                              pads=[1, 1, 1, 1], count_include_pad=0),
    "GlobalAveragePool": graph_case("GlobalAveragePool", [("x", X4)]),
    "GlobalMaxPool": graph_case("GlobalMaxPool", [("x", X4)]),
    "BatchNormalization": graph_case("BatchNormalization", [("x", X4)],
                                     [("s", f32(3)), ("b", f32(3)), ("m", f32(3)),
                                      ("v", pos(3))], epsilon=1e-3),
    "Gemm": graph_case("Gemm", [("x", f32(4, 3))], [("w", f32(4, 5)), ("c", f32(5))],
                       transA=1, alpha=0.5, beta=2.0, order=["x", "w", "c"]),
    "MatMul": graph_case("MatMul", [("x", X3), ("z", f32(2, 4, 5))]),
    "Flatten": graph_case("Flatten", [("x", X4)], axis=2),
    "Reshape": graph_case("Reshape", [("x", X3)], [("s", i64(0, -1))]),
    "Squeeze": graph_case("Squeeze", [("x", f32(2, 1, 4, 1))], [("a", i64(1, -1))]),
    "Unsqueeze": graph_case("Unsqueeze", [("x", X3)], [("a", i64(0, -1))]),
    "Transpose": graph_case("Transpose", [("x", X3)]),
    "Concat": graph_case("Concat", [("x", X3), ("z", f32(2, 3, 2))], axis=-1),
    "Slice": graph_case("Slice", [("x", f32(5, 6))], [("s", i64(-1, 1)), ("e", i64(-100, 5)),
                                                      ("a", i64(0, 1)), ("k", i64(-2, 2))]),
    "Split": graph_case("Split", [("x", f32(2, 7))], [("s", i64(3, 4))], n_out=2, axis=1),
    "Pad": graph_case("Pad", [("x", X3)], [("p", i64(0, 1, 2, 0, 2, 1))], mode="reflect"),
    "ReduceMean": graph_case("ReduceMean", [("x", X3)], axes=[1], keepdims=0),
    "ReduceSum": graph_case("ReduceSum", [("x", X3)], [("a", i64(0, 2))]),
    "ReduceMax": graph_case("ReduceMax", [("x", X3)], axes=[-1]),
    "ReduceMin": graph_case("ReduceMin", [("x", X3)]),
    "ReduceProd": graph_case("ReduceProd", [("x", pos(2, 3))], axes=[0]),
    "Gather": graph_case("Gather", [("x", X3)], [("i", i64(2, 0, 2))], axis=1),
    "Expand": graph_case("Expand", [("x", f32(3, 1))], [("s", i64(2, 3, 4))]),
    "RNN": graph_case("RNN", [("x", f32(4, 2, 3))],
                      [("W", f32(2, 5, 3) * 0.5), ("R", f32(2, 5, 5) * 0.5), ("B", f32(2, 10)),
                       ("", None), ("h", f32(2, 2, 5))], n_out=2, hidden_size=5,
                      direction="bidirectional", order=["x", "W", "R", "B", "", "h"]),
    "LayerNormalization": graph_case("LayerNormalization", [("x", X3)],
                                     [("s", f32(4)), ("b", f32(4))], axis=-1, epsilon=1e-3),
    "InstanceNormalization": graph_case("InstanceNormalization", [("x", X4)],
                                        [("s", f32(3)), ("b", f32(3))]),
    "Resize": graph_case("Resize", [("x", X4)], [("roi", np.zeros(0, np.float32)),
                                                 ("sc", np.array([1, 1, 2, 1.5], np.float32))],
                         mode="linear", coordinate_transformation_mode="pytorch_half_pixel"),
    "Tile": graph_case("Tile", [("x", X3)], [("r", i64(1, 2, 3))]),
    "ArgMax": graph_case("ArgMax", [("x", X3)], axis=1, n_out=1),
    "ArgMin": graph_case("ArgMin", [("x", X3)], axis=-1, keepdims=0),
    "ReduceL1": graph_case("ReduceL1", [("x", X3)], axes=[1]),
    "ReduceL2": graph_case("ReduceL2", [("x", X3)], axes=[0, 2], keepdims=0),
    "CumSum": graph_case("CumSum", [("x", X3)], [("a", np.array(1, np.int64))], exclusive=1),
    "Einsum": graph_case("Einsum", [("x", X3), ("z", f32(2, 4, 5))], equation="bij,bjk->bik"),
    "Trilu": graph_case("Trilu", [("x", f32(2, 4, 4))], [("k", np.array(1, np.int64))], upper=0),
    "Mod": graph_case("Mod", [("x", X3 * 5), ("z", pos(2, 3, 4))], fmod=1),
    "LSTM": graph_case("LSTM", [("x", f32(4, 2, 3))],
                       [("W", f32(2, 20, 3) * 0.5), ("R", f32(2, 20, 5) * 0.5), ("B", f32(2, 40)),
                        ("", None), ("h", f32(2, 2, 5)), ("c", f32(2, 2, 5))], n_out=3,
                       hidden_size=5, direction="bidirectional",
                       order=["x", "W", "R", "B", "", "h", "c"]),
    "GRU": graph_case("GRU", [("x", f32(4, 2, 3))],
                      [("W", f32(1, 15, 3) * 0.5), ("R", f32(1, 15, 5) * 0.5), ("B", f32(1, 30))],
                      n_out=2, hidden_size=5, linear_before_reset=1),
    "IsNaN": graph_case("IsNaN", [("x", SPECIAL)]),
    "IsInf": graph_case("IsInf", [("x", SPECIAL)]),
    "Round": graph_case("Round", [("x", np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6]],
                                                 np.float32))]),
    "EyeLike": graph_case("EyeLike", [("x", f32(3, 4))], k=-1),
    "OneHot": graph_case("OneHot", [("x", np.array([[1, 3], [0, 2]], np.int64))],
                         [("d", i64(4)), ("v", np.array([-1.0, 2.0], np.float32))], axis=1),
    "GatherND": graph_case("GatherND", [("x", X3)], [("i", np.array([[0, 2], [1, 0], [1, 1]],
                                                                   np.int64))]),
    "GatherElements": graph_case("GatherElements", [("x", f32(4, 5))],
                                 [("i", np.array([[3], [0], [4], [1]], np.int64))], axis=1),
    "TopK": graph_case("TopK", [("x", X3)], [("k", i64(2))], n_out=2, axis=1, largest=0),
    "Det": graph_case("Det", [("x", f32(2, 3, 3))]),
    "Gelu": graph_case("Gelu", [("x", X3 * 3)], opset=20, approximate="tanh"),
}
# The forms operators had before opset 13 (read through ONNX's version converter)
# and took after 17, each against onnxruntime at its opset
OTHER_OPSET_CASES = {
    "Softmax_11_flattens_from_axis": graph_case("Softmax", [("x", X3)], opset=11, axis=1),
    "LogSoftmax_11_default_axis": graph_case("LogSoftmax", [("x", X3)], opset=11),
    "Squeeze_11_attribute": graph_case("Squeeze", [("x", f32(2, 1, 4, 1))], opset=11,
                                       axes=[1, -1]),
    "Unsqueeze_11_attribute": graph_case("Unsqueeze", [("x", X3)], opset=11, axes=[0, 4]),
    "ReduceSum_11_attribute": graph_case("ReduceSum", [("x", X3)], opset=11, axes=[0, 2]),
    "Split_11_attribute": graph_case("Split", [("x", f32(2, 7))], n_out=2, opset=11, axis=1,
                                     split=[3, 4]),
    "Pad_10_attribute": graph_case("Pad", [("x", X3)], opset=10, pads=[0, 1, 2, 0, 2, 1],
                                   mode="edge"),
    "Slice_9_attribute": graph_case("Slice", [("x", f32(5, 6))], opset=9, starts=[1, 0],
                                    ends=[4, 5], axes=[0, 1]),
    "Clip_9_attribute": graph_case("Clip", [("x", X3)], opset=9, min=-0.5, max=0.7),
    "Upsample_9": graph_case("Upsample", [("x", X4)], [("sc", np.array([1, 1, 2, 3],
                                                                       np.float32))],
                             opset=9, mode="nearest"),
    "BatchNormalization_7_spatial": graph_case(
        "BatchNormalization", [("x", X4)], [("s", f32(3)), ("b", f32(3)), ("m", f32(3)),
                                            ("v", pos(3))], opset=7, epsilon=1e-3),
    "ReduceMean_18_axes_input": graph_case("ReduceMean", [("x", X3)], [("a", i64(1))],
                                           opset=18, keepdims=0),
    "ReduceL2_18_axes_input": graph_case("ReduceL2", [("x", X3)], [("a", i64(0, 2))], opset=18),
    "Split_18_num_outputs": graph_case("Split", [("x", f32(2, 7))], n_out=3, opset=18, axis=1,
                                       num_outputs=3),
    "Pad_18_axes_input": graph_case("Pad", [("x", X3)], [("p", i64(1, 2, 0, 1)),
                                                         ("v", np.array(0.5, np.float32)),
                                                         ("a", i64(1, 2))], opset=18),
    "Resize_18_axes": graph_case("Resize", [("x", X4)], [("roi", np.zeros(0, np.float32)),
                                                         ("sc", np.array([2, 1.5], np.float32))],
                                 opset=18, axes=[2, 3], mode="linear",
                                 coordinate_transformation_mode="half_pixel"),
    "Resize_19_sizes": graph_case("Resize", [("x", X4)], [("", None), ("", None),
                                                          ("sz", i64(2, 3, 9, 4))], opset=19,
                                  order=["x", "", "", "sz"], mode="nearest"),
    "Gelu_20_none": graph_case("Gelu", [("x", X3 * 3)], opset=20),
    "AveragePool_22": graph_case("AveragePool", [("x", X4)], opset=22, kernel_shape=[2, 2],
                                 strides=[2, 2]),
    "Conv_22": graph_case("Conv", [("x", X4)], [("w", f32(4, 3, 3, 3))], opset=22,
                          pads=[1, 1, 1, 1]),
}


@pytest.mark.parametrize("name", sorted(OTHER_OPSET_CASES))
def test_operator_at_other_opsets(name):
    case = OTHER_OPSET_CASES[name]
    _run_both(make_model(case), dict(case["inputs"]))


@pytest.mark.parametrize("op", ["ReduceL1", "ReduceL2", "ReduceMean"])
def test_reduction_over_no_axes(op):
    """Opset 18's noop_with_empty_axes: each element reduced alone, |x| for the norms
    as ONNX's reference evaluator computes it (onnxruntime 1.23 returned x itself,
    1.32 |x|: the reference decides)."""
    from onnx.reference import ReferenceEvaluator
    model = make_model(graph_case(op, [("x", X3)], opset=18, noop_with_empty_axes=1))
    (expected,) = ReferenceEvaluator(model).run(None, {"x": X3})
    net = import_model(model)
    net.inputs["x"].d = X3
    net.outputs["y0"].forward()
    np.testing.assert_allclose(net.outputs["y0"].d, expected, rtol=1e-6)
    np.testing.assert_allclose(expected, X3 if op == "ReduceMean" else np.abs(X3), rtol=1e-6)


# ONNX outputs that are not floats (indices, booleans): the test reads them through a Cast
OUTPUT_CAST = {"ArgMax": 0, "ArgMin": 0, "IsNaN": 0, "IsInf": 0, "TopK": 1}


def _logic_case():
    """Comparisons and logic on computed values, read through Where (ONNX's are booleans)."""
    nodes = [helper.make_node("Floor", ["x"], ["xr"]),
             helper.make_node("Floor", ["z"], ["zr"]),
             helper.make_node("Less", ["x", "z"], ["lt"]),
             helper.make_node("Greater", ["x", "c"], ["gt"]),
             helper.make_node("LessOrEqual", ["x", "z"], ["le"]),
             helper.make_node("GreaterOrEqual", ["z", "c"], ["ge"]),
             helper.make_node("Equal", ["xr", "zr"], ["eq"]),
             helper.make_node("And", ["lt", "gt"], ["a"]),
             helper.make_node("Or", ["a", "eq"], ["o"]),
             helper.make_node("Xor", ["o", "le"], ["xo"]),
             helper.make_node("Not", ["ge"], ["n"]),
             helper.make_node("Or", ["xo", "n"], ["cond"]),
             helper.make_node("Where", ["cond", "x", "c"], ["y0"])]
    g = helper.make_graph(nodes, "logic", [helper.make_tensor_value_info(n, TensorProto.FLOAT,
                                                                         [2, 3, 4]) for n in "xz"],
                          [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(f32(3, 1), "c")])
    opsets = [helper.make_opsetid("", 17)]
    return helper.make_model(g, opset_imports=opsets,
                             ir_version=helper.find_min_ir_version_for(opsets))


def _fold_case(ops):
    """Shape arithmetic PyTorch writes (Shape -> Gather -> Unsqueeze -> Concat ->
    Reshape, ConstantOfShape, Range, ...): folded to constants at import."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(i64(0)[0])),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "ax0"], ["batch1"]),
        helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("Size", ["x"], ["size"]),
        helper.make_node("Cast", ["size"], ["sizef"], to=TensorProto.FLOAT),
        helper.make_node("ConstantOfShape", ["target_pos"], ["ones"],
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Range", ["r0", "r1", "r2"], ["range"]),
        helper.make_node("Cast", ["range"], ["rangef"], to=TensorProto.FLOAT),
        helper.make_node("Squeeze", ["range2d", "ax0"], ["range1"]),
        helper.make_node("Cast", ["range1"], ["range1f"], to=TensorProto.FLOAT),
        helper.make_node("Equal", ["r0", "r1"], ["eq"]),
        helper.make_node("Not", ["eq"], ["neq"]),
        helper.make_node("Less", ["r0", "r1"], ["lt"]),
        helper.make_node("Greater", ["r0", "r1"], ["gt"]),
        helper.make_node("Where", ["lt", "sizef", "two"], ["w"]),
        helper.make_node("Where", ["gt", "two", "w"], ["w2"]),
        helper.make_node("Where", ["neq", "w2", "two"], ["w3"]),
        helper.make_node("Div", ["sizef", "two"], ["half"]),
        helper.make_node("Sub", ["half", "two"], ["d"]),
        helper.make_node("Neg", ["d"], ["nd"]),
        helper.make_node("Sqrt", ["sizef"], ["sq"]),
        helper.make_node("Slice", ["range2d", "s0", "s1"], ["rs"]),
        helper.make_node("Transpose", ["rs"], ["rt"]),
        helper.make_node("Transpose", ["rt"], ["rtt"], perm=[1, 0]),
        helper.make_node("Cast", ["rtt"], ["rtsf"], to=TensorProto.FLOAT),
        helper.make_node("Identity", ["rangef"], ["rid"]),
        helper.make_node("Mul", ["flat", "sq"], ["m1"]),
        helper.make_node("Add", ["m1", "rid"], ["m2"]),
        helper.make_node("Add", ["m2", "ones"], ["m3"]),
        helper.make_node("Add", ["m3", "w3"], ["m4"]),
        helper.make_node("Add", ["m4", "nd"], ["m5"]),
        helper.make_node("Add", ["m5", "range1f"], ["m6"]),
        helper.make_node("Add", ["m6", "rtsf"], ["m7"]),
        # scalar arithmetic of the kind attention layers write on shapes
        helper.make_node("Mod", ["sizef", "seven"], ["md"], fmod=1),
        helper.make_node("Max", ["md", "two", "nd"], ["mx"]),
        helper.make_node("Min", ["mx", "sizef"], ["mn"]),
        helper.make_node("Pow", ["mn", "two"], ["pw"]),
        helper.make_node("Abs", ["nd"], ["ab"]),
        helper.make_node("Floor", ["half"], ["fl"]),
        helper.make_node("Ceil", ["sq"], ["ce"]),
        helper.make_node("Sign", ["nd"], ["sg"]),
        helper.make_node("And", ["lt", "neq"], ["an"]),
        helper.make_node("Or", ["an", "gt"], ["orr"]),
        helper.make_node("Where", ["orr", "pw", "ab"], ["wh"]),
        helper.make_node("Sum", ["wh", "fl", "ce", "sg"], ["total"]),
        helper.make_node("Add", ["m7", "total"], ["y0"]),
    ]
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("ax0", i64(0)), ("target_pos", i64(2, 12)), ("r0", i64(0)[0]), ("r1", i64(12)[0]),
        ("r2", i64(1)[0]), ("two", np.array(2.0, np.float32)),
        ("seven", np.array(7.0, np.float32)),
        ("range2d", np.arange(12, dtype=np.int64).reshape(1, 12)), ("s0", i64(0)),
        ("s1", i64(12))]]
    g = helper.make_graph(nodes, "fold", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                        [2, 3, 4])],
                          [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)], inits)
    opsets = [helper.make_opsetid("", 17)]
    return helper.make_model(g, opset_imports=opsets,
                             ir_version=helper.find_min_ir_version_for(opsets))


def _run_both(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    net = import_model(model)
    for k, v in feeds.items():
        net.inputs[k].d = v
    outs = [net.outputs[o.name] for o in model.graph.output]
    nn.forward_all(outs)
    for o, e in zip(outs, expected):
        np.testing.assert_allclose(o.d, e, rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("op", sorted(OP_CASES))
def test_operator(op):
    case = OP_CASES[op]
    _run_both(make_model(case), dict(case["inputs"]))


def test_constant_folding():
    _run_both(_fold_case(None), {"x": X3})


def test_logic_on_computed_values():
    _run_both(_logic_case(), {"x": X3 * 3, "z": f32(2, 3, 4) * 3})


def test_every_operator_has_a_case():
    folded = {n.op_type for m in (_fold_case(None), _logic_case()) for n in m.graph.node}
    missing = set(import_rules()) - set(OP_CASES) - folded
    assert not missing, f"import rules without a test case: {sorted(missing)}"


def test_unknown_operator_names_file_node_and_op(tmp_path):
    node = helper.make_node("NonMaxSuppression", ["x"], ["y"], name="nms1")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "unknown.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(OnnxImportError, match=r"unknown\.onnx: node 'nms1' \(NonMaxSuppression\): "
                                              r"operator 'NonMaxSuppression' is not supported"):
        import_model(path)


@pytest.mark.parametrize("opset", [6, 29])
def test_unsupported_opset(tmp_path, opset):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "old.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
    with pytest.raises(OnnxImportError, match=rf"old\.onnx: default-domain opset {opset} is not "
                                              r"supported; import reads opsets 7\.\.28"):
        import_model(path)


def test_an_old_file_the_version_converter_refuses(tmp_path):
    """Below opset 13 ONNX's version converter runs first; its refusal is named,
    with the fix (NNabla 1.39 writes unrolled LSTMs that read an undefined input)."""
    g = helper.make_graph([helper.make_node("Add", ["x", "nowhere"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "broken.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)]), path)
    with pytest.raises(OnnxImportError, match=r"broken\.onnx: opset 11 could not be upgraded to "
                                              r"opset 13 by onnx\.version_converter \(.*nowhere"
                                              r".*\); re-export the model at opset 13 or later"):
        import_model(path)


def test_unsupported_attribute_is_named():
    case = graph_case("MaxPool", [("x", X4)], kernel_shape=[2, 2], dilations=[2, 2])
    with pytest.raises(OnnxImportError, match=r"\(MaxPool\): dilations=\[2, 2\] are not supported"):
        import_model(make_model(case))


def test_pf_parameters_usable_after_import():
    """Imported parameters are ordinary nablite parameters: a backward reaches them."""
    net = import_model(os.path.join(FIXTURES, "mlp_opset17.onnx"))
    x, y = net.inputs["x"], net.outputs["y"]
    x.d = rng.randn(*x.shape)
    loss = F.sum(y * y)
    loss.forward()
    loss.backward()
    assert np.abs(net.parameters["1.weight"].g).sum() > 0


# -- the converters `nablite convert` calls ------------------------------------------
NNP_FIXTURES = os.path.join(HERE, "fixtures", "nnp")


@pytest.fixture
def nnp_files():
    """.nnp files need the [io] extra (protobuf, h5py)."""
    pytest.importorskip("google.protobuf")
    pytest.importorskip("h5py")


@pytest.mark.parametrize("model", ["mlp", "cnn", "lenet", "resnet", "rnn"])
def test_nnp_to_onnx_of_nnabla_files(nnp_files, tmp_path, model):
    """.nnp files written by NNabla 1.39 -> ONNX -> onnxruntime gives NNabla's outputs."""
    import json
    ort = pytest.importorskip("onnxruntime")
    from nablite.onnx import nnp_to_onnx
    with open(os.path.join(NNP_FIXTURES, f"{model}.json")) as f:
        recorded = json.load(f)
    path = tmp_path / f"{model}.onnx"
    nnp_to_onnx(os.path.join(NNP_FIXTURES, f"{model}.nnp"), str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {k: np.asarray(v, np.float32) for k, v in recorded["inputs"].items()}
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    for k, v in recorded["outputs"].items():
        np.testing.assert_allclose(got[k], np.asarray(v), rtol=1e-4, atol=1e-5)


def test_nnp_to_onnx_errors(nnp_files, tmp_path):
    from nablite.onnx import nnp_to_onnx
    with pytest.raises(ValueError, match=r"has no network 'nope'; it has \['mlp'\]"):
        nnp_to_onnx(os.path.join(NNP_FIXTURES, "mlp.nnp"), str(tmp_path / "m.onnx"),
                    network="nope")
    assert not (tmp_path / "m.onnx").exists()


NNABLA_LOADS = """
import numpy as np
import nnabla as nn
from nnabla.utils.nnp_graph import NnpLoader
loader = NnpLoader(path)
net = loader.get_network(loader.get_network_names()[0])
net.inputs["x"].d = np.array(x, np.float32)
net.outputs["y"].forward()
RESULT = net.outputs["y"].d.tolist()
"""


@pytest.mark.parametrize("model", ["mlp", "cnn_bn", "residual", "rnn"])
def test_onnx_to_nnp(nnp_files, tmp_path, model):
    """PyTorch's ONNX -> .nnp loads in nablite's NnpLoader (and in NNabla 1.39
    when installed) and gives PyTorch's outputs."""
    from nablite.onnx import onnx_to_nnp
    from nablite.utils.nnp_graph import NnpLoader
    from nnabla_parity import run_in_nnabla
    base = os.path.join(FIXTURES, f"{model}_opset17")
    data = np.load(base + ".npz")
    nnp = str(tmp_path / f"{model}.nnp")
    onnx_to_nnp(base + ".onnx", nnp)
    nn.clear_parameters()
    loader = NnpLoader(nnp)
    net = loader.get_network(loader.get_network_names()[0])
    net.inputs["x"].d = data["x"]
    net.outputs["y"].forward()
    np.testing.assert_allclose(net.outputs["y"].d, data["y"], rtol=1e-4, atol=1e-5)
    theirs = run_in_nnabla(NNABLA_LOADS, path=nnp, x=data["x"].tolist())
    if theirs is not None:
        np.testing.assert_allclose(np.array(theirs), data["y"], rtol=1e-4, atol=1e-5)


def test_onnx_to_nnp_failure_writes_nothing(nnp_files, tmp_path):
    from nablite.onnx import onnx_to_nnp
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(OnnxImportError, match="bad.onnx"):
        onnx_to_nnp(str(bad), str(tmp_path / "out.nnp"))
    assert not (tmp_path / "out.nnp").exists()


def test_dynamic_batch_fixture_at_another_batch_size():
    """The view(x.size(0), -1) fixture (dynamic batch axis) built for batch 5: the
    shape arithmetic folds with 5, and the outputs are onnxruntime's."""
    ort = pytest.importorskip("onnxruntime")
    path = os.path.join(FIXTURES, "flattening_opset17.onnx")
    x = f32(5, 1, 8, 8)
    expected = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None,
                                                                                  {"x": x})[0]
    y, net = run_imported(path, x, batch_size=5)
    assert net.inputs["x"].shape == (5, 1, 8, 8)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


# NNabla's elementwise functions of two or more inputs refuse inputs of different
# ranks ("Dimensions of inputs must match"): what import writes must run there too.
_SAME_RANK = {"Add2", "Sub2", "Mul2", "Div2", "Pow2", "Maximum2", "Minimum2", "Greater",
              "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual", "LogicalAnd",
              "LogicalOr", "LogicalXor", "Mod2", "Where", "BcAdd2"}


@pytest.mark.parametrize("op", sorted(OP_CASES))
def test_elementwise_inputs_have_one_rank(op):
    net = import_model(make_model(OP_CASES[op]))
    ranks = {}

    def check(f):
        if f.info.type_name in _SAME_RANK:
            ranks[f.name] = [x.ndim for x in f.inputs]
    for y in net.outputs.values():
        y.visit(check)
    for name, found in ranks.items():
        assert len(set(found)) == 1, f"{op}: {name} reads inputs of ranks {found}"


def test_broadcast_operands_get_leading_unit_axes():
    """A 0-d constant, a (W,) row and a (C, 1, 1) slope against 3-d/4-d inputs."""
    case = graph_case("Greater", [("x", X3)], [("zero", np.array(0.0, np.float32))])
    net = import_model(make_model(case))
    g = net.outputs["y0"].parent
    assert [x.shape for x in g.inputs] == [(2, 3, 4), (1, 1, 1)]
    case = graph_case("Add", [("x", X3)], [("row", f32(4))])
    _run_both(make_model(case), {"x": X3})
    net = import_model(make_model(case))
    assert [x.shape for x in net.outputs["y0"].parent.inputs] == [(2, 3, 4), (1, 1, 4)]


BROADCASTING = ["Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Max", "Min", "Mod", "Round",
                "Sum", "Mean", "Gemm", "LayerNormalization", "Clip"]


def test_imported_files_run_in_nnabla(tmp_path):
    """The .nnp files import writes for operators that broadcast run in NNabla 1.39
    and give onnxruntime's outputs."""
    from nablite.onnx import onnx_to_nnp
    from nnabla_parity import run_in_nnabla, _nnabla_runs
    ort = pytest.importorskip("onnxruntime")
    if not _nnabla_runs():
        pytest.skip("NNabla 1.39 is not available")
    jobs = {}
    cases = [(op, make_model(OP_CASES[op]), dict(OP_CASES[op]["inputs"])) for op in BROADCASTING]
    cases.append(("logic", _logic_case(), {"x": X3 * 3, "z": f32(2, 3, 4) * 3}))
    for op, model, feeds in cases:
        onnx_path, nnp_path = tmp_path / f"{op}.onnx", tmp_path / f"{op}.nnp"
        onnx.save(model, str(onnx_path))
        onnx_to_nnp(str(onnx_path), str(nnp_path))
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        jobs[op] = [str(nnp_path), {k: v.tolist() for k, v in feeds.items()},
                    [np.asarray(e, np.float64).tolist() for e in session.run(None, feeds)]]
    result = run_in_nnabla('''
import numpy as np
from nnabla.utils.nnp_graph import NnpLoader
RESULT = {}
for op, (path, feeds, expected) in jobs.items():
    loader = NnpLoader(path)
    net = loader.get_network(loader.get_network_names()[0], batch_size=1)
    for k, v in feeds.items():
        net.inputs[k].d = np.array(v)
    outs = list(net.outputs.values())
    for y in outs:
        y.forward()
    RESULT[op] = max(float(np.max(np.abs(y.d - np.array(e)))) for y, e in zip(outs, expected))
''', jobs=jobs)
    assert set(result) == set(BROADCASTING) | {"logic"}
    for op, err in result.items():
        assert err < 1e-4, (op, err)
