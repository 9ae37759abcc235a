"""NNabla Step by Step 3 (seed 004): a solver and its gradients on y = a x + b.

Only the imports differ from the tutorial, plt.show() saves PNGs instead, and
``float(a.d)`` on the (1, 1) parameters reads ``a.d.item()``: NumPy 2.4 no longer
converts 1-element arrays with float().
Run: python examples/linear_regression.py [--out DIR]
"""
import argparse
import os
from typing import Any, Callable, Dict, Optional

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import nablite as nn  # noqa: E402
import nablite.functions as F  # noqa: E402
import nablite.solvers as S  # noqa: E402
from nablite.cli import positive_int  # noqa: E402


def show_result(a: nn.Variable, b: nn.Variable, X: np.ndarray, Y: np.ndarray, path: str,
                with_info: bool = False, iteration: Optional[int] = None,
                loss: Optional[nn.Variable] = None) -> None:
    x = np.arange(-5, 5)
    y = (a.d * np.arange(-5, 5)) + b.d
    y = np.reshape(y, (y.size))
    plt.figure()
    plt.scatter(X[:50], Y[:50], s=12, label="data: y = 0.3 x + 1.5 + noise (first 50)")
    plt.plot(x, y, color="tab:red", label=f"model: y = a x + b, a = {a.d.item():.3f}, "
                                          f"b = {b.d.item():.3f}")
    plt.ylim((0.5, 2.5))
    plt.grid(which='major', color='black', linestyle='dashed', alpha=0.3)
    if with_info and loss is not None:
        plt.title(f"linear regression after {iteration} SGD steps "
                  f"(loss {float(loss.d):.2g})")
    else:
        plt.title("linear regression: the random initial a and b")
    plt.xlabel("x (input, no unit)")
    plt.ylabel("y (target, no unit)")
    plt.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize="small")
    plt.savefig(path, bbox_inches="tight")
    plt.close()


def main(out: str = "runs/linear_regression", seed: int = 0, steps: int = 200,
         verbose: bool = True) -> Dict[str, Any]:
    if steps < 1:
        raise ValueError(f"linear_regression.main: steps must be at least 1, got {steps}")
    os.makedirs(out, exist_ok=True)
    np.random.seed(seed)
    nn.clear_parameters()
    log: Callable[..., None] = print if verbose else (lambda *a, **k: None)
    facts: Dict[str, Any] = {}

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
    p = argparse.ArgumentParser(description=(
        "NNabla's Step by Step tutorial, part 3: fit y = a x + b to noisy samples of "
        "y = 0.3 x + 1.5 with S.Sgd, showing what zero_grad, backward (which adds to the "
        "gradients), update and a gradient set by hand do; writes initial.png and "
        "fitted.png. The default run takes about 1 s."))
    p.add_argument("--out", default="runs/linear_regression",
                   help="folder for the two plots (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=200,
                   help="SGD steps of the final fit (default: %(default)s)")
    opts = p.parse_args()
    a, b = main(opts.out, steps=opts.steps)["final"]
    print(f"after {opts.steps} steps: a = {a:.4f} (true 0.3), b = {b:.4f} (true 1.5)")
