"""``nnabla_ext.cpu``: ``context(type_config='float')`` and the device helpers."""
from ._module import helpers

globals().update(helpers("cpu", ["CpuCachedArray", "CpuArray"]))
__all__ = ["context", "array_classes", "synchronize", "device_synchronize", "get_devices",
           "get_device_count", "clear_memory_cache"]
