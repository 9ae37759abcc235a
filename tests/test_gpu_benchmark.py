"""The GPU benchmark (`benchmarks/run.py --gpu`) and the GPU session's script
(`tools/gpu_session.sh`), checked without a GPU: the clear stop where CuPy or a
GPU is missing, a tiny run on the simulated device (NABLITE_DEVICE_SIM=1), the
harness's device hooks, and the session script's dry run. Nothing is timed."""
import importlib.util
import json
import os
import subprocess
import sys
import types

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(ROOT, "benchmarks")
RUN_PY = os.path.join(BENCH, "run.py")
SESSION = os.path.join(ROOT, "tools", "gpu_session.sh")
PARTS = ("env", "install", "smoke", "bench", "train_cnn", "tutorial", "pytest")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_py():
    return _load("benchmarks_run", RUN_PY)


@pytest.fixture(scope="module")
def harness(run_py):
    return run_py.harness  # the module run.py imports (benchmarks/ on sys.path)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "NABLITE_DEVICE_SIM"}
    env.update(OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", **extra)
    return env


def _run(*args, env, timeout=180):
    return subprocess.run([sys.executable, RUN_PY, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def _gpu_usable():
    from nablite import backend
    return backend.cupy is not None and not backend._find_gpu_problem()


def test_gpu_without_cupy_stops_at_once_and_says_how_to_fix_it(tmp_path):
    from nablite import backend
    if backend.cupy is not None:
        pytest.skip("CuPy is installed here")
    proc = _run("--gpu", "--out", str(tmp_path), env=_env(), timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("benchmarks/run.py --gpu: cannot run:")
    assert "CuPy is not importable" in proc.stderr
    assert 'pip install "nablite[cuda13]"' in proc.stderr
    assert os.listdir(tmp_path) == []           # nothing ran, nothing written


def test_gpu_with_cupy_but_no_gpu_says_the_gpu_is_missing(run_py, monkeypatch, capsys, tmp_path):
    from nablite import backend
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 0)
    monkeypatch.setattr(backend, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=runtime)))
    monkeypatch.setattr(backend, "_gpu_problem", None)
    monkeypatch.setattr(backend, "_sim", False)
    assert run_py.main(["--gpu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmarks/run.py --gpu: cannot run:")
    assert "CuPy is installed, but it finds no GPU (device count 0)" in err
    assert "nvidia-smi" in err and "nablite[cuda13]" in err
    assert os.listdir(tmp_path) == []


def test_gpu_options(run_py):
    opts = run_py.parse_options(["--gpu"])
    assert (opts.workloads, opts.batch) == ("W5,W6,W7", 512)
    cpu = run_py.parse_options([])
    assert (cpu.workloads, cpu.batch, cpu.gpu) == (run_py.WORKLOADS, None, False)
    for argv in (["--gpu", "--workloads", "W1,W5"], ["--batch", "64"], ["--gpu", "--batch", "0"],
                 ["--gpu", "--steps", "0"]):
        with pytest.raises(SystemExit) as e:
            run_py.parse_options(argv)
        assert e.value.code == 2


def _table_rows(md):
    return {line.split(" | ")[0].strip("| "): line.split(" | ")
            for line in md.splitlines() if line.startswith("| W")}


@pytest.mark.skipif(_gpu_usable(), reason="a GPU is here: the simulated run is for CPUs")
def test_gpu_on_the_simulated_device_writes_the_three_workloads(tmp_path):
    proc = _run("--gpu", "--steps", "1", "--batch", "2", "--no-torch", "--no-overhead",
                "--out", str(tmp_path), env=_env(NABLITE_DEVICE_SIM="1"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    md = (tmp_path / "gpu_latest.md").read_text()
    assert md.startswith("**Simulated device, not GPU timings**")
    assert "simulated device (NABLITE_DEVICE_SIM=1" in md
    assert "NNabla: column left out" in md and "PyTorch: left out (--no-torch)" in md
    rows = _table_rows(md)
    assert sorted(rows) == ["W5", "W6", "W7"]
    for w, row in rows.items():
        assert "batch 2" in row[1] and "failed" not in " ".join(row)
    saved = json.loads((tmp_path / "gpu_latest.json").read_text())
    assert saved["mode"] == "device-sim" and saved["batch"] == 2 and saved["repeat"] == 1
    workloads = saved["results"]["nablite"]["workloads"]
    assert sorted(workloads) == ["W5", "W6", "W7"]
    assert all(r["batch"] == 2 and r["repeat"] == 1 and r["ms_median"] > 0
               for r in workloads.values())
    assert "torch" not in saved["results"]
    assert (tmp_path / "gpu_latest.png").stat().st_size > 0


@pytest.mark.skipif(_gpu_usable(), reason="a GPU is here: the simulated run is for CPUs")
def test_gpu_on_the_simulated_device_with_pytorch_on_its_cpu(tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed: its column is left out")
    proc = _run("--gpu", "--workloads", "W7", "--steps", "1", "--batch", "2", "--no-overhead",
                "--out", str(tmp_path), env=_env(NABLITE_DEVICE_SIM="1"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    md = (tmp_path / "gpu_latest.md").read_text()
    assert "ran on its CPU: the simulated device is no GPU" in md
    assert "PyTorch ms/step" in md and "nablite / PyTorch" in md
    row = _table_rows(md)["W7"]
    assert row[-1].strip(" |").startswith("**") and row[-1].strip(" |").endswith("x**")
    saved = json.loads((tmp_path / "gpu_latest.json").read_text())
    ours, theirs = (saved["results"][k]["workloads"]["W7"] for k in ("nablite", "torch"))
    assert ours["batch"] == theirs["batch"] == 2
    assert saved["results"]["torch"]["meta"]["device"].startswith("cpu")


def test_harness_synchronizes_after_every_step_and_reports_memory(harness, capsys):
    calls = []

    def builder(batch=7):
        return (lambda: calls.append("step")), batch

    fake = types.SimpleNamespace(
        WORKLOADS={"W5": builder}, version=lambda: "0",
        use_device=lambda name: {"sync": lambda: calls.append("sync"),
                                 "memory": lambda: {"gpu_mb": 12.5},
                                 "device": f"fake {name}"})
    harness._child(fake, "W5", warmup=2, repeat=3, device="cudnn", batch=4)
    # the first step, warmup - 1 more, then the timed ones: each followed by sync
    assert calls == ["step", "sync"] * 5
    result = json.loads(capsys.readouterr().out.split("@@RESULT@@")[1])
    assert (result["batch"], result["repeat"], result["gpu_mb"], result["device"]) == \
        (4, 3, 12.5, "fake cudnn")


def test_timed_steps_stop_once_they_used_their_seconds(harness):
    ticks = iter(range(100))                    # a clock where every step takes 1 s
    ran = []
    times = harness.timings({"step": lambda: ran.append(1)}, 10, clock=lambda: next(ticks),
                            budget_s=2.5)["step"]
    assert times == [1, 1, 1] and len(ran) == 3
    assert len(harness.timings({"step": lambda: None}, 4)["step"]) == 4   # no budget: all


def test_batch_size_is_a_parameter_of_w5_w6_w7_only(harness):
    ref = _load("benchmarks_ref_nnabla", os.path.join(BENCH, "ref_nnabla.py"))
    takes = {w for w, b in ref.WORKLOADS.items() if harness.takes_batch(b)}
    assert takes == {"W5", "W6", "W7"}
    if importlib.util.find_spec("torch") is not None:
        tor = _load("benchmarks_ref_torch", os.path.join(BENCH, "ref_torch.py"))
        assert {w for w, b in tor.WORKLOADS.items() if harness.takes_batch(b)} == takes


def test_session_script_dry_run_lists_every_part(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(["bash", SESSION, "--dry-run"], capture_output=True, text=True,
                          env=_env(OUT=str(out)), timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in PARTS:
        assert f"[{name}] limit " in proc.stdout, name
    for command in ("nvidia-smi", "pip install --no-index --no-build-isolation -e \".[test,cuda13]\"",
                    "benchmarks/run.py --gpu", "train cnn", "--context cudnn", "tools/on_cudnn.py",
                    "examples/by_examples.py", "--backend=cuda"):
        assert command in proc.stdout, command
    assert os.listdir(out) == []                 # a dry run writes nothing


def test_session_script_needs_out_and_knows_its_options(tmp_path):
    proc = subprocess.run(["bash", SESSION], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in _env().items() if k != "OUT"})
    assert proc.returncode == 2 and "set OUT" in proc.stderr
    proc = subprocess.run(["bash", SESSION, "--fast"], capture_output=True, text=True,
                          timeout=60, env=_env(OUT=str(tmp_path)))
    assert proc.returncode == 2 and "unknown option '--fast'" in proc.stderr
