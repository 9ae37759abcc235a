"""plot_series / plot_timer: PNG plots of the files MonitorSeries
(``*.series.txt``) and MonitorTimeElapsed (``*.timer.txt``) write."""
import os

import numpy as np

from ._common import CommandError, existing_file, handler

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNIT_NAMES = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _columns(path, columns, kind):
    existing_file(path, f"{kind} file")
    try:
        data = np.loadtxt(path, ndmin=2)
    except ValueError as e:
        raise CommandError(f"{path}: not a {kind} file ({e})") from None
    if data.size == 0:
        raise CommandError(f"{path}: the file holds no rows")
    if data.shape[1] <= max(columns):
        raise CommandError(f"{path}: a {kind} file has at least {max(columns) + 1} columns, "
                           f"this one {data.shape[1]}")
    return [data[:, c] for c in columns]


def _stem(path, suffix):
    name = os.path.basename(path)
    return name[:-len(suffix)] if name.endswith(suffix) else os.path.splitext(name)[0]


def _plot(opts, curves, title, ylabel, default_out):
    from ..utils.plot import _figure, _save
    labels = opts.label or []
    if labels and len(labels) != len(curves):
        raise CommandError(f"{len(labels)} --label for {len(curves)} files; give one per file "
                           f"or none")
    fig = _figure("nablite plot", (6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    for k, (name, (x, y)) in enumerate(curves):
        ax.plot(x, y, marker="o" if len(x) == 1 else None,  # one point: a dot, not nothing
                label=labels[k] if labels else name)
    ax.set_title(opts.title or title)
    ax.set_xlabel(opts.xlabel or "iteration")
    ax.set_ylabel(opts.ylabel or ylabel)
    ax.set_ylim(opts.ylim_min, opts.ylim_max)
    ax.set_xlim(opts.xlim_min, opts.xlim_max)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    out = opts.outfile or default_out
    _save(fig, out)
    print(f"wrote {out}")


@handler("plot_series")
def plot_series(opts):
    curves = []
    for path in opts.infile:
        x, y = _columns(path, (0, 1), "series")
        curves.append((_stem(path, ".series.txt"), (x, y)))
    first = curves[0][0]
    _plot(opts, curves, ", ".join(name for name, _ in curves), "value", f"{first}.png")


@handler("plot_timer")
def plot_timer(opts):
    if opts.time_unit not in _UNITS:
        raise CommandError(f"--time-unit must be one of s, m, h, d; got {opts.time_unit!r}")
    curves = []
    for path in opts.infile:
        x, per_interval, total = _columns(path, (0, 1, 3), "timer")
        y = total if opts.elapsed else per_interval
        curves.append((_stem(path, ".timer.txt"), (x, y / _UNITS[opts.time_unit])))
    unit = _UNIT_NAMES[opts.time_unit]
    what = "total elapsed time" if opts.elapsed else "time per interval"
    first = curves[0][0]
    _plot(opts, curves, f"{first}: {what}", f"{what} [{unit}]", f"{first}.png")


def _common_options(p):
    p.add_argument("infile", nargs="+", help="monitor file(s) to plot")
    p.add_argument("-l", "--label", action="append", help="legend label of each file, in order")
    p.add_argument("-o", "--outfile", help="image to write (default <first file's name>.png)")
    p.add_argument("-x", "--xlabel", help="x-axis label")
    p.add_argument("-y", "--ylabel", help="y-axis label")
    p.add_argument("-t", "--title", help="plot title")
    p.add_argument("-T", "--ylim-max", type=float, help="top of the y axis")
    p.add_argument("-B", "--ylim-min", type=float, help="bottom of the y axis")
    p.add_argument("-R", "--xlim-max", type=float, help="right end of the x axis")
    p.add_argument("-L", "--xlim-min", type=float, help="left end of the x axis")


def register(subparsers):
    p = subparsers.add_parser("plot_series", help="plot *.series.txt files (MonitorSeries)",
                              description="Plot the values MonitorSeries wrote, one curve "
                              "per file, into a PNG.")
    _common_options(p)
    p.set_defaults(handler=plot_series)

    p = subparsers.add_parser("plot_timer", help="plot *.timer.txt files (MonitorTimeElapsed)",
                              description="Plot the times MonitorTimeElapsed wrote, one curve "
                              "per file, into a PNG.")
    _common_options(p)
    p.add_argument("-e", "--elapsed", action="store_true",
                   help="plot the total time since the start instead of the time per interval")
    p.add_argument("-u", "--time-unit", default="s", help="unit of time: s, m, h or d")
    p.set_defaults(handler=plot_timer)
