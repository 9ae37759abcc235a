"""Export rules of the losses, written out of elementwise ONNX operators (see
ops.py for how a rule reads)."""
from .lower import softmax
from .ops import in_shape, rule


def _diff(e, a, b):
    return e.node("Sub", [a, b])


@rule("SquaredError", "Sub, Mul")
def _squared_error(e, f, a, b):
    d = _diff(e, a, b)
    return e.node("Mul", [d, d])


@rule("AbsoluteError", "Sub, Abs")
def _absolute_error(e, f, a, b):
    return e.node("Abs", [_diff(e, a, b)])


@rule("HuberLoss", "Sub, Abs, Less, Where")
def _huber_loss(e, f, a, b):
    delta = float(f.args["delta"])
    d = e.node("Abs", [_diff(e, a, b)])
    far = e.node("Mul", [e.node("Sub", [e.node("Mul", [d, e.scalar(2.0)]), e.scalar(delta)]),
                         e.scalar(delta)])
    return e.node("Where", [e.node("Less", [d, e.scalar(delta)]), e.node("Mul", [d, d]), far])


@rule("EpsilonInsensitiveLoss", "Sub, Abs, Relu")
def _epsilon_insensitive_loss(e, f, a, b):
    d = e.node("Abs", [_diff(e, a, b)])
    return e.node("Relu", [e.node("Sub", [d, e.scalar(float(f.args["epsilon"]))])])


@rule("SigmoidCrossEntropy", "Relu, Abs, Softplus, Mul, Sub")
def _sigmoid_cross_entropy(e, f, x, t):
    # max(x, 0) - x t + log(1 + exp(-|x|)), stable for large |x|
    tail = e.node("Softplus", [e.node("Neg", [e.node("Abs", [x])])])
    return e.node("Add", [e.node("Sub", [e.node("Relu", [x]), e.node("Mul", [x, t])]), tail])


@rule("BinaryCrossEntropy", "Log, Mul, Sub, Neg")
def _binary_cross_entropy(e, f, x, t):
    one = e.scalar(1.0)
    pos = e.node("Mul", [t, e.node("Log", [x])])
    neg = e.node("Mul", [e.node("Sub", [one, t]), e.node("Log", [e.node("Sub", [one, x])])])
    return e.node("Neg", [e.node("Add", [pos, neg])])


def _picked(e, f, logp, t):
    """-logp at the labels t (the label axis of size 1), as nablite's CE losses."""
    axis = f._axis
    return e.node("Neg", [e.node("GatherElements", [logp, e.node("Cast", [t], to=e.INT64)],
                                 axis=axis)])


@rule("SoftmaxCrossEntropy", "LogSoftmax, Cast, GatherElements, Neg")
def _softmax_cross_entropy(e, f, x, t):
    return _picked(e, f, softmax(e, "LogSoftmax", x, f._axis, len(in_shape(f))), t)


@rule("CategoricalCrossEntropy", "Log, Cast, GatherElements, Neg")
def _categorical_cross_entropy(e, f, x, t):
    return _picked(e, f, e.node("Log", [x]), t)


@rule("KLMultinomial", "Log, Sub, Mul, ReduceSum")
def _kl_multinomial(e, f, p, q):
    nd = len(in_shape(f))
    axes = list(range(f.args["base_axis"], nd))
    d = e.node("Mul", [p, e.node("Sub", [e.node("Log", [p]), e.node("Log", [q])])])
    y = e.node("ReduceSum", [d, e.ints(axes)], keepdims=1)
    return e.reshape(y, f.out_shapes[0])
