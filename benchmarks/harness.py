"""Shared driver for the side-by-side training benchmarks (issue 4).

A benchmark script (ref_nnabla.py, ref_torch.py, and the nablite one) defines

    LIBRARY   -- a short name written into the JSON ("nnabla", "torch", ...)
    version() -- the library's version string
    setup()   -- optional, called once in each child process before anything
    WORKLOADS -- {"W1": builder, ...}; builder() returns (step, batch) where
                 step() runs one training step (forward + backward + update)
    overhead()-- optional; returns {"add_scalar": {"forward_us": .., "backward_us": ..},
                 "tanh": {...}}

    use_device(name) -- optional, for --device NAME: called in each child before
                 the workload is built; puts the library on that device and returns
                 {"sync": fn, "memory": fn, "device": str}: sync() waits for the
                 device (called after every step, timed with it), memory() gives
                 {"gpu_mb": .., ...} after the timed steps, device says what ran

and calls ``harness.main(sys.modules[__name__])``. The parent process runs each
workload (and the overhead test) in a fresh child process of the same Python,
so every peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to
that workload alone.

Timing: ``warmup`` untimed steps, then ``repeat`` steps timed one by one with
``time.perf_counter``; ms_median/ms_min/ms_max are over those steps and
images_per_s = batch / median seconds. Inputs are random arrays of the right
shape, set once before warm-up (the same batch is reused every step). With
--device, every step ends with the device's synchronize, inside the timing.
--batch N builds the workloads that take a batch size (W5, W6, W7) with N.

Output JSON (also printed as a table):
    {"library": str, "version": str,
     "meta": {"python": str, "platform": str, "cpu_count": int, ...},
     "workloads": {"W1": {"ms_median": float, "ms_min": float, "ms_max": float,
                          "images_per_s": float, "peak_rss_mb": float,
                          "batch": int, "repeat": int, "warmup": int}, ...},
     "overhead": {"add_scalar": {"forward_us": float, "backward_us": float},
                  "tanh": {"forward_us": float, "backward_us": float}}}
"""
import argparse
import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

DESCRIPTIONS = {
    'W1': 'logistic regression, digits 8x8, batch 64, SGD+wd',
    'W2': 'tanh MLP 64-16-32-16-10, digits, batch 64, SGD+wd',
    'W3': 'tutorial CNN (conv4/bn/conv8/bn/pool/fc32/fc10), batch 64, Adam',
    'W4': 'Elman RNN over 4 quadrants, hidden 32, batch 64, Adam',
    'W5': 'LeNet 1x28x28, batch 128, Adam',
    'W6': 'ResNet (16/32/64, 2 blocks/stage) 3x32x32, batch 64, Momentum',
    'W7': 'MLP 784-1024-1024-10, batch 256, Adam',
}

# Default (warmup, repeat) per workload, chosen so that each reference script
# finishes in about three minutes on a 2-core machine.
DEFAULT_RUNS = {
    'W1': (50, 1000),
    'W2': (50, 1000),
    'W3': (30, 500),
    'W4': (30, 500),
    'W5': (5, 50),
    'W6': (3, 30),
    'W7': (5, 50),
}


def peak_rss_mb():
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024.0


def timings(runs, rounds, clock=time.perf_counter, warm=0, budget_s=None):
    """{name: [seconds of each round]} for the callables ``runs`` ({name: fn}),
    called ``warm`` times each untimed, then timed in turn for ``rounds`` rounds
    (alternating, so a change of load on the machine hits every one alike);
    with ``budget_s``, no new round starts once the timed ones took that long."""
    for fn in runs.values():
        for _ in range(warm):
            fn()
    times = {k: [] for k in runs}
    spent = 0.0
    for _ in range(rounds):
        for k, fn in runs.items():
            t0 = clock()
            fn()
            times[k].append(clock() - t0)
            spent += times[k][-1]
        if budget_s is not None and spent > budget_s:
            break
    return times


def median_ms(times):
    """{name: median milliseconds} of ``timings``' result."""
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def time_steps(step, batch, warmup, repeat, budget_s=None):
    # The first step is timed on its own: it carries one-off costs (graph
    # planning, first allocations) that a median over later steps hides.
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times = timings({"step": step}, repeat, warm=max(warmup - 1, 0), budget_s=budget_s)["step"]
    med = statistics.median(times)
    return {
        'ms_median': med * 1e3,
        'ms_min': min(times) * 1e3,
        'ms_max': max(times) * 1e3,
        'images_per_s': batch / med,
        'first_step_ms': first * 1e3,
        'batch': batch,
        'repeat': len(times),
        'warmup': warmup,
    }


def time_chain(run, n_funcs, repeat):
    """Median microseconds per function of run() over `repeat` calls."""
    ts = timings({"run": run}, repeat, warm=2)["run"]
    return statistics.median(ts) * 1e6 / n_funcs


def takes_batch(builder):
    """Whether a workload builder takes ``batch=`` (W5, W6, W7)."""
    return 'batch' in inspect.signature(builder).parameters


def _synced(step, sync):
    def synced_step():
        step()
        sync()
    return synced_step


def _child(mod, what, warmup, repeat, device=None, batch=None, budget_s=None):
    if hasattr(mod, 'setup'):
        mod.setup()
    hooks = mod.use_device(device) if device else None
    if what == 'overhead':
        res = mod.overhead()
    else:
        builder = mod.WORKLOADS[what]
        step, batch = builder(batch=batch) if batch else builder()
        if hooks:
            step = _synced(step, hooks['sync'])
        res = time_steps(step, batch, warmup, repeat, budget_s)
        if hooks:
            res.update(hooks['memory']())
            res['device'] = hooks['device']
    res['peak_rss_mb'] = peak_rss_mb()
    res['version'] = mod.version()
    print('@@RESULT@@' + json.dumps(res))


class ChildFailed(RuntimeError):
    """A child process gave no result; ``last`` is the last line it wrote to stderr."""

    def __init__(self, message, last):
        super().__init__(message)
        self.last = last


def _run_child(script, what, warmup, repeat, device=None, batch=None, budget_s=None):
    cmd = [sys.executable, script, '--_child', what,
           '--warmup', str(warmup), '--repeat', str(repeat)]
    if budget_s is not None and what != 'overhead':
        cmd += ['--max-seconds', str(budget_s)]
    if device:
        cmd += ['--device', device]
    if batch and what != 'overhead':
        cmd += ['--batch', str(batch)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    for line in p.stdout.splitlines():
        if line.startswith('@@RESULT@@'):
            return json.loads(line[len('@@RESULT@@'):])
    sys.stderr.write(p.stdout[-2000:] + p.stderr[-4000:])
    raise ChildFailed('%s failed in %s (exit %d)' % (what, script, p.returncode),
                      (p.stderr.strip().splitlines() or ['(no output)'])[-1])


def main(mod, argv=None):
    ap = argparse.ArgumentParser(description='%s reference training benchmark'
                                 % mod.LIBRARY)
    ap.add_argument('--workloads', default=','.join(mod.WORKLOADS),
                    help='comma-separated subset of %s' % ','.join(mod.WORKLOADS))
    ap.add_argument('--repeat', type=int, default=None,
                    help='timed steps per workload (default: per-workload table)')
    ap.add_argument('--warmup', type=int, default=None,
                    help='untimed warm-up steps (default: per-workload table)')
    ap.add_argument('--json', default=None, help='write the results here')
    ap.add_argument('--no-overhead', action='store_true',
                    help='skip the per-function overhead micro-benchmark')
    ap.add_argument('--device', default=None,
                    help="run on this device (the module's use_device: 'cudnn' for "
                         "nablite/NNabla, 'cuda' or 'cpu' for PyTorch), with a "
                         "synchronize after every step (default: the CPU, as before)")
    ap.add_argument('--batch', type=int, default=None,
                    help='batch size of the workloads that take one (W5, W6, W7; '
                         'default: their own)')
    ap.add_argument('--max-seconds', type=float, default=None,
                    help='stop the timed steps of a workload once they took this long '
                         '(its "repeat" in the JSON says how many ran; default: no limit)')
    ap.add_argument('--_child', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    script = os.path.abspath(sys.modules[mod.__name__].__file__)

    if args._child:
        _child(mod, args._child, args.warmup or 0, args.repeat or 1, args.device, args.batch,
               args.max_seconds)
        return
    if args.device and not hasattr(mod, 'use_device'):
        raise SystemExit('%s: --device: this benchmark has no use_device' % mod.LIBRARY)
    if args.batch is not None and args.batch < 1:
        raise SystemExit('%s: --batch must be at least 1, got %d' % (mod.LIBRARY, args.batch))

    out = {'library': mod.LIBRARY, 'version': None,
           'meta': {'python': platform.python_version(),
                    'platform': platform.platform(),
                    'cpu_count': os.cpu_count(),
                    'script': os.path.basename(script)},
           'workloads': {}, 'overhead': {}}
    if hasattr(mod, 'META'):
        out['meta'].update(mod.META)
    names = [w.strip() for w in args.workloads.split(',') if w.strip()]
    for w in names:
        if w not in mod.WORKLOADS:
            raise SystemExit('unknown workload %r' % w)
        if args.batch and not takes_batch(mod.WORKLOADS[w]):
            raise SystemExit('%s: --batch applies to the workloads that take a batch '
                             'size (%s), not %s' % (mod.LIBRARY, ', '.join(
                                 k for k, b in mod.WORKLOADS.items() if takes_batch(b)), w))
    t_start = time.time()
    print('%-4s %10s %10s %10s %12s %9s  %s' % (
        'id', 'ms_median', 'ms_min', 'ms_max', 'images/s', 'rss_MB', 'workload'))
    for w in names:
        dw, dr = DEFAULT_RUNS[w]
        warmup = dw if args.warmup is None else args.warmup
        repeat = dr if args.repeat is None else args.repeat
        try:
            r = _run_child(script, w, warmup, repeat, args.device, args.batch,
                           args.max_seconds)
        except ChildFailed as e:
            if not args.device:
                raise
            # A device run is rare and short: keep the other workloads' numbers.
            out.setdefault('failed', {})[w] = e.last
            print('%-4s failed: %s' % (w, e.last), flush=True)
            continue
        out['version'] = r.pop('version')
        if 'device' in r:
            out['meta']['device'] = r.pop('device')
        out['workloads'][w] = r
        print('%-4s %10.3f %10.3f %10.3f %12.1f %9.1f  %s%s' % (
            w, r['ms_median'], r['ms_min'], r['ms_max'], r['images_per_s'],
            r['peak_rss_mb'], DESCRIPTIONS.get(w, ''),
            ' (run at batch %d)' % args.batch if args.batch else ''), flush=True)
    if not args.no_overhead and hasattr(mod, 'overhead'):
        r = _run_child(script, 'overhead', 0, 1, args.device)
        out['version'] = r.pop('version')
        r.pop('peak_rss_mb', None)
        out['overhead'] = r
        for k, v in r.items():
            print('overhead %-10s forward %8.2f us/func  backward %8.2f us/func'
                  % (k, v['forward_us'], v['backward_us']))
    out['meta']['total_s'] = round(time.time() - t_start, 1)
    print('%s %s, total %.1f s' % (mod.LIBRARY, out['version'],
                                  out['meta']['total_s']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1)
            f.write('\n')
    return out
