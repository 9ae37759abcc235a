"""NNabla's ``nnabla.utils.nnp_format``: the version of the .nnp layout.

An .nnp file is a zip of ``nnp_version.txt`` (this version), the network in
protobuf text (``*.nntxt``) and the parameters (``*.h5`` or ``*.protobuf``);
see nablite._nnp.files, which writes and reads it.
"""
from .._nnp.files import NNP_VERSION

__all__ = ["nnp_version"]


def nnp_version():
    """The version string nablite (as NNabla 1.39) writes into nnp_version.txt."""
    return NNP_VERSION.strip()
