"""Side-by-side training benchmark: nablite vs NNabla 1.39 vs PyTorch, one command.

    python benchmarks/run.py [--nnabla-python PATH] [--workloads W1,W5] [--quick]

Runs the seven workloads of ref_nnabla.py on nablite (the same script, through
the nnabla import alias), on the real NNabla (with the Python 3.10 interpreter
given by --nnabla-python or $NNABLA_PYTHON, if any) and on PyTorch (if torch
imports here), each workload in a fresh process. Prints a table with ms/step
(median and min-max), images/s, peak RSS and the ratios nablite/NNabla and
nablite/PyTorch, and saves results/latest.md, results/latest.png and the raw
JSON. Also reports import time and what clear_buffer saves in memory.
"""
import argparse
import json
import os
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


def chart(results, names, path):
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
    ax.set_title("One training step: nablite vs NNabla 1.39 vs PyTorch (CPU, 2 cores)")
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


WORKLOADS = "W1,W2,W3,W4,W5,W6,W7"


def parse_options(argv=None):
    title, _, text = __doc__.split("\n\n", 2)
    p = argparse.ArgumentParser(description=f"{title} {text}".replace("\n", " "))
    p.add_argument("--nnabla-python", default=os.environ.get("NNABLA_PYTHON"),
                   help="Python 3.10 with nnabla 1.39 installed, for the NNabla column "
                        "(default: $NNABLA_PYTHON; without it the column is left out)")
    p.add_argument("--workloads", default=WORKLOADS,
                   help=f"comma-separated workload ids (default: {WORKLOADS})")
    p.add_argument("--quick", action="store_true",
                   help="30 warm-up and 30 timed steps for every workload instead of the "
                        "defaults per workload (harness.DEFAULT_RUNS: up to 50 and 1000): "
                        "rougher numbers")
    p.add_argument("--out", default=RESULTS,
                   help="folder for latest.md, latest.png and the JSON (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the options and what would run, then stop")
    opts = p.parse_args(argv)
    unknown = [w for w in opts.workloads.split(",") if w not in harness.DESCRIPTIONS]
    if unknown:
        p.error(f"--workloads: unknown id(s) {','.join(unknown)}; "
                f"choose from {','.join(harness.DESCRIPTIONS)}")
    return opts


def main(argv=None):
    opts = parse_options(argv)
    if opts.dry_run:
        print(f"benchmarks/run.py: workloads {opts.workloads}, quick={opts.quick}, "
              f"nnabla_python={opts.nnabla_python}, out={opts.out}")
        return 0
    os.makedirs(opts.out, exist_ok=True)
    names = opts.workloads.split(",")
    extra = ["--repeat", "30", "--warmup", "30"] if opts.quick else []
    started = time.time()
    results = {}
    results["nablite"] = run_script(sys.executable, "bench_nablite.py", opts.workloads,
                                    os.path.join(opts.out, "nablite.json"), extra)
    if opts.nnabla_python and os.path.exists(opts.nnabla_python):
        results["nnabla"] = run_script(opts.nnabla_python, "ref_nnabla.py", opts.workloads,
                                       os.path.join(opts.out, "nnabla.json"), extra)
    else:
        print("NNabla: no --nnabla-python / $NNABLA_PYTHON given; column left out")
    if torch_available():
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


if __name__ == "__main__":
    sys.exit(main())
