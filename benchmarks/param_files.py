"""Time and peak memory of saving and loading parameters as .h5 and .protobuf.

    python benchmarks/param_files.py [--mb 20] [--json out.json]

Each (format, save/load) runs in a fresh process holding ``--mb`` MB of float32
parameters (layers of 1024x1024); it reports the wall time of the call and how
far the process's peak resident memory rose above what it held before the call
(the parameters themselves included in "before"). The .protobuf path goes
through Google's protobuf package (one repeated float field per parameter).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from tqdm import tqdm

_CHILD = r"""
import json, os, resource, sys, time
import numpy as np
import nablite as nn
mb, op, path = float(sys.argv[1]), sys.argv[2], sys.argv[3]
n = int(mb * 2 ** 20 / 4)
rows = 1024
rng = np.random.RandomState(0)
k = 0
while n > 0:
    size = min(n, rows * 1024)
    w = nn.parameter.get_parameter_or_create(f"layer{k}/W", (size // 1024 or 1, min(size, 1024)))
    w.d = rng.rand(*w.shape).astype(np.float32)
    n -= w.size
    k += 1
if op == "load":
    nn.save_parameters(path)
def rss_mb():  # current resident set (Linux /proc)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
before = rss_mb()
t = time.perf_counter()
if op == "save":
    nn.save_parameters(path)
else:
    nn.load_parameters(path)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rise_mb": peak - before,
                  "file_mb": os.path.getsize(path) / 2 ** 20}))
"""


def run(mb, fmt, op, folder):
    path = os.path.join(folder, "params" + fmt)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(mb), op, path],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20, help="MB of parameters (float32)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = {}
    cases = [(fmt, op) for fmt in (".h5", ".protobuf") for op in ("save", "load")]
    with tempfile.TemporaryDirectory() as folder:
        for fmt, op in tqdm(cases, desc=f"{args.mb:g} MB of parameters"):
            results[f"{fmt} {op}"] = run(args.mb, fmt, op, folder)
    print(f"{'':16} {'seconds':>8} {'peak RSS rise (MB)':>19} {'file (MB)':>10}")
    for name, r in results.items():
        print(f"{name:16} {r['seconds']:8.2f} {r['peak_rise_mb']:19.0f} {r['file_mb']:10.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mb": args.mb, "results": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
