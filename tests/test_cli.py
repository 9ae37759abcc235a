"""The `nablite` command: train, run (the nnabla alias), and the README's lines."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
README = os.path.join(ROOT, "README.md")


def nablite(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "nablite.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    return proc


def test_run_resolves_nnabla_imports_to_nablite(tmp_path):
    script = tmp_path / "legacy.py"
    script.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import nnabla as nn
        import nnabla.functions as F
        from nnabla.ext_utils import get_extension_context
        import tiny_digits
        assert nn.__name__ == "nablite", nn.__name__
        assert F.tanh.__module__.startswith("nablite")
        x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]), need_grad=True)
        y = F.mul_scalar(x, 3.0)
        y.forward()
        print("ok", y.d.tolist(), np.array([1.7]).astype(np.int).tolist(), sys.argv[1:])
        print(get_extension_context("cpu"))
        print(len(tiny_digits.load_digits().images))
    """))
    proc = nablite("run", str(script), "--flag", "v")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "ok [3.0, 6.0] [1] ['--flag', 'v']"
    assert "cpu:float" in lines[1] and lines[2] == "1797"


def test_run_reports_a_missing_script(tmp_path):
    proc = nablite("run", str(tmp_path / "missing.py"))
    assert proc.returncode == 2 and "no such script" in proc.stderr


def test_alias_is_not_installed_by_importing_nablite():
    code = "import nablite, importlib.util; print(importlib.util.find_spec('nnabla'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0
    # Either no nnabla at all, or the real one: never nablite under that name.
    assert "nablite" not in proc.stdout


@pytest.mark.parametrize("model", ["logreg", "rnn", "siamese"])
def test_train_writes_params_log_and_plot(tmp_path, model):
    proc = nablite("train", model, "--steps", "30", "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "held-out accuracy" in proc.stdout
    for name in ("params.h5", "curves.png", "training-loss.series.txt"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_train_rejects_bad_arguments(tmp_path):
    proc = nablite("train", "cnn", "--steps", "0", "--out", str(tmp_path))
    assert proc.returncode != 0 and "--steps" in proc.stderr


def _readme_block(heading, lang):
    text = open(README).read()
    section = text.split(heading, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def test_readme_quick_start_trains_the_cnn(tmp_path):
    """The README's first command, as a newcomer runs it (after the install)."""
    first = _readme_block("## Quick start", "bash").splitlines()[0]
    assert first.endswith("&& nablite train cnn")
    proc = nablite("train", "cnn", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    acc = float(re.search(r"training accuracy: ([0-9.]+)", proc.stdout).group(1))
    assert acc > 0.9
    for name in ("params.h5", "curves.png"):
        assert (tmp_path / "runs" / "cnn" / name).stat().st_size > 0


def test_readme_tour_runs():
    code = _readme_block("## A short tour", "python")
    exec(compile(code, "README tour", "exec"), {})


def test_readme_higher_order_gradients_runs():
    code = _readme_block("### Higher-order gradients", "python")
    exec(compile(code, "README nn.grad", "exec"), {})


def test_run_shows_an_nnabla_scripts_log_messages(tmp_path):
    script = tmp_path / "logs.py"
    script.write_text("import nnabla.logger as logger\nlogger.info('epoch 1 done')\n")
    proc = nablite("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert "[INFO]: epoch 1 done" in proc.stderr
