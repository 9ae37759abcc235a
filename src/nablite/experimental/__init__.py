"""Experimental APIs (NNabla's ``nnabla.experimental``): ``parametric_function_class``."""
