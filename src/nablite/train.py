"""``nablite train``: the tutorial's models on the bundled digits, with a progress bar,
a monitor log, saved parameters and a loss/accuracy plot.
"""
import os

import numpy as np

from . import functions as F
from . import solvers as S
from . import tutorial
from .parameter import clear_parameters, get_parameters, save_parameters
from .random import seed as seed_all
from .variable import Variable


def _split(images, labels, rng, held_out=297):
    order = rng.permutation(len(images))
    test, train = order[:held_out], order[held_out:]
    return (images[train], labels[train]), (images[test], labels[test])


def _batches(n, batch_size, rng):
    """Endless shuffled mini-batch indices, reshuffled at every epoch."""
    while True:
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


def _evaluate(model, images, labels, batch_size=256):
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


def train_tutorial_model(name, steps=1000, batch_size=64, lr=None, seed=0, out="runs",
                         progress=True):
    """Train ``name`` ('logreg', 'mlp', 'cnn', 'rnn' or 'siamese') and write its files.

    Returns a dict with the accuracies, the paths written and summary lines.
    """
    from tqdm.auto import tqdm
    from .datasets import load_digits
    from .monitor import Monitor, MonitorSeries, MonitorTimeElapsed

    if steps <= 0 or batch_size <= 0:
        raise ValueError(f"nablite train: --steps and --batch-size must be positive, "
                         f"got {steps} and {batch_size}")
    os.makedirs(out, exist_ok=True)
    clear_parameters()
    seed_all(seed)
    rng = np.random.RandomState(seed)
    digits = load_digits(n_class=10)
    images = digits.images.astype(np.float32)[:, None]
    labels = digits.target.astype(np.int32)[:, None]
    (xtr, ttr), (xte, tte) = _split(images, labels, rng)
    lr = tutorial.LEARNING_RATES[name] if lr is None else lr

    siamese = name == "siamese"
    model = tutorial.siamese_embed if siamese else tutorial.MODELS[name]
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

    monitor = Monitor(out)
    m_loss = MonitorSeries("training loss", monitor, interval=10, verbose=False)
    m_acc = MonitorSeries("held-out accuracy", monitor, interval=1, verbose=False)
    m_time = MonitorTimeElapsed("training time", monitor, interval=max(steps, 1), verbose=False)
    curve_loss, curve_acc = [], []
    batches = _batches(len(xtr), batch_size, rng)
    bar = tqdm(range(steps), desc=f"train {name}", disable=not progress, unit="step")
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
        solver.zero_grad()
        loss.backward(clear_buffer=True)
        solver.weight_decay(1e-5)
        solver.update()
        value = float(loss.d)
        m_loss.add(i, value)
        curve_loss.append((i, value))
        if not siamese and ((i + 1) % max(steps // 10, 1) == 0 or i + 1 == steps):
            acc = _evaluate(model, xte, tte)
            m_acc.add(i, acc)
            curve_acc.append((i, acc))
            bar.set_postfix(loss=f"{value:.3f}", held_out=f"{acc:.3f}")
        elif i % 10 == 0:
            bar.set_postfix(loss=f"{value:.3f}")
    m_time.add(steps)

    params_path = os.path.join(out, "params.h5")
    save_parameters(params_path)
    summary = [f"model {name}: {steps} steps, batch {batch_size}, lr {lr}",
               f"final training loss: {curve_loss[-1][1]:.4f}"]
    result = {"loss": curve_loss, "params": params_path}
    if siamese:
        acc_tr = _centroid_accuracy(model, xtr, ttr, xtr, ttr)
        acc_te = _centroid_accuracy(model, xtr, ttr, xte, tte)
        summary.append("accuracy of the nearest class centre in the 2-D embedding:")
    else:
        acc_tr, acc_te = _evaluate(model, xtr, ttr), _evaluate(model, xte, tte)
    summary += [f"training accuracy: {acc_tr:.4f}", f"held-out accuracy: {acc_te:.4f}"]
    plot_path = os.path.join(out, "curves.png")
    _plot(plot_path, name, curve_loss, curve_acc)
    summary += [f"wrote {params_path}, {plot_path} and monitor logs in {out}"]
    result.update(train_accuracy=acc_tr, test_accuracy=acc_te, plot=plot_path,
                  summary=summary)
    return result


def _embed(model, images):
    x = Variable((len(images), 1, 8, 8))
    e = model(x, test=True)
    x.d = images
    e.forward()
    return e.d.copy()


def _centroid_accuracy(model, xref, tref, x, t):
    ref, emb = _embed(model, xref), _embed(model, x)
    centres = np.stack([ref[tref.ravel() == k].mean(0) for k in range(10)])
    pred = np.argmin(((emb[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return float(np.mean(pred == t.ravel()))


def _plot(path, name, curve_loss, curve_acc):
    from .utils.plot import save_curves
    series = {"training loss": tuple(np.array(curve_loss).T)}
    if curve_acc:
        series["held-out accuracy"] = tuple(np.array(curve_acc).T)
    save_curves(path, series, title=f"nablite train {name}", xlabel="step", ylabel="value")
