"""nablite graph -> ONNX model: ``export(outputs, path, inputs=None, opset=17)``.

The functions up to ``outputs`` are visited in graph.topological_order and
each is written by its rule in ops.EXPORT_RULES. Leaf variables become graph
inputs (the ones named in ``inputs``, or every leaf that is not a registered
parameter when ``inputs`` is None) or initializers (parameters, and any other
leaf with its current values).
"""
import numpy as np

from .. import graph
from .._atomic_file import atomic_write
from ..parameter import get_parameters
from ..variable import Variable
from ._deps import DEFAULT_OPSET, OPSETS, require_onnx
from . import ops_layers, ops_losses, ops_tensors  # noqa: F401  (they register their rules)
from .lower import lower
from .ops import EXPORT_RULES, ExportError


def export_rules():
    """{NNabla type name: ops.Rule(onnx_ops, since, convert)}: what export supports."""
    return dict(EXPORT_RULES)


def supported_table():
    """The Markdown table of supported functions (the README shows this text)."""
    lo, hi = OPSETS[0], OPSETS[-1]
    lines = ["| nablite function (NNabla type) | ONNX operators | opsets |", "|---|---|---|"]
    for name in sorted(EXPORT_RULES):
        r = EXPORT_RULES[name]
        lines.append(f"| {name} | {r.onnx_ops} | {max(lo, r.since)}–{hi} |")
    return "\n".join(lines) + "\n"


def _named(variables, prefix, what):
    """A Variable, list or dict as [(name, Variable)]."""
    if variables is None:
        return []
    if isinstance(variables, Variable):
        variables = [variables]
    items = (list(variables.items()) if isinstance(variables, dict)
             else [(v.name or (prefix if len(variables) == 1 else f"{prefix}{i}"), v)
                   for i, v in enumerate(variables)])
    for name, v in items:
        if not isinstance(v, Variable):
            raise TypeError(f"nablite.onnx.export: {what} must be Variables (a Variable, list or "
                            f"dict name -> Variable); {name!r} is {type(v).__name__}")
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"nablite.onnx.export: {what} names {names} repeat; pass a dict")
    return items


class Emitter:
    """Collects the nodes and initializers of one ONNX graph."""

    def __init__(self, onnx, opset, unroll_rnn=False):
        self.onnx, self.opset, self.unroll_rnn = onnx, opset, unroll_rnn
        self.INT64 = onnx.TensorProto.INT64
        self.nodes = []
        self.names = {}        # id(Variable) -> ONNX name
        self._keep = []        # the Variables named above, so that their ids stay theirs
        self._used = set()
        self._consts = {}      # (dtype, shape, bytes) of a small constant -> its name
        self._const_names = set()
        self._arrays = {}      # initializer name -> its array
        self._derived = {}     # parameter stored in another layout -> the parameter

    def fresh(self, hint):
        name, i = hint, 0
        while name in self._used:
            i += 1
            name = f"{hint}_{i}"
        self._used.add(name)
        return name

    def bind(self, v, name):
        self.names[id(v)] = name
        self._keep.append(v)

    def node(self, op, inputs, n_out=1, **attrs):
        outs = [self.fresh(f"{op}_out") for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs,
                                                     name=self.fresh(op), **attrs))
        return outs[0] if n_out == 1 else outs

    def initializer(self, array, name):
        array = np.asarray(array)
        if array.dtype.kind == "f":  # the graph computes in float32, as nablite's default
            array = array.astype(np.float32)
        self._arrays[name] = array
        return name

    def const(self, array):
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 64 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.initializer(array, self.fresh("const"))
        self._const_names.add(name)
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values):
        return self.const(np.array(values, np.int64))

    def scalar(self, value):
        return self.const(np.array(value, np.float32))

    def _derived_parameter(self, x, array_of, suffix):
        """A parameter initializer ``x`` stored again in another layout (so that ONNX
        reads no Reshape/Transpose of a weight), or None when x is not one."""
        if x not in self._arrays or x in self._const_names:
            return None
        name = self.initializer(array_of(self._arrays[x]), self.fresh(x + suffix))
        self._derived[name] = self._derived.get(x, x)
        return name

    def reshape(self, x, shape):
        shape = tuple(int(s) for s in shape)
        return (self._derived_parameter(x, lambda a: a.reshape(shape), "_reshaped")
                or self.node("Reshape", [x, self.ints(shape)]))

    def transpose(self, x, perm):
        perm = [int(p) for p in perm]
        return (self._derived_parameter(x, lambda a: a.transpose(perm), "_transposed")
                or self.node("Transpose", [x], perm=perm))

    def rename(self, old, new):
        for n in self.nodes:
            n.input[:] = [new if i == old else i for i in n.input]
            n.output[:] = [new if o == old else o for o in n.output]

    def finish(self, outputs):
        """The initializers the nodes use; a parameter stored in another layout
        whose original is no longer used takes the original's name."""
        onnx = self.onnx
        used = {i for n in self.nodes for i in n.input} | set(outputs)
        rename = {}
        for name, source in self._derived.items():
            siblings = [d for d, s in self._derived.items() if s == source and d in used]
            if name in used and source not in used and siblings == [name]:
                rename[name] = source
        for n in self.nodes:
            n.input[:] = [rename.get(i, i) for i in n.input]
        return [onnx.numpy_helper.from_array(np.array(a, order="C"), rename.get(k, k))
                for k, a in self._arrays.items() if k in used]

    def to_float(self, x):
        return self.node("Cast", [x], to=self.onnx.TensorProto.FLOAT)

    def to_bool(self, x):
        return self.node("Cast", [x], to=self.onnx.TensorProto.BOOL)


def _value_info(onnx, name, v):
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(np.float32))
    return onnx.helper.make_tensor_value_info(name, elem, list(v.shape))


def build_model(outputs, inputs=None, opset=DEFAULT_OPSET, unroll_rnn=False,
                graph_name="nablite"):
    """The ONNX ModelProto of the graph up to ``outputs`` (see export)."""
    onnx = require_onnx("nablite.onnx.export")
    if opset is not None and opset not in OPSETS:
        raise ValueError(f"nablite.onnx.export: opset={opset!r} is not supported; use one of "
                         f"{OPSETS[0]}..{OPSETS[-1]}")
    outs = _named(outputs, "y", "outputs")
    if not outs:
        raise ValueError("nablite.onnx.export: outputs is empty; give the Variables to compute")
    ins = _named(inputs, "x", "inputs")
    order = graph.topological_order([v for _, v in outs])
    if opset is None:  # NNabla's default, or the first opset every function exports at
        opset = max([OPSETS[0]] + [EXPORT_RULES[f.info.type_name].since for f in order
                                   if f.info.type_name in EXPORT_RULES])
    e = Emitter(onnx, opset, unroll_rnn)
    # PF hands out unlinked Variables that share the registered parameter's array
    params = {id(v._data): (k, v.shape) for k, v in get_parameters(grad_only=False).items()}

    input_infos = []
    for name, v in ins:
        e.bind(v, e.fresh(name))
        input_infos.append(_value_info(onnx, e.names[id(v)], v))
    leaves = [x for f in order for x in f.inputs if x._parent is None]
    leaves += [v for _, v in outs if v._parent is None]
    for v in leaves:
        if id(v) in e.names:
            continue
        key, shape = params.get(id(v._data), (None, None))
        if key is not None and shape == v.shape:
            if key not in e._arrays:  # one initializer however many times it is used
                e.initializer(v.d, key)
                e._used.add(key)
            e.bind(v, key)
        elif inputs is None:
            e.bind(v, e.fresh(v.name or f"x{len(input_infos)}"))
            input_infos.append(_value_info(onnx, e.names[id(v)], v))
        else:
            e.bind(v, e.initializer(v.d, e.fresh(v.name or "constant")))

    for f in order:
        type_name = f.info.type_name
        r = EXPORT_RULES.get(type_name)
        if r is None:
            raise ExportError(f"nablite.onnx.export: {type_name} has no ONNX equivalent in "
                              f"opset {opset} (supported: nablite.onnx.supported_table())")
        if opset < r.since:
            raise ExportError(f"nablite.onnx.export: {type_name} needs opset >= {r.since}, "
                              f"got opset={opset}")
        names = [e.names[id(x)] for x in f.inputs]
        result = r.convert(e, f, *names)
        result = result if isinstance(result, list) else [result]
        for y, name in zip(f.outputs, result):
            if y is not None:
                e.bind(y, name)

    output_infos = []
    produced = {o: n for n in e.nodes for o in n.output}
    for name, v in outs:
        have = e.names[id(v)]
        if have != name:
            name = e.fresh(name) if name in e._used else name
            e._used.add(name)
            if have in produced and have not in {i.name for i in output_infos}:
                e.rename(have, name)  # the node writes the output's name itself
                e.names[id(v)] = name
            else:
                e.nodes.append(onnx.helper.make_node("Identity", [have], [name],
                                                     name=e.fresh("Identity")))
        output_infos.append(_value_info(onnx, name, v))
    lower(e, opset)
    initializers = e.finish([i.name for i in output_infos])
    g = onnx.helper.make_graph(e.nodes, graph_name, input_infos, output_infos, initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(g, opset_imports=opsets, producer_name="nablite",
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    return model


def export(outputs, path, inputs=None, opset=DEFAULT_OPSET, unroll_rnn=False):
    """Write the graph that computes ``outputs`` as an ONNX file.

    Args:
        outputs: a Variable, a list of Variables or a dict name -> Variable; the
            graph's outputs (named by the dict, else ``Variable.name``, else
            ``y``/``y0, y1, ...``).
        path (str): the ``.onnx`` file, written atomically.
        inputs: the graph's inputs in the same forms; None makes every leaf
            that is not a registered parameter an input (``x0, x1, ...``).
            Leaves that are neither inputs nor parameters are written as
            constants with their current values.
        opset (int): the ONNX opset, 11 to 17; None: the lowest from 11
            (NNabla's default) at which every function of the graph exports.
        unroll_rnn (bool): write F.rnn (the Elman RNN) unrolled over time as
            Gemm and activation nodes instead of ONNX RNN nodes (for runtimes
            without RNN).

    Returns:
        onnx.ModelProto: the model written (passed onnx.checker).

    Batch normalization is exported in its inference form (batch_stat=False)
    and dropout as the identity; a function without an ONNX equivalent raises
    ``ExportError`` naming it and the opset.
    """
    model = build_model(outputs, inputs, opset, unroll_rnn)
    onnx = require_onnx("nablite.onnx.export")
    atomic_write(path, lambda tmp: onnx.save_model(model, tmp))
    return model
