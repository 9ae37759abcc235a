"""Recurrent: multi-layer, optionally bidirectional Elman RNN, LSTM and GRU over a
whole (T, B, I) sequence, with analytic backpropagation through time.

Layouts follow NNabla 1.39 (and ``PF.rnn`` / ``PF.lstm`` / ``PF.gru``): with L
layers, D directions (2 when bidirectional), hidden size H and G gates,

- ``x`` (T, B, I), ``h`` (and LSTM's ``c``) (L, D, B, H);
- ``weight_l0`` (D, [G,] H, I + H) and ``weight`` (L - 1, D, [G,] H, D*H + H): each
  row holds the input part then the hidden part, so a gate's pre-activation is
  ``[x_t, h_{t-1}] @ W_gate.T``;
- ``bias`` (L, D, H) for the RNN, (L, D, 4, H) for the LSTM and the GRU.

Gate order (measured on NNabla 1.39): LSTM ``i, f, g, o`` with
``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')``;
GRU ``r, z, n`` with ``n = tanh(W_n x + b_n + r (U_n h + b_hn))``,
``h' = (1 - z) n + z h``, where the fourth bias row is ``b_hn``.
Layer l > 0 reads the concatenated (forward, backward) outputs of layer l - 1;
the backward direction reads the sequence reversed and writes its outputs
back in the original time order.

``dropout`` and ``training`` are accepted and ignored, as NNabla 1.39's CPU kernels
ignore them (measured: the same result for any dropout, in training or not).
One deliberate difference: NNabla refuses backward when ``training=False``;
nablite computes the (well-defined) gradients anyway.

Forward loops over time steps only (the input projections of all steps are
one matrix product); it keeps the gate activations so that backward is exact.
"""
from .base import Function, require, named

__all__ = ["rnn", "lstm", "gru"]


def _sigmoid(xp, z):
    return 0.5 * xp.tanh(0.5 * z) + 0.5  # no overflow for large |z|


class _Recurrent(Function):
    """Shared stacking, directions and BPTT; a subclass states one cell.

    A cell sees ``ax`` (input projection + input bias, (B, G*H)) and ``ah``
    (hidden projection + hidden bias) and returns the new state plus what its
    backward needs; its backward returns the gradients of ``ax`` and ``ah``.
    """
    forward_state = ('_tape',)  # kept from forward for backward; freed with the buffers
    gates = 1          # G: rows of H in a weight (1 for the Elman RNN)
    bias_rows = None   # rows of H in a bias (None: bias is (L, D, H))
    has_cell = False   # LSTM: a second state c

    def __init__(self, num_layers, dropout, bidirectional, training, has_weight, has_bias):
        self.num_layers = num_layers
        self.dropout = 0.0 if dropout is None else dropout
        self.bidirectional = bidirectional
        self.training = training
        self._has_weight = has_weight
        self._has_bias = has_bias

    def _unpack(self, items):
        items = list(items)
        x, h = items[0], items[1]
        c = items.pop(2) if self.has_cell else None
        w0 = items[2]
        w = items[3] if self._has_weight else None
        b = items[-1] if self._has_bias else None
        return x, h, c, w0, w, b

    def _gate_shape(self, d, hidden, width):
        return (d,) + ((self.gates,) if self.gates > 1 else ()) + (hidden, width)

    def setup(self, *shapes):
        x, h, c, w0, w, b = self._unpack(shapes)
        layers, d = self.num_layers, 2 if self.bidirectional else 1
        require(self, isinstance(layers, int) and layers >= 1,
                f"num_layers must be a positive int, got {layers!r}")
        require(self, len(x) == 3, f"x must be (T, B, I) (3 dimensions), got shape {x}")
        require(self, len(h) == 4 and h[0] == layers and h[1] == d and h[2] == x[1],
                f"h must be (num_layers, num_directions, batch_size, hidden_size) = "
                f"({layers}, {d}, {x[1]}, H), got shape {h}")
        hidden = h[3]
        if self.has_cell:
            require(self, c == h, f"c must have the shape of h {h}, got {c}")
        want = self._gate_shape(d, hidden, x[2] + hidden)
        require(self, w0 == want, f"weight_l0 must have shape {want} for x {x} and h {h}, "
                f"got {w0}")
        require(self, self._has_weight == (layers > 1),
                "weight must be given when num_layers > 1" if layers > 1 else
                "weight cannot be given when num_layers == 1")
        if w is not None:
            want = (layers - 1,) + self._gate_shape(d, hidden, d * hidden + hidden)
            require(self, w == want, f"weight must have shape {want}, got {w}")
        if b is not None:
            want = (layers, d) + ((self.bias_rows,) if self.bias_rows else ()) + (hidden,)
            require(self, b == want, f"bias must have shape {want}, got {b}")
        y = (x[0], x[1], d * hidden)
        return [y, h, c] if self.has_cell else [y, h]

    def _split_bias(self, xp, b):
        """(input-side bias (G*H,), hidden-side bias or None) of one layer/direction."""
        return b.reshape(-1), None

    def _bias_grad(self, xp, gbx, gbh, shape):
        return gbx.reshape(shape)

    def forward(self, xp, *arrays):
        x, h0, c0, w0, w, b = self._unpack(arrays)
        d_count = h0.shape[1]
        hn = xp.empty_like(h0)
        cn = xp.empty_like(c0) if self.has_cell else None
        layer_in, tape = x, []
        for layer in range(self.num_layers):
            weight = w0 if layer == 0 else w[layer - 1]
            runs, outs = [], []
            for d in range(d_count):
                bx, bh = (None, None) if b is None else self._split_bias(xp, b[layer, d])
                seq = layer_in if d == 0 else layer_in[::-1]
                run = self._run(xp, seq, h0[layer, d], None if cn is None else c0[layer, d],
                                weight[d].reshape(-1, weight.shape[-1]), bx, bh)
                hn[layer, d] = run["ys"][-1] if len(seq) else h0[layer, d]
                if cn is not None:
                    cn[layer, d] = run["c_last"]
                runs.append(run)
                outs.append(run["ys"] if d == 0 else run["ys"][::-1])
            tape.append(runs)
            layer_in = outs[0] if d_count == 1 else xp.concatenate(outs, axis=-1)
        self._tape = tape
        return (layer_in, hn, cn) if self.has_cell else (layer_in, hn)

    def _run(self, xp, seq, h, c, rows, bx, bh):
        """One layer in one direction over ``seq`` (T, B, In); ``rows`` (G*H, In + H)."""
        steps, batch, n_in = seq.shape
        wx, wh = rows[:, :n_in], rows[:, n_in:]
        ax = (seq.reshape(steps * batch, n_in) @ wx.T).reshape(steps, batch, -1)
        if bx is not None:
            ax += bx
        ys = xp.empty((steps, batch, wh.shape[1]), dtype=seq.dtype)
        saved = []
        h_first, c_first = h, c
        for t in range(steps):
            ah = h @ wh.T
            if bh is not None:
                ah += bh
            h, c, keep = self.step(xp, ax[t], ah, h, c)
            ys[t] = h
            saved.append(keep)
        return {"seq": seq, "wx": wx, "wh": wh, "ys": ys, "saved": saved, "h0": h_first,
                "c0": c_first, "c_last": c}

    def backward(self, xp, xs, ys, gys):
        if getattr(self, "_tape", None) is None:  # no forward yet, or its buffers cleared
            raise RuntimeError(f"{self.name}: backward needs the states of a forward; run "
                               "forward first (again after backward(clear_buffer=True))")
        x, h0, c0, w0, w, b = self._unpack(xs)
        gy, ghn = gys[0], gys[1]
        gcn = gys[2] if self.has_cell else None
        hidden = h0.shape[3]
        gh0 = xp.empty_like(h0)
        gc0 = xp.empty_like(c0) if self.has_cell else None
        gw0 = xp.empty_like(w0)
        gw = None if w is None else xp.empty_like(w)
        gb = None if b is None else xp.empty_like(b)
        need_x = self.need[0]
        g_out = gy
        for layer in reversed(range(self.num_layers)):
            runs = self._tape[layer]
            want_in = layer > 0 or need_x
            g_in = None
            gweight = gw0 if layer == 0 else gw[layer - 1]
            for d, run in enumerate(runs):
                g_ys = g_out[..., d * hidden:(d + 1) * hidden]
                g_ys = g_ys if d == 0 else g_ys[::-1]
                g_seq, gh, gc, g_rows, gbx, gbh = self._run_back(
                    xp, run, g_ys, ghn[layer, d], None if gcn is None else gcn[layer, d],
                    want_in)
                gh0[layer, d] = gh
                if gc0 is not None:
                    gc0[layer, d] = gc
                gweight[d] = g_rows.reshape(gweight[d].shape)
                if gb is not None:
                    gb[layer, d] = self._bias_grad(xp, gbx, gbh, gb[layer, d].shape)
                if want_in:
                    g_seq = g_seq if d == 0 else g_seq[::-1]
                    g_in = g_seq if g_in is None else g_in + g_seq
            g_out = g_in
        grads = [g_out if need_x else None, gh0] + ([gc0] if self.has_cell else []) + [gw0]
        grads += ([gw] if w is not None else []) + ([gb] if b is not None else [])
        return tuple(grads)

    def _run_back(self, xp, run, g_ys, gh, gc, want_in):
        """BPTT through one layer and direction: gradients of its sequence input,
        initial states, weight rows and biases."""
        seq, wx, wh, ys, saved = run["seq"], run["wx"], run["wh"], run["ys"], run["saved"]
        steps, batch, n_in = seq.shape
        gax = xp.empty((steps, batch, wx.shape[0]), dtype=seq.dtype)
        gwh = xp.zeros_like(wh)
        gbh = None
        gh = gh.copy()
        for t in reversed(range(steps)):
            gh += g_ys[t]
            h_prev = run["h0"] if t == 0 else ys[t - 1]
            gax_t, gah_t, gh_direct, gc = self.step_back(xp, gh, gc, saved[t], h_prev)
            gax[t] = gax_t
            gwh += gah_t.T @ h_prev
            if gah_t is not gax_t:
                gbh = gah_t.sum(0) if gbh is None else gbh + gah_t.sum(0)
            gh = gah_t @ wh
            if gh_direct is not None:
                gh += gh_direct
        flat = gax.reshape(steps * batch, -1)
        gwx = flat.T @ seq.reshape(steps * batch, n_in)
        g_seq = (flat @ wx).reshape(seq.shape) if want_in else None
        g_rows = xp.concatenate([gwx, gwh], axis=1)
        if gbh is None and steps == 0:
            gbh = xp.zeros(wx.shape[0], dtype=seq.dtype)
        return g_seq, gh, gc, g_rows, flat.sum(0), gbh


class RNN(_Recurrent):
    """Elman RNN: h' = act([x, h] @ W.T + b), act = tanh or relu."""

    def __init__(self, num_layers, nonlinearity, dropout, bidirectional, training,
                 has_weight, has_bias):
        super().__init__(num_layers, dropout, bidirectional, training, has_weight, has_bias)
        self.nonlinearity = nonlinearity

    def setup(self, *shapes):
        require(self, self.nonlinearity in ("tanh", "relu"),
                f"nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}")
        return super().setup(*shapes)

    def step(self, xp, ax, ah, h, c):
        z = ax + ah
        h = xp.tanh(z) if self.nonlinearity == "tanh" else xp.maximum(z, 0)
        return h, None, h

    def step_back(self, xp, gh, gc, h, h_prev):
        gz = gh * (1 - h * h) if self.nonlinearity == "tanh" else gh * (h > 0)
        return gz, gz, None, None


class LSTM(_Recurrent):
    """LSTM cell with gates i, f, g, o (in that order in the weight and bias)."""
    gates = 4
    bias_rows = 4
    has_cell = True

    def step(self, xp, ax, ah, h, c):
        z = ax + ah
        n = h.shape[1]
        act = _sigmoid(xp, z)
        act[:, 2 * n:3 * n] = xp.tanh(z[:, 2 * n:3 * n])
        i, f, g, o = act[:, :n], act[:, n:2 * n], act[:, 2 * n:3 * n], act[:, 3 * n:]
        c_new = f * c + i * g
        tc = xp.tanh(c_new)
        return o * tc, c_new, (act, c, tc)

    def step_back(self, xp, gh, gc, saved, h_prev):
        act, c_prev, tc = saved
        n = tc.shape[1]
        i, f, g, o = act[:, :n], act[:, n:2 * n], act[:, 2 * n:3 * n], act[:, 3 * n:]
        gc = gh * o * (1 - tc * tc) + (gc if gc is not None else 0)
        gz = xp.empty_like(act)
        gz[:, :n] = gc * g * i * (1 - i)
        gz[:, n:2 * n] = gc * c_prev * f * (1 - f)
        gz[:, 2 * n:3 * n] = gc * i * (1 - g * g)
        gz[:, 3 * n:] = gh * tc * o * (1 - o)
        return gz, gz, None, gc * f


class GRU(_Recurrent):
    """GRU cell with gates r, z, n; the bias has a fourth row, the hidden-side
    bias of n, which the reset gate scales together with U_n h."""
    gates = 3
    bias_rows = 4

    def _split_bias(self, xp, b):
        bh = xp.zeros(b[:3].size, dtype=b.dtype)
        bh[2 * b.shape[1]:] = b[3]
        return b[:3].reshape(-1), bh

    def _bias_grad(self, xp, gbx, gbh, shape):
        n = shape[1]
        return xp.concatenate([gbx.reshape(3, n), gbh[2 * n:].reshape(1, n)], axis=0)

    def step(self, xp, ax, ah, h, c):
        n = h.shape[1]
        rz = _sigmoid(xp, ax[:, :2 * n] + ah[:, :2 * n])
        r, z = rz[:, :n], rz[:, n:]
        ah_n = ah[:, 2 * n:]
        cand = xp.tanh(ax[:, 2 * n:] + r * ah_n)
        return cand + z * (h - cand), None, (rz, cand, ah_n)

    def step_back(self, xp, gh, gc, saved, h_prev):
        rz, cand, ah_n = saved
        n = cand.shape[1]
        r, z = rz[:, :n], rz[:, n:]
        g_pre_n = gh * (1 - z) * (1 - cand * cand)
        gax = xp.empty((gh.shape[0], 3 * n), dtype=gh.dtype)
        gax[:, :n] = g_pre_n * ah_n * r * (1 - r)
        gax[:, n:2 * n] = gh * (h_prev - cand) * z * (1 - z)
        gax[:, 2 * n:] = g_pre_n
        gah = gax.copy()
        gah[:, 2 * n:] = g_pre_n * r
        return gax, gah, gh * z, None


def _inputs(first, weight, bias):
    return list(first) + ([weight] if weight is not None else []) + \
        ([bias] if bias is not None else [])


@named
def rnn(x, h, weight_l0, weight=None, bias=None, num_layers=1, nonlinearity='tanh',
        dropout=None, bidirectional=False, training=True, n_outputs=-1, outputs=None):
    """Elman recurrent network over a whole sequence.

    .. math:: h_t = f([x_t, h_{t-1}] W^T + b),\\quad f = \\tanh \\text{ or } \\mathrm{relu}

    stacked ``num_layers`` deep, each layer optionally run in both directions.

    Args:
        x (Variable): input sequence (T, B, I).
        h (Variable): initial hidden states (num_layers, D, B, H), D = 2 if bidirectional.
        weight_l0 (Variable): first layer weight (D, H, I + H).
        weight (Variable, optional): other layers (num_layers - 1, D, H, D*H + H);
            required when num_layers > 1, not allowed otherwise.
        bias (Variable, optional): (num_layers, D, H).
        num_layers (int): number of stacked layers.
        nonlinearity (str): 'tanh' or 'relu'.
        dropout (float): accepted and ignored (as NNabla's CPU kernel does).
        bidirectional (bool): also run each layer backwards in time.
        training (bool): accepted and ignored.

    Returns:
        tuple of Variable: y (T, B, D*H), the last layer's outputs; h_n (num_layers, D, B, H).
    """
    f = RNN(num_layers, nonlinearity, dropout, bidirectional, training, weight is not None,
            bias is not None)
    return f(*_inputs((x, h, weight_l0), weight, bias), n_outputs=n_outputs, outputs=outputs)


@named
def lstm(x, h, c, weight_l0, weight=None, bias=None, num_layers=1, dropout=None,
         bidirectional=False, training=True, n_outputs=-1, outputs=None):
    """Long short-term memory over a whole sequence.

    .. math::
        (i, f, g, o) &= [x_t, h_{t-1}] W^T + b \\\\
        c_t &= \\sigma(f) c_{t-1} + \\sigma(i) \\tanh(g), \\quad
        h_t = \\sigma(o) \\tanh(c_t)

    Args:
        x (Variable): input sequence (T, B, I).
        h, c (Variable): initial hidden and cell states (num_layers, D, B, H).
        weight_l0 (Variable): first layer weight (D, 4, H, I + H), gates i, f, g, o.
        weight (Variable, optional): other layers (num_layers - 1, D, 4, H, D*H + H).
        bias (Variable, optional): (num_layers, D, 4, H).
        num_layers (int), dropout (ignored), bidirectional (bool), training (ignored):
            as in :func:`rnn`.

    Returns:
        tuple of Variable: y (T, B, D*H), h_n and c_n (num_layers, D, B, H).
    """
    f = LSTM(num_layers, dropout, bidirectional, training, weight is not None, bias is not None)
    return f(*_inputs((x, h, c, weight_l0), weight, bias), n_outputs=n_outputs,
             outputs=outputs)


@named
def gru(x, h, weight_l0, weight=None, bias=None, num_layers=1, dropout=None,
        bidirectional=False, training=True, n_outputs=-1, outputs=None):
    """Gated recurrent unit over a whole sequence.

    .. math::
        r &= \\sigma(W_r [x_t, h_{t-1}] + b_r), \\quad z = \\sigma(W_z [x_t, h_{t-1}] + b_z) \\\\
        n &= \\tanh(W_{xn} x_t + b_n + r (W_{hn} h_{t-1} + b_{hn})), \\quad
        h_t = (1 - z) n + z h_{t-1}

    Args:
        x (Variable): input sequence (T, B, I).
        h (Variable): initial hidden states (num_layers, D, B, H).
        weight_l0 (Variable): first layer weight (D, 3, H, I + H), gates r, z, n.
        weight (Variable, optional): other layers (num_layers - 1, D, 3, H, D*H + H).
        bias (Variable, optional): (num_layers, D, 4, H): b_r, b_z, b_n, b_hn.
        num_layers (int), dropout (ignored), bidirectional (bool), training (ignored):
            as in :func:`rnn`.

    Returns:
        tuple of Variable: y (T, B, D*H), h_n (num_layers, D, B, H).
    """
    f = GRU(num_layers, dropout, bidirectional, training, weight is not None, bias is not None)
    return f(*_inputs((x, h, weight_l0), weight, bias), n_outputs=n_outputs, outputs=outputs)
