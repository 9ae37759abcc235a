"""Engine dtype details checked against NNabla 1.39: assigning a float array of
another precision to a Variable's allocated float storage."""
import numpy as np

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S


def test_float64_values_assigned_to_a_float32_parameter_keep_it_float32(fresh_parameters):
    """``W.d = <float64 array>`` on a float32 parameter: NNabla computes the graph,
    the gradients and the update in float32 (its W.d reads float64 only until the
    first update; nablite's storage stays float32 from the start). The solver then
    keeps its packed (one array for all parameters) path."""
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.randn(4, 3).astype(np.float32))
    loss = F.mean(PF.affine(x, 2) ** 2)
    W = nn.get_parameters()["affine/W"]
    values = rng.randn(3, 2)  # float64
    W.d = values
    assert W.d.dtype == np.float32
    np.testing.assert_array_equal(W.d, values.astype(np.float32))
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    for _ in range(2):
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    assert loss.d.dtype == np.float32
    assert W.g.dtype == np.float32 and W.d.dtype == np.float32
    assert solver._pack is not None


def test_other_float_precisions_keep_allocated_storage_others_replace_it():
    v = nn.Variable.from_numpy_array(np.zeros(3, np.float32))
    for dtype in (np.float64, np.float16):
        v.d = np.arange(3, dtype=dtype)
        assert v.d.dtype == np.float32 and v.d.tolist() == [0, 1, 2]
    assert v.g.dtype == np.float32  # allocated by the read, in the data's dtype
    v.g = np.ones(3, np.float64)
    assert v.g.dtype == np.float32
    v.d = np.arange(3)  # integers replace float storage, as in NNabla
    assert v.d.dtype == np.int64
    v.d = np.arange(3, dtype=np.float64)  # and floats replace integer storage
    assert v.d.dtype == np.float64
    # nothing allocated yet: the assigned array's dtype, as NNabla's .d reads it
    fresh = nn.Variable((3,))
    fresh.d = np.arange(3, dtype=np.float64)
    assert fresh.d.dtype == np.float64
    a = nn.NdArray.from_numpy_array(np.zeros(2, np.float16))
    a.data = np.ones(2, np.float32)
    assert a.data.dtype == np.float16
