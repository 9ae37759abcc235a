"""Quantization-aware training's two graph conversions (NNabla 1.39's
``QuantizeNonQNNToRecordingModifier`` and ``QuantizeRecordingToTrainingModifier``),
driven by ``nablite.utils.qnn`` (its ``QATConfig``, recorders and
``FunctionsRankRecorder``; ``QATScheduler`` applies both in turn).

Both name their parameters by the scope ``<type>-<rank>`` of the function they
belong to, ranks being those ``FunctionsRankRecorder`` gives the graph, so that the
training graph finds what the recording graph recorded: activation ``x<i>`` and
weight ``w<i>`` ranges (``M-x0``, ``m-w0``, ...), then ``scale-*`` / ``zeropoint-*``.

- Non-QNN -> recording: a recorder (``config.recorder_activation``) before each
  activation input of every function (``record_layers`` only, when given; not
  batch norms; not the first convolution nor the last affine with the default
  ``skip_inputs_layers`` / ``skip_outputs_layers``), a weight recorder
  (``config.recorder_weight``) on each parameter input, shared ranges for the
  inputs of Add2 and Concatenate, and with ``RecorderPosition.BOTH`` one after
  the output too.
- Recording -> training (the graph without its recorders,
  ``RemoveFunctionModifier``): quantize_linear / dequantize_linear pairs (int8)
  where ranges were recorded: on each function's output for its consumer, on
  graph inputs and weights, the bias of affine/convolutions requantized with the
  input scale times the weight scale (``skip_bias`` leaves it float).
"""
from ... import functions as F
from ... import parameter as _parameter
from .graph_converter import FunctionModifier

__all__ = ["QuantizeNonQNNToRecordingModifier", "QuantizeRecordingToTrainingModifier"]

# Two-input arithmetic: both inputs are activations (no weight among them).
_BINARY = {"Add2": F.add2, "Sub2": F.sub2, "Mul2": F.mul2, "Div2": F.div2, "Pow2": F.pow2}
_WITH_BIAS = ("Affine", "Convolution", "Deconvolution", "DepthwiseConvolution",
              "DepthwiseDeconvolution")


def _activations(type_name, inputs):
    """How many leading inputs are activations (the rest are weights)."""
    if type_name in ("Concatenate", "Stack"):
        return len(inputs)
    return 2 if type_name in _BINARY else 1


def _type(v):
    return v.parent.info.type_name if v is not None and v.parent is not None else None


class _Ranked(FunctionModifier):
    """A modifier that names scopes by ``functions_ranks`` and knows, for the
    variables of the graph it builds, which functions it made read them (in
    order), as NNabla's ``function_references`` does."""

    def __init__(self, functions_ranks, config):
        super().__init__()
        if config is None:
            raise ValueError(f"{type(self).__name__}: config (a nablite.utils.qnn.QATConfig) "
                             "is required")
        self.functions_ranks = functions_ranks
        self._config = config
        self._fct_bin_set = dict(_BINARY)
        self._readers = {}

    def get_function_rank(self, f):
        return self.functions_ranks.get(f, -1)

    def _scope(self, f):
        return f"{f.info.type_name}-{self.get_function_rank(f)}"

    def _made(self, y):
        """Note the function that made ``y`` as a reader of its inputs."""
        for x in y.parent.inputs:
            self._readers.setdefault(id(x), []).append(y.parent)
        return y

    def _unmade(self, y):
        """Forget a function made in this call whose output is not used after all."""
        for x in y.parent.inputs:
            readers = self._readers.get(id(x), [])
            if y.parent in readers:
                readers.remove(y.parent)

    def _references(self, v):
        """The functions reading ``v``: the original graph's, then those made here."""
        return self.references(v) + self._readers.get(id(v), [])

    def _copy(self, f, inputs):
        ys = self._modify_as_same(f, inputs)
        for y in (ys if isinstance(ys, (list, tuple)) else [ys]):
            self._made(y)
        return ys

    def __finish__(self):
        self._readers = {}


class QuantizeNonQNNToRecordingModifier(_Ranked):
    """Float graph -> recording graph: recorders of the activations' and weights'
    ranges (see the module's docstring).

    Args:
        functions_ranks (dict): function -> rank, from ``FunctionsRankRecorder``
            run over the graph to convert (``y.visit(recorder)``).
        config (QATConfig): which recorders and layers.
        training (bool): whether the recorders update their ranges in forward.
    """

    def __init__(self, functions_ranks, config=None, training=True):
        super().__init__(functions_ranks, config)
        self._training = training

    def _axes(self):
        return [3] if self._config.channel_last else [1]

    def _record(self, recorder, x, name):
        return self._made(recorder()(x, axes=self._axes(), training=self._training, name=name))

    def _around(self, f, direction):
        """Type names of every function after (or before) ``f`` in the original graph."""
        seen, todo, names = set(), [f], set()
        while todo:
            g = todo.pop()
            nxt = ([r for r in self.references(g.outputs[0])] if direction == "after" else
                   [x.parent for x in g.inputs if x.parent is not None])
            for h in nxt:
                if id(h) not in seen:
                    seen.add(id(h))
                    names.add(h.info.type_name)
                    todo.append(h)
        return names

    def _is_skip_layer(self, f):
        cfg = self._config
        first, last = list(cfg.skip_inputs_layers), list(cfg.skip_outputs_layers)
        if not first and not last:
            return False
        fn = f.info.type_name
        # the first such layer on every path from the inputs, the last to the outputs
        if fn in last and not (set(last) & self._around(f, "after")):
            return True
        if fn in first and not (set(first) & self._around(f, "before")):
            return True
        return False

    def check(self, f):
        """Whether ``f`` gets recorders."""
        fn = f.info.type_name
        if fn in ("Sink", "BatchNormalization"):
            return False
        if self._config.record_layers and fn not in self._config.record_layers:
            return False
        return not self._is_skip_layer(f)

    def add_recorder(self, f, inputs, cfg):
        """``inputs`` with a recorder in front of each (one already reading an
        activation is reused)."""
        fn = f.info.type_name
        recorder = cfg.recorder_activation
        n = _activations(fn, inputs)
        new_inputs = []
        self._made_now = set()  # activation recorders made here (not reused ones)
        with _parameter.parameter_scope(self._scope(f)):
            for i, x in enumerate(inputs[:n]):
                readers = self._references(x)
                if readers and readers[0].info.type_name == recorder().name():
                    x = readers[0].outputs[0]
                elif _type(x) != recorder().name():
                    x = self._record(recorder, x, f"x{i}")
                    self._made_now.add(id(x))
                new_inputs.append(x)
            for i, w in enumerate(inputs[n:]):
                new_inputs.append(self._record(cfg.recorder_weight, w, f"w{i}"))
        return new_inputs

    def share_recorder(self, f, inputs, new_inputs, cfg, made=()):
        """Add2 / Concatenate: every input records into the range of the one of
        lowest rank (its ``x0``)."""
        if f.info.type_name not in ("Add2", "Concatenate"):
            return new_inputs
        idx, low = 0, inputs[0].rank
        for i, v in enumerate(new_inputs[1:], 1):
            if v.rank < low:
                idx, low = i, v.rank
        scope = self.get_parameter_scope(new_inputs[idx].parent.inputs[1])
        for i, v in enumerate(new_inputs):
            if i == idx:
                continue
            if id(v) in made:
                self._unmade(v)
            with _parameter.parameter_scope(scope):
                new_inputs[i] = self._record(cfg.recorder_activation, v.parent.inputs[0], "x0")
        return new_inputs

    def modify(self, f, inputs):
        if not self.check(f):
            return self._copy(f, inputs)
        cfg = self._config
        new_inputs = self.add_recorder(f, inputs, cfg)
        new_inputs = self.share_recorder(f, inputs, new_inputs, cfg, self._made_now)
        h = self._copy(f, new_inputs)
        if cfg.recorder_position == cfg.RecorderPosition.BOTH:
            refs = self.references(f.outputs[0])
            if refs:
                with _parameter.parameter_scope(self._scope(refs[0])):
                    h = self._record(cfg.recorder_activation, h, "x0")
        return h


class QuantizeRecordingToTrainingModifier(_Ranked):
    """Recording graph (its recorders removed) -> simulated-quantization training
    graph: quantize/dequantize pairs with the recorded ranges (see the module's
    docstring).

    Args:
        functions_ranks (dict): function -> rank, from ``FunctionsRankRecorder``
            run over the graph to convert.
        config (QATConfig): rounding, range and recorder settings;
            ``precision_mode`` must be ``PrecisionMode.SIM_QNN`` (the only mode
            NNabla 1.39 has too).
    """

    def __init__(self, functions_ranks, config=None):
        super().__init__(functions_ranks, config)
        from ...utils.qnn import PrecisionMode
        if config.precision_mode != PrecisionMode.SIM_QNN:
            raise NotImplementedError(
                f"QuantizeRecordingToTrainingModifier: precision_mode "
                f"{config.precision_mode} is not implemented; only PrecisionMode.SIM_QNN "
                "(as in NNabla 1.39)")
        self._dequantized = {}  # id(quantized variable) -> its dequantize_linear output

    # -- pieces -----------------------------------------------------------------
    def _settings(self):
        cfg = self._config
        return (cfg.round_mode, cfg.narrow_range, cfg.dtype, cfg.pow2.value,
                [3] if cfg.channel_last else [1])

    def try_to_quantize(self, x, scale, zero_point, round_mode, narrow_range, dtype):
        if scale is None:
            return x
        return self._made(F.quantize_linear(x, scale, zero_point, round_mode, narrow_range,
                                            dtype))

    def try_to_dequantize(self, x, scale, zero_point):
        if scale is None:
            return x
        y = self._made(F.dequantize_linear(x, scale, zero_point))
        self._dequantized.setdefault(id(x), y)
        return y

    @staticmethod
    def get_quantization_params(v):
        """(scale, zero point) values of the quantize_linear that made ``v``, or Nones."""
        if _type(v) == "QuantizeLinear":
            return v.parent.inputs[1].d, v.parent.inputs[2].d
        return None, None

    def requantize_bias(self, f, inputs, scope, rm, nr, dt, skip_bias=False):
        """A bias quantized with scale(input) * scale(weight), zero point the input's."""
        if f.info.type_name not in _WITH_BIAS or len(inputs) != 3:
            return inputs
        x, w, b = inputs
        sx, zpx = self.get_quantization_params(x)
        sw, _ = self.get_quantization_params(w)
        if sx is None or sw is None:
            return inputs
        with _parameter.parameter_scope(scope):
            sb = _parameter.get_parameter_or_create(
                "scale-b", (1,), (sx.reshape(1) * sw.reshape(1)).astype("float32"), False)
            zpb = _parameter.get_parameter_or_create(
                "zeropoint-b", (1,), zpx.reshape(1).astype("float32"), False)
            if _type(b) == "QuantizeLinear":
                b = b.parent.inputs[0]
                inputs[2] = b if skip_bias else self.try_to_quantize(b, sb, zpb, rm, nr, dt)
        return inputs

    def quantize_inputs(self, f, inputs, scope, cfg, axes, rm, nr, dt, pow2):
        n = _activations(f.info.type_name, inputs)
        out = []
        with _parameter.parameter_scope(scope):
            for i, x in enumerate(inputs[:n]):
                if x.rank == 0:  # a graph input: its own recorded range
                    s, zp = cfg.recorder_activation.get_scale_zeropoint(
                        x, axes=axes, narrow_range=nr, round_method=pow2, name=f"x{i}")
                    x = self.try_to_quantize(x, s, zp, rm, nr, dt)
                out.append(x)
            for i, w in enumerate(inputs[n:]):
                s, zp = cfg.recorder_weight.get_scale_zeropoint(
                    w, axes=axes, narrow_range=nr, round_method=pow2, name=f"w{i}")
                out.append(self.try_to_quantize(w, s, zp, rm, nr, dt))
        return self.requantize_bias(f, out, scope, rm, nr, dt, cfg.skip_bias)

    def dequantize_inputs(self, inps):
        for i, v in enumerate(inps):
            if id(v) in self._dequantized:  # a dequantize already reads it
                inps[i] = self._dequantized[id(v)]
            elif _type(v) == "QuantizeLinear":
                inps[i] = self.try_to_dequantize(v, *v.parent.inputs[1:3])
        return inps

    def shared_quantization(self, f, inps, cfg, made=()):
        """Add2 / Concatenate: all inputs quantized as the one of lowest rank."""
        if f.info.type_name not in ("Add2", "Concatenate"):
            return inps
        idx, low = 0, inps[0].rank
        for i, v in enumerate(inps[1:], 1):
            if _type(v) == "DequantizeLinear" and v.rank < low:
                idx, low = i, v.rank
        s = zp = None
        if _type(inps[idx]) == "DequantizeLinear":
            s, zp = inps[idx].parent.inputs[1:3]
        for i, v in enumerate(inps):
            if i == idx:
                continue
            if _type(v) == "DequantizeLinear":
                if id(v) in made:  # made for this input alone: not used after all
                    self._unmade(v)
                    q = v.parent.inputs[0]
                    if self._dequantized.get(id(q)) is v:
                        del self._dequantized[id(q)]
                v = v.parent.inputs[0].parent.inputs[0]
            v = self.try_to_quantize(v, s, zp, cfg.round_mode, cfg.narrow_range, cfg.dtype)
            inps[i] = self.try_to_dequantize(v, s, zp)
        return inps

    def _quantize_outputs(self, f, h, axes, cfg):
        rm, nr, dt, pow2, _ = self._settings()
        s = zp = None
        for g in self.references(f.outputs[0]):
            if g.info.type_name == "Sink":
                return h  # a graph output stays float
            name = "x0"
            if g.info.type_name in _BINARY:
                for i, x in enumerate(g.inputs):
                    if x is f.outputs[0]:
                        name = f"x{i}"
            with _parameter.parameter_scope(self._scope(g)):
                s, zp = cfg.recorder_activation.get_scale_zeropoint(
                    h, axes=axes, narrow_range=nr, round_method=pow2, name=name)
            if s is not None:
                break
        return self.try_to_quantize(h, s, zp, rm, nr, dt)

    # -- the conversion -------------------------------------------------------------
    def modify(self, f, inputs):
        cfg = self._config
        rm, nr, dt, pow2, axes = self._settings()
        scope = self._scope(f)
        inps = self.quantize_inputs(f, inputs, scope, cfg, axes, rm, nr, dt, pow2)
        known = set(map(id, self._dequantized.values()))
        inps = self.dequantize_inputs(inps)
        made = {id(v) for v in inps if _type(v) == "DequantizeLinear" and id(v) not in known}
        inps = self.shared_quantization(f, inps, cfg, made)
        h = self._copy(f, inps)
        return self._quantize_outputs(f, h, axes, cfg)

    def __finish__(self):
        super().__finish__()
        self._dequantized = {}
