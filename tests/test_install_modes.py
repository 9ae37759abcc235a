"""A core install (numpy, tqdm and protobuf: pyproject.toml's dependencies) imports and
trains: nothing in nablite imports an extra's package at import time, and `nablite train`
finishes without them, its parameters in NNabla's .protobuf format.

A fresh virtual environment per test would be too slow for CI, so the extras'
packages are hidden instead: a ``sitecustomize`` on PYTHONPATH puts a finder in
front of ``sys.meta_path`` that refuses them, in the child process only.
"""
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

# module -> (extra, distribution): the packages a core install lacks
EXTRA_OF = {"h5py": ("io", "h5py"), "matplotlib": ("plot", "matplotlib"),
            "PIL": ("image", "pillow"), "onnx": ("onnx", "onnx"),
            "onnxruntime": ("onnx", "onnxruntime"), "mpi4py": ("dist", "mpi4py"),
            "cupy": ("cuda13", "cupy-cuda13x"), "graphviz": ("graph", "graphviz"),
            "numba": ("fast", "numba")}
EXTRAS = sorted(EXTRA_OF)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BLOCKER = textwrap.dedent(f"""
    import importlib.abc
    import sys

    BLOCKED = {EXTRAS!r}


    class _NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None


    sys.meta_path.insert(0, _NotInstalled())
""")


@pytest.fixture
def core_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return dict(os.environ, PYTHONPATH=path)


def test_the_blocker_hides_the_extras(core_env):
    proc = subprocess.run([sys.executable, "-c", "import h5py"], env=core_env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "No module named 'h5py'" in proc.stderr


CORE = ["nablite", "nablite.functions", "nablite.parametric_functions", "nablite.solvers",
        "nablite.solver", "nablite.initializer", "nablite.monitor", "nablite.parameter",
        "nablite.utils.data_iterator", "nablite.utils.image_utils", "nablite.utils.plot",
        "nablite.utils.learning_rate_scheduler", "nablite.datasets", "nablite.ext_utils",
        "nablite.testing", "nablite.experimental.parametric_function_class", "nablite.cli",
        "nablite.train", "nablite.compat"]

IMPORT_ALL = """
import importlib, sys
failed = []
for name in {names!r}:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        failed.append((name, e.name))
    except Exception as e:
        failed.append((name, f"{{type(e).__name__}}: {{e}}"))
print("FAILED", failed)
print("LOADED", [m for m in {extras!r} if m in sys.modules])
"""


def _import_all(names, env):
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL.format(names=names, extras=EXTRAS)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    failed, loaded = (line.split(" ", 1)[1] for line in proc.stdout.splitlines()[-2:])
    return eval(failed), eval(loaded)


def test_core_modules_import_without_the_extras(core_env):
    failed, loaded = _import_all(CORE, core_env)
    assert failed == [] and loaded == []


def test_no_module_imports_an_extra_unless_it_is_that_extras_binding(core_env):
    """Every module imports without the extras, or fails only for a missing extra's
    package (a binding such as nablite.onnx); none loads one as a side effect."""
    import nablite
    names = sorted(m.name for m in pkgutil.walk_packages(nablite.__path__, "nablite.",
                                                         onerror=lambda name: None)
                   if m.name != "nablite.__main__")
    failed, loaded = _import_all(names, core_env)
    assert loaded == []
    blocked = tuple(EXTRAS)
    assert [f for f in failed if not (f[1] or "").startswith(blocked)] == []


def _nablite_command():
    script = shutil.which("nablite", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "nablite"]


def test_train_finishes_on_a_core_install(core_env, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([*_nablite_command(), "train", "logreg", "--steps", "20",
                           "--out", str(out), "--no-progress"],
                          env=core_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"held-out accuracy: 0\.\d{4}", proc.stdout)
    assert 'plots skipped: they need matplotlib (pip install "nablite[plot]")' in proc.stdout
    assert not (out / "curves.png").exists() and not (out / "params.h5").exists()
    assert (out / "training-loss.series.txt").stat().st_size > 0
    saved = out / "params.protobuf"          # NNabla's .protobuf, which the core writes
    import nablite as nn
    nn.clear_parameters()
    nn.load_parameters(str(saved))
    shapes = {k: v.shape for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    assert shapes == {"affine1/affine/W": (64, 10), "affine1/affine/b": (10,)}
    assert f"wrote {saved}, monitor logs in {out}" in proc.stdout
    assert "parameters not saved" not in proc.stdout


def _pyproject_lists():
    """pyproject.toml's core dependencies and extras, as {name: [requirement, ...]}."""
    text = open(os.path.join(ROOT, "pyproject.toml")).read()
    core = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    lists = {"": re.findall(r'^\s*"([^"]+)"', core, re.M)}
    extras = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    for name, items in re.findall(r"^(\w+) = \[(.*)\]", extras, re.M):
        lists[name] = re.findall(r'"([^"]+)"', items)
    return lists


def _names(requirements):
    return {re.split(r"[<>=\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_core_dependencies_are_what_the_blocker_leaves():
    """The fixture's 'core install' is pyproject's: numpy, tqdm and protobuf."""
    lists = _pyproject_lists()
    assert _names(lists[""]) == {"numpy", "tqdm", "protobuf"}
    assert not {"numpy", "tqdm", "google.protobuf"} & set(EXTRAS)


def test_each_extra_declares_the_packages_its_code_imports():
    """Every package a core install lacks is in the extra named for it, and nablite
    (or, for onnxruntime, the tests that check exported graphs) imports it."""
    lists = _pyproject_lists()
    src = "\n".join(open(os.path.join(d, f)).read()
                    for d, _, files in os.walk(os.path.join(ROOT, "src", "nablite"))
                    for f in files if f.endswith(".py"))
    tests = "\n".join(open(os.path.join(ROOT, "tests", f)).read()
                      for f in os.listdir(os.path.join(ROOT, "tests")) if f.endswith(".py"))
    for module, (extra, dist) in EXTRA_OF.items():
        assert dist in _names(lists[extra]), (module, extra, lists[extra])
        used = rf"^\s*(import|from) {module}\b|importorskip\(\"{module}\"\)"
        assert re.search(used, src if module != "onnxruntime" else tests, re.M), module
    assert "pillow" in _names(lists["image"])              # image I/O, not the core
    assert {"cupy-cuda12x"} == _names(lists["cuda12"])      # GPU extras by CUDA version
    assert "hypothesis" in _names(lists["test"]) and re.search(
        r"^from hypothesis import", tests, re.M)           # used by the fuzz tests
    everything = _names(lists["all"]) | _names(lists["test"])
    assert {"nablite"} <= everything and "gpu" not in lists


HINT_CASES = {
    "io": "import nablite as nn, nablite.parametric_functions as PF\n"
          "PF.affine(nn.Variable((2, 3)), 4)\nnn.save_parameters(OUT + '/p.h5')",
    "image": "from nablite.utils.image_utils import imsave\n"
             "import numpy as np\nimsave(OUT + '/a.png', np.zeros((4, 4), np.uint8))",
    "plot": "from nablite.utils.plot import save_curves\n"
            "save_curves(OUT + '/c.png', {'a': ([0, 1], [1, 0])})",
}


@pytest.mark.parametrize("extra", ["io", "image", "plot"])
def test_a_missing_extra_names_the_pip_command(core_env, tmp_path, extra):
    """The error says what to install, in a form every shell takes (quoted brackets)."""
    code = f"OUT = {str(tmp_path)!r}\n" + HINT_CASES[extra]
    proc = subprocess.run([sys.executable, "-c", code], env=core_env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError") and f'pip install "nablite[{extra}]"' in last, last
    assert os.listdir(tmp_path) == ["site"]          # nothing half-written
