"""Chapters 4-6 of "Deep Learning from Scratch" (seed 001) in nablite.

The seed writes its layers by hand in NumPy; here they are nablite graphs
(F.affine, F.relu, F.softmax_cross_entropy, PF.batch_normalization, S.Sgd)
and the gradients come from backward(). MNIST becomes the bundled 8x8 digits
(64 inputs instead of 784). Each section runs by --sections (all by default):

  numerical  Ch. 4. The central difference of f(x) = 0.01 x**2 + 0.1 x at
             x = 5 and 10 (0.1999999999990898 and 0.2999999999986347, the
             seed's numbers, through nablite.testing.numerical_grad on a
             nablite graph), against backward and the closed form
             0.02 x + 0.1, with the tangent lines; the gradient field of
             x0**2 + x1**2; gradient descent from (-3, 4) for 100 steps with
             lr 0.1 (reaches the origin), 10 (diverges) and 1e-10 (hardly
             moves), by backward + S.Sgd, by the seed's numerical gradient and
             by the closed form (1 - 2 lr)**k x0.
  twolayer   Ch. 4-5. The seed's TwoLayerNet (Affine-ReLU-Affine, weights
             0.01 * randn) as 64-50-10, trained with mini-batch SGD (batch
             100, lr 0.1); train and test accuracy per epoch rise together.
             Then the gradient check: backward against central differences
             for W1, b1, W2, b2 on three samples, in float64.
  graph      Ch. 5. The seed's multiply and add layers as a graph of
             Variables (2 apples at 100, 3 oranges at 150, tax 1.1: price
             715) and the gradient backward gives each input; the seed's
             Relu, Sigmoid, Affine and SoftmaxWithLoss backward formulas
             against nablite's.
  batchnorm  Ch. 6. A 5 x 100 ReLU MLP with and without batch normalization
             at 16 weight scales from logspace(0, -4), SGD lr 0.01, batch
             100, 1000 training samples, 20 epochs: training accuracy per
             epoch in a 4 x 4 grid (batch_norm_test.png); batch norm learns
             faster in most cells.

Everything is printed, the figures are PNGs under --out, and the numbers are
also written to <out>/from_scratch.json. --quick is the shortened run the
tests use. The default run (all sections) takes about 8 s on a quiet 2-core
machine; on a busy one set OPENBLAS_NUM_THREADS=1.

Float64 throughout the first three sections, built inside
nablite.testing.float64_compute() (in a 'float' context, NNabla's default,
float64 data computes in float32): the gradient check's differences (1e-10 to
1e-13, as in the seed) are below float32's resolution, where the same check
gives mean differences of about 1e-4 to 1e-3.
"""
import argparse
import json
import os
from collections import OrderedDict

import numpy as np
from tqdm import tqdm

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite._atomic_file import atomic_write
from nablite.cli import positive_int
from nablite.datasets import load_digits
from nablite.testing import float64_compute, numerical_grad

SECTIONS = ["numerical", "twolayer", "graph", "batchnorm"]
H = 1e-4  # the seed's step for every central difference


def value(y):
    """Run the graph up to ``y`` and return a copy of its data."""
    y.forward()
    return y.d.copy()


def normal(std, rng, dtype=np.float64):
    """The seed's ``std * np.random.randn(*shape)`` as a PF initializer."""
    return lambda shape: (std * rng.randn(*shape)).astype(dtype)


def zeros(dtype=np.float64):
    """Zeros of ``dtype`` as a PF initializer (PF's own default is float32)."""
    return lambda shape: np.zeros(shape, dtype)


def integer_ticks(axis):
    """Whole numbers only (epochs) on a matplotlib axis."""
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def new_figure(figsize, **kw):
    """A matplotlib Figure on the Agg canvas (no window, no pyplot state)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        raise ImportError('from_scratch.py draws its figures with matplotlib; '
                          'pip install "nablite[plot]"') from e
    fig = Figure(figsize=figsize, **kw)
    FigureCanvasAgg(fig)
    return fig


def digits(seed):
    """The digits scaled to [0, 1] in a fixed random order (MNIST's normalize=True)."""
    d = load_digits()
    order = np.random.RandomState(seed).permutation(len(d.target))
    return d.data[order] / 16.0, d.target[order].reshape(-1, 1)


# -- numerical: ch. 4 ---------------------------------------------------------

def function_1(x):
    """0.01 x**2 + 0.1 x, on numbers and on Variables alike."""
    return 0.01 * x ** 2 + 0.1 * x


def derivative_1d(x0):
    """(central difference, backward, closed form) of function_1 at x0."""
    x = nn.Variable.from_numpy_array(np.array(x0, np.float64), need_grad=True)
    y = function_1(x)
    numeric = float(numerical_grad(lambda: value(y), x.d, h=H))
    y.forward()
    x.grad.zero()
    y.backward()
    return numeric, float(x.g), 0.02 * x0 + 0.1


def gradient_field():
    """The seed's grid of points, the gradient of x0**2 + x1**2 there by backward,
    and its largest differences from 2x and from central differences."""
    x0 = np.arange(-2, 2.5, 0.25)
    X, Y = np.meshgrid(x0, x0)
    points = nn.Variable.from_numpy_array(np.stack([X.ravel(), Y.ravel()], 1), need_grad=True)
    f = F.sum(F.sum(points ** 2, axis=1))   # the points are independent: one backward for all
    f.forward()
    points.grad.zero()
    f.backward()
    grad = points.g.copy()
    numeric = numerical_grad(lambda: value(f), points.d, h=H)
    errors = {"backward_vs_closed_form": float(np.abs(grad - 2 * points.d).max()),
              "numerical_vs_backward": float(np.abs(numeric - grad).max())}
    return points.d.copy(), grad, errors


def gradient_descent(lr, steps=100, init=(-3.0, 4.0), numerical=False):
    """x -= lr * grad f(x) for f = x0**2 + x1**2 with S.Sgd; the (steps + 1, 2) path.

    numerical=True takes the gradient by central differences, as the seed does.
    Also returns the learning rate the solver uses: NNabla's solvers, and so
    nablite's, keep it in float32 (0.1 becomes 0.10000000149).
    """
    x = nn.Variable.from_numpy_array(np.array(init, np.float64), need_grad=True)
    f = F.sum(x ** 2)
    solver = S.Sgd(lr)
    solver.set_parameters({"x": x})
    path = [x.d.copy()]
    for _ in range(steps):
        f.forward()
        solver.zero_grad()
        if numerical:
            x.g = numerical_grad(lambda: value(f), x.d, h=H)
        else:
            f.backward()
        solver.update()
        path.append(x.d.copy())
    return np.array(path), solver.learning_rate()


def plot_derivative(path, points):
    fig = new_figure((6, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(0.0, 20.0, 0.1)
    ax.plot(x, function_1(x), label="f(x) = 0.01 x² + 0.1 x", color="black")
    for x0, (numeric, _, _) in points.items():
        ax.plot(x, numeric * (x - x0) + function_1(x0), "--",
                label=f"tangent at x = {x0:g} (slope {numeric:.4f})")
        ax.plot([x0], [function_1(x0)], "o", color="gray")
    ax.set_title("Numerical derivative: tangent lines of f")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


def plot_gradient_field(path, points, grad):
    fig = new_figure((5.6, 6))
    ax = fig.add_subplot(1, 1, 1)
    ax.quiver(points[:, 0], points[:, 1], -grad[:, 0], -grad[:, 1], angles="xy",
              color="#666666", label="-∇f by backward")
    ax.plot([0], [0], "r+", markersize=12, label="minimum (0, 0)")
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2, 2)
    ax.set_title("Gradient field of f(x0, x1) = x0² + x1²")
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.grid(True, alpha=0.3)
    # below the axes: inside, the legend would hide arrows
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    fig.tight_layout()
    fig.savefig(path)


def plot_descent(path, paths, numeric_paths):
    fig = new_figure((11, 4.5))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot([-5, 5], [0, 0], "--b", linewidth=0.8)
    ax.plot([0, 0], [-5, 5], "--b", linewidth=0.8)
    ax.plot(paths[0.1][:21, 0], paths[0.1][:21, 1], "o", label="lr 0.1, first 20 steps")
    ax.plot(paths[1e-10][-1:, 0], paths[1e-10][-1:, 1], "x", color="red", markersize=10,
            label="lr 1e-10 after 100 steps (start)")
    ax.set_xlim(-3.5, 3.5)
    ax.set_ylim(-4.5, 4.5)
    ax.set_title("Gradient descent on x0² + x1² from (-3, 4)")
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.legend(loc="lower right", fontsize="small")
    ax = fig.add_subplot(1, 2, 2)
    for lr, p in paths.items():
        ax.semilogy(np.linalg.norm(p, axis=1), label=f"lr {lr:g} (backward)")
    ax.semilogy(np.linalg.norm(numeric_paths[10.0], axis=1), ":", color="black",
                label="lr 10 (numerical gradient)")
    ax.set_title("Distance from the minimum")
    ax.set_xlabel("step")
    ax.set_ylabel("|x|")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


def section_numerical(out, log):
    points = OrderedDict((x0, derivative_1d(x0)) for x0 in (5.0, 10.0))
    for x0, (numeric, backward, closed) in points.items():
        log(f"f'({x0:g}): central difference {numeric!r}, backward {backward!r}, "
            f"closed form {closed!r}")
    plot_derivative(os.path.join(out, "gradient_1d.png"), points)

    grid, grad, field_errors = gradient_field()
    log("gradient field of x0**2 + x1**2 on the seed's grid: max |backward - 2x| "
        f"{field_errors['backward_vs_closed_form']:.1e}, max |numerical - backward| "
        f"{field_errors['numerical_vs_backward']:.1e}")
    plot_gradient_field(os.path.join(out, "gradient_2d.png"), grid, grad)

    init = np.array([-3.0, 4.0])
    paths, numeric_paths, descent = OrderedDict(), OrderedDict(), OrderedDict()
    log("gradient descent on x0**2 + x1**2 from (-3, 4), 100 steps:")
    for lr in (0.1, 10.0, 1e-10):
        paths[lr], lr32 = gradient_descent(lr)
        numeric_paths[lr], _ = gradient_descent(lr, numerical=True)
        closed = (1 - 2 * lr32) ** 100 * init     # x_k = (1 - 2 lr)**k x_0
        rounded = "" if lr32 == lr else f" (S.Sgd keeps {lr32!r}: float32, as NNabla)"
        log(f"  lr {lr:g}{rounded}:")
        for name, end in (("backward + S.Sgd", paths[lr][-1]),
                          ("numerical gradient", numeric_paths[lr][-1]), ("closed form", closed)):
            log(f"    {name:<19}{np.array2string(end, precision=8)}")
        descent[str(lr)] = {"backward": paths[lr][-1].tolist(),
                            "numerical": numeric_paths[lr][-1].tolist(),
                            "closed_form": closed.tolist(), "solver_lr": lr32}
    log("  (with lr 10 the numerical gradient stops the growth near 1e13: there x0**2 is so "
        "large that x0 +- 1e-4 no longer changes it in float64, so the difference is 0)")
    plot_descent(os.path.join(out, "gradient_method.png"), paths, numeric_paths)
    return {"derivative": {str(k): list(v) for k, v in points.items()},
            "gradient_field": field_errors, "descent": descent}


# -- twolayer: ch. 4-5 --------------------------------------------------------

SEED_NAMES = OrderedDict([("Affine1/affine/W", "W1"), ("Affine1/affine/b", "b1"),
                          ("Affine2/affine/W", "W2"), ("Affine2/affine/b", "b2")])


def two_layer_net(x, rng, hidden=50, classes=10, weight_init_std=0.01):
    """The seed's TwoLayerNet of ch. 5: Affine1 - Relu1 - Affine2 (scores)."""
    with nn.parameter_scope("Affine1"):
        h = F.relu(PF.affine(x, hidden, w_init=normal(weight_init_std, rng), b_init=zeros()))
    with nn.parameter_scope("Affine2"):
        return PF.affine(h, classes, w_init=normal(weight_init_std, rng), b_init=zeros())


def accuracy(scores, x, data, labels):
    x.d = data
    scores.forward(clear_buffer=True)
    return float(np.mean(np.argmax(scores.d, axis=1) == labels.ravel()))


def train_two_layer(X, y, n_train, epochs, seed, log, batch_size=100, lr=0.1, verbose=True):
    """The seed's train_neuralnet: accuracy on the train and test sets once per epoch."""
    rng = np.random.RandomState(seed)
    (x_train, t_train), (x_test, t_test) = (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])
    x, t = nn.Variable((batch_size, 64)), nn.Variable((batch_size, 1))
    x_train_all, x_test_all = nn.Variable(x_train.shape), nn.Variable(x_test.shape)
    with nn.parameter_scope("two_layer_net"):
        loss = F.mean(F.softmax_cross_entropy(two_layer_net(x, rng), t))
        train_scores, test_scores = two_layer_net(x_train_all, rng), two_layer_net(x_test_all, rng)
        solver = S.Sgd(lr)
        solver.set_parameters(nn.get_parameters())
    iter_per_epoch = max(n_train // batch_size, 1)
    history = {"loss": [], "train_acc": [], "test_acc": []}
    for i in tqdm(range(epochs * iter_per_epoch), desc="two-layer net", disable=not verbose):
        batch = rng.choice(n_train, batch_size)
        x.d, t.d = x_train[batch], t_train[batch]
        loss.forward(clear_no_need_grad=True)
        solver.zero_grad()
        loss.backward(clear_buffer=True)
        solver.update()
        history["loss"].append(float(loss.d))
        if i % iter_per_epoch == 0:
            history["train_acc"].append(accuracy(train_scores, x_train_all, x_train, t_train))
            history["test_acc"].append(accuracy(test_scores, x_test_all, x_test, t_test))
            log(f"train acc, test acc | {history['train_acc'][-1]:.4f}, "
                f"{history['test_acc'][-1]:.4f}")
    with nn.parameter_scope("two_layer_net"):
        nn.clear_parameters()
    return history


def gradient_check(X, y, seed, n=3, avoid_kinks=True):
    """Mean |backward - central difference| per parameter of a fresh TwoLayerNet
    on ``n`` samples, the indices of those samples, and for every sample up to
    the last one used the distance of its nearest hidden pre-activation to 0.

    The seed takes the first three samples. A central difference straddling
    ReLU's kink (a hidden pre-activation within h of 0) measures no
    derivative, so with ``avoid_kinks`` samples whose pre-activations come
    within 2 h of the kink are passed over (NNabla's tests skip kinks alike).
    """
    rng = np.random.RandomState(seed)
    x, t = nn.Variable((n, 64)), nn.Variable((n, 1))
    with nn.parameter_scope("gradient_check"):
        loss = F.mean(F.softmax_cross_entropy(two_layer_net(x, rng), t))
        params = nn.get_parameters()
        nn.clear_parameters()
    W1, b1 = params["Affine1/affine/W"].d, params["Affine1/affine/b"].d
    margin = np.abs(X @ W1 + b1).min(axis=1)
    used = np.flatnonzero(margin > 2 * H)[:n] if avoid_kinks else np.arange(n)
    x.d, t.d = X[used], y[used]
    loss.forward()
    for p in params.values():
        p.grad.zero()
    loss.backward()
    diffs = OrderedDict()
    for key, name in SEED_NAMES.items():
        p = params[key]
        assert p.d.dtype == np.float64, (key, p.d.dtype)  # float32 could not show 1e-10
        numeric = numerical_grad(lambda: value(loss), p.d, h=H)
        diffs[name] = float(np.mean(np.abs(p.g - numeric)))
    return diffs, used.tolist(), margin[:used[-1] + 1]


def plot_accuracy(path, history, n_train, n_test):
    fig = new_figure((6, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    epochs = np.arange(len(history["train_acc"]))
    every = max(len(epochs) // 20, 1)
    ax.plot(epochs, history["train_acc"], marker="o", markevery=every,
            label=f"train acc ({n_train} digits)")
    ax.plot(epochs, history["test_acc"], marker="s", markevery=every, linestyle="--",
            label=f"test acc ({n_test} digits)")
    ax.set_ylim(0, 1.0)
    integer_ticks(ax.xaxis)
    ax.set_title("Two-layer net 64-50-10, SGD lr 0.1, batch 100")
    ax.set_xlabel("epochs")
    ax.set_ylabel("accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def section_twolayer(out, log, epochs, seed, verbose, n_train=1500):
    X, y = digits(seed)
    history = train_two_layer(X, y, n_train, epochs, seed, log, verbose=verbose)
    plot_accuracy(os.path.join(out, "train_neuralnet.png"), history, n_train, len(X) - n_train)
    diffs, used, margin = gradient_check(X, y, seed)
    log(f"gradient check (float64, samples {used}): mean |backward - numerical| per parameter")
    for name, d in diffs.items():
        log(f"{name}:{d!r}")
    skipped = [i for i in range(used[-1]) if i not in used]
    seed_diffs = None
    if skipped:
        seed_diffs, _, _ = gradient_check(X, y, seed, avoid_kinks=False)
        log(f"  passed over sample(s) {skipped}: a hidden pre-activation "
            f"{margin[skipped].min():.1e} from ReLU's kink, within h = {H:g}. On the first "
            "three samples, as the seed takes them: " +
            " ".join(f"{k}:{v:.1e}" for k, v in seed_diffs.items()))
    return {"history": history, "gradient_check": diffs, "gradient_check_samples": used,
            "gradient_check_first_three": seed_diffs}


# -- graph: ch. 5 -------------------------------------------------------------

def buy_apple_orange(apple=100.0, apple_num=2.0, orange=150.0, orange_num=3.0, tax=1.1):
    """The seed's MulLayer/AddLayer example as a graph: (price, gradients, closed form)."""
    inputs = OrderedDict((k, nn.Variable.from_numpy_array(np.array(v, np.float64), need_grad=True))
                         for k, v in [("apple", apple), ("apple_num", apple_num),
                                      ("orange", orange), ("orange_num", orange_num),
                                      ("tax", tax)])
    for name, v in inputs.items():
        v.name = name
    apple_price = inputs["apple"] * inputs["apple_num"]       # MulLayer
    orange_price = inputs["orange"] * inputs["orange_num"]    # MulLayer
    all_price = apple_price + orange_price                    # AddLayer
    price = all_price * inputs["tax"]                         # MulLayer
    price.forward()
    for v in inputs.values():
        v.grad.zero()
    price.backward()                                          # dout = 1
    grads = OrderedDict((k, float(v.g)) for k, v in inputs.items())
    closed = OrderedDict([("apple", apple_num * tax), ("apple_num", apple * tax),
                          ("orange", orange_num * tax), ("orange_num", orange * tax),
                          ("tax", apple * apple_num + orange * orange_num)])
    functions = []
    price.visit(lambda f: functions.append(f.info.type_name))
    return float(price.d), grads, closed, functions


def layer_backward_errors(seed):
    """Max |nablite backward - the seed's hand-written backward| for its ch. 5 layers."""
    rng = np.random.RandomState(seed)
    x_np = rng.randn(4, 6)
    x_np[np.abs(x_np) < 1e-3] = 0.5             # keep away from ReLU's kink
    dout = rng.randn(4, 6)

    def grad_of(build, *arrays, g=None):
        vs = [nn.Variable.from_numpy_array(a, need_grad=True) for a in arrays]
        y = build(*vs)
        y.forward()
        for v in vs:
            v.grad.zero()
        y.backward(1 if g is None else g)
        return y.d.copy(), [v.g.copy() for v in vs]

    errors = OrderedDict()
    _, (gx,) = grad_of(F.relu, x_np, g=dout)
    errors["Relu"] = np.abs(gx - dout * (x_np > 0)).max()
    y, (gx,) = grad_of(F.sigmoid, x_np, g=dout)
    errors["Sigmoid"] = np.abs(gx - dout * (1.0 - y) * y).max()
    W, b = rng.randn(6, 3), rng.randn(3)
    dy = rng.randn(4, 3)
    _, (gx, gW, gb) = grad_of(F.affine, x_np, W, b, g=dy)
    errors["Affine"] = max(np.abs(gx - dy @ W.T).max(), np.abs(gW - x_np.T @ dy).max(),
                           np.abs(gb - dy.sum(0)).max())
    t = rng.randint(0, 6, (4, 1))
    tv = nn.Variable.from_numpy_array(t)
    _, (gx,) = grad_of(lambda a: F.mean(F.softmax_cross_entropy(a, tv)), x_np)
    e = np.exp(x_np - x_np.max(1, keepdims=True))
    dx = e / e.sum(1, keepdims=True)
    dx[np.arange(4), t.ravel()] -= 1            # the seed's (y - t) / batch_size
    errors["SoftmaxWithLoss"] = np.abs(gx - dx / 4).max()
    return OrderedDict((k, float(v)) for k, v in errors.items())


def section_graph(log, seed):
    price, grads, closed, functions = buy_apple_orange()
    log(f"the graph: {' -> '.join(functions)}")
    log(f"price: {price:g}")
    for k, g in grads.items():
        log(f"d{k}: {g:g} (closed form {closed[k]:g})")
    errors = layer_backward_errors(seed)
    log("the seed's layer backward formulas against nablite's backward (max |difference|): " +
        ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))
    return {"price": price, "grads": grads, "closed_form": closed, "functions": functions,
            "layer_errors": errors}


# -- batchnorm: ch. 6 ---------------------------------------------------------

# The book's BatchNormalization starts its running mean and variance at 0 and
# adds 1e-6 to the variance; nablite's (NNabla's) starts the variance at 1 and
# adds 1e-5. Starting at 1, inference at the small weight scales would divide
# by a variance orders of magnitude too large for the first epochs.
BOOK_BN = dict(eps=1e-6, param_init={"mean": zeros(np.float32), "var": zeros(np.float32)})


def multi_layer_net_extend(x, scale, rng, batchnorm, test, hidden=(100,) * 5, classes=10):
    """The seed's MultiLayerNetExtend: (Affine [- BatchNorm] - ReLU) x 5 - Affine."""
    h = x
    for i, n in enumerate(hidden, 1):
        with nn.parameter_scope(f"Affine{i}"):
            h = PF.affine(h, n, w_init=normal(scale, rng, np.float32), b_init=zeros(np.float32))
        if batchnorm:
            with nn.parameter_scope(f"BatchNorm{i}"):
                h = PF.batch_normalization(h, batch_stat=not test, **BOOK_BN)
        h = F.relu(h)
    with nn.parameter_scope(f"Affine{len(hidden) + 1}"):
        return PF.affine(h, classes, w_init=normal(scale, rng, np.float32),
                         b_init=zeros(np.float32))


def train_batchnorm(x_train, t_train, scale, epochs, rng, batch_size=100, lr=0.01):
    """Train the nets with and without batch norm on the same minibatches: their
    training accuracy (inference mode) once per epoch, and whether the last loss
    was not finite."""
    x, t = nn.Variable((batch_size, 64)), nn.Variable((batch_size, 1))
    x_all = nn.Variable(x_train.shape)
    nets = OrderedDict()
    for name, bn in (("normal", False), ("batchnorm", True)):
        with nn.parameter_scope(f"batchnorm_test/{name}"):
            loss = F.mean(F.softmax_cross_entropy(
                multi_layer_net_extend(x, scale, rng, bn, test=False), t))
            scores = multi_layer_net_extend(x_all, scale, rng, bn, test=True)
            solver = S.Sgd(lr)
            solver.set_parameters(nn.get_parameters())
        nets[name] = (loss, scores, solver, [])
    n = len(x_train)
    iter_per_epoch = max(n // batch_size, 1)
    for i in range(epochs * iter_per_epoch):
        batch = rng.choice(n, batch_size)
        x.d, t.d = x_train[batch], t_train[batch]
        for loss, scores, solver, acc in nets.values():
            loss.forward(clear_no_need_grad=True)
            solver.zero_grad()
            loss.backward(clear_buffer=True)
            solver.update()
            if i % iter_per_epoch == 0:
                acc.append(accuracy(scores, x_all, x_train, t_train))
    with nn.parameter_scope("batchnorm_test"):
        nn.clear_parameters()
    return (OrderedDict((k, v[3]) for k, v in nets.items()),
            {k: not np.isfinite(v[0].d) for k, v in nets.items()})


def plot_batchnorm(path, results, n_train):
    cols = int(np.ceil(np.sqrt(len(results))))
    rows = int(np.ceil(len(results) / cols))
    fig = new_figure((2.6 * cols + 1, 2.2 * rows + 1.2), layout="constrained")
    for i, (scale, acc) in enumerate(results.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        epochs = np.arange(len(acc["batchnorm"]))
        ax.plot(epochs, acc["batchnorm"], label="Batch Normalization")
        ax.plot(epochs, acc["normal"], linestyle="--", label="Normal (without BatchNorm)")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"W: {scale:.3g}", fontsize="medium")
        integer_ticks(ax.xaxis)
        ax.grid(True, alpha=0.3)
        if i % cols:
            ax.set_yticklabels([])
        else:
            ax.set_ylabel("accuracy")
        if i < len(results) - cols:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("epochs")
    handles, labels = ax.get_legend_handles_labels()
    fig.suptitle(f"5 x 100 ReLU MLP, SGD lr 0.01, {n_train} training digits: training accuracy\n"
                 "at each weight scale W (the std of the initial weights)")
    # one legend for all cells, below them, where it covers no curve
    fig.legend(handles, labels, loc="outside lower center", ncol=2)
    fig.savefig(path)


def section_batchnorm(out, log, epochs, n_scales, seed, verbose, n_train=1000):
    X, y = digits(seed)
    x_train, t_train = X[:n_train].astype(np.float32), y[:n_train]
    rng = np.random.RandomState(seed)
    results = OrderedDict()
    bar = tqdm(np.logspace(0, -4, num=n_scales), desc="batch norm: weight scales",
               disable=not verbose)
    for i, scale in enumerate(bar):
        # at the large scales the plain net's activations overflow, as in the seed
        with np.errstate(over="ignore", invalid="ignore"):
            acc, diverged = train_batchnorm(x_train, t_train, scale, epochs, rng)
        results[float(scale)] = acc
        final = {k: f"{v[-1]:.3f}" + (" (diverged: loss not finite)" if diverged[k] else "")
                 for k, v in acc.items()}
        log(f"{i + 1}/{n_scales} W:{scale:.3g}  final training accuracy: normal "
            f"{final['normal']} - batchnorm {final['batchnorm']}")
    plot_batchnorm(os.path.join(out, "batch_norm_test.png"), results, n_train)
    ahead_final = sum(a["batchnorm"][-1] > a["normal"][-1] for a in results.values())
    ahead_mean = sum(np.mean(a["batchnorm"]) > np.mean(a["normal"]) for a in results.values())
    log(f"batch norm ahead at {ahead_final} of {n_scales} weight scales after {epochs} epochs, "
        f"and ahead in mean accuracy over the epochs at {ahead_mean} of {n_scales}")
    return {"epochs": epochs, "accuracy": [{"scale": s, **a} for s, a in results.items()],
            "ahead_final": int(ahead_final), "ahead_mean": int(ahead_mean)}


# -- main ---------------------------------------------------------------------

QUICK = {"epochs": 20, "bn_epochs": 5, "bn_scales": 6}
FULL = {"epochs": 100, "bn_epochs": 20, "bn_scales": 16}


def main(out="runs/from_scratch", sections=SECTIONS, epochs=None, bn_epochs=None,
         bn_scales=None, quick=False, seed=0, verbose=True):
    """Run the chosen sections, save their PNGs and from_scratch.json; return the facts."""
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"from_scratch.main: unknown sections {unknown}; expected some of "
                         f"{SECTIONS}")
    settings = dict(QUICK if quick else FULL)
    for key, v in (("epochs", epochs), ("bn_epochs", bn_epochs), ("bn_scales", bn_scales)):
        if v is not None:
            settings[key] = v
    log = tqdm.write if verbose else (lambda *a, **k: None)  # lines above the progress bars
    os.makedirs(out, exist_ok=True)
    facts = {"settings": settings}
    with float64_compute():  # the float64 sections: a 'float' context reads float32
        if "numerical" in sections:
            log("== numerical: ch. 4, numerical differentiation and gradient descent ==")
            facts["numerical"] = section_numerical(out, log)
        if "twolayer" in sections:
            log("== twolayer: ch. 4-5, the two-layer net and the gradient check ==")
            facts["twolayer"] = section_twolayer(out, log, settings["epochs"], seed, verbose)
        if "graph" in sections:
            log("== graph: ch. 5, the computational graph ==")
            facts["graph"] = section_graph(log, seed)
    if "batchnorm" in sections:
        log("== batchnorm: ch. 6, batch normalization ==")
        facts["batchnorm"] = section_batchnorm(out, log, settings["bn_epochs"],
                                               settings["bn_scales"], seed, verbose)

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(facts, f, indent=1)
    atomic_write(os.path.join(out, "from_scratch.json"), write)
    return facts


def parse_sections(text):
    sections = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        raise argparse.ArgumentTypeError(f"unknown sections {unknown or [text]}; choose from "
                                         f"{','.join(SECTIONS)}")
    return sections


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", type=parse_sections, default=SECTIONS,
                   help=f"comma-separated sections to run (default: {','.join(SECTIONS)})")
    p.add_argument("--out", default="runs/from_scratch",
                   help="folder for the PNGs and the JSON (default: runs/from_scratch)")
    p.add_argument("--epochs", type=positive_int,
                   help=f"two-layer net epochs of 15 iterations (default {FULL['epochs']}, "
                        f"--quick {QUICK['epochs']})")
    p.add_argument("--bn-epochs", type=positive_int,
                   help=f"batch-norm epochs of 10 iterations (default {FULL['bn_epochs']}, "
                        f"--quick {QUICK['bn_epochs']})")
    p.add_argument("--bn-scales", type=positive_int,
                   help=f"weight scales from logspace(0, -4) (default {FULL['bn_scales']}, "
                        f"--quick {QUICK['bn_scales']})")
    p.add_argument("--quick", action="store_true",
                   help="the shortened run the tests use (default: off)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    a = p.parse_args()
    main(a.out, a.sections, a.epochs, a.bn_epochs, a.bn_scales, a.quick, a.seed)
