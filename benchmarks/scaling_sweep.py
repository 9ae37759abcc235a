"""How step time grows with the work: W6 and W7 at several sizes, nablite vs NNabla vs PyTorch.

    python benchmarks/scaling_sweep.py [--nnabla-python PATH] [--quick] [--out results/scaling]

Points: W6 (the small ResNet) at batch 16, 64 and 256 with widths (16, 32, 64)
and (32, 64, 128), and W7 (the 784-1024-1024-10 MLP) at batch 64, 256 and
1024. Each point runs in a fresh process per library (nablite runs the very
code of ref_nnabla.py through the ``nnabla`` import alias). For each it reports
ms per training step, the ratio to NNabla and PyTorch, the FLOPs of one step
(counted on nablite's graph: 2 per multiply-add of every convolution and affine
forward, the weight gradient, and the input gradient where one is needed) and
the GFLOP/s achieved, against this machine's matrix-product peak
(``numpy.matmul`` of 2048 x 2048 float32 squares). Writes <out>.md, <out>.json
and <out>.png (ms/step against FLOPs per step, log-log).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

W6_POINTS = [{"model": "W6", "batch": b, "widths": list(w)}
             for w in ((16, 32, 64), (32, 64, 128)) for b in (16, 64, 256)]
W7_POINTS = [{"model": "W7", "batch": b} for b in (64, 256, 1024)]
POINTS = W6_POINTS + W7_POINTS
QUICK_POINTS = [W6_POINTS[0], W7_POINTS[0]]
# A point's timed steps: enough for a median, about this many seconds each.
SECONDS_PER_POINT = 8.0


def _build(lib, point):
    """(step, batch) of the point's workload in ``lib`` ("nablite", "nnabla", "torch")."""
    if lib == "nablite":
        from nablite import compat
        compat.install()
    if lib == "torch":
        import ref_torch as ref
    else:
        import ref_nnabla as ref
    ref.setup()
    kwargs = {"batch": point["batch"]}
    if point["model"] == "W6":
        kwargs["widths"] = tuple(point["widths"])
    return ref.WORKLOADS[point["model"]](**kwargs)


def _time_point(lib, point):
    import harness
    step, batch = _build(lib, point)
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    repeat = int(min(20, max(3, SECONDS_PER_POINT / max(first, 1e-3))))
    res = harness.time_steps(step, batch, warmup=1, repeat=repeat)
    res["first_step_ms"] = first * 1e3
    return res


def step_flops(point):
    """FLOPs of one training step of ``point``, counted on nablite's graph."""
    import numpy as np
    from nablite import graph
    import ref_nnabla
    captured, trainer = {}, ref_nnabla._trainer

    def keep_loss(loss, solver, wd=None):
        captured["loss"] = loss
        return trainer(loss, solver, wd)

    ref_nnabla._trainer = keep_loss
    try:
        _build("nablite", point)
    finally:
        ref_nnabla._trainer = trainer
    total = 0
    for f in graph.order_of(captured["loss"]):
        if f.name not in ("Convolution", "Affine"):
            continue
        x, w, y = f.inputs[0], f.inputs[1], f.outputs[0]
        per_output = w.shape[1:] if f.name == "Convolution" else w.shape[:1]
        macs = int(np.prod(y.shape)) * int(np.prod(per_output))
        passes = 2 + (1 if x.need_grad else 0)  # forward, dW, and dx where needed
        total += 2 * macs * passes
    return total


def matmul_peak_gflops(n=2048, repeat=5):
    import numpy as np
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _run(python, lib, point, env=None):
    cmd = [python, os.path.abspath(__file__), "--_point", json.dumps({"lib": lib, **point})]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("@@POINT@@"):
            return json.loads(line[len("@@POINT@@"):])
    sys.stderr.write(f"  {lib} {point} failed (exit {proc.returncode}): {proc.stderr[-800:]}\n")
    return None


def _label(point):
    if point["model"] == "W6":
        return f"W6 b{point['batch']} w{'/'.join(map(str, point['widths']))}"
    return f"W7 b{point['batch']}"


def _ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "–"


def table(rows, peak):
    out = [f"matmul peak (numpy, 2048² float32): **{peak:.0f} GFLOP/s**", "",
           "| point | GFLOP/step | nablite ms | GFLOP/s | NNabla ms | PyTorch ms "
           "| nablite/NNabla | nablite/PyTorch |", "|" + "---|" * 8]
    for r in rows:
        nab, ref, tor = (r.get(k) for k in ("nablite", "nnabla", "torch"))
        gf = r["flops"] / 1e9
        out.append("| " + " | ".join([
            _label(r["point"]), f"{gf:.2f}", f"{nab:.1f}" if nab else "–",
            f"{gf / nab * 1e3:.0f}" if nab else "–", f"{ref:.1f}" if ref else "–",
            f"{tor:.1f}" if tor else "–", _ratio(nab, ref), _ratio(nab, tor)]) + " |")
    return "\n".join(out)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 5))
    styles = {"nablite": ("tab:blue", "o"), "nnabla": ("tab:orange", "s"),
              "torch": ("tab:green", "^")}
    names = {"nablite": "nablite", "nnabla": "NNabla 1.39", "torch": "PyTorch"}
    for lib, (color, marker) in styles.items():
        for model, line in (("W6", "-"), ("W7", "--")):
            pts = sorted((r["flops"] / 1e9, r[lib]) for r in rows
                         if r["point"]["model"] == model and r.get(lib))
            if pts:
                ax.plot(*zip(*pts), line, color=color, marker=marker,
                        label=f"{names[lib]}, {model}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("work per training step (GFLOP)")
    ax.set_ylabel("time per training step (ms)")
    ax.set_title("Step time against work: W6 ResNet (solid), W7 MLP (dashed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nnabla-python", default=os.environ.get("NNABLA_PYTHON",
                                                              "/tmp/nnref/bin/python"),
                    help="NNabla 1.39's interpreter (left out when absent)")
    ap.add_argument("--quick", action="store_true", help="two small points only")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "scaling"),
                    help="output path without extension")
    ap.add_argument("--_point", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts._point:
        spec = json.loads(opts._point)
        lib = spec.pop("lib")
        print("@@POINT@@" + json.dumps(_time_point(lib, spec)))
        return 0
    from tqdm.auto import tqdm
    libs = [("nablite", sys.executable)]
    if os.path.exists(opts.nnabla_python):
        libs.append(("nnabla", opts.nnabla_python))
    if subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0:
        libs.append(("torch", sys.executable))
    points = QUICK_POINTS if opts.quick else POINTS
    rows = []
    bar = tqdm(total=len(points) * len(libs), desc="scaling sweep", unit="run")
    for point in points:
        row = {"point": point, "flops": step_flops(point)}
        for lib, python in libs:
            res = _run(python, lib, point)
            row[lib] = res and res["ms_median"]
            row[lib + "_first_ms"] = res and res["first_step_ms"]
            bar.update()
        rows.append(row)
    bar.close()
    peak = matmul_peak_gflops()
    text = table(rows, peak)
    print(text)
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out + ".md", "w") as f:
        f.write(text + "\n")
    with open(opts.out + ".json", "w") as f:
        json.dump({"peak_gflops": peak, "rows": rows}, f, indent=1)
    plot(rows, opts.out + ".png")
    print(f"wrote {opts.out}.md, .json, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
