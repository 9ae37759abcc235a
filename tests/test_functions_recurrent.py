"""Recurrent functions: forward vs a step-by-step NumPy reference, BPTT vs numerical
gradients (every input, all outputs), parity with NNabla 1.39, PF end to end, bad input."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
from nablite.functions import recurrent as recurrent_module
from gradcheck import check_function, fit


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def ref_cell(kind, nonlinearity, x_t, h, c, w, b):
    """One step written out gate by gate; w (G, H, In + H) or (H, In + H)."""
    xh = np.concatenate([x_t, h], axis=1)
    n_in = x_t.shape[1]
    if kind == "rnn":
        z = xh @ w.T + (0 if b is None else b)
        return (np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0)), None
    if kind == "lstm":
        i, f, g, o = [xh @ w[k].T + (0 if b is None else b[k]) for k in range(4)]
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    b = np.zeros((4, w.shape[1])) if b is None else b
    r = sigmoid(xh @ w[0].T + b[0])
    z = sigmoid(xh @ w[1].T + b[1])
    n = np.tanh(x_t @ w[2][:, :n_in].T + b[2] + r * (h @ w[2][:, n_in:].T + b[3]))
    return (1 - z) * n + z * h, None


def ref_recurrent(kind, x, h, c, w0, w, b, num_layers=1, bidirectional=False,
                  nonlinearity="tanh"):
    hn, cn = np.zeros_like(h), None if c is None else np.zeros_like(c)
    layer_in = x
    for layer in range(num_layers):
        weight = w0 if layer == 0 else w[layer - 1]
        outs = []
        for d in range(2 if bidirectional else 1):
            steps = range(len(x)) if d == 0 else reversed(range(len(x)))
            hh, cc = h[layer, d], None if c is None else c[layer, d]
            out = np.zeros(x.shape[:2] + (h.shape[3],))
            for t in steps:
                hh, cc = ref_cell(kind, nonlinearity, layer_in[t], hh, cc, weight[d],
                                  None if b is None else b[layer, d])
                out[t] = hh
            hn[layer, d] = hh
            if c is not None:
                cn[layer, d] = cc
            outs.append(out)
        layer_in = np.concatenate(outs, axis=-1)
    return (layer_in, hn) if c is None else (layer_in, hn, cn)


GATES = {"rnn": (), "lstm": (4,), "gru": (3,)}
BIAS_ROWS = {"rnn": (), "lstm": (4,), "gru": (4,)}


def make_inputs(kind, t, b, i, hidden, layers, d, bias=True, seed=0):
    """x, h, [c], weight_l0, weight, bias with NNabla's shapes (scaled to stay off saturation)."""
    rng = np.random.RandomState(seed)
    g = GATES[kind]
    arrays = [rng.randn(t, b, i), rng.randn(layers, d, b, hidden)]
    if kind == "lstm":
        arrays.append(rng.randn(layers, d, b, hidden))
    arrays.append(rng.randn(*((d,) + g + (hidden, i + hidden))) * 0.6)
    arrays.append(rng.randn(*((layers - 1, d) + g + (hidden, d * hidden + hidden))) * 0.6
                  if layers > 1 else None)
    arrays.append(rng.randn(*((layers, d) + BIAS_ROWS[kind] + (hidden,))) * 0.5 if bias else None)
    return arrays


def call(kind, arrays, **kw):
    """F.<kind> on arrays laid out as make_inputs gives them (None: not passed)."""
    fn = getattr(F, kind)
    return fn(*arrays, **kw)


def reference(kind):
    def ref(*arrays, **kw):
        if kind != "lstm":
            arrays = arrays[:2] + (None,) + arrays[2:]
        return ref_recurrent(kind, *arrays, **kw)
    return ref


# (kind, (T, B, I, H, layers, directions), with bias, extra kwargs)
CASES = [
    ("rnn", (3, 2, 3, 2, 1, 1), True, {}),
    ("rnn", (3, 2, 3, 2, 1, 1), True, {"nonlinearity": "relu"}),
    ("rnn", (2, 3, 2, 3, 2, 2), True, {}),
    ("rnn", (3, 1, 2, 2, 2, 1), False, {"nonlinearity": "relu"}),
    ("lstm", (3, 2, 3, 2, 1, 1), True, {}),
    ("lstm", (4, 1, 2, 3, 1, 1), False, {}),
    ("lstm", (2, 2, 2, 2, 2, 2), True, {}),
    ("lstm", (2, 2, 3, 2, 3, 1), True, {"dropout": 0.3, "training": False}),
    ("gru", (3, 2, 3, 2, 1, 1), True, {}),
    ("gru", (3, 2, 2, 2, 1, 2), False, {}),
    ("gru", (2, 2, 2, 2, 2, 2), True, {}),
    ("rnn", (1, 2, 3, 2, 1, 2), True, {}),
]


@pytest.mark.parametrize("kind,sizes,bias,kw", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_forward_and_bptt(kind, sizes, bias, kw):
    t, b, i, hidden, layers, d = sizes
    arrays = make_inputs(kind, t, b, i, hidden, layers, d, bias)
    kwargs = dict(kw, num_layers=layers, bidirectional=d == 2)
    ref_kw = {k: v for k, v in kwargs.items() if k in ("num_layers", "bidirectional",
                                                          "nonlinearity")}
    ref = reference(kind)
    present = [k for k, a in enumerate(arrays) if a is not None]

    def f(*vs, **kws):
        full = list(arrays)
        for k, v in zip(present, vs):
            full[k] = v
        return call(kind, full, **kws)

    def ref_present(*vs, **kws):
        full = list(arrays)
        for k, v in zip(present, vs):
            full[k] = v
        return ref(*full, **ref_kw)

    check_function(f, [arrays[k] for k in present], ref=ref_present, kwargs=kwargs)


def test_each_output_alone():
    """Backward from y alone and from h_n / c_n alone (unused outputs get zero grads)."""
    arrays = make_inputs("lstm", 3, 2, 2, 2, 2, 2)
    vs = [nn.Variable.from_numpy_array(a, need_grad=True) for a in arrays]
    for k in range(3):
        outs = F.lstm(*vs, num_layers=2, bidirectional=True)
        for v in vs:
            v.g = 0
        outs[k].forward()
        outs[k].backward(np.ones(outs[k].shape))
        want = ref_recurrent("lstm", *arrays, num_layers=2, bidirectional=True)[k]
        np.testing.assert_allclose(outs[k].d, want, atol=1e-10)
        assert all(np.isfinite(v.g).all() for v in vs)
        assert np.abs(vs[3].g).sum() > 0  # every output depends on weight_l0


def test_float32_stays_float32():
    arrays = [a.astype(np.float32) for a in make_inputs("gru", 3, 2, 2, 2, 2, 2)]
    vs = [nn.Variable.from_numpy_array(a, need_grad=True) for a in arrays]
    y, hn = F.gru(*vs, num_layers=2, bidirectional=True)
    loss = F.sum(y) + F.sum(hn)
    loss.forward()
    loss.backward()
    assert y.d.dtype == np.float32 and hn.d.dtype == np.float32
    assert all(v.g.dtype == np.float32 for v in vs)
    want = ref_recurrent("gru", *arrays[:2], None, *arrays[2:], num_layers=2, bidirectional=True)
    np.testing.assert_allclose(y.d, want[0], atol=1e-5)


def test_ndarray_inputs_compute_at_once():
    arrays = make_inputs("rnn", 3, 2, 2, 2, 1, 1, bias=False)
    y, hn = F.rnn(*[nn.NdArray.from_numpy_array(a) for a in arrays[:3]])
    want = ref_recurrent("rnn", arrays[0], arrays[1], None, arrays[2], None, None)
    np.testing.assert_allclose(y.data, want[0])
    np.testing.assert_allclose(hn.data, want[1])


def test_function_args_and_names():
    arrays = make_inputs("rnn", 2, 1, 2, 2, 1, 1)
    y, _ = call("rnn", [nn.Variable.from_numpy_array(a) if a is not None else None
                        for a in arrays], nonlinearity="relu")
    assert y.parent.name == "RNN"
    assert y.parent.args == {"num_layers": 1, "dropout": 0.0, "bidirectional": False,
                             "training": True, "nonlinearity": "relu"}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_parametric_end_to_end(kind, layers, bidirectional):
    """PF.* creates the parameters, F.* runs; a solver step lowers a loss."""
    import nablite.solvers as S
    nn.clear_parameters()
    d = 2 if bidirectional else 1
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.randn(4, 3, 5).astype(np.float32))
    h = nn.Variable.from_numpy_array(np.zeros((layers, d, 3, 6), np.float32))
    args = (x, h, nn.Variable.from_numpy_array(np.zeros((layers, d, 3, 6), np.float32))) \
        if kind == "lstm" else (x, h)
    outs = getattr(PF, kind)(*args, bidirectional=bidirectional)
    assert outs[0].shape == (4, 3, d * 6) and outs[1].shape == (layers, d, 3, 6)
    loss = F.mean(F.squared_error(outs[0], F.constant(0.5, outs[0].shape)))
    solver = S.Adam(0.05)
    solver.set_parameters(nn.get_parameters())
    losses = fit(loss, solver, 5)
    assert losses[-1] < losses[0]
    p = nn.get_parameters()
    want = ref_recurrent(kind, x.d, h.d, args[2].d if kind == "lstm" else None,
                         p[f"{kind}/weight_l0"].d,
                         p[f"{kind}/weight"].d if layers > 1 else None, p[f"{kind}/bias"].d, num_layers=layers,
                         bidirectional=bidirectional)
    outs[0].forward()
    np.testing.assert_allclose(outs[0].d, want[0], atol=1e-5)
    nn.clear_parameters()


def var(*shape):
    return nn.Variable(shape)


BAD = [
    (lambda: F.rnn(var(3, 2), var(1, 1, 2, 4), var(1, 4, 7)), "RNN: x must be"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 1, 5, 4), var(1, 4, 7)), "RNN: h must be"),
    (lambda: F.rnn(var(3, 2, 3), var(2, 1, 2, 4), var(1, 4, 7)), "RNN: h must be"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 2, 2, 4), var(1, 4, 7)), "RNN: h must be"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 1, 2, 4), var(1, 4, 8)), "RNN: weight_l0 must"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 1, 2, 4), var(1, 4, 7), nonlinearity="sigmoid"),
     "RNN: nonlinearity must be 'tanh' or 'relu'"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 1, 2, 4), var(1, 4, 7), var(1, 1, 4, 8)),
     "RNN: weight cannot be given"),
    (lambda: F.rnn(var(3, 2, 3), var(2, 1, 2, 4), var(1, 4, 7), num_layers=2),
     "RNN: weight must be given"),
    (lambda: F.rnn(var(3, 2, 3), var(2, 1, 2, 4), var(1, 4, 7), var(1, 1, 4, 9), num_layers=2),
     r"RNN: weight must have shape \(1, 1, 4, 8\)"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 1, 2, 4), var(1, 4, 7), None, var(1, 1, 5)),
     r"RNN: bias must have shape \(1, 1, 4\)"),
    (lambda: F.rnn(var(3, 2, 3), var(1, 1, 2, 4), var(1, 4, 7), num_layers=0),
     "RNN: num_layers must be a positive int"),
    (lambda: F.lstm(var(3, 2, 3), var(1, 1, 2, 4), var(1, 1, 2, 5), var(1, 4, 4, 7)),
     "LSTM: c must have the shape of h"),
    (lambda: F.lstm(var(3, 2, 3), var(1, 1, 2, 4), var(1, 1, 2, 4), var(1, 3, 4, 7)),
     r"LSTM: weight_l0 must have shape \(1, 4, 4, 7\)"),
    (lambda: F.gru(var(3, 2, 3), var(1, 1, 2, 4), var(1, 4, 4, 7)),
     r"GRU: weight_l0 must have shape \(1, 3, 4, 7\)"),
    (lambda: F.gru(var(3, 2, 3), var(1, 1, 2, 4), var(1, 3, 4, 7), None, var(1, 1, 3, 4)),
     r"GRU: bias must have shape \(1, 1, 4, 4\)"),
    (lambda: F.gru(var(3, 2, 3), var(1, 2, 2, 4), var(2, 3, 4, 7)), "GRU: h must be"),
]


@pytest.mark.parametrize("build,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_every_public_function_is_tested():
    tested = {c[0] for c in CASES}
    assert set(recurrent_module.__all__) == tested


def recurrent_cases(cases):
    """Forward, then backward of a random projection of every output; in inference
    mode (training=False) forward only: NNabla refuses that backward."""
    out = {}
    for k, (kind, arrays, kwargs) in enumerate(cases):
        xs = [None if a is None else nn.Variable.from_numpy_array(a.astype(np.float32),
                                                                   need_grad=True)
              for a in arrays]
        ys = getattr(F, kind)(*xs, **kwargs)
        rng = np.random.RandomState(0)
        loss = None
        for y in ys:
            term = F.sum(y * nn.Variable.from_numpy_array(
                rng.randn(*y.shape).astype(np.float32)))
            loss = term if loss is None else loss + term
        loss.forward()
        out[f"{k} {kind} ys"] = [y.d.copy() for y in ys]
        if kwargs.get("training", True):
            for x in xs:
                if x is not None:
                    x.g = 0
            loss.backward()
            out[f"{k} {kind} grads"] = [x.g.copy() for x in xs if x is not None]
    return out


def test_parity_with_nnabla():
    from nnabla_parity import check_same_source
    cases = [(kind, make_inputs(kind, t, b, i, hidden, layers, d, bias, seed=3),
              dict(kw, num_layers=layers, bidirectional=d == 2))
             for kind, (t, b, i, hidden, layers, d), bias, kw in CASES]
    tol = {f"{k} {case[0]} grads": (1e-3, 1e-4) for k, case in enumerate(cases)}
    check_same_source(recurrent_cases, rtol=1e-4, atol=1e-5, tol=tol, cases=cases)


@pytest.mark.parametrize("fn", ["rnn", "lstm", "gru"])
def test_backward_without_its_forward_says_so(fn):
    """A recurrent node keeps its per-step states from forward for backward; a
    backward without one (or after backward(clear_buffer=True)) names the
    function and the fix instead of failing inside."""
    rng = np.random.RandomState(0)
    gates = {"rnn": (), "lstm": (4,), "gru": (3,)}[fn]
    v = lambda *s: nn.Variable.from_numpy_array(rng.randn(*s).astype(np.float32),  # noqa: E731
                                                need_grad=True)
    x, h = v(2, 3, 2), v(1, 1, 3, 4)
    args = [x, h] + ([v(1, 1, 3, 4)] if fn == "lstm" else []) + [v(1, *gates, 4, 6)]
    y = getattr(F, fn)(*args)[0]
    with pytest.raises(RuntimeError, match=r"backward needs the states of a forward"):
        y.backward()
    y.forward()
    y.backward(clear_buffer=True)
    with pytest.raises(RuntimeError, match=r"again after backward\(clear_buffer=True\)"):
        y.backward()
