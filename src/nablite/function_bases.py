"""NNabla's ``nnabla.function_bases``: the functions under their raw names.

NNabla generates one raw function per Function type here and re-exports most
of them unchanged as ``nnabla.functions``; so this module gives nablite's
``functions`` under the same names. Where NNabla's raw function differs from
its ``functions`` wrapper, the raw form is here: ``patch_correlation`` reads
and writes channel-last arrays (the wrapper adds ``channel_last``).
"""
from . import functions as _F
from .functions import *  # noqa: F401,F403

__all__ = list(_F.__all__)


def patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1),
                      shift_step=(1, 1), padding=(0, 0, 0, 0), n_outputs=-1, outputs=None):
    """F.patch_correlation on channel-last inputs (N, H, W, C), as NNabla's raw
    function computes it."""
    return _F.patch_correlation(x1, x2, patch, shift, patch_step, shift_step, padding,
                                channel_last=True)
