"""Small plotting helper for loss and accuracy curves (matplotlib, Agg)."""

__all__ = ["save_curves"]


def save_curves(path, series, title="", xlabel="iteration", ylabel="value"):
    """Save a line plot of several curves to a PNG file.

    Args:
        path (str): Output file (the extension picks the format, e.g. .png).
        series (dict): ``{label: (x, y)}``; each curve is drawn with its
            label in the legend.
        title (str): Plot title.
        xlabel (str): Label of the x axis.
        ylabel (str): Label of the y axis.

    Returns:
        str: ``path``.

    The figure is drawn with matplotlib's Agg canvas, so no window is ever
    opened and the global pyplot state is left alone. Needs matplotlib
    (``pip install nablite[plot]``).
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("save_curves needs matplotlib; install it with "
                          "`pip install nablite[plot]`") from e
    if not isinstance(series, dict):
        raise TypeError(f"save_curves: series must be a dict of "
                        f"label -> (x, y), got {type(series).__name__}")
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label, xy in series.items():
        try:
            x, y = xy
        except (TypeError, ValueError):
            raise ValueError(f"save_curves: series[{label!r}] must be a pair "
                             f"(x, y), got {type(xy).__name__}")
        if len(x) != len(y):
            raise ValueError(f"save_curves: series[{label!r}] has {len(x)} x "
                             f"values but {len(y)} y values")
        ax.plot(list(x), list(y), label=str(label))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path
