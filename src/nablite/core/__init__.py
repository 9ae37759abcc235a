"""Object-oriented models (NNabla's ``nnabla.core``): ``module.Module``,
``sequential.Sequential`` and the example blocks of ``modules``."""
