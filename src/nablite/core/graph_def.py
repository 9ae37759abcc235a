"""``nnabla.core.graph_def``: where NNabla keeps :mod:`nablite.graph_def`."""
from ..graph_def import *  # noqa: F401,F403
from ..graph_def import __all__  # noqa: F401
