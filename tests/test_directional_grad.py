"""Gradients of large inputs, checked along random directions in float64
(gradcheck.check_directional_grad: two forwards per input, not two per entry)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.function import PythonFunction
from gradcheck import check_directional_grad, randn, uniform


def _bn(x, beta, gamma, mean, var):
    return F.batch_normalization(x, beta, gamma, mean, var, axes=[1], batch_stat=True)


CASES = [
    ("convolution (4, 16, 16, 16)",
     lambda x, w, b: F.convolution(x, w, b, pad=(1, 1)),
     lambda: [randn(4, 16, 16, 16), randn(16, 16, 3, 3, seed=1) * 0.1, randn(16, seed=2)],
     None),
    ("strided dilated convolution, groups",
     lambda x, w: F.convolution(x, w, stride=(2, 2), dilation=(2, 1), pad=(2, 1), group=2),
     lambda: [randn(2, 8, 20, 18), randn(12, 4, 3, 3, seed=1)], None),
    ("deconvolution (4, 16, 12, 12)",
     lambda x, w: F.deconvolution(x, w, stride=(2, 2), pad=(1, 1)),
     lambda: [randn(4, 16, 12, 12), randn(16, 8, 3, 3, seed=1) * 0.1], None),
    ("affine 256x512",
     lambda x, w, b: F.affine(x, w, b),
     lambda: [randn(64, 256), randn(256, 512, seed=1) * 0.05, randn(512, seed=2)], None),
    ("batch normalization (32, 64, 8, 8)", _bn,
     lambda: [randn(32, 64, 8, 8) * 2 + 1, randn(1, 64, 1, 1, seed=1),
              uniform(0.5, 2, (1, 64, 1, 1), seed=2), np.zeros((1, 64, 1, 1)),
              np.ones((1, 64, 1, 1))], [0, 1, 2]),
    ("layer normalization (16, 64, 32)",
     lambda x, b, g: F.layer_normalization(x, b, g, batch_axis=0),
     lambda: [randn(16, 64, 32), randn(1, 64, 32, seed=1), randn(1, 64, 32, seed=2)], None),
    ("softmax cross entropy (128, 1000)",
     lambda x, t: F.softmax_cross_entropy(x, t, axis=1),
     lambda: [randn(128, 1000) * 3,
              np.random.RandomState(1).randint(0, 1000, (128, 1))], [0]),
    ("average pooling (8, 32, 24, 24)",
     lambda x: F.average_pooling(x, (3, 3), stride=(2, 2), pad=(1, 1)),
     lambda: [randn(8, 32, 24, 24)], None),
]


@pytest.mark.parametrize("name,f,make,grad", CASES, ids=[c[0] for c in CASES])
def test_large_input_gradient_along_a_direction(name, f, make, grad):
    results = check_directional_grad(f, make(), grad=grad)
    for analytic, numeric in results.values():
        assert abs(numeric) > 1e-6  # a direction the gradient does not see proves nothing


class _Cube(PythonFunction):
    """y = x ** 3 with a backward scaled by ``1 + error``."""

    def __init__(self, error=0.0):
        super().__init__()
        self.error = error

    @property
    def name(self):
        return "Cube"

    def min_outputs(self):
        return 1

    def setup_impl(self, inputs, outputs):
        outputs[0].reset_shape(inputs[0].shape, True)

    def forward_impl(self, inputs, outputs):
        outputs[0].d = inputs[0].d ** 3

    def grad_depends_input_data(self, i, j):
        return True

    def grad_depends_output_data(self, i, o):
        return False

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        g = (1 + self.error) * 3 * inputs[0].d ** 2 * outputs[0].g
        if accum[0]:
            inputs[0].g += g
        else:
            inputs[0].g = g


def test_the_check_catches_a_wrong_gradient():
    """A backward off by 0.1% on a (256, 128) input fails; the right one passes."""
    x = randn(256, 128)
    check_directional_grad(lambda v: _Cube()(v), [x])
    with pytest.raises(AssertionError, match="central differences"):
        check_directional_grad(lambda v: _Cube(1e-3)(v), [x])
