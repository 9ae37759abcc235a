"""The ``nablite`` command: train the tutorial's models, run NNabla scripts, benchmark.

    nablite train cnn --steps 1000 --out runs/cnn
    nablite run tutorial.py [args...]
    nablite bench [--quick]
"""
import argparse
import importlib
import os
import runpy
import sys

from . import commands



def main(argv=None):
    parser = argparse.ArgumentParser(prog="nablite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a tutorial model on the bundled 8x8 digits")
    train.add_argument("model", choices=["logreg", "mlp", "cnn", "rnn", "siamese"])
    train.add_argument("--steps", type=int, default=1000, help="solver updates (default 1000)")
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default: the tutorial's value for the model)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="output folder (default runs/<model>)")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    run = sub.add_parser("run", help="run an NNabla script unchanged (import nnabla -> nablite)")
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)

    bench = sub.add_parser("bench", help="run the speed benchmarks (benchmarks/run.py)")
    bench.add_argument("args", nargs=argparse.REMAINDER)

    for module in commands.MODULES:  # NNabla's own commands: convert, infer, dump, ...
        importlib.import_module(f"{commands.__name__}.{module}").register(sub)

    opts = parser.parse_args(argv)
    if getattr(opts, "handler", None) is not None:
        return opts.handler(opts)
    if opts.command == "train":
        from .train import train_tutorial_model
        if opts.steps <= 0 or opts.batch_size <= 0:
            parser.error(f"--steps and --batch-size must be positive, got {opts.steps} "
                         f"and {opts.batch_size}")
        result = train_tutorial_model(opts.model, steps=opts.steps, batch_size=opts.batch_size,
                                      lr=opts.lr, seed=opts.seed,
                                      out=opts.out or os.path.join("runs", opts.model),
                                      progress=not opts.no_progress)
        for line in result["summary"]:
            print(line)
        return 0
    if opts.command == "run":
        return run_script(opts.script, opts.args)
    if opts.command == "bench":
        return run_bench(opts.args)
    return 2


def run_script(script, args):
    """Run ``script`` as __main__ with ``import nnabla`` resolving to nablite."""
    if not os.path.isfile(script):
        print(f"nablite run: no such script: {script}", file=sys.stderr)
        return 2
    from . import compat
    compat.install()
    compat.restore_legacy_numpy_aliases()
    compat.log_like_nnabla()
    sys.argv = [script] + list(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


def run_bench(args):
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(os.getcwd(), "benchmarks", "run.py"),
                  os.path.join(here, "..", "..", "benchmarks", "run.py")]
    for path in candidates:
        if os.path.isfile(path):
            sys.argv = [path] + list(args)
            runpy.run_path(path, run_name="__main__")
            return 0
    print("nablite bench: benchmarks/run.py not found; run it from a nablite checkout",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
