"""Bad input to Variables and NdArrays: non-real data, None, wrong shapes, 0-d arrays.

NNabla 1.39 refuses complex, object and string arrays (RuntimeError "Unknown
dtype"); nablite refuses them with a TypeError naming the entry point and the dtype.
"""
import re

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F

NON_REAL = [np.array([1 + 2j, 3]), np.array([1, None], dtype=object), np.array(["a", "b"]),
            np.array([b"a"]), np.array(["2020-01-01"], dtype="datetime64[D]")]


@pytest.mark.parametrize("arr", NON_REAL, ids=lambda a: str(a.dtype))
def test_from_numpy_array_refuses_non_real_dtypes(arr):
    with pytest.raises(TypeError, match=r"^Variable.from_numpy_array: data: got an array of "
                                        rf"dtype {re.escape(str(arr.dtype))}"):
        nn.Variable.from_numpy_array(arr)
    with pytest.raises(TypeError, match=r"^NdArray.from_numpy_array: .*dtype"):
        nn.NdArray.from_numpy_array(arr)


@pytest.mark.parametrize("arr", NON_REAL, ids=lambda a: str(a.dtype))
def test_assigning_non_real_data_or_grad_is_refused_and_changes_nothing(arr):
    x = nn.Variable((2,))
    x.d = [1, 2]
    x.g = [3, 4]
    dtype = re.escape(str(arr.dtype))
    with pytest.raises(TypeError, match=rf"^Variable.d: got an array of dtype {dtype}"):
        x.d = np.resize(arr, 2)
    with pytest.raises(TypeError, match=rf"^Variable.g: got an array of dtype {dtype}"):
        x.g = np.resize(arr, 2)
    with pytest.raises(TypeError, match="^NdArray.data"):
        x.data.data = np.resize(arr, 2)
    np.testing.assert_array_equal(x.d, [1, 2])
    np.testing.assert_array_equal(x.g, [3, 4])


def test_none_and_strings_are_not_data():
    x = nn.Variable((2,))
    x.d = 5
    for bad in (None, "ab", b"ab", 1j):
        with pytest.raises(TypeError, match="^Variable.d: got"):
            x.d = bad
    np.testing.assert_array_equal(x.d, [5, 5])  # not NaN, not changed
    with pytest.raises(TypeError, match="^Variable.from_numpy_array: data: got None"):
        nn.Variable.from_numpy_array(None)


def test_cast_to_a_non_real_dtype_is_refused():
    a = nn.NdArray.from_numpy_array(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="^NdArray.cast: dtype=complex64"):
        a.cast(np.complex64)
    assert a.dtype == np.float32


def test_functions_refuse_non_real_numpy_inputs_by_name():
    with pytest.raises(TypeError, match="^Sin: got an array of dtype complex128"):
        F.sin(np.array([1j]))


def test_mismatched_shapes_name_the_entry_point_and_both_shapes():
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match=r"^Variable.d: cannot assign an array of shape "
                                         r"\(3, 2\) to an array of shape \(2, 3\)"):
        x.d = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"^Variable.d: .*shape \(4,\)"):
        x.d = np.ones(4, np.int64)  # another dtype takes the other branch
    with pytest.raises(ValueError, match=r"^Variable.g: .*\(5,\)"):
        x.g = np.ones(5)
    x.d = np.ones(3)  # broadcasting is fine, as in NNabla
    np.testing.assert_array_equal(x.d, np.ones((2, 3)))


def test_ragged_lists_are_a_value_error_naming_the_entry_point():
    with pytest.raises(ValueError, match="^Variable.from_numpy_array: data: cannot make"):
        nn.Variable.from_numpy_array([[1, 2], [3]])


def test_from_numpy_array_grad_of_another_shape():
    with pytest.raises(ValueError, match=r"grad of shape \(3, 2\) does not match data of "
                                         r"shape \(2, 3\)"):
        nn.Variable.from_numpy_array(np.ones((2, 3)), grad=np.ones((3, 2)))
    with pytest.raises(ValueError, match="grad of shape"):
        nn.Variable.from_numpy_array(np.ones((2, 3)), grad=np.ones(6))  # no silent reshape
    v = nn.Variable.from_numpy_array(np.ones((2, 3)), grad=np.arange(3.0))  # broadcasts
    np.testing.assert_array_equal(v.g, np.broadcast_to(np.arange(3.0), (2, 3)))
    with pytest.raises(TypeError, match="grad: got an array of dtype complex"):
        nn.Variable.from_numpy_array(np.ones(2), grad=np.array([1j, 1]))


@pytest.mark.parametrize("build", [
    lambda x: F.transpose(x, ()),
    lambda x: F.flip(x, axes=[]),
    lambda x: F.broadcast(x, ()),
    lambda x: F.identity(x),
    lambda x: F.reshape(x, ()),
], ids=["transpose", "flip", "broadcast", "identity", "reshape"])
def test_zero_dimensional_stays_zero_dimensional(build):
    x = nn.Variable.from_numpy_array(np.array(3.0))
    y = build(x)
    y.forward()
    assert y.shape == () and y.d.shape == () and y.d == 3.0
    with nn.auto_forward():
        z = build(x)
    assert z.d.shape == ()


def test_integer_data_in_a_built_static_graph_is_computed_in_float():
    # the graph is built for float32 data; integer data arrives afterwards
    x = nn.Variable((2, 3))
    y = F.mean(x, axis=1)
    z = F.global_average_pooling(F.reshape(x, (1, 2, 3, 1)))
    x.d = np.array([[1, 2, 2], [3, 4, 4]])
    assert x.d.dtype == np.int64  # .d keeps the assigned dtype, as in NNabla
    y.forward()
    z.forward()
    np.testing.assert_allclose(y.d, [5 / 3, 11 / 3], rtol=1e-6)
    np.testing.assert_allclose(z.d.ravel(), [5 / 3, 11 / 3], rtol=1e-6)


def test_readme_errors_section_runs_as_written(tmp_path, monkeypatch):
    """The code of README.md's "Errors and files" section runs as written (its
    checks are asserts), and the section states the fuzz's longer-run command."""
    import os
    readme = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    text = open(readme).read()
    section = re.search(r"^## Errors and files\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section is not None, "README.md has no '## Errors and files' section"
    body = section.group(1)
    assert "<!-- section:" not in body, "the section is still its marker"
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)
    assert blocks, "the section has no python block"
    assert "NABLITE_FUZZ_EXAMPLES=" in body and "benchmarks/param_files.py" in body
    monkeypatch.chdir(tmp_path)  # whatever a block writes stays out of the checkout
    for block in blocks:
        exec(compile(block, "README Errors and files", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("shape,exc,match", [
    ((-1, 2), ValueError, r"shape=\(-1, 2\) must hold sizes >= 0"),
    ((2.5,), TypeError, "must hold integers, got float 2.5"),
    ("ab", TypeError, "must hold integers, got str"),
    ((None,), TypeError, "must hold integers, got NoneType"),
])
def test_variable_shapes_are_sizes(shape, exc, match):
    with pytest.raises(exc, match=r"^Variable: (shape=.* )?" + match):
        nn.Variable(shape)
    assert nn.Variable((2.0, 3)).shape == (2, 3)  # NNabla takes 2.0 for 2


def test_arrays_too_big_to_allocate_name_the_shape():
    for shape in ((10 ** 6, 10 ** 6), (10 ** 30,)):
        with pytest.raises(MemoryError, match=r"^NdArray: cannot allocate an array of shape"):
            nn.Variable(shape).d


def test_backward_grad_must_be_real_and_broadcast():
    x = nn.Variable((2,), need_grad=True)
    y = F.sin(x)
    with pytest.raises(ValueError, match=r"^Variable.backward: grad of shape \(3,\) does not "
                                         r"broadcast to the variable's shape \(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(TypeError, match="^Variable.backward: grad: got a str"):
        y.backward("a")
    with pytest.raises(TypeError, match="^Variable.backward: grad: got an array of dtype "
                                        "complex"):
        y.backward(np.array([1j, 1]))


def test_complex_scalars_are_refused():
    x = nn.Variable((2,))
    with pytest.raises(TypeError, match="unsupported operand type for a Variable: complex"):
        x + 1j
    with pytest.raises(TypeError, match=r"^AddScalar: val=1j must be a real number"):
        F.add_scalar(x, 1j)
    with pytest.raises(TypeError, match=r"^HuberLoss: delta=1j must be a real number"):
        F.huber_loss(x, x, delta=1j)


@pytest.mark.parametrize("value", NON_REAL + [1 + 2j, None, "a"],
                         ids=lambda v: getattr(v, "dtype", type(v).__name__).__str__())
def test_setitem_refuses_non_real_values_and_changes_nothing(value):
    """``x[key] = value`` cast complex values to their real part and None to NaN;
    NNabla raises for both. The variable keeps its data and its (absent) parent."""
    x = nn.Variable.from_numpy_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(TypeError, match=r"^setitem: value: got "):
        x[0] = value
    assert x.parent is None
    np.testing.assert_array_equal(x.d, np.arange(6).reshape(2, 3))
    x[0] = np.array([True, False, True])  # bool and integer values are real: cast
    x.forward()
    np.testing.assert_array_equal(x.d[0], [1, 0, 1])


@pytest.mark.parametrize("op", ["get", "set"])
@pytest.mark.parametrize("key,exc,match", [
    (1.5, TypeError, r"unsupported index 1.5 of type float"),
    ((0, np.float32(1)), TypeError, r"unsupported index .* of type float32"),
    ((slice(None), [0, 7]), IndexError, r"index 7 is out of bounds for axis 1 with size 3"),
    (np.array([True, False, True]), IndexError, r"boolean index"),
])
def test_index_keys_are_checked_by_name(op, key, exc, match):
    x = nn.Variable.from_numpy_array(np.zeros((2, 3), np.float32))
    with pytest.raises(exc, match=rf"^{op}item: {match}"):
        if op == "get":
            x[key].forward()
        else:
            x[key] = 1.0
