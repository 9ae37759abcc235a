"""Commands on model files (.nnp, .nntxt, .protobuf, .onnx): infer, forward,
dump, convert, draw_graph.

They read files through nablite.utils.load / nnp_graph (and nablite.onnx for
ONNX), so a file these commands accept is one nablite's Python API accepts.
"""
import csv
import os
import tempfile
from collections import OrderedDict

import numpy as np

from ._common import CommandError, existing_file, handler, quiet

MODEL_EXTENSIONS = (".nnp", ".nntxt", ".prototxt", ".protobuf", ".onnx")
_DATA_TYPES = {"uint8": np.uint8, "int32": np.int32, "float32": np.float32}


def _ext(path):
    return os.path.splitext(os.fspath(path))[1].lower()


def model_file(path, parameters_too=False):
    existing_file(path, "model file")
    if _ext(path) not in MODEL_EXTENSIONS + ((".h5",) if parameters_too else ()):
        raise CommandError(f"{path}: not a model file nablite reads (expected one of "
                           f"{', '.join(MODEL_EXTENSIONS)})")
    return path


def read_model(path, params=False, onnx=None):
    """The NNablaProtoBuf of a model file (ONNX converted first: by extension, or
    when ``onnx`` says so); with ``params``, also its [(key, array, need_grad)]
    parameters."""
    from .._nnp.files import read_network_files
    existing_file(path, "model file")
    if onnx is None:
        model_file(path)
    if onnx or (onnx is None and _ext(path) == ".onnx"):
        with tempfile.TemporaryDirectory() as tmp:
            from ..onnx import onnx_to_nnp
            nnp = os.path.join(tmp, "model.nnp")
            with quiet():
                onnx_to_nnp(path, nnp)
            proto, items = read_network_files([nnp])
    else:
        proto, items = read_network_files([path])
    return (proto, items) if params else proto


def _load(config, param=None, batch_size=None):
    from ..utils.load import load
    files = [model_file(config)]
    if param:
        files.append(existing_file(param, "parameter file"))
    return load(files, batch_size=batch_size)


def _executor(info, config):
    if not info.executors:
        raise CommandError(f"{config} has no executor (an executor names the network, its "
                           f"inputs and outputs; nablite.utils.save.save writes one from "
                           f"contents['executors'])")
    return next(iter(info.executors.values()))


def _batch(b):
    return None if b == -1 else b


# -- infer -----------------------------------------------------------------------
@handler("infer")
def infer(opts):
    info = _load(opts.config, opts.param, _batch(opts.batch_size))
    e = _executor(info, opts.config)
    inputs, outputs = _inputs(e), _outputs(e)
    if len(opts.inputs) != len(inputs):
        raise CommandError(f"the executor {e.name!r} takes {len(inputs)} input file(s) "
                           f"({', '.join(inputs.values())}), got {len(opts.inputs)}")
    dtype = _DATA_TYPES.get(opts.data_type)
    if dtype is None:
        raise CommandError(f"-t/--data_type must be one of {', '.join(_DATA_TYPES)}, "
                           f"got {opts.data_type!r}")
    for x, path in zip(inputs, opts.inputs):
        existing_file(path, "input file")
        if os.path.getsize(path) != x.size * np.dtype(dtype).itemsize:
            raise CommandError(f"{path} holds {os.path.getsize(path)} bytes; input "
                               f"{inputs[x]!r} of shape {tuple(x.shape)} needs "
                               f"{x.size} {opts.data_type} values")
        x.d = np.fromfile(path, dtype).reshape(x.shape).astype(np.float32)
    e.forward_target.forward()
    if opts.output:
        # NNabla's files: one per output, or one per sample when there is one output
        arrays = [np.asarray(y.d, np.float32) for y in outputs]
        pieces = list(arrays[0]) if len(arrays) == 1 else arrays
        from .._atomic_file import atomic_write
        for k, a in enumerate(pieces):
            data = np.ascontiguousarray(a)
            atomic_write(f"{opts.output}_{k}.bin", lambda tmp: data.tofile(tmp))
            print(f"wrote {opts.output}_{k}.bin (shape {data.shape})")
    else:
        for y in outputs:
            print(f"{outputs[y]} {tuple(y.shape)}:")
            print(np.array2string(np.asarray(y.d), threshold=1000))


# -- forward ---------------------------------------------------------------------
def _dataset_uri(opts, info):
    if opts.dataset:
        return existing_file(opts.dataset, "dataset")
    if not info.datasets:
        raise CommandError(f"give the dataset CSV with -d/--dataset ({opts.config} names none)")
    return next(iter(info.datasets.values())).uri


def _inputs(e):
    """OrderedDict Variable -> data name of the executor's inputs."""
    return OrderedDict((v.variable_instance, name) for v, name in e.dataset_assign.items())


def _outputs(e):
    """OrderedDict Variable -> data name of the executor's outputs."""
    return OrderedDict((v.variable_instance, name) for v, (_, name) in e.output_assign.items())


def _output_kind(shape):
    """How forward writes a per-sample output of ``shape``, as NNabla decides by rank:
    ("csv", 1) for a matrix, ("png", files) for maps (one RGB or grayscale image
    for 1 or 3 maps, else one grayscale image a map), ("col", n) for n values."""
    if len(shape) == 2:
        return "csv", 1
    if len(shape) == 3:
        return "png", 1 if shape[0] in (1, 3) else shape[0]
    return "col", int(np.prod(shape))


def _columns(name, shape):
    """Result columns of an output: its name, or name__<i> when it fills several."""
    n = _output_kind(shape)[1]
    return [name] if n == 1 else [f"{name}__{i}" for i in range(n)]


def _pixels(maps, k):
    """The uint8 image of map ``k`` of (C, H, W) ``maps``: values times 255,
    clipped and truncated as NNabla does; (H, W, 3) for 3 maps, (H, W) otherwise."""
    with np.errstate(invalid="ignore"):  # NaN casts to some byte, as in NNabla
        x = (np.asarray(maps, np.float32) * np.float32(255)).clip(0, 255).astype(np.uint8)
    if x.shape[0] == 3:
        return x.transpose(1, 2, 0)
    return x[k] if x.shape[0] > 1 else x[0]


def _write_sample_file(path, value, kind, k):
    from PIL import Image

    from .._atomic_file import atomic_write
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "png":
        image = Image.fromarray(_pixels(value, k))
        atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
        return

    def write_rows(tmp):
        with open(tmp, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([[str(v) for v in r] for r in value])
    atomic_write(path, write_rows)


def _sample_cells(opts, k, row, value):
    """The result cells of output number ``k`` for sample ``row``, writing its files
    as NNabla names them: <k>_<row // 1000>/[<map>_]<row>.<csv|png> under
    OUTDIR/RESULT_OUTDIR, each cell './RESULT_OUTDIR/<that name>'."""
    kind, n = _output_kind(value.shape)
    if kind == "col":
        return [str(v) for v in value.reshape(-1)]
    cells = []
    for m in range(n):
        name = os.path.join(f"{k}_{row // 1000:04d}",
                            f"{m}_{row}.{kind}" if n > 1 else f"{row}.{kind}")
        _write_sample_file(os.path.join(opts.outdir, opts.result_outdir or "", name),
                           value, kind, m)
        cells.append(os.path.join(".", opts.result_outdir or "", name))
    return cells


@handler("forward")
def forward(opts):
    from .._atomic_file import atomic_write
    from ..utils.data_iterator import data_iterator_csv_dataset
    info = _load(opts.config, opts.param, _batch(opts.batch_size))
    _executor(info, opts.config)
    executors = list(info.executors.values())  # NNabla runs them all, outputs in turn
    uri = _dataset_uri(opts, info)
    batch = next(iter(_inputs(executors[0]))).shape[0]
    with open(uri, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f)]
    header, rows = rows[0], [row for row in rows[1:] if row]
    if opts.replace_path:
        base = os.path.dirname(os.path.abspath(uri))
        rows = [[os.path.join(base, c) if os.path.exists(os.path.join(base, c)) else c
                 for c in row] for row in rows]
    with quiet():  # the iterator's INFO lines say nothing a user of this command needs
        it = data_iterator_csv_dataset(uri, batch, shuffle=False, normalize=not any(
            e.no_image_normalization for e in executors), with_file_cache=False,
            use_thread=False)
    names = list(it.variables)
    missing = [n for e in executors for n in _inputs(e).values() if n not in names]
    if missing:
        raise CommandError(f"{uri} has no column for {', '.join(missing)} (it has "
                           f"{', '.join(names)})")
    os.makedirs(opts.outdir, exist_ok=True)

    def dotted(cell, column):
        if column.startswith("#") or not cell:
            return cell
        try:
            float(cell)
            return cell
        except ValueError:
            return cell if os.path.isabs(cell) or cell.startswith("./") else "./" + cell
    rows = [[dotted(c, h) for c, h in zip(row, header)] + row[len(header):] for row in rows]
    results, columns, done = [], None, 0
    from ..logger import progress_bar
    with progress_bar(None, desc="forward", total=it.size, unit="row") as bar:
        while done < it.size:
            data = dict(zip(names, it.next()))
            outputs = []
            for e in executors:
                for x, name in _inputs(e).items():
                    x.d = np.asarray(data[name]).reshape(x.shape)
                e.forward_target.forward()
                outputs += [(name, np.asarray(y.d, np.float32)) for y, name in
                            _outputs(e).items()]
            if columns is None:
                columns = [c for name, d in outputs for c in _columns(name, d.shape[1:])]
            # as NNabla: every sample of the batch gets its files, also the ones the
            # iterator adds past the last row to fill the batch; only rows get a line
            for i in range(batch):
                cells = [c for k, (_, d) in enumerate(outputs)
                         for c in _sample_cells(opts, k, done + i, d[i])]
                if done + i < it.size:
                    results.append(rows[done + i] + cells)
            n = min(batch, it.size - done)
            done += n
            bar.update(n)
    out = os.path.join(opts.outdir, opts.outfile)

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header + columns)
            w.writerows(results)
    atomic_write(out, write)
    print(f"wrote {out} ({len(results)} rows)")


# -- dump ------------------------------------------------------------------------
# The layout is nnabla_cli dump's, line for line (after its version banner):
# "Importing" each file, " Expanding" each network, then the optimizers, monitors
# and executors, each with its variables (and -n / -F / -V from its network);
# -v instead walks the whole message as NNabla's code does.
_ARG_LABELS = {"data_variable": " (In) Data     ", "generator_variable": " (In) Generator",
               "loss_variable": " (Out)Loss     ", "output_variable": " (Out)Output   ",
               "monitor_variable": " (Out)Monitor  "}
_SECTIONS = (("optimizer", "  Optimizer[{}]: ", ("data_variable", "generator_variable",
                                                   "loss_variable")),
             ("monitor", "  Monitor  [{}]: ", ("data_variable", "generator_variable",
                                                 "monitor_variable")),
             ("executor", "  Executor [{}]: ", ("data_variable", "generator_variable",
                                                  "loss_variable", "output_variable")))
_UNEXPANDED = ("RepeatStart", "RepeatEnd", "RecurrentInput", "RecurrentOutput", "Delay")


def _dump_format(opts):
    fmt = (opts.import_format or "").upper()
    if not fmt:  # NNabla guesses from the extension of a single file only
        one = opts.files[0] if len(opts.files) == 1 else ""
        fmt = "ONNX" if _ext(one) == ".onnx" else "NNP"
    if fmt not in ("NNP", "ONNX"):
        raise CommandError(f"-I/--import-format: nablite reads NNP and ONNX, got {fmt!r}")
    return fmt


def _add_parameters(proto, params):
    for key, array, need_grad in params:
        p = proto.parameter.add()
        p.variable_name = key
        p.shape.dim.extend(array.shape)
        p.data.extend(np.asarray(array, np.float32).reshape(-1).tolist())
        p.need_grad = bool(need_grad)


def _start_parameters(proto):
    """As NNabla's importer: a model without any parameter values gets the ones
    its first executor's network starts with (initializer specs, RandomState(0))."""
    from .._nnp.initializers import initializer_of
    nets = {n.name: n for n in proto.network}
    net = nets.get(proto.executor[0].network_name) if proto.executor else None
    if proto.parameter or net is None:
        return
    rng = np.random.RandomState(0)
    for v in net.variable:
        if v.type == "Parameter":
            shape = [d if d >= 1 else net.batch_size for d in v.shape.dim]
            init = initializer_of(v, rng)
            data = init(shape) if init is not None else np.zeros(shape)
            _add_parameters(proto, [(v.name, np.asarray(data), False)])


def _import_for_dump(opts, fmt):
    """The model as NNabla's importer leaves it for dump, printing its progress lines."""
    from .._nnp.files import read_network_files
    if fmt == "ONNX":
        if len(opts.files) != 1:
            raise CommandError(f"-I ONNX reads one file, got {len(opts.files)}")
        proto, params = read_model(opts.files[0], params=True, onnx=True)
        _add_parameters(proto, params)
        return proto
    for path in opts.files:
        existing_file(path, "model file")
    for path in opts.files:
        print(f"Importing {path}")
    proto, params = read_network_files(list(opts.files))
    _add_parameters(proto, params)
    _start_parameters(proto)
    if opts.nnp_import_executor_index is not None:
        _keep_one_executor(proto, opts)
    if not opts.nnp_no_expand_network:
        for net in proto.network:
            _expand(net, opts)
        for section in (proto.optimizer, proto.executor):
            for item in section:
                names = sorted(pv.variable_name for pv in item.parameter_variable)
                del item.parameter_variable[:]
                for n in names:
                    item.parameter_variable.add().variable_name = n
    return proto


def _keep_one_executor(proto, opts):
    """-E K: only executor K and its network, no optimizers or monitors (negative
    K counts from the end, as NNabla indexes)."""
    k, executors = opts.nnp_import_executor_index, list(proto.executor)
    if not -len(executors) <= k < len(executors):
        raise CommandError(f"{', '.join(opts.files)} has {len(executors)} executor(s); "
                           f"-E {k} is none")
    e = executors[k]
    print(f" Try to leave only executor[{e.name}].")
    net = [n for n in proto.network if n.name == e.network_name]
    if not net:
        raise CommandError(f"executor {e.name!r} names network {e.network_name!r}, "
                           f"which {', '.join(opts.files)} does not have")
    e, net = type(e)(), type(net[-1])()
    e.CopyFrom(executors[k])
    net.CopyFrom([n for n in proto.network if n.name == e.network_name][-1])
    for field in ("optimizer", "monitor", "network", "executor"):
        proto.ClearField(field)
    proto.network.add().CopyFrom(net)
    proto.executor.add().CopyFrom(e)


def _expand(net, opts):
    print(f" Expanding {net.name}.")
    if net.repeat_info or any(f.type in _UNEXPANDED for f in net.function):
        raise CommandError(f"network {net.name!r} of {', '.join(opts.files)} repeats or "
                           f"recurs (RepeatStart, RecurrentInput, Delay), which nablite does "
                           f"not expand; add --nnp-no-expand-network")
    order = _topological_order(list(net.function), net.name)
    functions = [type(f)() for f in order]
    for copy, f in zip(functions, order):
        copy.CopyFrom(f)
    del net.function[:]
    net.function.extend(functions)


def _topological_order(functions, net_name):
    """The functions in NNabla's expander order: a depth-first walk from each
    function in file order to the functions reading its outputs, each function
    placed before everything it feeds (reverse post-order)."""
    def readers(f):  # one entry per input slot reading an output, in file order
        return iter([g for out in f.output for g in functions for i in g.input if i == out])
    state, order = {}, []  # state: 1 while on the walk's path, 2 once placed
    for root in functions:
        if root.name in state:
            continue
        state[root.name] = 1
        stack = [(root, readers(root))]
        while stack:
            f, nexts = stack[-1]
            g = next(nexts, None)
            if g is None:
                stack.pop()
                state[f.name] = 2
                order.append(f)
            elif state.get(g.name) == 1:
                raise CommandError(f"network {net_name!r} has a cycle through function "
                                   f"{g.name!r}")
            elif g.name not in state:
                state[g.name] = 1
                stack.append((g, readers(g)))
    return order[::-1]


def _check_parameters(proto, path):
    have = {p.variable_name for p in proto.parameter}
    for net in proto.network:
        for v in net.variable:
            if v.type == "Parameter" and v.name not in have:
                raise CommandError(f"{path}: parameter {v.name!r} of network {net.name!r} "
                                   f"has no values (give its .h5/.protobuf file too)")


def _repeated(desc):
    # protobuf 5 and later say is_repeated; older ones only have the label
    flag = getattr(desc, "is_repeated", None)
    return flag if flag is not None else desc.label == desc.LABEL_REPEATED


def _dump_message(msg, prefix, limit):
    """-v: every set field, lists as '<prefix> has N <field>(s).' and then their
    items up to ``limit`` as a Python slice end (NNabla's default -1 leaves out
    the last item)."""
    where = ":".join(prefix)
    for desc, value in msg.ListFields():
        if _repeated(desc):
            print(f"{where} has {len(value)} {desc.name}(s).")
            for n, item in enumerate(value[:limit]):
                if desc.message_type is None:
                    print(f"{where}:{desc.name}[{n}]: {item}")
                else:
                    _dump_message(item, prefix + [f"{desc.name}[{n}]"], limit)
        elif desc.message_type is not None:
            _dump_message(value, prefix + [desc.name], limit)
        else:
            print(f"{where}:{desc.name}: {value}")


def _dump_section(prefix, item, fields, net, opts):
    shapes = {v.name: list(v.shape.dim) for v in net.variable}
    print(f"{prefix}{item.name}")
    for field in fields:
        for i, v in enumerate(getattr(item, field)):
            shape = shapes.get(v.variable_name, " - ")
            print(f"{prefix}{_ARG_LABELS[field]} variable[{i}]: Name:{v.variable_name:30} "
                  f"Shape:{shape}")
    if opts.dump_variable_name:
        name = opts.dump_variable_name
        if name in shapes:
            print(f"Variable Name: {name:20} Shape: {shapes[name]}")
        else:
            print(f"DUMP ERROR: variable {name} not found.")
        return name in shapes
    if opts.dump_functions:
        for i, f in enumerate(net.function):
            head = f"{prefix}  Function[{i:^5}]: "
            print(f"{head}Type: {f.type:20} Name: {f.name}")
            if opts.dump_variables:
                for j, v in enumerate(f.input):
                    print(f"{head}  Input{j}: Name: {v:20} Shape: {shapes.get(v, ' - ')}")
                for j, v in enumerate(f.output):
                    print(f"{head} Output{j}: Name: {v:20} Shape: {shapes.get(v, ' - ')}")
    return True


@handler("dump")
def dump(opts):
    fmt = _dump_format(opts)
    proto = _import_for_dump(opts, fmt)
    files = ", ".join(opts.files)
    if opts.dump_verbose:
        _dump_message(proto, [fmt], opts.dump_limit)
        return
    _check_parameters(proto, files)
    nets = {n.name: n for n in proto.network}
    found = []
    for field, prefix, fields in _SECTIONS:
        for i, item in enumerate(getattr(proto, field)):
            if item.network_name not in nets:
                raise CommandError(f"{files}: {field} {item.name!r} names network "
                                   f"{item.network_name!r}, which is not there")
            found.append(_dump_section(prefix.format(i), item, fields,
                                       nets[item.network_name], opts))
    if opts.dump_variable_name and found and not any(found):
        raise CommandError(f"{files} has no variable {opts.dump_variable_name!r}")


# -- convert ---------------------------------------------------------------------
_EXPORT_FORMATS = {"NNP": ".nnp", "ONNX": ".onnx"}
_NNABLA_ONLY = ("NNB", "CSRC", "SAVED_MODEL", "TFLITE", "TF_PB", "TF_CKPT_V1", "TF_CKPT_V2")


def _opset(define_version):
    if not define_version:
        return None  # NNabla's opset 11, or the first one the network exports at
    text = define_version.lower()
    if text.startswith("opset_") and text[6:].isdigit():
        return int(text[6:])
    raise CommandError(f"-d/--define_version: nablite takes opset_<N> (11-17), got "
                       f"{define_version!r}")


def _set_batch_size(proto, batch_size):
    for net in proto.network:
        net.batch_size = batch_size


# NNabla's convert options for its C runtime, TensorFlow and TFLite targets
_NNABLA_ONLY_OPTIONS = (("outputs", "--outputs"), ("inputs", "--inputs"), ("split", "-S/--split"),
                        ("enable_optimize_pb", "--enable-optimize-pb"),
                        ("channel_last", "--channel-last"), ("quantization", "--quantization"),
                        ("dataset", "--dataset"), ("ir_version", "--ir_version"),
                        ("config", "-c/--config"),
                        ("default_variable_type", "-T/--default-variable-type"),
                        ("settings", "-s/--settings"), ("api", "--api"))


@handler("convert")
def convert(opts):
    for attr, flag in _NNABLA_ONLY_OPTIONS:
        if getattr(opts, attr, None) not in (None, False):
            raise CommandError(f"{flag} is an option of NNabla's converters for TensorFlow, "
                               f"TFLite, NNB and C sources; nablite converts between NNP and "
                               f"ONNX and does not take it")
    if getattr(opts, "nnp_version", None) not in (None, "0.1"):
        from ..utils.nnp_format import nnp_version
        raise CommandError(f"--nnp-version {opts.nnp_version}: nablite writes .nnp version "
                           f"{nnp_version()}, NNabla 1.39's only one")
    if len(opts.files) < 2:
        raise CommandError("give the input file(s) and then the output file")
    *inputs, output = opts.files
    for fmt in (opts.import_format, opts.export_format):
        if fmt and fmt.upper() in _NNABLA_ONLY:
            raise CommandError(f"format {fmt.upper()} is NNabla's (its C runtime or "
                               f"TensorFlow); nablite converts between NNP and ONNX")
    out_ext = _EXPORT_FORMATS.get((opts.export_format or "").upper(), _ext(output))
    if opts.export_format and opts.export_format.upper() not in _EXPORT_FORMATS:
        raise CommandError(f"-O/--export-format must be NNP or ONNX, got {opts.export_format!r}")
    if out_ext not in MODEL_EXTENSIONS:
        raise CommandError(f"{output}: the output's extension says no format nablite writes "
                           f"(use one of {', '.join(MODEL_EXTENSIONS)})")
    if os.path.exists(output) and not opts.force:
        raise CommandError(f"{output} exists; add -f/--force to overwrite it")
    for path in inputs:
        model_file(path, parameters_too=len(inputs) > 1)  # e.g. an .nntxt and its .h5
    opset = _opset(opts.define_version)
    batch = opts.batch_size if opts.batch_size and opts.batch_size > 0 else None
    if out_ext == ".onnx":
        from ..onnx import nnp_to_onnx
        if len(inputs) == 1 and _ext(inputs[0]) != ".onnx":  # NnpLoader reads every NNabla format
            model = nnp_to_onnx(inputs[0], output, batch_size=batch, opset=opset)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                merged = os.path.join(tmp, "model.nnp")
                _write(inputs, merged, opts, batch)
                try:
                    with quiet():
                        model = nnp_to_onnx(merged, output, batch_size=batch, opset=opset)
                except (ValueError, TypeError, KeyError, NotImplementedError) as e:
                    raise CommandError(str(e).replace(repr(merged), " + ".join(inputs))
                                       .replace(merged, " + ".join(inputs))) from None
        print(f"wrote {output} (ONNX opset {model.opset_import[0].version})")
    else:
        _write(inputs, output, opts, batch)
        print(f"wrote {output}")


def _write(inputs, output, opts, batch):
    from .._nnp.files import read_network_files, write_network_file
    if len(inputs) == 1 and _ext(inputs[0]) == ".onnx":
        proto, items = read_model(inputs[0], params=True)
    else:
        proto, items = read_network_files(list(inputs))
    if batch:
        _set_batch_size(proto, batch)
    if opts.nnp_import_executor_index is not None:
        k = opts.nnp_import_executor_index
        if not 0 <= k < len(proto.executor):
            raise CommandError(f"the input has {len(proto.executor)} executor(s); -E {k} is none")
        keep = proto.executor[k]
        del proto.executor[:]
        proto.executor.add().CopyFrom(keep)
    if opts.nnp_exclude_parameter:
        items = []
    fmt = ".h5" if opts.nnp_parameter_h5 else ".protobuf"
    include = opts.nnp_parameter_nntxt or _ext(output) == ".protobuf"
    write_network_file(output, proto, items, fmt, include_params=include and bool(items))


# -- draw_graph ------------------------------------------------------------------
_DRAW_EXTENSIONS = (".png", ".svg", ".pdf", ".dot", ".gv", ".jpg", ".jpeg")


@handler("draw_graph")
def draw_graph(opts):
    from .. import parameter
    from ..experimental.viewers import SimpleGraph, require_dot
    from ..utils.nnp_graph import NnpLoader
    path = model_file(opts.input)
    out = opts.output_dir or "."
    to_file = _ext(out) in _DRAW_EXTENSIONS
    fmt = (opts.format or (_ext(out)[1:] if to_file else "png")).lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt != "dot":
        require_dot("", fmt)
    if _ext(path) == ".onnx":
        with tempfile.TemporaryDirectory() as tmp:
            from ..onnx import onnx_to_nnp
            nnp = os.path.join(tmp, "model.nnp")
            with quiet():
                onnx_to_nnp(path, nnp)
            loader = NnpLoader(nnp)
    else:
        loader = NnpLoader(path)
    names = loader.get_network_names()
    wanted = opts.network or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise CommandError(f"{path} has no network {unknown[0]!r}; it has "
                           f"{', '.join(names) or 'none'}")
    if to_file and len(wanted) > 1:
        raise CommandError(f"{path} has {len(wanted)} networks; name one with -n, or give "
                           f"-o a folder")
    for name in wanted:
        with parameter.parameter_scope(f"draw_graph/{name}"):
            net = loader.get_network(name)
            params = parameter.get_parameters(grad_only=False)
        for vname, v in net.variables.items():
            v.name = vname
        g = SimpleGraph(format=fmt).create_graphviz_digraph(
            list(net.outputs.values())[0] if len(net.outputs) == 1 else
            _sink(net.outputs.values()), params=params)
        target = out if to_file else os.path.join(out, f"{name}.{fmt}")
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        _save_digraph(g, target, fmt)
        print(f"wrote {target}")


def _sink(outputs):
    from .. import functions as F
    return F.sink(*outputs)


def _save_digraph(g, target, fmt):
    from .._atomic_file import atomic_write
    if fmt == "dot":
        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(g.source)
        atomic_write(target, write)
        return
    from ..experimental.viewers import _render
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "graph.dot")
        with open(src, "w", encoding="utf-8") as f:
            f.write(g.source)
        atomic_write(target, lambda t: _render(g, src, t, fmt))


# -- the parsers -----------------------------------------------------------------
def _nnp_import_options(p):
    p.add_argument("-I", "--import-format", help="input format: NNP or ONNX (default: by "
                   "extension)")
    p.add_argument("-E", "--nnp-import-executor-index", type=int,
                   help="take only the executor of this index")
    p.add_argument("--nnp-exclude-preprocess", action="store_true",
                   help="(NNabla's preprocess removal; nablite keeps the network whole)")
    p.add_argument("--nnp-no-expand-network", action="store_true",
                   help="dump: keep the functions in file order (without it they are "
                   "sorted as NNabla's expander sorts them; nablite expands no "
                   "repeat/recurrent blocks)")


def register(subparsers):
    p = subparsers.add_parser("infer", help="run a model's executor on raw binary input files",
                              description="Run the first executor of a model file on one "
                              "raw binary file per input; print the outputs or write them as "
                              "float32 files <prefix>_<k>.bin, as NNabla does: one per output, "
                              "or one per sample when there is a single output.")
    p.add_argument("inputs", nargs="+", help="one raw binary file per executor input")
    p.add_argument("-c", "--config", required=True, help="model file (.nnp, .nntxt, ...)")
    p.add_argument("-o", "--output", help="prefix of the output files (default: print)")
    p.add_argument("-p", "--param", help="parameter file to load over the model's")
    p.add_argument("-t", "--data_type", default="float32",
                   help="type of the input files' values: uint8, int32 or float32 "
                        "(default float32)")
    p.add_argument("-b", "--batch_size", type=int, default=1,
                   help="batch size (default 1; -1 keeps the file's)")
    p.set_defaults(handler=infer)

    p = subparsers.add_parser("forward", help="run a model's executors over a CSV dataset",
                              description="Run the executors of a model file over every row "
                              "of a CSV dataset and write the rows with the outputs added, as "
                              "NNabla does: a value per column, a per-sample matrix as a CSV "
                              "file, 1 or 3 maps as a PNG image (other counts: one a map).")
    p.add_argument("-c", "--config", required=True, help="model file (.nnp, .nntxt, ...)")
    p.add_argument("-p", "--param", help="parameter file to load over the model's")
    p.add_argument("-d", "--dataset", help="CSV dataset (default: the model's first dataset)")
    p.add_argument("-o", "--outdir", required=True, help="folder for the result")
    p.add_argument("-f", "--outfile", default="output_result.csv", help="result file name")
    p.add_argument("--replace_path", action="store_true",
                   help="write the dataset's relative file paths as absolute ones")
    p.add_argument("--result_outdir", help="folder for per-row output files, inside -o "
                   "(default: -o itself)")
    p.add_argument("-b", "--batch_size", type=int, default=-1,
                   help="batch size (default -1: the file's)")
    p.set_defaults(handler=forward)

    p = subparsers.add_parser("dump", help="print the networks and executors of model files",
                              description="Print the optimizers, monitors and executors of "
                              "model files (several files are read as one model), with their "
                              "variables and, with -F, their networks' functions, in "
                              "nnabla_cli dump's layout.")
    p.add_argument("files", nargs="+", metavar="FILE", help="model file(s)")
    p.add_argument("-v", "--dump-verbose", action="store_true",
                   help="print every field of the model instead")
    p.add_argument("-F", "--dump-functions", action="store_true",
                   help="list each network's functions")
    p.add_argument("-V", "--dump-variables", action="store_true",
                   help="with -F, also each function's inputs and outputs")
    p.add_argument("--dump-limit", type=int, default=-1,
                   help="with -v, the items of a list shown, as a Python slice end "
                   "(default -1: all but the last, as NNabla)")
    p.add_argument("-n", "--dump-variable-name", help="show only this variable's shape")
    _nnp_import_options(p)
    p.set_defaults(handler=dump)

    p = subparsers.add_parser("convert", help="convert between .nnp, .nntxt, .protobuf, .onnx",
                              description="Convert model files: NNabla's .nnp/.nntxt/.protobuf "
                              "among themselves and to and from ONNX. The last FILE is the "
                              "output; several inputs merge (e.g. an .nntxt and an .h5).")
    p.add_argument("files", nargs="+", metavar="FILE", help="input file(s), then the output")
    _nnp_import_options(p)
    p.add_argument("-O", "--export-format", help="output format: NNP or ONNX (default: by "
                   "extension)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite the output file")
    p.add_argument("-b", "--batch-size", type=int, help="set the networks' batch size")
    p.add_argument("-d", "--define_version",
                   help="ONNX opset, as opset_<N> (11-17; default: 11 as NNabla, or the "
                        "first opset every function of the network exports at)")
    p.add_argument("--nnp-parameter-h5", action="store_true",
                   help="store the parameters of an .nnp as .h5 (default .protobuf)")
    p.add_argument("--nnp-parameter-nntxt", action="store_true",
                   help="store the parameters inside an .nntxt output")
    p.add_argument("--nnp-exclude-parameter", action="store_true",
                   help="write no parameters")
    p.add_argument("--nnp-version", default=None,
                   help="the .nnp version to write: 0.1, the only one (as NNabla 1.39)")
    nnabla_only = p.add_argument_group("NNabla's options for other targets (TensorFlow, "
                                       "TFLite, NNB, C); nablite refuses them")
    for flags, kw in ((("--outputs",), {}), (("--inputs",), {}), (("-S", "--split"), {}),
                      (("--enable-optimize-pb",), {"action": "store_true"}),
                      (("--channel-last",), {"action": "store_true"}),
                      (("--quantization",), {"action": "store_true"}), (("--dataset",), {}),
                      (("--ir_version",), {}), (("-c", "--config"), {}),
                      (("-T", "--default-variable-type"), {}), (("-s", "--settings"), {}),
                      (("--api",), {})):
        nnabla_only.add_argument(*flags, help="(not in nablite)", **kw)
    p.set_defaults(handler=convert)

    p = subparsers.add_parser("draw_graph", help="draw the networks of a model file",
                              description="Draw each network of a model file with Graphviz: "
                              "-o a folder (one <network>.<format> each) or a file (.png, "
                              ".svg, .pdf, .dot). DOT needs only the graphviz package; other "
                              "formats also need Graphviz's dot program.")
    p.add_argument("input", help="model file (.nnp, .nntxt, .protobuf, .onnx)")
    p.add_argument("-o", "--output-dir", help="output folder, or output file by its extension")
    p.add_argument("-n", "--network", action="append", help="network to draw (repeatable; "
                   "default: all)")
    p.add_argument("-f", "--format", help="png, svg, pdf, dot, ... (default: the -o "
                   "extension, else png)")
    p.set_defaults(handler=draw_graph)
