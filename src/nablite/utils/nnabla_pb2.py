"""NNabla's ``nnabla.utils.nnabla_pb2``: the NNablaProtoBuf messages.

This module is ``nablite.nnabla_pb2`` (generated from nnabla.proto) under
NNabla's path, so ``from nnabla.utils import nnabla_pb2`` in a script run with
``nablite run`` gets the same message classes nablite reads and writes files
with. Importing it needs protobuf (``pip install "nablite[io]"``); nothing
imports it unless asked.
"""
import sys

from .._nnp.proto import pb2

# Bind NNabla's name to the generated module itself (not a copy of its names),
# so messages made through either path are one class.
sys.modules[__name__] = pb2()
