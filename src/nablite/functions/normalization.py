"""Normalization: batch (also fused and synchronized) / layer / instance / group /
tensor normalization, weight standardization, running-mean subtraction and
gradient clipping. (Normalization by a norm - norm_normalization,
weight_normalization, spectral_norm - is in rescaling.py.)

Most of them standardize ``x`` over some axes, y = (x - mean) / sqrt(var + eps),
then scale by ``gamma`` and shift by ``beta``. ``Standardization`` holds that
math (one forward, one backward) for a "view" of x (group normalization splits
the channel axis) and a set of reduced axes; each function only states which.
Batch normalization adds NNabla's running statistics, updated in place.
"""
from ..variable import Variable
from .base import Function, keep_args, require, prod, sum_to, named
from .reduction import input_axes

__all__ = ["batch_normalization", "fused_batch_normalization", "layer_normalization",
           "instance_normalization", "group_normalization", "tensor_normalization",
           "weight_standardization", "mean_subtraction", "clip_grad_by_value", "clip_grad_by_norm"]


def _axes_list(a):
    return [a] if isinstance(a, int) else list(a)


def _dot_over(xp, a, b, red):
    """sum(a * b) over the axes ``red`` (kept as 1s), without the product array."""
    letters = "abcdefghijklmnopqrstuvwxyz"[:a.ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in red)
    out = xp.einsum(f"{letters},{letters}->{kept}", a, b)
    return out.reshape(tuple(1 if i in red else s for i, s in enumerate(a.shape)))


class Standardization(Function):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta, statistics over ``_red`` of ``_view``.

    Inputs are x, then beta unless ``no_bias``, then gamma unless ``no_scale``;
    beta and gamma broadcast to x. With ``_output_stat`` the mean and the
    (biased) variance are extra outputs, and gradients flow back from them too.
    A subclass's ``_plan(x_shape)`` returns (view shape, reduced axes of the view);
    the default keeps the axes its arguments named in ``_keep`` give and reduces
    the others.
    """
    forward_state = ('_mean', '_inv_std')  # kept from forward for backward; freed with the buffers

    no_bias = no_scale = False
    _output_stat = False
    _n_params = 0
    grad_reads_outputs = False  # backward recomputes from x and the kept statistics

    _keep = ()

    def _plan(self, x):
        keep = [a for arg in self._keep
                for a in input_axes(self, getattr(self, arg), len(x), arg)]
        return x, tuple(i for i in range(len(x)) if i not in keep)

    def setup(self, x, *params):
        view, red = self._plan(x)
        self._view, self._red = view, red
        self._n = prod(view[i] for i in red)
        require(self, self._n > 0 or not getattr(self, "batch_stat", True),
                f"x {x} has no elements to take statistics over (axes {red} are empty)")
        for label, p in zip(self._param_names(), params):
            ok = len(p) <= len(x) and all(a in (1, b) for a, b in zip(p[::-1], x[::-1]))
            require(self, ok, f"{label} of shape {p} does not broadcast to x {x}")
        stat = tuple(1 if i in red else s for i, s in enumerate(view))
        return [x, stat, stat] if self._output_stat else x

    def _param_names(self):
        return [n for n, absent in (("beta", self.no_bias), ("gamma", self.no_scale)) if not absent]

    def _split(self, params):
        params = list(params)
        beta = None if self.no_bias else params.pop(0)
        gamma = None if self.no_scale else params.pop(0)
        return beta, gamma, params

    def _standardize(self, xp, x, beta, gamma):
        """The normalized output; keeps mean and 1/std for backward."""
        xv = x.reshape(self._view)
        mean = xv.mean(axis=self._red, keepdims=True)
        y = xv - mean
        var = _dot_over(xp, y, y, self._red) * (1 / self._n)
        inv_std = 1 / xp.sqrt(var + self.eps)
        self._mean, self._inv_std = mean, inv_std
        if gamma is not None and self._constant_over_red(x, gamma):
            y *= inv_std * gamma  # one pass instead of two
            y = y.reshape(x.shape)
        else:
            y *= inv_std
            y = y.reshape(x.shape)
            if gamma is not None:
                y *= gamma
        if beta is not None:
            y += beta
        return y, mean, var

    def forward(self, xp, x, *params):
        beta, gamma, _ = self._split(params)
        y, mean, var = self._standardize(xp, x, beta, gamma)
        return (y, mean, var) if self._output_stat else y

    def _standardize_backward(self, xp, x, beta, gamma, gys, mean, inv_std):
        """Gradients (gx, gbeta, ggamma) of the batch-statistics normalization."""
        gy = gys[0]
        red, need, n = self._red, self.need, self._n
        xv = x.reshape(self._view)
        x_hat = (xv - mean) * inv_std
        need_beta = beta is not None and need[1]
        need_gamma = gamma is not None and need[1 + (beta is not None)]
        gx = gbeta = ggamma = None
        if self._constant_over_red(x, gamma):
            # One gamma per statistic (batch norm's case): two sums give gbeta,
            # ggamma and gx alike, and x_hat's buffer becomes gx.
            s1 = gy.sum(axis=red, keepdims=True)
            s2 = _dot_over(xp, gy, x_hat, red)
            if need_beta:
                gbeta = (sum_to(xp, s1, beta.shape) if self._constant_over_red(x, beta)
                         else sum_to(xp, gy, beta.shape))
            if need_gamma:
                ggamma = sum_to(xp, s2, gamma.shape)
            if need[0]:
                gx = x_hat
                gx *= s2 * (1 / n)
                gx += s1 * (1 / n)
                xp.subtract(gy, gx, out=gx)
                gx *= inv_std if gamma is None else gamma * inv_std
        else:
            if need_beta:
                gbeta = sum_to(xp, gy, beta.shape)
            if need_gamma:
                ggamma = sum_to(xp, gy * x_hat.reshape(gy.shape), gamma.shape)
            if need[0]:
                gxh = (gy if gamma is None else gy * gamma).reshape(self._view)
                gx = gxh - gxh.mean(axis=red, keepdims=True)
                gx -= x_hat * (gxh * x_hat).mean(axis=red, keepdims=True)
                gx *= inv_std
        if gx is not None:
            if self._output_stat:
                gmean, gvar = gys[1], gys[2]
                gx += gmean / n + gvar * (2 / n) * (xv - mean)
            gx = gx.reshape(x.shape)
        return gx, gbeta, ggamma

    def _constant_over_red(self, x, param):
        """Whether ``param`` (None counts) has one value per statistic."""
        if self._view != x.shape:
            return False
        if param is None:
            return True
        shape = (1,) * (x.ndim - param.ndim) + param.shape
        return all(shape[i] == 1 for i in self._red)

    def backward(self, xp, xs, ys, gys):
        x, params = xs[0], xs[1:]
        beta, gamma, _ = self._split(params)
        gx, gbeta, ggamma = self._standardize_backward(xp, x, beta, gamma, gys, self._mean,
                                                       self._inv_std)
        return (gx,) + tuple(g for g, p in ((gbeta, beta), (ggamma, gamma)) if p is not None)


class BatchNormalization(Standardization):
    """Batch normalization over every axis except ``axes``, with running statistics.

    batch_stat=True: normalize with the batch mean and biased variance, and
    update the running ``mean``/``variance`` inputs in place,
    m = d m + (1 - d) mean, v = d v + (1 - d) var n / (n - 1) (NNabla's unbiased
    update; n = elements per statistic). batch_stat=False: use the running ones.
    mean and variance never get a gradient.
    """

    def __init__(self, axes=(1,), decay_rate=0.9, eps=1e-05, batch_stat=True, no_scale=False,
                 no_bias=False, output_stat=False, has_running=True):
        keep_args(self, locals(), private=("output_stat", "has_running"))
        self.axes = _axes_list(axes)  # (an int too, as NNabla takes it)

    _keep = ("axes",)

    def setup(self, x, *params):
        out = super().setup(x, *params[:2 - self.no_bias - self.no_scale])
        stat = tuple(1 if i in self._red else s for i, s in enumerate(x))
        names = self._param_names() + (["mean", "variance"] if self._has_running else [])
        for label, p in zip(names, params):
            require(self, p == stat, f"{label} has shape {p}; with axes={self.axes} and x {x} "
                                     f"it must be {stat}")
        require(self, self.batch_stat or self._has_running,
                "batch_stat=False needs the running mean and variance")
        return out

    @property
    def recomputable(self):  # batch statistics update the running ones in forward
        return not (self.batch_stat and self._has_running)

    @property
    def writes_inputs(self):  # the running mean and variance, after beta and gamma
        if self.recomputable:
            return ()
        k = 1 + (not self.no_bias) + (not self.no_scale)
        return (k, k + 1)

    def forward(self, xp, x, *params):
        beta, gamma, running = self._split(params)
        if not self.batch_stat:
            rmean, rvar = running
            inv_std = 1 / xp.sqrt(rvar + self.eps)
            scale = inv_std if gamma is None else gamma * inv_std
            y = (x - rmean) * scale
            if beta is not None:
                y += beta
            return (y, rmean.copy(), rvar.copy()) if self._output_stat else y
        y, mean, var = self._standardize(xp, x, beta, gamma)
        if running:
            rmean, rvar = running
            d, n = self.decay_rate, self._n
            # n == 1 gives NaN, as in NNabla (the unbiased variance is undefined).
            unbias = n / (n - 1) if n > 1 else float("nan")
            rmean *= d
            rmean += (1 - d) * mean
            rvar *= d
            rvar += (1 - d) * unbias * var
        return (y, mean, var) if self._output_stat else y

    def backward(self, xp, xs, ys, gys):
        x, params = xs[0], xs[1:]
        beta, gamma, running = self._split(params)
        if self.batch_stat:
            gx, gbeta, ggamma = self._standardize_backward(xp, x, beta, gamma, gys, self._mean,
                                                           self._inv_std)
        else:
            gx, gbeta, ggamma = self._running_backward(xp, x, beta, gamma, running, gys[0])
        grads = (gx,) + tuple(g for g, p in ((gbeta, beta), (ggamma, gamma)) if p is not None)
        return grads + (None,) * len(running)

    def composite(self, x, *params):
        """The same outputs from F functions (nn.grad differentiates this; the
        running statistics are not updated here)."""
        from . import mean as f_mean, pow_scalar
        beta, gamma, running = self._split(params)
        red = list(self._red)
        if self.batch_stat:
            mean = f_mean(x, axis=red, keepdims=True)
            var = f_mean(pow_scalar(x - mean, 2.0), axis=red, keepdims=True)
        else:
            mean, var = running
        y = (x - mean) * pow_scalar(var + self.eps, -0.5)
        if gamma is not None:
            y = y * gamma
        if beta is not None:
            y = y + beta
        return (y, mean, var) if self._output_stat else y

    def _running_backward(self, xp, x, beta, gamma, running, gy):
        rmean, rvar = running
        inv_std = 1 / xp.sqrt(rvar + self.eps)
        red, need = self._red, self.need
        gbeta = gy.sum(axis=red, keepdims=True) if beta is not None and need[1] else None
        ggamma = None
        if gamma is not None and need[1 + (beta is not None)]:
            ggamma = (gy * ((x - rmean) * inv_std)).sum(axis=red, keepdims=True)
        gx = gy * (inv_std if gamma is None else gamma * inv_std) if need[0] else None
        return gx, gbeta, ggamma


class FusedBatchNormalization(BatchNormalization):
    """relu(batch_normalization(x) + z), z optional (the last input)."""

    grad_reads_outputs = True  # the ReLU's mask comes from y

    def __init__(self, axes=(1,), decay_rate=0.9, eps=1e-05, batch_stat=True, nonlinearity="relu",
                 no_scale=False, no_bias=False, output_stat=False, has_running=True, has_z=False):
        super().__init__(axes, decay_rate, eps, batch_stat, no_scale, no_bias, output_stat,
                         has_running)
        require(self, nonlinearity == "relu",
                f"nonlinearity={nonlinearity!r} is not supported; use 'relu'")
        self.nonlinearity = nonlinearity
        self._has_z = has_z

    def setup(self, x, *params):
        if self._has_z:
            require(self, params[-1] == x, f"z has shape {params[-1]}, x has {x}")
            params = params[:-1]
        return super().setup(x, *params)

    def forward(self, xp, x, *params):
        z = params[-1] if self._has_z else None
        out = super().forward(xp, x, *(params[:-1] if self._has_z else params))
        y = out[0] if self._output_stat else out
        if z is not None:
            y += z
        xp.maximum(y, 0, out=y)
        return out

    def backward(self, xp, xs, ys, gys):
        g = gys[0] * (ys[0] > 0)
        need = self.need
        if self._has_z:
            xs, self.need = xs[:-1], need[:-1]
        grads = super().backward(xp, xs, ys, (g,) + tuple(gys[1:]))
        self.need = need
        return grads + ((g if need[-1] else None),) if self._has_z else grads

    def composite(self, x, *params):
        """relu(batch normalization's composite + z), for nn.grad."""
        from . import relu
        z = params[-1] if self._has_z else None
        out = super().composite(x, *(params[:-1] if self._has_z else params))
        y = out[0] if self._output_stat else out
        y = relu(y if z is None else y + z)
        return (y,) + tuple(out[1:]) if self._output_stat else y


class LayerNormalization(Standardization):
    """Normalize each sample over all axes except the batch axes."""

    def __init__(self, batch_axis=(0,), eps=1e-05, no_scale=False, no_bias=False,
                 output_stat=False):
        keep_args(self, locals(), private=("output_stat",))
        self.batch_axis = _axes_list(batch_axis)

    _keep = ("batch_axis",)


class InstanceNormalization(Standardization):
    """Normalize each (sample, channel) over the remaining (spatial) axes."""

    def __init__(self, channel_axis=1, batch_axis=(0,), eps=1e-05, no_scale=False,
                 no_bias=False, output_stat=False):
        keep_args(self, locals(), private=("output_stat",))
        self.batch_axis = _axes_list(batch_axis)

    _keep = ("batch_axis", "channel_axis")


class GroupNormalization(Standardization):
    """Split the channels into ``num_groups`` groups; normalize each (sample, group)."""

    def __init__(self, num_groups=1, channel_axis=1, batch_axis=(0,), eps=1e-05, no_scale=False,
                 no_bias=False, output_stat=False):
        keep_args(self, locals(), private=("output_stat",))
        self.batch_axis = _axes_list(batch_axis)

    def _plan(self, x):
        c = input_axes(self, self.channel_axis, len(x), "channel_axis")[0]
        g = self.num_groups
        require(self, isinstance(g, int) and g > 0 and x[c] % g == 0,
                f"num_groups={g} must divide the {x[c]} channels of x {x}")
        view = x[:c] + (g, x[c] // g) + x[c + 1:]
        keep = [a if a < c else a + 1 for a in
                input_axes(self, self.batch_axis, len(x), "batch_axis")] + [c]
        return view, tuple(i for i in range(len(view)) if i not in keep)


class TensorNormalization(Standardization):
    """Normalize over every axis except ``axes`` with the current batch only."""

    def __init__(self, axes=(1,), eps=1e-05, no_scale=False, no_bias=False, output_stat=False):
        keep_args(self, locals(), private=("output_stat",))
        self.axes = _axes_list(axes)

    _keep = ("axes",)


class WeightStandardization(Standardization):
    """Standardize a weight over every axis except ``channel_axis``."""

    no_bias = no_scale = True

    def __init__(self, channel_axis=0, eps=1e-05, output_stat=False):
        keep_args(self, locals(), private=("output_stat",))

    _keep = ("channel_axis",)


class MeanSubtraction(Function):
    """y = x - running mean; in training the running mean (and count ``t``) are
    updated in place first: rmean += (batch mean - rmean) / (t + 1), t += 1."""

    def __init__(self, base_axis=1, update_running_mean=True):
        self.base_axis, self.update_running_mean = base_axis, update_running_mean

    @property
    def recomputable(self):  # the running mean and count t move in forward
        return not self.update_running_mean

    @property
    def writes_inputs(self):
        return (1, 2) if self.update_running_mean else ()

    def setup(self, x, rmean, t):
        # a negative base_axis counts from the end; 0: no batch axes (the mean of one
        # sample, x itself), as NNabla accepts
        axis = self._axis = self.base_axis + len(x) if self.base_axis < 0 else self.base_axis
        require(self, 0 <= axis <= len(x),
                f"base_axis={self.base_axis} is out of range for x {x}")
        require(self, rmean == x[axis:], f"mean has shape {rmean}, expected {x[axis:]}")
        require(self, prod(t) == 1, f"t must hold one value, got shape {t}")
        self._n = prod(x[:axis])
        require(self, self._n > 0 or not self.update_running_mean,
                f"x {x} holds no samples (axes before base_axis={self.base_axis}) to update "
                "the running mean with; expected at least one")
        return x

    def forward(self, xp, x, rmean, t):
        if self.update_running_mean:
            batch_axes = tuple(range(self._axis))
            rmean += (x.mean(axis=batch_axes) - rmean) / (t.reshape(()) + 1)
            t += 1
        self._t = t.reshape(()).astype(x.dtype)  # a copy, on t's device (no host read)
        return x - rmean

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None, None
        if not self.update_running_mean:
            return gys[0], None, None
        # NNabla's gradient keeps only the element's own share of the new mean.
        return gys[0] * (1 - 1 / (self._t * self._n)), None, None


class ClipGradByValue(Function):
    """Identity forward; backward clips the gradient to [min, max] elementwise."""

    def setup(self, x, lo, hi):
        require(self, lo == x and hi == x, f"min {lo} and max {hi} must have x's shape {x}")
        return x

    def forward(self, xp, x, lo, hi):
        return x.copy()

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None, None
        gy, lo, hi = gys[0], xs[1], xs[2]
        # above max -> max, else below min -> min (NNabla's order where min > max)
        return xp.where(gy > hi, hi, xp.where(gy < lo, lo, gy)).astype(gy.dtype), None, None


class ClipGradByNorm(Function):
    """Identity forward; backward rescales the gradient to L2 norm ``clip_norm`` over ``axes``."""

    def __init__(self, clip_norm=1.0, axes=None):
        self.clip_norm, self.axes = clip_norm, axes

    def setup(self, x):  # (any clip_norm: NNabla scales by a negative one too)
        self._red = input_axes(self, self.axes, len(x), "axes")
        return x

    def forward(self, xp, x):
        return x.copy()

    def backward(self, xp, xs, ys, gys):
        gy = gys[0]
        norm = xp.sqrt((gy * gy).sum(axis=self._red, keepdims=True))
        return (gy * (self.clip_norm / norm),)


def _present(*xs):
    return [x for x in xs if x is not None]


def _inputs(fn, x, *params):
    """``[x]`` and the given ones of ``params``: x may not be None (beta would take
    its place), an error naming ``fn``, NNabla's type name."""
    require(fn, x is not None, "x is None; expected a Variable (or an NdArray / numpy array)",
            TypeError)
    return [x] + _present(*params)


@named
def batch_normalization(x, beta, gamma, mean, variance, axes=[1], decay_rate=0.9, eps=1e-05,
                        batch_stat=True, output_stat=False, n_outputs=None):
    r"""Batch normalization.

    .. math:: y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

    With ``batch_stat=True`` :math:`\mu, \sigma^2` are the statistics of this
    batch over every axis but ``axes``, and the running ``mean``/``variance``
    are updated in place: ``mean = decay_rate*mean + (1-decay_rate)*mu``,
    ``variance = decay_rate*variance + (1-decay_rate)*sigma^2*n/(n-1)``.
    With ``batch_stat=False`` the running statistics are used.

    Args:
        x (Variable): Input.
        beta, gamma (Variable or None): Shift and scale (shape 1 except at ``axes``).
        mean, variance (Variable or None): Running statistics (no gradient).
        axes (list of int): Axes with their own statistics.
        decay_rate (float), eps (float), batch_stat (bool): See above.
        output_stat (bool): Also return the batch mean and (biased) variance.

    Returns:
        Variable, or (y, mean, variance) if output_stat.
    """
    f = BatchNormalization(axes, decay_rate, eps, batch_stat, gamma is None, beta is None,
                           output_stat, mean is not None and variance is not None)
    running = [mean, variance] if mean is not None and variance is not None else []
    return f(*_inputs(f.name, x, beta, gamma), *running)


@named
def fused_batch_normalization(x, beta, gamma, mean, variance, z=None, axes=[1], decay_rate=0.9,
                              eps=1e-05, batch_stat=True, nonlinearity='relu', output_stat=False,
                              n_outputs=None):
    """relu(batch_normalization(x, ...) + z): batch normalization, an optional
    residual ``z`` (x's shape) and ReLU in one function. Arguments as
    :func:`batch_normalization`; ``nonlinearity`` must be 'relu'."""
    has_running = mean is not None and variance is not None
    f = FusedBatchNormalization(axes, decay_rate, eps, batch_stat, nonlinearity, gamma is None,
                                beta is None, output_stat, has_running, z is not None)
    running = [mean, variance] if has_running else []
    return f(*_inputs(f.name, x, beta, gamma), *running, *_present(z))


@named
def layer_normalization(x, beta, gamma, batch_axis=0, eps=1e-05, output_stat=False):
    """Layer normalization: standardize each sample over all non-batch axes, then
    ``gamma * x_hat + beta`` (either may be None). Returns y (and mean, var if output_stat)."""
    f = LayerNormalization(batch_axis, eps, gamma is None, beta is None, output_stat)
    return f(*_inputs(f.name, x, beta, gamma))


@named
def instance_normalization(x, beta, gamma, channel_axis=1, batch_axis=0, eps=1e-05,
                           output_stat=False):
    """Instance normalization: standardize each (sample, channel) over the other axes."""
    f = InstanceNormalization(channel_axis, batch_axis, eps, gamma is None, beta is None,
                              output_stat)
    return f(*_inputs(f.name, x, beta, gamma))


@named
def group_normalization(x, beta, gamma, num_groups, channel_axis=1, batch_axis=0, eps=1e-05,
                        output_stat=False):
    """Group normalization: channels split into ``num_groups``; each (sample, group)
    is standardized. Statistics have the grouped shape, e.g. (B, G, 1, 1, 1)."""
    f = GroupNormalization(num_groups, channel_axis, batch_axis, eps, gamma is None,
                           beta is None, output_stat)
    return f(*_inputs(f.name, x, beta, gamma))


@named
def tensor_normalization(x, axes, beta=None, gamma=None, eps=1e-05, output_stat=False):
    """Standardize over every axis except ``axes`` (batch statistics, no running ones).

    Built as NNabla builds it, so the graph and its files are NNabla's: one
    BatchNormalization (decay_rate 0, batch statistics, throw-away running
    statistics) over the kept axis; with several kept axes the others are moved
    first and the kept ones flattened into one, and the results moved back.
    Files holding NNabla's TensorNormalization type load as that one node."""
    from .array import reshape, transpose
    _inputs("TensorNormalization", x)
    kept = sorted(input_axes("TensorNormalization", axes, x.ndim, "axes"))
    stat_shape = tuple(n if i in kept else 1 for i, n in enumerate(x.shape))
    params = [beta, gamma] + [Variable(stat_shape) for _ in range(2)]  # mean, variance
    if len(kept) == 1:
        return batch_normalization(x, *params, axes=kept, decay_rate=0.0, eps=eps,
                                   batch_stat=True, output_stat=output_stat)
    order = [i for i in range(x.ndim) if i not in kept] + kept
    back = [order.index(i) for i in range(x.ndim)]
    moved = [x.shape[i] for i in order]
    rows, cols = prod(moved[:x.ndim - len(kept)]), prod(moved[x.ndim - len(kept):])

    def flat(v, n):
        return None if v is None else reshape(transpose(v, order), (n, cols))
    out = batch_normalization(flat(x, rows), *[flat(v, 1) for v in params], axes=[1],
                              decay_rate=0.0, eps=eps, batch_stat=True,
                              output_stat=output_stat)

    def unflat(v, shape):
        return transpose(reshape(v, shape), back)
    stat_moved = [1] * (x.ndim - len(kept)) + moved[x.ndim - len(kept):]
    if not output_stat:
        return unflat(out, moved)
    y, mean, var = out
    return unflat(y, moved), unflat(mean, stat_moved), unflat(var, stat_moved)


@named
def weight_standardization(w, channel_axis=0, eps=1e-05, output_stat=False):
    """Standardize a weight to zero mean and unit variance over all axes but ``channel_axis``."""
    return WeightStandardization(channel_axis, eps, output_stat)(w)


@named
def mean_subtraction(x, mean, t, base_axis=1, update_running_mean=True):
    """y = x - running mean over the batch axes (before ``base_axis``); with
    ``update_running_mean`` the running ``mean`` and count ``t`` update in place."""
    return MeanSubtraction(base_axis, update_running_mean)(x, mean, t)


@named
def clip_grad_by_value(x, min, max, n_outputs=-1, outputs=None):
    """Identity; in backward the gradient is clipped to [min, max] (Variables of x's shape)."""
    return ClipGradByValue()(x, min, max)


@named
def clip_grad_by_norm(x, clip_norm=None, axes=None, n_outputs=-1, outputs=None):
    """Identity; in backward the gradient is rescaled to L2 norm ``clip_norm`` (default 1)
    over ``axes`` (default all)."""
    return ClipGradByNorm(1.0 if clip_norm is None else clip_norm, axes)(x)
