"""Would compiled fused batch-norm + ReLU kernels pay for Numba? (issue 16)

    python benchmarks/bn_relu_probe.py [--rounds 21] [--wall]

W6 runs batch normalization (batch statistics) followed by ReLU on every
convolution's output, in nablite as separate NumPy passes (functions/
normalization.py, activation.py): forward about 9 passes over the tensor,
backward about 10. This prototype does each direction as one Numba loop per
channel over W6's batch-last memory (a channel's H*W*N values are contiguous
and fit in L2, so its two or three sweeps read memory once), checks it against
the same NumPy passes nablite makes, and prints both times per W6 shape.
Times are the main thread's CPU time (``time.thread_time``) unless ``--wall``.
Needs Numba. Nothing here is used by nablite: it measures a change for
normalization.py / graph.py (see benchmarks/results/conv_winograd.md).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import median_ms, timings  # noqa: E402

try:
    import numba
except ImportError:
    sys.exit("bn_relu_probe: needs Numba (pip install numba)")


# fastmath: lets the sums be vectorized (reassociated); float32 coefficients keep
# the sweeps in float32 (a float64 scalar would convert every element).
@numba.njit(cache=True, nogil=True, fastmath=True)
def bn_relu_forward(x, gamma, beta, eps, y, mean, inv_std):
    """x, y (C, M): y = max(gamma (x - mean) / sqrt(var + eps) + beta, 0) per row."""
    c_, m_ = x.shape
    for c in range(c_):
        s = 0.0  # float64 sums
        for k in range(m_):
            s += x[c, k]
        mu = s / m_
        q = 0.0
        for k in range(m_):
            d = x[c, k] - mu
            q += d * d
        inv = 1.0 / np.sqrt(q / m_ + eps)
        mean[c], inv_std[c] = mu, inv
        ab = np.empty(2, x.dtype)
        ab[0] = gamma[c] * inv
        ab[1] = beta[c] - ab[0] * mu
        a, b = ab[0], ab[1]
        for k in range(m_):
            v = a * x[c, k] + b
            y[c, k] = v if v > 0 else 0


# fastmath: lets the sums be vectorized (reassociated); float32 coefficients keep
# the sweeps in float32 (a float64 scalar would convert every element).
@numba.njit(cache=True, nogil=True, fastmath=True)
def bn_relu_backward(gy, y, x, gamma, mean, inv_std, gx, gbeta, ggamma):
    """Gradients of bn_relu_forward: the ReLU mask from y, then batch norm's."""
    c_, m_ = x.shape
    for c in range(c_):
        mu, inv = mean[c], inv_std[c]
        s1 = 0.0
        s2 = 0.0
        for k in range(m_):
            if y[c, k] > 0:
                g = gy[c, k]
                s1 += g
                s2 += g * (x[c, k] - mu)
        s2 *= inv
        gbeta[c], ggamma[c] = s1, s2
        # gx = a g - b - x d, in float32: a = gamma/std, b = a (s1/n - mu d'), ...
        k4 = np.empty(3, x.dtype)
        k4[0] = gamma[c] * inv
        k4[1] = k4[0] * (s1 / m_ - mu * s2 * inv / m_)
        k4[2] = k4[0] * s2 * inv / m_
        a, b, d = k4[0], k4[1], k4[2]
        zero = k4[0] - k4[0]
        for k in range(m_):
            g = gy[c, k] if y[c, k] > 0 else zero
            gx[c, k] = a * g - b - x[c, k] * d


def numpy_forward(x, gamma, beta, eps):
    """nablite's passes: batch_normalization's _standardize, then relu."""
    mean = x.mean(axis=1, keepdims=True)
    y = x - mean
    var = np.einsum("ck,ck->c", y, y).reshape(-1, 1) * (1 / x.shape[1])
    inv_std = 1 / np.sqrt(var + eps)
    y *= inv_std * gamma
    y += beta
    return np.maximum(y, 0), mean, inv_std


def numpy_backward(gy, y, x, gamma, mean, inv_std):
    """relu's backward (mask from its output), then _standardize_backward's passes."""
    g = gy * (y > 0)
    n = x.shape[1]
    x_hat = (x - mean) * inv_std
    s1 = g.sum(axis=1, keepdims=True)
    s2 = np.einsum("ck,ck->c", g, x_hat).reshape(-1, 1)
    gx = x_hat
    gx *= s2 * (1 / n)
    gx += s1 * (1 / n)
    np.subtract(g, gx, out=gx)
    gx *= gamma * inv_std
    return gx, s1, s2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--wall", action="store_true")
    opts = ap.parse_args()
    clock = time.perf_counter if opts.wall else time.thread_time
    rng = np.random.RandomState(0)
    print("| shape (N, C, H, W) | forward NumPy ms | fused ms | speed-up "
          "| backward NumPy ms | fused ms | speed-up | max rel. diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, c, hw in [(64, 16, 32), (64, 32, 16), (64, 64, 8)]:
        m = hw * hw * n
        x = rng.randn(c, m).astype(np.float32)  # batch-last: (C, H*W*N)
        gamma = rng.rand(c, 1).astype(np.float32) + 0.5
        beta = rng.randn(c, 1).astype(np.float32)
        gy = rng.randn(c, m).astype(np.float32)
        y = np.empty_like(x)
        gx = np.empty_like(x)
        mean = np.empty(c, np.float32)
        inv = np.empty(c, np.float32)
        gb = np.empty(c, np.float32)
        gg = np.empty(c, np.float32)
        eps = 1e-5
        g1, b1 = gamma.ravel(), beta.ravel()
        bn_relu_forward(x, g1, b1, eps, y, mean, inv)
        y0, mean0, inv0 = numpy_forward(x, gamma, beta, eps)
        bn_relu_backward(gy, y, x, g1, mean, inv, gx, gb, gg)
        gx0, _, _ = numpy_backward(gy, y0, x, gamma, mean0, inv0)
        diff = max(np.abs(y - y0).max() / np.abs(y0).max(), np.abs(gx - gx0).max() / np.abs(gx0).max())
        runs = {"f": lambda: numpy_forward(x, gamma, beta, eps),
                "F": lambda: bn_relu_forward(x, g1, b1, eps, y, mean, inv),
                "b": lambda: numpy_backward(gy, y0, x, gamma, mean0, inv0),
                "B": lambda: bn_relu_backward(gy, y, x, g1, mean, inv, gx, gb, gg)}
        t = median_ms(timings(runs, opts.rounds, clock))
        print(f"| ({n}, {c}, {hw}, {hw}) | {t['f']:.2f} | {t['F']:.2f} | {t['f'] / t['F']:.1f}x "
              f"| {t['b']:.2f} | {t['B']:.2f} | {t['b'] / t['B']:.1f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
