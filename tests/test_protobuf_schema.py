"""nnabla.proto and its generated module: the committed module is what protoc makes
of the committed schema; function_info.py agrees with the schema's argument messages;
importing nablite needs no protobuf."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")


def test_generated_module_matches_the_schema(tmp_path):
    pytest.importorskip("grpc_tools")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", SRC,
                    f"--python_out={tmp_path}", os.path.join(SRC, "nablite", "nnabla.proto")],
                   check=True, cwd=ROOT)
    fresh = (tmp_path / "nablite" / "nnabla_pb2.py").read_text()
    with open(os.path.join(SRC, "nablite", "nnabla_pb2.py")) as f:
        committed = f.read()
    assert committed == fresh, ("src/nablite/nnabla_pb2.py is stale: regenerate it with "
                                "python -m grpc_tools.protoc -I src --python_out=src "
                                "src/nablite/nnabla.proto")


def test_function_info_table_matches_the_schema():
    pytest.importorskip("google.protobuf")
    from google.protobuf.descriptor import FieldDescriptor as FD
    from nablite import nnabla_pb2
    from nablite.function_info import SPECS
    fields = nnabla_pb2.Function.DESCRIPTOR.oneofs_by_name["parameter"].fields
    by_field = {f.name: f.message_type for f in fields}
    kinds = {FD.TYPE_INT64: "int", FD.TYPE_FLOAT: "float", FD.TYPE_DOUBLE: "double",
             FD.TYPE_BOOL: "bool", FD.TYPE_STRING: "str"}
    for spec in SPECS.values():
        if spec.param_field is None:
            assert not spec.args, spec.type_name
            continue
        msg = by_field.pop(spec.param_field)
        assert msg.name == spec.type_name + "Parameter"
        want = []
        for f in msg.fields:
            if f.type == FD.TYPE_MESSAGE:
                want.append((f.name, {"Shape": "shape", "Communicator": "comm"}[
                    f.message_type.name]))
            else:
                k = kinds[f.type]
                want.append((f.name, {"int": "ints", "float": "floats"}[k]
                             if f.is_repeated else k))
        assert list(spec.args) == want, spec.type_name
    assert not by_field, f"argument messages with no function_info row: {sorted(by_field)}"


def test_import_without_protobuf_and_the_error_naming_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['google'] = None; sys.modules['google.protobuf'] = None\n"
        "import nablite, nablite.functions as F, nablite.parametric_functions as PF\n"
        "import nablite.utils.save, nablite.utils.load, nablite.utils.nnp_graph\n"
        "x = nablite.Variable((2, 3)); y = PF.affine(x, 4)\n"
        "assert y.parent.info.args == {'base_axis': 1}\n"
        "try:\n"
        f"    nablite.utils.save.save({str(tmp_path / 'm.nnp')!r}, "
        "{'networks': [{'name': 'n', 'batch_size': 2, 'outputs': {'y': y}}]})\n"
        "except ImportError as e:\n"
        "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "nablite[io]"' in out.stdout
    assert not os.listdir(tmp_path)


_DESCRIBE = """
from google.protobuf.descriptor import FieldDescriptor as FD
def describe(pool_file):
    out = {}
    for m in pool_file.message_types_by_name.values():
        fields = []
        for f in m.fields:
            kind = f.message_type.name if f.type == FD.TYPE_MESSAGE else f.type
            oneof = f.containing_oneof.name if f.containing_oneof else None
            fields.append([f.name, f.number, kind, f.label == FD.LABEL_REPEATED
                           if hasattr(f, "label") else f.is_repeated, oneof])
        out[m.name] = fields
    return out
"""


def test_every_message_and_field_is_nnablas():
    """Message names, field names, numbers, types, repetition and oneofs equal those
    of NNabla 1.39's own generated module."""
    pytest.importorskip("google.protobuf")
    from nnabla_parity import run_in_nnabla
    want = run_in_nnabla(_DESCRIBE + "import nnabla.utils.nnabla_pb2 as pb\n"
                         "RESULT = describe(pb.DESCRIPTOR)\n")
    if want is None:
        pytest.skip("NNabla 1.39 is not installed")
    from nablite import nnabla_pb2
    ns = {}
    exec(_DESCRIBE, ns)
    mine = ns["describe"](nnabla_pb2.DESCRIPTOR)
    # map entries are nested types in both; compare by message name
    assert sorted(mine) == sorted(want)
    for name in want:
        assert mine[name] == want[name], name


_WRITE_ALL = """
import nnabla as nn, nnabla.functions as F, nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.utils.save import save
from nnabla.utils import nnabla_pb2
from google.protobuf import text_format
x = nn.Variable((4, 5)); t = nn.Variable((4, 1))
y = PF.affine(x, 3, name="fc"); loss = F.mean(F.softmax_cross_entropy(y, t))
import numpy as np
for v in nn.get_parameters().values():  # values that do not depend on an RNG's state
    v.d = (np.arange(v.size).reshape(v.shape) % 7) * 0.25 - 0.5
solver = S.Adam(0.01); solver.set_parameters(nn.get_parameters())
contents = {
 "global_config": {"default_context": nn.get_current_context()},
 "training_config": {"max_epoch": 3, "iter_per_epoch": 10, "save_best": True},
 "networks": [{"name": "train", "batch_size": 4, "outputs": {"loss": loss},
               "names": {"x": x, "t": t}}],
 "datasets": [{"name": "ds", "uri": "data.csv", "cache_dir": "cache",
               "variables": ["x", "t"], "shuffle": True, "batch_size": 4,
               "no_image_normalization": False}],
 "optimizers": [{"name": "opt", "solver": solver, "network": "train", "dataset": "ds",
                 "weight_decay": 0, "lr_decay": 1, "lr_decay_interval": 1,
                 "update_interval": 1}],
 "monitors": [{"name": "mon", "network": "train", "dataset": "ds"}],
 "executors": [{"name": "runtime", "network": "train", "data": ["x"], "output": ["loss"]}],
}
save(path, contents, include_params=True)
m = nnabla_pb2.NNablaProtoBuf()
m.ParseFromString(open(path, "rb").read())
RESULT = text_format.MessageToString(m)
"""


def test_nnabla_written_protobuf_reads_field_for_field(tmp_path):
    """A binary file NNabla writes (networks, parameters, datasets, optimizers,
    monitors, executors, training and global config) parses with nablite's schema
    to the text NNabla's own schema gives."""
    pytest.importorskip("google.protobuf")
    from nnabla_parity import run_in_nnabla
    path = str(tmp_path / "all.protobuf")
    want = run_in_nnabla(_WRITE_ALL, path=path)
    if want is None:
        pytest.skip("NNabla 1.39 is not installed")
    from nablite import nnabla_pb2
    from nablite._nnp.proto import to_text
    m = nnabla_pb2.NNablaProtoBuf()
    with open(path, "rb") as f:
        data = f.read()
    m.ParseFromString(data)
    assert to_text(m) == want
    assert m.SerializeToString() == data
    for field in ("global_config", "training_config", "network", "parameter", "dataset",
                  "optimizer", "monitor", "executor"):
        assert m.HasField(field) if field.endswith("config") else len(getattr(m, field))
