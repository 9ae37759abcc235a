"""Bad input to the array, index, random, resampling and signal families: each
call gives a clear error that starts with the function's name and names the
argument (never NumPy's own message behind the name), or a correct result
checked against NumPy.

What NNabla 1.39 does decided each case (checked on the oracle): gather and
scatter_add refuse negative and too-large indices, gather_nd / scatter_nd take
negative ones (numpy's meaning) and refuse too-large ones, float indices are
truncated toward zero, embed gives zeros outside its table, nonzero of a 0-d
input is (0, count), randn with sigma < 0 draws, rand/randint need high > low,
roi_align / warp_by_grid of an empty image give zeros, a NaN flow gives NaN.
Where NNabla crashes (interpolate and confusion_matrix of empty axes, fft on
the CPU, image_augmentation of an empty image) nablite raises a named error.
"""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F

V = nn.Variable.from_numpy_array


def _run(y):
    ys = y if isinstance(y, tuple) else (y,)
    for v in ys:
        v.forward()
    return ys[0].d if len(ys) == 1 else [v.d for v in ys]


def _r(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


# -- random numbers --------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: F.rand(low=float("nan"), shape=(2, 3)), r"^Rand: high=1 must be greater than low=nan"),
    (lambda: F.rand(low=2, high=1, shape=(3,)), r"^Rand: high=1 must be greater than low=2"),
    (lambda: F.randint(low=0, high=0, shape=(2,)), r"^Randint: high=0 must be greater than low=0"),
    (lambda: F.randint(low=0, high=-1, shape=(2,)), r"^Randint: high=-1 must be greater"),
    (lambda: F.rand(shape=-1), r"^Rand: shape=\(-1,\) has a negative size"),
    (lambda: F.randint(high=5, shape=(2, -1)), r"^Randint: shape=\(2, -1\) has a negative size"),
    (lambda: F.randn(shape=-1), r"^Randn: shape=\(-1,\) has a negative size"),
    (lambda: F.rand_beta(alpha=0, shape=(2,)), r"^RandBeta: alpha=0 must be > 0"),
    (lambda: F.rand_beta(beta=-1, shape=(2,)), r"^RandBeta: beta=-1 must be > 0"),
    (lambda: F.rand_gamma(k=-1, shape=(2,)), r"^RandGamma: k=-1 must be > 0"),
    (lambda: F.rand_gamma(theta=float("nan"), shape=(2,)), r"^RandGamma: theta=nan must be > 0"),
    (lambda: F.rand_binomial(n=-1, shape=(2,)), r"^RandBinomial: n=-1 must be > 0"),
    (lambda: F.rand_binomial(p=2, shape=(2,)), r"^RandBinomial: p=2 must be in \[0, 1\]"),
    (lambda: F.random_choice(V(_r(2, 4)), V(np.ones((2, 4))), shape=-1),
     r"^RandomChoice: shape=\(-1,\) has a negative size"),
])
def test_random_parameters_outside_the_domain_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        _run(call())


@pytest.mark.parametrize("sigma", [2.0, -2.0])
def test_randn_draws_mu_plus_sigma_z_for_any_sign_of_sigma(sigma):
    got = _run(F.randn(mu=0.5, sigma=sigma, shape=(3, 4), seed=7))
    want = 0.5 + sigma * np.random.RandomState(7).standard_normal((3, 4))
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-6)
    if sigma > 0:  # the values numpy's own normal draw gives
        np.testing.assert_allclose(got, np.random.RandomState(7).normal(0.5, sigma, (3, 4)),
                                   rtol=1e-6)


def test_an_empty_shape_draws_an_empty_array():
    assert _run(F.rand(shape=(0, 3))).shape == (0, 3)


# -- embed -----------------------------------------------------------------------

def test_embed_with_an_empty_table_gives_zeros():
    idx = np.array([[0, 2], [1, 1]])
    got = _run(F.embed(V(idx), V(np.zeros((0, 4)))))
    np.testing.assert_array_equal(got, np.zeros((2, 2, 4)))


def test_embed_outside_the_table_still_gives_zero_rows():
    w = _r(3, 4)
    got = _run(F.embed(V(np.array([0, -1, 3, 2])), V(w)))
    np.testing.assert_allclose(got, np.stack([w[0], np.zeros(4), np.zeros(4), w[2]]),
                               rtol=1e-6)


# -- gather / gather_nd / scatter_nd / scatter_add ------------------------------

X = np.arange(12.0).reshape(3, 4)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # the NaN index
@pytest.mark.parametrize("indices, axis, message", [
    (np.array([0, 3]), 0, r"^Gather: index 3 is out of bounds for axis 0 of x \(3, 4\), which "
                          r"has size 3: Indices must hold values in \[0, 3\)"),
    (np.array([0, -1]), 0, r"^Gather: index -1 is out of bounds for axis 0 .*Indices"),
    (np.array([[4]]), 1, r"^Gather: index 4 is out of bounds for axis 1 of x \(3, 4\).*Indices"),
    (np.array([0.0, np.nan]), 0, r"^Gather: index NaN is out of bounds for axis 0 .*Indices"),
])
def test_gather_index_out_of_range(indices, axis, message):
    with pytest.raises(IndexError, match=message):
        _run(F.gather(V(X), V(indices), axis=axis))


def test_gather_of_an_empty_axis_names_the_index():
    with pytest.raises(IndexError, match=r"^Gather: index [01] is out of bounds for axis 0 of x "
                                         r"\(0, 4\), which has size 0: Indices"):
        _run(F.gather(V(np.zeros((0, 4))), V(np.array([0, 1])), axis=0))


def test_gather_float_indices_are_truncated_as_in_nnabla():
    got = _run(F.gather(V(X), V(np.array([0.0, 2.9, 1.2])), axis=0))
    np.testing.assert_array_equal(got, X[[0, 2, 1]])


def test_gather_of_a_0d_input():
    with pytest.raises(ValueError, match=r"^Gather: x \(\) is 0-d"):
        F.gather(V(np.array(1.0)), V(np.array([0])), axis=0)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # the NaN index
def test_gather_nd_index_out_of_range():
    with pytest.raises(IndexError, match=r"^GatherNd: index 4 is out of bounds for axis 1 of "
                                         r"data \(3, 4\), which has size 4: indices must hold "
                                         r"values in \[-4, 4\)"):
        _run(F.gather_nd(V(X), V(np.array([[0, 1], [2, 4]]))))
    with pytest.raises(IndexError, match=r"^GatherNd: index NaN .*axis 0 .*indices"):
        _run(F.gather_nd(V(X), V(np.array([[0.0, np.nan]]))))


def test_gather_nd_negative_and_float_indices_as_in_nnabla():
    got = _run(F.gather_nd(V(X), V(np.array([[0, -1], [-4, 2]]))))
    np.testing.assert_array_equal(got, X[[0, -1], [-4, 2]])
    got = _run(F.gather_nd(V(X), V(np.array([[0.0, 1.7]]))))
    np.testing.assert_array_equal(got, X[[0, 1]])


def test_gather_nd_needs_one_index_row():
    with pytest.raises(ValueError, match=r"^GatherNd: indices \(0, 2\) must have shape "
                                         r"\(M, \.\.\.\) with 1 <= M"):
        F.gather_nd(V(X), V(np.zeros((0, 2))))


@pytest.mark.parametrize("indices, error, message", [
    (None, TypeError, r"^scatter_nd: indices=None; expected a Variable"),
    ("ab", TypeError, r"^scatter_nd: indices='ab'; expected"),
    ([[0, float("nan")]], ValueError, r"^scatter_nd: indices=.* holds NaN or inf"),
])
def test_scatter_nd_indices_of_the_wrong_kind(indices, error, message):
    with pytest.raises(error, match=message):
        F.scatter_nd(V(np.ones(2)), indices, shape=(3,))


def test_scatter_nd_index_out_of_range():
    with pytest.raises(IndexError, match=r"^ScatterNd: index 5 is out of bounds for axis 0 of "
                                         r"the output \(3,\), which has size 3: indices"):
        _run(F.scatter_nd(V(np.array([1.0, 2.0])), V(np.array([[0, 5]])), shape=(3,)))
    with pytest.raises(IndexError, match=r"^ScatterNd: index [01] is out of bounds for axis 0 "
                                         r"of the output \(0, 0\)"):
        _run(F.scatter_nd(V(np.ones((2, 0))), V(np.array([[0, 1]])), shape=(0, 0)))


def test_scatter_nd_with_a_shape_that_cannot_hold_data():
    with pytest.raises(ValueError, match=r"^ScatterNd: data \(2,\) must have shape \(2, 0\)"):
        F.scatter_nd(V(np.ones(2)), V(np.array([[0, 1]])), shape=(0, 0))


def test_scatter_nd_negative_indices_as_in_nnabla():
    got = _run(F.scatter_nd(V(np.array([1.0, 2.0])), V(np.array([[0, -1]])), shape=(3,)))
    want = np.zeros(3)
    want[[0, -1]] = [1, 2]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("x0, indices, message", [
    (np.zeros((3, 2)), np.array([[0, 5], [1, 0]]), r"^ScatterAdd: index 5 is out of bounds "
     r"for axis 0 of x0 \(3, 2\), which has size 3: indices must hold values in \[0, 3\)"),
    (np.zeros((3, 2)), np.array([[0, -1], [1, 0]]), r"^ScatterAdd: index -1 is out of bounds"),
    (np.zeros((0, 2)), np.array([[0, 0], [0, 0]]), r"^ScatterAdd: index 0 is out of bounds for "
     r"axis 0 of x0 \(0, 2\), which has size 0"),
])
def test_scatter_add_index_out_of_range(x0, indices, message):
    with pytest.raises(IndexError, match=message):
        _run(F.scatter_add(V(x0), V(indices), V(np.ones((2, 2))), axis=0))


def test_scatter_add_of_a_0d_input():
    with pytest.raises(ValueError, match=r"^ScatterAdd: x0 \(\) is 0-d"):
        F.scatter_add(V(np.array(1.0)), V(np.array(0)), V(np.array(1.0)))


# -- nonzero, split, concatenate, flip, pad, sequences --------------------------

@pytest.mark.parametrize("value, count", [(2.0, 1), (0.0, 0)])
def test_nonzero_of_a_0d_input_has_no_rows(value, count):
    got = _run(F.nonzero(V(np.array(value))))
    assert got.shape == (0, count)  # (ndim, count), as NNabla gives


@pytest.mark.parametrize("call, message", [
    (lambda: F.split(V(np.array(2.0))), r"^Split: axis=0 of a 0-d input \(shape \(\)\)"),
    (lambda: F.concatenate(V(np.array(1.0)), V(np.array(2.0)), axis=0),
     r"^Concatenate: axis=0 of a 0-d input"),
    (lambda: F.flip(V(np.array(2.0)), axes=(0,)), r"^Flip: axes=\(0,\) of a 0-d input"),
    (lambda: F.pad_packed_sequence(V(np.array(2.0)), V(np.array([1, 1], np.int32))),
     r"^PadPackedSequence: packed_sequence \(\) is 0-d"),
])
def test_0d_inputs_to_functions_that_take_an_axis(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_pad_of_a_0d_input_with_no_padding():
    x = V(np.array(2.0), need_grad=True)
    y = F.pad(x, ())
    assert _run(y).shape == ()
    y.backward(np.array(3.0))
    assert x.g == 3.0


def test_split_of_an_axis_of_size_1_gives_one_output():  # NNabla refuses it
    x = V(np.arange(3.0)[None], need_grad=True)
    ys = F.split(x, axis=0)
    assert isinstance(ys, tuple) and len(ys) == 1
    np.testing.assert_array_equal(_run(ys[0]), [0.0, 1.0, 2.0])
    ys[0].backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.g, [[1.0, 2.0, 3.0]])


def test_meshgrid_of_one_input_is_that_grid():
    x = V(np.arange(3.0), need_grad=True)
    y = F.meshgrid(x)  # a Variable, as in NNabla
    np.testing.assert_array_equal(_run(y), np.meshgrid(np.arange(3.0))[0])
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.g, [1.0, 2.0, 3.0])


def test_stack_of_0d_inputs_is_a_vector():
    got = _run(F.stack(V(np.array(1.0)), V(np.array(2.0))))
    np.testing.assert_array_equal(got, [1.0, 2.0])


@pytest.mark.parametrize("shape", [(2, 0, 4), (0, 3, 4), (2, 3, 0)])
def test_pad_repeat_of_an_empty_axis(shape):
    with pytest.raises(ValueError, match=r"^Pad: mode='repeat' pads axis \d of x .*, which is "
                                         r"empty: there is no edge value to repeat"):
        F.pad(V(np.zeros(shape)), (1, 1, 1, 1, 1, 1), mode="repeat")


def test_pad_constant_of_an_empty_axis():
    got = _run(F.pad(V(np.zeros((2, 0, 4))), (1, 1, 1, 1, 1, 1), constant_value=3))
    np.testing.assert_array_equal(got, np.pad(np.zeros((2, 0, 4)), 1, constant_values=3))


def test_pad_repeat_keeps_an_empty_axis_that_is_not_padded():
    got = _run(F.pad(V(np.zeros((0, 3))), (1, 1), mode="repeat"))
    assert got.shape == (0, 5)


# -- clip_by_norm (a composite built in Python) -------------------------------

def test_clip_by_norm_of_none():
    with pytest.raises(TypeError, match=r"^clip_by_norm: x is None; expected a Variable"):
        F.clip_by_norm(None, 1.5, axis=2)


def test_clip_by_norm_of_strings():
    with pytest.raises(TypeError, match=r"^clip_by_norm: .*dtype"):
        F.clip_by_norm(np.array([["1", "2"]]), 1.5)


def test_clip_by_norm_of_a_numpy_array():
    x = _r(2, 3)
    got = _run(F.clip_by_norm(x, 1.5, axis=1))
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(got, x * 1.5 / np.maximum(norm, 1.5), rtol=1e-5)


# -- interpolate, roi_align, warping ---------------------------------------------

@pytest.mark.parametrize("shape, kwargs, axis", [
    ((1, 2, 0, 5), {"output_size": (7, 3)}, 2),
    ((1, 2, 4, 0), {"output_size": (7, 3), "mode": "nearest"}, 3),
    ((1, 0, 5, 2), {"output_size": (6, 3), "channel_last": True}, 1),
])
def test_interpolate_of_an_empty_spatial_axis(shape, kwargs, axis):
    with pytest.raises(ValueError, match=rf"^Interpolate: x \({', '.join(map(str, shape))}\) "
                                         rf"is empty along axis {axis}, which output_size="):
        F.interpolate(V(np.zeros(shape)), **kwargs)


def test_interpolate_of_an_empty_batch():
    assert _run(F.interpolate(V(np.zeros((0, 2, 4, 5))), output_size=(7, 3))).shape == (0, 2, 7, 3)


def test_roi_align_of_an_empty_image_gives_zeros():
    boxes = np.array([[0, 1, 1, 4, 4], [1, 0, 0, 5, 3.0]])
    x = V(np.zeros((2, 3, 0, 6)), need_grad=True)
    y = F.roi_align(x, V(boxes), (2, 2))
    np.testing.assert_array_equal(_run(y), np.zeros((2, 3, 2, 2)))
    y.backward()
    assert x.g.shape == (2, 3, 0, 6)


@pytest.mark.parametrize("shape, out", [((2, 3, 0, 4), (2, 3, 3, 3)), ((2, 3, 4, 0), (2, 3, 3, 3)),
                                        ((2, 0, 4, 4), (2, 0, 3, 3))])
def test_warp_by_grid_of_an_empty_input(shape, out):
    grid = V(np.tanh(_r(2, 3, 3, 2, seed=1)), need_grad=True)
    x = V(np.zeros(shape), need_grad=True)
    y = F.warp_by_grid(x, grid)
    np.testing.assert_array_equal(_run(y), np.zeros(out))
    y.backward()
    assert x.g.shape == shape


def test_warp_by_flow_without_channels():
    y = F.warp_by_flow(V(np.zeros((1, 0, 4, 4))), V(np.zeros((1, 2, 4, 4))))
    assert _run(y).shape == (1, 0, 4, 4)


def test_warp_by_flow_with_a_nan_flow_gives_nan_there():
    data = _r(1, 2, 4, 4)
    flow = np.zeros((1, 2, 4, 4))
    flow[0, 0, 1, 2] = np.nan
    got = _run(F.warp_by_flow(V(data), V(flow)))
    want = data.copy()
    want[0, :, 1, 2] = np.nan
    np.testing.assert_allclose(got, want, rtol=1e-6)


# -- fft, confusion_matrix, image_augmentation -----------------------------------

@pytest.mark.parametrize("f, name", [(F.fft, "FFT"), (F.ifft, "IFFT")])
def test_fft_of_an_empty_signal_axis(f, name):
    with pytest.raises(ValueError, match=rf"^{name}: x \(0, 2\) has \(0,\) points along its "
                                         r"signal_ndim=1 signal axes"):
        f(V(np.zeros((0, 2))), signal_ndim=1)


def test_fft_of_an_empty_batch():
    got = _run(F.fft(V(np.zeros((0, 3, 2))), signal_ndim=1))
    assert got.shape == (0, 3, 2)


def test_confusion_matrix_without_classes():
    with pytest.raises(ValueError, match=r"^ConfusionMatrix: .*x .*\(3, 0\) has .*no classes"):
        F.confusion_matrix(V(np.zeros((3, 0))), V(np.zeros((3, 1), int)))


def test_confusion_matrix_of_an_empty_batch_counts_nothing():
    got = _run(F.confusion_matrix(V(np.zeros((0, 4))), V(np.zeros((0, 1), int))))
    np.testing.assert_array_equal(got, np.zeros((4, 4)))


def test_image_augmentation_of_an_empty_image():
    with pytest.raises(ValueError, match=r"^ImageAugmentation: x \(2, 3, 0, 5\) has an empty "
                                         r"image"):
        F.image_augmentation(V(np.zeros((2, 3, 0, 5))), shape=(3, 4, 4))


def test_image_augmentation_pad_of_the_wrong_kind():
    with pytest.raises(TypeError, match=r"^ImageAugmentation: pad=None; expected \(pad_h, pad_w\)"):
        F.image_augmentation(V(np.zeros((2, 3, 5, 5))), shape=(3, 4, 4), pad=None)


# -- None given to a public function that reads a shape before its node exists -----

@pytest.mark.parametrize("call, message", [
    (lambda: F.flip(None), r"^flip: x is None; expected a Variable"),
    (lambda: F.shift(None), r"^shift: x is None; expected a Variable"),
    (lambda: F.concatenate(None, V(np.ones(2))), r"^concatenate: x\[0\] is None; expected"),
    (lambda: F.interpolate(None, scale=(2, 2)), r"^interpolate: x is None; expected a Variable"),
    (lambda: F.patch_correlation(V(np.ones((1, 1, 3, 3))), "a"),
     r"^patch_correlation: x2 is str; expected a Variable"),
])
def test_none_where_a_shape_is_read_first(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# -- a negative size in a shape argument (NNabla crashes on some) ----------------

@pytest.mark.parametrize("call, name", [
    (lambda: F.one_hot(V(np.array([[0]])), (-1,)), "OneHot"),
    (lambda: F.broadcast(V(np.ones((1, 3))), (-2, 3)), "Broadcast"),
    (lambda: F.scatter_nd(V(np.ones(2)), [[0, 1]], shape=(-3,)), "ScatterNd"),
    (lambda: F.image_augmentation(V(np.ones((2, 3, 4, 4))), shape=(3, -4, 4)), "ImageAugmentation"),
])
def test_negative_sizes_in_a_shape_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}: shape=\(.*-\d.*\) has a negative size; "
                                         r"expected sizes >= 0"):
        call()
