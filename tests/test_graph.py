"""Graph execution semantics that NNabla users rely on."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F


def _chain():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0, 3.0]), need_grad=True)
    h = F.mul_scalar(x, 3.0)
    y = F.mul2(h, x)   # y = 3 x^2, dy/dx = 6x
    return x, h, y


def test_static_graph_computes_only_on_forward():
    x, h, y = _chain()
    assert not y.d.any()
    y.forward()
    np.testing.assert_allclose(y.d, 3 * x.d ** 2)


def test_leaf_gradients_accumulate_across_backward_calls():
    x, _, y = _chain()
    y.forward()
    y.backward()
    np.testing.assert_allclose(x.g, 6 * x.d)
    y.backward()
    np.testing.assert_allclose(x.g, 12 * x.d)
    x.grad.zero()
    y.backward()
    np.testing.assert_allclose(x.g, 6 * x.d)


def test_intermediate_gradients_are_overwritten_each_pass():
    x, h, y = _chain()
    y.forward()
    y.backward()
    y.backward()
    np.testing.assert_allclose(h.g, x.d)


def test_gradients_sum_over_branches():
    x = nn.Variable.from_numpy_array(np.array([0.5, -1.0]), need_grad=True)
    y = F.add2(F.mul_scalar(x, 2.0), F.mul2(x, x))   # 2x + x^2
    y.forward()
    y.backward()
    np.testing.assert_allclose(x.g, 2 + 2 * x.d)


def test_backward_grad_argument_forms():
    x, _, y = _chain()
    y.forward()
    y.backward(grad=2)
    np.testing.assert_allclose(x.g, 12 * x.d)
    x.grad.zero()
    y.backward(grad=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.g, 6 * x.d * [1, 0, 2])
    x.grad.zero()
    y.g = np.array([0.0, 1.0, 0.0])
    y.backward(grad=None)
    np.testing.assert_allclose(x.g, 6 * x.d * [0, 1, 0])


def test_forward_of_a_sub_graph():
    x, h, y = _chain()
    h.forward()
    np.testing.assert_allclose(h.d, 3 * x.d)
    assert not y.d.any()


def test_need_grad_false_leaves_get_no_gradient():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]))
    w = nn.Variable.from_numpy_array(np.array([3.0, 4.0]), need_grad=True)
    y = F.mul2(x, w)
    y.forward()
    y.backward()
    np.testing.assert_allclose(w.g, x.d)
    assert not x.g.any()


def test_auto_forward_context_and_global_switch():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]), need_grad=True)
    with nn.auto_forward():
        y = F.mul2(F.add_scalar(x, 1.0), x)
        np.testing.assert_allclose(y.d, (x.d + 1) * x.d)
    assert not nn.get_auto_forward()
    y.backward()
    np.testing.assert_allclose(x.g, 2 * x.d + 1)
    nn.set_auto_forward(True)
    try:
        z = F.mul_scalar(x, 4.0)
        np.testing.assert_allclose(z.d, 4 * x.d)
    finally:
        nn.set_auto_forward(False)


def test_graph_is_reusable_with_new_data():
    x, _, y = _chain()
    for k in range(3):
        x.d = np.array([1.0, 2.0, 3.0]) * (k + 1)
        y.forward()
        np.testing.assert_allclose(y.d, 3 * x.d ** 2)


def _deep(x):
    h = x
    for i in range(5):
        h = F.mul2(F.add_scalar(h, 0.1), F.mul_scalar(h, 0.9))
    return h


@pytest.mark.parametrize("fwd_kw,bwd_kw", [
    (dict(clear_no_need_grad=True), dict(clear_buffer=True)),
    (dict(clear_buffer=False), dict(clear_buffer=True)),
    (dict(clear_no_need_grad=True), dict()),
])
def test_clearing_buffers_gives_identical_results(fwd_kw, bwd_kw):
    data = np.array([0.3, -0.2, 0.7])
    x = nn.Variable.from_numpy_array(data, need_grad=True)
    y = _deep(x)
    y.forward()
    y.backward()
    want_y, want_g = y.d.copy(), x.g.copy()
    x2 = nn.Variable.from_numpy_array(data, need_grad=True)
    y2 = _deep(x2)
    y2.forward(**fwd_kw)
    y2.backward(**bwd_kw)
    np.testing.assert_array_equal(y2.d, want_y)
    np.testing.assert_array_equal(x2.g, want_g)


def _loss_graph(reduce, labels, share_mid=False, persistent_mid=False, **kw):
    rng = np.random.RandomState(3)
    x = nn.Variable.from_numpy_array(rng.randn(6, 5).astype(np.float32), need_grad=True)
    w = nn.Variable.from_numpy_array(rng.randn(5, 4).astype(np.float32), need_grad=True)
    t = nn.Variable.from_numpy_array(np.array(labels, dtype=np.float32).reshape(6, 1))
    per_sample = F.softmax_cross_entropy(F.affine(x, w), t)
    if persistent_mid:
        per_sample.persistent = True
    loss = reduce(per_sample, **kw)
    if share_mid:  # the per-sample loss also feeds a second term
        loss = loss + F.sum(per_sample * 0.5)
    return loss, per_sample, (x, w)


@pytest.mark.parametrize("reduce,kw", [(F.mean, {}), (F.sum, {}), (F.mean, dict(axis=1)),
                                       (F.mean, dict(axis=0, keepdims=True))])
@pytest.mark.parametrize("labels", [[0, 1, 2, 3, 1, 0], [0, -1, 2, 3, -1, 0]])
@pytest.mark.parametrize("share_mid,persistent_mid", [(False, False), (True, False),
                                                      (False, True)])
def test_reduced_loss_backward_with_clearing_matches_plain_backward(
        reduce, kw, labels, share_mid, persistent_mid):
    """backward(clear_buffer=True) runs mean/sum(softmax_cross_entropy) as one step;
    gradients must equal those of the step-by-step backward."""
    want = []
    for clear in (False, True):
        loss, mid, params = _loss_graph(reduce, labels, share_mid, persistent_mid, **kw)
        loss.forward(clear_no_need_grad=clear)
        want.append(loss.d.copy())
        loss.backward(clear_buffer=clear)
        want.append([p.g.copy() for p in params])
        if clear:
            assert mid.data.clear_called != persistent_mid
    np.testing.assert_array_equal(want[0], want[2])
    for a, b in zip(want[1], want[3]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_reduced_loss_step_is_used_only_where_it_applies():
    from nablite import graph
    loss, _, _ = _loss_graph(F.mean, [0, 1, 2, 3, 1, 0])
    plan = graph._plan(loss)
    fused = plan.clearing_steps(loss)
    assert len(fused) == len(plan.backward_steps) - 1
    assert type(fused[0][0]).__name__ == "_ReducedLoss"
    shared, _, _ = _loss_graph(F.mean, [0, 1, 2, 3, 1, 0], share_mid=True)
    plan = graph._plan(shared)
    assert len(plan.clearing_steps(shared)) == len(plan.backward_steps)


def _residual_net(seed=0):
    import nablite.parametric_functions as PF
    nn.clear_parameters()
    rng = np.random.RandomState(seed)
    x = nn.Variable.from_numpy_array(rng.randn(4, 3, 6, 6).astype(np.float32))
    t = nn.Variable.from_numpy_array(rng.randint(0, 5, (4, 1)).astype(np.float32))
    h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="c1")
    bn = PF.batch_normalization(h, name="bn1")
    r = F.relu(bn)
    s = F.relu(PF.batch_normalization(PF.convolution(r, 4, (3, 3), pad=(1, 1), name="c2"),
                                      name="bn2") + r)
    y = PF.affine(F.tanh(F.global_average_pooling(s)), 5, name="fc")
    return F.mean(F.softmax_cross_entropy(y, t)), bn.data  # (a held Variable is kept)


def test_clear_no_need_grad_frees_what_no_backward_reads_with_identical_gradients():
    grads = []
    for clear in (False, True):
        nn.seed(1)
        loss, bn = _residual_net()
        loss.forward(clear_no_need_grad=clear)
        # batch norm's output feeds only ReLU, whose backward reads its own output
        assert bn.clear_called == clear
        loss.backward(clear_buffer=clear)
        grads.append({k: p.g.copy() for k, p in nn.get_parameters().items()})
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_clear_buffer_forward_frees_intermediates_but_keeps_persistent():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]))
    h = F.add_scalar(x, 1.0)
    k = F.mul_scalar(h, 2.0).apply(persistent=True)
    y = F.add_scalar(k, 1.0)
    y.forward(clear_buffer=True)
    assert h.data.clear_called
    np.testing.assert_allclose(k.d, [4.0, 6.0])
    np.testing.assert_allclose(y.d, [5.0, 7.0])


def test_clear_no_need_grad_spares_what_the_user_holds():
    """As in NNabla 1.39: a Variable the script holds keeps its values under
    forward(clear_no_need_grad=True) (nn.grad's results fed to F.sink, say);
    clear_buffer=True frees it all the same."""
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]))
    held = F.tanh(x)
    y = F.sum(F.exp(F.mul_scalar(held, 2.0)))
    unheld = y.parent.inputs[0].parent.inputs[0].data  # mul_scalar's output array
    y.forward(clear_no_need_grad=True)
    np.testing.assert_allclose(held.d, np.tanh([1.0, 2.0]))
    assert unheld.clear_called
    y.forward(clear_buffer=True)
    assert held.data.clear_called


def test_clear_no_need_grad_keeps_what_backward_needs():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]))
    w = nn.Variable.from_numpy_array(np.array([3.0, 4.0]), need_grad=True)
    h = F.add_scalar(x, 1.0)           # needs no grad: may be freed...
    y = F.mul2(h, w)                   # ...but Mul2 reads h to make w's gradient
    y.forward(clear_no_need_grad=True)
    y.backward()
    np.testing.assert_allclose(w.g, [2.0, 3.0])


def test_order_cache_follows_rewiring():
    x = nn.Variable.from_numpy_array(np.array([1.0]))
    y = F.add_scalar(x, 1.0)
    z = F.mul_scalar(y, 2.0)
    z.forward()
    np.testing.assert_allclose(z.d, [4.0])
    y2 = F.add_scalar(x, 5.0)
    y.rewire_on(y2)
    z.forward()
    np.testing.assert_allclose(z.d, [12.0])


def test_multiple_roots_forward_all():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0]))
    h = F.add_scalar(x, 1.0)
    a, b = F.mul_scalar(h, 2.0), F.mul_scalar(h, 3.0)
    nn.forward_all([a, b])
    np.testing.assert_allclose(a.d, [4.0, 6.0])
    np.testing.assert_allclose(b.d, [6.0, 9.0])


def test_hooks_see_every_function():
    x = nn.Variable.from_numpy_array(np.array([1.0]), need_grad=True)
    y = F.mul_scalar(F.add_scalar(x, 1.0), 2.0)
    seen = []
    y.forward(function_pre_hook=lambda f: seen.append(("pre", f.name)),
              function_post_hook=lambda f: seen.append(("post", f.name)))
    assert seen == [("pre", "AddScalar"), ("post", "AddScalar"),
                    ("pre", "MulScalar"), ("post", "MulScalar")]
    seen.clear()
    y.backward(function_pre_hook=lambda f: seen.append(f.name))
    assert seen == ["MulScalar", "AddScalar"]


def test_backward_post_hook_sees_the_gradients_written_into_the_inputs():
    # NNabla calls a function's post hook after its backward wrote the inputs' gradients
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32), need_grad=True)
    h = F.identity(x)
    y = F.mul_scalar(h, 3.0)
    y.forward()
    x.g = 0
    seen = {}

    def post(f):
        seen[f.name] = (h.g.copy(), x.g.copy())

    y.backward(np.ones(2, np.float32), function_post_hook=post)
    np.testing.assert_allclose(seen["MulScalar"][0], [3.0, 3.0])  # an intermediate's
    np.testing.assert_allclose(seen["Identity"][1], [3.0, 3.0])   # a leaf's
    np.testing.assert_allclose(x.g, [3.0, 3.0])
