"""The NNabla tutorial's models on the 8x8 digits, shared by the CLI and benchmarks.

Each builder takes an input Variable (B, 1, 8, 8) and returns the class scores
(B, 10), creating its parameters under the tutorial's scope names.
"""
from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

from . import functions as F
from . import parametric_functions as PF
from .parameter import parameter_scope
from .variable import Variable


def logreg(x: Variable, test: bool = False) -> Variable:
    with parameter_scope("affine1"):
        return PF.affine(x, 10)


def mlp(x: Variable, hidden: Sequence[int] = (16, 32, 16), test: bool = False) -> Variable:
    with parameter_scope("mlp"):
        h = x
        for i, size in enumerate(hidden):
            with parameter_scope(f"affine{i + 1}"):
                h = F.tanh(PF.affine(h, size))
        with parameter_scope("classifier"):
            return PF.affine(h, 10)


def cnn_features(x: Variable, test: bool = False) -> Variable:
    """conv 4 (stride 2) + BN + tanh, conv 8 + BN + tanh + avg-pool: the tutorial's trunk."""
    with parameter_scope("cnn"):
        with parameter_scope("conv1"):
            c1 = F.tanh(PF.batch_normalization(
                PF.convolution(x, 4, (3, 3), pad=(1, 1), stride=(2, 2)), batch_stat=not test))
        with parameter_scope("conv2"):
            c2 = F.tanh(PF.batch_normalization(
                PF.convolution(c1, 8, (3, 3), pad=(1, 1)), batch_stat=not test))
            c2 = F.average_pooling(c2, (2, 2))
    return c2


def cnn(x: Variable, test: bool = False) -> Variable:
    c2 = cnn_features(x, test)
    with parameter_scope("cnn"):
        with parameter_scope("fc3"):
            fc3 = F.tanh(PF.affine(c2, 32))
        with parameter_scope("classifier"):
            return PF.affine(fc3, 10)


def split_grid4(x: Any) -> Tuple[Any, Any, Any, Any]:
    """The four 4x4 quadrants of (..., 8, 8) images, as the tutorial's RNN reads them."""
    return x[..., :4, :4], x[..., :4, 4:], x[..., 4:, :4], x[..., 4:, 4:]


def rnn(x: Variable, hidden: int = 32, test: bool = False) -> Variable:
    """Elman RNN over the quadrants; the affine parameters are shared over time."""
    h = Variable((x.shape[0], hidden))
    with parameter_scope("rnn"):
        for xt in split_grid4(x):
            with parameter_scope("x2h"):
                x2h = PF.affine(xt, hidden, with_bias=False)
            with parameter_scope("h2h"):
                h2h = PF.affine(h, hidden)
            h = F.tanh(x2h + h2h)
        with parameter_scope("classifier"):
            return PF.affine(h, 10)


def siamese_embed(x: Variable, test: bool = False) -> Variable:
    """The CNN trunk followed by a 2-D embedding (the tutorial's siamese tower)."""
    c2 = cnn_features(x, test)
    with parameter_scope("embed2d"):
        return PF.affine(c2, 2)


def contrastive_loss(e0: Variable, e1: Variable, t: Variable, margin: float = 1.0,
                     eps: float = 1e-4) -> Variable:
    """Contrastive loss: pull same-class pairs together, push others beyond ``margin``."""
    dist = F.sum(F.squared_error(e0, e1), axis=1)
    sim = t * dist
    dissim = (1 - t) * (F.maximum_scalar(margin - (dist + eps) ** 0.5, 0) ** 2)
    return F.mean(sim + dissim)


MODELS: Dict[str, Callable[..., Variable]] = {"logreg": logreg, "mlp": mlp, "cnn": cnn, "rnn": rnn}
# The tutorial's learning rates (SGD with weight decay 1e-5).
LEARNING_RATES = {"logreg": 1e-3, "mlp": 1e-2, "cnn": 1e-1, "rnn": 1e-1, "siamese": 1e-2}


def accuracy(scores: Any, labels: Any) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == np.ravel(labels)))
