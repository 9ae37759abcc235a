"""nablite.utils.dlpack: NdArrays over DLPack capsules' memory and back, no copies."""
import gc
import sys

import numpy as np
import pytest

import nablite as nn
from nablite.utils.dlpack import from_dlpack, to_dlpack


def test_from_dlpack_shares_a_numpy_capsules_memory_writably():
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = from_dlpack(src.__dlpack__())
    assert isinstance(a, nn.NdArray) and a.shape == (2, 3) and a.dtype == np.float32
    src[0, 0] = 100
    assert a.data[0, 0] == 100
    a.data[1, 2] = -1  # writable, unlike NumPy's own from_dlpack of such a capsule
    assert src[1, 2] == -1
    np.testing.assert_array_equal(a.data, src)


def test_the_producers_deleter_runs_when_the_array_goes():
    src = np.ones(4, np.float32)
    before = sys.getrefcount(src)
    a = from_dlpack(src.__dlpack__())
    assert sys.getrefcount(src) == before + 1  # the capsule's manager holds it
    del a
    gc.collect()
    assert sys.getrefcount(src) == before


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int8, np.int32, np.int64,
                                   np.uint8, np.bool_])
def test_dtypes_and_strided_memory(dtype):
    src = (np.arange(12).reshape(3, 4) % 2).astype(dtype)
    view = src[:, ::2]  # strides the capsule carries
    a = from_dlpack(view.__dlpack__())
    assert a.dtype == np.dtype(dtype) and a.shape == (3, 2)
    np.testing.assert_array_equal(a.data, view)
    assert np.shares_memory(a.data, src)


def test_a_capsule_is_taken_once_and_arr_takes_the_memory():
    cap = np.zeros((2, 3)).__dlpack__()
    target = nn.NdArray((5,))
    assert from_dlpack(cap, arr=target) is target
    assert target.shape == (2, 3) and target.dtype == np.float64
    with pytest.raises(ValueError, match="from_dlpack: dlp must be an unused DLPack capsule"):
        from_dlpack(cap)
    with pytest.raises(ValueError, match="got 3"):
        from_dlpack(3)
    with pytest.raises(TypeError, match="from_dlpack: arr must be an NdArray"):
        from_dlpack(np.zeros(2).__dlpack__(), arr=np.zeros(2))
    empty = from_dlpack(np.zeros((0, 3), np.float32).__dlpack__())
    assert empty.shape == (0, 3)


def test_to_dlpack_shares_the_ndarray_and_casts_on_request():
    b = nn.NdArray.from_numpy_array(np.full((2, 2), 3, np.float32))
    again = from_dlpack(to_dlpack(b))
    again.data[0, 0] = 7
    assert b.data[0, 0] == 7
    half = from_dlpack(to_dlpack(b, dtype=np.float16))
    assert half.dtype == np.float16 and b.dtype == np.float16  # b's storage is cast
    np.testing.assert_array_equal(half.data, [[7, 3], [3, 3]])
    with pytest.raises(TypeError, match=r"to_dlpack: a must be an NdArray \(a Variable's "
                                        r"\.data\); got Variable"):
        to_dlpack(nn.Variable((2,)))


def test_a_variables_data_trains_through_memory_another_library_writes():
    x = nn.Variable((2, 3), need_grad=True)
    src = np.full((2, 3), 2.0, np.float32)
    from_dlpack(src.__dlpack__(), arr=x.data)
    y = nn.functions.sum(x * x)
    y.forward()
    assert float(y.d) == pytest.approx(24.0)
    src[...] = 1.0  # written by the producer, seen by the next forward
    y.forward()
    assert float(y.d) == pytest.approx(6.0)


def test_torch_both_ways():
    torch = pytest.importorskip("torch")
    t = torch.ones(2, 2)
    a = from_dlpack(torch.utils.dlpack.to_dlpack(t))
    a.data[0, 0] = 5
    assert t[0, 0].item() == 5
    column = from_dlpack(t[:, 1])  # a tensor itself, strided
    column.data[:] = 9
    assert t[:, 1].tolist() == [9, 9]
    b = nn.NdArray.from_numpy_array(np.zeros((2, 2), np.float32))
    tt = torch.utils.dlpack.from_dlpack(to_dlpack(b))
    tt[1, 1] = 42
    assert b.data[1, 1] == 42
