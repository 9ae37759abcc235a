"""The `nablite` command through its real entry points (the console script when it
is on PATH next to this Python, else ``python -m nablite``): train, run (the
nnabla alias), bench, --help and --version, logging, and the README's lines."""
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
README = os.path.join(ROOT, "README.md")


def _console_script():
    script = shutil.which("nablite", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "nablite"]


ENTRY = _console_script()


def nablite(*args, cwd=None, env=None, timeout=600):
    return subprocess.run([*ENTRY, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def python_m_nablite(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "nablite", *args], capture_output=True,
                          text=True, timeout=120, **kwargs)


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
        # NumPy 1.x names of the NNabla era that NumPy 2 removed
        assert np.product([2, 3]) == 6 and np.float_ is np.float64 and np.isnan(np.NaN)
        assert np.alltrue([1, 1]) and np.asfarray([1, 2]).dtype == np.float64
        assert np.in1d([[1, 5]], [5]).tolist() == [False, True] and np.NINF < 0
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
    pytest.importorskip("h5py")
    pytest.importorskip("matplotlib")
    proc = nablite("train", model, "--steps", "30", "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    printed = float(re.search(r"held-out accuracy: ([0-9.]+)", proc.stdout).group(1))
    names = ["params.h5", "curves.png", "training-loss.series.txt"]
    names += ["embedding.png"] if model == "siamese" else []
    for name in names:
        assert (tmp_path / name).stat().st_size > 0, name
    # curves.png has the accuracy's axes under the loss's (6.4 x 6 inches; 4.2 without)
    import matplotlib.image
    assert matplotlib.image.imread(str(tmp_path / "curves.png")).shape[:2] == (600, 640)
    # the held-out accuracy is logged every 3 steps, the last entry the printed one
    rows = (tmp_path / "held-out-accuracy.series.txt").read_text().split("\n")
    rows = [r.split() for r in rows if r]
    assert [int(r[0]) for r in rows] == list(range(2, 30, 3))
    assert float(rows[-1][1]) == pytest.approx(printed, abs=1e-4)
    # ten timings, so that `nablite plot_timer` draws a curve
    timings = (tmp_path / "training-time.timer.txt").read_text().split("\n")
    assert [int(r.split()[0]) for r in timings if r] == list(range(2, 30, 3))


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps must be at least 1, got 0"),
    (["--batch-size", "1501"], "--batch-size must be between 1 and 1500"),
    (["--batch-size", "0"], "--batch-size must be between 1 and 1500"),
    (["--lr", "-1"], "--lr must be a finite positive number, got -1.0"),
    (["--lr", "nan"], "--lr must be a finite positive number, got nan"),
    (["--lr", "inf"], "--lr must be a finite positive number, got inf"),
    (["--lr", "0"], "--lr must be a finite positive number, got 0.0"),
])
def test_train_rejects_bad_values_in_one_line(tmp_path, args, message):
    """--batch-size 1501 used to hang at 0/1; bad learning rates passed silently."""
    out = tmp_path / "out"
    proc = nablite("train", "cnn", *args, "--out", str(out), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"nablite train: error: {message}" or (
        proc.stderr.strip().startswith(f"nablite train: error: {message}")
        and "\n" not in proc.stderr.strip()), proc.stderr
    assert not out.exists()                      # checked before anything is written


def test_train_out_problems_are_one_line_errors_before_training(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [(a_file, "exists and is not a folder"),
             (a_file / "sub", "cannot create the folder")]
    if os.path.isdir("/proc/self"):            # a place even root cannot write
        cases.append(("/proc/self", "cannot write files there"))
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        cases.append((locked, "cannot write files there"))
    for out, reason in cases:
        proc = nablite("train", "logreg", "--out", str(out), timeout=60)
        assert proc.returncode == 2, (out, proc.stderr)
        assert proc.stderr.strip().startswith(f"nablite train: error: --out {out}: {reason}")
        assert "Traceback" not in proc.stderr and "train logreg" not in proc.stderr


def test_train_creates_missing_parents_of_out(tmp_path):
    pytest.importorskip("h5py")
    out = tmp_path / "a" / "b"
    proc = nablite("train", "logreg", "--steps", "5", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert (out / "params.h5").is_file()


def test_train_stops_when_the_loss_diverges_and_keeps_the_last_good_params(tmp_path):
    pytest.importorskip("h5py")
    good = nablite("train", "logreg", "--steps", "5", "--out", str(tmp_path), "--no-progress")
    assert good.returncode == 0, good.stderr
    before = (tmp_path / "params.h5").read_bytes()
    proc = nablite("train", "logreg", "--steps", "50", "--lr", "1e30", "--out", str(tmp_path),
                   "--no-progress")
    assert proc.returncode == 1
    msg = re.search(r"nablite train: the training loss became (nan|inf|-inf) at step (\d+) "
                    r"\(the last finite loss was ([-+0-9.e]+) at step (\d+)\); stopped without "
                    r"saving parameters", proc.stderr)
    assert msg, proc.stderr
    assert int(msg.group(4)) == int(msg.group(2)) - 1
    assert "RuntimeWarning" not in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "params.h5").read_bytes() == before


CONFIG_MODULE = "nablite.commands.train_config"
# a sitecustomize that stands in for nablite.commands.train_config (or hides it)
FAKE_CONFIG_COMMAND = """
import importlib.abc, importlib.util, sys
NAME = "nablite.commands.train_config"


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != NAME:
            return None
        if MODE == "missing":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return importlib.util.spec_from_loader(name, self)

    def exec_module(self, module):
        def main(opts):
            print("train_config got", opts.config, opts.outdir, opts.no_progress)
            return 7
        module.main = main


sys.meta_path.insert(0, _Finder())
"""


def _with_config_command(tmp_path, mode):
    site = tmp_path / f"site_{mode}"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"MODE = {mode!r}\n" + FAKE_CONFIG_COMMAND)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))


def test_train_config_form_hands_over_to_the_config_command(tmp_path):
    env = _with_config_command(tmp_path, "present")
    proc = nablite("train", "-c", "net.nnp", "-o", "out", "--no-progress", env=env)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.strip() == "train_config got net.nnp out True"
    proc = nablite("train", "--config", "net.nnp", "--outdir", "o2", env=env)
    assert proc.stdout.strip() == "train_config got net.nnp o2 False"


def test_train_config_form_without_the_config_command(tmp_path):
    env = _with_config_command(tmp_path, "missing")
    proc = nablite("train", "-c", str(tmp_path / "net.nnp"), "-o", str(tmp_path / "o"), env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("nablite train: training from .nnp configurations "
                                   "(-c/--config) is not available in this install")


def test_train_wants_a_model_or_a_config_not_both(tmp_path):
    proc = nablite("train")
    assert proc.returncode == 2 and "give a MODEL" in proc.stderr
    proc = nablite("train", "cnn", "-c", str(tmp_path / "net.nnp"))
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_progress_outside_a_terminal_is_a_few_plain_lines(tmp_path):
    pytest.importorskip("h5py")
    proc = nablite("train", "logreg", "--steps", "300", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    bars = [line for line in proc.stderr.splitlines() if line.startswith("train logreg:")]
    assert 2 <= len(bars) <= 5, proc.stderr          # the start, every 10 s, the end
    assert "300/300" in bars[-1] and "held_out=" in bars[-1]
    quiet = nablite("train", "logreg", "--steps", "30", "--out", str(tmp_path), "--no-progress")
    assert "train logreg:" not in quiet.stderr


def test_help_of_every_command_describes_options_and_defaults():
    top = nablite("--help")
    assert top.returncode == 0 and "train" in top.stdout and "bench" in top.stdout
    listed = re.findall(r"^    (\w+)", top.stdout.split("  COMMAND\n", 1)[1], re.M)
    described = " ".join(top.stdout.split("positional arguments:")[0].split())
    assert len(listed) >= 3 and all(f"{name}," in described or f"{name})" in described
                                    or f"({name}" in described for name in listed), listed
    assert "NABLITE_LOG_LEVEL" in described and "print nablite's version" in top.stdout
    train = nablite("train", "--help").stdout
    for text in ("--no-progress", "(default: 1000)", "(default: 64)", "(default: 0)",
                 "(default: runs/MODEL)", "-c CONFIG.nnp", "-o DIR", "take about"):
        assert text in train, text
    run = nablite("run", "--help").stdout
    assert "sys.argv[1:]" in run and "(optional)" in run
    for out in (top.stdout, train, run):
        assert "``" not in out and ":class:" not in out and ":func:" not in out


def test_version_from_the_package_metadata():
    import nablite as package
    want = importlib.metadata.version("nablite")
    assert package.__version__ == want
    for proc in (nablite("--version"), python_m_nablite("--version")):
        assert proc.returncode == 0 and proc.stdout.strip() == f"nablite {want}"


def test_python_m_nablite_is_the_command(tmp_path):
    """`nablite run` without a script names only the script as missing (args is
    optional), through the console script and python -m nablite alike."""
    for proc in (nablite("run"), python_m_nablite("run")):
        assert proc.returncode == 2
        assert "required: script" in proc.stderr and "args" not in proc.stderr.splitlines()[-1]


def test_run_passes_sys_exit_messages_and_codes(tmp_path):
    script = tmp_path / "quits.py"
    script.write_text("import sys\nsys.exit(sys.argv[1] if sys.argv[1] != '3' else 3)\n")
    proc = nablite("run", str(script), "the data folder is missing")
    assert proc.returncode == 1 and proc.stderr.strip() == "the data folder is missing"
    proc = nablite("run", str(script), "3")
    assert proc.returncode == 3 and proc.stderr == ""


def test_bench_options_reach_benchmarks_run_py():
    """`nablite bench --quick` used to fail with "unrecognized arguments"."""
    proc = nablite("bench", "--quick", "--workloads", "W1,W3", "--dry-run", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "workloads W1,W3, quick=True" in proc.stdout
    proc = nablite("bench", "--workloads", "W9", "--dry-run", cwd=ROOT)
    assert proc.returncode == 2 and "unknown id(s) W9" in proc.stderr
    helped = nablite("bench", "--help", cwd=ROOT)
    assert helped.returncode == 0 and "--quick" in helped.stdout


LOG = "import nablite, logging\n{setup}nablite.logger.info('loaded %d', 3)\n"


@pytest.mark.parametrize("setup, env, want", [
    ("", {}, ["[nablite][INFO]: loaded 3"]),
    ("", {"NABLITE_LOG_LEVEL": "WARNING"}, []),
    ("logging.getLogger('nablite').setLevel(logging.ERROR)\n", {}, []),
    ("logging.basicConfig(format='app %(name)s %(message)s')\n", {}, ["app nablite loaded 3"]),
])
def test_logger_prints_info_like_nnabla_and_is_configurable(setup, env, want):
    proc = subprocess.run([sys.executable, "-c", LOG.format(setup=setup)], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, **env))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(want)
    for line, w in zip(lines, want):
        assert line.endswith(w)
        if "[nablite]" in w:                         # NNabla's console format
            assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[nablite\]", line)


def _readme_block(heading, lang):
    text = open(README).read()
    section = text.split(heading, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def _readme_section(heading):
    """README.md's text from ``heading`` to the next heading of its level (the test
    fails, not skips, when the section is missing)."""
    text = open(README).read()
    assert f"\n{heading}\n" in text, f"README.md has no {heading!r} section"
    level = heading.split()[0]
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"\n{level} ", body, maxsplit=1)[0]


def _masked(line):
    return re.sub(r"\d+\.\d+", "N", line)


def test_readme_quick_start_trains_the_cnn(tmp_path):
    """The README's first command, as a newcomer runs it (after the install), prints
    what the quick start shows and writes the files it names."""
    first = _readme_block("## Quick start", "bash").splitlines()[0]
    assert first.endswith("&& nablite train cnn")
    proc = nablite("train", "cnn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    acc = float(re.search(r"training accuracy: ([0-9.]+)", proc.stdout).group(1))
    assert acc > 0.9
    section = _readme_section("## Quick start")
    bar, shown = re.findall(r"```text\n(.*?)```", section, re.S)
    # the summary, numbers aside, and the log line on stderr
    info, *summary = shown.strip().splitlines()
    assert [_masked(line) for line in proc.stdout.strip().splitlines()] == \
        [_masked(line) for line in summary]
    assert info.split("]: ", 1)[1] in proc.stderr
    # the bar's last state (outside a terminal tqdm draws it with '#' instead of blocks)
    last = [line for line in proc.stderr.splitlines() if line.startswith("train cnn:")][-1]
    assert re.sub(r"\|.*?\|", "|", _masked(last)).split("[")[0] == \
        re.sub(r"\|.*?\|", "|", _masked(bar.strip())).split("[")[0]
    assert re.search(r"held_out=N, loss=N\]$", _masked(last)), last
    named = re.findall(r"`(?:runs/cnn/)?([\w.-]+\.(?:h5|png|txt))`", section)
    assert len(named) >= 5, named                    # params.h5 (h5py is here), the logs
    for name in named:
        assert (tmp_path / "runs" / "cnn" / name).stat().st_size > 0, name


def test_readme_cli_section_covers_every_command_and_option():
    section = _readme_section("## The `nablite` command")
    assert "<!-- section: cli" not in section
    top = nablite("--help").stdout
    commands = re.findall(r"^    (\w+)", top.split("  COMMAND\n", 1)[1], re.M)
    assert len(commands) >= 3
    for name in commands:
        assert f"`{name}`" in section or f"nablite {name}" in section, name
    train = nablite("train", "--help").stdout
    for option in sorted(set(re.findall(r"  (--[\w-]+)", train)) - {"--help"}):
        assert option in section, option
    for text in ("--no-progress", "NABLITE_LOG_LEVEL", "python -m nablite", "--version",
                 "nablite.__version__", "--quick", "sys.exit(\"message\")"):
        assert text in section, text
    assert "](#nnablas-commands)" in section and "\n## NNabla's commands\n" in open(README).read()
    # the models' run times agree with nablite train --help's
    rows = dict(re.findall(r"^\| `(\w+)` \|.*\| ([0-9.]+) s \|$", section, re.M))
    assert sorted(rows) == ["cnn", "logreg", "mlp", "rnn", "siamese"]
    helped = " ".join(train.split())
    for model, seconds in rows.items():
        said = re.search(rf"about ([0-9.]+) s \([a-z, ]*\b{model}\b", helped) or \
            re.search(rf"([0-9.]+) s \([a-z, ]*\b{model}\b", helped)
        assert said and abs(float(said.group(1)) - float(seconds)) <= 0.5, (model, seconds)


def test_readme_examples_table_names_scripts_whose_help_gives_the_same_time():
    section = _readme_section("## Examples")
    rows = re.findall(r"^\| `(examples/\w+\.py)` \|.*\| ([0-9.]+) s \|$", section, re.M)
    assert len(rows) >= 8, rows
    for script, seconds in rows:
        path = os.path.join(ROOT, script)
        assert os.path.isfile(path), script
        helped = subprocess.run([sys.executable, path, "--help"], capture_output=True,
                                text=True, timeout=120)
        assert helped.returncode == 0, (script, helped.stderr)
        said = re.search(r"takes about ([0-9.]+) s", " ".join(helped.stdout.split()))
        assert said, f"{script} --help does not say how long its default run takes"
        told, measured = float(said.group(1)), float(seconds)
        assert abs(told - measured) <= max(1.0, 0.25 * measured), (script, told, measured)


def test_readme_tour_runs():
    code = _readme_block("## A short tour", "python")
    exec(compile(code, "README tour", "exec"), {})


def test_readme_higher_order_gradients_runs():
    code = _readme_block("### Higher-order gradients", "python")
    exec(compile(code, "README nn.grad", "exec"), {})


@pytest.mark.host_context  # the block shows the default ('float') context
def test_readme_precision_block_prints_what_it_says(capsys):
    code = _readme_block("### Precision", "python")
    exec(compile(code, "README precision", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    said = [line.split("# ", 1)[1].split(" (")[0] for line in code.splitlines()
            if line.startswith("print(")]
    assert printed == said


def test_run_shows_an_nnabla_scripts_log_messages(tmp_path):
    script = tmp_path / "logs.py"
    script.write_text("import nnabla.logger as logger\nlogger.info('epoch 1 done')\n")
    proc = nablite("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert "[INFO]: epoch 1 done" in proc.stderr
