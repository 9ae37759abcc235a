"""The toy spiral data set of the CS231n "putting it together" example.

``K`` arms of ``N`` points each in 2-D: point ``i`` of arm ``j`` sits at
radius ``r = i / (N-1)`` and angle ``t = 4j + 4i/(N-1) + 0.2 * noise``
(standard normal noise), at ``(r sin t, r cos t)``. The classes are not
linearly separable, which makes it a good first test for a small MLP.
"""
import numpy as np

__all__ = ["make_spiral"]


def make_spiral(n_per_class=100, n_classes=3, seed=0, noise=0.2):
    """Generate the spiral data.

    Args:
        n_per_class (int): Points per class (N).
        n_classes (int): Number of classes / arms (K).
        seed (None or int): Seed of the ``numpy.random.RandomState`` that
            draws the angle noise (``None``: unseeded).
        noise (float): Standard deviation of the angle noise.

    Returns:
        tuple: ``X`` float32 (N*K, 2) and ``y`` int32 (N*K,), class ``j``
        occupying rows ``j*N .. (j+1)*N - 1``.
    """
    for name, v in (("n_per_class", n_per_class), ("n_classes", n_classes)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"make_spiral: {name} must be a positive int, "
                             f"got {v!r}")
    rng = np.random.RandomState(seed)
    n = int(n_per_class)
    X = np.zeros((n * n_classes, 2), dtype=np.float32)
    y = np.zeros(n * n_classes, dtype=np.int32)
    r = np.linspace(0.0, 1.0, n)
    for j in range(n_classes):
        rows = slice(n * j, n * (j + 1))
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.randn(n) * noise
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return X, y
