"""Normalization functions: forward vs NumPy, gradients vs central differences,
running statistics, errors."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn, uniform

def standardize(x, red, eps):
    mean = x.mean(axis=red, keepdims=True)
    var = x.var(axis=red, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), mean, var


def ref_bn(x, beta, gamma, mean, variance, axes=[1], decay_rate=0.9, eps=1e-5, batch_stat=True,
           output_stat=False):
    red = tuple(i for i in range(x.ndim) if i not in axes)
    if batch_stat:
        x_hat, m, v = standardize(x, red, eps)
    else:
        x_hat, m, v = (x - mean) / np.sqrt(variance + eps), mean, variance
    y = x_hat * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    return (y, m, v) if output_stat else y


def bn_case(shape, axes):
    stat = tuple(s if i in axes else 1 for i, s in enumerate(shape))
    return [randn(*shape), randn(*stat, seed=1), randn(*stat, seed=2),
            randn(*stat, seed=3), uniform(0.5, 1.5, stat, seed=4)]


BN_CASES = [
    ((4, 3), [1], {}),
    ((4, 3, 2, 2), [1], {}),
    ((2, 3, 4), [2], dict(eps=1e-3)),
    ((3, 2, 2, 3), [1, 3], {}),
    ((4, 3, 2, 2), [1], dict(batch_stat=False)),
    ((4, 3, 2, 2), [1], dict(output_stat=True)),
    ((5, 2), [1], dict(batch_stat=False, output_stat=False)),
]


@pytest.mark.parametrize("shape,axes,kw", BN_CASES)
def test_batch_normalization(shape, axes, kw):
    inputs = bn_case(shape, axes)
    check_function(F.batch_normalization, inputs, ref=ref_bn, kwargs=dict(axes=axes, **kw),
                   grad=[0, 1, 2])


@pytest.mark.parametrize("drop", ["beta", "gamma", "both"])
def test_batch_normalization_without_beta_gamma(drop):
    x, beta, gamma, mean, var = bn_case((4, 3, 2), [1])
    beta = None if drop in ("beta", "both") else beta
    gamma = None if drop in ("gamma", "both") else gamma
    grad = [0] + [i for i, a in ((1, beta), (2, gamma)) if a is not None]
    check_function(F.batch_normalization, [x, beta, gamma, mean, var], ref=ref_bn, grad=grad)


def test_running_statistics_update_in_place():
    x = randn(6, 3, 2, 2).astype(np.float32)
    beta, gamma = np.zeros((1, 3, 1, 1), np.float32), np.ones((1, 3, 1, 1), np.float32)
    mean = nn.Variable.from_numpy_array(np.full((1, 3, 1, 1), 0.5, np.float32))
    var = nn.Variable.from_numpy_array(np.full((1, 3, 1, 1), 2.0, np.float32))
    mean_arr = mean.d
    y = F.batch_normalization(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(beta),
                              nn.Variable.from_numpy_array(gamma), mean, var, decay_rate=0.8)
    y.forward()
    n = 6 * 2 * 2
    bm, bv = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(mean.d, 0.8 * 0.5 + 0.2 * bm, rtol=1e-5)
    np.testing.assert_allclose(var.d, 0.8 * 2.0 + 0.2 * bv * n / (n - 1), rtol=1e-5)
    assert mean.d is mean_arr and mean.d.dtype == np.float32 and y.d.dtype == np.float32
    y.forward()  # each forward updates again
    np.testing.assert_allclose(mean.d, 0.8 * (0.8 * 0.5 + 0.2 * bm) + 0.2 * bm, rtol=1e-5)


def test_running_statistics_without_update_when_batch_stat_false():
    x, beta, gamma, mean, var = [nn.Variable.from_numpy_array(a.astype(np.float32))
                                 for a in bn_case((4, 3), [1])]
    before = mean.d.copy(), var.d.copy()
    F.batch_normalization(x, beta, gamma, mean, var, batch_stat=False).forward()
    np.testing.assert_array_equal(mean.d, before[0])
    np.testing.assert_array_equal(var.d, before[1])


def test_mean_variance_get_no_gradient():
    x, beta, gamma, mean, var = [nn.Variable.from_numpy_array(a) for a in bn_case((4, 3), [1])]
    for v in (x, mean, var):
        v.need_grad = True
    mean.g = 0
    var.g = 0
    y = F.batch_normalization(x, beta, gamma, mean, var)
    y.forward()
    y.backward(randn(4, 3))
    assert not mean.g.any() and not var.g.any()


def ref_fused(x, beta, gamma, mean, variance, z=None, **kw):
    y = ref_bn(x, beta, gamma, mean, variance, **kw)
    return np.maximum(y + (0 if z is None else z), 0)


@pytest.mark.parametrize("with_z,kw", [(False, {}), (True, {}), (True, dict(batch_stat=False))])
def test_fused_batch_normalization(with_z, kw):
    inputs = bn_case((4, 3, 2), [1])
    ys = ref_fused(*[a.copy() for a in inputs], **kw)
    z = randn(4, 3, 2, seed=9)
    z = z + np.where(np.abs(ys + z) < 0.05, 0.2, 0) if with_z else None  # away from the kink
    inputs.append(z)
    grad = [0, 1, 2] + ([5] if with_z else [])
    check_function(F.fused_batch_normalization, inputs, ref=ref_fused, kwargs=kw, grad=grad,
                   atol=1e-5, grad_atol=2e-4)


def ref_layer(x, beta, gamma, batch_axis=0, eps=1e-5, output_stat=False):
    red = tuple(i for i in range(x.ndim) if i not in np.atleast_1d(batch_axis))
    x_hat, m, v = standardize(x, red, eps)
    y = x_hat * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    return (y, m, v) if output_stat else y


def ref_instance(x, beta, gamma, channel_axis=1, batch_axis=0, eps=1e-5, output_stat=False):
    keep = list(np.atleast_1d(batch_axis)) + [channel_axis]
    red = tuple(i for i in range(x.ndim) if i not in keep)
    x_hat, m, v = standardize(x, red, eps)
    y = x_hat * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    return (y, m, v) if output_stat else y


def ref_group(x, beta, gamma, num_groups, channel_axis=1, batch_axis=0, eps=1e-5,
              output_stat=False):
    b, c = x.shape[:2]
    xv = x.reshape((b, num_groups, c // num_groups) + x.shape[2:])
    x_hat, m, v = standardize(xv, tuple(range(2, xv.ndim)), eps)
    y = x_hat.reshape(x.shape) * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    return (y, m, v) if output_stat else y


def ref_tensor(x, axes, beta=None, gamma=None, eps=1e-5, output_stat=False):
    red = tuple(i for i in range(x.ndim) if i not in axes)
    x_hat, m, v = standardize(x, red, eps)
    y = x_hat * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    return (y, m, v) if output_stat else y


def ref_ws(w, channel_axis=0, eps=1e-5, output_stat=False):
    red = tuple(i for i in range(w.ndim) if i != channel_axis)
    y, m, v = standardize(w, red, eps)
    return (y, m, v) if output_stat else y


def tensor_normalization_bg(x, beta, gamma, **kw):
    """F.tensor_normalization with beta and gamma as inputs by position, as the
    tables (and the fuzz, tests/test_bad_input_fuzz.py) pass inputs."""
    return F.tensor_normalization(x, beta=beta, gamma=gamma, **kw)


tensor_normalization_bg.__name__ = "tensor_normalization"  # the fuzz reports it by name

CASES = [
    (F.layer_normalization, [randn(4, 3, 2), randn(1, 3, 2, seed=1), randn(1, 3, 2, seed=2)],
     ref_layer, {}),
    (F.layer_normalization, [randn(4, 5), None, randn(1, 5, seed=2)], ref_layer,
     dict(output_stat=True)),
    (F.layer_normalization, [randn(2, 3, 4), randn(1, 1, 4, seed=1), None], ref_layer,
     dict(batch_axis=[0, 1])),
    (F.instance_normalization, [randn(2, 3, 2, 2), randn(1, 3, 1, 1, seed=1),
                                randn(1, 3, 1, 1, seed=2)], ref_instance, {}),
    (F.instance_normalization, [randn(2, 3, 4), None, None], ref_instance,
     dict(output_stat=True)),
    (F.group_normalization, [randn(2, 4, 3), randn(1, 4, 1, seed=1), randn(1, 4, 1, seed=2)],
     ref_group, dict(num_groups=2)),
    (F.group_normalization, [randn(2, 6, 2, 2), None, randn(1, 6, 1, 1, seed=2)], ref_group,
     dict(num_groups=3, output_stat=True)),
    (F.tensor_normalization, [randn(4, 3, 2)], lambda x, **k: ref_tensor(x, **k),
     dict(axes=[1])),
    (tensor_normalization_bg, [randn(4, 3, 2), randn(1, 3, 1, seed=1), randn(1, 3, 1, seed=2)],
     lambda x, b, g, **k: ref_tensor(x, beta=b, gamma=g, **k), dict(axes=[1], output_stat=True)),
    (F.weight_standardization, [randn(4, 3, 2)], ref_ws, {}),
    (F.weight_standardization, [randn(3, 5)], ref_ws, dict(channel_axis=1, output_stat=True)),
]


@pytest.mark.parametrize("f,inputs,ref,kw", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_standardizations(f, inputs, ref, kw):
    check_function(f, inputs, ref=ref, kwargs=kw)


def test_group_normalization_stat_shape():
    m = F.group_normalization(nn.Variable((2, 4, 3, 3)), None, None, 2, output_stat=True)[1]
    assert m.shape == (2, 2, 1, 1, 1)


def ref_norm_normalization(x, p=None, axes=None, eps=1e-12):
    p = 2 if p is None else p
    red = tuple(range(x.ndim)) if axes is None else tuple(axes)
    n = (np.abs(x) ** p).sum(axis=red, keepdims=True) ** (1 / p)
    return x / np.maximum(n, eps)


@pytest.mark.parametrize("kw", [{}, dict(p=1, axes=[1]), dict(p=3, axes=[0, 2])])
def test_norm_normalization(kw):
    x = randn(3, 4, 2)
    x = np.where(np.abs(x) < 0.05, 0.1, x)
    check_function(F.norm_normalization, [x], ref=ref_norm_normalization, kwargs=kw)


def test_weight_normalization():
    def ref(w, g, dim=0, eps=1e-12):
        red = tuple(i for i in range(w.ndim) if i != dim)
        shape = [1] * w.ndim
        shape[dim] = -1
        return g.reshape(shape) * w / np.sqrt((w * w).sum(axis=red, keepdims=True) + eps)
    check_function(F.weight_normalization, [randn(4, 3, 2), uniform(0.5, 2, (4,))], ref=ref)
    check_function(F.weight_normalization, [randn(4, 3, 2), uniform(0.5, 2, (3,))], ref=ref,
                   kwargs=dict(dim=1, eps=1e-4))


def power_iteration(w, u, dim, itr, eps=1e-12):
    wm = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    for _ in range(itr):
        v = wm.T @ u
        v = v / np.sqrt((v * v).sum() + eps)
        u = wm @ v
        u = u / np.sqrt((u * u).sum() + eps)
    return u, v, u @ wm @ v


def test_spectral_norm_forward_and_u_update():
    w, u0 = randn(4, 3, 2), randn(3, seed=1)
    u = nn.Variable.from_numpy_array(u0.copy())
    y, u_out = F.spectral_norm(nn.Variable.from_numpy_array(w), u, dim=1, itr=2, output_u=True)
    y.forward()
    u_want, _, sigma = power_iteration(w, u0, 1, 2)
    np.testing.assert_allclose(y.d, w / sigma, rtol=1e-6)
    np.testing.assert_allclose(u.d, u_want, rtol=1e-6)  # updated in place
    u2 = nn.Variable.from_numpy_array(u0.copy())
    F.spectral_norm(nn.Variable.from_numpy_array(w), u2, dim=1, itr=2, test=True).forward()
    np.testing.assert_array_equal(u2.d, u0)  # test=True leaves u alone


def test_spectral_norm_gradient_holds_u_v_constant():
    w, u0 = randn(3, 4), randn(3, seed=1)
    wv = nn.Variable.from_numpy_array(w, need_grad=True)
    y = F.spectral_norm(wv, nn.Variable.from_numpy_array(u0.copy()), itr=3)
    y.forward()
    gy = randn(3, 4, seed=2)
    wv.g = 0
    y.backward(gy)
    u, v, sigma = power_iteration(w, u0, 0, 3)
    want = gy / sigma - (gy * w).sum() / sigma ** 2 * np.outer(u, v)
    np.testing.assert_allclose(wv.g, want, rtol=1e-6, atol=1e-8)


def test_mean_subtraction():
    x = randn(4, 3)
    xv = nn.Variable.from_numpy_array(x, need_grad=True)
    rmean = nn.Variable.from_numpy_array(np.zeros(3))
    t = nn.Variable.from_numpy_array(np.zeros(1))
    y = F.mean_subtraction(xv, rmean, t)
    y.forward()
    y.forward()
    assert t.d[0] == 2
    np.testing.assert_allclose(rmean.d, x.mean(0))
    np.testing.assert_allclose(y.d, x - x.mean(0))
    gy = randn(4, 3, seed=1)
    xv.g = 0
    y.backward(gy)
    np.testing.assert_allclose(xv.g, gy * (1 - 1 / (2 * 4)))  # NNabla's gradient
    y2 = F.mean_subtraction(xv, rmean, t, update_running_mean=False)
    y2.forward()
    assert t.d[0] == 2
    xv.g = 0
    y2.backward(gy)
    np.testing.assert_allclose(xv.g, gy)


def test_fused_batch_normalization_grad_graph_equals_backward():
    """nn.grad through fused batch normalization has the ReLU and z (its
    composite was plain batch normalization's)."""
    rng = np.random.RandomState(0)
    xd, zd = rng.randn(2, 3, 2, 2) * 2, rng.randn(2, 3, 2, 2)
    bd, gd, dy = rng.randn(1, 3, 1, 1), rng.randn(1, 3, 1, 1), rng.randn(2, 3, 2, 2)
    for with_z in (False, True):
        x, b, g = [nn.Variable.from_numpy_array(a.astype(np.float32), need_grad=True)
                   for a in (xd, bd, gd)]
        stats = [nn.Variable.from_numpy_array(a) for a in
                 (np.zeros((1, 3, 1, 1), np.float32), np.ones((1, 3, 1, 1), np.float32))]
        z = nn.Variable.from_numpy_array(zd.astype(np.float32), need_grad=True) if with_z \
            else None
        y = F.fused_batch_normalization(x, b, g, *stats, z)
        y.forward()
        wrt = [x, b, g] + ([z] if with_z else [])
        for v in wrt:
            v.grad.zero()
        y.backward(dy.astype(np.float32))
        want = [v.g.copy() for v in wrt]
        grads = nn.grad([y], wrt, grad_outputs=[dy.astype(np.float32)])
        F.sink(*grads).forward()
        assert np.abs(want[1]).max() > 0.1  # the ReLU cuts some, not all
        for got, w in zip(grads, want):
            np.testing.assert_allclose(got.d, w, rtol=1e-4, atol=1e-5)


@pytest.mark.host_context  # NNabla's 'float' context, where float64 computes in float32
def test_state_held_in_float64_is_updated_and_becomes_float32():
    """Running statistics given as float64 arrays (``v.d = np.zeros(...)``) are
    updated, as NNabla updates them: the stored array becomes float32 (the
    float32 copy forward computed in was thrown away)."""
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.randn(4, 3, 2, 2).astype(np.float32))
    beta = nn.Variable.from_numpy_array(np.zeros((1, 3, 1, 1), np.float32))
    gamma = nn.Variable.from_numpy_array(np.ones((1, 3, 1, 1), np.float32))
    mean, var = nn.Variable((1, 3, 1, 1)), nn.Variable((1, 3, 1, 1))
    mean.d, var.d = np.zeros((1, 3, 1, 1)), np.ones((1, 3, 1, 1))
    F.batch_normalization(x, beta, gamma, mean, var, batch_stat=True).forward()
    xs = x.d.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(mean.d.ravel(), 0.1 * xs.mean(1), rtol=1e-5)
    np.testing.assert_allclose(var.d.ravel(), 0.9 + 0.1 * xs.var(1, ddof=1), rtol=1e-5)
    assert mean.d.dtype == np.float32 and var.d.dtype == np.float32
    rm, t = nn.Variable((3, 2, 2)), nn.Variable((1,))
    rm.d, t.d = np.zeros((3, 2, 2)), np.array([3])
    F.mean_subtraction(x, rm, t).forward()
    np.testing.assert_allclose(rm.d, x.d.mean(0) / 4, rtol=1e-5)
    assert t.d[0] == 4


@pytest.mark.parametrize("base_axis,stat_shape", [(0, (2, 3, 4)), (-1, (4,)), (-2, (3, 4)),
                                                  (-3, (2, 3, 4))])
def test_mean_subtraction_base_axis_zero_and_negative(base_axis, stat_shape):
    """base_axis counts from the end when negative; 0 is one sample (x itself
    is the mean), as NNabla accepts."""
    x = randn(2, 3, 4)
    rmean = nn.Variable.from_numpy_array(np.zeros(stat_shape, np.float32))
    t = nn.Variable.from_numpy_array(np.zeros(1, np.float32))
    y = F.mean_subtraction(nn.Variable.from_numpy_array(x), rmean, t, base_axis)
    y.forward()
    batch = tuple(range(3 - len(stat_shape)))
    np.testing.assert_allclose(rmean.d, x.mean(batch), rtol=1e-6)
    np.testing.assert_allclose(y.d, x - x.mean(batch), atol=1e-6)


def test_batch_normalization_axes_may_be_an_int():
    x = randn(4, 3, 2)
    vs = [nn.Variable.from_numpy_array(a) for a in
          (x, np.zeros((1, 3, 1)), np.ones((1, 3, 1)), np.zeros((1, 3, 1)), np.ones((1, 3, 1)))]
    y, y1 = F.batch_normalization(*vs, axes=1), F.batch_normalization(*vs, axes=[1])
    F.sink(y, y1).forward()
    np.testing.assert_array_equal(y.d, y1.d)
    assert y.parent.info.args["axes"] == [1]


def test_a_refusal_is_a_value_error_and_a_runtime_error():
    """NNabla raises RuntimeError where nablite's functions refuse their inputs;
    the error is both, so either except clause catches it."""
    from nablite.function import FunctionError
    with pytest.raises(RuntimeError, match="MeanSubtraction: mean has shape"):
        F.mean_subtraction(nn.Variable((2, 3)), nn.Variable((4,)), nn.Variable((1,)))
    assert issubclass(FunctionError, ValueError) and issubclass(FunctionError, RuntimeError)


def test_clip_grad_edge_cases_as_nnabla():
    """min > max: above max gives max, else below min gives min; clip_norm <= 0
    scales as any other (NNabla refuses neither)."""
    x = nn.Variable.from_numpy_array(np.zeros(4, np.float32), need_grad=True)
    lo = nn.Variable.from_numpy_array(np.array([-1, 2, 2, 2], np.float32))
    hi = nn.Variable.from_numpy_array(np.ones(4, np.float32))
    y = F.clip_grad_by_value(x, lo, hi)
    y.forward()
    x.g = 0
    y.backward(np.array([-5, -5, 1.5, 5], np.float32))
    np.testing.assert_array_equal(x.g, [-1, 2, 1, 1])
    y = F.clip_grad_by_norm(x, clip_norm=-5.0)
    y.forward()
    x.g = 0
    y.backward(np.array([3, 4, 0, 0], np.float32))
    np.testing.assert_allclose(x.g, [-3, -4, 0, 0])


def test_clip_grad_by_value_and_norm():
    x = nn.Variable.from_numpy_array(randn(2, 3), need_grad=True)
    lo = nn.Variable.from_numpy_array(np.full((2, 3), -0.5))
    hi = nn.Variable.from_numpy_array(np.full((2, 3), 0.5))
    gy = randn(2, 3, seed=1) * 2
    y = F.clip_grad_by_value(x, lo, hi)
    y.forward()
    np.testing.assert_array_equal(y.d, x.d)
    x.g = 0
    y.backward(gy)
    np.testing.assert_allclose(x.g, np.clip(gy, -0.5, 0.5))
    y = F.clip_grad_by_norm(x, clip_norm=2.0, axes=[1])
    y.forward()
    x.g = 0
    y.backward(gy * 0.01)  # smaller than clip_norm: still rescaled, as in NNabla
    g = gy * 0.01
    np.testing.assert_allclose(x.g, 2.0 * g / np.sqrt((g * g).sum(1, keepdims=True)))
    y = F.clip_grad_by_norm(x)
    y.forward()
    x.g = 0
    y.backward(gy)
    np.testing.assert_allclose(x.g, gy / np.sqrt((gy * gy).sum()))


def test_float32_kept():
    x, beta, gamma, mean, var = [nn.Variable.from_numpy_array(a.astype(np.float32))
                                 for a in bn_case((4, 3, 2), [1])]
    for y in [F.batch_normalization(x, beta, gamma, mean, var),
              F.batch_normalization(x, beta, gamma, mean, var, batch_stat=False),
              F.layer_normalization(x, None, None), F.group_normalization(x, None, None, 3),
              F.norm_normalization(x), F.weight_standardization(x)]:
        y.forward()
        assert y.d.dtype == np.float32


def test_errors():
    x = nn.Variable((4, 3, 2))
    p = nn.Variable((1, 3, 1))
    with pytest.raises(ValueError, match="BatchNormalization: beta"):
        F.batch_normalization(x, nn.Variable((1, 4, 1)), p, p, p)
    with pytest.raises(ValueError, match="BatchNormalization: axes"):
        F.batch_normalization(x, p, p, p, p, axes=[3])
    with pytest.raises(ValueError, match="batch_stat=False"):
        F.batch_normalization(x, p, p, None, None, batch_stat=False)
    with pytest.raises(ValueError, match="GroupNormalization: num_groups=2"):
        F.group_normalization(x, None, None, 2)
    with pytest.raises(ValueError, match="LayerNormalization: gamma"):
        F.layer_normalization(x, None, nn.Variable((5,)))
    with pytest.raises(ValueError, match="FusedBatchNormalization: z has shape"):
        F.fused_batch_normalization(x, p, p, p, p, z=nn.Variable((4, 3)))
    with pytest.raises(ValueError, match="nonlinearity"):
        F.fused_batch_normalization(x, p, p, p, p, nonlinearity="tanh")
    with pytest.raises(ValueError, match="WeightNormalization: g has shape"):
        F.weight_normalization(x, nn.Variable((3,)))
    with pytest.raises(ValueError, match="MeanSubtraction: mean has shape"):
        F.mean_subtraction(x, nn.Variable((3,)), nn.Variable((1,)))


# -- spectral_norm: test mode and the output_u output -----------------------------

def test_spectral_norm_test_mode_forward_and_numerical_gradient():
    w, u0 = randn(3, 4, 2), randn(4, seed=1)
    u = nn.Variable.from_numpy_array(u0.copy())
    y = F.spectral_norm(nn.Variable.from_numpy_array(w), u, dim=1, itr=3, test=True)
    y.forward()
    _, _, sigma = power_iteration(w, u0, 1, 3)
    np.testing.assert_allclose(y.d, w / sigma, rtol=1e-10)  # sigma from the iterations
    np.testing.assert_array_equal(u.d, u0)
    # u stays fixed in test mode, so y is a function of w alone; with the iterations
    # converged, holding u and v constant gives its true gradient.
    w2 = randn(3, 4, seed=2) * np.array([[3.0], [1.0], [0.5]])
    check_function(lambda w: F.spectral_norm(w, nn.Variable.from_numpy_array(randn(3, seed=3)),
                                             itr=60, test=True),
                   [w2], ref=lambda w: w / np.linalg.svd(w, compute_uv=False)[0])


def test_spectral_norm_output_u_is_u_before_the_update():
    w, u0 = randn(4, 3, 2), randn(3, seed=1)
    for test in (False, True):
        u = nn.Variable.from_numpy_array(u0.copy())
        y, u_out = F.spectral_norm(nn.Variable.from_numpy_array(w), u, dim=1, itr=2,
                                   test=test, output_u=True)
        y.forward()
        u_new, _, sigma = power_iteration(w, u0, 1, 2)
        np.testing.assert_allclose(y.d, w / sigma, rtol=1e-10)
        np.testing.assert_array_equal(u_out.d, u0)  # NNabla outputs u as it came in
        np.testing.assert_allclose(u.d, u0 if test else u_new, rtol=1e-10)
    # the u output carries no gradient back to w
    wv = nn.Variable.from_numpy_array(w, need_grad=True)
    y, u_out = F.spectral_norm(wv, nn.Variable.from_numpy_array(u0.copy()), dim=1, itr=2,
                               output_u=True)
    loss = F.sum(y) + F.sum(u_out * 2.0)
    loss.forward()
    wv.g = 0
    loss.backward()
    u_new, v_new, sigma = power_iteration(w, u0, 1, 2)
    uv = np.moveaxis(np.outer(u_new, v_new).reshape(3, 4, 2), 0, 1)
    np.testing.assert_allclose(wv.g, 1 / sigma - w.sum() / sigma ** 2 * uv, rtol=1e-8)


class _Communicator:
    """Stands in for a communicator: only ``size`` is read."""

    def __init__(self, size):
        self.size = size


@pytest.mark.parametrize("comm", [None, _Communicator(1)], ids=["none", "size1"])
@pytest.mark.parametrize("shape,axes,kw", [BN_CASES[1], BN_CASES[3], BN_CASES[4], BN_CASES[5]])
def test_sync_batch_normalization_one_process(comm, shape, axes, kw):
    inputs = bn_case(shape, axes)

    def sync(x, beta, gamma, mean, variance, **kwargs):
        return F.sync_batch_normalization(x, beta, gamma, mean, variance, comm, **kwargs)

    check_function(sync, inputs, ref=ref_bn, kwargs=dict(axes=axes, **kw), grad=[0, 1, 2])


def test_sync_batch_normalization_is_batch_normalization_with_its_running_update():
    x = randn(6, 3, 2).astype(np.float32)
    outs = []
    for f in (F.batch_normalization, F.sync_batch_normalization):
        args = [nn.Variable.from_numpy_array(a) for a in (
            x, np.zeros((1, 3, 1), np.float32), np.ones((1, 3, 1), np.float32),
            np.full((1, 3, 1), 0.5, np.float32), np.full((1, 3, 1), 2.0, np.float32))]
        extra = [None] if f is F.sync_batch_normalization else []
        y = f(*args, *extra, decay_rate=0.7, output_stat=True)
        for v in y:
            v.forward()
        outs.append([v.d.copy() for v in y] + [args[3].d.copy(), args[4].d.copy()])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(outs[1][3], 0.5)  # the running mean was updated
    y = F.sync_batch_normalization(nn.Variable.from_numpy_array(x), None, None, None, None,
                                   None, group="sub")
    assert y.parent.name == "SyncBatchNormalization" and y.parent.args["group"] == "sub"


@pytest.mark.parametrize("comm, group, exc, match", [
    (_Communicator(2), "world", NotImplementedError,
     r"F.sync_batch_normalization: comm has size 2.*nablite.communicators"),
    (_Communicator(0), "world", ValueError, r"F.sync_batch_normalization: comm has size 0"),
    (object(), "world", TypeError, r"F.sync_batch_normalization: comm must be None or a "
                                   r"communicator with an integer size, got object"),
    (None, 3, TypeError, r"F.sync_batch_normalization: group must be a str, got 3"),
])
def test_sync_batch_normalization_errors(comm, group, exc, match):
    x, beta, gamma, mean, var = [nn.Variable.from_numpy_array(a) for a in bn_case((4, 3), [1])]
    with pytest.raises(exc, match=match):
        F.sync_batch_normalization(x, beta, gamma, mean, var, comm, group=group)
    with pytest.raises(ValueError, match="batch_stat=False needs the running mean"):
        F.sync_batch_normalization(x, beta, gamma, None, None, None, batch_stat=False)


def tensor_normalization_graph(x, b, g, c):
    x, b, g, c = (nn.Variable.from_numpy_array(a) for a in (x, b, g, c))
    ys = F.tensor_normalization(x, (0, 2), b, g, output_stat=True)
    types = []
    F.sink(*ys).visit(lambda f: types.append(f.info.type_name))
    y1 = F.tensor_normalization(x, (-2,), None, c)
    F.sink(*ys, y1).forward()
    return {"y": ys[0], "mean": ys[1], "var": ys[2], "types": types, "one_axis": y1}


def test_tensor_normalization_is_nnablas_graph():
    """The same nodes as NNabla's wrapper (Transposes/Reshapes around one
    BatchNormalization with decay 0) and the same outputs and statistics."""
    from nnabla_parity import check_same_source
    rng = np.random.RandomState(0)
    mine, _ = check_same_source(tensor_normalization_graph, x=rng.randn(2, 4, 3).astype("f4"),
                                b=rng.randn(2, 1, 3).astype("f4"),
                                g=rng.randn(2, 1, 3).astype("f4"),
                                c=rng.randn(1, 4, 1).astype("f4"), dtypes=False)
    assert mine["types"].count("BatchNormalization") == 1
