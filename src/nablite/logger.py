"""The ``nablite`` logger (NNabla's ``nnabla.logger``).

As in NNabla, ``nablite.logger`` is this ``logging.Logger`` object, not the
module: ``import nablite.logger as logger``, ``from nablite.logger import
logger`` and ``nablite.logger`` all give it, so ``logger.info(...)`` works
(under ``nablite run`` with ``nnabla`` in place of ``nablite`` too).
"""
import logging

logger = logging.getLogger("nablite")
