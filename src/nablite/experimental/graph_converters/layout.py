"""Modifiers between memory layouts: channel first (NCHW) and channel last (NHWC).

Convolution/Deconvolution weights, batch-norm parameters and Affine weights
after a 4-d input are rearranged into new parameters (``W_cl``/``W_cf``,
``beta_cl``, ..., ``w_cl``) in the original parameter's scope; pooling,
unpooling and concatenation switch their channel axis; other functions are
copied unchanged (elementwise ones are layout-free).
"""

from ... import functions as F
from ... import variable as _variable
from ...parameter import get_parameter_or_create, parameter_scope
from .graph_converter import FunctionModifier, call_function

_TO_LAST, _TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)


class _LayoutModifier(FunctionModifier):
    channel_last = True     # the layout converted to
    suffix = "_cl"

    def __init__(self, inputs, converted=None):
        super().__init__()
        order = _TO_LAST if self.channel_last else _TO_FIRST
        if converted is None:
            converted = []
            for x in inputs:
                if x.ndim != 4:
                    raise ValueError(f"{type(self).__name__}: inputs must be 4-d, got shape "
                                     f"{tuple(x.shape)}")
                v = _variable.Variable([x.shape[a] for a in order])
                v.d = x.d.transpose(order)
                converted.append(v)
        self._inputs, self._converted = list(inputs), list(converted)
        for x, v in zip(self._inputs, self._converted):
            self.replace_variable(x, v)

    def _param(self, v, name, order, need_grad=None):
        data = v.d.transpose(order)
        with parameter_scope(self.get_parameter_scope(v)):
            return get_parameter_or_create(name + self.suffix, data.shape, data.copy(),
                                           v.need_grad if need_grad is None else need_grad)

    def modify(self, f, inputs):
        name, args = f.info.type_name, dict(f.info.args)
        order = _TO_LAST if self.channel_last else _TO_FIRST
        last = self.channel_last
        if name in ("Convolution", "Deconvolution"):
            args["channel_last"] = last
            w = self._param(inputs[1], "W", order)
            return call_function(name, [inputs[0], w] + inputs[2:], args)
        if name == "BatchNormalization" and inputs[0].ndim == 4:
            args["axes"] = [inputs[0].ndim - 1 if last else 1]
            params = [self._param(p, n, order) for p, n in
                      zip(inputs[1:5], ("beta", "gamma", "mean", "var"))]
            return call_function(name, [inputs[0]] + params, args)
        if name in ("MaxPooling", "AveragePooling", "SumPooling", "Unpooling"):
            args["channel_last"] = last
            return call_function(name, inputs, args)
        if name == "Concatenate":
            args["axis"] = inputs[0].ndim - 1 if last else 1
            return call_function(name, inputs, args)
        if name == "Affine" and inputs[0].ndim == 4:
            # rows of w follow the flattened input: (c, h, w) first, (h, w, c) last
            x, w = inputs[:2]
            out = w.shape[1]
            if last:
                _, h, w_, c = x.shape
                wd = w.d.reshape(c, h, w_, out).transpose(1, 2, 0, 3)
            else:
                _, c, h, w_ = x.shape
                wd = w.d.reshape(h, w_, c, out).transpose(2, 0, 1, 3)
            wd = wd.reshape(w.shape)
            with parameter_scope(self.get_parameter_scope(w)):
                w_new = get_parameter_or_create("w" + self.suffix, w.shape, wd.copy(), False)
            return F.affine(x, w_new, inputs[2] if len(inputs) == 3 else None, **args)
        return None

    def __finish__(self):
        for x, v in zip(self._inputs, self._converted):
            self.replace_variable(x, v)


class ChannelLastModifier(_LayoutModifier):
    """Convert a channel-first (NCHW) graph to channel last (NHWC).

    Args:
        inputs (list of Variable): the graph's NCHW input Variables.
        inputs_cl (list of Variable): their NHWC versions; made (with the data
            transposed) when not given, then held as ``inputs_cl``.
    """

    def __init__(self, inputs, inputs_cl=None):
        super().__init__(inputs, inputs_cl)
        self.inputs_cl = self._converted


class ChannelFirstModifier(_LayoutModifier):
    """Convert a channel-last (NHWC) graph to channel first (NCHW).

    Args:
        inputs (list of Variable): the graph's NHWC input Variables.
        inputs_cf (list of Variable): their NCHW versions; made (with the data
            transposed) when not given, then held as ``inputs_cf``.
    """

    channel_last = False
    suffix = "_cf"

    def __init__(self, inputs, inputs_cf=None):
        super().__init__(inputs, inputs_cf)
        self.inputs_cf = self._converted
