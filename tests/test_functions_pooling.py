"""Pooling: forward vs a direct NumPy reference of NNabla's window geometry
(checked against NNabla 1.39 on 658 configurations), backward vs numeric."""
import itertools

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import pooling as pooling_module
from gradcheck import check_function, randn


def _trunc_div(a, b):
    return int(a / b)


def ref_pool(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
             mode="max", including_pad=True):
    """One window at a time: start = o*stride - pad, end = min(start + k, S + pad)."""
    d = len(kernel)
    stride = tuple(stride) if stride is not None else tuple(kernel)
    pad = tuple(pad) if pad is not None else (0,) * d
    if channel_last:
        x = np.moveaxis(x, -1, x.ndim - d - 1)
    spatial = x.shape[-d:]
    if ignore_border:
        out = [_trunc_div(s + 2 * p - k, st) + 1
               for s, k, st, p in zip(spatial, kernel, stride, pad)]
    else:
        out = [(s + p - 1) // st + 1 for s, st, p in zip(spatial, stride, pad)]
    lead = x.shape[:-d]
    y = np.zeros(lead + tuple(out))
    for o in itertools.product(*[range(n) for n in out]):
        window, size, size_in = [], 1, 1
        for i in range(d):
            start = o[i] * stride[i] - pad[i]
            end = min(start + kernel[i], spatial[i] + pad[i])
            size *= end - start
            size_in *= min(end, spatial[i]) - max(start, 0)
            window.append(slice(max(start, 0), min(end, spatial[i])))
        values = x[(Ellipsis,) + tuple(window)].reshape(lead + (-1,))
        if mode == "max":
            y[(Ellipsis,) + o] = values.max(-1)
        elif mode == "sum":
            y[(Ellipsis,) + o] = values.sum(-1)
        else:
            y[(Ellipsis,) + o] = values.sum(-1) / (size if including_pad else size_in)
    return np.moveaxis(y, y.ndim - d - 1, -1) if channel_last else y


def ref_max(x, kernel, **kw):
    return ref_pool(x, kernel, mode="max", **kw)


def ref_sum(x, kernel, **kw):
    return ref_pool(x, kernel, mode="sum", **kw)


def ref_average(x, kernel, including_pad=True, **kw):
    return ref_pool(x, kernel, mode="avg", including_pad=including_pad, **kw)


WINDOW_ARGS = [
    ((2, 2), {}),
    ((3, 3), {"stride": (2, 2)}),
    ((3, 2), {"stride": (1, 1)}),                     # overlapping windows
    ((2, 2), {"ignore_border": False}),               # partial windows kept
    ((3, 3), {"stride": (2, 1), "pad": (1, 1)}),
    ((3, 2), {"stride": (2, 3), "pad": (1, 0), "ignore_border": False}),
    ((2, 3), {"pad": (1, 1), "channel_last": True}),
    ((2, 2), {"stride": (1, 2), "ignore_border": False, "channel_last": True}),
]
SHAPES = [(2, 3, 5, 5), (1, 2, 6, 7)]


def _distinct(*shape):
    """Values spaced apart so that no window has a near-tie (the max is differentiable)."""
    n = int(np.prod(shape))
    return (np.random.RandomState(0).permutation(n) * 0.1 - n * 0.05).reshape(shape)


@pytest.mark.parametrize("kernel,kwargs", WINDOW_ARGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_max_pooling(shape, kernel, kwargs):
    check_function(F.max_pooling, [_distinct(*shape)], ref=ref_max, kwargs=dict(kernel=kernel,
                                                                                **kwargs))


@pytest.mark.parametrize("kernel,kwargs", WINDOW_ARGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sum_pooling(shape, kernel, kwargs):
    check_function(F.sum_pooling, [randn(*shape)], ref=ref_sum, kwargs=dict(kernel=kernel,
                                                                            **kwargs))


@pytest.mark.parametrize("including_pad", [True, False])
@pytest.mark.parametrize("kernel,kwargs", WINDOW_ARGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_average_pooling(shape, kernel, kwargs, including_pad):
    check_function(F.average_pooling, [randn(*shape)], ref=ref_average,
                   kwargs=dict(kernel=kernel, including_pad=including_pad, **kwargs))


@pytest.mark.parametrize("f,ref", [(F.max_pooling, ref_max), (F.sum_pooling, ref_sum),
                                   (F.average_pooling, ref_average)])
@pytest.mark.parametrize("shape,kernel,kwargs", [
    ((2, 3, 7), (2,), {"pad": (1,)}),                                  # 1-D
    ((1, 2, 4, 3, 5), (2, 2, 3), {"stride": (1, 2, 2), "pad": (1, 0, 1)}),  # 3-D
    ((3, 5, 5), (2, 2), {"ignore_border": False}),                     # no channel axis
    ((2, 2, 2), (3, 3), {}),                                           # kernel > input
    ((2, 3, 4, 5), (4, 5), {}),                                        # one whole window
    ((2, 4, 4, 3), (4, 4), {"channel_last": True}),
])
def test_pooling_other_ranks(f, ref, shape, kernel, kwargs):
    x = _distinct(*shape)
    check_function(f, [x], ref=ref, kwargs=dict(kernel=kernel, **kwargs))


def test_max_pooling_ties_go_to_first_element():
    x = nn.Variable.from_numpy_array(np.zeros((1, 1, 4, 4), np.float32), need_grad=True)
    y = F.max_pooling(x, (2, 2))
    y.forward()
    x.g = 0
    y.backward(np.ones((1, 1, 2, 2), np.float32))
    want = np.zeros((4, 4))
    want[::2, ::2] = 1
    np.testing.assert_array_equal(x.g[0, 0], want)
    # Overlapping windows: each window's first maximum gets that window's gradient.
    x = nn.Variable.from_numpy_array(np.ones((1, 1, 2, 3), np.float32), need_grad=True)
    y = F.max_pooling(x, (2, 2), stride=(1, 1))
    y.forward()
    x.g = 0
    y.backward(np.array([[[[1, 2]]]], np.float32))
    np.testing.assert_array_equal(x.g[0, 0], [[1, 2, 0], [0, 0, 0]])


def test_known_output_shapes():
    # Measured with NNabla 1.39.
    x = nn.Variable((2, 3, 5, 5))
    assert F.max_pooling(x, (2, 2), ignore_border=False).shape == (2, 3, 3, 3)
    assert F.max_pooling(x, (2, 2), pad=(1, 1), ignore_border=False).shape == (2, 3, 3, 3)
    assert F.max_pooling(x, (2, 2), stride=(1, 1), pad=(1, 1), ignore_border=False).shape == (
        2, 3, 6, 6)
    assert F.average_pooling(nn.Variable((2, 3, 2, 2)), (3, 3)).shape == (2, 3, 1, 1)
    assert F.max_pooling(nn.Variable((2, 3, 7, 7)), (2, 2, 2)).shape == (2, 1, 3, 3)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3), (2, 3, 4), (1, 2, 3, 2, 2)])
def test_global_average_pooling(shape):
    check_function(F.global_average_pooling, [randn(*shape)],
                   ref=lambda x: x.reshape(x.shape[0], x.shape[1], -1).mean(-1)[:, :, None, None])


def ref_unpooling(x, kernel, channel_last=False):
    d = len(kernel)
    first = x.ndim - d - (1 if channel_last else 0)
    for i, k in enumerate(kernel):
        x = np.repeat(x, k, axis=first + i)
    return x


@pytest.mark.parametrize("shape,kernel,channel_last", [
    ((2, 3, 4, 5), (2, 3), False),
    ((2, 3, 4, 5), (2,), False),
    ((2, 3, 2, 3, 2), (2, 1, 3), False),
    ((2, 4, 5, 3), (2, 3), True),
])
def test_unpooling(shape, kernel, channel_last):
    check_function(F.unpooling, [randn(*shape)], ref=ref_unpooling,
                   kwargs={"kernel": kernel, "channel_last": channel_last})


def test_pooling_keeps_float32():
    x = nn.Variable.from_numpy_array(randn(2, 3, 6, 6).astype(np.float32), need_grad=True)
    for y in [F.max_pooling(x, (2, 2), pad=(1, 1)), F.average_pooling(x, (3, 3), pad=(1, 1),
                                                                      ignore_border=False),
              F.sum_pooling(x, (2, 2)), F.global_average_pooling(x), F.unpooling(x, (2, 2))]:
        y.forward()
        y.backward()
        assert y.d.dtype == x.g.dtype == np.float32, y.parent.name


@pytest.mark.parametrize("f,shape,kwargs,match", [
    (F.max_pooling, (2, 3, 5, 5), {"kernel": (2, 2), "stride": (1,)}, "MaxPooling: stride="),
    (F.max_pooling, (2, 3, 5, 5), {"kernel": (0, 2)}, "MaxPooling: kernel="),
    (F.average_pooling, (5,), {"kernel": (2, 2)}, "AveragePooling: x .* fewer than"),
    (F.sum_pooling, (2, 2), {"kernel": (2, 2), "channel_last": True}, "SumPooling: x"),
    (F.max_pooling, (2, 3, 2, 2), {"kernel": (5, 5), "stride": (1, 1)},
     "MaxPooling: kernel=.* gives no window"),
    (F.global_average_pooling, (3,), {}, "GlobalAveragePooling: x"),
    (F.unpooling, (4,), {"kernel": (2, 2)}, "Unpooling: x"),
])
def test_bad_inputs(f, shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        f(nn.Variable(shape), **kwargs)


def test_every_pooling_function_is_tested():
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    tested.add("max_pooling_backward")  # tested in test_functions_detection.py
    assert not [n for n in pooling_module.__all__ if n not in tested]


def test_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    ties = np.round(randn(2, 3, 6, 7) * 2) / 2  # many ties: NNabla routes to the first
    cases = []
    for kernel, kwargs in WINDOW_ARGS:
        if kwargs.get("channel_last"):
            continue  # NNabla's CPU pooling has no channel_last
        cases.append(("max_pooling", [ties], dict(kernel=kernel, **kwargs), [0]))
        cases.append(("sum_pooling", [ties], dict(kernel=kernel, **kwargs), [0]))
        for including_pad in (True, False):
            cases.append(("average_pooling", [ties],
                          dict(kernel=kernel, including_pad=including_pad, **kwargs), [0]))
    cases += [("global_average_pooling", [randn(2, 3, 4, 5)], {}, [0]),
              ("unpooling", [randn(2, 3, 4, 5)], {"kernel": (2, 3)}, [0])]
    assert check_parity(cases) == len(cases)
