"""Data-parallel scaling over MPI: steps/s, scaling efficiency and the
communication time per step of W6 (ResNet, batch 64) and W7 (MLP 784-1024-
1024-10, batch 256) on 1, 2, ... ranks.

    python benchmarks/scaling.py                       # 1 and 2 ranks, W6 and W7
    python benchmarks/scaling.py --ranks 1,2,4 --workloads W7 --json scaling.json
    python benchmarks/scaling.py --ranks 1,8 --hostfile hosts --threads 4

The workloads are those of benchmarks/ref_nnabla.py (run through the
``nnabla`` alias, as bench_nablite.py does). Each rank trains on its own
batch of the workload's size (weak scaling: N ranks process N batches per
step), so the efficiency is steps/s on N ranks over steps/s on one (1.0 is
perfect). Every configuration is started with ``mpiexec -n N`` with
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set to ``--threads``, the same at every
rank count so that each rank has the same cores (default: the cores of this
machine divided by the largest rank count: the ranks never oversubscribe the
cores). The configurations are run ``--repeat`` times in turn and each keeps
its best run, since on a shared machine other work only ever slows a run.

Two ways of reducing the gradients are timed:
  after     backward, then ``comm.all_reduce(grads, division=True)``; the
            time inside all_reduce is the communication time per step
            (with the wait for the slowest rank included);
  overlap   ``loss.backward(communicator_callbacks=comm.all_reduce_callback(...))``:
            backward tells the callback of each function as it finishes, and
            packs of 2**20 values are sent during backward; the communication
            time is what is left at the callback's on_finish (the last pack,
            the wait for every message, the copy back): the part not hidden.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {"W6": (2, 8), "W7": (3, 20)}  # (warm-up steps, timed steps)
MODES = ("after", "overlap")
PACK = 1 << 20


def worker(names, modes):
    """Run inside each rank: time every workload and mode; rank 0 prints the results."""
    sys.path.insert(0, HERE)
    from nablite import compat
    compat.install()
    import ref_nnabla
    import nablite as nn
    import nablite.communicators as C
    from nablite.ext_utils import get_extension_context

    comm = C.MultiProcessDataParallelCommunicator(get_extension_context("cpu"))
    comm.init()
    results = {}
    for name in names:
        for mode in modes:
            comm_seconds = []

            def trainer(loss, solver, wd=None):
                solver.set_parameters(nn.get_parameters())
                grads = [v.grad for v in nn.get_parameters().values()]

                def step():
                    loss.forward(clear_no_need_grad=True)
                    solver.zero_grad()
                    if mode == "after":
                        loss.backward(clear_buffer=True)
                        t0 = time.perf_counter()
                        comm.all_reduce(grads, division=True)
                        comm_seconds.append(time.perf_counter() - t0)
                    else:
                        cb = comm.all_reduce_callback(grads, PACK, division=True)
                        finish = cb.on_finish

                        def timed_finish():
                            t0 = time.perf_counter()
                            finish()
                            comm_seconds.append(time.perf_counter() - t0)
                        cb.on_finish = timed_finish  # backward calls the instance's
                        loss.backward(clear_buffer=True, communicator_callbacks=cb)
                    if wd is not None:
                        solver.weight_decay(wd)
                    solver.update()
                return step

            ref_nnabla._trainer = trainer
            step, batch = ref_nnabla.WORKLOADS[name]()
            warmup, steps = WORKLOADS[name]
            for _ in range(warmup):
                step()
            del comm_seconds[:]
            comm.barrier()
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            comm.barrier()
            elapsed = time.perf_counter() - t0
            results[f"{name}/{mode}"] = {
                "steps_per_s": steps / elapsed, "batch_per_rank": batch, "steps": steps,
                "comm_ms_per_step": (statistics.mean(comm_seconds) * 1e3
                                     if comm_seconds else None)}
    if comm.rank == 0:
        print("@@SCALING@@" + json.dumps(results), flush=True)


def launch(n, names, modes, threads, hostfile):
    """Start the workers on ``n`` ranks; their results (rank 0's)."""
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit('scaling.py: mpiexec is not on PATH; pip install "nablite[dist]"')
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [mpiexec, "-n", str(n)] + (["-f", hostfile] if hostfile else [])
    cmd += [sys.executable, os.path.abspath(__file__), "--_worker",
            "--workloads", ",".join(names), "--modes", ",".join(modes)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in p.stdout.splitlines():
        if line.startswith("@@SCALING@@"):
            return json.loads(line[len("@@SCALING@@"):])
    sys.stderr.write(p.stdout[-2000:] + p.stderr[-4000:])
    sys.exit(f"scaling.py: {' '.join(cmd)} failed (exit {p.returncode})")


def table(runs, names, modes):
    base = {k: v["steps_per_s"] for k, v in runs.get(1, {}).items()}
    lines = ["| workload | reduce | ranks | steps/s | images/s (all ranks) | efficiency | "
             "comm ms/step |", "|---|---|---|---|---|---|---|"]
    for name in names:
        for mode in modes:
            for n, res in sorted(runs.items()):
                r = res[f"{name}/{mode}"]
                eff = (f"{r['steps_per_s'] / base[f'{name}/{mode}']:.2f}"
                       if f"{name}/{mode}" in base else "-")
                comm_ms = "-" if r["comm_ms_per_step"] is None else f"{r['comm_ms_per_step']:.1f}"
                lines.append(f"| {name} | {mode} | {n} | {r['steps_per_s']:.2f} | "
                             f"{r['steps_per_s'] * r['batch_per_rank'] * n:.0f} | {eff} | "
                             f"{comm_ms} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", default="1,2", help="comma-separated rank counts")
    parser.add_argument("--workloads", default="W6,W7")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads per rank, at every rank count "
                             "(default: cores / the largest rank count)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each configuration, in turn; the best is kept")
    parser.add_argument("--hostfile", default=None, help="mpiexec -f HOSTFILE (several hosts)")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    names = opts.workloads.split(",")
    modes = opts.modes.split(",")
    bad = [w for w in names if w not in WORKLOADS] + [m for m in modes if m not in MODES]
    if bad:
        parser.error(f"unknown workloads/modes {bad}; workloads are {sorted(WORKLOADS)}, "
                     f"modes {list(MODES)}")
    if opts._worker:
        return worker(names, modes)
    if opts.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {opts.repeat}")
    ranks = [int(r) for r in opts.ranks.split(",")]
    cores = os.cpu_count() or 1
    threads = opts.threads or max(1, cores // max(ranks))
    runs, loads = {}, [os.getloadavg()[0]]
    for rep in range(opts.repeat):
        for n in ranks:
            print(f"run {rep + 1}/{opts.repeat}: {n} rank(s), {threads} BLAS thread(s) each, "
                  f"load average {os.getloadavg()[0]:.1f} ...", file=sys.stderr, flush=True)
            got = launch(n, names, modes, threads, opts.hostfile)
            best = runs.setdefault(n, got)
            for key, r in got.items():
                if r["steps_per_s"] > best[key]["steps_per_s"]:
                    best[key] = r
            loads.append(os.getloadavg()[0])
    print(table(runs, names, modes))
    print(f"\n{cores} cores here, {threads} BLAS thread(s) per rank, best of {opts.repeat} "
          f"runs; 1-minute load average {min(loads):.1f} to {max(loads):.1f} during the runs. "
          "More ranks: python benchmarks/scaling.py --ranks 1,2,4,8; several hosts: "
          "--hostfile FILE (one 'host:ranks' per line, passed to mpiexec -f), with --threads "
          "set to cores per host / ranks per host.")
    if opts.json:
        from nablite._atomic_file import atomic_write

        def write(tmp):
            with open(tmp, "w") as f:
                json.dump({"cores": cores, "threads_per_rank": threads, "repeat": opts.repeat,
                           "load_average": [min(loads), max(loads)], "runs": runs}, f,
                          indent=1)
        atomic_write(opts.json, write)


if __name__ == "__main__":
    main()
