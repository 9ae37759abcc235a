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
            "is not importable here. Install it with pip install \"nablite[cuda13]\" "
            "(or \"nablite[cuda12]\") on a machine with an NVIDIA driver, or use "
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


def _keep_freed_memory():
    """Make glibc keep freed arrays up to 32 MB for reuse instead of unmapping them.

    By default glibc serves a large allocation with a fresh mmap and returns it to
    the system when freed (or trims the heap top), so every training step
    page-faults all its activations and gradients back in: 5-20% of a step's
    time (W5: 36.7 -> 31.0 ms, W6: 275 -> 238 ms; peak RSS unchanged), the cost
    that caching allocators (NNabla's, PyTorch's) avoid. Fixed thresholds keep
    arrays below 32 MB on the heap and leave up to 256 MB of freed heap mapped.
    Process-wide, on glibc only; set NABLITE_MALLOC_TUNING=0 to leave malloc alone.
    """
    import ctypes
    import os
    import sys
    if not sys.platform.startswith("linux") or os.environ.get("NABLITE_MALLOC_TUNING") == "0":
        return
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc, not musl
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 256 << 20)


_keep_freed_memory()
