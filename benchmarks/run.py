"""Side-by-side training benchmark: nablite vs NNabla 1.39 vs PyTorch, one command.

    python benchmarks/run.py [--nnabla-python PATH] [--workloads W1,W5] [--quick]
    python benchmarks/run.py --gpu [--workloads W5,W6,W7] [--batch 512] [--quick | --steps N]

Runs the seven workloads of ref_nnabla.py on nablite (the same script, through
the nnabla import alias), on the real NNabla (with the Python 3.10 interpreter
given by --nnabla-python or $NNABLA_PYTHON, if any) and on PyTorch (if torch
imports here), each workload in a fresh process. Prints a table with ms/step
(median and min-max), images/s, peak RSS and the ratios nablite/NNabla and
nablite/PyTorch, and saves results/latest.md, results/latest.png and the raw
JSON. Also reports import time and what clear_buffer saves in memory.

With --gpu: W5, W6 and W7 at batch 512 on one GPU, nablite in
get_extension_context('cudnn') and PyTorch on 'cuda', each step followed by a
device synchronize inside the timing; ms/step, images/s, peak GPU memory and
nablite/PyTorch, saved as results/gpu_latest.md, .json and .png. NNabla's GPU
extension has no wheel for current CUDA, so its column is left out. Without
CuPy or a GPU it stops at once saying which is missing; with
NABLITE_DEVICE_SIM=1 it runs on the simulated device (PyTorch on its CPU), to
test the benchmark itself, and says so in the table's title.
"""
import argparse
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, HERE)
import harness  # noqa: E402


def run_script(python, script, workloads, out_json, extra=(), env=None):
    cmd = [python, os.path.join(HERE, script), "--workloads", workloads, "--json", out_json,
           *extra]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0 or not os.path.exists(out_json):
        print(f"  ({script} failed with exit {proc.returncode}; left out)", flush=True)
        return None
    with open(out_json) as f:
        return json.load(f)


def import_time(python, module):
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    times = []
    for _ in range(3):
        out = subprocess.run([python, "-c", code], capture_output=True, text=True)
        if out.returncode != 0:
            return None
        times.append(float(out.stdout.strip()))
    return min(times)


def torch_available():
    return subprocess.run([sys.executable, "-c", "import torch"],
                          capture_output=True).returncode == 0


def fmt(v, digits=3):
    if v is None:
        return "–"
    return f"{v:.{digits}f}" if v < 10 else f"{v:.1f}"


def table(results, names):
    nab, ref, tor = results.get("nablite"), results.get("nnabla"), results.get("torch")
    head = ["id", "workload", "nablite ms/step (min–max)", "nablite img/s", "nablite RSS MB"]
    if ref:
        head += ["NNabla ms/step", "NNabla RSS MB", "nablite / NNabla"]
    if tor:
        head += ["PyTorch ms/step", "nablite / PyTorch"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in names:
        a = nab["workloads"].get(w) if nab else None
        if a is None:
            continue
        cells = [w, harness.DESCRIPTIONS[w],
                 f"{fmt(a['ms_median'])} ({fmt(a['ms_min'])}–{fmt(a['ms_max'])})",
                 f"{a['images_per_s']:.0f}", f"{a['peak_rss_mb']:.0f}"]
        if ref:
            b = ref["workloads"].get(w)
            cells += [fmt(b and b["ms_median"]), fmt(b and b["peak_rss_mb"], 0),
                      f"**{a['ms_median'] / b['ms_median']:.2f}x**" if b else "–"]
        if tor:
            c = tor["workloads"].get(w)
            cells += [fmt(c and c["ms_median"]),
                      f"**{a['ms_median'] / c['ms_median']:.2f}x**" if c else "–"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def overhead_table(results):
    rows = ["| library | add_scalar fwd µs | add_scalar bwd µs | tanh fwd µs | tanh bwd µs |",
            "|---|---:|---:|---:|---:|"]
    for lib, r in results.items():
        o = r.get("overhead") or {}
        if o:
            rows.append(f"| {lib} {r.get('version', '')} | " + " | ".join(
                f"{o[f][k]:.2f}" for f in ("add_scalar", "tanh")
                for k in ("forward_us", "backward_us")) + " |")
    return "\n".join(rows)


def first_steps(results, names):
    """One line: the first step's time (one-off costs included) per library."""
    parts = []
    for lib, r in results.items():
        cells = [f"{w} {r['workloads'][w]['first_step_ms']:.3g}" for w in names
                 if w in r["workloads"] and "first_step_ms" in r["workloads"][w]]
        if cells:
            parts.append(f"{lib}: " + ", ".join(cells))
    return "First training step in ms (graph set-up and first allocations included): " + \
        "; ".join(parts) + "."


def chart(results, names, path,
          title="One training step: nablite vs NNabla 1.39 vs PyTorch (CPU, 2 cores)"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    libs = [lib for lib in ("nablite", "nnabla", "torch") if lib in results]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(libs)
    for i, lib in enumerate(libs):
        vals = [results[lib]["workloads"].get(w, {}).get("ms_median", np.nan) for w in names]
        ax.bar(np.arange(len(names)) + i * width, vals, width, label=lib)
    ax.set_xticks(np.arange(len(names)) + width * (len(libs) - 1) / 2)
    ax.set_xticklabels(names)
    ax.set_yscale("log")
    ax.set_ylabel("ms per training step (log scale, lower is better)")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


WORKLOADS = "W1,W2,W3,W4,W5,W6,W7"
GPU_WORKLOADS = "W5,W6,W7"   # the ones that take a batch size
GPU_BATCH = 512
GPU_RUNS = (5, 50)           # warm-up and timed steps per workload on a GPU
QUICK_GPU_RUNS = (3, 20)
GPU_TIMED_S = 20             # a workload's timed steps stop after this many seconds


def parse_options(argv=None):
    title, _, text = __doc__.split("\n\n", 2)
    p = argparse.ArgumentParser(description=f"{title} {text}".replace("\n", " "))
    p.add_argument("--nnabla-python", default=os.environ.get("NNABLA_PYTHON"),
                   help="Python 3.10 with nnabla 1.39 installed, for the NNabla column "
                        "(default: $NNABLA_PYTHON; without it the column is left out)")
    p.add_argument("--workloads", default=None,
                   help=f"comma-separated workload ids (default: {WORKLOADS}; with --gpu "
                        f"{GPU_WORKLOADS}, the only ones it takes)")
    p.add_argument("--quick", action="store_true",
                   help="30 warm-up and 30 timed steps for every workload instead of the "
                        "defaults per workload (harness.DEFAULT_RUNS: up to 50 and 1000): "
                        "rougher numbers (with --gpu: %d and %d instead of %d and %d)"
                        % (QUICK_GPU_RUNS + GPU_RUNS))
    p.add_argument("--steps", type=int, default=None,
                   help="N timed steps after one warm-up step, for every workload (tests "
                        "of the benchmark itself; overrides --quick)")
    p.add_argument("--out", default=RESULTS,
                   help="folder for latest.md, latest.png and the JSON, or gpu_latest.* "
                        "with --gpu (default: %(default)s)")
    p.add_argument("--gpu", action="store_true",
                   help="run on a GPU: nablite in get_extension_context('cudnn'), PyTorch on "
                        "'cuda' (needs CuPy: pip install \"nablite[cuda13]\"; "
                        "NABLITE_DEVICE_SIM=1 runs it on the simulated device)")
    p.add_argument("--batch", type=int, default=None,
                   help=f"batch size with --gpu (default: {GPU_BATCH})")
    p.add_argument("--no-torch", action="store_true",
                   help="leave the PyTorch column out")
    p.add_argument("--no-overhead", action="store_true",
                   help="skip the per-function overhead test")
    p.add_argument("--dry-run", action="store_true",
                   help="print the options and what would run, then stop")
    opts = p.parse_args(argv)
    if opts.workloads is None:
        opts.workloads = GPU_WORKLOADS if opts.gpu else WORKLOADS
    unknown = [w for w in opts.workloads.split(",") if w not in harness.DESCRIPTIONS]
    if unknown:
        p.error(f"--workloads: unknown id(s) {','.join(unknown)}; "
                f"choose from {','.join(harness.DESCRIPTIONS)}")
    if opts.gpu:
        other = [w for w in opts.workloads.split(",") if w not in GPU_WORKLOADS.split(",")]
        if other:
            p.error(f"--workloads: with --gpu choose from {GPU_WORKLOADS} (the workloads "
                    f"that take a batch size); got {','.join(other)}")
        opts.batch = GPU_BATCH if opts.batch is None else opts.batch
        if opts.batch < 1:
            p.error(f"--batch must be at least 1; got {opts.batch}")
    elif opts.batch is not None:
        p.error("--batch: only with --gpu (the CPU table keeps each workload's own batch)")
    if opts.steps is not None and opts.steps < 1:
        p.error(f"--steps must be at least 1; got {opts.steps}")
    return opts


def main(argv=None):
    opts = parse_options(argv)
    if opts.gpu:
        return gpu_main(opts, argv)
    if opts.dry_run:
        print(f"benchmarks/run.py: workloads {opts.workloads}, quick={opts.quick}, "
              f"nnabla_python={opts.nnabla_python}, out={opts.out}")
        return 0
    os.makedirs(opts.out, exist_ok=True)
    names = opts.workloads.split(",")
    extra = ["--repeat", "30", "--warmup", "30"] if opts.quick else []
    if opts.steps:
        extra = ["--repeat", str(opts.steps), "--warmup", "1"]
    if opts.no_overhead:
        extra.append("--no-overhead")
    started = time.time()
    results = {}
    results["nablite"] = run_script(sys.executable, "bench_nablite.py", opts.workloads,
                                    os.path.join(opts.out, "nablite.json"), extra)
    if opts.nnabla_python and os.path.exists(opts.nnabla_python):
        results["nnabla"] = run_script(opts.nnabla_python, "ref_nnabla.py", opts.workloads,
                                       os.path.join(opts.out, "nnabla.json"), extra)
    else:
        print("NNabla: no --nnabla-python / $NNABLA_PYTHON given; column left out")
    if opts.no_torch:
        print("PyTorch: left out (--no-torch)")
    elif torch_available():
        results["torch"] = run_script(sys.executable, "ref_torch.py", opts.workloads,
                                      os.path.join(opts.out, "torch.json"), extra)
    else:
        print("PyTorch: not importable here; column left out")
    results = {k: v for k, v in results.items() if v}
    if "nablite" not in results:
        print("the nablite run failed", file=sys.stderr)
        return 1

    memory = [w for w in ("W5", "W6", "W7") if w in names]
    no_clear = None
    if memory:
        env = dict(os.environ, NABLITE_BENCH_NO_CLEAR="1")
        no_clear = run_script(sys.executable, "bench_nablite.py", ",".join(memory),
                              os.path.join(opts.out, "nablite_no_clear.json"),
                              ["--no-overhead", "--repeat", "5", "--warmup", "2"], env=env)

    imports = {"nablite": import_time(sys.executable, "nablite")}
    if "nnabla" in results:
        imports["nnabla"] = import_time(opts.nnabla_python, "nnabla")
    if "torch" in results:
        imports["torch"] = import_time(sys.executable, "torch")

    versions = ", ".join(f"{k} {v['version']}" for k, v in results.items())
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores ({versions}) "
             f"with `python benchmarks/run.py{' --quick' if opts.quick else ''}"
             f"{' --nnabla-python ' + opts.nnabla_python if 'nnabla' in results else ''}`.",
             "", table(results, names), "",
             "Per-function overhead (100 chained functions on a (64, 10) input):", "",
             overhead_table(results), "",
             first_steps(results, names), "",
             "Import time: " + ", ".join(f"`import {k}` {v:.2f} s" for k, v in imports.items()
                                         if v is not None) + "."]
    if no_clear:
        lines += ["", "Peak RSS of nablite with and without buffer clearing "
                  "(`forward(clear_no_need_grad=True)`, `backward(clear_buffer=True)`):", "",
                  "| id | cleared MB | not cleared MB |", "|---|---:|---:|"]
        for w in memory:
            a = results["nablite"]["workloads"].get(w)
            b = no_clear["workloads"].get(w)
            if a and b:
                lines.append(f"| {w} | {a['peak_rss_mb']:.0f} | {b['peak_rss_mb']:.0f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(opts.out, "latest.md"), "w") as f:
        f.write(text)
    chart(results, names, os.path.join(opts.out, "latest.png"))
    print()
    print(text)
    print(f"wrote {os.path.join(opts.out, 'latest.md')} and latest.png "
          f"in {time.time() - started:.0f} s")
    return 0


# --- --gpu -------------------------------------------------------------------

NNABLA_GPU_NOTE = ("NNabla: column left out: NNabla 1.39's GPU extension (nnabla-ext-cuda) "
                   "is built for CUDA up to 12.0 and cuDNN 8, and has no wheel for this "
                   "machine's CUDA.")


def gpu_problem():
    """Why nablite's 'cudnn' context cannot run here (CuPy or a GPU missing), or None.
    The simulated device (NABLITE_DEVICE_SIM=1) counts as a device."""
    try:
        from nablite import backend
    except ImportError as e:
        return f"nablite is not importable ({e}); install it with pip install -e ."
    try:
        backend.module_for("cudnn")
    except RuntimeError as e:
        return str(e)
    return None


def torch_gpu_probe():
    """(version, whether torch sees a CUDA GPU), or None when torch does not import."""
    code = "import torch; print(torch.__version__); print(torch.cuda.is_available())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    version, cuda = out.stdout.split()[-2:]
    return version, cuda == "True"


def torch_plan(opts, sim):
    """('cuda' | 'cpu' | None, the line that says so)."""
    if opts.no_torch:
        return None, "PyTorch: left out (--no-torch)."
    if sim:  # no need to ask torch about CUDA (importing it twice costs seconds)
        if importlib.util.find_spec("torch") is None:
            return None, "PyTorch: not importable here; column left out."
        return "cpu", "PyTorch ran on its CPU: the simulated device is no GPU."
    probe = torch_gpu_probe()
    if probe is None:
        return None, "PyTorch: not importable here; column left out."
    version, cuda = probe
    if not cuda:
        return None, (f"PyTorch {version}: torch.cuda.is_available() is False (a CPU-only "
                      "build, or no GPU for it); column left out.")
    return "cuda", None


def with_batch(description, batch):
    return re.sub(r"batch \d+", f"batch {batch}", description)


def gpu_table(results, names, batch):
    nab, tor = results.get("nablite"), results.get("torch")
    head = ["id", "workload", "nablite ms/step (min–max)", "nablite img/s", "nablite GPU MB"]
    if tor:
        head += ["PyTorch ms/step (min–max)", "PyTorch img/s", "PyTorch GPU MB",
                 "nablite / PyTorch"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cells(r, w):
        a = r["workloads"].get(w)
        if a is None:
            why = r.get("failed", {}).get(w, "no result")
            return [f"failed: {why}", "–", "–"]
        return [f"{fmt(a['ms_median'])} ({fmt(a['ms_min'])}–{fmt(a['ms_max'])})",
                f"{a['images_per_s']:.0f}", fmt(a.get("gpu_mb"), 0)]

    for w in names:
        row = [w, with_batch(harness.DESCRIPTIONS[w], batch)] + cells(nab, w)
        if tor:
            row += cells(tor, w)
            a, c = nab["workloads"].get(w), tor["workloads"].get(w)
            row.append(f"**{a['ms_median'] / c['ms_median']:.2f}x**" if a and c else "–")
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def gpu_main(opts, argv):
    problem = gpu_problem()
    if opts.dry_run:
        print(f"benchmarks/run.py --gpu: workloads {opts.workloads}, batch {opts.batch}, "
              f"steps={opts.steps}, quick={opts.quick}, out={opts.out}; device: "
              f"{problem or 'usable'}")
        return 0
    if problem:
        print(f"benchmarks/run.py --gpu: cannot run: {problem}", file=sys.stderr)
        return 2
    from nablite import backend
    sim = backend.device_sim_enabled()
    names = opts.workloads.split(",")
    warmup, repeat = QUICK_GPU_RUNS if opts.quick else GPU_RUNS
    if opts.steps:
        warmup, repeat = 1, opts.steps
    extra = ["--batch", str(opts.batch), "--warmup", str(warmup), "--repeat", str(repeat),
             "--max-seconds", str(GPU_TIMED_S)]
    if opts.no_overhead:
        extra.append("--no-overhead")
    os.makedirs(opts.out, exist_ok=True)
    started = time.time()
    torch_device, torch_note = torch_plan(opts, sim)
    results = {"nablite": run_script(sys.executable, "bench_nablite.py", opts.workloads,
                                     os.path.join(opts.out, "gpu_nablite.json"),
                                     ["--device", "cudnn", *extra])}
    if torch_device:
        results["torch"] = run_script(sys.executable, "ref_torch.py", opts.workloads,
                                      os.path.join(opts.out, "gpu_torch.json"),
                                      ["--device", torch_device, *extra])
        if results["torch"] is None:
            torch_note = "PyTorch: its run failed (see the log above); column left out."
    results = {k: v for k, v in results.items() if v}
    if "nablite" not in results:
        print("the nablite run failed", file=sys.stderr)
        return 1
    nab = results["nablite"]
    command = shlex.join(["python", "benchmarks/run.py",
                          *(sys.argv[1:] if argv is None else argv)])
    versions = ", ".join(f"{k} {v['version']}" for k, v in results.items())
    runs = (f"{repeat} timed step{'s' * (repeat != 1)} after {warmup} warm-up "
            f"step{'s' * (warmup != 1)}")
    measured = f"measured {time.strftime('%Y-%m-%d')} with `{command}`; {versions}"
    if sim:
        title = f"**Simulated device, not GPU timings** ({measured}): a test run of the GPU benchmark."
    else:
        title = f"**GPU benchmark, batch {opts.batch}** ({measured})."
    synced = "nablite: `import_extension_module('cudnn').synchronize(device_id='0')`"
    if torch_device == "cuda":
        synced += "; PyTorch: `torch.cuda.synchronize()`"
    devices = f"nablite: {nab['meta'].get('device', '?')}."
    if "torch" in results:
        devices += f" PyTorch: {results['torch']['meta'].get('device', '?')}."
    lines = [title, "", devices,
             f"One step = forward + backward + solver update on a fixed random batch of "
             f"{opts.batch}, then a device synchronize, inside the timing ({synced}); "
             f"median (min–max) over {runs}, each workload in a fresh process.",
             "", gpu_table(results, names, opts.batch), "",
             "GPU MB: for nablite, what CuPy's memory pool holds after the timed steps (the "
             "pool keeps freed blocks for reuse, so this is its peak); for PyTorch, "
             "`torch.cuda.max_memory_reserved()` (`max_memory_allocated()` is in the JSON).",
             "", NNABLA_GPU_NOTE]
    fewer = [f"{lib} {w} {r['repeat']}" for lib, res in results.items()
             for w, r in res["workloads"].items() if r["repeat"] < repeat]
    if fewer:
        lines += ["", f"Timed steps stop after {GPU_TIMED_S} s; fewer than {repeat} ran for: "
                  + ", ".join(fewer) + "."]
    if torch_note:
        lines += ["", torch_note]
    if any(r.get("overhead") for r in results.values()):
        lines += ["", "Per-function overhead in the same context (100 chained functions on a "
                  "(64, 10) input; the host's time per function, no synchronize inside):", "",
                  overhead_table(results)]
    lines += ["", first_steps(results, names)]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(opts.out, "gpu_latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(opts.out, "gpu_latest.json"), "w") as f:
        json.dump({"mode": "device-sim" if sim else "gpu", "command": command,
                   "batch": opts.batch, "warmup": warmup, "repeat": repeat,
                   "left_out": [n for n in (NNABLA_GPU_NOTE, torch_note) if n],
                   "results": results}, f, indent=1)
        f.write("\n")
    wrote = ["gpu_latest.md", "gpu_latest.json"]
    try:
        chart(results, names, os.path.join(opts.out, "gpu_latest.png"),
              title=("Simulated device (not GPU timings)" if sim else
                     "One training step on the GPU: nablite ('cudnn') vs PyTorch ('cuda')")
              + f", batch {opts.batch}")
        wrote.append("gpu_latest.png")
    except ImportError:
        print("(no gpu_latest.png: matplotlib is not installed)")
    print()
    print(text)
    print(f"wrote {', '.join(wrote)} in {opts.out} in {time.time() - started:.0f} s")
    failed = sorted({w for r in results.values() for w in r.get("failed", {})})
    if failed:
        print(f"benchmarks/run.py --gpu: {', '.join(failed)} failed (see the table)",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
