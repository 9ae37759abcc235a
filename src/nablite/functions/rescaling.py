"""Normalization by a norm rather than by statistics: norm_normalization
(x / ||x||_p over axes) and the weight reparametrizations weight_normalization
and spectral_norm.

(Standardizing normalizations - batch, layer, instance, group, tensor - are in
normalization.py.)
"""
from .base import Function, normalize_axes, require, named

__all__ = ["norm_normalization", "weight_normalization", "spectral_norm"]


class NormNormalization(Function):
    """y = x / max(||x||_p, eps), the p-norm taken over ``axes``."""

    def __init__(self, p=2, axes=None, eps=1e-12):
        self.p, self.axes, self.eps = p, axes, eps

    def setup(self, x):
        require(self, self.p > 0, f"p={self.p} must be positive")
        self._red = normalize_axes(self, self.axes, len(x), "axes")
        return x

    def forward(self, xp, x):
        a = xp.abs(x)
        norm = ((a ** self.p).sum(axis=self._red, keepdims=True)) ** (1 / self.p)
        return x / xp.maximum(norm, self.eps)

    def backward(self, xp, xs, ys, gys):
        x, gy, p = xs[0], gys[0], self.p
        a = xp.abs(x)
        norm = ((a ** p).sum(axis=self._red, keepdims=True)) ** (1 / p)
        big = norm > self.eps
        denom = xp.maximum(norm, self.eps)
        dn = xp.sign(x) * a ** (p - 1) / xp.where(big, norm, 1) ** (p - 1)
        inner = (gy * x).sum(axis=self._red, keepdims=True)
        return (gy / denom - big * inner / (denom * denom) * dn,)


class WeightNormalization(Function):
    """w_wn = g * w / sqrt(sum of w**2 over all axes but ``dim`` + eps)."""

    def __init__(self, dim=0, eps=1e-12):
        self.dim, self.eps = dim, eps

    def setup(self, w, g):
        require(self, -len(w) <= self.dim < len(w), f"dim={self.dim} is out of range for w {w}")
        self._dim = self.dim % len(w)
        require(self, g == (w[self._dim],), f"g has shape {g}, expected ({w[self._dim]},)")
        self._red = tuple(i for i in range(len(w)) if i != self._dim)
        self._bshape = tuple(s if i == self._dim else 1 for i, s in enumerate(w))
        return w

    def forward(self, xp, w, g):
        inv = 1 / xp.sqrt((w * w).sum(axis=self._red, keepdims=True) + self.eps)
        return w * (g.reshape(self._bshape) * inv)

    def backward(self, xp, xs, ys, gys):
        w, g = xs
        gy = gys[0]
        inv = 1 / xp.sqrt((w * w).sum(axis=self._red, keepdims=True) + self.eps)
        dot = (gy * w).sum(axis=self._red, keepdims=True)
        gg = (dot * inv).reshape(g.shape) if self.need[1] else None
        gw = g.reshape(self._bshape) * inv * (gy - w * dot * inv * inv) if self.need[0] else None
        return gw, gg


class SpectralNorm(Function):
    """w / sigma, sigma the largest singular value of w (``dim`` first, the rest flattened),
    estimated by ``itr`` power iterations from ``u``; test=False updates u in place."""

    integer_inputs = (1,)  # u: the power iteration's vector, written in place

    def __init__(self, dim=0, itr=1, eps=1e-12, test=False, output_u=False):
        self.dim, self.itr, self.eps, self.test, self.output_u = dim, itr, eps, test, output_u

    @property
    def recomputable(self):  # in training each forward moves u one power iteration on
        return self.test

    @property
    def writes_inputs(self):
        return () if self.test else (1,)

    def setup(self, w, u):
        require(self, -len(w) <= self.dim < len(w), f"dim={self.dim} is out of range for w {w}")
        self._dim = self.dim % len(w)
        require(self, u == (w[self._dim],), f"u has shape {u}, expected ({w[self._dim]},)")
        require(self, self.itr >= 1, f"itr={self.itr} must be at least 1")
        return [w, u] if self.output_u else w

    def _matrix(self, xp, w):
        return xp.moveaxis(w, self._dim, 0).reshape(w.shape[self._dim], -1)

    def forward(self, xp, w, u):
        wm = self._matrix(xp, w)
        u_new = u
        for _ in range(self.itr):
            v = wm.T @ u_new
            v = v / xp.sqrt((v * v).sum() + self.eps)
            u_new = wm @ v
            u_new = u_new / xp.sqrt((u_new * u_new).sum() + self.eps)
        u_in = u.copy() if self.output_u else None  # NNabla outputs u as it came in
        if not self.test:
            u[...] = u_new  # NNabla keeps the power iteration going across calls
        self._u, self._v = u_new, v
        self._sigma = sigma = u_new @ wm @ v
        y = w / sigma
        return (y, u_in) if self.output_u else y

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        w, gy = xs[0], gys[0]
        sigma, u, v = self._sigma, self._u, self._v
        # d sigma / d W = u v^T (u, v held constant), mapped back to w's layout.
        uv = xp.outer(u, v).reshape((w.shape[self._dim],) + tuple(
            s for i, s in enumerate(w.shape) if i != self._dim))
        uv = xp.moveaxis(uv, 0, self._dim)
        return gy / sigma - (gy * w).sum() / (sigma * sigma) * uv, None


@named
def norm_normalization(x, p=None, axes=None, eps=1e-12):
    """y = x / max(||x||_p, eps) with the p-norm (default 2) over ``axes`` (default all)."""
    return NormNormalization(2 if p is None else p, axes, eps)(x)


@named
def weight_normalization(w, g, dim=0, eps=1e-12, n_outputs=-1, outputs=None):
    """Weight normalization: w_wn = g * w / ||w||, the norm over all axes but ``dim``."""
    return WeightNormalization(dim, eps)(w, g)


@named
def spectral_norm(w, u, dim=0, itr=1, eps=1e-12, test=False, output_u=False):
    """Spectral normalization w / sigma(w) by ``itr`` power iterations from ``u``
    (``u`` is updated in place unless ``test``; with ``test`` sigma still comes from
    the iterations). ``output_u`` also returns u as it was before this forward, as
    NNabla does. The gradient holds u and v constant; u gets none."""
    return SpectralNorm(dim, itr, eps, test, output_u)(w, u)
