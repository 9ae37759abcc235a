"""Images per second of a CSV image data set, nablite next to NNabla 1.39.

    python benchmarks/data_iterator.py [--images 2000] [--size 64] [--repeat 2]

Writes ``--images`` random RGB PNGs of ``--size`` x ``--size`` pixels and a
CSV (``x:image,y:label``) into a temporary folder, then times one epoch of
``data_iterator_csv_dataset(csv, 64, shuffle=True, normalize=True,
with_memory_cache=False, with_file_cache=False)`` (decode + normalize +
batch) with ``use_thread`` False and True, in nablite and, where
``/tmp/nnref/bin/python`` (``NNABLA_PYTHON``) exists, in NNabla on the same
files (this script run by that interpreter as a worker).

It also runs each epoch with a simulated training step after every batch
(``time.sleep`` of the measured per-batch read time, as a device step keeps
the host thread waiting), and reports how much of the read time the prefetch
thread hides: ``hidden = (t_without_thread - t_with_thread) / t_read``, with
``t_read`` the stepped epoch without thread less its sleeps (at most
``1 - 1/batches``, as the first batch has nothing to hide behind; noise on a
busy machine can push it past that).
Each time runs from the iterator's construction to its last batch; the best
of ``--repeat`` runs is kept, after one warm-up epoch. On a machine shared with
other work the wall times are noisy; the CPU seconds per epoch without the
thread (``time.process_time``) are the steadier measure of decode cost.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

BATCH = 64


def make_dataset(folder, n, size):
    from PIL import Image
    rng = np.random.RandomState(0)
    lines = ["x:image,y:label"]
    for i in range(n):
        img = rng.randint(0, 256, (size, size, 3)).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(folder, f"{i:05d}.png"))
        lines.append(f"{i:05d}.png,{i % 10}")
    with open(os.path.join(folder, "train.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return os.path.join(folder, "train.csv")


def epoch_seconds(library, csv_path, use_thread, step, repeat):
    """Best wall time of one epoch (size // 64 batches) in this interpreter."""
    if library == "nnabla":
        from nnabla.utils.data_iterator import data_iterator_csv_dataset
    else:
        from nablite.utils.data_iterator import data_iterator_csv_dataset
    best = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        # (the thread starts reading in the constructor)
        di = data_iterator_csv_dataset(csv_path, BATCH, shuffle=True, normalize=True,
                                       with_memory_cache=False, with_file_cache=False,
                                       use_thread=use_thread,
                                       rng=np.random.RandomState(0))
        n = di.size // BATCH
        for _ in range(n):
            x, y = di.next()
            if step:
                time.sleep(step)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
        assert x.shape == (BATCH, 3) + x.shape[2:] and x.dtype == np.float64
        di.close()
    return best, n, cpu


def measure(library, csv_path, repeat):
    epoch_seconds(library, csv_path, False, 0.0, 1)  # warm the page cache and imports
    read, n, cpu = epoch_seconds(library, csv_path, False, 0.0, repeat)
    step = read / n
    out = {"batches": n, "read_s": read, "step_s": step, "read_cpu_s": cpu}
    out["thread_s"] = epoch_seconds(library, csv_path, True, 0.0, repeat)[0]
    out["train_plain_s"] = epoch_seconds(library, csv_path, False, step, repeat)[0]
    out["train_thread_s"] = epoch_seconds(library, csv_path, True, step, repeat)[0]
    return out


def report(name, r):
    images = r["batches"] * BATCH
    # the read time inside the stepped epoch without thread: all but the sleeps
    read_in_epoch = r["train_plain_s"] - r["batches"] * r["step_s"]
    hidden = (r["train_plain_s"] - r["train_thread_s"]) / read_in_epoch
    print(f"{name:8s} read {images / r['read_s']:7.0f} img/s "
          f"({images / r['read_cpu_s']:.0f} per CPU second), "
          f"with use_thread {images / r['thread_s']:7.0f} img/s; "
          f"with a {r['step_s'] * 1e3:.0f} ms step per batch: epoch "
          f"{r['train_plain_s']:.2f} s -> {r['train_thread_s']:.2f} s with the "
          f"thread ({hidden:.0%} of the read time hidden)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--worker", choices=["nnabla", "nablite"])
    p.add_argument("--csv")
    args = p.parse_args()
    # nablite sets its logger's level from NABLITE_LOG_LEVEL when imported
    # (later here), so a setLevel before that import would be overridden
    os.environ.setdefault("NABLITE_LOG_LEVEL", "WARNING")
    if args.worker:
        print(json.dumps(measure(args.worker, args.csv, args.repeat)))
        return
    folder = tempfile.mkdtemp(prefix="nablite-bench-data-")
    try:
        csv_path = make_dataset(folder, args.images, args.size)
        print(f"{args.images} PNGs of {args.size}x{args.size}x3, batches of {BATCH}, "
              f"best of {args.repeat}")
        report("nablite", measure("nablite", csv_path, args.repeat))
        python = os.environ.get("NNABLA_PYTHON", "/tmp/nnref/bin/python")
        if os.path.exists(python):
            proc = subprocess.run([python, __file__, "--worker", "nnabla", "--csv", csv_path,
                                   "--repeat", str(args.repeat)],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                report("NNabla", json.loads(proc.stdout.strip().splitlines()[-1]))
            else:
                print("NNabla failed:", proc.stderr[-500:])
        else:
            print(f"NNabla not found at {python} (set NNABLA_PYTHON)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
