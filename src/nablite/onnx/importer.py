"""ONNX model -> nablite graph: ``import_model(path_or_model, batch_size=None, scope=None)``.

The nodes are visited in the file's (topological) order. A value is either a
NumPy array (an initializer, a ``Constant``, or anything computed from those
alone: shape arithmetic is folded here, since nablite's shapes are static) or
a nablite Variable. When a constant enters a nablite function it becomes a
parameter registered under ``scope`` with the initializer's name (as NNabla's
ONNX converter names them), transposed or reshaped into the layout nablite's
function wants (a ``Gemm`` weight with transB=1 is stored (in, out)).

Files from elsewhere are read within bounds (safe_load.py): every tensor's
declared size is checked against its data before anything is allocated, and
external data may not leave the model's folder.
"""
import contextlib

import numpy as np

from ..parameter import parameter_scope, set_parameter
from ..variable import Variable
from . import import_fold, import_layers  # noqa: F401  (they register their rules)
from ._deps import IMPORT_OPSETS, UPGRADE_TO, require_onnx
from .import_ops import FOLD, IMPORT_RULES, _var, supported_operators
from .safe_load import OnnxImportError, load_model, tensor_to_array


def import_rules():
    """The ONNX operator types import_model understands."""
    return supported_operators()


class OnnxNetwork:
    """An imported graph: ``inputs``, ``outputs`` and ``variables`` (every named
    value that is a Variable), dicts name -> Variable, as NnpLoader's networks.
    ``inputs, outputs = import_model(...)`` unpacks the first two."""

    def __init__(self, name, inputs, outputs, variables, parameters):
        self.name, self.inputs, self.outputs = name, inputs, outputs
        self.variables, self.parameters = variables, parameters

    def __iter__(self):
        return iter((self.inputs, self.outputs))

    def __repr__(self):
        return (f"OnnxNetwork({self.name!r}, inputs={list(self.inputs)}, "
                f"outputs={list(self.outputs)})")


class _Context:
    """What the op builders share: the file name for errors, parameter creation."""

    def __init__(self, where, scope):
        self.where, self.scope = where, scope
        self.parameters = {}
        self._param_of = {}  # (name, id of the array made into it) -> Variable

    def fail(self, node, message):
        raise OnnxImportError(f"{self.where}: node {node.name or node.output[0]!r} "
                              f"({node.op_type}): {message}")

    def param(self, array, name, need_grad=True):
        """The constant ``array`` as a registered parameter Variable named ``name``."""
        array = np.asarray(array)
        if array.dtype.kind in "biu":
            array = array.astype(np.float32)  # nablite computes in float
        key = "/".join(p for p in name.split("/") if p) or "constant"
        if any(k.startswith(key + "/") or key.startswith(k + "/") for k in self.parameters):
            key = key.replace("/", "_")  # a parameter cannot also be a scope
        while key in self.parameters and not (
                self.parameters[key].shape == array.shape
                and np.array_equal(self.parameters[key].d, array)):
            key += "_"
        if key not in self.parameters:
            self.parameters[key] = Variable.from_numpy_array(
                np.array(array, np.float32, order="C"), need_grad=need_grad)
        return self.parameters[key]

    def register(self):
        """Put the parameters in the scope tree (only once the whole graph is built,
        so that a failed import registers nothing)."""
        with parameter_scope(self.scope) if self.scope else contextlib.nullcontext():
            for key, v in self.parameters.items():
                set_parameter(key, v)


class _Const(np.ndarray):
    """A folded constant that remembers the ONNX name it came from."""


def _named_const(array, name):
    c = np.asarray(array).view(_Const)
    c.onnx_name = name
    return c


def _attrs(onnx, node, c):
    out = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = tensor_to_array(a.t, c.where, None)
        elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            c.fail(node, f"attribute {a.name!r} holds a subgraph; control flow is not supported")
        else:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, list):
                v = [s.decode() if isinstance(s, bytes) else s for s in v]
            out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _static_shape(c, vi, batch_size):
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif batch_size is not None:
            dims.append(int(batch_size))
        else:
            raise OnnxImportError(
                f"{c.where}: input {vi.name!r} has a symbolic dimension "
                f"{d.dim_param or '?'!r}; pass batch_size= to fix it (nablite's shapes are static)")
    return tuple(dims)


def import_model(model, batch_size=None, scope=None):
    """Build a nablite graph from an ONNX model.

    Args:
        model: a path to an ``.onnx`` file or an ``onnx.ModelProto``.
        batch_size (int): the size given to symbolic input dimensions
            (a PyTorch export with ``dynamic_axes``); required when there are some.
        scope (str): parameter scope to register the initializers under
            (None: the current scope).

    Returns:
        OnnxNetwork: ``.inputs``/``.outputs``/``.variables`` dicts of Variables
        (set ``inputs[name].d``, call ``outputs[name].forward()``) and
        ``.parameters``.

    Raises:
        OnnxImportError: an unreadable or hostile file, an unsupported opset or
        operator, naming the file and the problem.
    """
    onnx = require_onnx("nablite.onnx.import_model")
    model, where, base_dir = load_model(model)
    c = _Context(where, scope)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    version = opsets.get("ai.onnx")
    if version not in IMPORT_OPSETS:
        raise OnnxImportError(f"{where}: default-domain opset {version} is not supported; "
                              f"import reads opsets {IMPORT_OPSETS[0]}..{IMPORT_OPSETS[-1]}")
    if version < UPGRADE_TO:
        model = _upgraded(onnx, model, where, version)
    g = model.graph
    values = {}
    for t in g.initializer:
        values[t.name] = _named_const(tensor_to_array(t, where, base_dir), t.name)
    inputs = {}
    for vi in g.input:
        if vi.name in values:
            continue
        v = Variable(_static_shape(c, vi, batch_size))
        v.name = vi.name
        values[vi.name] = inputs[vi.name] = v
    for node in g.node:
        if node.domain not in ("", "ai.onnx"):
            c.fail(node, f"custom domain {node.domain!r} is not supported")
        ins = []
        for name in node.input:
            if name == "":
                ins.append(None)
            elif name not in values:
                c.fail(node, f"input {name!r} is not defined by any earlier node")
            else:
                ins.append(values[name])
        attrs = _attrs(onnx, node, c)
        outs = _build(c, node, ins, attrs)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for name, v in zip(node.output, outs):
            if name and v is not None:
                if isinstance(v, Variable):
                    if not v.name:
                        v.name = name
                else:
                    v = _named_const(v, name)
                values[name] = v
    outputs = {}
    for vi in g.output:
        v = values.get(vi.name)
        if v is None:
            raise OnnxImportError(f"{where}: graph output {vi.name!r} is not computed by any node")
        outputs[vi.name] = _var(c, v, vi.name, need_grad=False)
    variables = {k: v for k, v in values.items() if isinstance(v, Variable)}
    c.register()
    return OnnxNetwork(g.name, inputs, outputs, variables, dict(c.parameters))


def _upgraded(onnx, model, where, version):
    """An older file (NNabla's converter writes opset 11 by default) in the
    opset-13 forms the rules read, by ONNX's own version converter."""
    from onnx import version_converter
    try:
        return version_converter.convert_version(model, UPGRADE_TO)
    except Exception as e:  # the converter's C++ assertion, as RuntimeError or ValueError
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise OnnxImportError(f"{where}: opset {version} could not be upgraded to opset "
                              f"{UPGRADE_TO} by onnx.version_converter ({reason}); re-export "
                              f"the model at opset {UPGRADE_TO} or later") from None


def _build(c, node, ins, attrs):
    kind = node.op_type
    present = [v for v in ins if v is not None]
    if kind in FOLD and all(not isinstance(v, Variable) for v in present):
        try:
            return FOLD[kind](*ins, **attrs)
        except OnnxImportError as e:
            c.fail(node, str(e))
        except Exception as e:  # numpy's message (or MemoryError), with the node named
            c.fail(node, f"cannot compute on constant inputs: {e}")
    build = IMPORT_RULES.get(kind)
    if build is None:
        c.fail(node, f"operator {kind!r} is not supported (supported: nablite.onnx.import_rules())")
    try:
        return build(c, node, attrs, *ins)
    except OnnxImportError:
        raise
    except KeyError as e:
        c.fail(node, f"missing attribute {e}")
    except (ValueError, TypeError, IndexError, MemoryError) as e:
        c.fail(node, str(e))  # nablite's own message (shapes, sizes), with the node named


