"""nablite graphs -> NNabla's ``Network`` messages (what ``utils.save.save`` writes).

Variables are named as NNabla 1.39 names them: the ``names``/``outputs`` keys for
the given variables, the parameter keys for parameters, ``@<net>/<Type>_out`` for
function outputs and ``@<net>/<Type>_in`` for other inputs (``_1``, ``_2``, ... on
repeats); functions ``@<net>/<Type>``.
Arguments come from ``f.info`` (function_info.py), so they are NNabla's.
"""
from .. import graph
from ..function_info import SPECS, convert
from ..parameter import get_parameters
from ..variable import Variable
from .batch import variable_batch_size as variable_batch_size_of
from .proto import pb2


class _Names:
    """Unique names: the first use of a base keeps it, repeats get ``_1``, ``_2``..."""

    def __init__(self):
        self.count = {}

    def __call__(self, base):
        n = self.count.get(base, 0)
        self.count[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


class _Unused:
    """Stands for a function output that no Variable holds any more."""
    name = ""

    def __init__(self, shape):
        self.shape = tuple(shape)


def fill_arguments(fproto, spec, args):
    """Write ``args`` (NNabla's info.args) into the function's argument message."""
    if spec.param_field is None or not spec.args:  # NNabla leaves Round's etc. out
        return
    msg = getattr(fproto, spec.param_field)
    msg.SetInParent()  # written even when every argument is a default, as NNabla does
    for name, kind in spec.args:
        if name not in args or args[name] is None or kind == "comm":
            continue
        value = convert(kind, args[name])
        field = getattr(msg, name)
        if kind == "shape":
            field.dim.extend(value)
            field.SetInParent()
        elif kind in ("ints", "floats"):
            field.extend(value)
        else:
            setattr(msg, name, value)


def network_proto(name, batch_size, outputs, names=None, variable_batch_size=True,
                  parameters=None, prefix=None, stop=None, assigned=None):
    """A ``Network`` message of the graph that computes ``outputs`` ({name: Variable},
    or a list of Variables named as the rest), with ``names`` ({name: Variable})
    naming inputs and other variables; returns it and the parameter names it uses
    (in order). Unnamed functions and variables are named after the function
    type, behind ``prefix`` (NNabla's save: '@<network>/'; its graph_def: none, or
    the module path: ``prefix`` may be a function of the function). The graph is
    not followed above the variables in ``stop``; ``assigned`` (a dict), if given,
    receives id(variable) -> name for the variables written. ``variable_batch_size``
    marks the batch axis as NNabla writes it (batch.py)."""
    if prefix is None:  # NNabla's default network name 'model' gets no prefix
        prefix = "" if name == "model" else f"@{name}/"
    prefix_of = prefix if callable(prefix) else (lambda f: prefix)
    named_outputs = outputs if isinstance(outputs, dict) else {}
    outputs = list(outputs.values()) if isinstance(outputs, dict) else list(outputs)
    net = pb2().Network()
    net.name = name
    net.batch_size = int(batch_size)
    params = get_parameters(grad_only=False) if parameters is None else parameters
    # a graph holds parameters as unlinked Variables sharing the registered arrays
    param_of = {id(v.data): k for k, v in params.items()}
    given = {}
    for key, v in list((names or {}).items()) + list(named_outputs.items()):
        given.setdefault(id(v), key)
    order = graph.topological_order(outputs, stop)
    fnames, vnames = _Names(), _Names()
    for key in given.values():
        vnames(key)
    var_name, buffers, used_params, written = {}, [], [], set()

    def param_key(v):
        return param_of.get(id(v.data)) if isinstance(v, Variable) else None

    def name_of(v, fallback):
        if id(v) not in var_name:
            key = param_key(v)
            if id(v) in given:
                var_name[id(v)] = given[id(v)]
            elif key is not None:
                var_name[id(v)] = key
            else:
                var_name[id(v)] = vnames(v.name or fallback)
            if var_name[id(v)] not in written:  # a parameter used twice is written once
                written.add(var_name[id(v)])
                (used_params if key is not None else buffers).append(v)
        return var_name[id(v)]

    functions = []
    for f in order:
        spec = SPECS.get(f.name)
        if spec is None:
            shown = f.info.type_name if f.info.type_name == f.name else \
                f"{f.info.type_name} ({f.name})"
            raise ValueError(f"save: function {shown!r} of network {name!r} has no NNabla "
                             "function type, so it cannot be written to a network file")
        pre = prefix_of(f)
        fname = fnames(f"{pre}{f.name}")
        ins = [name_of(x, f"{pre}{f.name}_in") for x in f.inputs]
        ys = [y if y is not None else _Unused(shape)  # an output nobody kept
              for y, shape in zip(f.outputs, f.out_shapes)]
        outs = [name_of(y, f"{pre}{f.name}_out") for y in ys]
        functions.append((f, spec, fname, ins, outs, ys))
    for v in buffers + used_params:
        vp = net.variable.add()
        vp.name = var_name[id(v)]
        vp.type = "Parameter" if param_key(v) is not None else "Buffer"
        vp.shape.dim.extend(v.shape)
        vp.shape.SetInParent()
    for f, spec, fname, ins, outs, ys in functions:
        fp = net.function.add()
        fp.name, fp.type = fname, spec.type_name
        fp.input.extend(ins)
        fp.output.extend(outs)
        fill_arguments(fp, spec, f.info.args)
        if spec.type_name == "Reshape":  # NNabla writes the resolved shape (no -1)
            del fp.reshape_param.shape.dim[:]
            fp.reshape_param.shape.dim.extend(f.out_shapes[0])
    if variable_batch_size:
        variable_batch_size_of(net)
    if assigned is not None:
        assigned.update(var_name)
    return net, [param_key(v) for v in used_params]
