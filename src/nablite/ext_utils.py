"""Extension contexts: get_extension_context('cpu' | 'cuda' | 'cudnn')."""
import warnings

from .context import Context, add_available_context

# 'double' is nablite's own (NNabla refuses it): float64 data computes in float64
_TYPE_CONFIGS = {
    "cpu": {"float": ["cpu:float"], "half": ["cpu:half", "cpu:float"],
            "double": ["cpu:double", "cpu:float"]},
    "cuda": {"float": ["cuda:float", "cpu:float"], "double": ["cuda:double", "cpu:double"],
             "half": ["cuda:half", "cuda:float", "cpu:float"],
             "mixed_half": ["cuda:mixed_half", "cuda:float", "cpu:float"]},
    "cudnn": {"float": ["cudnn:float", "cuda:float", "cpu:float"],
              "double": ["cudnn:double", "cuda:double", "cpu:double"],
              "half": ["cudnn:half", "cudnn:float", "cuda:half", "cuda:float", "cpu:float"],
              "mixed_half": ["cudnn:mixed_half", "cudnn:half", "cudnn:float",
                             "cuda:mixed_half", "cuda:half", "cuda:float", "cpu:float"]},
}


def list_extensions():
    """Names of the usable extensions: 'cpu', plus 'cuda' and 'cudnn' with CuPy."""
    from . import backend
    usable = backend.cupy is not None or backend.device_sim_enabled()
    return ["cpu"] + (["cuda", "cudnn"] if usable else [])


def import_extension_module(ext_name):
    """Check that ``ext_name`` is usable and return this module (the CPU/CuPy switch)."""
    get_extension_context(ext_name)
    import sys
    return sys.modules[__name__]


def get_extension_context(ext_name, **kw):
    """The Context for 'cpu', 'cuda' or 'cudnn' with ``type_config`` and ``device_id``.

    CUDA contexts need CuPy and a GPU; without them this raises
    ``backend.DeviceUnavailableError`` (an ImportError, as NNabla's, and a
    RuntimeError) saying what is missing, instead of silently running on the CPU.
    """
    if ext_name == "cuda.cudnn":
        warnings.warn("'cuda.cudnn' is deprecated; use 'cudnn'", DeprecationWarning, stacklevel=2)
        ext_name = "cudnn"
    if ext_name not in _TYPE_CONFIGS:
        raise ValueError(f"get_extension_context: ext_name must be one of 'cpu', 'cuda', "
                         f"'cudnn'; got {ext_name!r}")
    type_config = kw.get("type_config", "float")
    configs = _TYPE_CONFIGS[ext_name]
    if type_config not in configs:
        raise ValueError(f"get_extension_context: type_config for '{ext_name}' must be one of "
                         f"{sorted(configs)}; got {type_config!r}")
    if ext_name == "cpu":
        return Context(configs[type_config], "CpuCachedArray", "")
    from . import backend
    device_id = str(kw.get("device_id", "0"))
    try:  # says whether CuPy or a GPU is missing, and the fix; or that the id is none
        backend.device_index(ext_name, device_id)
    except (RuntimeError, ValueError) as e:
        raise type(e)(f"get_extension_context('{ext_name}'): {e}") from None
    add_available_context(ext_name)
    return Context(configs[type_config], "CudaCachedArray", device_id)


def synchronize(**kw):
    """Wait until the GPU has finished the work queued so far (for timing), as
    NNabla's extension modules' ``synchronize(device_id=...)``; a no-op on the
    CPU and on the simulated device."""
    from . import backend
    backend.synchronize(device_id=kw.get("device_id"))


def device_synchronize(device):
    """``synchronize`` for one device id (NNabla's name; one GPU per process here)."""
    synchronize(device_id=device)


def get_devices():
    """The ids of the devices the extension runs on, as strings (NNabla's): the
    GPUs with CuPy and a GPU, else the CPU's one, ['0']."""
    from . import backend
    if backend.cupy is not None and not backend.gpu_problem():
        return [str(i) for i in range(backend.cupy.cuda.runtime.getDeviceCount())]
    return ["0"]


def get_device_count():
    """``len(get_devices())``."""
    return len(get_devices())


def clear_memory_cache():
    """Give the GPU memory CuPy's pools keep for reuse back to the device (NNabla's
    name for its cache); nothing to do on the CPU."""
    from . import backend
    if backend.cupy is not None and not backend.gpu_problem():
        backend.cupy.get_default_memory_pool().free_all_blocks()
        backend.cupy.get_default_pinned_memory_pool().free_all_blocks()
