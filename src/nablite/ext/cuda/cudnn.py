"""``nnabla_ext.cuda.cudnn``: ``context()`` of the 'cudnn' extension."""
from .._module import helpers

globals().update(helpers("cudnn", ["CudaCachedArray", "CudaArray"]))
__all__ = ["context", "array_classes", "synchronize", "device_synchronize", "get_devices",
           "get_device_count", "clear_memory_cache"]
