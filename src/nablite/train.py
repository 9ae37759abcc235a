"""``nablite train``: the tutorial's models on the bundled digits, with a progress bar,
a monitor log, saved parameters and a loss/accuracy plot.

What a run needs beyond the core install is optional: parameters go to
``params.h5`` when h5py is there and to ``params.protobuf`` otherwise, and the
plots are skipped with a note when matplotlib is missing.
"""
import importlib
import math
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import functions as F
from . import solvers as S
from . import tutorial
from .logger import progress_bar
from .parameter import clear_parameters, get_parameters, save_parameters
from .random import seed as seed_all
from .variable import Variable

MODEL_NAMES = ("logreg", "mlp", "cnn", "rnn", "siamese")
HELD_OUT = 297          # of the 1,797 digits; the other 1,500 are the training split
TRAIN_SIZE = 1797 - HELD_OUT
IO_HINT = 'pip install "nablite[io]"'
Curve = List[Tuple[int, float]]


class TrainingError(Exception):
    """A run that cannot start (bad option, unusable output folder) or that diverged.
    The message is one line, meant to be shown as it is."""


class TrainingDiverged(TrainingError):
    """The loss became NaN or infinite; nothing was saved."""

    def __init__(self, step: int, value: float, last: Optional[Tuple[int, float]]) -> None:
        self.step, self.value, self.last_finite = step, value, last
        before = (f"the last finite loss was {last[1]:.6g} at step {last[0]}" if last
                  else "no step had a finite loss")
        super().__init__(f"the training loss became {value} at step {step} ({before}); "
                         f"stopped without saving parameters: try a smaller --lr")


def check_options(name: str, steps: int, batch_size: int, lr: Optional[float]) -> None:
    """Raise TrainingError for options a run cannot use, before anything is built."""
    if name not in MODEL_NAMES:
        raise TrainingError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if steps < 1:
        raise TrainingError(f"--steps must be at least 1, got {steps}")
    if not 1 <= batch_size <= TRAIN_SIZE:
        raise TrainingError(f"--batch-size must be between 1 and {TRAIN_SIZE} (the size of the "
                            f"training split of the 1,797 digits), got {batch_size}")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise TrainingError(f"--lr must be a finite positive number, got {lr}")


def prepare_out(out: str) -> str:
    """Create the output folder (and its parents) and check that files can be
    written in it; raise TrainingError naming the folder and the reason."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise TrainingError(f"--out {out}: exists and is not a folder")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise TrainingError(f"--out {out}: cannot create the folder ({e.strerror or e})") from None
    probe = os.path.join(out, f".nablite-write-test-{os.getpid()}")
    try:
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise TrainingError(f"--out {out}: cannot write files there "
                            f"({e.strerror or e})") from None
    return out


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def parameter_file_format() -> str:
    """``.h5`` where h5py is installed, else ``.protobuf`` (NNabla's two parameter files)."""
    return ".h5" if _importable("h5py") else ".protobuf"


def _split(images: np.ndarray, labels: np.ndarray, rng: np.random.RandomState,
           held_out: int = HELD_OUT) -> Tuple[Tuple[np.ndarray, np.ndarray],
                                              Tuple[np.ndarray, np.ndarray]]:
    order = rng.permutation(len(images))
    test, train = order[:held_out], order[held_out:]
    return (images[train], labels[train]), (images[test], labels[test])


def _batches(n: int, batch_size: int, rng: np.random.RandomState) -> Iterator[np.ndarray]:
    """Endless shuffled mini-batch indices, reshuffled at every epoch."""
    if not 1 <= batch_size <= n:
        raise ValueError(f"_batches: batch_size must be between 1 and {n}, got {batch_size}")
    while True:
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


Model = Callable[..., Variable]


def _evaluate(model: Model, images: np.ndarray, labels: np.ndarray,
              batch_size: int = 256) -> float:
    x = Variable((min(batch_size, len(images)), 1, 8, 8))
    y = model(x, test=True)
    correct = 0
    for i in range(0, len(images), x.shape[0]):
        chunk = images[i:i + x.shape[0]]
        if len(chunk) < x.shape[0]:
            x = Variable((len(chunk), 1, 8, 8))
            y = model(x, test=True)
        x.d = chunk
        y.forward(clear_buffer=True)
        correct += int(np.sum(np.argmax(y.d, axis=1) == labels[i:i + len(chunk)].ravel()))
    return correct / len(images)


CONTEXTS = ("cpu", "cuda", "cudnn")


def _context(name: str) -> Any:
    """The extension context ``name`` ('cpu', 'cuda', 'cudnn'), or TrainingError
    saying why it is unusable here (no CuPy, no GPU)."""
    from .ext_utils import get_extension_context
    if name not in CONTEXTS:
        raise TrainingError(f"--context must be one of {', '.join(CONTEXTS)}, got {name!r}")
    try:
        return get_extension_context(name)
    except RuntimeError as e:
        raise TrainingError(f"--context {name}: {e}") from None


def train_tutorial_model(name: str, steps: int = 1000, batch_size: int = 64,
                         lr: Optional[float] = None, seed: int = 0, out: str = "runs",
                         progress: bool = True, context: str = "cpu") -> Dict[str, Any]:
    """Train ``name`` ('logreg', 'mlp', 'cnn', 'rnn' or 'siamese') and write its files.

    ``context`` ('cpu', 'cuda' or 'cudnn') is where the model computes; the
    initial weights (seeded on the host) and the results are the same.
    Returns a dict with the accuracies, the paths written and summary lines.
    Raises TrainingError before training for unusable options, contexts or output
    folders, and TrainingDiverged (nothing saved) when the loss stops being finite.
    """
    from .context import context_scope
    check_options(name, steps, batch_size, lr)
    ctx = _context(context)
    with context_scope(ctx):
        result = _train(name, steps, batch_size, lr, seed, out, progress)
    if context != "cpu":
        result["summary"][0] += f", context {context}"
    return result


def _train(name: str, steps: int, batch_size: int, lr: Optional[float], seed: int, out: str,
           progress: bool) -> Dict[str, Any]:
    from .datasets import load_digits
    from .monitor import Monitor, MonitorSeries, MonitorTimeElapsed

    prepare_out(out)
    clear_parameters()
    seed_all(seed)
    rng = np.random.RandomState(seed)
    digits = load_digits(n_class=10)
    images = digits.images.astype(np.float32)[:, None]
    labels = digits.target.astype(np.int32)[:, None]
    (xtr, ttr), (xte, tte) = _split(images, labels, rng)
    lr = tutorial.LEARNING_RATES[name] if lr is None else lr

    siamese = name == "siamese"
    model: Model = tutorial.siamese_embed if siamese else tutorial.MODELS[name]
    x = Variable((batch_size, 1, 8, 8))
    if siamese:
        x1, t = Variable(x.shape), Variable((batch_size,))
        e0, e1 = model(x), model(x1)
        loss = tutorial.contrastive_loss(e0, e1, t)
    else:
        t = Variable((batch_size, 1))
        y = model(x)
        loss = F.mean(F.softmax_cross_entropy(y, t))
    solver = S.Sgd(lr)
    solver.set_parameters(get_parameters())

    def held_out_accuracy() -> float:
        if siamese:
            return _centroid_accuracy(model, xtr, ttr, xte, tte)
        return _evaluate(model, xte, tte)

    monitor = Monitor(out)
    m_loss = MonitorSeries("training loss", monitor, interval=10, verbose=False)
    m_acc = MonitorSeries("held-out accuracy", monitor, interval=1, verbose=False)
    # ten timings (one would make `nablite plot_timer` draw a lone point)
    m_time = MonitorTimeElapsed("training time", monitor, interval=max(steps // 10, 1),
                                verbose=False)
    curve_loss: Curve = []
    curve_acc: Curve = []
    last_finite: Optional[Tuple[int, float]] = None
    batches = _batches(len(xtr), batch_size, rng)
    bar = progress_bar(range(steps), desc=f"train {name}", disable=not progress, unit="step")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run stops below instead
        for i in bar:
            idx = next(batches)
            x.d = xtr[idx]
            if siamese:
                idx1 = next(batches)
                x1.d = xtr[idx1]
                t.d = (ttr[idx].ravel() == ttr[idx1].ravel())
            else:
                t.d = ttr[idx]
            loss.forward(clear_no_need_grad=True)
            value = float(loss.d)
            if not math.isfinite(value):
                bar.close()
                raise TrainingDiverged(i, value, last_finite)
            last_finite = (i, value)
            solver.zero_grad()
            loss.backward(clear_buffer=True)
            solver.weight_decay(1e-5)
            solver.update()
            m_loss.add(i, value)
            m_time.add(i)
            curve_loss.append((i, value))
            if (i + 1) % max(steps // 10, 1) == 0 or i + 1 == steps:
                acc = held_out_accuracy()
                m_acc.add(i, acc)
                curve_acc.append((i, acc))
                bar.set_postfix(loss=f"{value:.3f}", held_out=f"{acc:.3f}", refresh=False)
            elif i % 10 == 0:
                bar.set_postfix(loss=f"{value:.3f}", refresh=False)
    bar.close()

    summary = [f"model {name}: {steps} steps, batch {batch_size}, lr {lr}",
               f"final training loss: {curve_loss[-1][1]:.4f}"]
    if siamese:
        acc_tr = _centroid_accuracy(model, xtr, ttr, xtr, ttr)
        acc_te = _centroid_accuracy(model, xtr, ttr, xte, tte)
        summary.append("accuracy of the nearest class centre in the 2-D embedding:")
    else:
        acc_tr, acc_te = _evaluate(model, xtr, ttr), _evaluate(model, xte, tte)
    summary += [f"training accuracy: {acc_tr:.4f}", f"held-out accuracy: {acc_te:.4f}"]

    written: List[str] = []
    notes: List[str] = []
    params_path: Optional[str] = None
    path = os.path.join(out, "params" + parameter_file_format())
    try:
        save_parameters(path)
        written.append(path)
        params_path = path
    except ImportError:  # .protobuf needs Google's protobuf where h5py is missing too
        notes.append(f"parameters not saved: writing them needs h5py or protobuf ({IO_HINT})")
    plots = _plots(out, name, curve_loss, curve_acc, model if siamese else None, images,
                   digits.target)
    if plots is None:
        notes.append('plots skipped: they need matplotlib (pip install "nablite[plot]")')
        plots = []
    written += plots
    summary += notes
    summary.append(f"wrote {', '.join(written + ['monitor logs'])} in {out}")
    return {"loss": curve_loss, "accuracy": curve_acc, "params": params_path,
            "train_accuracy": acc_tr, "test_accuracy": acc_te,
            "plot": plots[0] if plots else None, "plots": plots, "summary": summary}


def _embed(model: Model, images: np.ndarray) -> np.ndarray:
    x = Variable((len(images), 1, 8, 8))
    e = model(x, test=True)
    x.d = images
    e.forward(clear_buffer=True)
    return np.array(e.d, copy=True)


def _centroid_accuracy(model: Model, xref: np.ndarray, tref: np.ndarray, x: np.ndarray,
                       t: np.ndarray) -> float:
    ref, emb = _embed(model, xref), _embed(model, x)
    centres = np.stack([ref[tref.ravel() == k].mean(0) for k in range(10)])
    pred = np.argmin(((emb[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return float(np.mean(pred == t.ravel()))


def _plots(out: str, name: str, curve_loss: Curve, curve_acc: Curve, embed_model: Optional[Model],
           images: np.ndarray, targets: np.ndarray) -> Optional[List[str]]:
    """curves.png (and embedding.png for the siamese model); None without matplotlib."""
    if not _importable("matplotlib"):
        return None
    from .utils.plot import save_embedding, save_training_curves
    siamese = embed_model is not None
    paths = [save_training_curves(
        os.path.join(out, "curves.png"), tuple(np.array(curve_loss).T),
        tuple(np.array(curve_acc).T) if curve_acc else None,
        title=f"nablite train {name}: 8x8 digits, {len(curve_loss)} steps",
        loss_label=("contrastive loss\n(squared embedding distance)" if siamese
                    else "cross-entropy loss (nats)"),
        accuracy_label=("held-out accuracy\nof the nearest class centre" if siamese
                        else "held-out accuracy"))]
    if embed_model is not None:
        paths.append(save_embedding(
            os.path.join(out, "embedding.png"), _embed(embed_model, images), targets,
            title="nablite train siamese: the 1,797 digits in the learned 2-D embedding"))
    return paths
