import math

import pytest

from nablite.utils import learning_rate_scheduler as lrs


def test_base_raises():
    with pytest.raises(NotImplementedError):
        lrs.BaseLearningRateScheduler().get_learning_rate(0)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0])
def test_polynomial(power):
    s = lrs.PolynomialScheduler(0.1, 100, power)
    for it in (0, 1, 37, 99, 100):
        assert s.get_learning_rate(it) == pytest.approx(0.1 * (1 - it / 100) ** power)
    assert s.get_learning_rate(0) == pytest.approx(0.1)
    assert s.get_learning_rate(100) == pytest.approx(0.0)


def test_cosine():
    s = lrs.CosineScheduler(0.2, 50)
    assert s.get_learning_rate(0) == pytest.approx(0.2)
    assert s.get_learning_rate(25) == pytest.approx(0.1)
    assert s.get_learning_rate(50) == pytest.approx(0.0, abs=1e-12)
    assert s.get_learning_rate(10) == pytest.approx(0.2 * (math.cos(math.pi * 10 / 50) + 1) / 2)


def test_exponential():
    s = lrs.ExponentialScheduler(1.0, 0.5, iter_interval=3)
    assert [s.get_learning_rate(i) for i in range(7)] == \
        pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25])
    s1 = lrs.ExponentialScheduler(2.0, 0.9)
    assert s1.get_learning_rate(4) == pytest.approx(2.0 * 0.9 ** 4)


def test_step():
    s = lrs.StepScheduler(1.0, 0.1, [10, 20])
    assert s.get_learning_rate(0) == pytest.approx(1.0)
    assert s.get_learning_rate(9) == pytest.approx(1.0)
    assert s.get_learning_rate(10) == pytest.approx(0.1)
    assert s.get_learning_rate(19) == pytest.approx(0.1)
    assert s.get_learning_rate(20) == pytest.approx(0.01)
    assert s.get_learning_rate(1000) == pytest.approx(0.01)


def test_linear_warmup():
    base = lrs.StepScheduler(1.0, 0.1, [6])
    s = lrs.LinearWarmupScheduler(base, 4)
    got = [s.get_learning_rate(i) for i in range(8)]
    assert got == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.1, 0.1])


def test_bad_arguments_name_the_class():
    with pytest.raises(ValueError, match="CosineScheduler: max_iter"):
        lrs.CosineScheduler(0.1, 0)
    with pytest.raises(ValueError, match="ExponentialScheduler: iter_interval"):
        lrs.ExponentialScheduler(0.1, 0.5, iter_interval=0)
    with pytest.raises(TypeError, match="LinearWarmupScheduler"):
        lrs.LinearWarmupScheduler(0.1, 10)
