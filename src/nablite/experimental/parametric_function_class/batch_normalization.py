"""Batch normalization layer as an object."""
from ... import functions as F
from ...initializer import ConstantInitializer
from .module import Module, parameter

__all__ = ["BatchNormalization", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class BatchNormalization(Module):
    r"""Batch normalization over all axes but ``axes[0]``:

    .. math::
        y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \gamma + \beta

    with batch statistics while training (updating the running ``mean`` and
    ``var`` by ``decay_rate``) and the running ones when called with ``test=True``.

    Args:
        n_features (int): Size of axis ``axes[0]``.
        n_dims (int): Number of dimensions of the input.
        axes (list of one int): The channel axis.
        decay_rate (float): Decay of the running statistics.
        eps (float): Added to the variance.
        batch_stat (bool): Unused (``__call__``'s ``test`` decides), as in NNabla.
        output_stat (bool): Also return the batch mean and variance.
        fix_parameters (bool): Create beta and gamma with need_grad=False.
        param_init (dict): Initializers or arrays for 'beta', 'gamma', 'mean', 'var'
            (defaults 0, 1, 0, 1).

    Attributes: ``beta``, ``gamma`` (trainable), ``mean``, ``var`` (need_grad=False),
    all of shape (1, ..., n_features, ..., 1).
    """

    def __init__(self, n_features, n_dims, axes=[1], decay_rate=0.9, eps=1e-5,
                 batch_stat=True, output_stat=False, fix_parameters=False, param_init=None):
        name = type(self).__name__
        axes = list(axes)
        if len(axes) != 1:
            raise ValueError(f"{name}: axes must hold exactly one axis, got {axes}")
        if not -n_dims <= axes[0] < n_dims:
            raise ValueError(f"{name}: axes[0]={axes[0]} is out of range for n_dims={n_dims}")
        shape = [1] * n_dims
        shape[axes[0]] = n_features
        init = dict(param_init or {})
        unknown = set(init) - {"beta", "gamma", "mean", "var"}
        if unknown:
            raise ValueError(f"{name}: param_init keys must be 'beta', 'gamma', 'mean' or "
                             f"'var', got {sorted(unknown)}")
        defaults = {"beta": 0, "gamma": 1, "mean": 0, "var": 1}

        def make(key, need_grad):
            value = init.get(key, ConstantInitializer(defaults[key]))
            return parameter(name, f"param_init[{key!r}]", value, shape, need_grad)

        self.beta = make("beta", not fix_parameters)
        self.gamma = make("gamma", not fix_parameters)
        self.mean = make("mean", False)
        self.var = make("var", False)
        self.axes = axes
        self.decay_rate = decay_rate
        self.eps = eps
        self.output_stat = output_stat

    def __call__(self, inp, test=False):
        return F.batch_normalization(inp, self.beta, self.gamma, self.mean, self.var, self.axes,
                                     self.decay_rate, self.eps, not test, self.output_stat)


class BatchNorm1d(BatchNormalization):
    """BatchNormalization for 3-d inputs (B, C, L). NNabla 1.39 ignores this
    class's ``eps`` (always 1e-5); nablite uses it."""

    def __init__(self, n_features, axes=[1], decay_rate=0.9, eps=1e-5, batch_stat=True,
                 output_stat=False, fix_parameters=False, param_init=None):
        super().__init__(n_features, 3, axes, decay_rate, eps, batch_stat, output_stat,
                         fix_parameters, param_init)


class BatchNorm2d(BatchNormalization):
    """BatchNormalization for 4-d inputs (B, C, H, W); ``eps`` as in BatchNorm1d."""

    def __init__(self, n_features, axes=[1], decay_rate=0.9, eps=1e-5, batch_stat=True,
                 output_stat=False, fix_parameters=False, param_init=None):
        super().__init__(n_features, 4, axes, decay_rate, eps, batch_stat, output_stat,
                         fix_parameters, param_init)


class BatchNorm3d(BatchNormalization):
    """BatchNormalization for 5-d inputs (B, C, D, H, W); ``eps`` as in BatchNorm1d."""

    def __init__(self, n_features, axes=[1], decay_rate=0.9, eps=1e-5, batch_stat=True,
                 output_stat=False, fix_parameters=False, param_init=None):
        super().__init__(n_features, 5, axes, decay_rate, eps, batch_stat, output_stat,
                         fix_parameters, param_init)
