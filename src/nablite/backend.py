"""Array backends. The only module that imports cupy.

Functions never import numpy or cupy to compute: the engine hands them ``xp``,
the array module of the context they run in.
"""
import numpy

try:  # CPU-only installs are the normal case.
    import cupy  # type: ignore
except Exception:  # ImportError, or a CUDA runtime that fails to load
    cupy = None


def array_module(*arrays):
    """numpy, or cupy if any of ``arrays`` lives on a GPU."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return numpy


def module_for(backend_name):
    """'cpu' -> numpy; 'cuda' / 'cudnn' -> cupy (a clear error when it is missing)."""
    if backend_name == "cpu":
        return numpy
    if cupy is None:
        raise RuntimeError(
            f"context backend '{backend_name}' needs CuPy and a CUDA GPU, and CuPy "
            "is not importable here. Install it with `pip install nablite[gpu]` "
            "(cupy-cuda12x) on a machine with an NVIDIA driver, or use "
            "get_extension_context('cpu').")
    return cupy


def to_numpy(a):
    """A host (numpy) copy or view of ``a``."""
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return a


def scatter_add(xp, target, index, values):
    """target[index] += values, adding repeated indices (np.add.at / cupyx)."""
    if xp is numpy:
        numpy.add.at(target, index, values)
    else:  # pragma: no cover - GPU only
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target
