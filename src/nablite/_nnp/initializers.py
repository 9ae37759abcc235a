"""The ``initializer`` of a ``Variable`` message -> the values a parameter starts with.

Files written by Neural Network Console (and other NNabla tools) say how each
parameter is initialized instead of, or besides, holding its values:
``initializer { type: "NormalAffineHeForward" multiplier: 1 }``. NNabla reads
these when it builds a network whose parameters it has not loaded (``nnabla_cli
train``, ``nn.graph_def.load(..., exclude_parameter=True)``), drawing from one
``RandomState(0)`` per file in the order the functions read the parameters;
nablite does the same, so a training starts where NNabla's does.

The types: ``Constant``, ``Normal``, ``Uniform`` and ``Range`` (``multiplier``
is the value, the standard deviation, the bound and the step), and the scaled
draws ``Normal<Layout><Rule>`` (rules ``He``/``HeForward``, ``HeBackward``,
``Glorot``) and ``Uniform<Layout>Glorot``, ``multiplier`` times the draw, where
the layout says where the maps are in the shape: ``Affine`` (inputs, outputs...),
``Convolution`` (outputs, inputs, kh, kw) and ``CLConv`` (outputs, kh, kw,
inputs). A type NNabla does not know gives no initializer: the parameter starts
at zero, as in NNabla.
"""
import re

import numpy as np

from .. import initializer as I

_SCALED = re.compile(r"(Normal|Uniform)(Affine|Convolution|CLConv)(HeForward|HeBackward|He|Glorot)")

# shape -> (inmaps, outmaps, kernel) of each layout
_MAPS = {
    "Affine": lambda s: (s[0], int(np.prod(s[1:])), (1, 1)),
    "Convolution": lambda s: (s[-3], s[0], tuple(s[-2:])),
    "CLConv": lambda s: (s[-1], s[0], tuple(s[1:3])),
}
_NORMAL_STD = {"He": I.calc_normal_std_he_forward, "HeForward": I.calc_normal_std_he_forward,
               "HeBackward": I.calc_normal_std_he_backward, "Glorot": I.calc_normal_std_glorot}


def initializer_of(vproto, rng):
    """A callable ``init(shape)`` for the message's initializer, or None."""
    if not vproto.HasField("initializer"):
        return None
    kind, m = vproto.initializer.type, vproto.initializer.multiplier
    if kind == "Constant":
        return I.ConstantInitializer(m)
    if kind == "Normal":
        return I.NormalInitializer(m, rng=rng)
    if kind == "Uniform":
        return I.UniformInitializer((-m, m), rng=rng)
    if kind == "Range":
        return lambda shape: I.RangeInitializer(0, 1)(shape) * m
    scaled = _SCALED.fullmatch(kind)
    if scaled is None or (scaled[1] == "Uniform" and scaled[3] != "Glorot"):
        return None
    draw, layout, rule = scaled.groups()

    def init(shape):
        maps = _MAPS[layout](list(shape))
        if draw == "Normal":
            return I.NormalInitializer(_NORMAL_STD[rule](*maps), rng=rng)(shape) * m
        return I.UniformInitializer(I.calc_uniform_lim_glorot(*maps), rng=rng)(shape) * m
    return init


def parameter_initializers(proto, rng):
    """{parameter name: init} of every network of ``proto`` whose parameter
    messages say how to start (the first network naming one decides)."""
    found = {}
    for net in proto.network:
        for vp in net.variable:
            if vp.type == "Parameter" and vp.name not in found:
                init = initializer_of(vp, rng)
                if init is not None:
                    found[vp.name] = init
    return found
