"""Solvers (``import nablite.solvers as S``): NNabla's 18 update rules.

Each class states its constructor (NNabla's exact signature), the names of its
state arrays and an ``_update(w, g, s, t)`` that changes ``w`` in place, with
``t`` the parameter's step count after this update (1 on the first), and
``packable = True`` when that rule is elementwise (all but Lars and Lamb), which
lets the base update every parameter in one flat pass. Rules compute through
``self.xp``, the array module of the solver's context (NumPy on the CPU), on
arrays that live on that device. The base class ``Solver``
(_solver_base.py) does everything else. ``nablite.solver`` (NNabla's other name
for this module) exposes the same classes. ``self.lr`` is the current
learning rate (``alpha``/``eta`` for the solvers that call it so), ``self.lr0``
its constructor value and ``self._decay`` the fused weight-decay rate of this
update. Typical use::

    solver = S.Adam(alpha=1e-3)
    solver.set_parameters(nn.get_parameters())
    for x, t in data:
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.weight_decay(1e-4)
        solver.update()
"""
import math

import numpy as np

from ._solver_base import (Solver, SolverState, set_solver_post_hook,  # noqa: F401
                           set_solver_pre_hook, unset_solver_post_hook,
                           unset_solver_pre_hook)

__all__ = ["Solver", "SolverState", "Sgd", "SgdW", "Momentum", "Lars", "Nesterov",
           "Adadelta", "Adagrad", "AdaBelief", "RMSprop", "RMSpropGraves", "Adam", "AdamW",
           "AdaBound", "Adamax", "AMSGRAD", "AMSBound", "Lamb", "Lion"]


def _moments(s, g, beta1, beta2, m="mean", v="var"):
    """Exponential moving averages of g and g**2, in place."""
    s[m] *= beta1
    s[m] += (1 - beta1) * g
    sq = g * g
    sq *= 1 - beta2
    s[v] *= beta2
    s[v] += sq
    return s[m], s[v]


def _adam_step(xp, w, rate, m, v, eps):
    """w -= rate * m / (sqrt(v) + eps), with a single temporary array."""
    d = xp.sqrt(v, out=xp.empty_like(v))  # (an array for a 0-d v too, for out=)
    d += eps
    xp.divide(m, d, out=d)
    d *= rate
    w -= d


# Large parameters are updated chunk by chunk: each of a rule's ~10 in-place
# passes then reads and writes arrays that are still in the L2 cache instead of
# streaming the whole parameter (a 1024x1024 layer's w, g, m and v are 16 MB)
# ten times through memory: Adam on 1.9M parameters goes from 7 ms to ~2 ms.
_CHUNK = 1 << 16


def _chunks(*arrays):
    """Matching flat chunks of same-shape arrays, or the arrays themselves when
    small, not C-contiguous or not NumPy (one GPU kernel per pass is better)."""
    n = arrays[0].size
    if n <= 2 * _CHUNK or not all(type(a) is np.ndarray and a.flags.c_contiguous
                                  for a in arrays):
        yield arrays
        return
    flats = [a.reshape(-1) for a in arrays]
    for i in range(0, n, _CHUNK):
        yield tuple(f[i:i + _CHUNK] for f in flats)


def _adam(xp, w, g, m, v, beta1, beta2, rate, eps):
    """_moments and _adam_step fused, chunk by chunk, one scratch chunk."""
    tmp = None
    for wc, gc, mc, vc in _chunks(w, g, m, v):
        if tmp is None or tmp.shape != gc.shape:
            tmp = xp.empty_like(gc)
        mc *= beta1
        xp.multiply(gc, 1 - beta1, out=tmp)
        mc += tmp
        xp.multiply(gc, gc, out=tmp)
        tmp *= 1 - beta2
        vc *= beta2
        vc += tmp
        xp.sqrt(vc, out=tmp)
        tmp += eps
        xp.divide(mc, tmp, out=tmp)
        tmp *= rate
        wc -= tmp


def _adam_rate(alpha, beta1, beta2, t):
    """Adam's bias-corrected step size alpha * sqrt(1 - beta2^t) / (1 - beta1^t)."""
    return alpha * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)


def _norm(xp, a):
    """The L2 norm of ``a``: a float on the host; on a device a float64 0-d array
    that stays there (no transfer: the rules choose with _where, not with if)."""
    flat = a.reshape(-1)
    if xp is np:
        return math.sqrt(float(np.dot(flat, flat)))
    return xp.sqrt(xp.dot(flat, flat).astype(xp.float64))


def _where(xp, cond, a, b):
    """``a if cond else b`` for host floats, ``xp.where`` for device 0-d arrays."""
    if type(cond) is bool:
        return a if cond else b
    return xp.where(cond, a, b)


def _factor(x, dtype):
    """A scalar factor ready to multiply arrays of ``dtype``: a Python float already
    is; a device 0-d float64 array is cast (else it would promote the product)."""
    return x if type(x) is float else x.astype(dtype)


class Sgd(Solver):
    """Stochastic gradient descent: w -= lr * g."""

    packable = True  # elementwise

    def __init__(self, lr=0.001):
        super().__init__(lr=lr)

    def _update(self, w, g, s, t):
        w -= self.lr * g


class SgdW(Solver):
    """SGD with momentum and decoupled weight decay (Loshchilov & Hutter, 2019).

    m = momentum * m + lr * g;  w -= m + (lr / lr0) * decay * w.
    """

    packable = True  # elementwise
    _state_names = ("m",)
    _fused, _decay_arg = True, "wd"

    def __init__(self, lr=0.001, momentum=0.9, wd=0.0001):
        super().__init__(lr=lr, momentum=momentum, wd=wd)

    def _update(self, w, g, s, t):
        m = s["m"]
        m *= self.momentum
        m += self.lr * g
        decay = self.lr / self.lr0 * self._decay if self.lr0 else 0.0
        w -= m + decay * w if decay else m


class _MomentumSolver(Solver):
    """A step with one buffer ``m`` per parameter and a momentum (Momentum, Nesterov);
    each rule states ``packable`` itself."""

    _state_names = ("m",)

    def __init__(self, lr=0.001, momentum=0.9):
        super().__init__(lr=lr, momentum=momentum)


class Momentum(_MomentumSolver):
    """SGD with momentum: m = momentum * m + lr * g;  w -= m."""

    packable = True  # elementwise

    def _update(self, w, g, s, t):
        xp, tmp = self.xp, None
        for wc, gc, mc in _chunks(w, g, s["m"]):
            if tmp is None or tmp.shape != gc.shape:
                tmp = xp.empty_like(gc)
            mc *= self.momentum
            xp.multiply(gc, self.lr, out=tmp)
            mc += tmp
            wc -= mc


class Lars(Solver):
    """Layer-wise adaptive rate scaling (You et al., 2017), weight decay fused.

    The local rate lr * coefficient * |w| / (|g| + decay * |w|) scales a
    momentum step on g + decay * w.
    """

    packable = False  # norms of each whole parameter: never packed
    _state_names = ("v",)
    _fused = True

    def __init__(self, lr=0.001, momentum=0.9, coefficient=0.001, eps=1e-06):
        super().__init__(lr=lr, momentum=momentum, coefficient=coefficient, eps=eps)

    def _update(self, w, g, s, t):
        xp, decay, eps = self.xp, self._decay, self.eps
        g_norm, w_norm = _norm(xp, g), _norm(xp, w)
        x = g_norm + decay * w_norm
        x = _where(xp, x < eps, x + eps, x)
        local_lr = _where(xp, w_norm < eps, self.lr, self.lr * self.coefficient * w_norm / x)
        local_lr = _factor(local_lr, w.dtype)
        v = s["v"]
        v *= self.momentum
        v += local_lr * (g + decay * w)
        w -= v


class Nesterov(_MomentumSolver):
    """Nesterov accelerated gradient: m' = mu * m - lr * g;  w += -mu * m + (1 + mu) * m'."""

    packable = True  # elementwise

    def _update(self, w, g, s, t):
        m, mu = s["m"], self.momentum
        w -= mu * m
        m *= mu
        m -= self.lr * g
        w += (1 + mu) * m


class Adadelta(Solver):
    """Adadelta (Zeiler, 2012): steps scaled by RMS(past steps) / RMS(gradients)."""

    packable = True  # elementwise
    _state_names = ("e_sqr_delta", "e_sqr_grad")

    def __init__(self, lr=1.0, decay=0.95, eps=1e-06):
        super().__init__(lr=lr, decay=decay, eps=eps)

    def _update(self, w, g, s, t):
        rho, eps = self.decay, self.eps
        e_g, e_d = s["e_sqr_grad"], s["e_sqr_delta"]
        e_g *= rho
        e_g += (1 - rho) * (g * g)
        delta = self.xp.sqrt((e_d + eps) / (e_g + eps)) * g
        e_d *= rho
        e_d += (1 - rho) * (delta * delta)
        w -= self.lr * delta


class Adagrad(Solver):
    """Adagrad (Duchi et al., 2011): v += g**2;  w -= lr * g / (sqrt(v) + eps)."""

    packable = True  # elementwise
    _state_names = ("v",)

    def __init__(self, lr=0.01, eps=1e-08):
        super().__init__(lr=lr, eps=eps)

    def _update(self, w, g, s, t):
        v = s["v"]
        v += g * g
        w -= self.lr * g / (self.xp.sqrt(v) + self.eps)


class AdaBelief(Solver):
    """AdaBelief (Zhuang et al., 2020): Adam whose second moment tracks (g - m)**2.

    Options: amsgrad (running max of that moment), weight_decouple (decay
    applied to w inside the update, fused; else weight_decay() adds to g),
    fixed_decay (decay not scaled by alpha), rectify (RAdam's variance rectification).
    """

    packable = True  # elementwise
    _lr_name, _decay_arg = "alpha", "wd"

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08, wd=0.0, amsgrad=False,
                 weight_decouple=False, fixed_decay=False, rectify=False):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, wd=wd, amsgrad=amsgrad,
                         weight_decouple=weight_decouple, fixed_decay=fixed_decay,
                         rectify=rectify)
        self._fused = self.weight_decouple
        self._state_names = ("s_max", "mean", "var") if amsgrad else ("var", "mean")

    def _update(self, w, g, s, t):
        b1, b2, eps, alpha = self.beta1, self.beta2, self.eps, self.lr
        m, var = s["mean"], s["var"]
        m *= b1
        m += (1 - b1) * g
        diff = g - m
        var *= b2
        var += (1 - b2) * (diff * diff)
        if self.weight_decouple:
            w *= 1 - (self._decay if self.fixed_decay else self._decay * alpha)
        if self.amsgrad:
            s_hat = s["s_max"]
            self.xp.maximum(s_hat, var, out=s_hat)
            s_hat += eps
        else:
            var += eps
            s_hat = var
        rate = 1.0
        if self.rectify:
            rho_inf = 2 / (1 - b2) - 1
            rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
            if rho_t <= 4:
                w -= alpha * m
                return
            rate = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        alpha_t = alpha * rate / (1 - b1 ** t)
        w -= alpha_t * m / (self.xp.sqrt(s_hat) / math.sqrt(1 - b2 ** t) + eps)


class RMSprop(Solver):
    """RMSprop (Tieleman & Hinton, 2012): v = decay * v + (1 - decay) * g**2."""

    packable = True  # elementwise
    _state_names = ("v",)

    def __init__(self, lr=0.001, decay=0.9, eps=1e-08):
        super().__init__(lr=lr, decay=decay, eps=eps)

    def _update(self, w, g, s, t):
        v = s["v"]
        v *= self.decay
        v += (1 - self.decay) * (g * g)
        w -= self.lr * g / (self.xp.sqrt(v) + self.eps)


class RMSpropGraves(Solver):
    """RMSprop of Graves (2013): normalizes by the running variance of g, with momentum."""

    packable = True  # elementwise
    _state_names = ("g", "d", "n")

    def __init__(self, lr=0.0001, decay=0.95, momentum=0.9, eps=0.0001):
        super().__init__(lr=lr, decay=decay, momentum=momentum, eps=eps)

    def _update(self, w, g, s, t):
        rho = self.decay
        n, g_avg, d = s["n"], s["g"], s["d"]
        n *= rho
        n += (1 - rho) * (g * g)
        g_avg *= rho
        g_avg += (1 - rho) * g
        d *= self.momentum
        d -= self.lr * g / self.xp.sqrt(n - g_avg * g_avg + self.eps)
        w += d


class Adam(Solver):
    """Adam (Kingma & Ba, 2014). mean, var: running moments of g and g**2."""

    packable = True  # elementwise
    _lr_name, _state_names = "alpha", ("var", "mean")

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)

    def _update(self, w, g, s, t):
        _adam(self.xp, w, g, s["mean"], s["var"], self.beta1, self.beta2,
              _adam_rate(self.lr, self.beta1, self.beta2, t), self.eps)


class AdamW(Solver):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), fused.

    w -= alpha_t * m / (sqrt(v) + eps) + (alpha / alpha0) * decay * w.
    """

    packable = True  # elementwise
    _lr_name, _state_names = "alpha", ("var", "mean")
    _fused, _decay_arg = True, "wd"

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08, wd=0.0001):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, wd=wd)

    def _update(self, w, g, s, t):
        m, v = _moments(s, g, self.beta1, self.beta2)
        decay = self.lr / self.lr0 * self._decay if self.lr0 else 0.0
        if decay:  # decoupled decay uses the old w
            w -= decay * w
        _adam_step(self.xp, w, _adam_rate(self.lr, self.beta1, self.beta2, t), m, v, self.eps)


def _bounded_step(self, m, v, alpha_t, t, hi):
    """AdaBound/AMSBound: the per-element rate clipped to [lo, hi] around final_lr."""
    final = self.final_lr * self.lr / self.lr0 if self.lr0 else 0.0
    lo = final * (1 - 1 / (self.gamma * t + 1))
    xp = self.xp
    rate = xp.clip(alpha_t / (xp.sqrt(v) + self.eps), lo, final * hi)
    return rate * m


class AdaBound(Solver):
    """AdaBound (Luo et al., 2019): Adam with a rate bounded towards final_lr."""

    packable = True  # elementwise
    _lr_name, _state_names = "alpha", ("var", "mean")

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08, final_lr=0.1,
                 gamma=0.001):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, final_lr=final_lr,
                         gamma=gamma)

    def _update(self, w, g, s, t):
        m, v = _moments(s, g, self.beta1, self.beta2)
        alpha_t = _adam_rate(self.lr, self.beta1, self.beta2, t)
        w -= _bounded_step(self, m, v, alpha_t, t, 1 + 1 / (self.gamma * t))


class Adamax(Solver):
    """Adamax (Kingma & Ba, 2014): Adam with the infinity norm u = max(beta2 * u, |g|)."""

    packable = True  # elementwise
    _lr_name, _state_names = "alpha", ("u", "m")

    def __init__(self, alpha=0.002, beta1=0.9, beta2=0.999, eps=1e-08):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)

    def _update(self, w, g, s, t):
        m, u = s["m"], s["u"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        u *= self.beta2
        self.xp.maximum(u, self.xp.abs(g), out=u)
        w -= self.lr / (1 - self.beta1 ** t) * m / (u + self.eps)


class AMSGRAD(Solver):
    """AMSGrad (Reddi et al., 2018): Adam normalized by the running max v_hat of v."""

    packable = True  # elementwise
    _lr_name, _state_names = "alpha", ("v_hat", "v", "m")

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08, bias_correction=False):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps,
                         bias_correction=bias_correction)

    def _update(self, w, g, s, t):
        m, v = _moments(s, g, self.beta1, self.beta2, "m", "v")
        v_hat = self.xp.maximum(s["v_hat"], v, out=s["v_hat"])
        alpha_t = (_adam_rate(self.lr, self.beta1, self.beta2, t) if self.bias_correction
                   else self.lr)
        _adam_step(self.xp, w, alpha_t, m, v_hat, self.eps)


class AMSBound(Solver):
    """AMSBound (Luo et al., 2019): AMSGrad with AdaBound's clipping.

    NNabla 1.39's upper bound is final_lr * (1 + t / gamma) (AdaBound divides).
    """

    packable = True  # elementwise
    _lr_name, _state_names = "alpha", ("v_hat", "v", "m")

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08, final_lr=0.1,
                 gamma=0.001, bias_correction=False):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, final_lr=final_lr,
                         gamma=gamma, bias_correction=bias_correction)

    def _update(self, w, g, s, t):
        m, v = _moments(s, g, self.beta1, self.beta2, "m", "v")
        v_hat = self.xp.maximum(s["v_hat"], v, out=s["v_hat"])
        alpha_t = (_adam_rate(self.lr, self.beta1, self.beta2, t) if self.bias_correction
                   else self.lr)
        w -= _bounded_step(self, m, v_hat, alpha_t, t, 1 + t / self.gamma)


class Lamb(Solver):
    """LAMB (You et al., 2020): an Adam direction plus decay, scaled by a trust ratio
    clip(|w|, gamma_l, gamma_u) / |r|, weight decay fused."""
    packable = False  # norms of each whole parameter: never packed

    _lr_name, _state_names = "eta", ("var", "mean")
    _fused = True

    def __init__(self, eta=0.001, beta1=0.9, beta2=0.999, gamma_l=0.0, gamma_u=10.0,
                 eps=1e-06, bias_correction=False):
        super().__init__(eta=eta, beta1=beta1, beta2=beta2, gamma_l=gamma_l, gamma_u=gamma_u,
                         eps=eps, bias_correction=bias_correction)

    def _update(self, w, g, s, t):
        xp = self.xp
        m, v = _moments(s, g, self.beta1, self.beta2)
        c1, c2 = ((1 - self.beta1 ** t, 1 - self.beta2 ** t) if self.bias_correction
                  else (1.0, 1.0))
        r = (m / c1) / (xp.sqrt(v / c2) + self.eps)
        if self._decay:
            r += self._decay * w
        w_norm, r_norm = _norm(xp, w), _norm(xp, r)
        phi = _where(xp, w_norm < self.gamma_l, self.gamma_l, w_norm)
        phi = _where(xp, phi > self.gamma_u, self.gamma_u, phi)
        big = r_norm > self.eps
        ratio = _where(xp, big, phi / _where(xp, big, r_norm, 1.0), 1.0)
        w -= _factor(self.lr * ratio, w.dtype) * r


class Lion(Solver):
    """Lion (Chen et al., 2023): step by the sign of an interpolated momentum, decay fused."""

    packable = True  # elementwise
    _state_names = ("m",)
    _fused = True

    def __init__(self, lr=0.0001, beta1=0.9, beta2=0.99):
        super().__init__(lr=lr, beta1=beta1, beta2=beta2)

    def _update(self, w, g, s, t):
        m = s["m"]
        u = self.xp.sign(self.beta1 * m + (1 - self.beta1) * g)
        m *= self.beta2
        m += (1 - self.beta2) * g
        if self._decay:
            u += self._decay * w
        w -= self.lr * u
