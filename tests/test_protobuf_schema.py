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
