"""Gradient and buffer semantics NNabla scripts rely on (each measured on NNabla 1.39):
gradients set by hand on a multi-output function's outputs flow on through
``F.sink(..., one_input_grad=False)``, an output nothing consumes gets zeros,
a persistent intermediate's ``.g`` is overwritten by its consumer, ``.d`` of a
root or persistent variable is updated in place by the next forward, an
in-place reshape shares its input's memory, need_grad set on an intermediate
rules backward there, and nn.grad reaches parameters through their unlinked
copies in the graph."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
from gradcheck import randn


def V(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a, dtype=np.float64), need_grad=need_grad)


def _rnn_args(kind):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    x, h = V(randn(3, 2, 4), True), V(randn(1, 1, 2, 5, seed=1), True)
    args = [x, h] + ([V(randn(1, 1, 2, 5, seed=2), True)] if kind == "lstm" else [])
    per_gate = (gates,) if kind != "rnn" else ()
    w = V(randn(*((1,) + per_gate + (5, 9)), seed=3) * 0.3, True)
    b = V(randn(*((1, 1) + ((4,) if kind == "gru" else per_gate) + (5,)), seed=4) * 0.1,
          True)
    return getattr(F, kind), args + [w], {"bias": b}


def _mha():
    q, k = V(randn(3, 2, 4), True), V(randn(5, 2, 4, seed=1), True)
    ws = [V(randn(4, 4, seed=i) * 0.5, True) for i in range(2, 6)]
    return F.multi_head_attention, [q, k, k] + [2] + ws, {}


def _bn():
    x = V(randn(4, 3, 2), True)
    beta, gamma = V(randn(1, 3, 1, seed=1), True), V(randn(1, 3, 1, seed=2), True)
    mean, var = V(np.zeros((1, 3, 1))), V(np.ones((1, 3, 1)))
    return F.batch_normalization, [x, beta, gamma, mean, var], {"output_stat": True}


MULTI_OUTPUT = {
    "split": lambda: (F.split, [V(randn(3, 4), True)], {"axis": 0}),
    "max_with_index": lambda: (F.max, [V(randn(3, 4), True)], {"axis": 1, "with_index": True}),
    "min_with_index": lambda: (F.min, [V(randn(3, 4), True)], {"axis": 0, "with_index": True}),
    "sort_with_index": lambda: (F.sort, [V(randn(3, 4), True)], {"with_index": True}),
    "top_k_data_with_index": lambda: (F.top_k_data, [V(randn(3, 4), True), 2],
                                      {"with_index": True}),
    "batch_normalization_output_stat": _bn,
    "rnn": lambda: _rnn_args("rnn"),
    "lstm": lambda: _rnn_args("lstm"),
    "gru": lambda: _rnn_args("gru"),
    "stft": lambda: (F.stft, [V(randn(2, 16), True)], {"window_size": 8, "stride": 4,
                                                       "fft_size": 8}),
    "multi_head_attention": _mha,
    "pack_padded_sequence": lambda: (F.pack_padded_sequence,
                                     [V(randn(4, 3, 2), True), V([4, 3, 1])], {}),
}


@pytest.mark.parametrize("name", sorted(MULTI_OUTPUT))
def test_hand_set_output_gradients_flow_through_sink(name):
    f, args, kwargs = MULTI_OUTPUT[name]()
    ys = f(*args, **kwargs)
    leaves = [a for a in list(args) + list(kwargs.values())
              if isinstance(a, nn.Variable) and a.need_grad]
    rng = np.random.RandomState(0)
    gys = [rng.randn(*y.shape) for y in ys]
    # reference: backward of sum_i sum(g_i * y_i) over the float outputs. An
    # output that the function itself consumes (the attention weights feed y)
    # has its hand-set .g overwritten by that consumer, in NNabla too.
    internal = {"multi_head_attention": {1}}.get(name, set())
    floats = [(y, g) for i, (y, g) in enumerate(zip(ys, gys))
              if np.dtype(y.dtype).kind == "f" and i not in internal]
    ref = F.add_n(*[F.sum(y * V(g)) for y, g in floats]) if len(floats) > 1 else \
        F.sum(floats[0][0] * V(floats[0][1]))
    ref.forward()
    for v in leaves:
        v.g = 0
    ref.backward()
    want = [v.g.copy() for v in leaves]
    # the NNabla way: set each output's .g by hand, then backward from a sink
    sink = F.sink(*ys, one_input_grad=False)
    sink.forward()
    for v in leaves:
        v.g = 0
    for y, g in zip(ys, gys):
        y.g = g if np.dtype(y.dtype).kind == "f" else 0
    sink.backward()
    for v, w in zip(leaves, want):
        np.testing.assert_allclose(v.g, w, rtol=1e-6, atol=1e-9)
    assert any(np.abs(w).max() > 0 for w in want)  # the test has something to compare


def test_an_output_nothing_consumes_gets_zeros():
    x = V(randn(2, 4), True)
    a, b = F.split(x, axis=0)
    y = F.sum(a)
    y.forward()
    b.g = 5
    x.g = 0
    y.backward()
    np.testing.assert_allclose(x.g, [[1] * 4, [0] * 4])
    np.testing.assert_allclose(b.g, 0)  # zero-filled, as NNabla


def test_a_comparison_passes_no_stale_gradient():
    x = V([-1.0, 2.0, 3.0], True)
    y = F.relu(x)
    y.forward()
    y.backward(np.array([5.0, 5.0, 5.0]))  # y.g now holds 5s
    s = F.sum(F.greater_scalar(y, 0.0) * 2.0)
    s.forward()
    x.g = 0
    s.backward()
    np.testing.assert_allclose(x.g, 0)


def test_persistent_intermediate_gradient_is_overwritten_by_its_consumer():
    x = V(randn(2, 3), True)
    h = F.tanh(x)
    h.persistent = True
    y = F.sum(F.identity(h))
    y.forward()
    h.g = 7
    x.g = 0
    y.backward()
    np.testing.assert_allclose(h.g, 1)
    np.testing.assert_allclose(x.g, 1 - np.tanh(x.d) ** 2)
    # and backward from the persistent variable itself starts from its .g
    x.g = 0
    h.g = 2
    h.backward(grad=None)
    np.testing.assert_allclose(x.g, 2 * (1 - np.tanh(x.d) ** 2))


def _forward_twice_keeping_data():
    """loss = sum(2 tanh(h)) forward at x = 1, its and the persistent h's ``.d``
    kept, then forward again at x = 2. -> (loss, h, kept loss.d, kept h.d)"""
    x = V(np.ones(3))
    h = F.tanh(x)
    h.persistent = True
    loss = F.sum(h * 2)
    loss.forward()
    kept_loss, kept_h = loss.d, h.d
    x.d = 2
    loss.forward()
    return loss, h, kept_loss, kept_h


@pytest.mark.host_context  # on a device, see the next test
def test_root_and_persistent_data_are_live_views():
    loss, h, kept_loss, kept_h = _forward_twice_keeping_data()
    assert kept_loss is loss.d or np.shares_memory(kept_loss, loss.d)
    np.testing.assert_allclose(kept_loss, 6 * np.tanh(2.0))
    np.testing.assert_allclose(kept_h, np.tanh(2.0) * np.ones(3))


def test_kept_host_arrays_get_device_results_when_next_read(on_device):
    """On a device (NNabla's synced array) a kept ``.d`` is the host copy: the next
    forward leaves it as it was, and the next read of ``.d`` copies the new values
    into that same array."""
    loss, h, kept_loss, kept_h = _forward_twice_keeping_data()
    np.testing.assert_allclose(kept_h, np.tanh(1.0) * np.ones(3))  # not read yet
    assert h.d is kept_h and loss.d is kept_loss
    np.testing.assert_allclose(kept_loss, 6 * np.tanh(2.0), rtol=1e-6)
    np.testing.assert_allclose(kept_h, np.tanh(2.0) * np.ones(3), rtol=1e-6)


def test_reshape_shares_its_input_memory():
    x = V(np.arange(6.0).reshape(2, 3))
    r = x.reshape((3, 2))
    np.testing.assert_allclose(r.d, np.arange(6.0).reshape(3, 2))  # before any forward
    r.d[0, 0] = 42
    assert x.d[0, 0] == 42
    r.d = np.ones((3, 2))
    np.testing.assert_allclose(x.d, np.ones((2, 3)))
    f = F.reshape(x, (6,))
    x.d[1, 2] = -1
    assert f.d[5] == -1
    # unlink=True copies nothing into the graph but still shares the arrays
    u = x.reshape((6,), unlink=True)
    assert u.parent is None and np.shares_memory(u.d, x.d)
    # and clearing the reshape's buffers never frees its input
    y = F.sum(F.reshape(F.tanh(x), (6,)) * 2)
    y.forward(clear_no_need_grad=True)
    np.testing.assert_allclose(y.d, 2 * np.sum(np.tanh(x.d)))


def test_state_kept_for_backward_is_freed_with_the_buffers():
    x = V(randn(4, 3, 2), True)
    beta, gamma = V(np.zeros((1, 3, 1)), True), V(np.ones((1, 3, 1)), True)
    bn = F.batch_normalization(x, beta, gamma, V(np.zeros((1, 3, 1))), V(np.ones((1, 3, 1))))
    t = V(np.array([[1], [0], [2], [1]]))
    loss = F.mean(F.softmax_cross_entropy(F.reshape(bn, (4, 6)), t))
    loss.forward()
    f_bn, f_ce = bn.parent, loss.parent.inputs[0].parent
    assert f_bn._mean is not None and f_ce._softmax is not None
    loss.backward(clear_buffer=True)
    assert f_bn._mean is None and f_bn._inv_std is None and f_ce._softmax is None
    # and kept when the buffers are kept (a second backward may follow)
    loss.forward()
    loss.backward()
    assert f_bn._mean is not None


def _mlp(x, recompute):
    h = x
    for i in range(3):
        with nn.parameter_scope(f"l{i}"), nn.recompute(recompute):
            h = F.tanh(PF.affine(h, 16))
    return F.mean(F.squared_error(PF.affine(h, 1, name="out"), V(np.ones((8, 1)))))


def test_recompute_gives_the_same_gradients_and_frees_the_marked_buffers():
    nn.clear_parameters()
    nn.seed(0)
    x = V(randn(8, 5))
    grads = []
    for recompute in (False, True):
        loss = _mlp(x, recompute)
        hidden = [f.outputs[0] for f in graph_order(loss) if f.name == "Tanh"]
        assert all(h.recompute == recompute for h in hidden)
        loss.forward(clear_no_need_grad=True)
        # marked intermediates are freed after their last use, even without clearing
        assert all(h.data.clear_called == recompute for h in hidden)
        for p in nn.get_parameters().values():
            p.grad.zero()
        loss.backward(clear_buffer=True)
        grads.append({k: p.g.copy() for k, p in nn.get_parameters().items()})
    for k in grads[0]:
        np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-12, atol=0)
    nn.clear_parameters()


def test_recompute_flag_and_nesting():
    x = V(randn(2, 3), True)
    with nn.recompute():
        a = F.tanh(x)
        with nn.recompute(False):
            b = F.sin(a)
    c = F.exp(b)
    assert (a.recompute, b.recompute, c.recompute) == (True, False, False)
    nn.set_global_recompute(True)
    try:
        assert F.cos(x).recompute and nn.get_global_recompute()
    finally:
        nn.set_global_recompute(False)


def test_recompute_fn_marks_what_the_function_makes():
    x = V(randn(2, 3), True)

    @nn.recompute_fn()
    def block(h):
        return F.sin(F.tanh(h))

    @nn.recompute_fn(False)
    def plain(h):
        return F.exp(h)

    y = block(x)
    z = plain(y)
    assert y.recompute and y.parent.inputs[0].recompute and not z.recompute
    assert block.__name__ == "block" and not F.cos(x).recompute


def function_hooks():
    """nn.set_function_pre_hook / post_hook: global hooks around each function's
    forward and backward, outside the call's own (NNabla's order; a parity case)."""
    seen = []
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32), need_grad=True)
    y = F.sum(F.tanh(x * 2))
    nn.set_function_pre_hook("pre", lambda f: seen.append("pre " + f.name))
    nn.set_function_post_hook("post", lambda f: seen.append("post " + f.name))
    try:
        y.forward(function_pre_hook=lambda f: seen.append("call-pre " + f.name))
        y.backward(function_post_hook=lambda f: seen.append("call-post " + f.name))
    finally:
        nn.unset_function_pre_hook("pre")
        nn.unset_function_post_hook("post")
    y.forward()
    seen.append("after unset")
    nn.forward_all([y])
    return {"seen": seen}


def test_function_hooks():
    forward = [f"{k} {name}" for name in ("MulScalar", "Tanh", "Sum")
               for k in ("pre", "call-pre", "post")]
    backward = [f"{k} {name}" for name in ("Sum", "Tanh", "MulScalar")
                for k in ("pre", "call-post", "post")]
    assert function_hooks()["seen"] == forward + backward + ["after unset"]


def graph_order(v):
    out = []
    v.visit(out.append)
    return out


def test_backward_seeds_the_roots_function_and_leaves_root_g_alone():
    # as NNabla: root.g is neither written by the seed nor replaced by an
    # NdArray seed; grad=None seeds with root.g (values checked against
    # NNabla in test_parity_same_source.test_root_gradient_is_left_alone)
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32), need_grad=True)
    y = F.sum(x * 2)
    y.forward()
    y.backward()
    assert y.g == 0  # never allocated: reads as zeros
    np.testing.assert_array_equal(x.g, np.full((2, 3), 2))
    y.g = 5
    y.backward(grad=3)
    assert y.g == 5
    np.testing.assert_array_equal(x.g, np.full((2, 3), 8))
    y.backward(grad=None)
    np.testing.assert_array_equal(x.g, np.full((2, 3), 18))
    seed = nn.NdArray.from_numpy_array(np.full((2, 3), 0.5, np.float32))
    z = x * 3
    z.forward()
    z.backward(grad=seed)
    assert z.grad is not seed and np.all(z.g == 0)
    np.testing.assert_array_equal(x.g, np.full((2, 3), 19.5))
    np.testing.assert_array_equal(seed.data, np.full((2, 3), 0.5))


def need_grad_on_intermediates():
    """need_grad set by hand on a function's output rules backward there (NNabla
    1.39's results, also a parity case): False stops the gradient (set before or
    after the consumers are built), True again lets it through, True below inputs
    needing none gives that output its .g (overwritten by each backward), and
    rewire_on takes the new parent's flag. A flag that was only computed does
    not stop anything: switching a leaf on afterwards still reaches it."""
    def ones(need_grad):
        return nn.Variable.from_numpy_array(np.ones(3, np.float32), need_grad=need_grad)

    def grad_of(leaf, loss):
        loss.forward()
        leaf.grad.zero()
        loss.backward()
        return leaf.g.copy()

    out = {}
    x, w = ones(True), ones(True)
    t = F.exp(x)
    t.need_grad = False  # a target network's output, say
    loss = F.sum(t * w)
    out["stopped_before"], out["w_through"] = grad_of(x, loss), w.g.copy()
    t2 = F.exp(x)
    loss2 = F.sum(t2 * 2)
    t2.need_grad = False
    out["stopped_after"] = grad_of(x, loss2)
    t2.need_grad = True
    out["let_through"] = grad_of(x, loss2)
    a = ones(False)
    b = F.exp(a)
    b.need_grad = True
    c = F.sum(b * 2)
    c.forward()
    c.backward()
    c.backward()
    out["asked_for"] = b.g.copy()
    leaf = ones(False)
    loss3 = F.sum(F.exp(leaf) * 2)
    loss3.forward()
    leaf.need_grad = True
    out["leaf_switched_on"] = grad_of(leaf, loss3)
    src = ones(False)
    r = nn.Variable((3,), need_grad=True)
    top = F.sum(F.exp(r))
    r.rewire_on(src * 2.0)
    out["rewired_flag"] = np.array(r.need_grad)
    return out


def test_need_grad_on_intermediates():
    got = need_grad_on_intermediates()
    e = np.float32(np.e)
    np.testing.assert_array_equal(got["stopped_before"], 0)
    np.testing.assert_allclose(got["w_through"], e, rtol=1e-6)
    np.testing.assert_array_equal(got["stopped_after"], 0)
    np.testing.assert_allclose(got["let_through"], 2 * e, rtol=1e-6)
    np.testing.assert_array_equal(got["asked_for"], 2)
    np.testing.assert_allclose(got["leaf_switched_on"], 2 * e, rtol=1e-6)
    assert not got["rewired_flag"]


def grad_of_parameters():
    """nn.grad with respect to nn.get_parameters().values(): the graph holds
    unlinked copies of the parameters, which stand for them (as in NNabla);
    the values match what backward leaves in each parameter's .g."""
    x = nn.Variable.from_numpy_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 10)
    with nn.parameter_scope("grad_of_parameters"):
        loss = F.sum(PF.affine(F.tanh(PF.affine(x, 3, name="a")), 2, name="b") ** 2)
        params = nn.get_parameters()
    grads = nn.grad([loss], params.values())
    F.sink(*grads).forward()
    loss.forward()
    for p in params.values():
        p.grad.zero()
    loss.backward()
    out = {"grads": [g.d.copy() for g in grads], "backward": [p.g.copy() for p in params.values()]}
    nn.clear_parameters()
    return out


def test_grad_of_parameters_matches_backward():
    got = grad_of_parameters()
    assert len(got["grads"]) == 4 and all(np.abs(g).sum() > 0 for g in got["grads"])
    for g, b in zip(got["grads"], got["backward"]):
        np.testing.assert_allclose(g, b, rtol=1e-5)


def test_grad_of_a_parameter_used_twice_sums_both_uses():
    x = V(randn(4, 3))
    with nn.parameter_scope("shared"):
        y = PF.affine(x, 3, name="fc")
        y = PF.affine(F.tanh(y), 3, name="fc")  # the same W and b again
        params = nn.get_parameters()
    loss = F.sum(y ** 2)
    grads = nn.grad([loss], list(params.values()))
    F.sink(*grads).forward()
    loss.forward()
    for p in params.values():
        p.grad.zero()
    loss.backward()
    for g, p in zip(grads, params.values()):
        np.testing.assert_allclose(g.d, p.g, rtol=1e-6)
    nn.clear_parameters()


def test_sink_inputs_survive_buffer_clearing():
    """As NNabla (its Sink prohibits clearing its input buffers): the values a
    sink gathers are still there after forward(clear_buffer=True) and after
    backward(clear_buffer=True); the gradient is unchanged."""
    v = nn.Variable.from_numpy_array(np.array([0.5, -1.0, 2.0], np.float32), need_grad=True)
    h0, h1 = F.tanh(v), F.sigmoid(v)
    F.sink(h0, h1).forward(clear_buffer=True)
    np.testing.assert_allclose(h0.d, np.tanh(v.d), rtol=1e-6)
    np.testing.assert_allclose(h1.d, 1 / (1 + np.exp(-v.d)), rtol=1e-6)
    s = F.sink(h0, h1)
    s.forward(clear_no_need_grad=True)
    v.grad.zero()
    s.backward(clear_buffer=True)
    np.testing.assert_allclose(h0.d, np.tanh(v.d), rtol=1e-6)
    sig = 1 / (1 + np.exp(-v.d))
    np.testing.assert_allclose(v.g, (1 - np.tanh(v.d) ** 2) + sig * (1 - sig), rtol=1e-5)


def test_a_variable_equals_its_unlinked_copies():
    """As NNabla: an unlinked copy (data and grad shared) is equal and hashes
    alike, so a graph's copy of a parameter is found among the parameters;
    sharing only the data is not enough, and other Variables stay unequal."""
    import nablite.parametric_functions as PF
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    y = x.get_unlinked_variable()
    z = y.get_unlinked_variable(need_grad=True)
    assert x == y == z and hash(x) == hash(z) and y in {x} and not (x != z)
    w = nn.Variable((2, 3))
    w.data = x.data
    assert w != x and x != nn.Variable((2, 3)) and x != 1
    h = PF.affine(x, 4, name="fc")
    W = nn.get_parameters()["fc/affine/W"]
    copy = h.parent.inputs[1]
    assert copy is not W and copy == W and copy in nn.get_parameters().values()
    assert {W: "weight"}[copy] == "weight"
    nn.clear_parameters()
