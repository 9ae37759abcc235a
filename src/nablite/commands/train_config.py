"""``nablite train -c CONFIG.nnp -o OUT``: train from an NNabla training
configuration (NNabla's ``nnabla_cli train``), with nablite's progress bar and
monitors.

The file gives the networks, the datasets (CSV files or NNabla cache folders;
relative paths are looked up from the working folder, then from the file's),
the optimizers (solver, data assignment, loss, weight decay, learning-rate
decay, update interval), the monitors and ``training_config`` (epochs,
iterations per epoch, monitor_interval, save_best). As NNabla's ``train``, it
starts from the parameters' initializer specs (_nnp/initializers.py: the same
numbers as NNabla's), not from the values the file holds; a parameter without a
spec starts at zero (with a warning). ``-p``/``--param`` loads parameters over
them (``-p CONFIG`` starts from the file's values); ``-r`` continues from OUT's
``results_current_<epoch>.nnp``. ``-C``/``--context`` says where it computes.

Monitors are evaluated as NNabla evaluates them: after epochs 1 to 5 and every
``monitor_interval``-th. OUT receives what ``nablite train`` writes: ``params.h5``
(``params.protobuf`` without h5py) and the monitor files (``cost.series.txt``,
one ``<monitor>.series.txt`` per monitor, ``training-time.timer.txt``); and, as
NNabla writes them, ``results.nnp`` (the configuration with the parameters of
the last evaluation, or with ``save_best`` of the one with the lowest
``valid_error``), ``results_current_<epoch>.nnp`` (the last epoch's),
``network.nntxt`` (the configuration) and ``monitoring_report.yml``.
"""
import glob
import re
import math
import os
import sys

import numpy as np

from ._common import CommandError, existing_file, quiet


def main(opts):
    """Train as ``opts`` says (``config``, ``outdir``, ``no_progress``); the exit status."""
    from .. import train as _train
    from ..context import context_scope
    try:
        ctx = _train._context(getattr(opts, "context", "cpu"))
        with context_scope(ctx):
            summary = train(opts.config, opts.outdir or os.path.join(
                "runs", os.path.splitext(os.path.basename(opts.config))[0]),
                param=getattr(opts, "param", None), progress=not opts.no_progress,
                resume=getattr(opts, "resume", False))
    except _train.TrainingError as e:
        print(f"nablite train: {e}", file=sys.stderr)
        return 1
    except (CommandError, FileNotFoundError, ValueError, TypeError, KeyError, ImportError,
            RuntimeError, NotImplementedError) as e:
        message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        print(f"nablite train: {message.splitlines()[0]}", file=sys.stderr)
        return 1
    for line in summary:
        print(line)
    return 0


def _dataset_path(uri, config):
    if os.path.exists(uri):
        return uri
    beside = os.path.join(os.path.dirname(os.path.abspath(config)), uri)
    if os.path.exists(beside):
        return beside
    raise CommandError(f"{config}: dataset {uri!r} is neither in the working folder nor "
                       f"next to the configuration")


def _iterator(record, batch_size, config, shuffle=None):
    """A data iterator over a dataset record of the configuration."""
    from ..utils.data_iterator import data_iterator_cache, data_iterator_csv_dataset
    path = _dataset_path(record.uri, config)
    shuffle = record.shuffle if shuffle is None else shuffle
    normalize = not record.no_image_normalization
    with quiet():
        if os.path.isdir(path):
            return data_iterator_cache(path, batch_size, shuffle=shuffle, normalize=normalize)
        return data_iterator_csv_dataset(path, batch_size, shuffle=shuffle, normalize=normalize,
                                         with_file_cache=False, use_thread=False)


def _feed(assignments, network, it, where):
    """Load the next batch of ``it`` into the variables of ``assignments``
    (proto data_variable entries: variable name -> data name)."""
    names = list(it.variables)
    batch = dict(zip(names, it.next()))
    for a in assignments:
        if a.data_name not in batch:
            raise CommandError(f"{where}: the dataset has no {a.data_name!r} (it has "
                               f"{', '.join(names)})")
        entry = network.variables.get(a.variable_name)
        if entry is None:
            raise CommandError(f"{where}: network {network.name!r} has no variable "
                               f"{a.variable_name!r}")
        v = entry.variable_instance
        data = np.asarray(batch[a.data_name])
        if data.size != v.size:
            raise CommandError(f"{where}: {a.data_name!r} gives batches of shape "
                               f"{data.shape}; variable {a.variable_name!r} is {tuple(v.shape)}")
        v.d = data.reshape(v.shape)


def _monitor_value(m, it, config):
    """The mean of the monitor's variables over one pass of its dataset."""
    batch = next(iter(m.network.inputs.values())).shape[0] if m.network.inputs else 1
    steps = max(int(math.ceil(it.size / batch)), 1)
    total = 0.0
    for _ in range(steps):
        _feed(m.proto.data_variable, m.network, it, f"{config}: monitor {m.name!r}")
        watched = [v.variable_instance for v in m.monitor_variables]
        for v in watched:
            v.forward(clear_no_need_grad=True)
        total += float(np.mean([np.mean(v.d) for v in watched]))
    return total / steps


def _write_report(path, report):
    from .._atomic_file import atomic_write
    lines = []
    for epoch, values in report.items():
        lines.append(f"{epoch}:")
        lines += [f"  {k}: {v!r}" for k, v in values.items()]

    def write(tmp):
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
    atomic_write(path, write)


def _latest_current(out):
    """(epoch, path) of OUT's newest results_current_<epoch>.nnp, or None."""
    found = []
    for path in glob.glob(os.path.join(out, "results_current_*.nnp")):
        m = re.fullmatch(r"results_current_(\d+)\.nnp", os.path.basename(path))
        if m:
            found.append((int(m.group(1)), path))
    return max(found) if found else None


def _save_results(path, files, params):
    """The configuration with ``params`` (name -> array) as an .nnp at ``path``."""
    from .._nnp.files import read_network_files, write_network_file
    proto, _ = read_network_files(files[:1])
    write_network_file(path, proto, [(k, a, g) for k, (a, g) in params.items()])


def train(config, out, param=None, progress=True, resume=False):
    """Train from ``config``; writes into ``out`` and returns summary lines."""
    from .. import train as _train
    from .._nnp.files import read_network_files, write_network_file
    from ..logger import progress_bar
    from ..monitor import Monitor, MonitorSeries, MonitorTimeElapsed
    from .._nnp.initializers import parameter_initializers
    from ..parameter import _assign_parameters, get_parameters, save_parameters
    from ..utils.load import load

    files = [existing_file(config, "configuration")]
    if param:
        files.append(existing_file(param, "parameter file"))
    start_epoch = 0
    if resume:
        current = _latest_current(out)
        if current is None:
            raise CommandError(f"-r/--resume: {out} holds no results_current_<epoch>.nnp to "
                               "continue from")
        start_epoch = current[0]
        files.append(current[1])
    with quiet():  # as NNabla's train: the configuration's parameter values are left out
        info = load(files, exclude_parameter=True)
        given = read_network_files(files[1:])[1] if files[1:] else []
        _assign_parameters(given, ", ".join(files[1:]))
    if not info.optimizers:
        raise CommandError(f"{config} has no optimizer: it is not a training configuration")
    tc = info.training_config
    max_epoch = int(tc.max_epoch) or 1
    interval = int(tc.monitor_interval) if tc.monitor_interval > 0 else 10  # (NNabla: 0 is 10)
    try:
        _train.prepare_out(out)
    except _train.TrainingError as e:
        raise CommandError(str(e)) from None

    optimizers = list(info.optimizers.values())
    train_its = {}
    for o in optimizers:
        if not o.dataset_name:
            raise CommandError(f"{config}: optimizer {o.name!r} names no dataset")
        record = info.datasets.get(o.dataset_name[0])
        if record is None:
            raise CommandError(f"{config}: optimizer {o.name!r} names dataset "
                               f"{o.dataset_name[0]!r}, which the file does not define")
        batch = next(iter(o.network.inputs.values())).shape[0] if o.network.inputs else 1
        train_its[o.name] = _iterator(record, batch, config)
    iter_per_epoch = int(tc.iter_per_epoch) or max(
        int(math.ceil(next(iter(train_its.values())).size /
                      next(iter(optimizers[0].network.inputs.values())).shape[0])), 1)
    monitor_its = {}
    for m in info.monitors.values():
        record = info.datasets.get(m.dataset_name[0]) if m.dataset_name else None
        if record is None:
            raise CommandError(f"{config}: monitor {m.name!r} names no dataset the file defines")
        batch = next(iter(m.network.inputs.values())).shape[0] if m.network.inputs else 1
        monitor_its[m.name] = _iterator(record, batch, config, shuffle=False)

    zero = sorted(set(get_parameters(grad_only=False)) - {k for k, _, _ in given}
                  - set(parameter_initializers(info.proto, None)))
    if zero:
        print(f"nablite train: {config} gives no initializer for {', '.join(zero[:3])}"
              f"{' ...' if len(zero) > 3 else ''}: they start at zero, as in NNabla's train "
              f"(-p {config} starts from the values the file holds)", file=sys.stderr)
    monitor = Monitor(out)
    m_cost = MonitorSeries("cost", monitor, interval=1, verbose=False)
    m_values = {name: MonitorSeries(name, monitor, interval=1, verbose=False)
                for name in monitor_its}
    m_time = MonitorTimeElapsed("training time", monitor, interval=1, verbose=False)
    for o in optimizers:
        o.solver.zero_grad()
    report, iteration, best, evaluated = {}, 0, None, None
    if start_epoch >= max_epoch:
        raise CommandError(f"-r/--resume: {out} is at epoch {start_epoch} of {max_epoch} "
                           "already")
    bar = progress_bar(range(start_epoch * iter_per_epoch, max_epoch * iter_per_epoch),
                       desc=f"train {os.path.basename(config)}", disable=not progress,
                       unit="it")
    costs = []
    with np.errstate(over="ignore", invalid="ignore"):
        for iteration in bar:
            epoch = iteration // iter_per_epoch
            for o in optimizers:
                if o.end_iter and not o.start_iter <= iteration < o.end_iter:
                    continue
                _feed(o.proto.data_variable, o.network, train_its[o.name],
                      f"{config}: optimizer {o.name!r}")
                losses = [v.variable_instance for v in o.loss_variables]
                for v in losses:
                    v.forward(clear_no_need_grad=True)
                value = float(np.mean([np.mean(v.d) for v in losses]))
                if not math.isfinite(value):
                    bar.close()
                    raise CommandError(f"the loss of optimizer {o.name!r} became {value} at "
                                       f"iteration {iteration}; stopped without saving")
                costs.append(value)
                for v in losses:
                    v.backward(clear_buffer=len(losses) == 1)
                if (iteration + 1) % o.update_interval == 0:
                    if o.weight_decay:
                        o.solver.weight_decay(o.weight_decay)
                    o.solver.update()
                    o.solver.zero_grad()
                if o.lr_decay != 1 and (iteration + 1) % max(o.lr_decay_interval, 1) == 0:
                    o.solver.set_learning_rate(o.solver.learning_rate() * o.lr_decay)
            bar.set_postfix(cost=f"{costs[-1]:.4f}", refresh=False)
            if (iteration + 1) % iter_per_epoch == 0:
                cost = float(np.mean(costs))
                costs = []
                m_cost.add(epoch, cost)
                report[epoch] = {"cost": cost}
                if (epoch + 1) % interval == 0 or epoch + 1 <= 5:  # NNabla's epochs
                    for name, it in monitor_its.items():
                        value = _monitor_value(info.monitors[name], it, config)
                        m_values[name].add(epoch, value)
                        report[epoch][name] = value
                    error = report[epoch].get("valid_error", 0.0)
                    if not tc.save_best or not best or error <= best:
                        best = error  # results.nnp: these parameters (as NNabla's)
                        evaluated = {k: (v.d.copy(), v.need_grad)
                                     for k, v in get_parameters(grad_only=False).items()}
                m_time.add(epoch)
    bar.close()

    written = []
    params = get_parameters(grad_only=False)
    path = os.path.join(out, "params" + _train.parameter_file_format())
    with quiet():
        save_parameters(path, params)
    written.append(path)
    final = {k: (v.d, v.need_grad) for k, v in params.items()}
    results = os.path.join(out, "results.nnp")
    _save_results(results, files, evaluated if evaluated is not None else final)
    for old in glob.glob(os.path.join(out, "results_current_*.nnp")):
        os.remove(old)
    current = os.path.join(out, f"results_current_{max_epoch}.nnp")
    _save_results(current, files, final)
    proto, _ = read_network_files(files[:1])
    network = os.path.join(out, "network.nntxt")
    write_network_file(network, proto, [])
    written += [results, current, network]
    report_path = os.path.join(out, "monitoring_report.yml")
    _write_report(report_path, report)
    written.append(report_path)
    last = report[max(report)] if report else {}
    summary = [f"{config}: {max_epoch} epochs of {iter_per_epoch} iterations"]
    summary += [f"final {k}: {v:.6g}" for k, v in last.items()]
    summary.append(f"wrote {', '.join(written + ['monitor logs'])}")
    return summary
