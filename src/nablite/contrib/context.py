"""``nnabla.contrib.context.extension_context``: the API NNabla scripts used before
``nnabla.ext_utils.get_extension_context``; it logs NNabla's deprecation warning."""
from ..ext_utils import get_extension_context
from ..logger import logger


def extension_context(extension_name="cpu", **kw):
    """``get_extension_context(extension_name, **kw)``, with a warning in the log."""
    logger.warning("Deprecated API. Use `nnabla.ext_util.get_extension_context(ext_name, **kw)`.")
    return get_extension_context(extension_name, **kw)
