"""NNabla's command-line tools as nablite subcommands, run through the real entry
point (``python -m nablite.cli``): outputs checked against NumPy, the files the
commands write, NNabla 1.39's own CLI where installed, and the one-line errors."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nablite as nn
import nablite.parametric_functions as PF

NNABLA_CLI = "/tmp/nnref/bin/nnabla_cli"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nablite.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def one_line_error(proc, command, *words):
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nablite {command}: "), proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture
def param_file(tmp_path):
    pytest.importorskip("h5py")
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    PF.affine(x, 4, name="fc")
    PF.batch_normalization(x, name="bn")
    rng = np.random.RandomState(0)
    for p in nn.get_parameters(grad_only=False).values():
        p.d = rng.randn(*p.shape)
    want = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    path = tmp_path / "p.h5"
    nn.save_parameters(str(path))
    nn.clear_parameters()
    return path, want


# -- version, help -------------------------------------------------------------
def test_version_and_help():
    proc = cli("version")
    assert proc.returncode == 0 and proc.stdout.startswith(f"nablite {nn.__version__}")
    for command in ("decode_param", "encode_param", "plot_series", "plot_timer",
                    "function_info", "version"):
        proc = cli(command, "--help")
        assert proc.returncode == 0 and f"nablite {command}" in proc.stdout


# -- decode_param / encode_param -------------------------------------------------
def test_decode_then_encode_round_trip(param_file, tmp_path):
    path, want = param_file
    out = tmp_path / "dec"
    proc = cli("decode_param", "-p", path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == sorted(k.replace("/", "~") + ".txt" for k in want)
    lines = (out / "fc~affine~W.txt").read_text().split("\n")
    assert lines[0] == "(3, 4)" and len(lines) == 13
    np.testing.assert_array_equal(np.array(lines[1:], float), want["fc/affine/W"].ravel())
    proc = cli("encode_param", "-i", out, "-p", tmp_path / "again.h5")
    assert proc.returncode == 0, proc.stderr
    nn.load_parameters(str(tmp_path / "again.h5"))
    got = {k: v.d for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k].astype(np.float32))


def test_decode_matches_nnabla_cli(param_file, tmp_path):
    if not os.path.exists(NNABLA_CLI):
        pytest.skip("NNabla 1.39's nnabla_cli is not installed")
    path, _ = param_file
    cli("decode_param", "-p", path, "-o", tmp_path / "mine")
    subprocess.run([NNABLA_CLI, "decode_param", "-p", str(path), "-o", str(tmp_path / "ref")],
                   capture_output=True, timeout=120, check=True)
    names = sorted(os.listdir(tmp_path / "ref"))
    assert sorted(os.listdir(tmp_path / "mine")) == names
    for n in names:
        assert (tmp_path / "mine" / n).read_bytes() == (tmp_path / "ref" / n).read_bytes(), n


def test_param_errors(tmp_path):
    one_line_error(cli("decode_param", "-p", tmp_path / "none.h5", "-o", tmp_path / "o"),
                   "decode_param", "no such parameter file", "none.h5")
    one_line_error(cli("decode_param", "-o", tmp_path / "o"), "decode_param", "-p/--param")
    one_line_error(cli("encode_param", "-i", tmp_path / "nodir", "-p", tmp_path / "x.h5"),
                   "encode_param", "no such input directory")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "w.txt").write_text("(2, 2)\n1.0\n2.0\n3.0")
    one_line_error(cli("encode_param", "-i", bad, "-p", tmp_path / "x.h5"), "encode_param",
                   "shape (2, 2) needs 4 values, the file has 3")
    (bad / "w.txt").write_text("(2**40, 2**40)\n1.0")
    one_line_error(cli("encode_param", "-i", bad, "-p", tmp_path / "x.h5"), "encode_param",
                   "first line must be a shape")
    (bad / "w.txt").write_text("(65536, 65536, 65536)\n1.0")
    one_line_error(cli("encode_param", "-i", bad, "-p", tmp_path / "x.h5"), "encode_param",
                   "at most")
    assert not (tmp_path / "x.h5").exists()


# -- plot_series / plot_timer ----------------------------------------------------
def test_plot_series_and_timer(tmp_path):
    pytest.importorskip("matplotlib")
    from nablite.monitor import Monitor, MonitorSeries, MonitorTimeElapsed
    monitor = Monitor(str(tmp_path))
    series = MonitorSeries("Training loss", monitor, interval=1, verbose=False)
    timer = MonitorTimeElapsed("Epoch time", monitor, interval=1, verbose=False)
    for i in range(5):
        series.add(i, 1.0 / (i + 1))
        timer.add(i)
    s = tmp_path / "Training-loss.series.txt"
    t = tmp_path / "Epoch-time.timer.txt"
    proc = cli("plot_series", s, s, "-l", "a", "-l", "b", "-o", tmp_path / "s.png",
               "-x", "epoch", "-T", "2")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    proc = cli("plot_timer", t, "-e", "-u", "m", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "Epoch-time.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_errors(tmp_path):
    one_line_error(cli("plot_series", tmp_path / "x.series.txt"), "plot_series",
                   "no such series file")
    (tmp_path / "a.timer.txt").write_text("0 1.0\n")
    one_line_error(cli("plot_timer", tmp_path / "a.timer.txt"), "plot_timer",
                   "at least 4 columns")
    (tmp_path / "a.series.txt").write_text("0 1.0\n1 0.5\n")
    one_line_error(cli("plot_series", tmp_path / "a.series.txt", "-l", "a", "-l", "b"),
                   "plot_series", "2 --label for 1 files")
    one_line_error(cli("plot_timer", tmp_path / "a.timer.txt", "-u", "w"), "plot_timer",
                   "--time-unit")


# -- function_info ---------------------------------------------------------------
def test_function_info_lists_and_queries(tmp_path):
    pytest.importorskip("nablite.function_info")
    proc = cli("function_info")
    assert proc.returncode == 0
    names = proc.stdout.splitlines()[1:]
    assert {"Affine", "Convolution", "ReLU", "BatchNormalization"} <= set(names)
    assert proc.stdout.splitlines()[0] == f"{len(names)} NNabla functions nablite implements:"
    proc = cli("function_info", "-q", "Convolution")
    assert proc.stdout.splitlines() == [
        "Convolution (nablite.functions.convolution)", "  base_axis: int", "  pad: shape",
        "  stride: shape", "  dilation: shape", "  group: int", "  channel_last: bool"]
    proc = cli("function_info", "-x", "Affine,ReLU", "-o", tmp_path / "f.txt")
    listed = (tmp_path / "f.txt").read_text().splitlines()[1:]
    assert "Affine" not in listed and "Convolution" in listed
    one_line_error(cli("function_info", "-q", "Nope"), "function_info", "unknown function 'Nope'")
    one_line_error(cli("function_info", "-f", "NNB"), "function_info", "ONNX only")
