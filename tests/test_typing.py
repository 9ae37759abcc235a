"""Type information for users' editors and mypy: the py.typed marker ships with the
package, and mypy (configured in pyproject.toml's [tool.mypy]) passes on the
examples and the command-line modules, which annotate everything they define."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_py_typed_marker_is_package_data():
    import nablite
    assert os.path.isfile(os.path.join(os.path.dirname(nablite.__file__), "py.typed"))
    text = open(os.path.join(ROOT, "pyproject.toml")).read()
    package_data = text.split("[tool.setuptools.package-data]", 1)[1].split("[", 2)[:2]
    assert '"py.typed"' in "[".join(package_data)


def _mypy(*args, cwd=ROOT):
    pytest.importorskip("mypy")
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_mypy_passes_on_the_examples_and_the_cli():
    proc = _mypy()                                  # files and options from pyproject.toml
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
    checked = int(proc.stdout.split("in ")[1].split()[0])
    assert checked >= 13                            # 7+ examples and the CLI's modules


def test_the_check_catches_mistakes_in_an_example(tmp_path):
    """The configuration is not vacuous: an unannotated function and a wrong
    argument type to a nablite helper in an example are both reported."""
    bad = tmp_path / "examples"
    bad.mkdir()
    (bad / "bad_example.py").write_text(textwrap.dedent("""
        from nablite.utils.plot import save_curves

        def untyped(x):
            return x

        def plots(out: str) -> None:
            save_curves(out, [1, 2, 3])
    """))
    proc = _mypy("--config-file", os.path.join(ROOT, "pyproject.toml"),
                 "--cache-dir", os.path.join(ROOT, ".mypy_cache"), str(bad), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert "bad_example.py:4: error: Function is missing a type annotation" in proc.stdout
    assert 'bad_example.py:8: error: Argument 2 to "save_curves"' in proc.stdout
