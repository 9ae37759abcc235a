"""nablite.functions: NNabla's functions (imported as ``F``).

Each module holds one NNabla category; this file only re-exports them.
"""
from .arithmetic import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .logical import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .array import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .stochastic import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .validation import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .spatial import *  # noqa: F401,F403
from .signal import *  # noqa: F401,F403
from .quantized import *  # noqa: F401,F403
from .detection import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .deformable import *  # noqa: F401,F403
from .onnx import *  # noqa: F401,F403
from ..graph import get_auto_forward  # noqa: F401
from ..context import get_current_context  # noqa: F401
from . import (arithmetic, math, activation, logical, reduction, array, linalg, indexing,
               layers, pooling, normalization, stochastic, loss, validation, recurrent, special,
               spatial, signal, quantized, detection, attention, deformable, onnx)

__all__ = [name for m in (arithmetic, math, activation, logical, reduction, array, linalg,
                          indexing, layers, pooling, normalization, stochastic, loss, validation,
                          recurrent, special, spatial, signal, quantized, detection,
                          attention, deformable, onnx)
           for name in m.__all__]
