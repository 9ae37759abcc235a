"""nablite train -c CONFIG.nnp: training from an NNabla training configuration
(tests/fixtures/train_nnp, written by NNabla 1.39 with make_train_nnp.py) gives
the parameters and per-epoch costs NNabla's own ``nnabla_cli train`` recorded,
writes what nablite train writes, and fails with one-line errors."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nablite as nn

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "train_nnp")
CONFIG = os.path.join(HERE, "mlp_train.nnp")

pytest.importorskip("google.protobuf")
pytest.importorskip("h5py")


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nablite.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def main(*args, cwd=None):
    """``nablite.cli.main`` in this process (quicker than a subprocess), as a CompletedProcess."""
    import contextlib
    import io
    from nablite import cli as nablite_cli
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        os.chdir(cwd or old)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = nablite_cli.main([str(a) for a in args])
    finally:
        os.chdir(old)
        nn.clear_parameters()
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_training_matches_nnabla_cli_train(tmp_path):
    out = tmp_path / "out"  # -p CONFIG: from the file's values, as the reference was made
    proc = cli("train", "-c", CONFIG, "-p", CONFIG, "-o", out, "--no-progress", cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    assert "final cost:" in proc.stdout and "final valid_error:" in proc.stdout
    ref = json.load(open(os.path.join(HERE, "reference.json")))
    nn.clear_parameters()
    nn.load_parameters(str(out / "params.h5"))
    got = {k: v.d for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    assert set(got) == set(ref["params"])
    for k, want in ref["params"].items():
        np.testing.assert_allclose(got[k], np.asarray(want, np.float32), rtol=1e-4, atol=1e-6,
                                   err_msg=k)
    report = _report(out / "monitoring_report.yml")
    assert set(report) == set(ref["monitoring_report"])
    for epoch, values in ref["monitoring_report"].items():
        for k, v in values.items():
            assert report[epoch][k] == pytest.approx(v, rel=1e-5), (epoch, k)
    series = np.loadtxt(out / "cost.series.txt")
    np.testing.assert_allclose(series[:, 1], [ref["monitoring_report"][e]["cost"]
                                              for e in ("0", "1", "2")], rtol=1e-5)
    assert (out / "valid_error.series.txt").exists()
    assert (out / "training-time.timer.txt").exists()


    # results.nnp: the configuration with the trained parameters
    from nablite.utils.nnp_graph import NnpLoader
    nn.clear_parameters()
    net = NnpLoader(str(out / "results.nnp")).get_network("training")
    trained = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    nn.load_parameters(str(out / "params.h5"))
    for k, v in nn.get_parameters(grad_only=False).items():
        np.testing.assert_array_equal(trained[k], v.d)
    nn.clear_parameters()
    assert set(net.inputs) == {"x", "y"} and "loss" in net.outputs


def _report(path):
    report, epoch = {}, None
    for line in path.read_text().splitlines():
        if not line.startswith(" "):
            epoch = line.rstrip(":")
            report[epoch] = {}
        else:
            k, v = line.strip().split(": ")
            report[epoch][k] = float(v)
    return report


def test_training_starts_from_the_initializer_specs_as_nnabla(tmp_path):
    """Without -p, NNabla's train leaves the file's parameter values out and
    draws each parameter from its initializer spec (reference_init.json: where
    nnabla_cli train started from mlp_init.nntxt and what it ended with)."""
    ref = json.load(open(os.path.join(HERE, "reference_init.json")))
    from nablite.utils.load import load
    nn.clear_parameters()
    load([os.path.join(HERE, "mlp_init.nntxt")], exclude_parameter=True)
    start = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    assert set(start) == set(ref["start"])
    for k, want in ref["start"].items():  # the same draws, not just the same kind
        np.testing.assert_allclose(start[k], np.asarray(want, np.float32), rtol=1e-6,
                                   err_msg=k)
    out = tmp_path / "out"
    proc = main("train", "-c", os.path.join(HERE, "mlp_init.nntxt"), "-o", out,
                "--no-progress", cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    assert "start at zero" not in proc.stderr
    got = _params_of(out / "results.nnp")
    for k, want in ref["params"].items():
        np.testing.assert_allclose(got[k], np.asarray(want, np.float32), rtol=1e-4,
                                   atol=1e-6, err_msg=k)
    report = _report(out / "monitoring_report.yml")
    for epoch, values in ref["monitoring_report"].items():
        for k, v in values.items():
            assert report[str(epoch)][k] == pytest.approx(v, rel=1e-5), (epoch, k)


def test_parameters_without_a_spec_start_at_zero_with_a_warning(tmp_path):
    """mlp_train.nnp (saved by NNabla's save) holds values but no specs: NNabla's
    train starts those parameters at zero; nablite does too, and says so."""
    out = tmp_path / "out"
    proc = main("train", "-c", CONFIG, "-o", out, "--no-progress", cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    assert "gives no initializer for fc1/affine/W" in proc.stderr
    assert "start at zero" in proc.stderr and "-p " in proc.stderr
    ref = json.load(open(os.path.join(HERE, "reference.json")))
    first = _report(out / "monitoring_report.yml")["0"]["cost"]
    assert first == pytest.approx(0.6969319, rel=1e-5)  # NNabla's first cost from zeros
    assert first != pytest.approx(ref["monitoring_report"]["0"]["cost"], rel=1e-3)


def test_datasets_are_found_next_to_the_configuration(tmp_path):
    proc = main("train", "-c", CONFIG, "-o", tmp_path / "o", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "params.h5").exists()


def test_errors(tmp_path):
    def error(proc, *words):
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nablite train: "), proc.stderr
        for w in words:
            assert w in lines[0], (w, lines[0])

    error(main("train", "-c", tmp_path / "none.nnp", "-o", tmp_path / "o"),
          "no such configuration")
    mlp = os.path.join(os.path.dirname(__file__), "fixtures", "nnp", "mlp.nnp")
    error(main("train", "-c", mlp, "-o", tmp_path / "o"), "has no optimizer")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(CONFIG, alone / "mlp_train.nnp")
    error(main("train", "-c", alone / "mlp_train.nnp", "-o", tmp_path / "o", cwd=alone),
          "dataset 'train.csv'")
    (tmp_path / "file").write_text("x")
    error(main("train", "-c", CONFIG, "-o", tmp_path / "file", cwd=HERE), "not a folder")


def _config_with(tmp_path, **training_config):
    """A copy of CONFIG (next to its data) with training_config fields changed."""
    from nablite._nnp.files import read_network_files, write_network_file
    proto, items = read_network_files([CONFIG])
    for k, v in training_config.items():
        setattr(proto.training_config, k, v)
    work = tmp_path / "cfg"
    shutil.copytree(HERE, work)
    path = work / "config.nnp"
    write_network_file(str(path), proto, items)
    return path, work


def _params_of(path):
    nn.clear_parameters()
    nn.load_parameters(str(path))
    got = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    nn.clear_parameters()
    return got


def _report_keys(path):
    report, epoch = {}, None
    for line in path.read_text().splitlines():
        if not line.startswith(" "):
            epoch = int(line.rstrip(":"))
            report[epoch] = set()
        else:
            report[epoch].add(line.strip().split(":")[0])
    return report


def test_monitor_epochs_results_files_resume_and_param_as_nnabla(tmp_path):
    """As NNabla's train: monitors run after epochs 1-5 and every
    monitor_interval-th (0 means 10); results.nnp holds the parameters of the
    last evaluation (save_best off), results_current_<epoch>.nnp the last
    epoch's; -r continues from results_current_<epoch>.nnp; -p loads
    parameters first."""
    config, work = _config_with(tmp_path, max_epoch=7, save_best=False)
    out = tmp_path / "out"
    proc = main("train", "-c", config, "-o", out, "--no-progress", cwd=work)
    assert proc.returncode == 0, proc.stderr
    report = _report_keys(out / "monitoring_report.yml")
    assert [e for e, keys in report.items() if "valid_error" in keys] == [0, 1, 2, 3, 4]
    assert set(report) == set(range(7))
    final, best = _params_of(out / "results_current_7.nnp"), _params_of(out / "results.nnp")
    last = _params_of(out / "params.h5")
    assert all(np.array_equal(final[k], last[k]) for k in last)
    assert any(not np.array_equal(best[k], last[k]) for k in last)  # epoch 5's
    assert "network {" in (out / "network.nntxt").read_text()  # the configuration
    # -r: from results_current_5.nnp, two more epochs (6 and 7, not monitored)
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(out / "results_current_7.nnp", again / "results_current_5.nnp")
    proc = main("train", "-c", config, "-o", again, "-r", "--no-progress", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert set(_report_keys(again / "monitoring_report.yml")) == {5, 6}
    assert not (again / "results_current_5.nnp").exists()
    assert (again / "results_current_7.nnp").exists()
    proc = main("train", "-c", config, "-o", tmp_path / "none", "-r", "--no-progress", cwd=work)
    assert proc.returncode == 1 and "holds no results_current_<epoch>.nnp" in proc.stderr
    # -p PARAMS -C cpu: starts from the given parameters
    proc = main("train", "-c", config, "-o", tmp_path / "p", "-p", out / "params.h5",
                "-C", "cpu", "--no-progress", cwd=work)
    assert proc.returncode == 0, proc.stderr
