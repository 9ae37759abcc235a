"""Recurrent layers: rnn, lstm, gru (multi-layer, cuDNN-style weights), lstm_cell
and the stateful LSTMCell."""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from ..variable import Variable
from ._api import _param, parametric_function_api
from .layers import affine

__all__ = ["rnn", "lstm", "gru", "lstm_cell", "LSTMCell"]


def _recurrent_weights(x, h, gates, w0_init, w_init, b_init, bias_gates, rng, with_bias,
                       fix_parameters):
    """weight_l0, weight and bias of a stacked (bi)directional RNN: the input and
    hidden parts of each weight drawn Glorot-uniform separately, then concatenated."""
    i_size, hidden, layers = x.shape[2], h.shape[3], h.shape[0]
    d = h.shape[1]
    lead = (d,) + ((gates,) if gates else ())

    def glorot_concat(in_size):
        def init(shape):
            w_in = UniformInitializer(calc_uniform_lim_glorot(in_size, hidden), rng=rng)(
                tuple(shape[:-1]) + (in_size,))
            w_h = UniformInitializer(calc_uniform_lim_glorot(hidden, hidden), rng=rng)(
                tuple(shape[:-1]) + (hidden,))
            return np.concatenate([w_in, w_h], axis=-1)
        return init

    w0 = _param("weight_l0", lead + (hidden, i_size + hidden),
                glorot_concat(i_size) if w0_init is None else w0_init, fix_parameters)
    w = None
    if layers > 1:
        w = _param("weight", (layers - 1,) + lead + (hidden, d * hidden + hidden),
                   glorot_concat(d * hidden) if w_init is None else w_init, fix_parameters)
    b = None
    if with_bias:
        shape = (layers, d) + ((bias_gates,) if bias_gates else ()) + (hidden,)
        b = _param("bias", shape, ConstantInitializer() if b_init is None else b_init, fix_parameters)
    return w0, w, b, layers


@parametric_function_api("rnn")
def rnn(x, h, w0_init=None, w_init=None, b_init=None, num_layers=1, nonlinearity='tanh',
        dropout=0.0, bidirectional=False, training=True, rng=None, with_bias=True,
        fix_parameters=False):
    """Elman RNN over a (T, B, I) sequence with initial state h (L, D, B, H).

    Parameters: ``rnn/weight_l0`` (D, H, I + H), ``rnn/weight`` (L - 1, D, H, D*H + H)
    if L > 1, ``rnn/bias`` (L, D, H). The number of layers L comes from h.

    Returns:
        tuple of Variable: (y, h_n).
    """
    w0, w, b, layers = _recurrent_weights(x, h, 0, w0_init, w_init, b_init, 0, rng, with_bias,
                                          fix_parameters)
    return F.rnn(x, h, w0, w, b, num_layers=layers, nonlinearity=nonlinearity, dropout=dropout,
                 bidirectional=bidirectional, training=training)


@parametric_function_api("lstm")
def lstm(x, h, c, w0_init=None, w_init=None, b_init=None, num_layers=1, dropout=0.0,
         bidirectional=False, training=True, rng=None, with_bias=True, fix_parameters=False):
    """LSTM over a (T, B, I) sequence; parameters ``lstm/weight_l0`` (D, 4, H, I + H),
    ``lstm/weight`` (L - 1, D, 4, H, D*H + H), ``lstm/bias`` (L, D, 4, H).

    Returns:
        tuple of Variable: (y, h_n, c_n).
    """
    w0, w, b, layers = _recurrent_weights(x, h, 4, w0_init, w_init, b_init, 4, rng, with_bias,
                                          fix_parameters)
    return F.lstm(x, h, c, w0, w, b, num_layers=layers, dropout=dropout,
                  bidirectional=bidirectional, training=training)


@parametric_function_api("gru")
def gru(x, h, w0_init=None, w_init=None, b_init=None, num_layers=1, dropout=0.0,
        bidirectional=False, training=True, rng=None, with_bias=True, fix_parameters=False):
    """GRU over a (T, B, I) sequence; parameters ``gru/weight_l0`` (D, 3, H, I + H),
    ``gru/weight`` (L - 1, D, 3, H, D*H + H), ``gru/bias`` (L, D, 4, H) (NNabla's shape).

    Returns:
        tuple of Variable: (y, h_n).
    """
    w0, w, b, layers = _recurrent_weights(x, h, 3, w0_init, w_init, b_init, 4, rng, with_bias,
                                          fix_parameters)
    return F.gru(x, h, w0, w, b, num_layers=layers, dropout=dropout,
                 bidirectional=bidirectional, training=training)


@parametric_function_api("lstm")
def lstm_cell(x, h, c, state_size, w_init=None, b_init=None, fix_parameters=False):
    """One LSTM step. An inner :func:`affine` on concat(x, h) gives the gates
    (input, output, forget, cell) as ``lstm/affine/W`` (I + H, 4, H) and ``lstm/affine/b``.

    Returns:
        tuple of Variable: (h', c') with c' = sigmoid(f) c + sigmoid(i) tanh(g),
        h' = sigmoid(o) tanh(c').
    """
    xh = F.concatenate(x, h, axis=1)
    gates = affine(xh, (4, state_size), w_init=w_init, b_init=b_init,
                   fix_parameters=fix_parameters)
    i, o, f, g = F.split(gates, axis=1)
    c_new = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
    h_new = F.sigmoid(o) * F.tanh(c_new)
    return h_new, c_new


class LSTMCell:
    """An LSTM cell that keeps its state ``h``, ``c`` between calls.

    Args:
        batch_size (int), state_size (int): Shape of the state.
        h, c (Variable): Initial states (zeros by default).
        name (str): Scope of the parameters (``name/lstm/affine/...``).
    """

    def __init__(self, batch_size, state_size, h=None, c=None, name=None):
        self.batch_size = batch_size
        self.state_size = state_size
        self.name = name
        self.h = h if h is not None else Variable((batch_size, state_size))
        self.c = c if c is not None else Variable((batch_size, state_size))
        if h is None:
            self.h.d = 0
        if c is None:
            self.c.d = 0

    def reset_state(self):
        """Set ``h`` and ``c`` to zeros."""
        self.h.d = 0
        self.c.d = 0

    def __call__(self, x, w_init=None, b_init=None, fix_parameters=False):
        self.h, self.c = lstm_cell(x, self.h, self.c, self.state_size, w_init, b_init,
                                   fix_parameters=fix_parameters, name=self.name)
        return self.h
