"""Modifiers of batch normalization: folding into the neighbouring layer,
self-folding into a scale and shift, fusing with Add2 -> ReLU and back, and
switching to the running statistics (inference).

In inference form BN is y = c0 * x + c1 per channel, with
c0 = gamma / sqrt(var + eps) and c1 = beta - c0 * mean.
"""
import numpy as np

from ... import functions as F
from ...initializer import ConstantInitializer
from ...parameter import get_parameter_or_create, parameter_scope
from .graph_converter import FunctionModifier, call_function

_LAYERS = ("Affine", "Convolution", "Deconvolution")
_BATCH_NORMS = ("BatchNormalization", "FusedBatchNormalization", "SyncBatchNormalization")


def _is(f, *type_names):
    return f is not None and f.info.type_name in type_names


def _scale_shift(bn):
    """(c0, c1) of a BatchNormalization node, flattened over its channels."""
    beta, gamma, mean, var = (np.asarray(v.d, dtype=np.float64).reshape(-1)
                              for v in bn.inputs[1:5])
    c0 = gamma / np.sqrt(var + bn.info.args["eps"])
    return c0, beta - c0 * mean


def _out_axis(f, channel_last):
    """The weight axis of a layer's output channels."""
    if f.info.type_name == "Convolution":
        return 0
    if f.info.type_name == "Deconvolution":
        return -1 if channel_last else 1
    return 1  # Affine: (inputs, outputs)


def _in_axis(f, channel_last):
    """The weight axis of a layer's input channels."""
    if f.info.type_name == "Convolution":
        return -1 if channel_last else 1
    return 0  # Deconvolution (inputs, ...) and Affine (inputs, outputs)


def _bias_shape(f, w):
    if f.info.type_name == "Affine":
        return tuple(w.shape[1:])
    if f.info.type_name == "Convolution":
        return (w.shape[0],)
    per_group = w.shape[-1] if f.info.args.get("channel_last") else w.shape[1]
    return (per_group * f.info.args.get("group", 1),)


def _along(v, axis, ndim):
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def _new_params(modifier, w, b, w_data, b_data):
    with parameter_scope(modifier.get_parameter_scope(w)):
        w_new = get_parameter_or_create("w-folded", w.shape, w_data.astype(np.float32),
                                        w.need_grad)
        b_new = get_parameter_or_create("b-folded", b_data.shape, b_data.astype(np.float32),
                                        b is None or b.need_grad)
    return w_new, b_new


class AddBiasModifier(FunctionModifier):
    """Give a bias to an Affine, Convolution or Deconvolution next to a
    BatchNormalization when it has none (``b`` of zeros in the weight's scope),
    so that folding has a bias to fold into."""

    def modify(self, f, inputs):
        if not _is(f, *_LAYERS) or len(inputs) == 3:
            return None
        nexts = self.references(f.outputs[0])
        if not (_is(f.inputs[0].parent, "BatchNormalization")
                or any(_is(g, "BatchNormalization") for g in nexts)):
            return None
        x, w = inputs[:2]
        shape = _bias_shape(f, w)
        with parameter_scope(self.get_parameter_scope(w)):
            b = get_parameter_or_create("b", shape, ConstantInitializer(0), True, True)
        return call_function(f.info.type_name, [x, w, b], f.info.args)


class BatchNormalizationFoldingModifierInner(FunctionModifier):
    """Fold a BatchNormalization that follows a layer (Affine, Convolution,
    Deconvolution) into the layer's weight and bias (new parameters ``w-folded``
    and ``b-folded`` in the weight's scope), and drop the BN. The layer's output
    must feed only the BN."""

    def __init__(self, channel_last=False):
        super().__init__()
        self._channel_last = channel_last
        self._folded = set()

    def modify(self, f, inputs):
        if _is(f, "BatchNormalization") and id(f) in self._folded:
            return inputs[0]
        if not _is(f, *_LAYERS) or len(inputs) < 3 or f.info.args.get("group", 1) != 1 \
                and f.info.type_name == "Deconvolution":
            return None
        nexts = self.references(f.outputs[0])
        if len(nexts) != 1 or not _is(nexts[0], "BatchNormalization"):
            return None
        bn = nexts[0]
        c0, c1 = _scale_shift(bn)
        w, b = f.inputs[1], f.inputs[2]
        axis = _out_axis(f, self._channel_last)
        w_data = np.asarray(w.d, np.float64)
        shape = w_data.shape
        if f.info.type_name == "Affine":
            w_data = w_data.reshape(shape[0], -1)
        w_data = (w_data * _along(c0, axis, w_data.ndim)).reshape(shape)
        b_data = c1 + c0 * np.asarray(b.d, np.float64).reshape(-1)
        w_new, b_new = _new_params(self, w, b, w_data, b_data.reshape(b.shape))
        self._folded.add(id(bn))
        return call_function(f.info.type_name, [inputs[0], w_new, b_new], f.info.args)

    def __finish__(self):
        self._folded = set()


class BatchNormalizationFoldingOppositeModifierInner(FunctionModifier):
    """Fold a BatchNormalization that precedes a layer into the layer:
    layer(c0 * x + c1) = layer'(x) with w' = w * c0 over the input channels and
    b' = b + (w * c1 summed over the inputs). Exact where the layer pads nothing
    (padding reads zeros, not c1). The BN's output must feed only the layer."""

    def __init__(self, channel_last=False):
        super().__init__()
        self._channel_last = channel_last

    def _foldable(self, bn):
        nexts = self.references(bn.outputs[0])
        return len(nexts) == 1 and _is(nexts[0], *_LAYERS) and nexts[0].inputs[0] is bn.outputs[0]

    def modify(self, f, inputs):
        if _is(f, "BatchNormalization") and self._foldable(f):
            return inputs[0]
        bn = f.inputs[0].parent
        if not (_is(f, *_LAYERS) and _is(bn, "BatchNormalization") and len(inputs) == 3
                and self._foldable(bn)):
            return None
        c0, c1 = _scale_shift(bn)
        w, b = f.inputs[1], f.inputs[2]
        w_data = np.asarray(w.d, np.float64)
        if f.info.type_name == "Affine":
            channels = bn.inputs[0].shape[1]  # x (N, C, ...) flattened into w's rows
            w3 = w_data.reshape(channels, -1, int(np.prod(w.shape[1:])))
            new_w = (w3 * c0[:, None, None]).reshape(w.shape)
            shift = (w3 * c1[:, None, None]).sum(axis=(0, 1))
        else:
            axis = _in_axis(f, self._channel_last)
            new_w = w_data * _along(c0, axis, w_data.ndim)
            if f.info.type_name == "Deconvolution":
                out_axis = _out_axis(f, self._channel_last) % w_data.ndim
                scaled = w_data * _along(c1, axis, w_data.ndim)
                shift = np.moveaxis(scaled, out_axis, 0).reshape(scaled.shape[out_axis], -1).sum(1)
            else:
                scaled = w_data * _along(c1, axis, w_data.ndim)
                shift = scaled.reshape(scaled.shape[0], -1).sum(1)
        b_data = np.asarray(b.d, np.float64).reshape(-1) + shift
        w_new, b_new = _new_params(self, w, b, new_w, b_data.reshape(b.shape))
        return call_function(f.info.type_name, [inputs[0], w_new, b_new], f.info.args)


class BatchNormalizationFoldingModifier:
    """Batch-norm folding as two passes: AddBiasModifier, then the folding of
    each BN into the layer before it (or, with ``opposite=True``, after it).

    ``GraphConverter([BatchNormalizationFoldingModifier()])`` takes the list
    this returns."""

    def __new__(cls, opposite=False, channel_last=False):
        inner = (BatchNormalizationFoldingOppositeModifierInner if opposite
                 else BatchNormalizationFoldingModifierInner)
        return [AddBiasModifier(), inner(channel_last=channel_last)]


class BatchNormalizationSelfFoldingModifier(FunctionModifier):
    """Replace each BatchNormalization by ``c0 * x + c1`` with new parameters
    ``c0-<name>-<k>`` and ``c1-<name>-<k>`` in scope ``name``.

    Args:
        name (str): scope (and prefix) of the new parameters.
    """

    def __init__(self, name="bn-self-folding"):
        super().__init__()
        self._name = name
        self._cnt = 0

    def modify(self, f, inputs):
        if not _is(f, "BatchNormalization"):
            return None
        c0, c1 = _scale_shift(f)
        shape = f.inputs[1].shape
        with parameter_scope(self._name):
            k = self._cnt
            p0 = get_parameter_or_create(f"c0-{self._name}-{k}", shape,
                                         c0.reshape(shape).astype(np.float32))
            p1 = get_parameter_or_create(f"c1-{self._name}-{k}", shape,
                                         c1.reshape(shape).astype(np.float32))
        self._cnt += 1
        return p0 * inputs[0] + p1

    def __finish__(self):
        self._cnt = 0


class FusedBatchNormalizationModifier(FunctionModifier):
    """Fuse each block BatchNormalization -> Add2 -> ReLU into one
    FusedBatchNormalization (same parameters, the Add2's other input as z)."""

    _NONLINEAR = {"ReLU": "relu"}

    def __init__(self):
        super().__init__()
        self._blocks = {}  # id(ReLU node) -> (new BN inputs, BN args, id(Add2 node))
        self._z = {}

    def _block(self, bn):
        adds = self.references(bn.outputs[0])
        if len(adds) != 1 or not _is(adds[0], "Add2"):
            return None
        acts = self.references(adds[0].outputs[0])
        if len(acts) != 1 or acts[0].info.type_name not in self._NONLINEAR:
            return None
        return adds[0], acts[0]

    def modify(self, f, inputs):
        if _is(f, "BatchNormalization") and len(inputs) == 5:
            block = self._block(f)
            if block is not None:
                add, act = block
                self._blocks[id(act)] = (inputs, f.info.args, id(add), f.outputs[0])
                self._z[id(add)] = f.outputs[0]
                return inputs[0]
            return None
        if _is(f, "Add2") and id(f) in self._z:
            bn_out = self._z.pop(id(f))
            k = 1 if f.inputs[0] is bn_out else 0
            self._z[id(f)] = inputs[k]
            return inputs[1 - k]
        if id(f) in self._blocks:
            bn_inputs, args, add_id, _ = self._blocks.pop(id(f))
            z = self._z.pop(add_id)
            return F.fused_batch_normalization(
                inputs[0], *bn_inputs[1:5], z=z, axes=args["axes"],
                decay_rate=args["decay_rate"], eps=args["eps"], batch_stat=args["batch_stat"],
                nonlinearity=self._NONLINEAR[f.info.type_name])
        return None

    def __finish__(self):
        self._blocks, self._z = {}, {}


class UnfusedBatchNormalizationModifier(FunctionModifier):
    """Replace each FusedBatchNormalization by BatchNormalization -> Add2 -> ReLU
    (Add2 only when it has a z input), on the same parameters."""

    _NONLINEAR = {"relu": F.relu}

    def modify(self, f, inputs):
        if not _is(f, "FusedBatchNormalization"):
            return None
        args = f.info.args
        act = self._NONLINEAR.get(args["nonlinearity"])
        if act is None:
            raise ValueError(f"UnfusedBatchNormalizationModifier: nonlinearity "
                             f"{args['nonlinearity']!r} is not supported (only 'relu')")
        h = F.batch_normalization(*inputs[:5], axes=args["axes"], decay_rate=args["decay_rate"],
                                  eps=args["eps"], batch_stat=args["batch_stat"])
        return act(inputs[5] + h if len(inputs) == 6 else h)


class BatchNormBatchStatModifier(FunctionModifier):
    """Set ``batch_stat=False`` on every BatchNormalization,
    FusedBatchNormalization and SyncBatchNormalization (use the running
    statistics, as at inference)."""

    def modify(self, f, inputs):
        if not _is(f, *_BATCH_NORMS):
            return None
        args = dict(f.info.args, batch_stat=False)
        return call_function(f.info.type_name, inputs, args)


class TestModeModifier:
    """BatchNormBatchStatModifier followed by RemoveFunctionModifier(rm_funcs):
    the inference form of a training graph (returns the two modifiers)."""

    __test__ = False  # not a pytest class

    def __new__(cls, rm_funcs=[]):
        from .basic import RemoveFunctionModifier
        return [BatchNormBatchStatModifier(), RemoveFunctionModifier(rm_funcs=rm_funcs)]
