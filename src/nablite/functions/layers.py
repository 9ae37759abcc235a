"""Neural network layers: affine, batch_matmul, convolutions, embed.

A group-1 convolution runs in ``_conv_blocked``: a batch-last copy of the input
and cache-sized blocks of im2col columns, one BLAS product per block. Grouped
and depthwise convolutions and deconvolutions are im2col + one BLAS product per
group over the whole batch (the im2col matrix of a forward pass is kept until
backward when the weight needs a gradient); the window views, im2col/col2im,
the shared shape checks and the scratch pool live in ``_conv_utils``.
fused_convolution is a composition of existing functions.
"""
from ..backend import scatter_add
from .base import Function, require, sum_to, prod, sum_cols
from ._conv_utils import (ConvolutionFamily, spatial_tuple, im2col, col2im, take_scratch,
                          give_scratch)
from ._conv_blocked import BlockedConvolution

__all__ = ["affine", "batch_matmul", "convolution", "fused_convolution", "depthwise_convolution",
           "deconvolution", "depthwise_deconvolution", "embed"]


def _base_axis(fn, base_axis, ndim):
    require(fn, -ndim <= base_axis < max(ndim, 1),
            f"base_axis={base_axis} is out of range for an input of {ndim} dimensions")
    return base_axis % ndim


def _rows_of(x, n):
    """x as a matrix of rows of n features (itself when it already is one)."""
    return x if x.ndim == 2 and x.shape[1] == n else x.reshape(-1, n)


class Affine(Function):
    """y = x @ W + b, with x flattened to a matrix at base_axis."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again

    grad_reads_outputs = False

    def __init__(self, base_axis=1):
        self.base_axis = base_axis

    def setup(self, x, w, b=None):
        axis = self._axis = _base_axis(self, self.base_axis, len(x))
        require(self, len(w) >= 2, f"weight must have at least 2 dimensions "
                f"(n_inputs, n_outputs...), got shape {w}")
        n_in = prod(x[axis:])
        require(self, n_in == w[0],
                f"x {x} gives {n_in} features at base_axis={self.base_axis}, "
                f"but weight {w} expects {w[0]}")
        if b is not None:
            require(self, tuple(b) == tuple(w[1:]),
                    f"bias {b} must have shape {tuple(w[1:])} (weight {w} without its first axis)")
        return tuple(x[:axis]) + tuple(w[1:])

    # xp.dot on 2-D views: BLAS gemm with less per-call overhead than matmul.
    # Reshapes are skipped where the arrays already have the matrix shapes:
    # W1-W4 spend a measurable part of a step in them.
    def forward(self, xp, x, w, b=None):
        n_in = w.shape[0]
        y = xp.dot(_rows_of(x, n_in), w if w.ndim == 2 else w.reshape(n_in, -1))
        if b is not None:
            y += b if b.ndim == 1 else b.reshape(-1)  # y is a fresh product: in place is safe
        out_shape = self.out_shapes[0]
        return y if y.shape == out_shape else y.reshape(out_shape)

    def backward(self, xp, xs, ys, gys):
        x, w = xs[0], xs[1]
        n_in = w.shape[0]
        gy = gys[0]
        w2 = w
        if w.ndim != 2:
            gy, w2 = gy.reshape(-1, w.size // n_in), w.reshape(n_in, -1)
        elif gy.ndim != 2:
            gy = gy.reshape(-1, w.shape[1])
        need = self.need
        gx = None
        if need[0]:
            gx = xp.dot(gy, w2.T)
            gx = gx if gx.shape == x.shape else gx.reshape(x.shape)
        gw = None
        if need[1]:
            gw = xp.dot(_rows_of(x, n_in).T, gy)
            gw = gw if w.ndim == 2 else gw.reshape(w.shape)
        if len(xs) == 2:
            return gx, gw
        gb = None
        if need[2]:
            gb = sum_cols(xp, gy)
            gb = gb if w.ndim == 2 else gb.reshape(xs[2].shape)
        return gx, gw, gb


class BatchMatmul(Function):
    """y = op(a) @ op(b) over the last two axes; leading (batch) axes broadcast."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again

    def __init__(self, transpose_a=False, transpose_b=False):
        self.transpose_a = transpose_a
        self.transpose_b = transpose_b

    def setup(self, a, b):
        for name, s in (("a", a), ("b", b)):
            require(self, len(s) >= 3, f"{name} must have at least 3 dimensions "
                    f"(batch..., rows, cols), got shape {s}")
        require(self, len(a) == len(b),
                f"a {a} and b {b} must have the same number of dimensions")
        batch = []
        for i, (da, db) in enumerate(zip(a[:-2], b[:-2])):
            require(self, da == db or da == 1 or db == 1,
                    f"batch axis {i} of a {a} and b {b} can not be broadcast ({da} vs {db})")
            batch.append(max(da, db))
        m, ka = (a[-1], a[-2]) if self.transpose_a else (a[-2], a[-1])
        kb, n = (b[-1], b[-2]) if self.transpose_b else (b[-2], b[-1])
        require(self, ka == kb, f"inner sizes differ: a {a} gives {ka} (transpose_a="
                f"{self.transpose_a}), b {b} gives {kb} (transpose_b={self.transpose_b})")
        return tuple(batch) + (m, n)

    def forward(self, xp, a, b):
        if self.transpose_a:
            a = a.swapaxes(-1, -2)
        if self.transpose_b:
            b = b.swapaxes(-1, -2)
        return xp.matmul(a, b)

    def backward(self, xp, xs, ys, gys):
        a, b = xs
        gy = gys[0]
        op_a = a.swapaxes(-1, -2) if self.transpose_a else a
        op_b = b.swapaxes(-1, -2) if self.transpose_b else b
        ga = gb = None
        if self.need[0]:
            # d op(a) = gy @ op(b)^T; for a transposed operand, transpose back
            ga = (xp.matmul(op_b, gy.swapaxes(-1, -2)) if self.transpose_a
                  else xp.matmul(gy, op_b.swapaxes(-1, -2)))
            ga = sum_to(xp, ga, a.shape)
        if self.need[1]:
            gb = (xp.matmul(gy.swapaxes(-1, -2), op_a) if self.transpose_b
                  else xp.matmul(op_a.swapaxes(-1, -2), gy))
            gb = sum_to(xp, gb, b.shape)
        return ga, gb


class Convolution(ConvolutionFamily):
    """y = W * x + b: N-D cross-correlation with pad, stride, dilation and groups."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again
    forward_state = ("_col",)  # im2col columns kept for the weight gradient

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 channel_last=False):
        self.base_axis = base_axis
        self.pad = pad
        self.stride = stride
        self.dilation = dilation
        self.group = group
        self.channel_last = channel_last

    def setup(self, x, w, b=None):
        self._geometry(x, w, self.base_axis, self.group, self.channel_last,
                       "out_channels, in_channels/group")
        oc = w[0]
        cg = w[-1] if self.channel_last else w[1]
        self._check_channels(x, w, oc, cg)
        self._check_bias(b, oc)
        self._oc = oc
        self._out = self._conv_out(self._spatial)
        self._blocked = None
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

    _blocked = None

    def forward(self, xp, x, w, b=None):
        if self._blocked is not None:
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
        if self._blocked is not None:
            return self._blocked_backward(xp, xs, gys[0])
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

    def _blocked_backward(self, xp, xs, gy):
        x, w = xs[0], xs[1]
        need = self.need
        gy = self._to_ncs(gy, self._oc, self._out)
        gx, gw2 = self._blocked.backward(xp, self._to_ncs(x, self._c, self._spatial),
                                         self._weight_stack(w)[0], gy, need[0], need[1])
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
        m = self.multiplier
        require(self, w[0] == c * m, f"weight {w} must have channels*multiplier = {c}*{m} = "
                f"{c * m} filters for x {x}")
        self._check_bias(b, c * m)
        self._oc = c * m
        self._out = self._conv_out(self._spatial)
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
        return output_padding

    def forward(self, xp, x, w, b=None):
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


class Embed(Function):
    """y = w[x0]: rows of the table w picked by integer indices x0."""

    def setup(self, x0, w):
        require(self, len(w) >= 1, f"weight {w} must have at least 1 dimension")
        return tuple(x0) + tuple(w[1:])

    def forward(self, xp, x0, w):
        return xp.take(w, x0.astype(xp.intp, copy=False), axis=0)

    def backward(self, xp, xs, ys, gys):
        if not self.need[1]:
            return None, None
        x0, w = xs
        rows = x0.reshape(-1).astype(xp.intp, copy=False)
        gw = xp.zeros((w.shape[0], prod(w.shape[1:])), dtype=gys[0].dtype)
        # NumPy >= 1.25's add.at is a fast indexed loop (faster here than sorting
        # the indices and summing runs with reduceat); cupyx.scatter_add on GPU.
        scatter_add(xp, gw, rows, gys[0].reshape(rows.size, -1))
        return None, gw.reshape(w.shape)


def affine(x, weight, bias=None, base_axis=1, n_outputs=-1, outputs=None):
    """Fully connected layer.

    .. math:: y_{n,j} = \\sum_i x_{n,i} W_{i,j} + b_j

    where ``x`` is viewed as a matrix: the axes before ``base_axis`` are rows
    (samples) and the axes from ``base_axis`` on are flattened into features.

    Args:
        x (Variable): input of shape (N..., D...), prod(D...) = weight.shape[0].
        weight (Variable): weight of shape (prod(D...), L...).
        bias (Variable, optional): bias of shape (L...).
        base_axis (int): first axis of the feature dimensions.

    Returns:
        Variable: shape (N..., L...).
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Affine(base_axis)(*inputs, n_outputs=n_outputs, outputs=outputs)


def batch_matmul(a, b, transpose_a=False, transpose_b=False, n_outputs=-1, outputs=None):
    """Batched matrix product over the last two axes.

    .. math:: y_{..., i, j} = \\sum_k op(a)_{..., i, k} op(b)_{..., k, j}

    where ``op`` transposes the last two axes when ``transpose_*`` is set. Both
    inputs have the same number (>= 3) of dimensions; batch axes of size 1
    broadcast.

    Args:
        a (Variable): shape (B..., M, K) (or (B..., K, M) with transpose_a).
        b (Variable): shape (B..., K, N) (or (B..., N, K) with transpose_b).
        transpose_a (bool): transpose the last two axes of a.
        transpose_b (bool): transpose the last two axes of b.

    Returns:
        Variable: shape (B..., M, N).
    """
    return BatchMatmul(transpose_a, transpose_b)(a, b, n_outputs=n_outputs, outputs=outputs)


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

    Built from :func:`convolution`, ``F.pad`` (for pad_mode 'reflect'/'repeat' or a
    non-zero constant), ``F.batch_normalization`` and the activation, so the graph
    holds those functions rather than one FusedConvolution node; the values and
    gradients are the same.

    Args:
        x, weight, bias: as :func:`convolution`; bias excludes the batch-norm inputs.
        beta, gamma, mean, variance (Variable, optional): batch-norm parameters and
            running statistics (channel axis kept, other axes of size 1).
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
    from . import activation, array, normalization
    name = "FusedConvolution"
    bn_inputs = [v for v in (beta, gamma, mean, variance) if v is not None]
    require(name, not (bias is not None and bn_inputs),
            "bias and the batch-normalization inputs (beta, gamma, mean, variance) are "
            "mutually exclusive")
    activations = {
        "identity": lambda y: y,
        "relu": activation.relu,
        "sigmoid": activation.sigmoid,
        "tanh": activation.tanh,
        "leaky_relu": lambda y: activation.leaky_relu(y, nonlinearity_args[0]),
        "elu": lambda y: activation.elu(y, nonlinearity_args[0]),
        "relu6": activation.relu6,
    }
    require(name, nonlinearity in activations,
            f"nonlinearity={nonlinearity!r} is not one of {sorted(activations)}")
    if nonlinearity in ("leaky_relu", "elu"):
        require(name, len(nonlinearity_args) == 1,
                f"nonlinearity={nonlinearity!r} needs nonlinearity_args=[alpha], got "
                f"{nonlinearity_args!r}")
    require(name, pad_mode in ("constant", "reflect", "repeat"),
            f"pad_mode={pad_mode!r} must be 'constant', 'reflect' or 'repeat'")
    n_spatial = len(x.shape) - (base_axis % len(x.shape)) - 1
    pads = spatial_tuple(name, "pad", pad, n_spatial, 0)
    if any(pads) and (pad_mode != "constant" or constant_value != 0):
        width = [p for p in pads for _ in (0, 1)] + ([0, 0] if channel_last else [])
        x = array.pad(x, width, mode=pad_mode, constant_value=constant_value)
        pads = (0,) * n_spatial
    y = convolution(x, weight, bias, base_axis, pads, stride, dilation, group, channel_last)
    if bn_inputs:
        axis = len(y.shape) - 1 if channel_last else base_axis % len(y.shape)
        y = normalization.batch_normalization(y, beta, gamma, mean, variance, axes=[axis],
                                              decay_rate=decay_rate, eps=eps,
                                              batch_stat=batch_stat)
    if z is not None:
        y = y + z
    return activations[nonlinearity](y)


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


def embed(x0, w, n_outputs=-1, outputs=None):
    """Embedding: look up rows of ``w`` by integer indices.

    .. math:: y_{i_1..i_n, :} = w_{x0_{i_1..i_n}, :}

    Only ``w`` gets a gradient (repeated indices add up).

    Args:
        x0 (Variable): integer indices in [0, w.shape[0]), any shape.
        w (Variable): table of shape (V, E...).

    Returns:
        Variable: x0.shape + (E...).
    """
    return Embed()(x0, w, n_outputs=n_outputs, outputs=outputs)
