"""Write the type stubs of ``nablite.functions`` (F), ``nablite.parametric_functions`` (PF)
and ``nablite.solvers`` (S).

    python tools/make_stubs.py [--check]

F and PF are plain functions built partly from tables (F's elementwise rows)
and partly through a decorator that adds ``name=`` (PF), so their hints live in
``functions/__init__.pyi`` and ``parametric_functions/__init__.pyi`` (and the
solvers' constructors in ``solvers.pyi``), written from the runtime signatures: the parameter names, kinds and defaults are the
functions' own, and tests/test_stubs.py checks that the committed stubs still
say exactly that. Types come from three places: a function's graph inputs are
Variables (``F_INPUTS`` below, with NNabla's input names), other parameters get
the type of their default or of their name (``NAMED``), and a function returns
a Variable, a tuple of them (``F_TUPLES``), or ``Any`` where the number of
outputs depends on the arguments (``F_VARYING``). ``--check`` exits 1 when the
committed stubs differ from what this script writes.
"""
import argparse
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import nablite.functions as F  # noqa: E402
import nablite.parametric_functions as PF  # noqa: E402

ARRAY = "Variable | NdArray"
# Graph inputs of the F functions whose inputs are not all named like x, x0, x1, ...
F_INPUTS = {
    "x", "x0", "x1", "x2", "y", "w", "b", "weight", "bias", "beta", "gamma", "mean",
    "variance", "z", "target", "t", "label", "mask", "offset", "h", "c", "weight_l0", "data",
    "indices", "Indices", "input", "a", "min", "max", "start", "stop", "condition", "x_true",
    "x_false", "dst", "src", "sorted_sequence", "values", "dy", "g", "u", "binary_weight",
    "alpha", "indicator_fixedweights", "scale", "zero_point", "qr_min", "qr_max", "ql_min",
    "ql_max", "query", "key", "value", "q_weight", "k_weight", "v_weight", "out_weight",
    "q_bias", "k_bias", "v_bias", "out_bias", "attn_bias_k", "attn_bias_v", "additive_mask",
    "key_padding_mask", "vertical_kernel", "horizontal_kernel", "scores", "boxes", "theta",
    "grid", "flow", "padded_sequence", "lengths", "packed_sequence", "batch_sizes", "y_r",
    "y_i", "p", "q", "epsilon", "clip_norm", "num_groups", "shift", "out", "output",
}
# Parameters that are not graph inputs although their names are in F_INPUTS.
F_NOT_INPUTS = {
    ("arange", "start"), ("arange", "stop"), ("linspace", "start"), ("linspace", "stop"),
    ("clip_by_value", "min"), ("clip_by_value", "max"), ("shift", "shift"),
    ("rand", "shape"), ("dropout", "p"), ("random_erase", "prob"), ("norm", "p"),
    ("norm_normalization", "p"), ("clip_grad_by_norm", "clip_norm"),
    ("clip_by_norm", "clip_norm"), ("leaky_relu", "alpha"), ("elu", "alpha"),
    ("selu", "alpha"), ("celu", "alpha"), ("selu", "scale"), ("minimum_scalar", "val"),
    ("lp_normalization", "p"), ("shape", "start"), ("slice", "start"), ("slice", "stop"),
}
# Single parameters whose type the rules above get wrong.
F_OVERRIDES = {("stft", "stride"): "int", ("istft", "stride"): "int",
               ("arange", "start"): "float", ("arange", "stop"): "float",
               ("linspace", "start"): "float", ("linspace", "stop"): "float",
               ("linspace", "num"): "int", ("clip_by_value", "min"): "Variable | NdArray | float",
               ("clip_by_value", "max"): "Variable | NdArray | float"}
F_TUPLES = {"split", "unique", "lstm", "gru", "rnn", "stft", "fft", "ifft", "pack_padded_sequence",
            "pad_packed_sequence", "multi_head_attention", "broadcast_to_shapes"}
F_VARYING = {"max", "min", "sort", "top_k_data", "batch_normalization",
             "fused_batch_normalization", "sync_batch_normalization", "spectral_norm",
             "unique", "image_augmentation", "istft", "meshgrid"}
# Types by parameter name, for parameters whose default says little (None) or nothing.
NAMED = {
    "axis": "int | Sequence[int] | None", "axes": "Sequence[int] | None",
    "shape": "Sequence[int]", "kernel": "Sequence[int]", "pad": "Sequence[int] | None",
    "stride": "Sequence[int] | None", "dilation": "Sequence[int] | None",
    "output_padding": "Sequence[int] | None", "pad_width": "Sequence[int]",
    "reps": "Sequence[int]", "size": "Sequence[int]", "output_size": "Sequence[int] | None",
    "rng": "np.random.RandomState | None", "outputs": "Sequence[NdArray] | None",
    "n_outputs": "int", "name": "str | None", "seed": "int", "dtype": "Any",
    "equation": "str", "comm": "Any", "window_size": "int", "fft_size": "int",
    "signal_ndim": "int", "num_heads": "int", "k": "int", "n_outmaps": "int | Sequence[int]",
    "outmaps": "int", "n_inputs": "int", "n_features": "int",
}


def _default_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value}
        inner = "int" if kinds <= {int} and value else "float" if kinds <= {int, float} and value \
            else "Any"
        return f"Sequence[{inner}]"
    if isinstance(value, type):
        return "Any"
    return "Any"


# Numbers whose defaults happen to be integers.
FLOAT_NAMES = {"val", "constant_value", "value", "mu", "sigma", "low", "high", "theta",
               "alpha", "beta", "k", "scale", "rate", "delta"}
# Numbers or Variables.
NUMBER_OR_ARRAY = {"ql_min", "ql_max"}
LITERALS = (bool, int, float, str)


def _annotation(fname, p, inputs):
    default = p.default
    if (fname, p.name) in F_OVERRIDES:
        kind = F_OVERRIDES[fname, p.name]
    elif p.name in NUMBER_OR_ARRAY:
        kind = "Variable | NdArray | float"
    elif isinstance(default, LITERALS):
        kind = _default_type(default)
        if kind == "int" and p.name in FLOAT_NAMES:
            kind = "float"
    elif p.name in inputs and (fname, p.name) not in F_NOT_INPUTS:
        kind = ARRAY
    elif p.name in NAMED:
        kind = NAMED[p.name]
    elif default is not inspect.Parameter.empty and default is not None:
        kind = _default_type(default)
    else:
        kind = "Any"
    if default is None and "None" not in kind and kind != "Any":
        kind += " | None"
    return kind


def _default(value):
    if value is inspect.Parameter.empty:
        return ""
    if isinstance(value, (bool, int, float, str, type(None))):
        return f" = {value!r}"
    return " = ..."


def _signature(fname, fn, inputs, returns):
    parts, star = [], False
    for p in inspect.signature(fn).parameters.values():
        ann = _annotation(fname, p, inputs)
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}: {ann}")
            star = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}: Any")
        else:
            if p.kind is p.KEYWORD_ONLY and not star:
                parts.append("*")
                star = True
            parts.append(f"{p.name}: {ann}{_default(p.default)}")
    return f"def {fname}({', '.join(parts)}) -> {returns}: ..."


HEADER = '''# Type stubs of {module}, written by tools/make_stubs.py from the runtime
# signatures (tests/test_stubs.py checks they still agree). Do not edit by hand.
from typing import Any, Sequence

import numpy as np

from {rel}_array import NdArray
from {rel}variable import Variable
'''


def f_stub():
    lines = [HEADER.format(module="nablite.functions", rel="..")]
    for name in sorted(F.__all__):
        fn = getattr(F, name)
        if not callable(fn) or inspect.isclass(fn):
            lines.append(f"{name}: Any")
            continue
        returns = ("Any" if name in F_VARYING else
                   "tuple[Variable, ...]" if name in F_TUPLES else "Variable")
        lines.append(_signature(name, fn, F_INPUTS, returns))
    return "\n".join(lines) + "\n"


# PF: the Variables a layer takes besides its input.
PF_INPUTS = {"inp", "x", "h", "c", "offset", "mask", "query", "key", "value", "src", "tgt",
             "memory", "attn_mask", "key_padding_mask", "src_mask", "tgt_mask", "memory_mask",
             "src_key_padding_mask", "tgt_key_padding_mask", "memory_key_padding_mask",
             "w"}
PF_TUPLES = {"lstm", "gru", "rnn", "lstm_cell", "multi_head_attention"}
PF_VARYING = {"batch_normalization", "fused_batch_normalization", "sync_batch_normalization",
              "spectral_norm", "min_max_quantize"}


def pf_stub():
    lines = [HEADER.format(module="nablite.parametric_functions", rel="..")]
    for name in sorted(PF.__all__):
        fn = getattr(PF, name)
        if inspect.isclass(fn) or name in ("parametric_function_api", "get_parameter_or_create",
                                           "get_parameter"):
            lines.append(f"{name}: Any")
            continue
        returns = ("Any" if name in PF_VARYING else
                   "tuple[Variable, ...]" if name in PF_TUPLES else "Variable")
        lines.append(_signature(name, fn, PF_INPUTS, returns))
    return "\n".join(lines) + "\n"


def s_stub():
    import nablite.solvers as S
    base = [n for n in S.__all__ if n in ("Solver", "SolverState")]
    hooks = sorted(n for n in dir(S) if n.endswith("_hook") and not n.startswith("_"))
    lines = [HEADER.splitlines()[0].format(module="nablite.solvers"), HEADER.splitlines()[1],
             "from ._solver_base import (", *(f"    {n} as {n}," for n in base + hooks), ")", ""]
    for name in S.__all__:
        if name in base:
            continue
        params = list(inspect.signature(getattr(S, name).__init__).parameters.values())[1:]
        args = ", ".join(f"{p.name}: {_default_type(p.default)}{_default(p.default)}"
                         for p in params)
        lines += [f"class {name}(Solver):", f"    def __init__(self, {args}) -> None: ...", ""]
    return "\n".join(lines)


STUBS = {os.path.join(ROOT, "src", "nablite", "functions", "__init__.pyi"): f_stub,
         os.path.join(ROOT, "src", "nablite", "parametric_functions", "__init__.pyi"): pf_stub,
         os.path.join(ROOT, "src", "nablite", "solvers.pyi"): s_stub}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a committed stub differs from what would be written")
    opts = ap.parse_args(argv)
    stale = []
    for path, make in STUBS.items():
        text = make()
        old = open(path).read() if os.path.exists(path) else None
        if opts.check:
            if old != text:
                stale.append(path)
        elif old != text:
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {os.path.relpath(path, ROOT)}")
    if stale:
        print("stale stubs (run python tools/make_stubs.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
