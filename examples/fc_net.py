"""CS231n assignment 2, "Fully-Connected Neural Nets" (seed 003), on the 8x8 digits.

The assignment builds networks from modular layers, checks every layer
against numbers and numerical gradients, trains them with a separate Solver
class, and compares update rules. Here the layers are small Python functions
that build nablite graph nodes (the backward passes come from the engine), the
parameters live in a nablite parameter scope that each model owns, and the
Solver drives nablite's solvers (S.Sgd, S.Momentum, S.RMSprop, S.Adam).
CIFAR-10 is replaced by the bundled 8x8 digits, so every run takes seconds.

Run: python examples/fc_net.py [--out DIR] [--epochs N]
"""
import argparse
import os
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import nablite as nn
import nablite.functions as F
import nablite.solvers as S
from nablite.cli import positive_int
from nablite.datasets import load_digits
from nablite.parameter import get_parameter_or_create
from nablite.testing import float64_compute, numerical_grad, rel_error


# --------------------------------------------------------------------------------------
# Layers: each builds graph nodes; the engine provides the backward pass.
# --------------------------------------------------------------------------------------
def affine_forward(x: nn.Variable, w: nn.Variable, b: nn.Variable) -> nn.Variable:
    """x (N, d1, ..., dk) flattened to (N, D), times w (D, M), plus b (M,)."""
    return F.affine(x, w, b)


def relu_forward(x: nn.Variable) -> nn.Variable:
    return F.relu(x)


def affine_relu(x: nn.Variable, w: nn.Variable, b: nn.Variable) -> nn.Variable:
    """The "sandwich" layer: affine followed by ReLU."""
    return F.relu(F.affine(x, w, b))


def affine_bn_relu(x: nn.Variable, w: nn.Variable, b: nn.Variable, gamma: nn.Variable,
                   beta: nn.Variable, mean: nn.Variable, var: nn.Variable,
                   train: bool) -> nn.Variable:
    """affine -> batch normalization (batch statistics when training, running
    statistics at test time, momentum 0.9 and eps 1e-5 as in CS231n) -> ReLU."""
    h = F.batch_normalization(F.affine(x, w, b), beta, gamma, mean, var, axes=[1],
                              decay_rate=0.9, eps=1e-5, batch_stat=train)
    return F.relu(h)


def softmax_loss(scores: nn.Variable, labels: nn.Variable) -> nn.Variable:
    """Mean softmax cross entropy; ``labels`` is an (N, 1) integer Variable."""
    return F.mean(F.softmax_cross_entropy(scores, labels))


def svm_loss(scores: nn.Variable, labels: np.ndarray) -> nn.Variable:
    """Multiclass SVM (hinge) loss sum_{j != y} max(0, s_j - s_y + 1) / N.
    ``labels`` is a NumPy integer array; the class mask is a constant."""
    n, c = scores.shape
    mask = np.zeros((n, c), dtype=scores.d.dtype)
    mask[np.arange(n), labels] = 1
    onehot = nn.Variable.from_numpy_array(mask)
    correct = F.sum(scores * onehot, axis=1, keepdims=True)
    margins = F.relu(scores - correct + 1.0) * (1.0 - onehot)
    return F.sum(margins) / n


def gradient_errors(out: nn.Variable, inputs: Sequence[nn.Variable],
                    dout: Optional[np.ndarray] = None) -> List[float]:
    """rel_error between backward's gradients of sum(out * dout) and central
    differences (CS231n's eval_numerical_gradient_array), one per input."""
    for v in inputs:
        v.grad.zero()
    out.forward()
    out.backward(1 if dout is None else dout)
    analytic = [v.g.copy() for v in inputs]

    def value() -> np.ndarray:
        out.forward()
        return out.d.copy()

    errors = [rel_error(numerical_grad(value, v.d, df=dout), g) for v, g in zip(inputs, analytic)]
    out.forward()  # leave out.d at the unperturbed inputs
    return errors


def _var(a: Any) -> nn.Variable:
    return nn.Variable.from_numpy_array(np.asarray(a), need_grad=True)


def _labels(y: Any) -> nn.Variable:
    return nn.Variable.from_numpy_array(np.asarray(y).reshape(-1, 1))


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------
class FullyConnectedNet:
    """{affine - [batch norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Args:
        hidden_dims (list of int): Sizes of the hidden layers.
        input_dim, num_classes (int): Input features and classes.
        dropout (float): Drop probability (0 disables dropout), as F.dropout's p.
        use_batchnorm (bool): Batch normalization after each hidden affine.
        reg (float): L2 strength; the loss adds 0.5 * reg * sum(W**2).
        weight_scale (float): Weights start as weight_scale * N(0, 1) drawn
            from NumPy's global generator, in CS231n's order, so seeding
            ``np.random`` reproduces the assignment's numbers; biases start at 0.
        dtype: float32 for training, float64 for gradient checks.
        seed (int or None): Seed of the dropout masks.

    ``params`` maps CS231n's names (W1, b1, gamma1, beta1, ...) to the nablite
    parameter Variables; they live in a scope owned by this model, so several
    models coexist without touching the global parameter scope.
    """

    def __init__(self, hidden_dims: Sequence[int], input_dim: int = 64, num_classes: int = 10,
                 dropout: float = 0, use_batchnorm: bool = False, reg: float = 0.0,
                 weight_scale: float = 1e-2, dtype: Any = np.float32,
                 seed: Optional[int] = None) -> None:
        self.use_batchnorm = use_batchnorm
        self.use_dropout = dropout > 0
        self.dropout = dropout
        self.reg = reg
        self.dtype = dtype
        self.seed = -1 if seed is None else seed
        self.num_layers = 1 + len(hidden_dims)
        self.scope: Dict[str, Any] = OrderedDict()
        self._graphs: Dict[Tuple[bool, int, float], Tuple[nn.Variable, ...]] = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        with nn.parameter_scope("", self.scope):
            for i in range(self.num_layers):
                w = weight_scale * np.random.randn(dims[i], dims[i + 1])
                get_parameter_or_create(f"W{i + 1}", w.shape, w.astype(dtype))
                get_parameter_or_create(f"b{i + 1}", (dims[i + 1],),
                                        np.zeros(dims[i + 1], dtype))
            if use_batchnorm:
                for i, h in enumerate(hidden_dims, 1):
                    get_parameter_or_create(f"gamma{i}", (1, h), np.ones((1, h), dtype))
                    get_parameter_or_create(f"beta{i}", (1, h), np.zeros((1, h), dtype))
                    get_parameter_or_create(f"running_mean{i}", (1, h), np.zeros((1, h), dtype),
                                            need_grad=False)
                    get_parameter_or_create(f"running_var{i}", (1, h), np.ones((1, h), dtype),
                                            need_grad=False)
            self.params = nn.get_parameters()                 # trainable ones
            self.state = nn.get_parameters(grad_only=False)   # plus running statistics

    def _graph(self, train: bool, n: int) -> Tuple[nn.Variable, ...]:
        """The static graph for a batch of n samples, built once per (mode, n, reg)."""
        key = (train, n, self.reg)
        if key not in self._graphs:
            p = self.state
            x = nn.Variable((n, p["W1"].shape[0]))
            h = x
            for i in range(1, self.num_layers):
                w, b = p[f"W{i}"], p[f"b{i}"]
                if self.use_batchnorm:
                    h = affine_bn_relu(h, w, b, p[f"gamma{i}"], p[f"beta{i}"],
                                       p[f"running_mean{i}"], p[f"running_var{i}"], train)
                else:
                    h = affine_relu(h, w, b)
                if self.use_dropout and train:  # one seed per layer: masks must differ
                    h = F.dropout(h, p=self.dropout, seed=self.seed + i if self.seed >= 0 else -1)
            L = self.num_layers
            scores = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
            t = nn.Variable((n, 1))
            loss = softmax_loss(scores, t)
            if self.reg:
                weights = [p[f"W{i}"] for i in range(1, L + 1)]
                loss = loss + 0.5 * self.reg * F.add_n(*[F.sum(w * w) for w in weights])
            self._graphs[key] = (x, t, scores, loss)
        return self._graphs[key]

    def loss(self, X: Any, y: Any = None) -> Any:
        """Scores (N, C) as a NumPy array when y is None (test mode); else
        (loss, grads) with grads the parameters' gradients (their .g arrays)."""
        X = np.asarray(X, dtype=self.dtype).reshape(len(X), -1)
        x, t, scores, loss = self._graph(y is not None, len(X))
        x.d = X
        if y is None:
            scores.forward(clear_buffer=True)
            return scores.d.copy()
        t.d = np.asarray(y).reshape(-1, 1)
        for p in self.params.values():
            p.grad.zero()
        loss.forward(clear_no_need_grad=True)
        loss.backward(clear_buffer=True)
        return float(loss.d), OrderedDict((k, p.g) for k, p in self.params.items())


# --------------------------------------------------------------------------------------
# The Solver: CS231n's training loop on top of nablite's solvers
# --------------------------------------------------------------------------------------
def make_solver(update_rule: str, optim_config: Optional[Dict[str, float]]) -> Any:
    """A nablite solver for one of CS231n's update rules. The rules agree with
    CS231n's optim.py (Momentum's m is minus CS231n's velocity; Adam's eps
    sits outside the bias correction, a difference of order eps)."""
    c = dict(optim_config or {})
    lr = c.pop("learning_rate", 1e-2)
    if update_rule == "sgd":
        return S.Sgd(lr)
    if update_rule == "sgd_momentum":
        return S.Momentum(lr, momentum=c.get("momentum", 0.9))
    if update_rule == "adagrad":
        return S.Adagrad(lr, eps=c.get("epsilon", 1e-8))
    if update_rule == "rmsprop":
        return S.RMSprop(lr, decay=c.get("decay_rate", 0.99), eps=c.get("epsilon", 1e-8))
    if update_rule == "adam":
        return S.Adam(lr, beta1=c.get("beta1", 0.9), beta2=c.get("beta2", 0.999),
                      eps=c.get("epsilon", 1e-8))
    raise ValueError(f"Solver: unknown update_rule {update_rule!r}; expected 'sgd', "
                     "'sgd_momentum', 'adagrad', 'rmsprop' or 'adam'")


class Solver:
    """Minibatch training of a model with ``loss(X, y)`` and ``params``.

    data: dict with X_train, y_train, X_val, y_val. After ``train()`` the model
    holds the parameters of the epoch with the best validation accuracy, and
    ``loss_history`` (one per iteration), ``train_acc_history`` and
    ``val_acc_history`` (one per epoch, plus one before training) are filled.
    The learning rate is multiplied by ``lr_decay`` after each epoch.
    """

    def __init__(self, model: FullyConnectedNet, data: Dict[str, np.ndarray],
                 update_rule: str = "sgd", optim_config: Optional[Dict[str, float]] = None,
                 lr_decay: float = 1.0, batch_size: int = 100, num_epochs: int = 10,
                 num_train_samples: Optional[int] = 1000,
                 num_val_samples: Optional[int] = None, print_every: int = 10,
                 verbose: bool = True, seed: Optional[int] = None) -> None:
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.update_rule, self.lr_decay = update_rule, lr_decay
        self.optim = make_solver(update_rule, optim_config)
        self.optim.set_parameters(model.params)
        self.batch_size, self.num_epochs = batch_size, num_epochs
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.print_every, self.verbose = print_every, verbose
        self._log: Callable[[str], None] = print if verbose else (lambda msg: None)
        self.rng = np.random.RandomState(seed)
        self.epoch = 0
        self.best_val_acc = -1.0  # so the first check always stores best_params
        self.best_params: Dict[str, np.ndarray] = {}
        self.loss_history: List[float] = []
        self.train_acc_history: List[float] = []
        self.val_acc_history: List[float] = []

    def _step(self) -> None:
        mask = self.rng.choice(len(self.X_train), self.batch_size)
        loss, _ = self.model.loss(self.X_train[mask], self.y_train[mask])
        self.loss_history.append(loss)
        self.optim.update()

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, num_samples: Optional[int] = None,
                       batch_size: int = 100) -> float:
        """Accuracy of the model on (a random subsample of) X, y, in test mode."""
        if num_samples is not None and len(X) > num_samples:
            mask = self.rng.choice(len(X), num_samples)
            X, y = X[mask], y[mask]
        pred = [np.argmax(self.model.loss(X[i:i + batch_size]), axis=1)
                for i in range(0, len(X), batch_size)]
        return float(np.mean(np.concatenate(pred) == y))

    def train(self) -> None:
        """Run num_epochs epochs; record accuracies before training and after each epoch."""
        per_epoch = max(len(self.X_train) // self.batch_size, 1)
        num_iterations = self.num_epochs * per_epoch
        self._record_accuracy()
        for t in range(num_iterations):
            self._step()
            if t % self.print_every == 0:
                self._log(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
            if (t + 1) % per_epoch == 0:
                self.epoch += 1
                self.optim.set_learning_rate(self.optim.learning_rate() * self.lr_decay)
                self._record_accuracy()
        for k, v in self.best_params.items():
            self.model.state[k].d[...] = v

    def _record_accuracy(self) -> None:
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._log(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                  f"val_acc: {val_acc:f}")
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {k: v.d.copy() for k, v in self.model.state.items()}


# --------------------------------------------------------------------------------------
# The assignment's checks (float64 Variables; the numbers are the seed's)
# --------------------------------------------------------------------------------------
def layer_checks(log: Callable[..., None] = print) -> Dict[str, float]:
    """Affine/ReLU/sandwich layers, losses, the two-layer net and the update
    rules, each against the seed's expected numbers or numerical gradients.
    Returns {check name: relative error (or value)}."""
    with float64_compute():  # float64 Variables in float64 ('float' would read float32)
        return _layer_checks(log)


def _layer_checks(log: Callable[..., None]) -> Dict[str, float]:
    r = OrderedDict()
    # affine forward on linspace data: error ~1e-9 (the expected numbers have 8 decimals)
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out = affine_forward(_var(x), _var(w), _var(b))
    out.forward()
    r["affine_forward"] = rel_error(out.d, [[1.49834967, 1.70660132, 1.91485297],
                                            [3.25553199, 3.5141327, 3.77273342]])
    # affine backward against numerical gradients: ~1e-10
    np.random.seed(231)
    xv, wv, bv = _var(np.random.randn(10, 2, 3)), _var(np.random.randn(6, 5)), \
        _var(np.random.randn(5))
    dout = np.random.randn(10, 5)
    errs = gradient_errors(affine_forward(xv, wv, bv), [xv, wv, bv], dout)
    r["affine_backward_dx"], r["affine_backward_dw"], r["affine_backward_db"] = errs
    # relu forward: ~5e-8 (rounding of the expected numbers)
    out = relu_forward(_var(np.linspace(-0.5, 0.5, num=12).reshape(3, 4)))
    out.forward()
    r["relu_forward"] = rel_error(out.d, [[0., 0., 0., 0.],
                                          [0., 0., 0.04545455, 0.13636364],
                                          [0.22727273, 0.31818182, 0.40909091, 0.5]])
    np.random.seed(231)
    xv = _var(np.random.randn(10, 10))
    r["relu_backward_dx"], = gradient_errors(relu_forward(xv), [xv], np.random.randn(10, 10))
    # the affine-relu sandwich
    np.random.seed(231)
    xv, wv, bv = _var(np.random.randn(2, 3, 4)), _var(np.random.randn(12, 10)), \
        _var(np.random.randn(10))
    dout = np.random.randn(2, 10)
    errs = gradient_errors(affine_relu(xv, wv, bv), [xv, wv, bv], dout)
    r["affine_relu_dx"], r["affine_relu_dw"], r["affine_relu_db"] = errs
    # losses on tiny scores: SVM ~9 (= C - 1), softmax ~2.3 (= log C)
    np.random.seed(231)
    xv = _var(0.001 * np.random.randn(50, 10))
    y = np.random.randint(10, size=50)
    for name, loss in [("svm_loss", svm_loss(xv, y)),
                       ("softmax_loss", softmax_loss(xv, _labels(y)))]:
        r[f"{name}_dx"], = gradient_errors(loss, [xv])
        r[name] = float(loss.d)
    r.update(two_layer_net_checks())
    r.update(fc_net_gradient_checks())
    r.update(update_rule_checks())
    for k, v in r.items():
        log(f"{k}: {v:.16g}" if k.endswith("loss") or "loss_reg" in k else f"{k}: {v:.2e}")
    return r


def two_layer_net_checks() -> Dict[str, float]:
    """The seed's TwoLayerNet test, run on FullyConnectedNet([H]) in float64."""
    r = OrderedDict()
    np.random.seed(231)
    N, D, H, C, std = 3, 5, 50, 7, 1e-3
    model = FullyConnectedNet([H], input_dim=D, num_classes=C, weight_scale=std,
                              dtype=np.float64)
    p = model.params
    r["init_W1_std_error"] = abs(p["W1"].d.std() - std) / std
    r["init_W2_std_error"] = abs(p["W2"].d.std() - std) / std
    p["W1"].d = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    p["b1"].d = np.linspace(-0.1, 0.9, num=H)
    p["W2"].d = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    p["b2"].d = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765,
         16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135,
         16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506,
         16.2846319]])
    r["two_layer_scores_abs_diff"] = float(np.abs(model.loss(X) - correct_scores).sum())
    y = np.asarray([0, 5, 1])
    r["two_layer_loss_abs_diff"] = abs(model.loss(X, y)[0] - 3.4702243556)
    model.reg = 1.0
    r["two_layer_reg_loss_abs_diff"] = abs(model.loss(X, y)[0] - 26.5948426952)
    for reg in [0.0, 0.7]:
        model.reg = reg
        r.update(_param_grad_errors(model, X, y, f"two_layer_reg{reg}"))
    return r


def _param_grad_errors(model: FullyConnectedNet, X: np.ndarray, y: np.ndarray, prefix: str,
                       h: float = 1e-5) -> Dict[str, float]:
    """rel_error of each parameter's gradient against central differences."""
    _, grads = model.loss(X, y)
    grads = {k: g.copy() for k, g in grads.items()}
    out = OrderedDict()
    for name in sorted(grads):
        num = numerical_grad(lambda: model.loss(X, y)[0], model.params[name].d, h=h)
        out[f"{prefix}_{name}"] = rel_error(num, grads[name])
    return out


def fc_net_gradient_checks() -> Dict[str, float]:
    """Initial loss and gradient check of a 3-layer net with and without L2.
    Weights come from NumPy's generator in CS231n's order, so the initial losses
    are the seed's 2.307941433441618 and 6.765122333792326."""
    r = OrderedDict()
    np.random.seed(251)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                                  weight_scale=5e-2, dtype=np.float64)
        r[f"fc_initial_loss_reg{reg}"] = model.loss(X, y)[0]
        r.update(_param_grad_errors(model, X, y, f"fc_reg{reg}"))
    return r


def update_rule_checks() -> Dict[str, float]:
    """CS231n's sgd_momentum / rmsprop / adam tests run through nablite's
    solvers, with the solver state set to the test's starting values."""
    N, D = 4, 5
    w0 = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)

    def one_step(solver: Any, state: Dict[str, Any],
                 t: int = 0) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
        w = _var(w0.copy())
        solver.set_parameters({"w": w})
        st = solver.get_states()["w"]
        st.pstate, st.t = state, t
        solver.set_states({"w": st})
        w.g = dw
        solver.update()
        return w.d, {k: v.d for k, v in solver.get_states()["w"].pstate.items()}

    r = OrderedDict()
    # Momentum: nablite's m is minus CS231n's velocity (w -= m vs w += v).
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    w, s = one_step(S.Momentum(1e-3, 0.9), {"m": -v})
    r["sgd_momentum_next_w"] = rel_error(w, [
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    r["sgd_momentum_velocity"] = rel_error(-s["m"], [
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    w, s = one_step(S.RMSprop(1e-2, decay=0.99, eps=1e-8), {"v": cache})
    r["rmsprop_next_w"] = rel_error(w, [
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    r["rmsprop_cache"] = rel_error(s["v"], [
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    w, s = one_step(S.Adam(1e-2, 0.9, 0.999, 1e-8), {"mean": m, "var": v}, t=5)
    r["adam_next_w"] = rel_error(w, [
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    r["adam_v"] = rel_error(s["var"], [
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    r["adam_m"] = rel_error(s["mean"], [
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    return r


# --------------------------------------------------------------------------------------
# Data, plots and the training experiments
# --------------------------------------------------------------------------------------
def get_digits_data(num_val: int = 250, num_test: int = 250,
                    seed: int = 0) -> Dict[str, np.ndarray]:
    """The 1797 digits shuffled and split into train / val / test, pixels scaled
    to [0, 1] and centered by the training mean (CS231n's preprocessing)."""
    digits = load_digits()
    order = np.random.RandomState(seed).permutation(len(digits.target))
    X, y = digits.data[order] / 16.0, digits.target[order]
    n_train = len(y) - num_val - num_test
    mean = X[:n_train].mean(axis=0)
    X = (X - mean).astype(np.float32)
    return {"X_train": X[:n_train], "y_train": y[:n_train],
            "X_val": X[n_train:n_train + num_val], "y_val": y[n_train:n_train + num_val],
            "X_test": X[n_train + num_val:], "y_test": y[n_train + num_val:]}


def plot_histories(path: str, solvers: Dict[str, "Solver"], title: str = "") -> str:
    """Training loss per iteration, train and validation accuracy per epoch,
    one curve per solver, as the notebook's three panels (one legend above them)."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.ticker import MaxNLocator
    fig = Figure(figsize=(8, 10), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(3, 1, i) for i in (1, 2, 3)]
    for label, s in solvers.items():
        axes[0].plot(s.loss_history, "o", markersize=2, label=label)
        axes[1].plot(s.train_acc_history, "-o", label=label)
        axes[2].plot(s.val_acc_history, "-o", label=label)
    panels = [("Training loss", "Iteration (mini-batches)", "softmax loss (nats)"),
              ("Training accuracy", "Epoch", "accuracy (fraction)"),
              ("Validation accuracy", "Epoch", "accuracy (fraction)")]
    for ax, (name, x, y) in zip(axes, panels):
        ax.set_title(f"{title}: {name}" if title else name)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(True, alpha=0.3)
    for ax in axes[1:]:
        ax.set_ylim(0, 1.05)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 4),
               fontsize="small")
    fig.savefig(path)
    return path


def overfit_small_data(data: Dict[str, np.ndarray], hidden_dims: Sequence[int],
                       weight_scale: float, learning_rate: float, num_train: int = 100,
                       num_epochs: int = 20, verbose: bool = False, seed: int = 0) -> Solver:
    """Sanity check: a net overfits num_train samples (train accuracy -> 100%)."""
    np.random.seed(seed)
    small = {"X_train": data["X_train"][:num_train], "y_train": data["y_train"][:num_train],
             "X_val": data["X_val"], "y_val": data["y_val"]}
    model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale)
    solver = Solver(model, small, num_epochs=num_epochs, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": learning_rate}, print_every=10,
                    verbose=verbose, seed=seed)
    solver.train()
    return solver


def compare(data: Dict[str, np.ndarray], configs: Dict[str, Tuple[Dict[str, Any], str, float]],
            num_epochs: int, verbose: bool = False, **solver_kwargs: Any) -> Dict[str, Solver]:
    """Train one model per {label: (model kwargs, update_rule, learning_rate)}."""
    solvers: Dict[str, Solver] = OrderedDict()
    for label, (model_kwargs, rule, lr) in configs.items():
        if verbose:
            print("running with", label)
        model = FullyConnectedNet(**model_kwargs)
        solvers[label] = Solver(model, data, update_rule=rule,
                                optim_config={"learning_rate": lr}, num_epochs=num_epochs,
                                verbose=verbose, seed=0, **solver_kwargs)
        solvers[label].train()
        if verbose:
            print(f"{label}: final train acc {solvers[label].train_acc_history[-1]:.3f}, "
                  f"best val acc {solvers[label].best_val_acc:.3f}\n")
    return solvers


def main(out: str = "runs/fc_net", epochs: int = 10, seed: int = 0,
         verbose: bool = True) -> Dict[str, Any]:
    """Run the checks and the experiments; save PNGs under ``out``; return the facts."""
    if epochs < 1:
        raise ValueError(f"fc_net.main: epochs must be at least 1, got {epochs}")
    log: Callable[..., None] = print if verbose else (lambda *a, **k: None)
    os.makedirs(out, exist_ok=True)
    facts: Dict[str, Any] = {"checks": layer_checks(log)}
    np.random.seed(seed)
    nn.seed(seed)
    data = get_digits_data(seed=seed)
    log({k: v.shape for k, v in data.items()})

    # A two-layer net trained with the Solver (SGD with learning-rate decay).
    model = FullyConnectedNet([100], weight_scale=1e-2)
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 0.5},
                    lr_decay=0.95, num_epochs=epochs, batch_size=100, print_every=50,
                    verbose=verbose, seed=seed)
    solver.train()
    facts["two_layer"] = solver
    plot_histories(os.path.join(out, "two_layer.png"), {"sgd": solver}, "two-layer net")

    # Overfit 100 samples with a three-layer and a five-layer net.
    facts["overfit3"] = overfit_small_data(data, [100, 100], 1e-1, 0.3, verbose=verbose)
    facts["overfit5"] = overfit_small_data(data, [100] * 4, 1.5e-1, 0.1, verbose=verbose)
    plot_histories(os.path.join(out, "overfit.png"),
                   {"3 layers": facts["overfit3"], "5 layers": facts["overfit5"]},
                   "100 training samples")

    # Update rules on a six-layer net (five hidden layers of 100 units).
    deep = {"hidden_dims": [100] * 5, "weight_scale": 1e-1}
    rates = {"sgd": 5e-2, "sgd_momentum": 5e-2, "rmsprop": 1e-3, "adam": 1e-3}
    rules = OrderedDict((rule, (deep, rule, lr)) for rule, lr in rates.items())
    facts["update_rules"] = compare(data, rules, max(epochs // 2, 1), verbose, batch_size=100)
    plot_histories(os.path.join(out, "update_rules.png"), facts["update_rules"], "update rules")

    # Batch normalization with a bad (tiny) initialization, and dropout.
    tiny = {"hidden_dims": [100] * 5, "weight_scale": 1e-3}
    norm = OrderedDict([("baseline", (tiny, "sgd", 5e-2)),
                        ("batchnorm", (dict(tiny, use_batchnorm=True), "sgd", 5e-2))])
    facts["batchnorm"] = compare(data, norm, max(epochs // 2, 1), verbose, batch_size=100)
    plot_histories(os.path.join(out, "batchnorm.png"), facts["batchnorm"], "weight_scale 1e-3")
    small = {k: (v[:200] if k in ("X_train", "y_train") else v) for k, v in data.items()}
    wide = {"hidden_dims": [200, 200], "weight_scale": 5e-2}
    drop = OrderedDict([("no dropout", (wide, "sgd_momentum", 5e-2)),
                        ("dropout 0.5", (dict(wide, dropout=0.5, seed=seed), "sgd_momentum",
                                         5e-2))])
    facts["dropout"] = compare(small, drop, 4 * epochs, verbose, batch_size=50)
    plot_histories(os.path.join(out, "dropout.png"), facts["dropout"], "200 samples")

    # The best model: batch norm, dropout and Adam.
    best = FullyConnectedNet([100] * 3, weight_scale=5e-2, use_batchnorm=True, dropout=0.1,
                             seed=seed)
    solver = Solver(best, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=2 * epochs, batch_size=50, verbose=False, seed=seed)
    solver.train()
    for split in ("val", "test"):
        pred = np.argmax(best.loss(data[f"X_{split}"]), axis=1)
        facts[f"best_{split}_acc"] = float(np.mean(pred == data[f"y_{split}"]))
    log(f"best model: validation accuracy {facts['best_val_acc']:.3f}, "
        f"test accuracy {facts['best_test_acc']:.3f}")
    return facts


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=(
        "CS231n assignment 2, \"Fully-Connected Neural Nets\", on the bundled 8x8 digits: "
        "modular affine/ReLU/batch-norm layers built from nablite functions and checked "
        "against the assignment's numbers and numerical gradients, a FullyConnectedNet "
        "with batch normalization and dropout, and a Solver comparing SGD, Momentum, "
        "RMSprop and Adam; writes five PNGs of loss and accuracy histories. The default "
        "run takes about 7 s on a 2-core machine."))
    p.add_argument("--out", default="runs/fc_net", help="folder for the plots "
                   "(default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=10,
                   help="training epochs of the main experiments (default: %(default)s)")
    opts = p.parse_args()
    main(opts.out, opts.epochs)
