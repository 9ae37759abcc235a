"""What every extension module holds (NNabla's names), for one extension name."""
from .. import ext_utils


def helpers(ext_name, array_classes):
    """The module-level functions of extension ``ext_name``."""
    def context(type_config="float", **kw):
        """The Context of this extension (``get_extension_context``)."""
        return ext_utils.get_extension_context(ext_name, type_config=type_config, **kw)

    def classes():
        """The array classes this extension's contexts use."""
        return list(array_classes)

    return {"context": context, "array_classes": classes,
            "synchronize": ext_utils.synchronize,
            "device_synchronize": ext_utils.device_synchronize,
            "get_devices": ext_utils.get_devices,
            "get_device_count": ext_utils.get_device_count,
            "clear_memory_cache": ext_utils.clear_memory_cache}
