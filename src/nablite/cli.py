"""The ``nablite`` command (also ``python -m nablite``).

    nablite train cnn --steps 1000 --out runs/cnn
    nablite train -c net.nnp -o out          (NNabla's form, from a .nnp configuration)
    nablite run tutorial.py [args...]
    nablite bench [--quick]
"""
import argparse
import importlib
import math
import os
import runpy
import sys
import textwrap
from typing import List, Optional, Sequence

from . import commands

# {nnabla} is filled with the commands that nablite.commands registers
DESCRIPTION = (
    "nablite runs NNabla's Python API in pure Python and NumPy. This command trains "
    "the NNabla tutorial's models on the bundled 8x8 digits (train), runs NNabla "
    "scripts unchanged with import nnabla resolving to nablite (run), runs the "
    "speed benchmarks of a checkout (bench), and has NNabla's nnabla_cli commands "
    "for model, parameter and data set files ({nnabla}). Run `nablite COMMAND --help` for each "
    "command's options. Log messages of level INFO and above go to stderr; "
    "NABLITE_LOG_LEVEL=WARNING quiets them.")

TRAIN_DESCRIPTION = """\
Train one of the NNabla tutorial's models on the bundled 8x8 digits (1,500
training and 297 held-out images) with SGD and weight decay 1e-5, showing a
progress bar, then print the training and held-out accuracy and write the
parameters (params.h5, or params.protobuf without h5py), the monitor logs and
curves.png (loss and held-out accuracy; embedding.png too for siamese) into
the output folder. The default 1000 steps take about 1 s (logreg, mlp, rnn),
1.5 s (cnn) or 2.6 s (siamese) on a 2-core machine. With -c/--config instead
of a model, trains the network of an NNabla .nnp configuration (NNabla's
`nnabla_cli train -c CONFIG -o DIR`), where that command is installed."""

RUN_DESCRIPTION = """\
Run a Python script written for NNabla with `import nnabla` (and every
nnabla.* module) resolving to nablite, `import tiny_digits` to the bundled
tutorial helper unless a local file has that name, NumPy's removed aliases
(np.int, np.float, np.product, np.NaN, ...) restored and INFO log messages shown as NNabla shows
them. Everything after the script is passed to it as its sys.argv[1:]. The
exit status is the script's (sys.exit("message") prints the message and exits 1)."""

BENCH_DESCRIPTION = """\
Run the speed benchmarks (benchmarks/run.py of a nablite checkout, found in
the current folder or next to the installed sources); every option is passed
on to it (run.py's options are listed below). Each library's default runs are
sized to take about 3 minutes on 2 CPU cores (benchmarks/harness.py's
DEFAULT_RUNS)."""


def positive_int(text: str) -> int:
    """argparse type for counts (steps, iterations, epochs): an int of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type for rates (learning rates): a finite number above 0."""
    value = float(text)  # not a number: argparse says "invalid positive_float value"
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {value}")
    return value


def _version() -> str:
    from . import __version__
    return __version__


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="nablite", formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"nablite {_version()}",
                        help="print nablite's version (the installed package's) and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a tutorial model on the bundled 8x8 digits",
                           description=TRAIN_DESCRIPTION, formatter_class=fmt)
    train.add_argument("model", nargs="?", choices=["logreg", "mlp", "cnn", "rnn", "siamese"],
                       metavar="MODEL",
                       help="logreg, mlp, cnn, rnn or siamese (the tutorial's five models)")
    train.add_argument("--steps", type=int, default=1000,
                       help="solver updates (default: 1000)")
    train.add_argument("--batch-size", type=int, default=64,
                       help="images per step, 1 to 1500 (default: 64)")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate, finite and positive (default: the tutorial's: "
                            "logreg 0.001, mlp 0.01, cnn 0.1, rnn 0.1, siamese 0.01)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the initial weights, the split and the batches "
                            "(default: 0)")
    train.add_argument("-o", "--out", "--outdir", dest="outdir", default=None, metavar="DIR",
                       help="output folder, created with its parents if missing "
                            "(default: runs/MODEL)")
    train.add_argument("-c", "--config", default=None, metavar="CONFIG.nnp",
                       help="train the network of an NNabla .nnp configuration instead of "
                            "a tutorial model")
    train.add_argument("-p", "--param", default=None, metavar="PARAMS",
                       help="with -c: a parameter file (.h5, .protobuf, .nnp) loaded over "
                            "the configuration's parameters before training (NNabla's -p)")
    train.add_argument("-r", "--resume", action="store_true",
                       help="with -c: continue from the output folder's "
                            "results_current_<epoch>.nnp (NNabla's -r)")
    train.add_argument("-C", "--context", default="cpu", choices=["cpu", "cuda", "cudnn"],
                       help="where the model computes: cpu (default), or cuda / cudnn on a "
                            "GPU (needs CuPy: pip install \"nablite[cuda13]\")")
    train.add_argument("--no-progress", action="store_true",
                       help="do not show the progress bar (default: shown; outside a "
                            "terminal it prints a plain line every 10 s)")
    train.set_defaults(subparser=train)

    run = sub.add_parser("run", help="run an NNabla script unchanged (import nnabla -> nablite)",
                         description=RUN_DESCRIPTION, formatter_class=fmt)
    run.add_argument("script", nargs="?", help="the Python script to run")
    run.add_argument("args", nargs=argparse.REMAINDER,
                     help="arguments passed to the script (optional)")
    run.set_defaults(subparser=run)

    sub.add_parser("bench", help="run the speed benchmarks (benchmarks/run.py)",
                   description=BENCH_DESCRIPTION, formatter_class=fmt, add_help=False)

    modules: Sequence[str] = commands.MODULES  # NNabla's own commands: convert, infer, ...
    for module in modules:
        importlib.import_module(f"{commands.__name__}.{module}").register(sub)
    nnabla = [name for name in sub.choices if name not in ("train", "run", "bench")]
    parser.description = textwrap.fill(DESCRIPTION.format(nnabla=", ".join(nnabla)), 79)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    opts, extra = parser.parse_known_args(args)
    if opts.command == "bench":
        return run_bench(extra)
    if extra:
        getattr(opts, "subparser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(opts, "handler", None) is not None:
        return int(opts.handler(opts) or 0)
    if opts.command == "train":
        return train_command(opts)
    if opts.command == "run":
        if opts.script is None:
            opts.subparser.error("the following argument is required: script")
        return run_script(opts.script, opts.args)
    return 2


def train_command(opts: argparse.Namespace) -> int:
    if opts.config is not None:
        if opts.model is not None:
            opts.subparser.error("give a MODEL or -c/--config CONFIG.nnp, not both")
        return train_from_config(opts)
    if opts.model is None:
        opts.subparser.error("give a MODEL (logreg, mlp, cnn, rnn or siamese) or "
                     "-c/--config CONFIG.nnp")
    from .train import TrainingDiverged, TrainingError, train_tutorial_model
    try:
        result = train_tutorial_model(opts.model, steps=opts.steps, batch_size=opts.batch_size,
                                      lr=opts.lr, seed=opts.seed,
                                      out=opts.outdir or os.path.join("runs", opts.model),
                                      progress=not opts.no_progress, context=opts.context)
    except TrainingDiverged as e:
        print(f"nablite train: {e}", file=sys.stderr)
        return 1
    except TrainingError as e:
        print(f"nablite train: error: {e}", file=sys.stderr)
        return 2
    for line in result["summary"]:
        print(line)
    return 0


def train_from_config(opts: argparse.Namespace) -> int:
    """NNabla's ``train -c CONFIG -o DIR``, by nablite.commands.train_config where installed."""
    name = f"{commands.__name__}.train_config"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name not in (name, commands.__name__):
            raise
        print("nablite train: training from .nnp configurations (-c/--config) is not "
              "available in this install", file=sys.stderr)
        return 2
    return int(module.main(opts) or 0)


def run_script(script: str, args: List[str]) -> int:
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
        return _exit_status(e.code)
    return 0


def _exit_status(code: object) -> int:
    """What Python itself does with ``sys.exit(code)``: None is 0, an int is itself,
    anything else is printed to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_bench(args: List[str]) -> int:
    if "-h" in args or "--help" in args:  # what nablite adds, then run.py's own help
        print(f"nablite bench: {BENCH_DESCRIPTION}\n")
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(os.getcwd(), "benchmarks", "run.py"),
                  os.path.join(here, "..", "..", "benchmarks", "run.py")]
    for path in candidates:
        if os.path.isfile(path):
            sys.argv = [path] + list(args)
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as e:
                return _exit_status(e.code)
            return 0
    print("nablite bench: benchmarks/run.py not found; run it from a nablite checkout",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
