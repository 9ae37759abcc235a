"""Update rules compared, after "Deep Learning from Scratch" ch. 6 (seed 001),
with nablite's solvers: S.Sgd, S.Momentum, S.Adagrad, S.RMSprop and S.Adam.

1. The paths of each solver on f(x, y) = x**2 / 20 + y**2 from (-7, 2), with
   the book's step sizes: the function is stretched along x, so plain SGD
   zig-zags across the narrow y valley; Momentum rolls like a ball, AdaGrad
   and RMSprop damp the steep y direction at once. At an equal learning rate
   Momentum and Adam reach a far lower f than SGD in the same number of steps.
2. A 4 x 100 ReLU MLP (He initialization) on the 8x8 digits, one copy per
   solver, trained on the same minibatches: SGD learns slowest.

The rules as the seed writes them in NumPy are exactly NNabla's (Momentum
keeps m = momentum * m + lr * g and steps w -= m; the others add eps to the
square root).

Run: python examples/optimizers.py [--out DIR] [--steps N] [--iterations N]
"""
import argparse
import os
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

import nablite as nn
import nablite.functions as F
import nablite.initializer as I
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.cli import positive_int
from nablite.datasets import load_digits
from nablite.utils.plot import save_curves

START = (-7.0, 2.0)


def f_numpy(x: Any, y: Any) -> Any:
    return x ** 2 / 20.0 + y ** 2


def path_solvers() -> Dict[str, Any]:
    """The step sizes of the book's optimizer_compare_naive.py (RMSprop added)."""
    return OrderedDict([("SGD", S.Sgd(lr=0.95)),
                        ("Momentum", S.Momentum(lr=0.1, momentum=0.9)),
                        ("AdaGrad", S.Adagrad(lr=1.5)),
                        ("RMSprop", S.RMSprop(lr=0.15, decay=0.99)),
                        ("Adam", S.Adam(alpha=0.3))])


def optimize_path(solver: Any, steps: int = 30,
                  start: Tuple[float, float] = START) -> np.ndarray:
    """Minimize f from ``start`` with ``solver``; return the (steps + 1, 2) path."""
    p = nn.Variable.from_numpy_array(np.array(start, dtype=np.float64), need_grad=True)
    coef = nn.Variable.from_numpy_array(np.array([1 / 20.0, 1.0]))
    f = F.sum(coef * p * p)                 # x**2 / 20 + y**2 as a graph
    solver.set_parameters({"xy": p})
    path = [p.d.copy()]
    for _ in range(steps):
        f.forward()
        solver.zero_grad()
        f.backward()
        solver.update()
        path.append(p.d.copy())
    return np.array(path)


def same_rate_comparison(rates: Tuple[float, ...] = (0.1, 0.3),
                         steps: int = 30) -> Dict[float, Dict[str, float]]:
    """f after ``steps`` steps when every solver gets the same learning rate.

    With the book's own step sizes SGD (lr 0.95, just below the limit of 1
    that the steep y direction sets) ends lower than Momentum (0.1) or Adam
    (0.3) after 30 steps, while zig-zagging in y; at an equal learning rate
    Momentum and Adam are far ahead of SGD, which crawls along the flat x.
    """
    rules: Dict[str, Callable[[float], Any]] = OrderedDict([
        ("SGD", S.Sgd), ("Momentum", S.Momentum), ("AdaGrad", S.Adagrad),
        ("RMSprop", lambda lr: S.RMSprop(lr, decay=0.99)), ("Adam", S.Adam)])
    return OrderedDict((lr, OrderedDict((k, float(f_numpy(*optimize_path(make(lr), steps)[-1])))
                                        for k, make in rules.items())) for lr in rates)


def zigzag(path: np.ndarray) -> float:
    """Fraction of steps on which the y coordinate changes sign."""
    y = path[:, 1]
    return float(np.mean(np.sign(y[1:]) != np.sign(y[:-1])))


def plot_paths(path_png: str, paths: Dict[str, np.ndarray]) -> str:
    """Contours of f with each solver's path, one panel per solver."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig = Figure(figsize=(12, 7))
    FigureCanvasAgg(fig)
    X, Y = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
    Z = f_numpy(X, Y)
    Z[Z > 7] = 0                            # the book's trick: only the inner contours
    for i, (name, path) in enumerate(paths.items(), 1):
        ax = fig.add_subplot(2, 3, i)
        ax.contour(X, Y, Z)
        ax.plot(path[:, 0], path[:, 1], "o-", color="red", markersize=3)
        ax.plot(0, 0, "+", color="black")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_title(f"{name}: f = {f_numpy(*path[-1]):.2g} after {len(path) - 1} steps",
                     fontsize="medium")
        ax.set_xlabel("x (no unit)")
        ax.set_ylabel("y (no unit)")
    ax = fig.add_subplot(2, 3, 6)
    for name, path in paths.items():
        ax.semilogy(f_numpy(path[:, 0], path[:, 1]), label=name)
    ax.set_title("f along each path", fontsize="medium")
    ax.set_xlabel("step")
    ax.set_ylabel("f(x, y) (log scale)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    fig.suptitle("Minimizing f(x, y) = x\u00b2/20 + y\u00b2 from (-7, 2) (red: the path, "
                 "+: the minimum)")
    fig.tight_layout()
    fig.savefig(path_png)
    return path_png


def mlp(x: nn.Variable, hidden: Tuple[int, ...] = (100, 100, 100, 100)) -> nn.Variable:
    """ReLU MLP with He-initialized weights (the book's MultiLayerNet default)."""
    h = x
    for i, n in enumerate(hidden, 1):
        with nn.parameter_scope(f"affine{i}"):
            std = I.calc_normal_std_he_forward(h.shape[1], n)
            h = F.relu(PF.affine(h, n, w_init=I.NormalInitializer(std)))
    with nn.parameter_scope("classifier"):
        std = I.calc_normal_std_he_forward(h.shape[1], 10)
        return PF.affine(h, 10, w_init=I.NormalInitializer(std))


def mlp_solvers() -> Dict[str, Any]:
    """The book's optimizer_compare_mnist.py settings (its defaults), plus RMSprop."""
    return OrderedDict([("SGD", S.Sgd(lr=0.01)),
                        ("Momentum", S.Momentum(lr=0.01, momentum=0.9)),
                        ("AdaGrad", S.Adagrad(lr=0.01)),
                        ("RMSprop", S.RMSprop(lr=0.001, decay=0.99)),
                        ("Adam", S.Adam(alpha=0.001))])


def train_mlps(iterations: int = 2000, batch_size: int = 128, seed: int = 0,
               log: Callable[..., None] = print) -> Dict[str, List[float]]:
    """Train one MLP per solver on the same minibatches; return their loss histories."""
    digits = load_digits()
    X, y = (digits.data / 16.0).astype(np.float32), digits.target.reshape(-1, 1)
    rng = np.random.RandomState(seed)
    nn.seed(seed)
    x = nn.Variable((batch_size, 64))
    t = nn.Variable((batch_size, 1))
    nets: Dict[str, Tuple[nn.Variable, Any, List[float]]] = OrderedDict()
    for name, solver in mlp_solvers().items():
        with nn.parameter_scope(f"optimizers_mlp/{name}"):
            loss = F.mean(F.softmax_cross_entropy(mlp(x), t))
            solver.set_parameters(nn.get_parameters())
        nets[name] = (loss, solver, [])
    for i in range(iterations):
        batch = rng.choice(len(X), batch_size)
        x.d, t.d = X[batch], y[batch]
        for name, (loss, solver, history) in nets.items():
            loss.forward(clear_no_need_grad=True)
            solver.zero_grad()
            loss.backward(clear_buffer=True)
            solver.update()
            history.append(float(loss.d))
        if i % 100 == 0:
            log(f"iteration {i}: " + "  ".join(f"{k} {v[2][-1]:.4f}" for k, v in nets.items()))
    with nn.parameter_scope("optimizers_mlp"):
        nn.clear_parameters()
    return OrderedDict((k, v[2]) for k, v in nets.items())


def smooth_curve(x: Any, window: int = 11) -> np.ndarray:
    """Moving average (the book smooths the noisy minibatch losses before plotting)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < window:
        return x
    pad = window // 2
    padded = np.concatenate([np.full(pad, x[0]), x, np.full(pad, x[-1])])
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def main(out: str = "runs/optimizers", steps: int = 30, iterations: int = 2000, seed: int = 0,
         verbose: bool = True) -> Dict[str, Any]:
    """Run both comparisons and save their PNGs; return the facts for tests."""
    if min(steps, iterations) < 1:
        raise ValueError(f"optimizers.main: steps and iterations must be at least 1, got "
                         f"{steps} and {iterations}")
    log: Callable[..., None] = print if verbose else (lambda *a, **k: None)
    os.makedirs(out, exist_ok=True)
    paths = OrderedDict((k, optimize_path(s, steps)) for k, s in path_solvers().items())
    final_f = OrderedDict((k, float(f_numpy(*p[-1]))) for k, p in paths.items())
    for k, v in final_f.items():
        log(f"{k:>8}: f after {steps} steps = {v:.3g} at ({paths[k][-1][0]:.3f}, "
            f"{paths[k][-1][1]:.3f})")
    log(f"SGD changes the sign of y on {zigzag(paths['SGD']):.0%} of its steps")
    plot_paths(os.path.join(out, "optimizer_paths.png"), paths)
    same_rate = same_rate_comparison(steps=steps)
    for lr, fs in same_rate.items():
        log(f"lr {lr}: f after {steps} steps: " + "  ".join(f"{k} {v:.3g}" for k, v in fs.items()))
    losses = train_mlps(iterations, seed=seed, log=log)
    save_curves(os.path.join(out, "optimizer_compare_digits.png"),
                OrderedDict((k, (np.arange(len(v)), smooth_curve(v))) for k, v in losses.items()),
                title="4x100 ReLU MLP on the 8x8 digits, one per solver",
                xlabel="iteration (mini-batches of 128)",
                ylabel="cross-entropy loss (nats, moving average of 11)",
                yscale="log")  # near 0 the solvers differ by orders of magnitude
    tail = max(len(next(iter(losses.values()))) // 10, 1)
    final_loss = OrderedDict((k, float(np.mean(v[-tail:]))) for k, v in losses.items())
    log("mean loss over the last %d iterations: " % tail +
        "  ".join(f"{k} {v:.4f}" for k, v in final_loss.items()))
    return {"paths": paths, "final_f": final_f, "same_rate": same_rate, "losses": losses,
            "final_loss": final_loss}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=(
        "The update rules of \"Deep Learning from Scratch\" ch. 6 with nablite's solvers "
        "(Sgd, Momentum, Adagrad, RMSprop, Adam): their paths on f(x, y) = x^2/20 + y^2 "
        "(optimizer_paths.png), f after the same number of steps at equal learning "
        "rates, and a 4x100 ReLU MLP per solver on the 8x8 digits "
        "(optimizer_compare_digits.png). The default run takes about 20 s on a 2-core "
        "machine (on a busy one set OPENBLAS_NUM_THREADS=1: 25 s instead of 240 s measured)."))
    p.add_argument("--out", default="runs/optimizers", help="folder for the two plots "
                   "(default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=30,
                   help="steps of each path on f (default: %(default)s)")
    p.add_argument("--iterations", type=positive_int, default=2000,
                   help="training iterations of the digits MLPs (default: %(default)s)")
    opts = p.parse_args()
    main(opts.out, opts.steps, opts.iterations)
