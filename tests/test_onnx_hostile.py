"""Corrupt or hostile .onnx files fail fast with an OnnxImportError that names
the file and the problem, allocate nothing near their declared sizes, read no
file outside the model's folder, and register no parameters."""
import os

import numpy as np
import pytest

import nablite as nn

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nablite.onnx import OnnxImportError, import_model  # noqa: E402
from nablite.onnx import safe_load  # noqa: E402

from _helpers import peak_memory  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "onnx",
                       "cnn_bn_opset17.onnx")


pytestmark = pytest.mark.usefixtures("fresh_parameters")


def affine_model(weight):
    """y = x @ W: one MatMul reading the initializer ``weight`` (a TensorProto)."""
    g = helper.make_graph([helper.make_node("MatMul", ["x", weight.name], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
                          [weight])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def save(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return str(path)


def import_fails(path, match):
    with pytest.raises(OnnxImportError, match=match) as e:
        import_model(path)
    assert str(path) in str(e.value)
    assert not nn.get_parameters(grad_only=False), "a failed import registered parameters"
    return e.value


def test_truncated_files(tmp_path):
    data = open(FIXTURE, "rb").read()
    for cut in np.linspace(1, len(data) - 1, 25).astype(int):
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(data[:cut])
        import_fails(path, None)  # whatever part survives, the error names the file


def test_garbage_and_empty(tmp_path):
    rng = np.random.RandomState(0)
    for i in range(10):
        path = tmp_path / f"garbage{i}.onnx"
        path.write_bytes(rng.randint(0, 256, 2000).astype(np.uint8).tobytes())
        import_fails(path, None)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    import_fails(empty, "not an ONNX model")
    text = tmp_path / "text.onnx"
    text.write_bytes(b"this is not a protobuf at all\n" * 10)
    import_fails(text, "not an ONNX model")


def test_missing_file(tmp_path):
    import_fails(tmp_path / "nope.onnx", "no such file")


def test_huge_declared_tensor_is_refused_before_allocating(tmp_path):
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20],
                    raw_data=b"\0" * 16)
    path = save(affine_model(t), tmp_path / "huge.onnx")
    with peak_memory() as mem:
        import_fails(path, r"tensor 'W' declares dims \[1048576, 1048576\] "
                           r"\(4398046511104 bytes\), over the 2147483648-byte limit")
    assert mem["peak"] < 10 * 2 ** 20


def test_declared_size_must_match_the_data(tmp_path):
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3], raw_data=b"\0" * 8)
    import_fails(save(affine_model(t), tmp_path / "short.onnx"),
                 r"tensor 'W' declares dims \[4, 3\] \(48 bytes\) but carries 8 bytes")
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3], float_data=[1.0] * 5)
    import_fails(save(affine_model(t), tmp_path / "typed.onnx"),
                 r"declares dims \[4, 3\] \(12 values\) but carries 5")
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, -3], raw_data=b"")
    import_fails(save(affine_model(t), tmp_path / "neg.onnx"), "negative dims")
    t = TensorProto(name="W", data_type=TensorProto.STRING, dims=[1], string_data=[b"a"])
    import_fails(save(affine_model(t), tmp_path / "str.onnx"), "data type 8, which is not supported")


def test_limit_is_a_module_setting(tmp_path, monkeypatch):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    path = save(affine_model(w), tmp_path / "ok.onnx")
    monkeypatch.setattr(safe_load, "MAX_TENSOR_BYTES", 40)
    import_fails(path, "over the 40-byte limit")
    monkeypatch.setattr(safe_load, "MAX_TENSOR_BYTES", 2 ** 31)
    monkeypatch.setattr(safe_load, "MAX_FILE_BYTES", 10)
    import_fails(path, "bytes is over the 10-byte limit")
    monkeypatch.setattr(safe_load, "MAX_FILE_BYTES", 2 ** 31)
    monkeypatch.setattr(safe_load, "MAX_NODES", 0)
    import_fails(path, "1 nodes is over the limit of 0")


def external(location, offset=None, length=None):
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3],
                    data_location=TensorProto.EXTERNAL)
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            t.external_data.add(key=k, value=str(v))
    return t


def test_external_data_inside_the_folder_works(tmp_path):
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 8 + w.tobytes())
    path = save(affine_model(external("weights.bin", offset=8, length=48)), tmp_path / "m.onnx")
    net = import_model(path)
    net.inputs["x"].d = np.ones((2, 4), np.float32)
    net.outputs["y"].forward()
    np.testing.assert_allclose(net.outputs["y"].d, np.ones((2, 4)) @ w)


def test_onnx_saved_external_data(tmp_path):
    """A model written by onnx.save_model(save_as_external_data=True) imports."""
    model = onnx.load(FIXTURE)
    onnx.save_model(model, str(tmp_path / "ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").exists()
    data = np.load(FIXTURE[:-5] + ".npz")
    net = import_model(str(tmp_path / "ext.onnx"))
    net.inputs["x"].d = data["x"]
    net.outputs["y"].forward()
    np.testing.assert_allclose(net.outputs["y"].d, data["y"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("location", ["../secret.bin", "sub/../../secret.bin", "/etc/passwd",
                                      "link.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\1" * 48)
    (folder / "sub").mkdir()
    os.symlink(tmp_path / "secret.bin", folder / "link.bin")  # a link that leaves the folder
    path = save(affine_model(external(location)), folder / "m.onnx")
    import_fails(path, "refers to external data .* outside the model's folder")


def test_external_data_bounds(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\0" * 20)
    import_fails(save(affine_model(external("w.bin")), tmp_path / "a.onnx"),
                 r"needs 48 bytes at offset 0 of 'w.bin' \(20 bytes")
    (tmp_path / "w2.bin").write_bytes(b"\0" * 100)
    import_fails(save(affine_model(external("w2.bin", offset=60)), tmp_path / "b.onnx"),
                 "needs 48 bytes at offset 60")
    import_fails(save(affine_model(external("w2.bin", length=1 << 40)), tmp_path / "c.onnx"),
                 "length 1099511627776")
    import_fails(save(affine_model(external("w2.bin", offset="x")), tmp_path / "d.onnx"),
                 "are not integers")
    import_fails(save(affine_model(external("gone.bin")), tmp_path / "e.onnx"),
                 "external data file 'gone.bin' does not exist")


def test_external_data_needs_a_path():
    with pytest.raises(OnnxImportError, match="keeps its data in external file 'w.bin'; load "
                                              "the model from its path"):
        import_model(affine_model(external("w.bin")))


def test_huge_constant_node(tmp_path):
    t = TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[1 << 40], raw_data=b"")
    g = helper.make_graph([helper.make_node("Constant", [], ["c"], value=t),
                           helper.make_node("Add", ["x", "c"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "const.onnx")
    import_fails(path, "over the 2147483648-byte limit")


def test_undefined_input_and_unknown_op(tmp_path):
    g = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"], name="r")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "undef.onnx")
    import_fails(path, r"node 'r' \(Relu\): input 'nowhere' is not defined")
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["h"]),
                           helper.make_node("FancyOp", ["h"], ["y"], name="f")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "fancy.onnx")
    import_fails(path, r"node 'f' \(FancyOp\): operator 'FancyOp' is not supported")


def test_missing_attribute_and_custom_domain(tmp_path):
    g = helper.make_graph([helper.make_node("MaxPool", ["x"], ["y"], name="p")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "noattr.onnx")
    import_fails(path, r"node 'p' \(MaxPool\): missing attribute 'kernel_shape'")
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="c", domain="com.evil")],
                          "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.evil", 1)])
    import_fails(save(model, tmp_path / "dom.onnx"), "custom domain 'com.evil'")


def test_shape_mismatch_is_named(tmp_path):
    w = numpy_helper.from_array(np.ones((5, 3), np.float32), "W")  # x has 4 features
    import_fails(save(affine_model(w), tmp_path / "mismatch.onnx"), r"node .* \(MatMul\): Affine")


def _shape_graph(nodes, inits, out="y"):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_huge_folded_constants_are_refused(tmp_path):
    """Constants computed at import (ConstantOfShape, Range, Gather) are bounded too."""
    cases = {
        "cos": ([helper.make_node("ConstantOfShape", ["s"], ["c"], name="n"),
                 helper.make_node("Add", ["x", "c"], ["y"])],
                [numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "s")],
                r"node 'n' \(ConstantOfShape\): ConstantOfShape \[1048576, 1048576\] would make"),
        "range": ([helper.make_node("Range", ["a", "b", "d"], ["r"], name="n"),
                   helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT)],
                  [numpy_helper.from_array(np.array(v, np.int64), k)
                   for k, v in (("a", 0), ("b", 1 << 40), ("d", 1))],
                  r"node 'n' \(Range\): Range would make 1099511627776 elements"),
        "gather": ([helper.make_node("Gather", ["t", "i"], ["y"], name="n")],
                   [numpy_helper.from_array(np.ones((2, 1 << 16), np.float32), "t"),
                    numpy_helper.from_array(np.zeros(1 << 16, np.int64), "i")],
                   r"node 'n' \(Gather\): Gather would make"),
    }
    for name, (nodes, inits, match) in cases.items():
        path = save(_shape_graph(nodes, inits), tmp_path / f"{name}.onnx")
        with peak_memory() as mem:
            import_fails(path, match)
        assert mem["peak"] < 64 * 2 ** 20, name


def test_huge_input_shape_fails_at_build(tmp_path):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["h"], name="r"),
                           helper.make_node("Add", ["h", "h"], ["y"], name="a")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 30, 1 << 30])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "wide.onnx")
    with peak_memory() as mem:
        import_fails(path, r"node 'r' \(Relu\): ReLU: an output of shape "
                           r"\(1073741824, 1073741824\) needs")
    assert mem["peak"] < 64 * 2 ** 20


def test_control_flow_subgraphs_are_refused(tmp_path):
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "branch", [],
                               [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2])])
    node = helper.make_node("If", ["cond"], ["y"], name="if1", then_branch=branch,
                            else_branch=branch)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                                        helper.make_tensor_value_info("cond", TensorProto.BOOL,
                                                                      [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "if.onnx")
    import_fails(path, r"node 'if1' \(If\): attribute 'else_branch' holds a subgraph; control "
                       r"flow is not supported")
