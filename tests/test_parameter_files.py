"""Parameter files: .h5 / .protobuf / .nntxt / .nnp round trips, files written by
NNabla, atomic saves, and failed loads that change nothing."""
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import nablite as nn
import nablite._param_io as param_io
from nablite import nnabla_pb2
from nablite._nnp.proto import parse_text, to_text
from nablite.parameter import get_parameter_or_create, set_parameter_from_proto

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
NNABLA_PYTHON = os.environ.get("NNABLA_PYTHON", "/tmp/nnref/bin/python")
EXTENSIONS = [".h5", ".protobuf"]


pytestmark = pytest.mark.usefixtures("fresh_parameters")


def need(ext):
    if ext == ".h5":
        pytest.importorskip("h5py")


def make_params():
    rng = np.random.RandomState(0)
    with nn.parameter_scope("net"):
        get_parameter_or_create("fc/W", (3, 4), rng.randn(3, 4).astype(np.float32))
        get_parameter_or_create("fc/b", (4,), rng.randn(4).astype(np.float32))
        get_parameter_or_create("bn/mean", (1, 4), rng.randn(1, 4).astype(np.float32),
                                need_grad=False)
        get_parameter_or_create("scalar", (), np.array(0.5, np.float32))
        get_parameter_or_create("empty", (0, 3), np.zeros((0, 3), np.float32))
    return snapshot()


def snapshot():
    return {k: (v.d.copy(), v.need_grad) for k, v in nn.get_parameters(grad_only=False).items()}


def saved_to_file(tmp_path, ext):
    """make_params() saved to tmp_path/p<ext>, then the registry cleared: (snapshot, path)."""
    need(ext)
    saved = make_params()
    path = str(tmp_path / ("p" + ext))
    nn.save_parameters(path)
    nn.clear_parameters()
    return saved, path


def assert_same(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k][0], b[k][0], err_msg=k)
        assert a[k][0].shape == b[k][0].shape and a[k][1] == b[k][1], k


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_round_trip(tmp_path, ext):
    saved, path = saved_to_file(tmp_path, ext)
    nn.load_parameters(path)
    assert_same(snapshot(), saved)
    assert nn.get_parameters()["net/fc/W"].d.dtype == np.float32


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_file_objects_and_subsets(tmp_path, ext):
    need(ext)
    make_params()
    params = {k: v for k, v in nn.get_parameters().items() if k.endswith("W")}
    buf = io.BytesIO()
    nn.save_parameters(buf, params, extension=ext)
    nn.clear_parameters()
    buf.seek(0)
    nn.load_parameters(buf, extension=ext)
    assert list(nn.get_parameters()) == ["net/fc/W"]
    # a buffer left at its end, just written, is read from its start (NNabla's own test)
    buf = io.BytesIO()
    nn.save_parameters(buf, params, extension=ext)
    nn.clear_parameters()
    nn.load_parameters(buf, extension=ext)
    assert list(nn.get_parameters()) == ["net/fc/W"]


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_load_into_scope_and_overwrite_existing(tmp_path, ext):
    saved, path = saved_to_file(tmp_path, ext)
    with nn.parameter_scope("sub"):
        nn.load_parameters(path)
    assert list(nn.get_parameters(grad_only=False)) == ["sub/" + k for k in saved]
    nn.clear_parameters()
    w = get_parameter_or_create("net/fc/W", (3, 4))  # exists: values are copied in place
    nn.load_parameters(path)
    np.testing.assert_array_equal(w.d, saved["net/fc/W"][0])


def test_text_and_nnp_formats(tmp_path):
    saved = make_params()
    items = [(k, d, g) for k, (d, g) in saved.items()]
    text = to_text(param_io.params_to_proto(items))
    (tmp_path / "p.nntxt").write_text(text)
    nn.clear_parameters()
    proto = nn.load_parameters(str(tmp_path / "p.nntxt"))
    assert_same(snapshot(), saved)
    assert [p.variable_name for p in proto.parameter] == list(saved)
    nn.save_parameters(str(tmp_path / "parameter.protobuf"))
    with zipfile.ZipFile(tmp_path / "m.nnp", "w") as z:
        z.writestr("nnp_version.txt", "0.1\n")
        z.writestr("network.nntxt", 'network { name: "net" batch_size: 1 }\n')
        z.write(tmp_path / "parameter.protobuf", "parameter.protobuf")
    nn.clear_parameters()
    nn.load_parameters(str(tmp_path / "m.nnp"))
    assert_same(snapshot(), saved)


def test_protobuf_matches_protobuf_conventions():
    p = param_io.params_to_proto([("s", np.array(0.0, np.float32), True),
                                  ("z", np.zeros((0, 3), np.float32), False)])
    # bytes NNabla 1.39 writes for a 0-d parameter and an empty one
    assert p.SerializeToString() == (b"\xc2\x0c\x10\n\x01s\xa2\x01\x00\xa2\x06\x04\x00\x00\x00"
                                     b"\x00\xa8\x06\x01\xc2\x0c\n\n\x01z\xa2\x01\x04\n\x02\x00\x03")
    back = nnabla_pb2.NNablaProtoBuf()
    back.ParseFromString(p.SerializeToString())
    assert back == p and back.parameter[0].HasField("shape")


def test_needs_proto_and_set_parameter_from_proto(tmp_path):
    pytest.importorskip("h5py")
    saved = make_params()
    nn.save_parameters(str(tmp_path / "p.h5"))
    proto = nn.load_parameters(str(tmp_path / "p.h5"), needs_proto=True)
    assert [p.variable_name for p in proto.parameter] == list(saved)
    nn.clear_parameters()
    set_parameter_from_proto(proto)
    assert_same(snapshot(), saved)


def _fixture(name):
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        pytest.skip(f"fixture {name} is absent")
    return path


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_load_files_written_by_nnabla(ext):
    need(ext)
    rec = json.load(open(_fixture("nnabla_params.json")))
    nn.load_parameters(_fixture("nnabla_params" + ext))
    got = nn.get_parameters(grad_only=False)
    assert list(got) == list(rec)
    for key, r in rec.items():
        assert list(got[key].shape) == r["shape"] and got[key].need_grad == r["need_grad"]
        np.testing.assert_array_equal(got[key].d.ravel(), np.float32(r["values"]))


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_saved_bytes_equal_nnabla_files(tmp_path, ext):
    """Saving what was loaded reproduces NNabla's file byte for byte."""
    need(ext)
    original = _fixture("nnabla_params" + ext)
    nn.load_parameters(original)
    nn.save_parameters(str(tmp_path / ("p" + ext)))
    assert (tmp_path / ("p" + ext)).read_bytes() == open(original, "rb").read()


_NNP_SCRIPT = r"""
import sys, json
import nnabla as nn, nnabla.parametric_functions as PF
from nnabla.utils.save import save
x = nn.Variable((2, 3))
y = PF.batch_normalization(PF.affine(x, 4, name='fc'), name='bn')
contents = {'networks': [{'name': 'net', 'batch_size': 2, 'outputs': {'y': y}, 'names': {'x': x}}],
            'executors': [{'name': 'runtime', 'network': 'net', 'data': ['x'], 'output': ['y']}]}
save(sys.argv[1], contents)
save(sys.argv[2], contents, parameter_format='.protobuf')
print(json.dumps({k: v.d.ravel().tolist() for k, v in nn.get_parameters(grad_only=False).items()}))
"""


def test_load_nnp_written_by_nnabla(tmp_path):
    pytest.importorskip("h5py")
    if not os.path.exists(NNABLA_PYTHON):
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    a, b = str(tmp_path / "h5.nnp"), str(tmp_path / "pb.nnp")
    proc = subprocess.run([NNABLA_PYTHON, "-c", _NNP_SCRIPT, a, b], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"NNabla could not run: {proc.stderr[-300:]}")
    want = json.loads(proc.stdout.strip().splitlines()[-1])
    for path in (a, b):
        nn.clear_parameters()
        nn.load_parameters(path)
        got = nn.get_parameters(grad_only=False)
        assert list(got) == list(want)
        for k, v in want.items():
            np.testing.assert_array_equal(got[k].d.ravel(), np.float32(v))


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_crash_during_save_keeps_the_old_file(tmp_path, ext, monkeypatch):
    need(ext)
    saved = make_params()
    path = str(tmp_path / ("p" + ext))
    nn.save_parameters(path)
    for v in nn.get_parameters(grad_only=False).values():
        v.d = v.d + 1

    def crash(fd):
        raise OSError("simulated crash: disk full")
    monkeypatch.setattr(param_io.os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        nn.save_parameters(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["p" + ext]  # no temporary file left behind
    nn.clear_parameters()
    nn.load_parameters(path)
    assert_same(snapshot(), saved)


def test_missing_file_names_the_path(tmp_path):
    for ext in (".h5", ".protobuf", ".nntxt", ".nnp"):
        path = str(tmp_path / ("missing" + ext))
        with pytest.raises(FileNotFoundError, match="missing" + ext):
            nn.load_parameters(path)


@pytest.mark.parametrize("ext,content", [
    (".protobuf", b"\xc2\x0c\x40\n\x01s\xa2\x01\x02\n\x03"),      # truncated message
    (".protobuf", b"\xc2\x0c\x0c\n\x01s\xa2\x01\x02\n\x03\xa2\x06\x00"),  # 3 values expected, 0 given
    (".h5", b"this is not an HDF5 file at all"),
    (".nntxt", b'parameter { variable_name: "a" shape { dim: 2 } data: 1.0 data: '),
    (".nnp", b"PK not a zip"),
])
def test_corrupt_file_raises_and_changes_nothing(tmp_path, ext, content):
    need(ext)
    before = make_params()
    path = tmp_path / ("bad" + ext)
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad" + ext):
        nn.load_parameters(str(path))
    assert_same(snapshot(), before)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_shape_clash_raises_before_anything_changes(tmp_path, ext):
    need(ext)
    make_params()
    path = str(tmp_path / ("p" + ext))
    nn.save_parameters(path)
    nn.clear_parameters()
    w = get_parameter_or_create("net/fc/W", (3, 4), np.full((3, 4), 7.0, np.float32))
    get_parameter_or_create("net/empty", (5,))  # the file's last entry has shape (0, 3)
    with pytest.raises(ValueError, match="net/empty.*no parameter was changed"):
        nn.load_parameters(path)
    assert (w.d == 7.0).all()
    assert list(nn.get_parameters(grad_only=False)) == ["net/fc/W", "net/empty"]


def test_bad_extensions(tmp_path):
    make_params()
    with pytest.raises(ValueError, match="save_parameters.*'.txt'"):
        nn.save_parameters(str(tmp_path / "p.txt"))
    with pytest.raises(ValueError, match="extension="):
        nn.save_parameters(io.BytesIO())


def test_missing_h5py_explains_the_fix(tmp_path, monkeypatch):
    make_params()
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "nablite\[io\]"'):
        nn.save_parameters(str(tmp_path / "p.h5"))
    assert not os.listdir(tmp_path)


def test_text_format_parser_skips_unknown_fields():
    text = """
    # a comment
    version: "1.0"
    global_config { default_context { backends: "cpu:float" array_class: "CpuCachedArray" } }
    network { name: "n" function { name: "f" affine_param { base_axis: 1 } } }
    parameter { variable_name: "a/b" shape { dim: [2, 1] } data: [1.5, -2e-3] need_grad: true }
    """
    proto = parse_text(text, nnabla_pb2.NNablaProtoBuf(), "<text>")
    assert proto.version == "1.0"
    assert proto.global_config.default_context.backends == ["cpu:float"]
    p = proto.parameter[0]
    assert p.variable_name == "a/b" and list(p.shape.dim) == [2, 1] and p.need_grad
    np.testing.assert_allclose(p.data, [1.5, -2e-3])


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_save_and_load_with_the_newest_copy_on_the_device(tmp_path, ext, monkeypatch):
    """Parameters last changed on the (simulated) device are saved with those
    values; a load over device copies is what the next device use sees."""
    from nablite import _device_sim, backend
    need(ext)
    monkeypatch.setattr(backend, "_sim", True)
    xp = _device_sim.xp
    made = make_params()
    for v in nn.get_parameters(grad_only=False).values():
        v.data._on(xp)[...] = xp.asarray(np.full(v.shape, 3.0, np.float32))  # device work
    path = str(tmp_path / ("p" + ext))
    nn.save_parameters(path)
    params = nn.get_parameters(grad_only=False)
    for k, v in params.items():
        assert type(v.d) is np.ndarray and (v.d == 3.0).all(), k  # read once, on the host
        v.data._on(xp)  # back on the device before the load
    nn.load_parameters(path)
    loaded = nn.get_parameters(grad_only=False)
    assert all(loaded[k] is params[k] for k in params)  # the same Variables, overwritten
    for k, v in loaded.items():
        np.testing.assert_array_equal(v.data._on(xp).get(), np.full(v.shape, 3.0), err_msg=k)
    nn.clear_parameters()
    nn.load_parameters(path)
    assert list(snapshot()) == list(made)
    # a device array as the initializer: the parameter is made on the host from it
    w = get_parameter_or_create("dev/W", (2, 2), xp.asarray(np.eye(2, dtype=np.float32)))
    assert type(w.data._arr) is np.ndarray and (w.d == np.eye(2)).all()
    from nablite.initializer import WeightNormalizationScaleInitializer
    scale = WeightNormalizationScaleInitializer(
        xp.asarray(np.array([[3.0, 4.0], [0.0, 1.0]], np.float32)))
    g = get_parameter_or_create("dev/g", (2,), scale)
    np.testing.assert_allclose(g.d, [5.0, 1.0], rtol=1e-6)


def test_saves_and_loads_log_nnablas_info_lines(tmp_path, caplog, monkeypatch):
    """The INFO lines NNabla 1.39 logs for parameter, solver-state and model files."""
    import logging
    import nablite.parametric_functions as PF
    import nablite.solvers as S
    from nablite.utils.save import save
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    y = PF.affine(x, 2)
    solver = S.Adam()
    solver.set_parameters(nn.get_parameters())
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO, logger="nablite"):
        solver.save_states("st.protobuf")
        solver.load_states("st.protobuf")
        nn.save_parameters("p.h5")
        save("m.nnp", {"networks": [{"name": "n", "batch_size": 2, "outputs": {"y": y},
                                     "names": {"x": x}}]})
        save("m.nntxt", {"networks": [{"name": "n", "batch_size": 2, "outputs": {"y": y},
                                       "names": {"x": x}}]})
    assert [r.getMessage() for r in caplog.records if r.name == "nablite"] == [
        "Solver state save (.protobuf): st.protobuf", "State load (.protobuf): st.protobuf",
        "Parameter save (.h5): p.h5", "Saving m.nnp as nnp", "Model file is saved as (.nnp): m.nnp",
        "Saving m.nntxt as prototxt", "Model file is saved as (.nntxt): m.nntxt"]
