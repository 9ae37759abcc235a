"""Normalization layers: batch (plain, fused, sync), layer, instance and group
normalization, mean subtraction, weight normalization and spectral norm."""
from .. import functions as F
from ..functions.distributed import sync_batch_normalization as sync_bn
from ..initializer import ConstantInitializer, NormalInitializer
from ..parameter import get_parameter_or_create
from ._api import _axis, _param, parametric_function_api

__all__ = ["batch_normalization", "fused_batch_normalization", "sync_batch_normalization",
           "layer_normalization", "instance_normalization", "group_normalization",
           "mean_subtraction", "weight_normalization", "spectral_norm"]


def _stat_shape(inp, axes):
    """1 everywhere except the ``axes``, which keep the input's size."""
    axes = [axes] if isinstance(axes, int) else list(axes)
    shape = [1] * inp.ndim
    for a in axes:
        shape[_axis(a, inp.ndim)] = inp.shape[_axis(a, inp.ndim)]
    return shape


def _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias):
    param_init = param_init or {}
    beta = None if no_bias else _param(
        "beta", shape, param_init.get("beta", ConstantInitializer(0)), fix_parameters)
    gamma = None if no_scale else _param(
        "gamma", shape, param_init.get("gamma", ConstantInitializer(1)), fix_parameters)
    return beta, gamma


def _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias):
    shape = _stat_shape(inp, axes)
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    param_init = param_init or {}
    mean = get_parameter_or_create("mean", shape, param_init.get("mean", ConstantInitializer(0)),
                                   False)
    var = get_parameter_or_create("var", shape, param_init.get("var", ConstantInitializer(1)),
                                  False)
    return beta, gamma, mean, var


@parametric_function_api("bn")
def batch_normalization(inp, axes=[1], decay_rate=0.9, eps=1e-05, batch_stat=True,
                        output_stat=False, fix_parameters=False, param_init=None, no_scale=False,
                        no_bias=False):
    """Batch normalization with ``bn/beta`` (0), ``bn/gamma`` (1) and the running
    statistics ``bn/mean`` (0), ``bn/var`` (1), all of shape 1 except at ``axes``.

    Args:
        inp (Variable): Input.
        axes (list of int): Axes that keep their own statistics (channels).
        decay_rate (float): Running-statistics decay.
        eps (float): Added to the variance.
        batch_stat (bool): Normalize with the batch statistics and update the
            running ones (training); else use the running ones (inference).
        output_stat (bool): Also return the batch mean and variance.
        fix_parameters (bool): No gradient for beta and gamma.
        param_init (dict): Initializers keyed 'beta', 'gamma', 'mean', 'var'.
        no_scale, no_bias (bool): Leave out gamma / beta.

    Returns:
        Variable: Normalized output (and mean, variance if output_stat).
    """
    beta, gamma, mean, var = _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias)
    return F.batch_normalization(inp, beta, gamma, mean, var, axes, decay_rate, eps, batch_stat,
                                 output_stat)


@parametric_function_api("bn")
def fused_batch_normalization(inp, z=None, axes=[1], decay_rate=0.9, eps=1e-05, batch_stat=True,
                              nonlinearity='relu', output_stat=False, fix_parameters=False,
                              param_init=None, no_scale=False, no_bias=False):
    """Batch normalization, plus the residual ``z`` if given, then ReLU, in one function.

    Parameters and arguments as :func:`batch_normalization`.
    """
    beta, gamma, mean, var = _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias)
    return F.fused_batch_normalization(inp, beta, gamma, mean, var, z, axes, decay_rate, eps,
                                       batch_stat, nonlinearity, output_stat)


@parametric_function_api("bn")
def sync_batch_normalization(inp, comm, group='world', axes=[1], decay_rate=0.9, eps=1e-05,
                             batch_stat=True, output_stat=False, fix_parameters=False,
                             param_init=None, no_scale=False, no_bias=False):
    """Batch normalization with statistics shared by the processes of ``comm``.

    Parameters as :func:`batch_normalization` (``bn/beta``, ``bn/gamma``,
    ``bn/mean``, ``bn/var``). The batch statistics are those of the batch
    spread over the ranks of ``comm``'s ``group`` (with one process, or
    ``comm=None``, the layer equals :func:`batch_normalization`); see
    :func:`nablite.functions.distributed.sync_batch_normalization`.

    Args:
        inp (Variable): Input.
        comm: A communicator of ``nablite.communicators``, or None for one process.
        group (str): Communicator group whose processes share the statistics.
        axes, decay_rate, eps, batch_stat, output_stat, fix_parameters, param_init,
        no_scale, no_bias: As in :func:`batch_normalization`.

    Returns:
        Variable: Normalized output (and mean, variance if output_stat).

    Example::

        h = PF.sync_batch_normalization(h, comm=None, name="bn1")
    """
    beta, gamma, mean, var = _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias)
    return sync_bn(inp, beta, gamma, mean, var, comm, group, axes, decay_rate, eps,
                   batch_stat, output_stat)


@parametric_function_api("layer_normalization")
def layer_normalization(inp, batch_axis=0, eps=1e-05, output_stat=False, fix_parameters=False,
                        param_init=None, no_scale=False, no_bias=False):
    """Layer normalization with ``beta``/``gamma`` shaped like ``inp`` with the batch
    axes set to 1 (e.g. (4, 3, 2, 2) -> (1, 3, 2, 2))."""
    batch_axes = [batch_axis] if isinstance(batch_axis, int) else list(batch_axis)
    shape = list(inp.shape)
    for a in batch_axes:
        shape[_axis(a, inp.ndim)] = 1
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    return F.layer_normalization(inp, beta, gamma, batch_axis, eps, output_stat)


@parametric_function_api("instance_normalization")
def instance_normalization(inp, channel_axis=1, batch_axis=0, eps=1e-05, output_stat=False,
                           fix_parameters=False, param_init=None, no_scale=False, no_bias=False):
    """Instance normalization with ``beta``/``gamma`` of shape 1 except the channel axis."""
    shape = _stat_shape(inp, [channel_axis])
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    return F.instance_normalization(inp, beta, gamma, channel_axis, batch_axis, eps, output_stat)


@parametric_function_api("group_normalization")
def group_normalization(inp, num_groups, channel_axis=1, batch_axis=0, eps=1e-05,
                        output_stat=False, fix_parameters=False, param_init=None, no_scale=False,
                        no_bias=False):
    """Group normalization with ``beta``/``gamma`` of shape 1 except the channel axis."""
    shape = _stat_shape(inp, [channel_axis])
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    return F.group_normalization(inp, beta, gamma, num_groups, channel_axis, batch_axis, eps,
                                 output_stat)


@parametric_function_api("mean_subtraction")
def mean_subtraction(inp, base_axis=1, update_running_mean=True, fix_parameters=False):
    """Subtract a running mean ``mean_subtraction/mean`` (inp.shape[base_axis:]),
    counted by ``mean_subtraction/t`` (1,)."""
    mean = get_parameter_or_create("mean", inp.shape[_axis(base_axis, inp.ndim):],
                                   ConstantInitializer(0), False)
    t = get_parameter_or_create("t", (1,), ConstantInitializer(0), False)
    return F.mean_subtraction(inp, mean, t, base_axis=base_axis,
                              update_running_mean=update_running_mean)


@parametric_function_api("wn")
def weight_normalization(w, dim=0, eps=1e-12, g_init=None, fix_parameters=False):
    """Weight normalization g * w / |w| with the scale ``wn/g`` (w.shape[dim],),
    initialized to the norm of ``w`` so the result starts equal to ``w``."""
    from ..initializer import WeightNormalizationScaleInitializer
    if g_init is None:
        g_init = WeightNormalizationScaleInitializer(w, dim, eps)
    g = _param("g", (w.shape[dim],), g_init, fix_parameters)
    return F.weight_normalization(w, g, dim, eps=eps)


@parametric_function_api("spectral-norm")
def spectral_norm(w, dim=0, itr=1, eps=1e-12, test=False, u_init=None, fix_parameters=True):
    """Spectral normalization w / sigma(w), with the power-iteration vector
    ``spectral-norm/u`` (w.shape[dim],) drawn from N(0, 1) and updated by each forward."""
    if u_init is None:
        u_init = NormalInitializer()
    u = get_parameter_or_create("u", (w.shape[dim],), u_init, False, False)
    return F.spectral_norm(w, u, dim, itr, eps, test)
