"""``nnabla.utils.nnabla_pb2`` under ``nablite run``: NNabla's path to the
NNablaProtoBuf messages is nablite's generated module, imported only when used."""
import subprocess
import sys

import pytest

SCRIPT = """\
from nnabla.utils import nnabla_pb2
import nnabla.utils.nnabla_pb2 as again
import nnabla
import google.protobuf.text_format as text_format
assert again is nnabla_pb2
nnp = nnabla_pb2.NNablaProtoBuf()
p = nnp.parameter.add()
p.variable_name = "fc/affine/W"
p.shape.dim.extend([3, 4])
p.data.extend([0.5] * 12)
back = nnabla_pb2.NNablaProtoBuf.FromString(nnp.SerializeToString())
print(nnabla.__name__, type(back).__module__, back.parameter[0].variable_name,
      list(back.parameter[0].shape.dim), text_format.MessageToString(back).count("data:"))
"""


def test_nnabla_pb2_through_nablite_run(tmp_path):
    pytest.importorskip("google.protobuf")
    (tmp_path / "script.py").write_text(SCRIPT)
    proc = subprocess.run([sys.executable, "-m", "nablite.cli", "run", "script.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["nablite", "nablite.nnabla_pb2", "fc/affine/W", "[3,", "4]",
                                   "12"]


def test_lazy_and_the_error_without_protobuf():
    """nablite.utils does not import protobuf; the module, asked for without
    protobuf, names the extra to install."""
    code = ("import sys\n"
            "import nablite, nablite.utils\n"
            "assert 'google.protobuf' not in sys.modules\n"
            "assert 'nablite.utils.nnabla_pb2' not in sys.modules\n"
            "sys.modules['google.protobuf'] = None\n"
            "sys.modules['google'] = None\n"
            "try:\n"
            "    from nablite.utils import nnabla_pb2\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'needs Google\'s protobuf package: pip install "nablite[io]"' in proc.stdout


def test_same_classes_as_nablites_files():
    pytest.importorskip("google.protobuf")
    from nablite import nnabla_pb2 as generated
    from nablite.utils import nnabla_pb2
    assert nnabla_pb2 is generated
    assert nnabla_pb2.NNablaProtoBuf.DESCRIPTOR.full_name == "nablite.NNablaProtoBuf"
