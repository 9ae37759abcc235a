"""NNabla's ``outputs=[NdArray, ...]`` argument of every F function: results land
in the given arrays, for NdArray inputs and for graph outputs (which compute into
them from then on)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nnabla_parity import check_same_source

CASE = '''
a = nn.Variable.from_numpy_array(np.ones(3, np.float32))
b = nn.Variable.from_numpy_array(np.array([1., -2., 3.], np.float32))
y = F.add2(a, b, inplace=True, outputs=[a.data])  # in place, into a
y.forward()
OUT = {"inplace": [y.d.copy(), a.d.copy()]}
o = nn.NdArray((3,))
z = F.relu(b, outputs=[o])
z.forward()
OUT["graph"] = o.data.copy()
nd = nn.NdArray.from_numpy_array(np.array([1., -2., 3.], np.float32))
o2 = nn.NdArray((3,))
r = F.relu(nd, outputs=[o2])
OUT["ndarray"] = [r.data.copy(), o2.data.copy()]
x = nn.Variable.from_numpy_array(np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3))
w = nn.Variable.from_numpy_array(np.ones((1, 1, 2, 2), np.float32))
o3 = nn.NdArray((1, 1, 2, 2))
F.convolution(x, w, outputs=[o3]).forward()
OUT["conv"] = o3.data.copy()
with nn.auto_forward():
    o4 = nn.NdArray((3,))
    F.mul_scalar(b, 2.0, outputs=[o4])
OUT["auto"] = o4.data.copy()
'''


def _run_here():
    import nablite.parametric_functions as PF
    ns = {"nn": nn, "F": F, "PF": PF, "np": np}
    exec(CASE, ns)
    return ns["OUT"]


def test_results_land_in_the_given_arrays():
    out = _run_here()
    np.testing.assert_array_equal(out["inplace"][1], [2, -1, 4])  # a holds a + b
    np.testing.assert_array_equal(out["graph"], [1, 0, 3])
    np.testing.assert_array_equal(out["ndarray"][1], [1, 0, 3])
    np.testing.assert_array_equal(out["conv"].ravel(), [8, 12, 20, 24])
    np.testing.assert_array_equal(out["auto"], [2, -4, 6])


def test_as_nnabla():
    check_same_source(CASE)


def test_outputs_that_do_not_fit_are_refused():
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match=r"relu: outputs\[0\] has shape \(3,\); output 0 has "
                                         r"shape \(2, 3\)"):
        F.relu(x, outputs=[nn.NdArray((3,))])
    with pytest.raises(TypeError, match=r"relu: outputs\[0\] must be an NdArray, got ndarray"):
        F.relu(x, outputs=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match="relu: outputs has 2 arrays; the function gives 1"):
        F.relu(x, outputs=[nn.NdArray((2, 3)), nn.NdArray((2, 3))])
