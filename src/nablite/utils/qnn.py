"""Quantization-aware training (NNabla's ``nnabla.utils.qnn``): range recorders,
the configuration and the scheduler that turns a float graph into a recording
graph and then into a simulated-quantization (quantize/dequantize) graph.

- Recorders are PythonFunctions that pass their input through and, in training,
  update a range kept as parameters of the current scope: ``MinMaxMinMax``
  (running min and max, ``m-<name>`` / ``M-<name>``), ``MinMaxMva`` (their moving
  averages), ``AbsMax`` / ``MaxMax`` (running max of |x| / of x, ``M-<name>``) and
  ``MaxMva`` (moving average of the max). Their ``*Callback`` classes add one to a
  graph and turn the recorded range into the ``scale-<name>`` /
  ``zeropoint-<name>`` parameters of an int8 quantizer
  (``get_scale_zeropoint``).
- ``QATConfig`` (and ``QATTensorRTConfig``) say which recorders, layers, rounding
  and folding to use; ``QATScheduler`` switches the registered graphs from float
  to recording at ``niter_to_recording`` and to training at ``niter_to_training``,
  with the graph converters' ``QuantizeNonQNNToRecordingModifier`` and
  ``QuantizeRecordingToTrainingModifier``.

Only simulated quantization (``PrecisionMode.SIM_QNN``) is there, as in NNabla
1.39, whose other modes are unimplemented too.
"""
from enum import Enum

import numpy as np

from .. import backend
from .. import parameter as _parameter
from ..function import PythonFunction
from ..initializer import ConstantInitializer

__all__ = ["MinMaxMinMaxRecorder", "AbsMaxRecorder", "MinMaxMvaRecorder", "MaxMaxRecorder",
           "MaxMvaRecorder", "minmax_minmax_recorder", "abs_max_recorder",
           "minmax_mva_recorder", "max_max_recorder", "max_mva_recorder",
           "MinMaxMinMaxRecorderCallback", "AbsMaxRecorderCallback",
           "MinMaxMvaRecorderCallback", "MaxMaxRecorderCallback", "MaxMvaRecorderCallback",
           "PrecisionMode", "QNNState", "QATConfig", "QATTensorRTConfig", "qat_default_config",
           "FunctionsRankRecorder", "QATScheduler"]

# How a recorded scale is coerced to a power of two (None: left as it is).
_ROUNDINGS = {"CEIL": np.ceil, "ROUND": np.round, "FLOOR": np.floor, "NOTROUND": None}


# -- the recorders ------------------------------------------------------------------
class _Recorder(PythonFunction):
    """y = x; in training, the range inputs (parameters) are updated in place from
    the batch. The gradient passes straight through to x only.

    The arrays are used where the graph put them (``NdArray._current``, no copy):
    on a device the ranges are the parameters' device arrays, updated there with
    its array module ``xp``. Writing through ``.d`` would work too (the inputs are
    the parameters' own NdArrays), but would copy the batch and the ranges to the
    host and back every step."""

    n_ranges = 1

    def __init__(self, ctx=None, training=True):
        super().__init__(ctx)
        self.training = training

    @property
    def name(self):
        return type(self).__name__

    def min_outputs(self):
        return 1

    def setup_impl(self, inputs, outputs):
        x, ranges = inputs[0], inputs[1:]
        if len(ranges) != self.n_ranges:
            raise ValueError(f"{self.name}: takes the data and {self.n_ranges} range "
                             f"input(s), got {len(inputs)} inputs")
        for r in ranges:
            if r.ndim != x.ndim or int(np.prod(r.shape)) != 1:
                raise ValueError(f"{self.name}: a range input must have x's {x.ndim} "
                                 f"dimensions, each of size 1; got shape {r.shape}")
        outputs[0].reset_shape(x.shape, True)

    def forward_impl(self, inputs, outputs):
        x = inputs[0].data._current()
        outputs[0].data._set(x.copy())
        if self.training:  # written in place: the range parameters' own arrays
            self.record(backend.array_module(x), x,
                        *[r.data._current() for r in inputs[1:]])

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        if propagate_down[0]:  # accum is always False here (python_function.py)
            inputs[0].grad._set(outputs[0].grad._current().copy())

    def grad_depends_output_data(self, i, o):
        return False

    def grad_depends_input_data(self, i, j):
        return False


class MinMaxMinMaxRecorder(_Recorder):
    """Records the smallest and largest value seen over the iterations."""

    n_ranges = 2

    def record(self, xp, x, m, M):
        xp.minimum(m, x.min(), out=m)
        xp.maximum(M, x.max(), out=M)


class AbsMaxRecorder(_Recorder):
    """Records the largest |x| seen over the iterations."""

    def record(self, xp, x, M):
        xp.maximum(M, xp.abs(x).max(), out=M)


class MaxMaxRecorder(_Recorder):
    """Records the largest value seen over the iterations."""

    def record(self, xp, x, M):
        xp.maximum(M, x.max(), out=M)


class _MovingAverage(_Recorder):
    def __init__(self, ctx=None, decay=0.99, training=True):
        super().__init__(ctx, training)
        self.decay = decay

    def _update(self, r, batch_value):
        r[...] = self.decay * r + (1 - self.decay) * batch_value


class MinMaxMvaRecorder(_MovingAverage):
    """Records moving averages (``decay``) of the batches' min and max."""

    n_ranges = 2

    def record(self, xp, x, m, M):
        self._update(m, x.min())
        self._update(M, x.max())


class MaxMvaRecorder(_MovingAverage):
    """Records a moving average (``decay``) of the batches' max."""

    def record(self, xp, x, M):
        self._update(M, x.max())


def minmax_minmax_recorder(x, m, M, training=True):
    return MinMaxMinMaxRecorder(None, training)(x, m, M)


def abs_max_recorder(x, M, training=True):
    return AbsMaxRecorder(None, training)(x, M)


def minmax_mva_recorder(x, m, M, decay=0.99, training=True):
    return MinMaxMvaRecorder(None, decay, training)(x, m, M)


def max_max_recorder(x, M, training=True):
    return MaxMaxRecorder(None, training)(x, M)


def max_mva_recorder(x, M, decay=0.99, training=True):
    return MaxMvaRecorder(None, decay, training)(x, M)


def _exists(name):
    return _parameter.get_parameter(name) is not None


def _int8_step(narrow_range):
    # the number of steps of int8's range [-128, 127] ([-127, 127] when narrow)
    return 255 - (1 if narrow_range else 0)


def _scale_and_zeropoint(scale, round_method, name):
    """The ``scale-<name>`` / ``zeropoint-<name>`` parameters (created on first use,
    no gradient) of a symmetric quantizer with ``scale``, made a power of two by
    ``round_method``."""
    rounding = _ROUNDINGS[getattr(round_method, "value", round_method)]
    if rounding is not None:
        scale = 2.0 ** rounding(np.log(scale) / np.log(2))
    scale = np.asarray(scale, np.float32)
    zp = np.zeros_like(scale)  # symmetric: zero point 0
    zp = _parameter.get_parameter_or_create(f"zeropoint-{name}", zp.shape, zp, False)
    scale = _parameter.get_parameter_or_create(f"scale-{name}", scale.shape, scale, False)
    return scale, zp


class _RecorderCallback:
    """Adds its recorder to a graph (``callback(x, axes, training, name)``) and makes
    a quantizer of what it recorded (``get_scale_zeropoint``)."""

    _function = None
    _ranges = ("M",)

    def name(self):
        """The recorder's function type name (the class name less 'Callback')."""
        n = type(self).__name__
        return n[:n.rfind("Callback")]

    def __call__(self, x, axes=[1], training=True, name=""):
        shape = [1] * len(x.shape)
        ranges = [_parameter.get_parameter_or_create(f"{r}-{name}", shape,
                                                     ConstantInitializer())
                  for r in self._ranges]
        return type(self)._function(x, *ranges, training=training)

    @classmethod
    def _range(cls, x, name):
        shape = [1] * len(x.shape)
        return [_parameter.get_parameter_or_create(f"{r}-{name}", shape).d
                for r in cls._ranges]


class _MinMaxCallback(_RecorderCallback):
    _ranges = ("m", "M")

    @classmethod
    def get_scale_zeropoint(cls, x, axes=[1], narrow_range=False, round_method="NOTROUND",
                            name=""):
        """(scale, zero point) parameters from the recorded range, or (None, None)
        where no recorder was added under ``name`` in the current scope."""
        if not _exists(f"m-{name}") and not _exists(f"M-{name}"):
            return None, None
        m, M = cls._range(x, name)
        # 1e-24 keeps the scale above zero for a constant input
        scale = np.maximum(M - m, 1e-24) / _int8_step(narrow_range)
        return _scale_and_zeropoint(scale, round_method, name)


class _MaxCallback(_RecorderCallback):
    @classmethod
    def get_scale_zeropoint(cls, x, axes=[1], narrow_range=False, round_method="NOTROUND",
                            name=""):
        """(scale, zero point) parameters from the recorded maximum, or (None, None)
        where no recorder was added under ``name`` in the current scope."""
        if not _exists(f"M-{name}"):
            return None, None
        (M,) = cls._range(x, name)
        scale = 2 * M / _int8_step(narrow_range)
        return _scale_and_zeropoint(scale, round_method, name)


class MinMaxMinMaxRecorderCallback(_MinMaxCallback):
    _function = staticmethod(minmax_minmax_recorder)


class MinMaxMvaRecorderCallback(_MinMaxCallback):
    _function = staticmethod(minmax_mva_recorder)


class AbsMaxRecorderCallback(_MaxCallback):
    _function = staticmethod(abs_max_recorder)


class MaxMaxRecorderCallback(_MaxCallback):
    _function = staticmethod(max_max_recorder)


class MaxMvaRecorderCallback(_MaxCallback):
    _function = staticmethod(max_mva_recorder)


# -- configuration --------------------------------------------------------------------
class PrecisionMode(Enum):
    QNN = 0        # quantized functions only (not implemented, as in NNabla 1.39)
    SIM_QNN = 1    # quantize/dequantize pairs around float functions
    MIXED_QNN = 2  # quantized functions where there are some (not implemented)


class QNNState(Enum):
    NON_QNN = 0
    RECORDING = 1
    TRAINING = 2
    DEPLOYMENT = 3


class QATConfig:
    """Settings of quantization-aware training (class attributes, NNabla's defaults;
    set them on an instance)."""

    class RoundingMethod(Enum):
        """How a scale is made a power of two."""
        CEIL = "CEIL"
        ROUND = "ROUND"
        FLOOR = "FLOOR"
        NOTROUND = "NOTROUND"

    class RecorderPosition(Enum):
        """Where recorders go: before a function's inputs, or also after its output."""
        BEFORE = 0
        BOTH = 1

    ext_name = "cudnn"
    zero_point = False
    dtype = np.int8
    precision_mode = PrecisionMode.SIM_QNN
    channel_last = False
    channel_wise = False
    niter_to_recording = 0
    niter_to_training = -1
    pow2 = RoundingMethod.ROUND
    narrow_range = False
    round_mode = "HALF_TO_EVEN"
    bn_folding = False
    bn_self_folding = False
    recorder_weight = MinMaxMinMaxRecorderCallback
    recorder_activation = MaxMvaRecorderCallback
    record_layers = []
    recorder_position = RecorderPosition.BEFORE
    skip_inputs_layers = ["Convolution", "Deconvolution"]
    skip_outputs_layers = ["Affine"]
    learning_rate_scale = 0.1
    skip_bias = False


class QATTensorRTConfig(QATConfig):
    """QATConfig for deployment with TensorRT: power-of-two scales, batch norms
    folded, recorders on convolution, affine, batch_matmul and ReLU."""
    pow2 = QATConfig.RoundingMethod.ROUND
    bn_folding = True
    bn_self_folding = True
    record_layers = ["Convolution", "Deconvolution", "Affine", "BatchMatmul", "ReLU"]
    record_position = QATConfig.RecorderPosition.BEFORE  # NNabla's spelling (unused there)


qat_default_config = QATTensorRTConfig()


class FunctionsRankRecorder:
    """``y.visit(recorder)`` numbers the functions of a graph in visiting order
    (``functions_ranks``: function -> rank), leaving out training-only ones."""

    def __init__(self, functions_only_for_training=["ImageAugmentation", "Dropout"]):
        self.functions_only_for_training = list(functions_only_for_training)
        self.rank = 0
        self.functions_ranks = {}

    def __call__(self, f):
        if f.info.type_name not in self.functions_only_for_training:
            self.functions_ranks[f] = self.rank
            self.rank += 1


class QATScheduler:
    """Switch registered graphs to recording, then to simulated-quantization
    training, as the steps pass.

    Args:
        config (QATConfig): the settings (``niter_to_recording`` >= 0 and a larger
            ``niter_to_training``).
        solver (Solver): given parameters again when folding batch norms changes
            them, and its learning rate scaled by ``learning_rate_scale`` for
            the quantized training.

    ``scheduler(pred, training=True)`` registers a graph's output; call
    ``step()`` once per iteration; ``save(fname, inputs)`` writes the evaluation
    graphs (``training=False``) as an .nnp.
    """

    def __init__(self, config=qat_default_config, solver=None):
        if config.niter_to_training <= 0 or config.niter_to_recording < 0:
            raise ValueError(f"QATScheduler: config.niter_to_recording must be >= 0 and "
                             f"config.niter_to_training > 0, got {config.niter_to_recording} "
                             f"and {config.niter_to_training}")
        if config.niter_to_training <= config.niter_to_recording:
            raise ValueError(f"QATScheduler: config.niter_to_training "
                             f"({config.niter_to_training}) must come after "
                             f"config.niter_to_recording ({config.niter_to_recording})")
        self.config = config
        self.solver = solver
        self.counter = 0
        self.state = QNNState.NON_QNN
        self.registry = []  # (output Variable, training)

    def __call__(self, pred, training=True):
        self.registry.append((pred, training))

    def _register_params(self):
        if self.solver is not None and (self.config.bn_folding or self.config.bn_self_folding):
            self.solver.set_parameters(_parameter.get_parameters(grad_only=True))

    def _fold_bn(self, pred):
        from ..experimental import graph_converters as GC
        cfg = self.config
        modifiers = []
        if cfg.bn_folding:
            modifiers += [GC.BatchNormalizationFoldingModifier(opposite=False,
                                                               channel_last=cfg.channel_last),
                          GC.BatchNormalizationFoldingModifier(opposite=True,
                                                               channel_last=cfg.channel_last)]
        if cfg.bn_self_folding:
            modifiers.append(GC.BatchNormalizationSelfFoldingModifier())
        if modifiers:
            # fused batch norms are split first so that they fold too
            folded = GC.GraphConverter([GC.UnfusedBatchNormalizationModifier()]
                                       + modifiers).convert(pred)
            pred.rewire_on(folded)
        return pred

    def _convert(self, pred, modifier):
        from ..experimental import graph_converters as GC
        ranks = FunctionsRankRecorder()
        pred.visit(ranks)
        pred.rewire_on(GC.GraphConverter([modifier(ranks.functions_ranks)]).convert(pred))
        return pred

    def _schedule_to_recording(self):
        from ..experimental import graph_converters as GC
        for i, (pred, training) in enumerate(self.registry):
            pred = self._fold_bn(pred)
            pred = self._convert(pred, lambda ranks: GC.QuantizeNonQNNToRecordingModifier(
                ranks, config=self.config, training=training))
            pred.need_grad = False
            self._register_params()
            self.registry[i] = (pred, training)
        self.state = QNNState.RECORDING

    def _schedule_to_training(self):
        from ..experimental import graph_converters as GC
        cfg = self.config
        for i, (pred, training) in enumerate(self.registry):
            plain = GC.GraphConverter([GC.RemoveFunctionModifier(
                rm_funcs=[cfg.recorder_activation().name(),
                          cfg.recorder_weight().name()])]).convert(pred)
            pred.rewire_on(plain)
            pred = self._convert(pred, lambda ranks: GC.QuantizeRecordingToTrainingModifier(
                ranks, config=cfg))
            self._register_params()
            if self.solver is not None:
                self.solver.set_learning_rate(self.solver.learning_rate()
                                              * cfg.learning_rate_scale)
            self.registry[i] = (pred, training)
        self.state = QNNState.TRAINING

    def step(self):
        """Count one iteration; switch state where the config says."""
        if self.counter == self.config.niter_to_recording:
            self._schedule_to_recording()
        elif self.counter == self.config.niter_to_training:
            self._schedule_to_training()
        self.counter += 1

    def save(self, fname, inputs, batch_size=1, net_name="net", deploy=False):
        """Write each registered evaluation graph (``training=False``) to ``fname``
        (.nnp), inputs named x0, x1, ... and outputs y0, y1, ...

        ``deploy=True`` (an int8 deployment graph) is not there, as in NNabla 1.39."""
        if deploy:
            raise NotImplementedError("QATScheduler.save: deploy=True is not supported "
                                      "(NNabla 1.39 does not have it either)")
        from .save import save

        def as_list(o):
            return list(o) if isinstance(o, (list, tuple)) else [o]

        for pred, training in self.registry:
            if training:
                continue
            names = {f"x{i}": v for i, v in enumerate(as_list(inputs))}
            outputs = {f"y{i}": v for i, v in enumerate(as_list(pred))}
            save(fname, {"networks": [{"name": net_name, "batch_size": batch_size,
                                       "outputs": outputs, "names": names}],
                         "executors": [{"name": "runtime", "network": net_name,
                                        "data": list(names), "output": list(outputs)}]})
