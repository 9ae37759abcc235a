"""CS231n's spiral case study (seed 002), written with nablite's NNabla-style API.

A linear softmax classifier reaches about 49% training accuracy on the
three-armed spiral; a two-layer ReLU net with 100 hidden units reaches 98%.
Run: python examples/spiral.py [--out DIR]
"""
import argparse
import os

import numpy as np

import nablite as nn
import nablite.functions as F
import nablite.initializer as I
import nablite.solvers as S
from nablite.datasets import make_spiral


def dense(h, n_out, name):
    """h @ W + b with W ~ 0.01 N(0, 1) and b = 0, as in the case study."""
    with nn.parameter_scope(name):
        W = nn.parameter.get_parameter_or_create("W", (h.shape[1], n_out),
                                                 I.NormalInitializer(0.01))
        b = nn.parameter.get_parameter_or_create("b", (1, n_out), I.ConstantInitializer(0))
    return F.affine(h, W) + b, W


def train(X, y, hidden=None, steps=200, step_size=1.0, reg=1e-3, log=print):
    """Full-batch gradient descent on softmax loss + 0.5 * reg * sum(W^2)."""
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(X)
    t = nn.Variable.from_numpy_array(y.reshape(-1, 1))
    if hidden is None:
        scores, W = dense(x, 3, "linear")
        weights = [W]
    else:
        h, W1 = dense(x, hidden, "hidden")
        scores, W2 = dense(F.relu(h), 3, "output")
        weights = [W1, W2]
    data_loss = F.mean(F.softmax_cross_entropy(scores, t))
    reg_loss = 0.5 * reg * F.add_n(*[F.sum(W * W) for W in weights])
    loss = data_loss + reg_loss
    solver = S.Sgd(step_size)
    solver.set_parameters(nn.get_parameters())
    every = max(steps // 10, 1)
    history = []
    for i in range(steps):
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        history.append(float(loss.d))
        if i % every == 0:
            log("iteration %d: loss %f" % (i, loss.d))
    scores.forward()
    accuracy = float(np.mean(np.argmax(scores.d, axis=1) == y))
    log("training accuracy: %.2f" % accuracy)
    return accuracy, history


def main(out="runs/spiral", seed=0, linear_steps=200, net_steps=10000, verbose=True):
    log = print if verbose else (lambda *a, **k: None)
    nn.seed(seed)
    X, y = make_spiral(n_per_class=100, n_classes=3, seed=seed)
    linear_acc, linear_hist = train(X, y, None, linear_steps, log=log)
    net_acc, net_hist = train(X, y, 100, net_steps, log=log)
    os.makedirs(out, exist_ok=True)
    from nablite.utils.plot import save_curves
    save_curves(os.path.join(out, "loss.png"),
                {"linear softmax": (np.arange(len(linear_hist)), linear_hist),
                 "2-layer ReLU net": (np.arange(len(net_hist)), net_hist)},
                title="spiral: training loss", xlabel="iteration", ylabel="loss")
    return linear_acc, net_acc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/spiral")
    p.add_argument("--net-steps", type=int, default=10000)
    opts = p.parse_args()
    lin, net = main(opts.out, net_steps=opts.net_steps)
    print(f"linear classifier: {lin:.2%}   2-layer net: {net:.2%}")
