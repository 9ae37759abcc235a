"""A hypothesis-driven fuzz over the public F functions.

Each example takes one valid call from the function tests' case tables (the
function, its inputs, its arguments and a NumPy reference) and spoils one
thing: an input's dtype (integers, bool, float16/64, complex, object), its
values (NaN, inf), its shape (empty, 0-d, an extra or a missing axis), an
input replaced by None, or an argument (an axis out of range, a float, a
string, None). The call must then either

* return a result of real numbers, equal to the NumPy reference on the same
  values where the change keeps the values (integer, bool and other float
  dtypes are computed in floating point, as NNabla does), or
* raise an exception whose message starts with the name of the function (its
  public name or a nablite Function type, e.g. ``Sum:`` for a composite's
  part) -- never a raw NumPy/h5py/struct message,

within a per-call time limit (no hang). In CI it runs a fixed, derandomized set
of examples in well under a minute. A longer run, with new examples each time::

    NABLITE_FUZZ_EXAMPLES=5000 NABLITE_FUZZ_RANDOM=1 python -m pytest -q tests/test_bad_input_fuzz.py
"""
import importlib
import os
import re
import signal
import sys
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import nablite as nn  # noqa: E402
import nablite.functions as F  # noqa: E402
from nablite.function import Function  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

EXAMPLES = int(os.environ.get("NABLITE_FUZZ_EXAMPLES", "1500"))
RANDOM = bool(os.environ.get("NABLITE_FUZZ_RANDOM"))
TIME_LIMIT = float(os.environ.get("NABLITE_FUZZ_TIME_LIMIT", "5"))  # seconds per call

# Tables of (function, inputs, ref, kwargs) or (function, inputs, kwargs, ref[, ...]).
TABLES = ["math", "arithmetic", "activation", "logical", "special", "normalization", "array",
          "indexing", "loss", "reduction"]
# Functions whose result a case table's reference cannot judge after a change
# of values (random draws), or whose reference takes other arguments.
NO_REFERENCE = {"dropout", "random_erase", "rand", "randn", "randint"}


def _cases():
    cases = []
    for name in TABLES:
        mod = importlib.import_module("test_functions_" + name)
        for entry in mod.CASES:
            f, inputs = entry[0], entry[1]
            if not callable(f) or not isinstance(inputs, (list, tuple)):
                continue
            kwargs, ref = (entry[2], entry[3]) if isinstance(entry[2], dict) else (entry[3],
                                                                                   entry[2])
            if not isinstance(kwargs, dict):
                continue
            cases.append((f, list(inputs), dict(kwargs), ref if callable(ref) else None))
    return cases


def _r(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def _pool(op):
    """NumPy's non-overlapping 2x2 pooling over the last two axes."""
    def ref(x, kernel):
        n, c, h, w = x.shape
        return op(x.reshape(n, c, h // 2, 2, w // 2, 2), axis=(3, 5))
    return ref


def _bn(x, beta, gamma, mean, var, batch_stat):
    m, v = x.mean(0, keepdims=True), x.var(0, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * gamma + beta


def _conv(x, w, pad=(0, 0), stride=(1, 1)):
    """NumPy's 2-D cross-correlation, (N, C, H, W) by (OC, C, KH, KW)."""
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    kh, kw = w.shape[2:]
    oh, ow = (x.shape[2] - kh) // stride[0] + 1, (x.shape[3] - kw) // stride[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):
        for j in range(kw):
            win = x[:, :, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1]]
            y = y + np.einsum("nchw,oc->nohw", win, w[:, :, i, j])
    return y


def _deconv(x, w, stride=(1, 1)):
    """NumPy's transposed convolution, (N, C, H, W) by (C, OC, KH, KW), no padding."""
    n, _, h, wd = x.shape
    kh, kw = w.shape[2:]
    y = np.zeros((n, w.shape[1], (h - 1) * stride[0] + kh, (wd - 1) * stride[1] + kw))
    for i in range(kh):
        for j in range(kw):
            y[:, :, i:i + stride[0] * h:stride[0], j:j + stride[1] * wd:stride[1]] += \
                np.einsum("nchw,co->nohw", x, w[:, :, i, j])
    return y


def _depthwise(x, w):
    """NumPy's depthwise 2-D cross-correlation, (N, C, H, W) by (C, KH, KW)."""
    kh, kw = w.shape[1:]
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    return sum(x[:, :, i:i + oh, j:j + ow] * w[None, :, i, j, None, None]
               for i in range(kh) for j in range(kw))


_LABELS = np.array([[0], [2], [1]])
# Functions no case table above lists: one valid call each, a NumPy reference
# where one is short (None: only "a result of real numbers or a named error").
EXTRA = [
    (F.affine, [_r(2, 3), _r(3, 4, seed=1), _r(4, seed=2)], lambda x, w, b: x @ w + b, {}),
    (F.batch_matmul, [_r(2, 3, 4), _r(2, 4, 5, seed=1)], np.matmul, {}),
    (F.convolution, [_r(2, 3, 5, 5), _r(4, 3, 3, 3, seed=1)], _conv, {"pad": (1, 1)}),
    (F.deconvolution, [_r(2, 3, 4, 4), _r(3, 2, 3, 3, seed=1)], _deconv, {"stride": (2, 2)}),
    (F.depthwise_convolution, [_r(2, 3, 5, 5), _r(3, 3, 3, seed=1)], _depthwise, {}),
    (F.average_pooling, [_r(2, 3, 4, 6)], _pool(np.mean), {"kernel": (2, 2)}),
    (F.max_pooling, [_r(2, 3, 4, 6)], _pool(np.max), {"kernel": (2, 2)}),
    (F.sum_pooling, [_r(2, 3, 4, 6)], _pool(np.sum), {"kernel": (2, 2)}),
    (F.global_average_pooling, [_r(2, 3, 4, 5)],
     lambda x: x.mean(axis=(2, 3), keepdims=True), {}),
    (F.unpooling, [_r(2, 3, 2, 2)], lambda x, kernel: x.repeat(2, 2).repeat(2, 3),
     {"kernel": (2, 2)}),
    (F.embed, [np.array([[0, 2], [1, 1]]), _r(3, 4)], lambda i, w: w[i], {}),
    (F.top_n_error, [_r(3, 4), _LABELS], None, {"n": 2}),
    (F.binary_error, [_r(3, 4), _r(3, 4, seed=1)],
     lambda x, t: ((x >= 0.5) != (t >= 0.5)).astype(float), {}),
    (F.confusion_matrix, [_r(3, 4), _LABELS], None, {}),
    (F.equal, [np.round(_r(3, 4)), np.round(_r(3, 4, seed=1))], np.equal, {}),
    (F.greater, [_r(3, 4), _r(3, 4, seed=1)], np.greater, {}),
    (F.less_equal_scalar, [_r(3, 4)], lambda x, val: x <= val, {"val": 0.3}),
    (F.logical_and, [_r(3, 4), _r(3, 4, seed=1)], np.logical_and, {}),
    (F.logical_not, [np.round(_r(3, 4))], np.logical_not, {}),
    (F.isnan, [_r(3, 4)], np.isnan, {}),
    (F.isinf, [_r(3, 4)], np.isinf, {}),
    (F.round, [_r(3, 4) * 3], lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5), {}),
    (F.ceil, [_r(3, 4) * 3], np.ceil, {}),
    (F.floor, [_r(3, 4) * 3], np.floor, {}),
    (F.sign, [_r(3, 4)], lambda x, alpha: np.where(x == 0, alpha, np.sign(x)), {"alpha": 1.0}),
    (F.mod2, [np.array([5.0, -7, 9]), np.array([3.0, 3, -4])], np.fmod, {}),
    (F.constant, [], lambda val, shape: np.full(shape, val), {"val": 2.0, "shape": (2, 3)}),
    (F.arange, [], None, {"start": 0, "stop": 5, "step": 0.5}),
    (F.linspace, [], None, {"start": 0, "stop": 1, "num": 5}),
    (F.rand, [], None, {"low": 0, "high": 1, "shape": (2, 3)}),
    (F.randn, [], None, {"mu": 0, "sigma": 1, "shape": (2, 3)}),
    (F.randint, [], None, {"low": 0, "high": 5, "shape": (2, 3)}),
    (F.dropout, [_r(3, 4)], None, {"p": 0.5}),
    (F.batch_normalization, [_r(4, 3), np.zeros((1, 3)), np.ones((1, 3)), np.zeros((1, 3)),
                             np.ones((1, 3))], _bn, {"batch_stat": True}),
    (F.mean_subtraction, [_r(4, 3), np.zeros((3,)), np.zeros(())], None, {}),
    (F.fft, [_r(4, 2)], None, {"signal_ndim": 1}),
    (F.binary_sigmoid, [_r(3, 4)], lambda x: (x > 0).astype(float), {}),
    (F.binary_tanh, [_r(3, 4)], lambda x: np.where(x > 0, 1.0, -1.0), {}),
    (F.prune, [_r(3, 4)], None, {"rate": 0.5}),
    (F.top_k_data, [_r(3, 5)], None, {"k": 2}),
    (F.unique, [np.round(_r(8))], None, {"axis": 0}),
    (F.searchsorted, [np.sort(_r(2, 5), axis=1), _r(2, 3, seed=1)], None, {}),
    (F.random_flip, [_r(2, 3, 4, 4)], None, {}),
    (F.random_crop, [_r(2, 3, 6, 6)], None, {"shape": (3, 4, 4)}),
    (F.random_shift, [_r(2, 3, 4, 4)], None, {"shifts": (1, 1)}),
    (F.warp_by_flow, [_r(1, 2, 4, 4), _r(1, 2, 4, 4, seed=1)], None, {}),
    (F.affine_grid, [_r(2, 2, 3)], None, {"size": (4, 4)}),
    (F.spectral_norm, [_r(4, 3), _r(4)], None, {}),
    (F.weight_normalization, [_r(4, 3), np.abs(_r(4)) + 0.5], None, {}),
    (F.norm_normalization, [_r(4, 3)], lambda x, axes: x / np.sqrt((x ** 2).sum()), {"axes": None}),
    (F.sink, [_r(3, 4)], None, {}),
]

CASES = _cases() + [(f, inputs, kwargs, ref) for f, inputs, ref, kwargs in EXTRA]


def _function_names():
    names, todo = set(), [Function]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            names.add(sub.__name__)
            todo.append(sub)
    return names | set(F.__all__)


NAMES = {re.sub(r"[^a-z0-9]", "", n.lower()) for n in _function_names()}


def _names_a_function(message):
    head = re.split(r"[:(\s]", message.strip(), maxsplit=1)[0]
    head = head[2:] if head.startswith("F.") else head
    return re.sub(r"[^a-z0-9]", "", head.lower()) in NAMES


def _raw_behind_a_name(e):
    """The function type's name when ``e`` is a NumPy/Python error that the engine
    only prefixed with it (function.named_error: "MulScalar: ufunc 'multiply' did
    not contain a loop ..."), else None."""
    cause = e.__cause__
    head = str(e).split(":", 1)[0]
    if cause is not None and str(e) == f"{head}: {cause}":
        return head
    return None


# NumPy's or Python's own message behind a function's name ("MulScalar: ufunc
# 'multiply' did not contain a loop ...", "interpolate: 'int' object is not
# iterable") names the function but not the argument, what was given or what was
# expected: the fuzz fails on it, for every function. (Arguments are checked
# against their kinds in NNabla's table when a node is built, function_info;
# inputs and values in each type's setup.)


def test_a_raw_message_behind_a_name_is_recognised():
    import nablite.functions as F_
    with pytest.raises(Exception) as info:
        F_.convolution(nn.Variable((2, 3, 5, 5)), nn.Variable((4, 3, 3, 3)), pad="a")
    assert _raw_behind_a_name(info.value) is None  # checked at setup, named
    try:
        try:
            raise ValueError("invalid literal for int() with base 10: 'a'")
        except ValueError as inner:
            raise ValueError(f"Tile: {inner}") from inner
    except ValueError as e:
        assert _raw_behind_a_name(e) == "Tile"


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _float_inputs(inputs):
    return [i for i, a in enumerate(inputs) if a is not None and np.asarray(a).dtype.kind == "f"]


def _as_dtype(a, dtype):
    """``a``'s values in ``dtype`` (integers: twice the values, rounded)."""
    with np.errstate(invalid="ignore"):  # a table's NaN test values do not fit an int
        if dtype in ("int32", "int64"):
            return np.round(a * 2).astype(dtype)
        if dtype == "uint8":
            return np.abs(np.round(a * 2)).astype(dtype)
        if dtype == "bool":
            return a > 0
        if dtype == "<U3":
            return a.astype(str).astype("<U3")
        return a.astype(dtype)


def _spoil(draw, inputs, kwargs):
    """One change to a valid call: (inputs, kwargs, whether the values were kept
    (True), replaced by NaN/inf ("nan") or changed (False), the changed input)."""
    inputs = [None if a is None else np.array(a) for a in inputs]
    kwargs = dict(kwargs)
    floats = _float_inputs(inputs)
    kinds = ["dtype", "nan", "shape", "none", "argument"] if floats else ["none", "argument"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("dtype", "nan", "shape"):
        i = draw(st.sampled_from(floats))
        a = inputs[i]
        if kind == "dtype":
            dtype = draw(st.sampled_from(["int32", "int64", "uint8", "bool", "float16",
                                          "float64", "complex64", "object", "<U3"]))
            inputs[i] = _as_dtype(a, dtype)
            return inputs, kwargs, dtype not in ("complex64", "object", "<U3"), i
        if kind == "nan":
            if a.size:
                a = a.astype(np.float64)
                flat = a.reshape(-1)
                flat[draw(st.integers(0, a.size - 1))] = draw(
                    st.sampled_from([np.nan, np.inf, -np.inf]))
                inputs[i] = a
            return inputs, kwargs, "nan", i
        change = draw(st.sampled_from(["empty", "0d", "extra", "missing"]))
        if change == "empty" and a.ndim:
            shape = list(a.shape)
            shape[draw(st.integers(0, a.ndim - 1))] = 0
            inputs[i] = np.zeros(shape, a.dtype)
        elif change == "0d":
            inputs[i] = np.array(a.reshape(-1)[0] if a.size else 0.0)
        elif change == "extra":
            inputs[i] = a[None]
        elif a.ndim:
            inputs[i] = a.reshape(-1)[:max(1, a.size // 2)]
        return inputs, kwargs, False, i
    if kind == "none":
        present = [i for i, a in enumerate(inputs) if a is not None]
        if present:
            inputs[draw(st.sampled_from(present))] = None
        return inputs, kwargs, False, None
    if kwargs:
        key = draw(st.sampled_from(sorted(kwargs)))
        if "axis" in key or key == "axes":
            kwargs[key] = draw(st.sampled_from([99, -99, 1.5, "a", None, (0, 0), [99]]))
        else:
            kwargs[key] = draw(st.sampled_from([None, "a", -1, 0, 10 ** 12, float("nan")]))
    return inputs, kwargs, False, None


@st.composite
def calls(draw):
    f, inputs, kwargs, ref = CASES[draw(st.integers(0, len(CASES) - 1))]
    spoiled, new_kwargs, kept, i = _spoil(draw, inputs, kwargs)
    if kept is False or i is None:
        return f, inputs, kwargs, ref, spoiled, new_kwargs, False
    return f, inputs, kwargs, ref, spoiled, new_kwargs, (i, kept == "nan")


def _as_variable(a):
    if a is None:
        return None
    if a.dtype.kind not in "biuf":
        return a  # as a raw numpy array: the function itself must refuse it
    return nn.Variable.from_numpy_array(a)


def _outputs(y):
    ys = y if isinstance(y, tuple) else (y,)
    for v in ys:
        v.forward()
    return [v.d for v in ys]


def _reference(ref, inputs, kwargs, changed):
    """NumPy's result on the same values, the changed (once float) input as float64."""
    inputs = list(inputs)
    inputs[changed] = inputs[changed].astype(np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = ref(*inputs, **kwargs)
    return list(want) if isinstance(want, tuple) else [want]


def _check(call):
    # kept: False, or (the changed input, whether NaN/inf went in) when values were kept
    f, inputs, kwargs, ref, spoiled, new_kwargs, kept = call
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                got = _outputs(f(*[_as_variable(a) for a in spoiled], **new_kwargs))
            except _Timeout:
                pytest.fail(f"{f.__name__} ran for more than {TIME_LIMIT} s")
            except Exception as e:  # noqa: BLE001 - what the fuzz is about
                assert _names_a_function(str(e)), (
                    f"{f.__name__}({_describe(spoiled)}, {new_kwargs}) raised "
                    f"{type(e).__name__}: {e!s:.300} -- the message does not start with a "
                    "function's name")
                raw = _raw_behind_a_name(e)
                assert raw is None, (
                    f"{f.__name__}({_describe(spoiled)}, {new_kwargs}) raised "
                    f"{type(e).__name__}: {e!s:.300} -- NumPy's or Python's own message "
                    f"behind the name {raw}: check the argument when the function is set up "
                    "and name it, what was given and what was expected")
                return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    for out in got:
        assert np.asarray(out).dtype.kind in "biuf", f"{f.__name__} returned {out.dtype}"
    if not kept or ref is None or f.__name__ in NO_REFERENCE:
        return
    changed, nan = kept
    if nan and f.__name__ in NAN_IS_NOT_COMPARABLE:
        return
    try:
        want = _reference(ref, spoiled, new_kwargs, changed)
    except Exception:  # noqa: BLE001 - the reference does not take these values
        return
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert np.shape(g) == w.shape, f"{f.__name__}: shape {np.shape(g)}, NumPy {w.shape}"
        if w.dtype.kind in "biuf":
            _close(f, np.asarray(g, np.float64), w.astype(np.float64), spoiled)


# Functions whose NaN/inf handling is a documented choice that a NumPy reference
# on the same values does not make (NNabla's): the fuzz still checks that they
# return real numbers of the right shape or a named error.
NAN_IS_NOT_COMPARABLE = {
    "max", "min", "maximum2", "minimum2", "maximum_scalar", "minimum_scalar", "clip_by_value",
    "relu", "relu6", "hard_tanh", "hard_sigmoid", "sort", "argmax", "argmin", "prelu",
    "reset_nan", "reset_inf", "sign", "where", "leaky_relu", "elu", "selu", "celu", "crelu",
    "huber_loss", "epsilon_insensitive_loss", "absolute_error", "batch_det", "batch_inv",
    "batch_logdet", "batch_cholesky", "clip_by_norm", "norm", "layer_normalization",
    "instance_normalization", "group_normalization", "tensor_normalization",
    "weight_standardization", "softmax", "log_softmax", "softmax_cross_entropy",
    "categorical_cross_entropy", "kl_multinomial", "sigmoid_cross_entropy", "einsum",
    "interpolate", "cumprod", "prod", "pow2", "pow_scalar", "r_pow_scalar", "gelu", "mish",
    "swish", "softplus", "log_sigmoid", "tanh_shrink", "sinc", "atan2",
}


# Functions that clamp their logarithms' arguments at float32's tiniest value, as
# NNabla does: where NumPy's reference is inf or NaN (log of 0 or of a negative
# number) they give finite values (-log(FLT_MIN) = 87.3 at most per term).
CLAMPS_LOG = {"categorical_cross_entropy", "binary_cross_entropy", "kl_multinomial"}


def _close(f, got, want, inputs):
    if f.__name__ in CLAMPS_LOG:
        clamped = ~np.isfinite(want)
        got, want = got[~clamped], want[~clamped]
    with np.errstate(all="ignore"):
        scale = max(1.0, float(np.nanmax(np.abs(want[np.isfinite(want)]), initial=0.0)))
    # float16 inputs and integer values far from the tables' ranges: float32 precision
    tol = 1e-2 if any(a is not None and a.dtype == np.float16 for a in inputs) else 1e-3
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True,
                               err_msg=f"{f.__name__}({_describe(inputs)}) differs from NumPy")


def _describe(inputs):
    return ", ".join("None" if a is None else f"{a.dtype}{a.shape}" for a in inputs)


@settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(calls())
def test_fuzz_public_functions(call):
    nn.clear_parameters()
    _check(call)


def test_the_convolution_references_agree_with_nablite():
    """The references above are right (else the fuzz would judge nothing)."""
    for f, inputs, ref, kwargs in EXTRA[2:5]:
        y = f(*[nn.Variable.from_numpy_array(a) for a in inputs], **kwargs)
        y.forward()
        np.testing.assert_allclose(y.d, ref(*inputs, **kwargs), rtol=1e-5, atol=1e-5)


def test_the_fuzz_covers_many_functions():
    assert len({c[0].__name__ for c in CASES}) >= 170


_CONV_CALLS = [  # (function, inputs, the arguments to spoil) of the convolution family
    (F.convolution, [_r(2, 3, 5, 5), _r(4, 3, 3, 3, seed=1), _r(4, seed=2)],
     ["base_axis", "pad", "stride", "dilation", "group", "channel_last"]),
    (F.deconvolution, [_r(2, 3, 4, 4), _r(3, 2, 3, 3, seed=1)],
     ["base_axis", "pad", "stride", "dilation", "group", "channel_last", "output_padding"]),
    (F.depthwise_convolution, [_r(2, 3, 5, 5), _r(3, 3, 3, seed=1)],
     ["base_axis", "pad", "stride", "dilation", "multiplier"]),
    (F.depthwise_deconvolution, [_r(2, 3, 5, 5), _r(3, 3, 3, seed=1)],
     ["base_axis", "pad", "stride", "dilation", "divisor"]),
    (F.fused_convolution, [_r(2, 3, 5, 5), _r(4, 3, 3, 3, seed=1)],
     ["base_axis", "pad", "stride", "dilation", "group", "pad_mode", "nonlinearity",
      "nonlinearity_args", "constant_value"]),
]
_BAD_ARGUMENTS = [None, "a", -1, 0, 10 ** 12, float("nan"), 1.5, (1,), [1, "a"], (1.5, 1),
                  (-1, -1), (10 ** 12, 1), (None, 1)]


@pytest.mark.parametrize("f,inputs,arguments", _CONV_CALLS,
                         ids=[c[0].__name__ for c in _CONV_CALLS])
def test_checked_functions_name_every_bad_argument(f, inputs, arguments):
    """Every argument of the convolution family with every bad value: a
    result of real numbers or an error naming the function -- never NumPy's or
    Python's own message behind the name (the sampled fuzz meets few of these)."""
    for name in arguments:
        for value in _BAD_ARGUMENTS:
            call = (f, inputs, {}, None, [np.array(a) for a in inputs], {name: value}, False)
            try:
                _check(call)
            except AssertionError as e:
                raise AssertionError(f"{f.__name__}({name}={value!r}): {e}") from None
