"""nablite.backward_functions (nnabla.backward_functions): gradient rules
registered by type name, used by nn.grad for PythonFunctions and built-ins."""
import numpy as np
import pytest

import nablite as nn
import nablite.backward_functions as BF
import nablite.functions as F
from nnabla_parity import check_same_source

CASE = '''
from nnabla.function import PythonFunction
import nnabla.backward_functions as BF

class Square(PythonFunction):
    @property
    def name(self):
        return "MySquare"
    def min_outputs(self):
        return 1
    def setup_impl(self, inputs, outputs):
        outputs[0].reset_shape(inputs[0].shape, True)
    def forward_impl(self, inputs, outputs):
        outputs[0].d = inputs[0].d ** 2
    def backward_impl(self, inputs, outputs, propagate_down, accum):
        g = 2 * inputs[0].d * outputs[0].g
        if accum[0]:
            inputs[0].g += g
        else:
            inputs[0].g = g
    def grad_depends_output_data(self, i, o):
        return False
    def grad_depends_input_data(self, i, j):
        return True

seen = {}
def square_backward(grad_inputs, inputs, input_shapes, outputs, output_shapes, **kw):
    seen["call"] = [len(grad_inputs), [v is None for v in inputs], [list(s) for s in input_shapes],
                    [v is None for v in outputs], [list(s) for s in output_shapes], sorted(kw)]
    return [grad_inputs[0] * 2 * inputs[0]]

def relu_twice(grad_inputs, inputs, input_shapes, outputs, output_shapes, inplace=False):
    return [grad_inputs[0] * 2]

BF.register("MySquare", square_backward)
x = nn.Variable.from_numpy_array(np.array([1., -2., 3.], np.float32), need_grad=True)
y = F.sum(Square(nn.get_current_context())(x) * 3)
gx = nn.grad([y], [x])[0]
ggx = nn.grad([F.sum(gx * gx)], [x])[0]
F.sink(gx, ggx).forward()
old = BF.registry.get("ReLU")
BF.register("ReLU", relu_twice)
try:
    g = nn.grad([F.sum(F.relu(x))], [x])[0]
    g.forward()
finally:
    if old is None:
        del BF.registry["ReLU"]
    else:
        BF.register("ReLU", old)
OUT = {"gx": gx.d.copy(), "ggx": ggx.d.copy(), "call": seen["call"], "relu": g.d.copy()}
'''


@pytest.fixture(autouse=True)
def clean_registry():
    before = dict(BF.registry)
    yield
    BF.registry.clear()
    BF.registry.update(before)


def test_a_registered_rule_gives_python_functions_second_order_as_nnabla():
    mine, _ = check_same_source(CASE)
    x = np.array([1., -2., 3.])
    np.testing.assert_allclose(mine["gx"], 6 * x)  # d/dx sum(3 x^2)
    np.testing.assert_allclose(mine["ggx"], 72 * x)  # d/dx sum((6 x)^2)
    np.testing.assert_allclose(mine["relu"], [2, 2, 2])  # the registered rule, not ReLU's own


def test_the_rule_replaces_a_builtins_own_and_its_count_is_checked():
    x = nn.Variable.from_numpy_array(np.array([-1., 2.], np.float32), need_grad=True)
    BF.register("Tanh", lambda gi, xs, xsh, ys, ysh: [gi[0] * 0 + 5])
    g = nn.grad([F.sum(F.tanh(x))], [x])[0]
    g.forward()
    np.testing.assert_array_equal(g.d, [5, 5])
    del BF.registry["Tanh"]
    g = nn.grad([F.sum(F.tanh(x))], [x])[0]  # back to nablite's own
    g.forward()
    np.testing.assert_allclose(g.d, 1 - np.tanh([-1., 2.]) ** 2, rtol=1e-6)
    BF.register("Add2", lambda gi, xs, xsh, ys, ysh, **kw: [gi[0]])
    with pytest.raises(ValueError, match="the rule registered for Add2 returned 1 gradients; "
                                         "the function has 2 inputs"):
        nn.grad([F.sum(F.add2(x, x))], [x])


def test_register_refuses_what_is_not_a_rule_and_show_registry_lists(capsys):
    with pytest.raises(TypeError, match="register: expected a function type name and a "
                                        "callable; got 'ReLU' and int"):
        BF.register("ReLU", 3)

    def rule(*args, **kwargs):
        return [None]
    BF.register("Identity", rule)
    BF.show_registry()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Identity <function") and "nablite's own" in out[-1]
