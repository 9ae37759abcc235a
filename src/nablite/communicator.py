"""``nnabla.communicator``: NNabla's second name for :mod:`nablite.communicators`."""
from .communicators import *  # noqa: F401,F403
from .communicators import __all__  # noqa: F401
