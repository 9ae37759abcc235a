"""``nnabla_ext.cuda``: ``context(type_config='float', device_id='0')`` on CuPy and
the device helpers; importing it without CuPy or a GPU raises ImportError."""
from ... import backend
from .._module import helpers

try:
    backend.module_for("cuda")
except RuntimeError as e:  # as NNabla's, where its CUDA extension cannot load
    if backend.cupy is None:  # the missing package named, as for any extra's
        raise ModuleNotFoundError(f"nnabla_ext.cuda: {e}", name="cupy") from None
    raise ImportError(f"nnabla_ext.cuda: {e}") from None

globals().update(helpers("cuda", ["CudaCachedArray", "CudaArray"]))
__all__ = ["context", "array_classes", "synchronize", "device_synchronize", "get_devices",
           "get_device_count", "clear_memory_cache"]
