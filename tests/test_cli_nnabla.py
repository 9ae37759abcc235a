"""NNabla's command-line tools as nablite subcommands, run through the real entry
point (``python -m nablite.cli``): outputs checked against NumPy, the files the
commands write, NNabla 1.39's own CLI where installed, and the one-line errors
(those through ``nablite.cli.main`` in this process, to keep the tests quick)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF

from _helpers import cli_main  # noqa: E402

NNABLA_CLI = "/tmp/nnref/bin/nnabla_cli"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nablite.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


main = cli_main  # nablite.cli.main in this process


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
                    "function_info", "version", "infer", "forward", "dump", "convert",
                    "draw_graph"):
        proc = main(command, "--help")
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
    one_line_error(main("decode_param", "-p", tmp_path / "none.h5", "-o", tmp_path / "o"),
                   "decode_param", "no such parameter file", "none.h5")
    one_line_error(main("decode_param", "-o", tmp_path / "o"), "decode_param", "-p/--param")
    one_line_error(main("encode_param", "-i", tmp_path / "nodir", "-p", tmp_path / "x.h5"),
                   "encode_param", "no such input directory")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "w.txt").write_text("(2, 2)\n1.0\n2.0\n3.0")
    one_line_error(main("encode_param", "-i", bad, "-p", tmp_path / "x.h5"), "encode_param",
                   "shape (2, 2) needs 4 values, the file has 3")
    (bad / "w.txt").write_text("(2**40, 2**40)\n1.0")
    one_line_error(main("encode_param", "-i", bad, "-p", tmp_path / "x.h5"), "encode_param",
                   "first line must be a shape")
    (bad / "w.txt").write_text("(65536, 65536, 65536)\n1.0")
    one_line_error(main("encode_param", "-i", bad, "-p", tmp_path / "x.h5"), "encode_param",
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


def test_plot_of_a_single_point_draws_a_marker(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from nablite.utils import plot
    drawn = []
    save = plot._save
    monkeypatch.setattr(plot, "_save", lambda fig, path: (drawn.append(fig), save(fig, path))[1])
    s = tmp_path / "one.series.txt"
    s.write_text("0 1.5\n")
    t = tmp_path / "many.series.txt"
    t.write_text("0 1.5\n1 1.0\n")
    for path in (s, t):
        assert main("plot_series", path, "-o", tmp_path / "p.png").returncode == 0
    one, many = (fig.axes[0].lines[0].get_marker() for fig in drawn)
    assert one == "o" and many in ("None", None, "")


def test_plot_errors(tmp_path):
    one_line_error(main("plot_series", tmp_path / "x.series.txt"), "plot_series",
                   "no such series file")
    (tmp_path / "a.timer.txt").write_text("0 1.0\n")
    one_line_error(main("plot_timer", tmp_path / "a.timer.txt"), "plot_timer",
                   "at least 4 columns")
    (tmp_path / "a.series.txt").write_text("0 1.0\n1 0.5\n")
    one_line_error(main("plot_series", tmp_path / "a.series.txt", "-l", "a", "-l", "b"),
                   "plot_series", "2 --label for 1 files")
    one_line_error(main("plot_timer", tmp_path / "a.timer.txt", "-u", "w"), "plot_timer",
                   "--time-unit")


# -- function_info ---------------------------------------------------------------
def test_function_info_lists_and_queries(tmp_path):
    pytest.importorskip("nablite.function_info")
    proc = cli("function_info")
    assert proc.returncode == 0
    names = proc.stdout.splitlines()  # the names only, as NNabla prints them
    assert {"Affine", "Convolution", "ReLU", "BatchNormalization"} <= set(names)
    assert proc.stderr.splitlines()[-1] == f"{len(names)} NNabla functions nablite implements:"
    proc = cli("function_info", "-q", "Convolution")
    assert proc.stdout.splitlines() == [
        "Convolution (nablite.functions.convolution)", "  base_axis: int", "  pad: shape",
        "  stride: shape", "  dilation: shape", "  group: int", "  channel_last: bool"]
    proc = cli("function_info", "-x", "Affine,ReLU", "-x", "Tanh", "-o", tmp_path / "f.txt")
    listed = (tmp_path / "f.txt").read_text().splitlines()
    assert "Affine" not in listed and "Tanh" not in listed and "Convolution" in listed
    one_line_error(main("function_info", "-q", "Nope"), "function_info", "unknown function 'Nope'")
    one_line_error(main("function_info", "-f", "NNB"), "function_info", "ONNX only")


# -- model files: infer, forward, dump, convert, draw_graph ----------------------
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "nnp")


@pytest.fixture
def model(tmp_path):
    """An .nnp nablite writes: y = relu(x @ W + b), and its parameters."""
    pytest.importorskip("google.protobuf")
    from nablite.utils.save import save
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    y = F.relu(PF.affine(x, 4, name="fc"))
    rng = np.random.RandomState(1)
    params = {k: rng.randn(*v.shape).astype(np.float32)
              for k, v in nn.get_parameters(grad_only=False).items()}
    for k, v in nn.get_parameters(grad_only=False).items():
        v.d = params[k]
    path = tmp_path / "m.nnp"
    save(str(path), {"networks": [{"name": "net", "batch_size": 2, "outputs": {"y": y},
                                   "names": {"x": x}}],
                     "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                                    "output": ["y"]}]})
    nn.clear_parameters()

    def ref(xd):
        return np.maximum(xd @ params["fc/affine/W"] + params["fc/affine/b"], 0)
    return path, ref


def test_infer_raw_binary(model, tmp_path):
    path, ref = model
    xd = np.arange(3, dtype=np.float32) - 1
    xd.tofile(tmp_path / "x.bin")
    proc = cli("infer", "-c", path, "-o", tmp_path / "out", tmp_path / "x.bin")
    assert proc.returncode == 0, proc.stderr
    got = np.fromfile(tmp_path / "out_0.bin", np.float32)
    np.testing.assert_allclose(got, ref(xd[None])[0], rtol=1e-6)
    proc = cli("infer", "-c", path, "-b", "-1", tmp_path / "x.bin")  # file's batch 2: 6 values
    one_line_error(proc, "infer", "holds 12 bytes", "needs 6 float32 values")
    np.tile(xd, 2).astype(np.uint8 if False else np.float32).tofile(tmp_path / "x2.bin")
    proc = cli("infer", "-c", path, "-b", "-1", tmp_path / "x2.bin")
    assert proc.returncode == 0 and "y (2, 4):" in proc.stdout


def test_infer_nnabla_written_file(tmp_path):
    pytest.importorskip("google.protobuf")
    import json
    rec = json.load(open(os.path.join(FIXTURES, "cnn.json")))
    x = np.asarray(rec["inputs"]["x"], np.float32)
    x.tofile(tmp_path / "x.bin")
    proc = cli("infer", "-c", os.path.join(FIXTURES, "cnn.nnp"), "-b", "-1", "-o",
               tmp_path / "o", tmp_path / "x.bin")
    assert proc.returncode == 0, proc.stderr
    want = np.asarray(rec["outputs"]["y"], np.float32)
    got = [np.fromfile(tmp_path / f"o_{k}.bin", np.float32) for k in range(len(want))]
    assert not (tmp_path / f"o_{len(want)}.bin").exists()  # one file a sample, as NNabla
    np.testing.assert_allclose(np.stack(got).reshape(want.shape), want, rtol=1e-4, atol=1e-5)


def test_infer_matches_nnabla_cli_on_a_nablite_file(model, tmp_path):
    if not os.path.exists(NNABLA_CLI):
        pytest.skip("NNabla 1.39's nnabla_cli is not installed")
    path, ref = model
    np.array([0.5, -1.0, 2.0], np.float32).tofile(tmp_path / "x.bin")
    subprocess.run([NNABLA_CLI, "infer", "-c", str(path), "-o", str(tmp_path / "ref"),
                    str(tmp_path / "x.bin")], capture_output=True, timeout=120, check=True)
    cli("infer", "-c", path, "-o", tmp_path / "mine", tmp_path / "x.bin")
    np.testing.assert_allclose(np.fromfile(tmp_path / "mine_0.bin", np.float32),
                               np.fromfile(tmp_path / "ref_0.bin", np.float32), rtol=1e-6)


def test_infer_errors(model, tmp_path):
    path, _ = model
    np.zeros(3, np.float32).tofile(tmp_path / "x.bin")
    one_line_error(main("infer", "-c", tmp_path / "none.nnp", tmp_path / "x.bin"), "infer",
                   "no such model file")
    one_line_error(main("infer", "-c", path, tmp_path / "x.bin", tmp_path / "x.bin"), "infer",
                   "takes 1 input file(s)")
    one_line_error(main("infer", "-c", path, tmp_path / "nothere.bin"), "infer",
                   "no such input file")
    one_line_error(main("infer", "-c", path, "-t", "int8", tmp_path / "x.bin"), "infer",
                   "-t/--data_type")
    (tmp_path / "junk.nnp").write_bytes(b"PK\x03\x04 truncated")
    one_line_error(main("infer", "-c", tmp_path / "junk.nnp", tmp_path / "x.bin"), "infer",
                   "junk.nnp")
    (tmp_path / "m.txt").write_text("x")
    one_line_error(main("infer", "-c", tmp_path / "m.txt", tmp_path / "x.bin"), "infer",
                   "not a model file")


def test_forward_over_a_csv_dataset(model, tmp_path):
    path, ref = model
    xd = np.random.RandomState(3).randn(3, 3).astype(np.float32)
    rows = ["x__0,x__1,x__2"] + [",".join(repr(float(v)) for v in r) for r in xd]
    (tmp_path / "ds.csv").write_text("\n".join(rows) + "\n")
    proc = cli("forward", "-c", path, "-d", tmp_path / "ds.csv", "-o", tmp_path / "res")
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "res" / "output_result.csv").read_text().splitlines()
    assert lines[0] == "x__0,x__1,x__2,y__0,y__1,y__2,y__3" and len(lines) == 4
    got = np.array([[float(c) for c in line.split(",")[3:]] for line in lines[1:]])
    np.testing.assert_allclose(got, ref(xd), rtol=1e-5, atol=1e-6)
    one_line_error(main("forward", "-c", path, "-o", tmp_path / "r2"), "forward", "-d/--dataset")
    (tmp_path / "bad.csv").write_text("z__0\n1\n")
    one_line_error(main("forward", "-c", path, "-d", tmp_path / "bad.csv", "-o", tmp_path / "r3"),
                   "forward", "no column for x")


def test_forward_writes_array_outputs_and_paths_as_nnabla(tmp_path):
    """Per-sample (2, 3) outputs go to OUTDIR/RESULT_OUTDIR/<output>_<row//1000>/
    <row>.csv, named './...' from OUTDIR in the table; input paths get './'."""
    pytest.importorskip("google.protobuf")
    import nablite.functions as F
    from nablite.utils.save import save
    nn.clear_parameters()
    x = nn.Variable((1, 6))
    y = F.reshape(x * 2.0, (1, 2, 3))
    save(str(tmp_path / "m.nnp"), {"networks": [{"name": "net", "batch_size": 1,
                                                 "outputs": {"y": y}, "names": {"x": x}}],
                                   "executors": [{"name": "runtime", "network": "net",
                                                  "data": ["x"], "output": ["y"]}]})
    (tmp_path / "data").mkdir()
    for i in range(2):
        np.savetxt(tmp_path / "data" / f"x{i}.csv", np.arange(6.0).reshape(1, 6) + i,
                   delimiter=",")
    (tmp_path / "ds.csv").write_text("x\ndata/x0.csv\ndata/x1.csv\n")
    proc = cli("forward", "-c", tmp_path / "m.nnp", "-d", "ds.csv", "-o", "res",
               "--result_outdir", "arrays", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "res" / "output_result.csv").read_text().splitlines()
    assert lines[1:] == ["./data/x0.csv,./arrays/0_0000/0.csv",
                         "./data/x1.csv,./arrays/0_0000/1.csv"]
    got = np.loadtxt(tmp_path / "res" / "arrays" / "0_0000" / "1.csv", delimiter=",")
    np.testing.assert_allclose(got, (np.arange(6.0) + 1).reshape(2, 3) * 2)
    nn.clear_parameters()


@pytest.fixture
def map_model(tmp_path):
    """x (48 values a sample) reshaped into per-sample outputs of each kind NNabla's
    forward tells apart: 1, 3 and 2 maps (images), a matrix (CSV), 4-D (columns)."""
    pytest.importorskip("google.protobuf")
    import nablite.functions as F
    from nablite.utils.save import save
    nn.clear_parameters()
    x = nn.Variable((2, 48))
    def first(n, shape):
        return F.reshape(F.slice(x, (0, 0), (2, n)), (2,) + shape)
    outs = {"g": first(16, (1, 4, 4)), "rgb": F.reshape(x, (2, 3, 4, 4)),
            "two": first(32, (2, 4, 4)), "mat": first(6, (2, 3)), "d4": first(4, (1, 1, 2, 2))}
    save(str(tmp_path / "maps.nnp"), {
        "networks": [{"name": "net", "batch_size": 2, "outputs": outs, "names": {"x": x}}],
        "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                       "output": list(outs)}]})
    xd = np.random.RandomState(0).uniform(-0.5, 1.5, (3, 48)).astype(np.float32)
    rows = [",".join(f"x__{i}" for i in range(48))] + [",".join(repr(float(v)) for v in r)
                                                       for r in xd]
    (tmp_path / "maps.csv").write_text("\n".join(rows) + "\n")
    nn.clear_parameters()
    return tmp_path / "maps.nnp", tmp_path / "maps.csv", xd


def _png(path):
    from PIL import Image
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def test_forward_writes_maps_as_png_as_nnabla(map_model, tmp_path):
    """1 map: grayscale, 3 maps: RGB, else one grayscale PNG a map ('<map>_<row>.png',
    a column each); pixels are value * 255 clipped to [0, 255] and truncated."""
    path, data, xd = map_model
    proc = cli("forward", "-c", path, "-d", data, "-o", tmp_path / "res")
    assert proc.returncode == 0, proc.stderr
    res = tmp_path / "res"
    lines = (res / "output_result.csv").read_text().splitlines()
    assert lines[0].split(",")[48:] == ["g", "rgb", "two__0", "two__1", "mat", "d4__0",
                                        "d4__1", "d4__2", "d4__3"]
    assert lines[2].split(",")[48:53] == ["./0_0000/1.png", "./1_0000/1.png",
                                          "./2_0000/0_1.png", "./2_0000/1_1.png",
                                          "./3_0000/1.csv"]
    np.testing.assert_array_equal(np.array(lines[3].split(",")[53:], np.float32), xd[2, :4])
    # as NNabla, the sample the iterator adds to fill the last batch gets files too
    assert sorted(os.listdir(res / "0_0000")) == ["0.png", "1.png", "2.png", "3.png"]
    assert sorted(os.listdir(res / "2_0000")) == [f"{m}_{r}.png" for m in (0, 1)
                                                  for r in range(4)]

    def pixels(a):
        return (a * np.float32(255)).clip(0, 255).astype(np.uint8)
    for r in range(3):
        assert _png(res / "0_0000" / f"{r}.png")[0] == "L"
        np.testing.assert_array_equal(_png(res / "0_0000" / f"{r}.png")[1],
                                      pixels(xd[r, :16].reshape(4, 4)))
        mode, rgb = _png(res / "1_0000" / f"{r}.png")
        assert mode == "RGB"
        np.testing.assert_array_equal(rgb, pixels(xd[r].reshape(3, 4, 4)).transpose(1, 2, 0))
        for m in (0, 1):
            np.testing.assert_array_equal(_png(res / "2_0000" / f"{m}_{r}.png")[1],
                                          pixels(xd[r, :32].reshape(2, 4, 4)[m]))
    assert (res / "3_0000" / "2.csv").read_text() == "".join(
        ",".join(str(v) for v in row) + "\n" for row in xd[2, :6].reshape(2, 3))
    proc = cli("forward", "-c", path, "-d", data, "-o", tmp_path / "r2", "--result_outdir",
               "out", "-b", "1")
    assert proc.returncode == 0, proc.stderr
    cells = (tmp_path / "r2" / "output_result.csv").read_text().splitlines()[1].split(",")
    assert cells[48] == "./out/0_0000/0.png" and (tmp_path / "r2" / "out" / "0_0000").is_dir()


def test_forward_images_match_nnabla_cli(map_model, tmp_path):
    if not os.path.exists(NNABLA_CLI):
        pytest.skip("NNabla 1.39's nnabla_cli is not installed")
    path, data, _ = map_model
    (tmp_path / "ref").mkdir()  # NNabla's forward needs the folder (its progress.txt)
    subprocess.run([NNABLA_CLI, "forward", "-c", str(path), "-d", str(data), "-o",
                    str(tmp_path / "ref")], capture_output=True, timeout=120, check=True)
    assert cli("forward", "-c", path, "-d", data, "-o", tmp_path / "mine").returncode == 0
    def files(root):
        return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                      for f in fs if f != "progress.txt")
    assert files(tmp_path / "mine") == files(tmp_path / "ref")
    for f in files(tmp_path / "ref"):
        if f.endswith(".png"):
            ref, mine = _png(tmp_path / "ref" / f), _png(tmp_path / "mine" / f)
            assert ref[0] == mine[0], f
            np.testing.assert_array_equal(mine[1], ref[1])
        else:
            assert (tmp_path / "mine" / f).read_text() == (tmp_path / "ref" / f).read_text(), f


def test_convert_nnp_version(model, tmp_path):
    """--nnp-version is NNabla's NNP option: 0.1 (the only version) converts,
    another is refused naming it."""
    path, _ = model
    assert main("convert", "--nnp-version", "0.1", path, tmp_path / "c.nnp").returncode == 0
    one_line_error(main("convert", "--nnp-version", "0.2", path, tmp_path / "d.nnp"),
                   "convert", "--nnp-version 0.2", "version 0.1")


def _dump_lines(*args):
    proc = cli("dump", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_dump_sections_as_nnabla():
    """nnabla_cli dump's layout (its lines after the version banner), here for an
    NNabla training configuration: optimizer, monitor, executor, their variables."""
    path = os.path.join(os.path.dirname(__file__), "fixtures", "train_nnp", "mlp_train.nnp")
    pad = " " * 29
    def arg(section, label, i, name, shape):
        return f"  {section}:  {label} variable[{i}]: Name:{name}{pad[len(name) - 1:]} Shape:{shape}"
    assert _dump_lines(path) == [
        f"Importing {path}", " Expanding training.",
        "  Optimizer[0]: optimizer",
        arg("Optimizer[0]", "(In) Data     ", 0, "x", "[-1, 2]"),
        arg("Optimizer[0]", "(In) Data     ", 1, "y", "[-1, 1]"),
        arg("Optimizer[0]", "(Out)Loss     ", 0, "loss", "[]"),
        "  Monitor  [0]: valid_error",
        arg("Monitor  [0]", "(In) Data     ", 0, "x", "[-1, 2]"),
        arg("Monitor  [0]", "(In) Data     ", 1, "y", "[-1, 1]"),
        arg("Monitor  [0]", "(Out)Monitor  ", 0, "loss", "[]"),
        "  Executor [0]: runtime",
        arg("Executor [0]", "(In) Data     ", 0, "x", "[-1, 2]"),
        arg("Executor [0]", "(In) Data     ", 1, "y", "[-1, 1]"),
        arg("Executor [0]", "(Out)Output   ", 0, "loss", "[]")]


@pytest.fixture
def branch_model(tmp_path):
    """y = relu(affine a(x)) + tanh(affine b(x)): two paths, so NNabla's expander
    reorders the functions (b's path first)."""
    pytest.importorskip("google.protobuf")
    import nablite.functions as F
    from nablite.utils.save import save
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    y = F.relu(PF.affine(x, 4, name="a")) + F.tanh(PF.affine(x, 4, name="b"))
    path = tmp_path / "branch.nnp"
    save(str(path), {"networks": [{"name": "net", "batch_size": 2, "outputs": {"y": y},
                                   "names": {"x": x}}],
                     "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                                    "output": ["y"]}]})
    nn.clear_parameters()
    return path


def test_dump_functions_in_nnabla_order(branch_model):
    path = branch_model
    head = "  Executor [0]:   Function[{:^5}]: "
    lines = _dump_lines("-F", "-V", path)
    assert lines[:5] == [
        f"Importing {path}", " Expanding net.", "  Executor [0]: runtime",
        "  Executor [0]:  (In) Data      variable[0]: Name:x" + " " * 29 + " Shape:[-1, 3]",
        "  Executor [0]:  (Out)Output    variable[0]: Name:y" + " " * 29 + " Shape:[-1, 4]"]
    assert lines[5:10] == [
        head.format(0) + "Type: Affine               Name: @net/Affine_1",
        head.format(0) + "  Input0: Name: x                    Shape: [-1, 3]",
        head.format(0) + "  Input1: Name: b/affine/W           Shape: [3, 4]",
        head.format(0) + "  Input2: Name: b/affine/b           Shape: [4]",
        head.format(0) + " Output0: Name: @net/Affine_out_1    Shape: [-1, 4]"]
    types = [line.split("Type: ")[1].split()[0] for line in lines if "Type: " in line]
    assert types == ["Affine", "Tanh", "Affine", "ReLU", "Add2"]
    kept = _dump_lines("-F", "--nnp-no-expand-network", path)
    assert [line.split("Name: ")[1] for line in kept if "Type: " in line] == [
        "@net/Affine", "@net/ReLU", "@net/Affine_1", "@net/Tanh", "@net/Add2"]
    assert not any("Expanding" in line for line in kept)
    # -V alone adds nothing, as in NNabla; -E names the executor it keeps
    assert _dump_lines("-V", path) == lines[:5]
    assert _dump_lines("-E", "0", path)[1] == " Try to leave only executor[runtime]."


def test_dump_variable_name_and_verbose(branch_model):
    path = branch_model
    assert _dump_lines("-n", "x", path)[-1] == "Variable Name: x" + " " * 19 + " Shape: [-1, 3]"
    proc = main("dump", "-n", "nope", path)
    assert proc.stdout.splitlines()[-1] == "DUMP ERROR: variable nope not found."
    one_line_error(proc, "dump", "no variable 'nope'")
    # -v: every field; --dump-limit is a slice end, the default -1 drops each list's last
    verbose = _dump_lines("-v", "--dump-limit", "2", path)
    assert verbose[2:8] == ["NNP has 1 network(s).", "NNP:network[0]:name: net",
                            "NNP:network[0]:batch_size: 2", "NNP:network[0] has 10 variable(s).",
                            "NNP:network[0]:variable[0]:name: x",
                            "NNP:network[0]:variable[0]:type: Buffer"]
    assert "NNP:network[0]:function[0]:affine_param:base_axis: 1" in verbose
    default = _dump_lines("-v", path)
    assert default[2:] == ["NNP has 1 network(s).", "NNP has 4 parameter(s).",
                           "NNP:parameter[0]:variable_name: a/affine/W"] + default[5:] \
        and "NNP has 1 executor(s)." in default and not any("network[0]" in x for x in default)


def test_dump_errors(model, tmp_path):
    path, _ = model
    one_line_error(main("dump", "-E", "3", path), "dump", "-E 3", "1 executor(s)")
    one_line_error(main("dump", tmp_path / "none.nnp"), "dump", "no such model file")
    one_line_error(main("dump", "-I", "TFLITE", path), "dump", "TFLITE")


def test_dump_matches_nnabla_cli(branch_model):
    if not os.path.exists(NNABLA_CLI):
        pytest.skip("NNabla 1.39's nnabla_cli is not installed")
    files = [str(branch_model)] + [os.path.join(FIXTURES, f) for f in ("cnn.nnp", "resnet.nnp")]
    for f in files:
        for opts in ([], ["-F", "-V"], ["-n", "x"], ["-E", "0", "-F"]):
            ref = subprocess.run([NNABLA_CLI, "dump", *opts, f], capture_output=True,
                                 text=True, timeout=120)
            assert _dump_lines(*opts, f) == ref.stdout.splitlines()[1:], (f, opts)


def _infer_values(path, tmp_path, tag):
    np.array([0.5, -1.0, 2.0], np.float32).tofile(tmp_path / "x.bin")
    proc = cli("infer", "-c", path, "-o", tmp_path / tag, tmp_path / "x.bin")
    assert proc.returncode == 0, proc.stderr
    return np.fromfile(tmp_path / f"{tag}_0.bin", np.float32)


def test_convert_among_nnabla_formats(model, tmp_path):
    path, ref = model
    want = ref(np.array([[0.5, -1.0, 2.0]], np.float32))[0]
    for out, extra in [("m.nntxt", ["--nnp-parameter-nntxt"]), ("m.protobuf", []),
                       ("h5.nnp", ["--nnp-parameter-h5"])]:
        proc = cli("convert", path, tmp_path / out, *extra)
        assert proc.returncode == 0, proc.stderr
        np.testing.assert_allclose(_infer_values(tmp_path / out, tmp_path, out[:2]), want,
                                   rtol=1e-6)
    import zipfile
    assert "parameter.h5" in zipfile.ZipFile(tmp_path / "h5.nnp").namelist()
    proc = cli("convert", tmp_path / "m.nntxt", tmp_path / "back.nnp", "-b", "5")
    assert proc.returncode == 0, proc.stderr
    assert "NNP:network[0]:batch_size: 5" in cli("dump", "-v", "--dump-limit", "9",
                                                 tmp_path / "back.nnp").stdout
    one_line_error(main("convert", path, tmp_path / "m.nntxt"), "convert", "exists",
                   "-f/--force")
    one_line_error(main("convert", path, tmp_path / "m.nnb"), "convert", "extension")
    one_line_error(main("convert", "-O", "NNB", path, tmp_path / "m.nnb"), "convert", "NNB")
    one_line_error(main("convert", path), "convert", "output file")


def test_convert_to_and_from_onnx(model, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path, ref = model
    proc = cli("convert", path, tmp_path / "m.onnx", "-d", "opset_13")
    assert proc.returncode == 0, proc.stderr
    import onnx
    m = onnx.load(str(tmp_path / "m.onnx"))
    assert m.opset_import[0].version == 13
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    feed = np.random.RandomState(0).randn(2, 3).astype(np.float32)
    (got,) = sess.run(None, {sess.get_inputs()[0].name: feed})
    np.testing.assert_allclose(got, ref(feed), rtol=1e-5, atol=1e-6)
    proc = cli("convert", tmp_path / "m.onnx", tmp_path / "from_onnx.nnp")
    assert proc.returncode == 0, proc.stderr
    feed.tofile(tmp_path / "x.bin")
    proc = cli("infer", "-c", tmp_path / "from_onnx.nnp", "-b", "2", "-o", tmp_path / "o",
               tmp_path / "x.bin")
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose([np.fromfile(tmp_path / f"o_{k}.bin", np.float32)
                                for k in range(2)], ref(feed), rtol=1e-5, atol=1e-6)
    one_line_error(main("convert", path, tmp_path / "x.onnx", "-d", "opset_99"), "convert",
                   "99")


def test_convert_to_onnx_defaults_to_nnablas_opset_11(model, tmp_path):
    """Without -d, NNabla's opset 11; a network with a function that needs a
    later opset gets the first one it exports at."""
    onnx = pytest.importorskip("onnx")
    path, _ = model
    proc = cli("convert", path, tmp_path / "m.onnx")
    assert proc.returncode == 0, proc.stderr
    assert "(ONNX opset 11)" in proc.stdout
    assert onnx.load(str(tmp_path / "m.onnx")).opset_import[0].version == 11
    from nablite.utils.save import save
    x = nn.Variable((2, 3, 3))
    save(str(tmp_path / "tri.nnp"), {"networks": [{"name": "net", "batch_size": 2,
                                                   "outputs": {"y": F.trilu(x)},
                                                   "names": {"x": x}}]})
    proc = cli("convert", tmp_path / "tri.nnp", tmp_path / "tri.onnx")
    assert proc.returncode == 0, proc.stderr
    assert onnx.load(str(tmp_path / "tri.onnx")).opset_import[0].version == 14


def test_draw_graph(model, tmp_path):
    pytest.importorskip("graphviz")
    path, _ = model
    proc = cli("draw_graph", path, "-o", tmp_path / "g.dot")
    assert proc.returncode == 0, proc.stderr
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph {") and 'label="Affine\nfc/affine"' in dot
    assert "label=ReLU" in dot and "label=W " in dot and "label=x " in dot
    proc = cli("draw_graph", path, "-o", tmp_path / "dir", "-f", "dot")
    assert proc.returncode == 0 and (tmp_path / "dir" / "net.dot").exists()
    one_line_error(main("draw_graph", path, "-n", "other", "-o", tmp_path / "g2.dot"),
                   "draw_graph", "no network 'other'", "it has net")
    one_line_error(main("draw_graph", tmp_path / "none.nnp"), "draw_graph", "no such model file")
    import shutil
    if shutil.which("dot") is None:
        one_line_error(main("draw_graph", path, "-o", tmp_path / "g.png"), "draw_graph",
                       "'dot'", "apt install graphviz")
    else:
        assert cli("draw_graph", path, "-o", tmp_path / "g.png").returncode == 0
        assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_function_info_of_a_model(model):
    path, _ = model
    proc = cli("function_info", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Affine", "ReLU"]
    assert f"functions used in {path}:" in proc.stderr
    proc = cli("function_info", "-f", "ONNX", path)  # the model's exportable ones
    assert proc.stdout.splitlines() == ["Affine", "ReLU"]


# -- the README's section, as written ----------------------------------------------
def _readme_section():
    """The "Graph tools" + "NNabla's commands" text of README.md."""
    root = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert "## Graph tools" in text and "## NNabla's commands" in text, \
        "README.md lacks its '## Graph tools' or '## NNabla's commands' section"
    start = text.index("## Graph tools")
    end = text.find("\n## ", text.index("## NNabla's commands") + 3)
    return text[start:end if end > 0 else len(text)]


def _blocks(text, lang):
    parts = text.split(f"```{lang}\n")[1:]
    return [p.split("```")[0] for p in parts]


def test_readme_tools_section(tmp_path):
    for module in ("graphviz", "onnx", "h5py", "google.protobuf"):
        pytest.importorskip(module)
    import shutil
    text = _readme_section()
    (py,), (sh,) = _blocks(text, "python"), _blocks(text, "sh")
    proc = subprocess.run([sys.executable, "-c", py], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.splitlines()[0]) < 1e-4  # folding kept the output
    exe = shutil.which("nablite")
    for line in sh.splitlines():
        command = line.split("#")[0].split()
        if not command:
            continue
        assert command[0] == "nablite"
        argv = [exe] if exe else [sys.executable, "-m", "nablite.cli"]
        proc = subprocess.run(argv + command[1:], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (line, proc.stderr[-1000:])
    for name in ("folded.dot", "profile.csv", "model.nnp", "out_0.bin", "model.nntxt",
                 "model.onnx", "graph.dot", "params.h5"):
        assert (tmp_path / name).exists(), name


def test_unknown_function_and_nnabla_only_options(model, tmp_path):
    path, ref = model
    text = tmp_path / "m.nntxt"
    assert main("convert", path, text, "--nnp-parameter-nntxt").returncode == 0
    (tmp_path / "bad.nntxt").write_text(text.read_text().replace('type: "ReLU"',
                                                                 'type: "FooBar"'))
    np.zeros(3, np.float32).tofile(tmp_path / "x.bin")
    for args in (("infer", "-c", tmp_path / "bad.nntxt", tmp_path / "x.bin"),
                 ("draw_graph", tmp_path / "bad.nntxt", "-o", tmp_path / "g.dot"),
                 ("convert", tmp_path / "bad.nntxt", tmp_path / "b.onnx")):
        one_line_error(main(*args), args[0], "bad.nntxt", "'FooBar'")
    proc = main("function_info", tmp_path / "bad.nntxt")
    assert "1 unsupported by nablite: FooBar" in proc.stderr
    one_line_error(main("convert", "--channel-last", path, tmp_path / "c.onnx"), "convert",
                   "--channel-last", "nablite converts between NNP and ONNX")
    # an .nntxt without parameters and an .h5 merge into one .nnp
    assert main("convert", path, tmp_path / "bare.nntxt").returncode == 0
    nn.load_parameters(str(path))
    nn.save_parameters(str(tmp_path / "p.h5"))
    nn.clear_parameters()
    assert main("convert", tmp_path / "bare.nntxt", tmp_path / "p.h5",
                tmp_path / "merged.nnp").returncode == 0
    np.testing.assert_allclose(_infer_values(tmp_path / "merged.nnp", tmp_path, "mg"),
                               ref(np.array([[0.5, -1.0, 2.0]], np.float32))[0], rtol=1e-6)


def test_nnabla_cli_reads_what_nablite_converts_and_forwards_alike(model, tmp_path):
    if not os.path.exists(NNABLA_CLI):
        pytest.skip("NNabla 1.39's nnabla_cli is not installed")
    path, ref = model
    assert main("convert", path, tmp_path / "m.protobuf").returncode == 0
    np.array([0.5, -1.0, 2.0], np.float32).tofile(tmp_path / "x.bin")
    subprocess.run([NNABLA_CLI, "infer", "-c", str(tmp_path / "m.protobuf"), "-o",
                    str(tmp_path / "ref"), str(tmp_path / "x.bin")], capture_output=True,
                   timeout=120, check=True)
    np.testing.assert_allclose(np.fromfile(tmp_path / "ref_0.bin", np.float32),
                               ref(np.array([[0.5, -1.0, 2.0]], np.float32))[0], rtol=1e-6)
    xd = np.random.RandomState(4).randn(5, 3).astype(np.float32)
    rows = ["x__0,x__1,x__2"] + [",".join(repr(float(v)) for v in r) for r in xd]
    (tmp_path / "ds.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "theirs").mkdir()
    subprocess.run([NNABLA_CLI, "forward", "-c", str(path), "-d", str(tmp_path / "ds.csv"),
                    "-o", str(tmp_path / "theirs")], capture_output=True, timeout=120, check=True)
    assert cli("forward", "-c", path, "-d", tmp_path / "ds.csv", "-o",
               tmp_path / "mine").returncode == 0
    theirs = (tmp_path / "theirs" / "output_result.csv").read_text().splitlines()
    mine = (tmp_path / "mine" / "output_result.csv").read_text().splitlines()
    assert mine[0] == theirs[0] and len(mine) == len(theirs) == 6
    np.testing.assert_allclose([[float(c) for c in r.split(",")] for r in mine[1:]],
                               [[float(c) for c in r.split(",")] for r in theirs[1:]], rtol=1e-5)
