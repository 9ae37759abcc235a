"""The type stubs of F, PF and S: they say what the runtime signatures say, and mypy
uses them (a wrong argument type in user code is reported)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_committed_stubs_match_the_runtime_signatures():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_stubs.py"),
                           "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _mypy(tmp_path, code):
    pytest.importorskip("mypy")
    path = tmp_path / "user_code.py"
    path.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           os.path.join(ROOT, "pyproject.toml"), str(path)],
                          capture_output=True, text=True, cwd=ROOT)


def test_mypy_accepts_typical_code_and_reports_wrong_argument_types(tmp_path):
    good = _mypy(tmp_path, """
        import numpy as np
        import nablite as nn
        import nablite.functions as F
        import nablite.parametric_functions as PF
        import nablite.solvers as S

        solver = S.Adam(alpha=1e-3, beta1=0.9)

        def build(x: nn.Variable) -> nn.Variable:
            h = F.relu(PF.affine(x, 16, name="fc1"))
            h = PF.convolution(F.reshape(h, (8, 1, 4, 4)), 4, (3, 3), pad=(1, 1))
            y, idx = F.max(h, axis=1, with_index=True)
            return F.mean(F.softmax(F.add_scalar(y, 0.5)))
    """)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _mypy(tmp_path, """
        import nablite.functions as F
        import nablite.parametric_functions as PF
        import nablite.solvers as S

        def build(x) -> None:
            F.relu(x, inplace="yes")
            PF.affine(x, 16, base_axis="one")
            S.Sgd(lr="0.1")
    """)
    assert bad.returncode == 1
    assert 'Argument "inplace" to "relu" has incompatible type "str"' in bad.stdout
    assert 'Argument "base_axis" to "affine" has incompatible type "str"' in bad.stdout
    assert 'Argument "lr" to "Sgd" has incompatible type "str"' in bad.stdout


def test_mypy_knows_variable_ndarray_and_parameter_types(tmp_path):
    """Variable, NdArray and the parameter functions are annotated: the types users
    get back are the real ones, and wrong arguments are reported."""
    proc = _mypy(tmp_path, """
        import numpy as np
        import nablite as nn
        import nablite.functions as F

        def make() -> nn.Variable:
            return nn.Variable((2, 3), need_grad=True)

        x = make()
        reveal_type(make().d)
        reveal_type(x.shape)
        reveal_type(1.0 - x * 2.0)
        reveal_type(F.relu(x) @ np.ones((3, 2)))
        reveal_type(1 - x.data + 1)
        reveal_type(nn.get_parameters())
        reveal_type(x.parent)
        with nn.parameter_scope("fc") as scope:
            reveal_type(scope)
        x.d = np.ones((2, 3))
        x.g = 0.5
        x.need_grad = "yes"
        nn.parameter_scope(3)
        nn.save_parameters(1.5)
        x.forward(clear_buffer="no")
        nn.NdArray("a")
    """)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    revealed = [line.split('Revealed type is "', 1)[1][:-1] for line in lines
                if "Revealed type" in line]
    # NumPy's stubs spell an array of any shape by version: ndarray[Any, ...] (2.0),
    # ndarray[tuple[int, ...], ...] (2.2), ndarray[tuple[Any, ...], ...] (2.3 on)
    assert re.fullmatch(r"numpy\.ndarray\[(Any|tuple\[(int|Any), \.\.\.\]), "
                        r"numpy\.dtype\[Any\]\]", revealed[0]), revealed[0]
    assert revealed[1:] == [
        "tuple[int, ...]",
        "nablite.variable.Variable", "nablite.variable.Variable", "nablite._array.NdArray",
        "dict[str, nablite.variable.Variable]", "nablite.function.Function | None",
        "collections.OrderedDict[str, Any]"], proc.stdout
    errors = [line.split(": error: ", 1)[1] for line in lines if ": error: " in line]
    assert errors == [
        'Incompatible types in assignment (expression has type "str", variable has type '
        '"bool")  [assignment]',
        'Argument 1 to "parameter_scope" has incompatible type "int"; expected "str"  '
        '[arg-type]',
        'Argument 1 to "save_parameters" has incompatible type "float"; expected '
        '"str | PathLike[str] | IO[bytes]"  [arg-type]',
        'Argument "clear_buffer" to "forward" of "Variable" has incompatible type "str"; '
        'expected "bool"  [arg-type]',
        'Argument 1 to "NdArray" has incompatible type "str"; expected "int | Sequence[int]"  '
        '[arg-type]'], proc.stdout
