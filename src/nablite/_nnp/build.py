"""NNabla's ``Network`` messages -> nablite graphs (what ``NnpLoader`` returns).

Each function message becomes a call of the ``nablite.functions`` function its
type names (function_info.py), with the arguments read from its argument
message; a type nablite does not know, a variable used before it is made, or a
declared shape over ``MAX_ELEMENTS`` fails with an error naming the file, the
function or variable and the problem, before any parameter changes.
"""
import inspect

from .. import functions as F
from ..function_info import SPECS, convert
from ..variable import Variable
from .proto import FileFormatError

# Largest number of elements one declared variable may have (1 GiB of float32).
MAX_ELEMENTS = 2 ** 28

# nablite's Python names where they differ from NNabla's argument names.
_RENAMED = {"axes": "axis", "keep_dims": "keepdims"}
# Arguments that only say which optional inputs are absent.
_INPUT_FLAGS = {"no_bias": "beta", "no_scale": "gamma"}
# Python-level arguments that make a wrapper build the bare node of its type.
_BARE_NODE = {"PatchCorrelation": {"channel_last": True}}


def read_arguments(fproto, spec):
    """{name: value} of a function message's arguments, as ``info.args`` holds them."""
    if spec.param_field is None or not spec.args:
        return {}
    msg = getattr(fproto, spec.param_field)
    args = {}
    for name, kind in spec.args:
        if kind == "comm":
            continue
        field = getattr(msg, name)
        value = list(field.dim) if kind == "shape" else field
        args[name] = convert(kind, list(value) if kind in ("ints", "floats") else value)
    return args


def _absent(spec, args, n_inputs):
    """Names of the optional inputs a function message leaves out."""
    absent = {inp for flag, inp in _INPUT_FLAGS.items() if args.get(flag)}
    if spec.type_name in ("RNN", "LSTM", "GRU") and args.get("num_layers", 1) == 1:
        absent.add("weight")
    return absent


def _place_inputs(spec, inputs, args, where):
    """{input name: Variable}: the required inputs in order, and as many of the
    optional ones (in order, less those the arguments say are absent) as the file
    gives; None for variadic functions."""
    if any(n.endswith("*") for n in spec.inputs):
        return None
    absent = _absent(spec, args, len(inputs))
    spare = len(inputs) - sum(not n.endswith("?") for n in spec.inputs)
    chosen = []
    for n in spec.inputs:
        if not n.endswith("?"):
            chosen.append(n)
        elif spare > 0 and n[:-1] not in absent:
            chosen.append(n[:-1])
            spare -= 1
    if spare < 0 or len(chosen) != len(inputs):
        raise FileFormatError(f"{where}: {spec.type_name} takes inputs {spec.inputs}, "
                              f"the file gives {len(inputs)}")
    return dict(zip(chosen, inputs))


def _fused_convolution():
    from ..functions.convolutions import FusedConvolution
    return FusedConvolution


# Node types built directly from the file's inputs: their optional inputs are
# told apart by count and shape (FusedConvolution's 3 inputs are (x, w, bias)
# when the third is 1-D, else (x, w, z)), as NNabla's node reads them.
_NODE_CLASSES = {"FusedConvolution": _fused_convolution}


def call(spec, inputs, args, where):
    """The outputs (a tuple) of nablite's function for ``spec`` on ``inputs``."""
    node = _NODE_CLASSES.get(spec.type_name)
    if node is not None:
        out = node()(**args)(*inputs)
        return out if isinstance(out, tuple) else (out,)
    fn = getattr(F, spec.function, None)
    if fn is None:
        raise FileFormatError(f"{where}: function type {spec.type_name!r} is not "
                              "available in nablite")
    params = inspect.signature(fn).parameters
    kwargs = dict(_BARE_NODE.get(spec.type_name, {}))
    for name, value in args.items():
        if name in _INPUT_FLAGS and name not in params:
            continue
        key = name if name in params else _RENAMED.get(name, name)
        if key in params:
            kwargs[key] = value
    placed = _place_inputs(spec, inputs, args, where)
    if placed is None:  # variadic inputs
        out = fn(*inputs, **kwargs)
    else:
        positional = list(params)
        for k, name in enumerate(n.rstrip("?") for n in spec.inputs):
            key = name if name in params else positional[k]
            if name in placed:
                kwargs[key] = placed[name]
            elif params[key].default is inspect.Parameter.empty:
                kwargs[key] = None  # absent, and nablite's wrapper has no default for it
        out = fn(**kwargs)
    return out if isinstance(out, tuple) else (out,)


def standalone_parameters(values):
    """A parameter source of fresh Variables holding a file's values
    (``values``: name -> (array, need_grad)); a network built on it changes no
    registered parameter."""
    def parameter(name, shape):
        arr, need_grad = values.get(name, (None, True))
        if arr is None:
            return Variable(shape, need_grad=True)
        if tuple(arr.shape) != tuple(shape):
            raise ValueError(f"parameter {name!r}: the file's values have shape "
                             f"{tuple(arr.shape)}, its network declares {tuple(shape)}")
        return Variable.from_numpy_array(arr, need_grad=need_grad)
    return parameter


def registered_parameters(values, initializers=None):
    """A parameter source of the registered parameters (current scope), created
    where missing: from ``initializers`` (name -> init, _nnp/initializers.py), or
    zeros; ``values`` gives their need_grad flags."""
    from ..parameter import get_parameter_or_create
    initializers = initializers or {}

    def parameter(name, shape):
        return get_parameter_or_create(name, shape, initializer=initializers.get(name),
                                       need_grad=values.get(name, (None, True))[1])
    return parameter


def _shape(vproto, batch_size, where):
    shape = [batch_size if d < 0 else int(d) for d in vproto.shape.dim]
    size = 1
    for d in shape:
        size *= d
    if any(d < 0 for d in shape) or size > MAX_ELEMENTS:
        raise FileFormatError(f"{where}: variable {vproto.name!r} declares shape {shape} "
                              f"({size} elements; the limit is {MAX_ELEMENTS})")
    return tuple(shape)


def _make_variable(vp, batch_size, where, parameter):
    if vp.type == "Parameter":
        try:
            return parameter(vp.name, _shape(vp, batch_size, where))
        except ValueError as e:
            raise FileFormatError(f"{where}: {e}") from None
    var = Variable(_shape(vp, batch_size, where))
    var.name = vp.name
    return var


def _creation_order(net):
    """The variable messages in the order NNabla makes them: the others as
    declared, then the parameters as the functions first read them (so
    parameters drawn from initializers get NNabla's numbers), unread ones last."""
    first_read = {}
    for fp in net.function:
        for name in fp.input:
            first_read.setdefault(name, len(first_read))
    last = len(first_read)
    return sorted(net.variable, key=lambda vp: (
        vp.type == "Parameter", first_read.get(vp.name, last) if vp.type == "Parameter" else 0))


def build_network(net, parameter, batch_size=None, where="network", network_pass=None):
    """(variables, inputs, outputs) dicts of ``net`` built with nablite's functions.

    ``parameter(name, shape)`` gives the Variable of a parameter; ``network_pass``
    (an ``NnpNetworkPass``) may replace variables, edit, drop or leave out functions
    and stop early, as NNabla's does."""
    batch_size = int(batch_size or net.batch_size or 1)
    declared = {v.name: v for v in net.variable}
    produced = {o for f in net.function for o in f.output}
    params = {v.name for v in net.variable if v.type == "Parameter"}
    variables, removed = {}, set()
    for vp in _creation_order(net):
        if vp.type != "Parameter" and vp.name in produced:
            continue
        if network_pass is not None:
            var = network_pass.variable(vp, lambda vp=vp: _make_variable(
                vp, batch_size, where, parameter))
        else:
            var = _make_variable(vp, batch_size, where, parameter)
        variables[vp.name] = var
    stop = set(network_pass.stop_after()) if network_pass is not None else set()
    edited = network_pass.edit_functions(net) if network_pass is not None else None
    consumed, used, made = set(), set(), set()
    for k, fp in enumerate(net.function):
        if stop and stop <= used:
            break
        fwhere = f"{where}: function {fp.name!r}"
        if edited is not None:
            f = edited[k]
            if f.disabled:  # dropped: its outputs become inputs of the network
                for name in fp.output:
                    variables[name] = _make_variable(declared[name], batch_size, where,
                                                     parameter)
                continue
            if f.rewire is not None:  # left out: output o is input i from now on
                i, o = f.rewire
                variables[fp.output[o]] = variables[fp.input[i]]
                removed.add(fp.output[o])
                continue
            fp = f.proto
        spec = SPECS.get(fp.type)
        if spec is None:
            raise FileFormatError(f"{fwhere} has type {fp.type!r}, which is not an NNabla "
                                  "function nablite knows")
        args = read_arguments(fp, spec)
        if fp.type == "Broadcast" and args.get("shape") and args["shape"][0] < 0:
            args["shape"] = (batch_size,) + tuple(args["shape"][1:])  # the batch (-1)
        missing = [n for n in fp.input if n not in variables]
        if missing:
            raise FileFormatError(f"{fwhere} reads {missing}, which no variable or earlier "
                                  "function provides")
        inputs = [variables[n] for n in fp.input]
        consumed.update(id(x) for x in inputs)
        used.update(fp.input)
        used.update(fp.output)
        try:
            outs = call(spec, inputs, args, fwhere)
        except FileFormatError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, NotImplementedError) as e:
            raise FileFormatError(f"{fwhere} ({fp.type}) cannot be built: {e}") from None
        if len(outs) < len(fp.output):
            raise FileFormatError(f"{fwhere} names {len(fp.output)} outputs, {fp.type} "
                                  f"gives {len(outs)}")
        for name, y in zip(fp.output, outs):  # computed shapes rule, as in NNabla
            y.name = name
            variables[name] = y
            made.add(name)
    keep = [k for k in [v.name for v in net.variable] + list(variables)
            if k in variables and k not in removed and (not stop or k in used)]
    ordered = {k: variables[k] for k in dict.fromkeys(keep)}
    inputs = {k: v for k, v in ordered.items() if k not in made and k not in params}
    if stop:
        outputs = {k: ordered[k] for k in network_pass.stop_after() if k in ordered}
    else:
        outputs = {k: v for k, v in ordered.items() if k in made and id(v) not in consumed}
    return ordered, inputs, outputs
