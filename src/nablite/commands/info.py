"""version and function_info: what this nablite is and which NNabla functions it
has (all of them, those a model file uses, or those an export format supports)."""
import sys

from ._common import CommandError, existing_file, handler


@handler("version")
def version(opts):
    from .. import __version__
    print(f"nablite {__version__} (NNabla 1.39 Python API; Python "
          f"{sys.version.split()[0]})")


def function_specs():
    """{NNabla type name: (nablite.functions name, argument (name, kind) pairs)} of
    every NNabla function nablite builds."""
    from .. import function_info
    from .. import functions as F
    return {t: (s.function, s.args) for t, s in function_info.SPECS.items()
            if hasattr(F, s.function)}


def model_function_types(path):
    """The NNabla function types the networks of a model file use, in first-use order."""
    from .model_files import read_model
    proto = read_model(path)
    seen = []
    for net in proto.network:
        for f in net.function:
            if f.type not in seen:
                seen.append(f.type)
    return seen


def _onnx_types():
    from ..onnx import export_rules
    return sorted(export_rules())


@handler("function_info")
def function_info(opts):
    for flag, what in ((opts.config, "-c/--config"), (opts.api, "--api")):
        if flag is not None:
            raise CommandError(f"{what} configures NNabla's C runtime targets (NNB); "
                               f"nablite has none")
    specs = function_specs()
    if opts.query:
        if opts.query not in specs:
            raise CommandError(f"unknown function {opts.query!r}; `nablite function_info` "
                               f"lists the {len(specs)} known ones")
        name, args = specs[opts.query]
        lines = [f"{opts.query} (nablite.functions.{name})"]
        lines += [f"  {a}: {kind}" for a, kind in args] or ["  (no arguments)"]
    else:
        # As NNabla's: the names only (what this is goes to stderr); with files and
        # -f, the files' functions the format supports (the others on stderr)
        used = []
        for path in opts.files:
            used += [t for t in model_function_types(existing_file(path, "model file"))
                     if t not in used]
        if opts.all_support:
            fmt = opts.all_support.upper()
            if fmt != "ONNX":
                raise CommandError(f"-f/--all_support: nablite lists ONNX only, got {fmt!r}")
            supported = _onnx_types()
            types = [t for t in used if t in supported] if opts.files else supported
            note = f"functions nablite exports to ONNX{' of ' + ', '.join(opts.files) if opts.files else ''}"
            left = [t for t in used if t not in supported]
            if left:
                note += f" ({len(left)} not exportable: {', '.join(left)})"
        elif opts.files:
            types = used
            note = f"functions used in {', '.join(opts.files)}"
            missing = [t for t in types if t not in specs]
            if missing:
                note += f" ({len(missing)} unsupported by nablite: {', '.join(missing)})"
        else:
            types = list(specs)
            note = f"{len(types)} NNabla functions nablite implements"
        excluded = {t for x in (opts.exclude or []) for t in x.split(",")} - {""}
        types = [t for t in types if t not in excluded]
        print(f"{note}:", file=sys.stderr)
        lines = types
    text = "\n".join(lines) + "\n"
    if opts.output:
        from .._atomic_file import atomic_write

        def write(tmp):
            with open(tmp, "w") as f:
                f.write(text)
        atomic_write(opts.output, write)
        print(f"wrote {opts.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def register(subparsers):
    p = subparsers.add_parser("version", help="print nablite's version",
                              description="Print nablite's version and the NNabla API it follows.")
    p.set_defaults(handler=version)

    p = subparsers.add_parser(
        "function_info", help="list NNabla functions: all, a model's, or an export format's",
        description="List the NNabla function types nablite implements, those the networks "
        "of .nnp/.nntxt files use, or those nablite exports to ONNX; -q shows one "
        "function's arguments.")
    p.add_argument("files", nargs="*", metavar="FILE", help=".nnp/.nntxt files to list the "
                   "functions of")
    p.add_argument("-o", "--output", help="write the list to this file")
    p.add_argument("-f", "--all_support", help="list what an export format supports: ONNX")
    p.add_argument("-c", "--config", help="(NNabla's NNB target constraints; not in nablite)")
    p.add_argument("-x", "--exclude", action="append",
                   help="function types to leave out (comma-separated; may be repeated)")
    p.add_argument("-t", "--target", action="store_true",
                   help="list for the target format given with -f")
    p.add_argument("-q", "--query", help="show one function's arguments")
    p.add_argument("--nnp-no-expand-network", action="store_true",
                   help="list the networks as stored (nablite never expands them)")
    p.add_argument("--api", help="(NNabla's C runtime API levels; not in nablite)")
    p.set_defaults(handler=function_info)
