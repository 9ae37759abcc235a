"""Shared machinery of the parametric functions.

The :func:`parametric_function_api` decorator (runs a layer in its sub-scope and
adds ``name=``), parameter creation (``_param``, ``_bias``, ``_weight_and_bias``),
default initializers (``_glorot``), axis/channel helpers and ``_into``, which lets
a function output keep its values in a stored parameter. ``get_parameter`` and
``get_parameter_or_create`` are re-exported here, as NNabla's PF module does.
"""
import functools
import inspect

from ..initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from ..parameter import get_parameter, get_parameter_or_create, parameter_scope

__all__ = ["parametric_function_api", "get_parameter_or_create", "get_parameter"]


def parametric_function_api(scope_name=None, param_desc=None):
    """Decorator: run the function in ``parameter_scope(scope_name)`` and add ``name=None``.

    With ``name`` given, the scope becomes ``name/scope_name``. ``param_desc``
    (a list of (name, description, shape, need_grad)) is kept for documentation.
    """
    def decorator(func):
        scope = scope_name or func.__name__
        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        kinds = [p.kind for p in params]
        # As in NNabla, ``name`` follows the function's own arguments, so it may
        # also be given by position (after all of them); not after a *args.
        n_pos = sum(k in (inspect.Parameter.POSITIONAL_ONLY,
                          inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds)
        by_position = inspect.Parameter.VAR_POSITIONAL not in kinds

        @functools.wraps(func)
        def wrapped(*args, name=None, **kwargs):
            if by_position and len(args) == n_pos + 1 and name is None:
                args, name = args[:n_pos], args[n_pos]
            with parameter_scope(scope if name is None else f"{name}/{scope}"):
                return func(*args, **kwargs)

        if by_position:
            params.insert(n_pos, inspect.Parameter(
                "name", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
        else:  # keyword-only, before a **kwargs
            at = len(params) - (inspect.Parameter.VAR_KEYWORD in kinds)
            params.insert(at, inspect.Parameter(
                "name", inspect.Parameter.KEYWORD_ONLY, default=None))
        wrapped.__signature__ = sig.replace(parameters=params)
        wrapped.param_desc = param_desc
        return wrapped
    return decorator


def _param(name, shape, init, fix_parameters, need_grad=True):
    """A trainable parameter as the graph should see it (no gradient when fixed)."""
    return get_parameter_or_create(name, tuple(int(s) for s in shape), init, need_grad,
                                   not fix_parameters)


def _bias(name, shape, init, fix_parameters, with_bias):
    if not with_bias:
        return None
    return _param(name, shape, init if init is not None else ConstantInitializer(), fix_parameters)


def _weight_and_bias(w_shape, w_init, b_shape, b_init, fix_parameters, with_bias,
                     apply_w=None, apply_b=None):
    """``W`` and ``b`` (None without bias) of a layer, each passed through its apply_* hook."""
    w = _param("W", w_shape, w_init, fix_parameters)
    if apply_w is not None:
        w = apply_w(w)
    b = _bias("b", b_shape, b_init, fix_parameters, with_bias)
    if b is not None and apply_b is not None:
        b = apply_b(b)
    return w, b


def _glorot(inmaps, outmaps, kernel, rng):
    return UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, tuple(kernel)), rng=rng)


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _channels(inp, base_axis, channel_last):
    return inp.shape[-1] if channel_last else inp.shape[_axis(base_axis, inp.ndim)]


def _conv_filters(inp, outmaps, kernel, group, channel_last, base_axis, w_init, rng):
    """A convolution's filter shape, (outmaps, C/group, *kernel) or channel-last
    (outmaps, *kernel, C/group), and its initializer (default Glorot uniform)."""
    c = _channels(inp, base_axis, channel_last)
    if w_init is None:
        w_init = _glorot(c, outmaps, kernel, rng)
    shape = ((outmaps,) + kernel + (c // group,) if channel_last
             else (outmaps, c // group) + kernel)
    return shape, w_init


def _into(y, param):
    """Let the function output ``y`` keep its values in ``param``'s array (NNabla's
    ``outputs=[param.data]``); persistent, so clearing buffers keeps it."""
    if y.data._arr is not None:  # computed already, under auto_forward
        param.d = y.d
    y.data = param.data
    y.persistent = True
    return y
