"""Convolution layers: convolution, fused_convolution, depthwise_convolution,
deconvolution and depthwise_deconvolution.

A group-1 convolution on the CPU runs in ``_conv_blocked``: a batch-last copy of
the input and cache-sized blocks of im2col columns, one BLAS product per block
(or in ``_winograd`` where Numba makes that faster). On another array module
(a GPU) every convolution takes the im2col path: one im2col over the whole batch
and one matrix product per group (cuBLAS), no cache blocking to gain. Grouped
and depthwise convolutions and deconvolutions are im2col + one BLAS product per
group over the whole batch (the im2col matrix of a forward pass is kept until
backward when the weight needs a gradient); the window views, im2col/col2im,
the shared shape checks and the scratch pool live in ``_conv_utils``.
FusedConvolution is one node that runs existing functions (Pad, Convolution,
BatchNormalization, Add2, an activation) on its arrays. (affine, batch_matmul and
embed are in layers.py.)
"""
import numbers

from ..backend import on_host
from .base import Function, keep_args, prod, require
from ._conv_utils import (ConvolutionFamily, spatial_tuple, int_arg, im2col, col2im,
                          take_scratch, give_scratch)
from ._conv_blocked import BlockedConvolution
from . import _winograd

__all__ = ["convolution", "fused_convolution", "depthwise_convolution", "deconvolution",
           "depthwise_deconvolution"]


class Convolution(ConvolutionFamily):
    """y = W * x + b: N-D cross-correlation with pad, stride, dilation and groups."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again
    forward_state = ("_col",)  # im2col columns kept for the weight gradient

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 channel_last=False):
        keep_args(self, locals())

    def setup(self, x, w, b=None):
        self._geometry(x, w, self.base_axis, self.group, self.channel_last,
                       "out_channels, in_channels/group")
        oc = w[0]
        cg = w[-1] if self.channel_last else w[1]
        self._check_channels(x, w, oc, cg)
        self._check_bias(b, oc)
        self._oc = oc
        self._out = self._conv_out(self._spatial)
        self._blocked = self._wino = None
        if self._set_empty():
            return self._shape_out(oc, self._out)
        if self._group == 1 and _winograd.applies(self._c, oc, self._n, self._out, self._kernel,
                                                  self.pad, self.stride, self.dilation):
            self._wino = _winograd.WinogradConvolution(self._n, self._c, self._spatial,
                                                           oc, self.pad[0], self._out)
        if self._group == 1:
            self._blocked = BlockedConvolution(self._n, self._c, self._spatial, oc, self._kernel,
                                               self.pad, self.stride, self.dilation, self._out)
        return self._shape_out(oc, self._out)

    def _check_channels(self, x, w, oc, cg):
        g = self._group
        require(self, self._c == cg * g,
                f"x {x} has {self._c} channels, but weight {w} expects {cg} per group "
                f"x group={g} = {cg * g}")
        require(self, oc % g == 0, f"weight {w} has {oc} output channels, not a multiple "
                f"of group={g}")

    _blocked = _wino = None

    def forward(self, xp, x, w, b=None):
        if self._empty:
            return self._empty_forward(xp, x, b)
        if self._wino is not None and _winograd.takes(xp, x.dtype):
            y = self._wino.forward(self._to_ncs(x, self._c, self._spatial),
                                       self._weight_4d(w), b)
            return self._from_ncs(y)
        if self._blocked is not None and on_host(xp):
            y = self._blocked.forward(xp, self._to_ncs(x, self._c, self._spatial),
                                      self._weight_stack(w)[0], b)
            return self._from_ncs(y)
        col = im2col(xp, self._to_ncs(x, self._c, self._spatial), self._kernel, self.pad,
                     self.stride, self.dilation, self._out)
        g = self._group
        w2 = self._weight_stack(w)
        col2 = col.reshape(g, -1, self._n * prod(self._out))
        y = w2[0] @ col2[0] if g == 1 else xp.matmul(w2, col2)
        # The weight gradient needs col again: keep it rather than redo im2col.
        if self._keep_for_backward(1):
            self._col = col
        else:
            give_scratch(xp, col)
        y = y.reshape((self._oc, self._n) + self._out)
        if b is not None:
            y += b.reshape((-1,) + (1,) * (y.ndim - 1))
        return self._from_cns(y)

    def backward(self, xp, xs, ys, gys):
        if self._empty:
            return self._empty_backward(xp, xs, gys[0])
        if self._wino is not None and _winograd.takes(xp, gys[0].dtype):
            return self._blocked_backward(xp, xs, gys[0], self._winograd_grads)
        if self._blocked is not None and on_host(xp):
            return self._blocked_backward(xp, xs, gys[0], self._blocked.backward)
        x, w = xs[0], xs[1]
        need = self.need
        g = self._group
        gy2 = self._to_cns_matrix(gys[0], self._oc, self._out)  # (g, OC/g, N*O)
        gx = gw = gb = None
        col, self._col = self._col, None
        if need[1]:
            if col is None:
                col = im2col(xp, self._to_ncs(x, self._c, self._spatial), self._kernel,
                             self.pad, self.stride, self.dilation, self._out)
            col2 = col.reshape(g, -1, gy2.shape[-1])
            gw = self._weight_grad(xp.matmul(gy2, col2.swapaxes(-1, -2)), w.shape)
            give_scratch(xp, col)
        if need[0]:
            gx = self._input_grad(xp, w, gy2, gys[0])
        if len(xs) == 3 and need[2]:
            gb = gy2.sum(axis=-1).reshape(-1)
        return (gx, gw) if len(xs) == 2 else (gx, gw, gb)

    def _weight_4d(self, w):
        """Weight as (OC, C, *K)."""
        return self._weight_stack(w)[0].reshape((self._oc, self._c) + self._kernel)

    def _winograd_grads(self, xp, x, w2, gy, need_x, need_w):
        gx, gw = self._wino.backward(x, w2.reshape((self._oc, self._c) + self._kernel), gy,
                                         need_x, need_w)
        return gx, (None if gw is None else gw.reshape(self._oc, -1))

    def _blocked_backward(self, xp, xs, gy, grads):
        """Gradients from ``grads(xp, x, w2, gy, need_x, need_w)`` -> (dx, dW2), the
        blocked or the Winograd path (both batch-last)."""
        x, w = xs[0], xs[1]
        need = self.need
        gy = self._to_ncs(gy, self._oc, self._out)
        gx, gw2 = grads(xp, self._to_ncs(x, self._c, self._spatial), self._weight_stack(w)[0],
                        gy, need[0], need[1])
        gx = None if gx is None else self._from_ncs(gx)
        gw = None if gw2 is None else self._weight_grad(gw2, w.shape)
        if len(xs) == 2:
            return gx, gw
        gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim))) if need[2] else None
        return gx, gw, gb

    def _input_grad(self, xp, w, gy2, gy):
        g = self._group
        w2 = self._weight_stack(w)  # (g, OC/g, C/g * K)
        full_pad = [dl * (k - 1) - p for k, p, dl in zip(self._kernel, self.pad, self.dilation)]
        if max(self.stride) == 1 and min(full_pad) >= 0 and prod(self._kernel) > 1:
            # Stride 1: dx is gy correlated with the flipped kernel ("full" padding
            # d(k-1) - p). An im2col of gy and one product give dx directly, with no
            # gradient matrix to scatter back: about half the memory traffic.
            d = len(self._kernel)
            wt = w2.reshape((g, self._oc // g, self._c // g) + self._kernel)
            wt = wt[(Ellipsis,) + (slice(None, None, -1),) * d].swapaxes(1, 2)
            wt = wt.reshape(g, self._c // g, -1)  # (g, C/g, OC/g * K)
            col = im2col(xp, self._to_ncs(gy, self._oc, self._out), self._kernel, full_pad,
                         self.stride, self.dilation, self._spatial)
            gx = xp.matmul(wt, col.reshape(g, wt.shape[2], -1))
            give_scratch(xp, col)
            return self._from_cns(gx.reshape((self._c, self._n) + self._spatial))
        gcol = take_scratch(xp, (g, w2.shape[2], gy2.shape[2]), gy2.dtype)
        xp.matmul(w2.swapaxes(-1, -2), gy2, out=gcol)
        gx = col2im(xp, gcol.reshape((self._c,) + self._kernel + (self._n,) + self._out),
                    self._spatial, self._kernel, self.pad, self.stride, self.dilation)
        give_scratch(xp, gcol)
        return self._from_cns(gx.swapaxes(0, 1))


def _depthwise_channels(fn, x):
    """The channel count of x at ``fn.base_axis``, which must leave a spatial axis."""
    ndim = len(x)
    fn.base_axis = int_arg(fn, "base_axis", fn.base_axis)
    require(fn, -ndim <= fn.base_axis < ndim - 1,
            f"base_axis={fn.base_axis} must leave a channel axis and at least one "
            f"spatial axis in x {x}")
    return x[fn.base_axis % ndim]


class DepthwiseConvolution(Convolution):
    """Convolution of each channel with its own ``multiplier`` filters (group = C)."""

    _depthwise = True

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, multiplier=1):
        self.base_axis = base_axis
        self.pad = pad
        self.stride = stride
        self.dilation = dilation
        self.multiplier = multiplier

    def setup(self, x, w, b=None):
        c = _depthwise_channels(self, x)
        self._geometry(x, w, self.base_axis, c, False, "channels*multiplier",
                       depthwise=True)
        m = self.multiplier = int_arg(self, "multiplier", self.multiplier)
        require(self, m >= 1, f"multiplier={m} must be >= 1")
        require(self, w[0] == c * m, f"weight {w} must have channels*multiplier = {c}*{m} = "
                f"{c * m} filters for x {x}")
        self._check_bias(b, c * m)
        self._oc = c * m
        self._out = self._conv_out(self._spatial)
        self._set_empty()
        return self._shape_out(c * m, self._out)


class Deconvolution(ConvolutionFamily):
    """Transposed convolution: the gradient of convolution with respect to its input."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 channel_last=False, output_padding=None):
        self.base_axis = base_axis
        self.pad = pad
        self.stride = stride
        self.dilation = dilation
        self.group = group
        self.channel_last = channel_last
        self.output_padding = output_padding

    def setup(self, x, w, b=None):
        self._geometry(x, w, self.base_axis, self.group, self.channel_last,
                       "in_channels, out_channels/group")
        ocg = w[-1] if self.channel_last else w[1]
        g = self._group
        require(self, w[0] == self._c, f"x {x} has {self._c} channels, but weight {w} "
                f"expects {w[0]}")
        require(self, self._c % g == 0, f"x {x} has {self._c} channels, not a multiple of "
                f"group={g}")
        self.output_padding = self._finish(ocg * g, b, self.output_padding)
        return self._shape_out(self._oc, self._out)

    def _finish(self, oc, b, output_padding):
        """Output channels and sizes; returns output_padding resolved to a list."""
        d = len(self._spatial)
        output_padding = list(spatial_tuple(self, "output_padding", output_padding, d, 0))
        for op, st, dl in zip(output_padding, self.stride, self.dilation):
            require(self, 0 <= op < max(st, dl),
                    f"output_padding={output_padding} must be >= 0 and smaller than "
                    f"stride={self.stride} or dilation={self.dilation}")
        self._check_bias(b, oc)
        self._oc = oc
        self._out = tuple((s - 1) * st - 2 * p + dl * (k - 1) + 1 + op for s, k, p, st, dl, op in
                          zip(self._spatial, self._kernel, self.pad, self.stride,
                              self.dilation, output_padding))
        require(self, min(self._out) > 0, f"output size {self._out} is not positive "
                f"(pad={self.pad} too large for input {self._spatial})")
        self._set_empty()
        return output_padding

    def forward(self, xp, x, w, b=None):
        if self._empty:
            return self._empty_forward(xp, x, b)
        x2 = self._to_cns_matrix(x, self._c, self._spatial)  # (g, C/g, N*I)
        w2 = self._weight_stack(w)                            # (g, C/g, OC/g*K)
        gcol = take_scratch(xp, (self._group, w2.shape[2], x2.shape[2]), x2.dtype)
        xp.matmul(w2.swapaxes(-1, -2), x2, out=gcol)
        y = col2im(xp, gcol.reshape((self._oc,) + self._kernel + (self._n,) + self._spatial),
                   self._out, self._kernel, self.pad, self.stride, self.dilation)
        give_scratch(xp, gcol)
        if b is not None:
            y += b.reshape((-1,) + (1,) * len(self._out))  # y is a view of a fresh buffer
        return self._from_cns(y.swapaxes(0, 1))

    def backward(self, xp, xs, ys, gys):
        if self._empty:
            return self._empty_backward(xp, xs, gys[0])
        x, w = xs[0], xs[1]
        need = self.need
        g = self._group
        col = im2col(xp, self._to_ncs(gys[0], self._oc, self._out), self._kernel, self.pad,
                     self.stride, self.dilation, self._spatial)
        col2 = col.reshape(g, -1, self._n * prod(self._spatial))  # (g, OC/g*K, N*I)
        gx = gw = gb = None
        if need[0]:
            gx2 = xp.matmul(self._weight_stack(w), col2)          # (g, C/g, N*I)
            gx = self._from_cns(gx2.reshape((self._c, self._n) + self._spatial))
        if need[1]:
            x2 = self._to_cns_matrix(x, self._c, self._spatial)
            gw = self._weight_grad(xp.matmul(x2, col2.swapaxes(-1, -2)), w.shape)
        give_scratch(xp, col)
        if len(xs) == 3 and need[2]:
            gy = self._to_ncs(gys[0], self._oc, self._out)
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
        return (gx, gw) if len(xs) == 2 else (gx, gw, gb)


class DepthwiseDeconvolution(Deconvolution):
    """Transposed depthwise convolution: every ``divisor`` channels sum into one."""

    _depthwise = True

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, divisor=1):
        self.base_axis = base_axis
        self.pad = pad
        self.stride = stride
        self.dilation = dilation
        self.divisor = divisor

    def setup(self, x, w, b=None):
        c = _depthwise_channels(self, x)
        dv = self.divisor
        require(self, isinstance(dv, int) and dv >= 1 and c % dv == 0,
                f"divisor={dv} must divide the {c} channels of x {x}")
        self._geometry(x, w, self.base_axis, c // dv, False, "channels", depthwise=True)
        require(self, w[0] == c, f"weight {w} must have {c} filters, one per channel of x {x}")
        self._finish(c // dv, b, None)
        return self._shape_out(self._oc, self._out)


class _Slot:
    """A stand-in input of an inner function: the shape (and need_grad) of an
    intermediate array that no Variable holds."""
    __slots__ = ("shape", "need_grad")
    _data = None  # no array (function.integers_arrived looks at every input's)

    def __init__(self, shape, need_grad=False):
        self.shape = tuple(shape)
        self.need_grad = need_grad


def _activations():
    from . import activation
    return {"identity": None, "relu": lambda a: activation.ReLU(inplace=False),
            "sigmoid": lambda a: activation.Sigmoid(), "tanh": lambda a: activation.Tanh(),
            "leaky_relu": lambda a: activation.LeakyReLU(alpha=float(a[0]), inplace=False),
            "elu": lambda a: activation.ELU(alpha=float(a[0])),
            "relu6": lambda a: activation.ReLU6()}


# Which of the activations' backward reads their output (ReLU, Sigmoid, Tanh).
_ACT_READS_Y = {"relu": True, "sigmoid": True, "tanh": True}


class FusedConvolution(Function):
    """NNabla's FusedConvolution: one node computing pad -> Convolution ->
    BatchNormalization -> + z -> activation with nablite's own Function objects
    (``_pad``, ``_conv``, ``_bn``, ``_add``, ``_act``; absent stages are None).

    The inputs are x, weight and the optional ones that are given, placed as
    NNabla places them: 3 inputs are (bias) when the third is 1-D, else (z);
    4 are (bias, z); 6 are (beta, gamma, mean, variance); 7 add z.
    """
    forward_state = ("_kept",)  # the inner arrays and inner functions' state for backward

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 channel_last=False, decay_rate=0.9, eps=1e-05, batch_stat=True,
                 nonlinearity='relu', nonlinearity_args=[], pad_mode='constant',
                 constant_value=0):
        keep_args(self, locals())

    _kept = None
    _pad = _conv = _bn = _add = _act = None

    @property
    def grad_reads_outputs(self):  # the activation's backward may read y (our output)
        return _ACT_READS_Y.get(self.nonlinearity, False)

    @property
    def recomputable(self):  # batch statistics update the running ones in forward
        return self._bn is None or self._bn.recomputable

    @property
    def writes_inputs(self):  # x, weight, beta, gamma, mean, variance[, z]
        return () if self.recomputable else (4, 5)

    # -- setup ---------------------------------------------------------------
    def _layout(self, shapes):
        """{input name: position} for the inputs given, as NNabla reads them."""
        n = len(shapes)
        require(self, n in (2, 3, 4, 6, 7),
                f"takes x, weight and optionally bias, (beta, gamma, mean, variance) and z: "
                f"2, 3, 4, 6 or 7 inputs, got {n}")
        names = ["x", "weight"]
        if n == 3:
            names.append("bias" if len(shapes[2]) == 1 else "z")
        elif n == 4:
            names += ["bias", "z"]
        elif n >= 6:
            require(self, len(shapes[2]) != 1,
                    f"input 2 has shape {shapes[2]}: a 1-D bias cannot come with the "
                    "batch-normalization inputs (beta, gamma, mean, variance)")
            names += ["beta", "gamma", "mean", "variance"] + (["z"] if n == 7 else [])
        return {name: i for i, name in enumerate(names)}

    def _check_arguments(self):
        acts = _activations()
        nl, nl_args = self.nonlinearity, self.nonlinearity_args
        require(self, isinstance(nl, str) and nl in acts,
                f"nonlinearity={nl!r} is not one of {sorted(acts)}")
        require(self, isinstance(nl_args, (list, tuple)) and all(
            isinstance(a, numbers.Real) and not isinstance(a, bool) for a in nl_args),
            f"nonlinearity_args={nl_args!r} must be a list of numbers", TypeError)
        if nl in ("leaky_relu", "elu"):
            require(self, len(nl_args) == 1,
                    f"nonlinearity={nl!r} needs nonlinearity_args=[alpha], got {nl_args!r}")
        self.nonlinearity_args = [float(a) for a in nl_args]
        cv = self.constant_value
        require(self, isinstance(cv, numbers.Real) and not isinstance(cv, bool),
                f"constant_value={cv!r} must be a number", TypeError)
        require(self, isinstance(self.pad_mode, str)
                and self.pad_mode in ("constant", "reflect", "repeat"),
                f"pad_mode={self.pad_mode!r} must be 'constant', 'reflect' or 'repeat'")
        for name in ("decay_rate", "eps"):
            v = getattr(self, name)
            require(self, isinstance(v, numbers.Real) and not isinstance(v, bool),
                    f"{name}={v!r} must be a number", TypeError)
        return acts[nl]

    def setup(self, *shapes):
        from .rearrange import Pad
        from .normalization import BatchNormalization
        from .arithmetic import Add2
        make_act = self._check_arguments()
        slots = self._slots = self._layout(shapes)
        x = shapes[0]
        ndim = len(x)
        self.base_axis = int_arg(self, "base_axis", self.base_axis)
        require(self, -ndim <= self.base_axis < ndim - 1,
                f"base_axis={self.base_axis} must leave a channel axis and at least one "
                f"spatial axis in x {x}")
        n_spatial = ndim - self.base_axis % ndim - 1
        pads = list(spatial_tuple(self, "pad", self.pad, n_spatial, 0))
        inputs = self.inputs
        self._pad = None
        if any(pads) and (self.pad_mode != "constant" or self.constant_value != 0):
            width = [p for p in pads for _ in (0, 1)] + ([0, 0] if self.channel_last else [])
            self._pad = Pad(width, mode=self.pad_mode, constant_value=self.constant_value)
            x = self._inner(self._pad, [inputs[0]], [x])
            conv_pad = [0] * n_spatial
        else:
            conv_pad = pads
        self._conv = Convolution(self.base_axis, conv_pad, self.stride, self.dilation,
                                 self.group, self.channel_last)
        conv_in = [_Slot(x, inputs[0].need_grad)] + [inputs[slots[n]] for n in ("weight", "bias")
                                                    if n in slots]
        y = self._inner(self._conv, conv_in, [v.shape for v in conv_in])
        # NNabla's names and types: pad, stride and dilation resolved to lists
        self.pad = pads if self._pad is not None else list(self._conv.pad)
        self.stride, self.dilation = list(self._conv.stride), list(self._conv.dilation)
        self.group, self.channel_last = self._conv.group, self._conv.channel_last
        self._bn = None
        if "beta" in slots:
            axis = ndim - 1 if self.channel_last else self.base_axis % ndim
            self._bn = BatchNormalization([axis], self.decay_rate, self.eps, self.batch_stat)
            bn_in = [_Slot(y)] + [inputs[slots[n]] for n in ("beta", "gamma", "mean", "variance")]
            y = self._inner(self._bn, bn_in, [v.shape for v in bn_in])
            self.batch_stat = self._bn.batch_stat
        self._add = None
        if "z" in slots:
            z = shapes[slots["z"]]
            require(self, z == y, f"z has shape {z}; it must be the convolution's output "
                                  f"shape {y}")
            self._add = Add2()
            y = self._inner(self._add, [_Slot(y), inputs[slots["z"]]], [y, z])
        self._act = None if make_act is None else make_act(self.nonlinearity_args)
        if self._act is not None:
            y = self._inner(self._act, [_Slot(y)], [y])
        self._kept = None
        return y

    def _inner(self, fn, inputs, shapes):
        """Set up an inner function (its errors named as ours); its output shape."""
        fn.inputs = inputs
        try:
            out = fn.setup(*shapes)
        except (ValueError, TypeError) as e:
            msg = str(e)
            if msg.startswith(fn.name + ": "):
                msg = msg[len(fn.name) + 2:]
            raise type(e)(f"{self.name}: {msg}") from e
        fn.out_shapes = [out]
        return out

    def _stages(self):
        return [f for f in (self._pad, self._conv, self._bn, self._add, self._act)
                if f is not None]

    # -- forward / backward ----------------------------------------------------
    def forward(self, xp, *xs):
        slots = self._slots
        keep = any(v.need_grad for v in self.inputs)  # no backward to come: keep nothing
        kept = {}
        h = xs[0]
        if self._pad is not None:
            h = self._pad.forward(xp, h)
        if keep:
            kept["conv_x"] = h
        h = self._conv.forward(xp, h, *[xs[slots[n]] for n in ("weight", "bias") if n in slots])
        if self._bn is not None:
            if keep:
                kept["bn_x"] = h
            h = self._bn.forward(xp, h, *[xs[slots[n]] for n in
                                          ("beta", "gamma", "mean", "variance")])
        if self._add is not None:
            h = self._add.forward(xp, h, xs[slots["z"]])
        if self._act is not None:
            if keep and self._act.grad_reads_inputs:
                kept["act_x"] = h
            h = self._act.forward(xp, h)
        if keep:
            # the inner functions' own forward state moves here, so that the
            # engine's clearing of ours (forward_state) frees it too
            for f in self._stages():
                for name in f.forward_state:
                    kept[(id(f), name)] = getattr(f, name, None)
                    setattr(f, name, None)
            self._kept = kept
        else:
            for f in self._stages():
                for name in f.forward_state:
                    setattr(f, name, None)
        return h

    def backward(self, xp, xs, ys, gys):
        slots, need = self._slots, self.need
        kept = self._kept or {}
        for f in self._stages():
            for name in f.forward_state:
                setattr(f, name, kept.get((id(f), name)))

        def zeros(shape, dtype):  # an input value a backward does not read
            return xp.broadcast_to(xp.zeros((), dtype), shape)

        grads = [None] * len(xs)
        g = gys[0]
        dtype = g.dtype
        if self._act is not None:
            act_x = kept.get("act_x")
            self._act.need = (True,)
            g = self._act.backward(xp, [act_x if act_x is not None
                                        else zeros(self._act.inputs[0].shape, dtype)],
                                   [ys[0]], [g])[0]
        if self._add is not None:
            iz = slots["z"]
            self._add.need = (True, need[iz])
            g, grads[iz] = self._add.backward(
                xp, [zeros(self._add.inputs[0].shape, dtype), xs[iz]], [None], [g])
        conv_names = [n for n in ("x", "weight", "bias") if n in slots]
        conv_need = [need[slots[n]] for n in conv_names]
        if self._bn is not None:
            bn_names = ("beta", "gamma", "mean", "variance")
            self._bn.need = (any(conv_need),) + tuple(need[slots[n]] for n in bn_names)
            bn_grads = self._bn.backward(xp, [kept.get("bn_x")] + [xs[slots[n]] for n in bn_names],
                                         [None], [g])
            g = bn_grads[0]
            for n, gp in zip(bn_names[:2], bn_grads[1:3]):
                grads[slots[n]] = gp
        if any(conv_need):
            self._conv.need = tuple(conv_need)
            conv_x = kept.get("conv_x")
            cg = self._conv.backward(xp, [conv_x] + [xs[slots[n]] for n in conv_names[1:]],
                                     [None], [g])
            for n, gc in zip(conv_names, cg):
                grads[slots[n]] = gc
            if self._pad is not None and need[0] and cg[0] is not None:
                self._pad.need = (True,)
                grads[0] = self._pad.backward(xp, [xs[0]], [None], [cg[0]])[0]
        for f in self._stages():  # state is used once
            for name in f.forward_state:
                setattr(f, name, None)
        return tuple(grads)

    # -- nn.grad: the same computation from F functions (differentiable again) --
    def composite(self, *xs):
        from ..grad import detached_copy
        slots = self._slots
        h = xs[0]
        if self._pad is not None:
            h = detached_copy(self._pad)(h)
        h = detached_copy(self._conv)(h, *[xs[slots[n]] for n in ("weight", "bias")
                                           if n in slots])
        if self._bn is not None:  # BatchNormalization's own composite: no running update
            h = self._bn.composite(h, *[xs[slots[n]] for n in
                                        ("beta", "gamma", "mean", "variance")])
        if self._add is not None:
            h = detached_copy(self._add)(h, xs[slots["z"]])
        if self._act is not None:
            h = detached_copy(self._act)(h)
        return h


def convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                group=1, channel_last=False, n_outputs=-1, outputs=None):
    """N-D convolution (cross-correlation) with optional bias.

    .. math:: y_{n, o, \\mathbf{j}} = \\sum_{c, \\mathbf{k}}
              w_{o, c, \\mathbf{k}} \\, x_{n, g(o) C_g + c, \\mathbf{j} s + \\mathbf{k} d - p} + b_o

    Computed as im2col over a strided window view plus one BLAS product per group.

    Args:
        x (Variable): (B..., C, *S), or (B..., *S, C) with channel_last.
        weight (Variable): (OC, C / group, *K), or (OC, *K, C / group) with channel_last.
        bias (Variable, optional): (OC,).
        base_axis (int): first non-batch axis (the channel axis unless channel_last).
        pad (tuple of int): zero padding per spatial axis (default 0).
        stride (tuple of int): step per spatial axis (default 1).
        dilation (tuple of int): kernel dilation per spatial axis (default 1).
        group (int): number of channel groups.
        channel_last (bool): channels are the last axis.

    Returns:
        Variable: (B..., OC, *O), O = (S + 2 pad - dilation (K - 1) - 1) // stride + 1.
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Convolution(base_axis, pad, stride, dilation, group, channel_last)(
        *inputs, n_outputs=n_outputs, outputs=outputs)


def fused_convolution(x, weight, bias=None, beta=None, gamma=None, mean=None, variance=None,
                      z=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                      channel_last=False, decay_rate=0.9, eps=1e-05, batch_stat=True,
                      nonlinearity='relu', nonlinearity_args=[], pad_mode='constant',
                      constant_value=0, n_outputs=-1, outputs=None):
    """Convolution, then batch normalization, a residual add and an activation.

    .. math:: y = \\phi(\\mathrm{BN}(\\mathrm{pad}(x) * W [+ b]) + z)

    One ``FusedConvolution`` node, as in NNabla: its inputs are x, weight and those
    of bias, (beta, gamma, mean, variance), z that are given, in that order; it
    computes with nablite's Pad (pad_mode 'reflect'/'repeat' or a non-zero
    constant), Convolution, BatchNormalization, Add2 and activation functions.

    Args:
        x, weight, bias: as :func:`convolution`; bias excludes the batch-norm inputs.
        beta, gamma, mean, variance (Variable, optional): batch-norm parameters and
            running statistics (channel axis kept, other axes of size 1), all four
            or none; with batch_stat=True, forward updates mean and variance.
        z (Variable, optional): residual added before the activation.
        base_axis, pad, stride, dilation, group, channel_last: as :func:`convolution`.
        decay_rate, eps, batch_stat: as ``F.batch_normalization``.
        nonlinearity (str): 'identity', 'relu', 'sigmoid', 'tanh', 'leaky_relu',
            'elu' or 'relu6'.
        nonlinearity_args (list of float): [alpha] for leaky_relu and elu (required).
        pad_mode (str): 'constant', 'reflect' or 'repeat'.
        constant_value (float): fill value of 'constant' padding.

    Returns:
        Variable: same shape as :func:`convolution`'s output.
    """
    bn = [v for v in (beta, gamma, mean, variance) if v is not None]
    require("FusedConvolution", not (bias is not None and bn),
            "bias and the batch-normalization inputs (beta, gamma, mean, variance) are "
            "mutually exclusive")
    require("FusedConvolution", len(bn) in (0, 4),
            "beta, gamma, mean and variance must be given together (all four or none), "
            f"got {len(bn)} of them")
    inputs = [v for v in (x, weight, bias, *bn, z) if v is not None]
    return FusedConvolution(base_axis, pad, stride, dilation, group, channel_last, decay_rate,
                            eps, batch_stat, nonlinearity, nonlinearity_args, pad_mode,
                            constant_value)(*inputs, n_outputs=n_outputs, outputs=outputs)


def depthwise_convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None,
                          dilation=None, multiplier=1, n_outputs=-1, outputs=None):
    """Depthwise convolution: each channel convolved with its own ``multiplier`` filters.

    Output channel ``c * multiplier + m`` reads only input channel ``c``.

    Args:
        x (Variable): (B..., C, *S).
        weight (Variable): (C * multiplier, *K).
        bias (Variable, optional): (C * multiplier,).
        base_axis (int): the channel axis.
        pad, stride, dilation (tuple of int): as in :func:`convolution`.
        multiplier (int): filters per input channel.

    Returns:
        Variable: (B..., C * multiplier, *O).
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return DepthwiseConvolution(base_axis, pad, stride, dilation, multiplier)(
        *inputs, n_outputs=n_outputs, outputs=outputs)


def deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                  group=1, channel_last=False, output_padding=None, n_outputs=-1,
                  outputs=None):
    """N-D transposed convolution (the adjoint of :func:`convolution` in x).

    Args:
        x (Variable): (B..., C, *S), or (B..., *S, C) with channel_last.
        weight (Variable): (C, OC / group, *K), or (C, *K, OC / group) with channel_last.
        bias (Variable, optional): (OC,).
        base_axis (int): the channel axis unless channel_last.
        pad, stride, dilation (tuple of int): those of the convolution being transposed.
        group (int): number of channel groups.
        channel_last (bool): channels are the last axis.
        output_padding (tuple of int): extra size added at the end of each spatial axis,
            smaller than stride (or dilation).

    Returns:
        Variable: (B..., OC, *O), O = (S - 1) stride - 2 pad + dilation (K - 1) + 1
        + output_padding.
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Deconvolution(base_axis, pad, stride, dilation, group, channel_last,
                         output_padding)(*inputs, n_outputs=n_outputs, outputs=outputs)


def depthwise_deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None,
                            dilation=None, divisor=1, n_outputs=-1, outputs=None):
    """Depthwise transposed convolution: channels ``j*divisor .. j*divisor + divisor - 1``,
    each through its own filter, sum into output channel ``j``.

    Args:
        x (Variable): (B..., C, *S).
        weight (Variable): (C, *K).
        bias (Variable, optional): (C / divisor,).
        base_axis (int): the channel axis.
        pad, stride, dilation (tuple of int): as in :func:`deconvolution`.
        divisor (int): input channels per output channel.

    Returns:
        Variable: (B..., C / divisor, *O).
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return DepthwiseDeconvolution(base_axis, pad, stride, dilation, divisor)(
        *inputs, n_outputs=n_outputs, outputs=outputs)
