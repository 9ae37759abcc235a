"""The ``nablite`` logger (NNabla's ``nnabla.logger``)."""
import logging

logger = logging.getLogger("nablite")
