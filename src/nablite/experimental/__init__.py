"""Experimental APIs (NNabla's ``nnabla.experimental``): ``parametric_function_class``
(layers as objects), ``viewers`` (graph drawings) and ``graph_converters``
(batch-norm folding, channel layouts, ... on built graphs)."""
