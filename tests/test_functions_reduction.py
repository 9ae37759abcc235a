"""Reductions: forward vs NumPy, backward vs central differences, bad input."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import reduction
from gradcheck import check_function, randn

CASES = [
    (F.sum, [randn(3, 4)], {}, lambda x: x.sum()),
    (F.sum, [randn(3, 4, 2)], dict(axis=1), lambda x, axis: x.sum(axis)),
    (F.sum, [randn(3, 4, 2)], dict(axis=(0, 2), keepdims=True),
     lambda x, axis, keepdims: x.sum(axis, keepdims=keepdims)),
    (F.sum, [randn(5)], dict(axis=-1), lambda x, axis: x.sum(axis)),
    (F.mean, [randn(3, 4)], {}, lambda x: x.mean()),
    (F.mean, [randn(3, 4, 2)], dict(axis=(1, 2)), lambda x, axis: x.mean(axis)),
    (F.mean, [randn(3, 4, 2)], dict(axis=0, keepdims=True),
     lambda x, axis, keepdims: x.mean(axis, keepdims=keepdims)),
]


@pytest.mark.parametrize("f, inputs, kwargs, ref", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, kwargs, ref):
    check_function(f, inputs, ref=ref, kwargs=kwargs)
