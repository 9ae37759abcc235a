"""Initializers: values, dtypes, shapes, rng handling, Glorot/He helpers."""
import numpy as np
import pytest

import nablite as nn
import nablite.initializer as I
import nablite.random


def test_constant():
    a = I.ConstantInitializer(2.5)((2, 3))
    assert a.dtype == np.float32 and a.shape == (2, 3) and np.all(a == 2.5)
    assert I.ConstantInitializer()([4]).sum() == 0


def test_normal_uses_given_rng():
    a = I.NormalInitializer(2.0, rng=np.random.RandomState(0))((3, 4))
    want = np.random.RandomState(0).randn(3, 4) * 2.0
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, want.astype(np.float32))
    assert repr(I.NormalInitializer(2.0)) == "NormalInitializer(2.0)"


def test_uniform_and_int():
    a = I.UniformInitializer((-2, 3), rng=np.random.RandomState(1))((50, 4))
    np.testing.assert_allclose(a, np.random.RandomState(1).uniform(-2, 3, (50, 4)).astype(np.float32))
    assert a.dtype == np.float32 and a.min() >= -2 and a.max() < 3
    b = I.UniformIntInitializer((0, 5), rng=np.random.RandomState(1))((100,))
    assert b.dtype.kind == "i" and b.min() >= 0 and b.max() < 5
    assert repr(I.UniformInitializer((-2, 2))) == "UniformInitializer((-2, 2))"
    assert repr(I.UniformIntInitializer()) == "UniformIntInitializer((0, 10))"


def test_range():
    a = I.RangeInitializer(1, 2)((2, 3))
    np.testing.assert_array_equal(a, [[1, 3, 5], [1, 3, 5]])


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2)])
def test_orthogonal(shape):
    a = I.OrthogonalInitializer(2.0, rng=np.random.RandomState(0))(shape)
    assert a.shape == shape and a.dtype == np.float32
    m = a.reshape(shape[0], -1) / 2.0
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)


def test_weight_normalization_scale():
    w = nn.Variable.from_numpy_array(np.random.RandomState(0).randn(3, 4).astype(np.float32))
    g = I.WeightNormalizationScaleInitializer(w, dim=1)((123,))
    np.testing.assert_allclose(g, np.sqrt((w.d ** 2).sum(0) + 1e-12), rtol=1e-6)
    assert g.dtype == np.float32


def test_default_rng_read_at_construction():
    nn.seed(7)
    init = I.NormalInitializer()
    nn.seed(8)  # replaces nablite.random.prng; the initializer keeps the old one
    a = init((5,))
    np.testing.assert_allclose(a, np.random.RandomState(7).randn(5).astype(np.float32))
    assert I.NormalInitializer().rng is nablite.random.prng


def test_base_raises():
    with pytest.raises(NotImplementedError):
        I.BaseInitializer()((2,))


def test_calc_helpers():
    lo, hi = I.calc_uniform_lim_glorot(3, 4, (2, 2))
    assert hi == pytest.approx(np.sqrt(6 / (4 * 7))) and lo == -hi
    assert I.calc_normal_std_glorot(3, 4) == pytest.approx(np.sqrt(2 / 7))
    assert I.calc_normal_std_he_forward(3, 4, (3, 3)) == pytest.approx(np.sqrt(2 / 27))
    assert I.calc_normal_std_he_backward(3, 4) == pytest.approx(np.sqrt(2 / 4))
    assert I.random_float_type is np.float32
