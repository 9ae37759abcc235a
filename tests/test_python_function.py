"""nn.function.PythonFunction: user-defined functions with NNabla's contract."""
import inspect

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.function import PythonFunction
from gradcheck import check_function, randn
from nnabla_parity import check_same_source


class SameShape(PythonFunction):
    """The contract's boilerplate, written as NNabla's users write it: the class
    name as the function's name, outputs shaped like the first input, backward
    reading the inputs only."""
    n_outputs = 1

    @property
    def name(self):
        return self.__class__.__name__

    def min_outputs(self):
        return self.n_outputs

    def setup_impl(self, inputs, outputs):
        for o in outputs[:self.n_outputs]:
            o.reset_shape(inputs[0].shape, True)

    def grad_depends_output_data(self, i, o):
        return False

    def grad_depends_input_data(self, i, j):
        return True


class Square(SameShape):
    """y = x ** 2 (numpy on .d / .g)."""

    def forward_impl(self, inputs, outputs):
        outputs[0].d = inputs[0].d ** 2

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        if propagate_down[0]:
            g = 2 * inputs[0].d * outputs[0].g
            if accum[0]:
                inputs[0].g += g
            else:
                inputs[0].g = g


class AddMul(SameShape):
    """Two outputs: (a + b, a * b)."""
    n_outputs = 2

    def forward_impl(self, inputs, outputs):
        outputs[0].d = inputs[0].d + inputs[1].d
        outputs[1].d = inputs[0].d * inputs[1].d

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        g_sum, g_prod = outputs[0].g, outputs[1].g
        for i, other in ((0, inputs[1].d), (1, inputs[0].d)):
            if propagate_down[i]:
                g = g_sum + g_prod * other
                if accum[i]:
                    inputs[i].g += g
                else:
                    inputs[i].g = g

    def grad_depends_input_data(self, i, j):
        return i != j


class Mul2(SameShape):
    """NNabla's documented example: NdArray operations, copy_from and +=."""

    def __init__(self, ctx=None):
        super().__init__(ctx)

    def forward_impl(self, inputs, outputs):
        outputs[0].data.copy_from(F.mul2(inputs[0].data, inputs[1].data))

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        x0, x1, dy = inputs[0].data, inputs[1].data, outputs[0].grad
        for i, other in ((0, x1), (1, x0)):
            if propagate_down[i]:
                if accum[i]:
                    inputs[i].grad += F.mul2(dy, other)
                else:
                    inputs[i].grad.copy_from(F.mul2(dy, other))


class Scale3(SameShape):
    """y = 3 x: backward reads no data, so forward clearing may free everything."""

    def forward_impl(self, inputs, outputs):
        outputs[0].d = 3 * inputs[0].d

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        if propagate_down[0]:
            inputs[0].g = 3 * outputs[0].g

    def grad_depends_input_data(self, i, j):
        return False


def test_square_forward_backward_accumulation_and_clearing():
    check_function(lambda x: Square()(x), [randn(3, 4)], ref=lambda x: x ** 2)


def test_two_outputs_against_numpy_and_numerical_gradients():
    a, b = randn(2, 3), randn(2, 3, seed=1)
    check_function(lambda a, b: AddMul()(a, b), [a, b], ref=lambda a, b: (a + b, a * b))
    check_function(lambda a, b: AddMul()(a, b), [a, b], ref=lambda a, b: (a + b, a * b),
                   outputs=[1])


def test_ndarray_style_example_from_nnabla_docs():
    check_function(lambda a, b: Mul2()(a, b), [randn(4), randn(4, seed=1)],
                   ref=lambda a, b: a * b)

    class AlwaysAccumulate(Mul2):  # ignores accum: in-place NdArray += must work
        def backward_impl(self, inputs, outputs, propagate_down, accum):
            dy = outputs[0].grad
            for i, other in ((0, inputs[1].data), (1, inputs[0].data)):
                inputs[i].grad += F.mul2(dy, other)
                inputs[i].grad *= 2.0
                inputs[i].grad /= 2.0

    check_function(lambda a, b: AlwaysAccumulate()(a, b), [randn(4), randn(4, seed=1)],
                   ref=lambda a, b: a * b)


def test_grad_depends_flags_drive_buffer_clearing():
    check_function(lambda x: Scale3()(x), [randn(5)], ref=lambda x: 3 * x)
    x = nn.Variable.from_numpy_array(randn(5), need_grad=True)
    h = F.identity(x)
    y = F.mul_scalar(Scale3()(h), 1.0)
    f = y.parent.inputs[0].parent
    assert (f.grad_reads_inputs, f.grad_reads_outputs) == (False, False)
    assert (Square()(x).parent.grad_reads_inputs, AddMul()(x, x)[0].parent.grad_reads_outputs) \
        == (True, False)
    h_data = h.data
    del h  # (a Variable the script holds keeps its values, as in NNabla)
    y.forward(clear_no_need_grad=True)
    assert h_data.clear_called  # the input of Scale3 was freed: its backward never reads it
    x.g = 0
    y.backward(np.ones(5))
    np.testing.assert_allclose(x.g, 3.0)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0, 3.0], np.float32), need_grad=True)
    y = Square()(x)
    y.forward()
    np.testing.assert_allclose(y.d, [1, 4, 9])
    x.g = 10
    y.backward(np.ones(3, np.float32))
    np.testing.assert_allclose(x.g, [12, 14, 16])
    y.backward(np.ones(3, np.float32))
    np.testing.assert_allclose(x.g, [14, 18, 22])


def test_same_input_twice_and_partial_need_grad():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32), need_grad=True)
    t = F.identity(x)
    s, p = AddMul()(t, t)
    w = F.add2(s, p)
    w.forward()
    x.g = 0
    w.backward(np.ones(2, np.float32))
    np.testing.assert_allclose(x.g, [4, 6])  # 2 + 2x, as NNabla gives

    seen = []

    class Spy(AddMul):
        def backward_impl(self, inputs, outputs, propagate_down, accum):
            seen.append((list(propagate_down), list(accum)))
            super().backward_impl(inputs, outputs, propagate_down, accum)

    c = nn.Variable.from_numpy_array(np.array([3.0, 5.0], np.float32))
    x.g = 0
    s, p = Spy()(x, c)
    p.forward()
    p.backward(np.array([1.0, 2.0], np.float32))
    assert seen == [([True, False], [False, False])]
    np.testing.assert_allclose(x.g, [3, 10])
    assert not c.g.any()


def test_graph_node_looks_like_nnabla_callback():
    x = nn.Variable((2, 3), need_grad=True)
    y = Square()(x)
    assert y.shape == (2, 3) and y.need_grad
    assert y.parent.name == "Callback"
    assert y.parent.info.type_name == "Square"
    assert y.parent.args == {} and y.parent.inputs[0] is x
    ys = AddMul()(x, x, n_outputs=3)
    assert len(ys) == 3 and isinstance(ys, tuple) and ys[2].shape == ()


class Doubled(PythonFunction):
    """``name`` as a plain method (FastSpeech2's Regulator writes it so), which
    NNabla takes as well as a property."""

    def name(self):
        return "Doubled"

    def min_outputs(self):
        return 1

    def setup_impl(self, inputs, outputs):
        outputs[0].reset_shape(inputs[0].shape, True)

    def forward_impl(self, inputs, outputs):
        outputs[0].data.copy_from(inputs[0].data * 2)

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        pass


def test_name_may_be_a_method():
    y = Doubled(nn.get_current_context())(nn.Variable.from_numpy_array(np.ones((2, 3))))
    y.forward()
    np.testing.assert_array_equal(y.d, 2)
    assert y.parent.info.type_name == "Doubled"


def test_auto_forward_and_ndarray_inputs():
    a, b = randn(2, 3).astype(np.float32), randn(2, 3, seed=1).astype(np.float32)
    with nn.auto_forward():
        s, p = AddMul()(nn.Variable.from_numpy_array(a), nn.Variable.from_numpy_array(b))
    np.testing.assert_allclose(s.d, a + b)
    np.testing.assert_allclose(p.d, a * b)
    s, p = AddMul()(nn.NdArray.from_numpy_array(a), nn.NdArray.from_numpy_array(b))
    assert isinstance(s, nn.NdArray) and isinstance(p, nn.NdArray)
    np.testing.assert_allclose(p.data, a * b)


def test_context_defaults_to_the_current_one():
    ctx = nn.Context(["cpu:half", "cpu:float"], "CpuCachedArray", "")
    with nn.context_scope(ctx):
        f = Square()
    assert f.ctx == ctx
    assert Square(ctx).ctx == ctx
    assert Square().ctx == nn.get_current_context()
    with pytest.raises(TypeError, match=r"Square: ctx must be an nn.Context or None, got str"):
        Square("cpu")


def test_clear_errors():
    class NoName(PythonFunction):
        pass

    x = nn.Variable((3,))
    with pytest.raises(NotImplementedError, match=r"NoName: .* must define the `name` property"):
        NoName()(x)
    with pytest.raises(ValueError, match=r"AddMul: needs at least 2 outputs .* n_outputs=1"):
        AddMul()(x, x, n_outputs=1)

    class WrongShape(Square):
        def forward_impl(self, inputs, outputs):
            outputs[0].reset_shape((5,), True)
            outputs[0].d = 1

    with pytest.raises(ValueError, match=r"WrongShape.forward_impl: output 0 has shape \(5,\), "
                                         r"but setup_impl gave \(3,\)"):
        WrongShape()(x).forward()


_SAME_CLASSES_CASE = """
from nnabla.function import PythonFunction
""" + "\n".join(inspect.getsource(c) for c in (SameShape, Square, AddMul, Mul2)) + """
a = nn.Variable.from_numpy_array(A.astype(np.float32), need_grad=True)
b = nn.Variable.from_numpy_array(B.astype(np.float32), need_grad=True)
s, p = AddMul()(Square()(a), b)
y = F.add2(Mul2()(s, p), F.mul_scalar(s, 2.0))
y.forward()
a.g = 1.0
b.g = 0.0
y.backward(GY.astype(np.float32))
OUT = {"y": y.d, "ga": a.g, "gb": b.g}
"""


def test_parity_with_nnabla_running_the_same_classes():
    rng = np.random.RandomState(0)
    A, B, GY = (rng.randn(2, 3).round(3) for _ in range(3))
    check_same_source(_SAME_CLASSES_CASE, rtol=1e-5, atol=1e-6, A=A, B=B, GY=GY)


class CountCalls(PythonFunction):
    """y = x; forward adds 1 to a state input in place through ``.d`` (and backward
    adds 10 through an in-place write and then an assignment), NNabla's way of
    keeping state in a PythonFunction."""

    @property
    def name(self):
        return "CountCalls"

    def min_outputs(self):
        return 1

    def setup_impl(self, inputs, outputs):
        outputs[0].reset_shape(inputs[0].shape, True)

    def forward_impl(self, inputs, outputs):
        outputs[0].d = inputs[0].d
        inputs[1].d += 1  # in place, into the host view
        inputs[2].d = inputs[2].d + 1  # an assignment of a new array

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        if propagate_down[0]:
            inputs[0].g = outputs[0].g
        inputs[1].d[...] += 10

    def grad_depends_output_data(self, i, o):
        return False

    def grad_depends_input_data(self, i, j):
        return False


def _count_calls_twice():
    x = nn.Variable.from_numpy_array(np.arange(3, dtype=np.float32), need_grad=True)
    n, m = nn.Variable((1,)), nn.Variable((1,))
    y = F.mul_scalar(CountCalls()(x, n, m), 2.0)  # a function after it on the device
    # the state read by a function of the same graph after the PythonFunction wrote it
    z = F.add2(y, F.broadcast(F.mul_scalar(n, 1.0), (3,)))
    for _ in range(2):
        z.forward()
        z.backward()
    return x, n, m, z


def test_in_place_writes_to_input_data_persist():
    """Writes into ``inputs[i].d`` reach the Variable (the next function and the next
    step see them): forward twice, backward twice."""
    x, n, m, z = _count_calls_twice()
    assert float(n.d[0]) == 22 and float(m.d[0]) == 2
    np.testing.assert_allclose(z.d, 2 * np.arange(3) + 12)  # n was 12 when z was computed
    np.testing.assert_allclose(x.g, 4)


def test_in_place_writes_to_input_data_persist_on_a_device(on_device):
    """The same on the simulated device: the host view the user writes is the
    newest copy, which the next device use (the next function, the next step)
    reads, as NNabla's synced arrays do."""
    test_in_place_writes_to_input_data_persist()
