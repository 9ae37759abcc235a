"""Corrupt and hostile network and parameter files: each fails fast with an error
naming the file and the problem, within bounded memory, and changes nothing."""
import io
import os
import shutil
import tracemalloc
import zipfile

import numpy as np
import pytest

import nablite as nn
from nablite._nnp import files as nnp_files
from nablite._nnp import proto as nnp_proto
from nablite.utils.load import load
from nablite.utils.nnp_graph import NnpLoader

pytest.importorskip("google.protobuf")
h5py = pytest.importorskip("h5py")

NNP = os.path.join(os.path.dirname(__file__), "fixtures", "nnp")
MLP = os.path.join(NNP, "mlp.nnp")


@pytest.fixture(autouse=True)
def one_parameter():
    """A parameter that every failed load must leave as it is."""
    nn.clear_parameters()
    w = nn.parameter.get_parameter_or_create("keep/W", (2,), need_grad=True)
    w.d = [1.0, 2.0]
    yield
    after = nn.get_parameters(grad_only=False)
    nn.clear_parameters()
    assert list(after) == ["keep/W"] and after["keep/W"].d.tolist() == [1.0, 2.0]


def refuse(path, *patterns, loaders=("loader", "load")):
    """Every reader refuses ``path`` with a ValueError naming it and the patterns."""
    readers = {"loader": lambda: NnpLoader(path).get_network(
                   NnpLoader(path).get_network_names()[0]),
               "load": lambda: load([path]),
               "params": lambda: nn.load_parameters(path)}
    for name in loaders:
        with pytest.raises(ValueError) as e:
            readers[name]()
        message = str(e.value)
        assert os.path.basename(path) in message, message
        for p in patterns:
            assert p in message, message


def nnp_with(tmp_path, name, members):
    path = str(tmp_path / name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return path


def mlp_members():
    with zipfile.ZipFile(MLP) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_truncated_zip(tmp_path):
    data = open(MLP, "rb").read()
    path = str(tmp_path / "cut.nnp")
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    refuse(path, "zip", loaders=("loader", "load", "params"))


def test_bad_and_truncated_protobuf(tmp_path):
    bad = tmp_path / "bad.protobuf"
    bad.write_bytes(b"\xff\xff\xff\xff garbage \x00\x01")
    refuse(str(bad), "not a valid binary", loaders=("loader", "load", "params"))
    # a parameter file cut inside its packed data field
    nn.save_parameters(str(tmp_path / "good.protobuf"))
    data = (tmp_path / "good.protobuf").read_bytes()
    cut = tmp_path / "cut.protobuf"
    cut.write_bytes(data[:-3])
    refuse(str(cut), "truncated", loaders=("params",))
    states = tmp_path / "s.protobuf"
    states.write_bytes(b"\x12\x05abc")
    import nablite.solvers as S
    s = S.Sgd()
    with pytest.raises(ValueError, match="s.protobuf"):
        s.load_states(str(states))


def test_huge_declared_parameter_shape(tmp_path):
    text = ('parameter { variable_name: "big" shape { dim: 100000 dim: 100000 dim: 1000 } '
            'data: [1, 2] need_grad: true }\n')
    path = tmp_path / "big.nntxt"
    path.write_text(text)
    tracemalloc.start()
    refuse(str(path), "'big' has 2 values but shape", loaders=("params", "load"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2 ** 20


def test_huge_declared_variable_shape(tmp_path):
    members = mlp_members()
    text = members["network.nntxt"].decode().replace("dim: 8\n", "dim: 800000000\n", 1)
    path = nnp_with(tmp_path, "wide.nnp", {**members, "network.nntxt": text})
    refuse(path, "declares shape", "limit")


def test_zip_member_unpacking_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(nnp_proto, "MAX_BYTES", 2 ** 20)
    path = nnp_with(tmp_path, "bomb.nnp", {**mlp_members(), "filler.bin": b"\0" * 2 ** 23})
    assert os.path.getsize(path) < 2 ** 17  # small on disk, 8 MiB unpacked
    tracemalloc.start()
    refuse(path, "filler.bin", "limit", loaders=("loader", "load", "params"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 ** 22


@pytest.mark.parametrize("member", ["../evil.nntxt", "/abs/evil.nntxt", "a/../../b.h5",
                                    "..\\win.nntxt"])
def test_path_traversal_member_names(tmp_path, member):
    path = nnp_with(tmp_path, "trav.nnp", {**mlp_members(), member: b""})
    refuse(path, "unsafe path", repr(member), loaders=("loader", "load", "params"))
    assert sorted(os.listdir(tmp_path)) == ["trav.nnp"]  # nothing was written anywhere


def test_unknown_function_type(tmp_path):
    members = mlp_members()
    text = members["network.nntxt"].decode().replace('type: "Tanh"', 'type: "Frobnicate"', 1)
    path = nnp_with(tmp_path, "unknown.nnp", {**members, "network.nntxt": text})
    refuse(path, "'@mlp/Tanh'", "'Frobnicate'")


def test_deeply_nested_text_and_binary(tmp_path):
    deep = tmp_path / "deep.nntxt"
    deep.write_text("network { " * 200000 + "}" * 200000)
    refuse(str(deep), "not a valid NNabla text file", loaders=("loader", "params"))
    # binary: unknown groups nested 100000 deep
    path = tmp_path / "deep.protobuf"
    path.write_bytes(b"\x7b" * 100000 + b"\x7c" * 100000)
    refuse(str(path), "not a valid binary", loaders=("loader", "params"))


def test_corrupt_h5(tmp_path):
    path = tmp_path / "bad.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(200))
    refuse(str(path), "HDF5", loaders=("params",))
    members = {**mlp_members(), "parameter.h5": b"not hdf5 at all"}
    nnp = nnp_with(tmp_path, "badh5.nnp", members)
    refuse(nnp, "parameter.h5", "HDF5", loaders=("loader", "load", "params"))


def test_parameter_values_not_matching_the_network(tmp_path):
    members = mlp_members()
    buf = io.BytesIO()
    with zipfile.ZipFile(MLP) as z, h5py.File(io.BytesIO(z.read("parameter.h5")), "r") as src:
        with h5py.File(buf, "w") as dst:
            for i, key in enumerate(["mlp/affine1/affine/W"]):
                dst[key] = np.zeros((3, 3), np.float32)
                dst[key].attrs["index"] = i
                dst[key].attrs["need_grad"] = True
            assert "mlp/affine1/affine/W" in src
    path = nnp_with(tmp_path, "mismatch.nnp", {**members, "parameter.h5": buf.getvalue()})
    refuse(path, "mlp/affine1/affine/W", "(3, 3)")


def test_a_loader_on_an_intact_file_still_works_after_failures(tmp_path):
    shutil.copy(MLP, tmp_path / "ok.nnp")
    net = NnpLoader(str(tmp_path / "ok.nnp")).get_network("mlp")
    assert list(net.outputs) == ["y"]
    nn.clear_parameters()
    w = nn.parameter.get_parameter_or_create("keep/W", (2,), need_grad=True)
    w.d = [1.0, 2.0]


def test_file_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(nnp_proto, "MAX_BYTES", 100)
    path = tmp_path / "p.nntxt"
    path.write_text("# padding\n" * 50)
    refuse(str(path), "limit", loaders=("params", "loader"))
    assert nnp_files  # the module under test


def test_protobuf_over_its_limit_points_to_h5(tmp_path, monkeypatch):
    monkeypatch.setattr(nnp_proto, "MAX_BYTES", 4)  # keep/W holds 8 bytes
    with pytest.raises(ValueError, match=r"save them as \.h5"):
        nn.save_parameters(str(tmp_path / "p.protobuf"))
    assert not os.listdir(tmp_path)
    monkeypatch.setattr(nnp_proto, "MAX_BYTES", 2 ** 20)
    nn.save_parameters(str(tmp_path / "p.protobuf"))
    monkeypatch.setattr(nnp_proto, "MAX_BYTES", 4)
    with pytest.raises(ValueError, match=r"belong in \.h5"):
        nn.load_parameters(str(tmp_path / "p.protobuf"))


def test_large_protobuf_saves_warn_to_use_h5(tmp_path, monkeypatch, caplog):
    from nablite import _param_io
    monkeypatch.setattr(_param_io, "LARGE_PROTOBUF", 4)
    with caplog.at_level("WARNING", logger="nablite"):
        nn.save_parameters(str(tmp_path / "p.protobuf"))
    assert any(".h5 is the format for large models" in r.getMessage() for r in caplog.records)
    nn.load_parameters(str(tmp_path / "p.protobuf"))  # still written and readable
