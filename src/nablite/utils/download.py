"""NNabla's ``nnabla.utils.download`` module: :func:`download` into the local
data home and :func:`get_data_home` (implemented in
:mod:`nablite.utils._data_download`; :mod:`nablite.utils.data_source_loader`
exports the same two)."""
from ._data_download import download, get_data_home

__all__ = ["download", "get_data_home"]
