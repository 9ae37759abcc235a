"""Array backends. The only module that imports cupy.

Functions compute with the ``xp`` the engine hands them, the array module of
the context they run in, never with numpy itself: tests/test_xp_only.py reads
every forward and backward and fails on a host NumPy call or a host-to-device
copy that its short allow-list does not explain (the host generator's random
draws, the CPU-only Winograd path). Where NumPy and CuPy differ, a named helper
here says how, and functions call it instead of testing ``xp is numpy``:
``on_host`` (values free to read, CPU-tuned paths), ``to_numpy`` / ``to_device``
(explicit copies), ``scatter_add`` and ``sum_at`` (repeated indices add up),
``stable_argsort`` (ties keep their order), ``refuses_out_of_range`` (IndexError
or silent wrapping).

Device simulation (``use_device_sim(True)``, or ``NABLITE_DEVICE_SIM=1`` in the
environment) makes the 'cuda' / 'cudnn' contexts run on ``_device_sim.xp``: a
NumPy-backed module whose arrays refuse to mix with host NumPy as CuPy's do,
so the device code path can be tested on a machine without a GPU.
"""
import os

import numpy

from . import _device_sim

try:  # CPU-only installs are the normal case.
    import cupy  # type: ignore
except Exception:  # ImportError, or a CUDA runtime that fails to load
    cupy = None

_sim = os.environ.get("NABLITE_DEVICE_SIM", "") not in ("", "0")
_gpu_problem = None  # why CuPy cannot use a GPU here ("" when it can), found once


def use_device_sim(on=True):
    """Run the 'cuda' / 'cudnn' contexts on the simulated device (True) or on
    CuPy (False). New functions pick it up; existing ones keep their module."""
    global _sim
    _sim = bool(on)


def device_sim_enabled():
    """Whether the 'cuda' / 'cudnn' contexts run on the simulated device."""
    return _sim


def array_module(*arrays):
    """numpy, or the device module (cupy, the simulated device) of the first
    of ``arrays`` that lives on a device."""
    for a in arrays:
        if type(a) is _device_sim.DeviceArray:
            return _device_sim.xp
        if cupy is not None and isinstance(a, cupy.ndarray):
            return cupy
    return numpy


def is_device_array(a):
    """Whether ``a`` is a device array (CuPy's or the simulated device's)."""
    return type(a) is _device_sim.DeviceArray or (cupy is not None and isinstance(a, cupy.ndarray))


class DeviceUnavailableError(ModuleNotFoundError, RuntimeError):
    """A 'cuda'/'cudnn' context without CuPy or without a GPU: an ImportError, as
    NNabla raises where its CUDA extension cannot load (so that ``except
    ImportError:`` falls back to the CPU), and a RuntimeError, as before."""


def module_for(backend_name):
    """'cpu' -> numpy; 'cuda' / 'cudnn' -> cupy, or the simulated device when
    device simulation is on. Without CuPy, or without a usable GPU, the error
    says which and how to fix it."""
    if backend_name == "cpu":
        return numpy
    if _sim:
        return _device_sim.xp
    if cupy is None:
        raise DeviceUnavailableError(
            f"context backend '{backend_name}' needs CuPy and a CUDA GPU, and CuPy "
            "is not importable here. Install it with pip install \"nablite[cuda13]\" "
            "(or \"nablite[cuda12]\" for CUDA 12) on a machine with an NVIDIA driver, "
            "or use get_extension_context('cpu'). (NABLITE_DEVICE_SIM=1 simulates a "
            "device on the CPU, for tests.)")
    problem = gpu_problem()
    if problem:
        raise DeviceUnavailableError(
            f"context backend '{backend_name}' needs a CUDA GPU: CuPy is installed, but "
            f"{problem}. Check the NVIDIA driver (nvidia-smi) and that the CuPy package "
            "matches the CUDA version (nablite[cuda13] or nablite[cuda12]), or use "
            "get_extension_context('cpu').")
    return cupy


def gpu_problem():
    """Why CuPy (imported) cannot use a GPU here, "" when it can; found once."""
    return _gpu_problem if _gpu_problem is not None else _find_gpu_problem()


def _find_gpu_problem():
    global _gpu_problem
    try:
        n = cupy.cuda.runtime.getDeviceCount()
        _gpu_problem = "" if n > 0 else "it finds no GPU (device count 0)"
    except Exception as e:  # noqa: BLE001 - CUDARuntimeError, a missing libcuda, ...
        _gpu_problem = f"it finds no usable GPU ({type(e).__name__}: {e})"
    return _gpu_problem


def device_index(backend_name, device_id):
    """``device_id`` ('0', 1, ...) as the index of a GPU of this machine, for the
    'cuda' / 'cudnn' module; the error names the id given and the ids there are."""
    xp = module_for(backend_name)
    count = xp.cuda.runtime.getDeviceCount()
    try:
        index = int(str(device_id).strip() or "0")
    except ValueError:
        index = None
    if index is None or not 0 <= index < count:
        raise ValueError(f"device_id={device_id!r} is not a GPU of this machine: expected an "
                         f"integer in 0..{count - 1} ({count} GPU{'s' * (count != 1)} found)")
    return index


def select_device(ctx):
    """Make ``ctx``'s GPU (its device_id) the current device of its array module,
    where CuPy makes new arrays and runs kernels, and return the context whose
    device was current before (to restore); None when there is nothing to select
    (the CPU, or the GPU already current: a scope per call then switches nothing)."""
    if ctx.backend_name == "cpu":
        return None
    xp = module_for(ctx.backend_name)
    previous = xp.cuda.Device().id
    index = device_index(ctx.backend_name, ctx.device_id)
    if index == previous:
        return None
    xp.cuda.Device(index).use()
    return previous


def restore_device(backend_name, previous):
    """Make GPU ``previous`` (from select_device) current again."""
    if previous is not None:
        module_for(backend_name).cuda.Device(previous).use()


def to_numpy(a, out=None):
    """A host (numpy) copy of a device array, or ``a`` itself when it is on the
    host already; a device array is copied into ``out`` when that is given."""
    if type(a) is _device_sim.DeviceArray:
        return a.get(out=out)
    if cupy is not None and isinstance(a, cupy.ndarray):
        return a.get(out=out)
    return a


def to_device(xp, a):
    """``a`` on ``xp``'s side: a host copy for numpy, a device copy (or ``a``
    itself when it is there already) for a device module."""
    if xp is numpy:
        return to_numpy(a)
    return xp.asarray(a)


def on_host(xp):
    """Whether ``xp`` computes on the host (NumPy). There a value can be read for
    free and the paths tuned for CPU caches apply (blocked convolution, Winograd,
    pooling in batch blocks, softmax by rows); on a device reading one waits for
    the device and copies, so device code decides with ``where``, not ``if``."""
    return xp is numpy


def stable_argsort(xp, a, axis=-1):
    """argsort keeping the order of ties: NumPy needs kind='stable'; CuPy's
    argsort is always stable, and older CuPy refuses the ``kind`` argument."""
    return xp.argsort(a, axis=axis, kind="stable") if xp is numpy else xp.argsort(a, axis=axis)


def sum_at(xp, size, index, values):
    """(size,) float64 sums of ``values`` at integer ``index`` (repeats add up).
    NumPy: one bincount (much faster than np.add.at); on a device a scatter-add,
    as bincount there sizes its result from max(index), read back to the host."""
    if xp is numpy:
        return numpy.bincount(index, weights=values, minlength=size)
    return scatter_add(xp, xp.zeros(size, dtype=xp.float64), index, values.astype(xp.float64))


def refuses_out_of_range(xp):
    """Whether indexing with ``xp`` raises IndexError for an index past the end
    (NumPy). CuPy wraps it silently, so callers must check the bounds first."""
    return xp is numpy


def scatter_add(xp, target, index, values):
    """target[index] += values, adding repeated indices (np.add.at / cupyx)."""
    if xp is cupy and cupy is not None:  # pragma: no cover - GPU only
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:  # numpy, and the simulated device's ufuncs
        xp.add.at(target, index, values)
    return target


def synchronize(xp=None, device_id=None):
    """Wait until the device has finished the work queued so far (for timing):
    CuPy's current device, or GPU ``device_id``; nothing to wait for on the CPU
    or the simulated device."""
    if cupy is not None and (xp is None or xp is cupy):
        if not gpu_problem():  # without a usable GPU nothing ran there
            index = None if device_id is None else device_index("cuda", device_id)
            cupy.cuda.Device(index).synchronize()


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
