"""NNabla Step by Step 3 (seed 004): a solver and its gradients on y = a x + b.

Only the imports differ from the tutorial, plt.show() saves PNGs instead, and
``float(a.d)`` on the (1, 1) parameters reads ``a.d.item()``: NumPy 2.4 no longer
converts 1-element arrays with float().
Run: python examples/linear_regression.py [--out DIR]
"""
import argparse
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import nablite as nn  # noqa: E402
import nablite.functions as F  # noqa: E402
import nablite.solvers as S  # noqa: E402


def show_result(a, b, X, Y, path, with_info=False, iteration=None, loss=None):
    x = np.arange(-5, 5)
    y = (a.d * np.arange(-5, 5)) + b.d
    y = np.reshape(y, (y.size))
    plt.figure()
    plt.scatter(X[:50], Y[:50])
    plt.plot(x, y)
    plt.ylim([0.5, 2.5])
    plt.grid(which='major', color='black', linestyle='dashed')
    if with_info:
        plt.text(-3.95, 2.30, r'Iter:{}'.format(iteration), size=15)
        plt.text(-3.95, 2.05, r'Loss={:.3f}'.format(float(loss.d)), size=15)
        plt.text(-3.95, 1.80, r'a={:.3f}'.format(a.d.item()), size=15)
        plt.text(-3.95, 1.55, r'b={:.3f}'.format(b.d.item()), size=15)
    plt.savefig(path)
    plt.close()


def main(out="runs/linear_regression", seed=0, steps=200, verbose=True):
    os.makedirs(out, exist_ok=True)
    np.random.seed(seed)
    nn.clear_parameters()
    log = print if verbose else (lambda *a, **k: None)
    facts = {}

    batch_size = 32
    A, B = 0.3, 1.5
    x = nn.Variable((batch_size, 1))
    y_true = nn.Variable((batch_size, 1))
    a = nn.parameter.get_parameter_or_create("a", (1, 1), need_grad=True)
    b = nn.parameter.get_parameter_or_create("b", (1, 1), need_grad=True)
    log(nn.get_parameters())

    y = F.add2(F.mul2(a, x), b)
    loss = F.mean(F.pow_scalar(F.sub2(y_true, y), 2))

    max_iter = 1000
    X = np.random.randn(max_iter * batch_size)
    Y = A * X + B + 0.01 * np.random.randn(X.size)

    solver = S.Sgd(0.01)
    solver.set_parameters(nn.get_parameters())

    a.d = np.random.random()
    b.d = np.random.random()
    log(a.d, b.d)
    show_result(a, b, X, Y, os.path.join(out, "initial.png"))

    x.d = np.reshape(X[:batch_size], (batch_size, 1))
    y_true.d = np.reshape(Y[:batch_size], (batch_size, 1))
    loss.forward()
    log(loss.d)

    solver.zero_grad()
    log(a.g, b.g)
    facts["zero_grad"] = (a.g.copy(), b.g.copy())
    loss.backward()
    log(a.g, b.g)
    expected = (a.d - 0.01 * a.g, b.d - 0.01 * b.g)
    log("Expected Updated Values are a = {} and b = {}".format(*expected))
    solver.update()
    log("Updated Values are a = {} and b = {}".format(a.d, b.d))
    facts["update"] = (expected, (a.d.copy(), b.d.copy()))

    grads = (a.g.copy(), b.g.copy())
    loss.backward()  # a second backward adds to the gradients
    facts["accumulate"] = (grads, (a.g.copy(), b.g.copy()))
    a.g, b.g = grads

    a.g = 15
    b.g = -10
    expected = (a.d - 0.01 * a.g, b.d - 0.01 * b.g)
    solver.update()
    facts["manual_grad"] = (expected, (a.d.copy(), b.d.copy()))
    a.d = a.d + 0.01 * a.g
    b.d = b.d + 0.01 * b.g
    log("Now it's back! a = {} and b = {}".format(a.d, b.d))

    for i in range(steps):
        index = np.random.randint(max_iter - 1)
        x.d = np.reshape(X[index * batch_size:(index + 1) * batch_size], (batch_size, 1))
        y_true.d = np.reshape(Y[index * batch_size:(index + 1) * batch_size], (batch_size, 1))
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        if i % 20 == 0:
            log("loss: {}".format(loss.d))
            log("a: {}, b: {}".format(a.d, b.d))
    show_result(a, b, X, Y, os.path.join(out, "fitted.png"), True, steps, loss)
    facts["final"] = (a.d.item(), b.d.item())
    return facts


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/linear_regression")
    p.add_argument("--steps", type=int, default=200)
    opts = p.parse_args()
    a, b = main(opts.out, steps=opts.steps)["final"]
    print(f"after {opts.steps} steps: a = {a:.4f} (true 0.3), b = {b:.4f} (true 1.5)")
