"""PNG figures of training runs (matplotlib's Agg canvas: no window, pyplot untouched).

- ``save_curves``: several curves on one pair of axes.
- ``save_stacked_curves``: quantities of different units, each on its own axes,
  one above the other with a shared x axis.
- ``save_training_curves``: the loss and, below it on its own axes, the accuracy.
- ``save_embedding``: 2-D points coloured by class, one legend entry per class.

Each figure has a title, labelled axes and a legend placed where it does not
cover the data. Needs matplotlib (``pip install "nablite[plot]"``).
"""
import os
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["save_curves", "save_stacked_curves", "save_training_curves", "save_embedding",
           "PLOT_HINT"]

PLOT_HINT = 'pip install "nablite[plot]"'
Curve = Tuple[ArrayLike, ArrayLike]   # (x values, y values)


def _figure(fn: str, figsize: Tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        raise ImportError(f"{fn} needs matplotlib; install it with {PLOT_HINT}") from e
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str) -> str:
    """Write the figure atomically, in the format its extension names (PNG if none)."""
    from .._atomic_file import atomic_write
    fmt = os.path.splitext(os.fspath(path))[1][1:].lower() or "png"
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt))
    return path


def _pair(fn: str, label: str, xy: Any) -> Tuple[np.ndarray, np.ndarray]:
    try:
        x, y = xy
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: series[{label!r}] must be a pair (x, y), "
                         f"got {type(xy).__name__}") from None
    if len(x) != len(y):
        raise ValueError(f"{fn}: series[{label!r}] has {len(x)} x values but {len(y)} y values")
    return np.asarray(list(x), dtype=float), np.asarray(list(y), dtype=float)


def save_curves(path: str, series: Mapping[str, Curve], title: str = "",
                xlabel: str = "iteration", ylabel: str = "value", xscale: str = "linear",
                yscale: str = "linear") -> str:
    """Save a line plot of several curves to a PNG file.

    Args:
        path (str): Output file (the extension picks the format, e.g. .png).
        series (dict): ``{label: (x, y)}``; each curve is drawn with its
            label in the legend.
        title (str): Plot title.
        xlabel (str): Label of the x axis (with its unit).
        ylabel (str): Label of the y axis (with its unit).
        xscale, yscale (str): matplotlib axis scales ('linear', 'log', ...).

    Returns:
        str: ``path``.
    """
    if not isinstance(series, Mapping):
        raise TypeError(f"save_curves: series must be a dict of "
                        f"label -> (x, y), got {type(series).__name__}")
    curves = {label: _pair("save_curves", label, xy) for label, xy in series.items()}
    fig = _figure("save_curves", (6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    for label, (x, y) in curves.items():
        ax.plot(x, y, label=str(label))
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return _save(fig, path)


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    kernel = np.ones(window) / window
    return np.convolve(y, kernel, mode="valid")


def save_stacked_curves(path: str, panels: Sequence[Tuple[str, Mapping[str, Curve]]],
                        title: str = "", xlabel: str = "iteration") -> str:
    """Save curves of different units on separate axes, stacked, sharing the x axis.

    Args:
        path (str): Output file (the extension picks the format, e.g. .png).
        panels (sequence): ``(ylabel, {label: (x, y)})`` per axes, top first; the
            y label names the quantity and its unit.
        title (str): Title above the top axes.
        xlabel (str): Label of the shared x axis (with its unit), under the bottom one.

    Returns:
        str: ``path``.
    """
    if isinstance(panels, Mapping) or not len(panels):
        raise TypeError("save_stacked_curves: panels must be a non-empty sequence of "
                        f"(ylabel, {{label: (x, y)}}) pairs, got {type(panels).__name__}")
    fig = _figure("save_stacked_curves", (6.4, 2.2 + 2.0 * len(panels)))
    first = None
    for i, (ylabel, series) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, i + 1, sharex=first)
        first = first or ax
        for label, xy in series.items():
            x, y = _pair("save_stacked_curves", label, xy)
            ax.plot(x, y, label=str(label), color=f"C{i}" if len(series) == 1 else None)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
        if i == 0:
            ax.set_title(title)
        if i < len(panels) - 1:
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel(xlabel)
    return _save(fig, path)


def save_training_curves(path: str, loss: Curve, accuracy: Optional[Curve] = None,
                         title: str = "", xlabel: str = "step (solver updates)",
                         loss_label: str = "training loss",
                         accuracy_label: str = "held-out accuracy") -> str:
    """The loss per step (with its moving average) and, on separate axes below,
    the accuracy at the evaluation steps (a fraction, 0 to 1)."""
    steps, values = _pair("save_training_curves", "loss", loss)
    fig = _figure("save_training_curves", (6.4, 6.0 if accuracy is not None else 4.2))
    rows = 2 if accuracy is not None else 1
    ax = fig.add_subplot(rows, 1, 1)
    ax.plot(steps, values, color="tab:blue", alpha=0.35, linewidth=0.8, label="per step")
    window = max(len(values) // 20, 1)
    if window > 1:
        ax.plot(steps[window - 1:], _moving_average(values, window), color="tab:blue",
                label=f"moving average ({window} steps)")
    ax.set_title(title)
    ax.set_ylabel(loss_label)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    if accuracy is None:
        ax.set_xlabel(xlabel)
    else:
        ax.tick_params(labelbottom=False)
        acc_steps, acc = _pair("save_training_curves", "accuracy", accuracy)
        ax2 = fig.add_subplot(2, 1, 2, sharex=ax)
        ax2.plot(acc_steps, acc, "o-", color="tab:orange", label=accuracy_label)
        ax2.set_ylim(0, 1.05)
        ax2.set_xlabel(xlabel)
        ax2.set_ylabel(f"{accuracy_label}\n(fraction correct)")
        ax2.grid(True, alpha=0.3)
        ax2.legend(loc="best", fontsize="small", framealpha=0.8)
    return _save(fig, path)


def save_embedding(path: str, points: Any, labels: Any, title: str = "",
                   xlabel: str = "embedding dimension 1",
                   ylabel: str = "embedding dimension 2") -> str:
    """2-D points coloured by integer class (tab10: 10 distinguishable colours),
    with a legend of the classes beside the axes."""
    points, labels = np.asarray(points), np.asarray(labels).ravel()
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"save_embedding: points must be (N, 2) and labels (N,), got "
                         f"{points.shape} and {labels.shape}")
    fig = _figure("save_embedding", (7.5, 6.0))
    ax = fig.add_subplot(1, 1, 1)
    cmap = _tab10()
    for k in np.unique(labels):
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=10, color=cmap(int(k) % 10),
                   label=str(k))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(title="digit", loc="center left", bbox_to_anchor=(1.01, 0.5),
              markerscale=2, fontsize="small")
    return _save(fig, path)


def _tab10() -> Any:
    from matplotlib import colormaps
    return colormaps["tab10"]

