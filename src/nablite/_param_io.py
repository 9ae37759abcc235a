"""Parameter and solver-state files, in NNabla's layouts (core.md §5, solvers.md §4).

Parameters:  ``.h5`` (one dataset per key with ``need_grad``/``index`` attributes),
             ``.protobuf`` (binary ``NNablaProtoBuf``), ``.nntxt``/``.prototxt``
             (its text form) and ``.nnp`` (a zip holding those).
Solver states: ``.h5`` (a group per parameter: ``t`` and one dataset per state),
             ``.protobuf`` (binary ``Optimizer``), ``.nntxt``/``.prototxt`` (text).

Writes are atomic: the file is written next to its destination under a
temporary name, flushed to disk and renamed over it, so a crash leaves either
the old file or the new one. Reads parse and validate everything before a
single parameter changes. h5py and protobuf are optional dependencies
(``nablite[io]``), imported on first use; the messages are nnabla_pb2.py's
(generated from nnabla.proto), read and written through _nnp/proto.py.
"""
import os
from collections import OrderedDict

import numpy as np

from ._atomic_file import atomic_write
from ._nnp.proto import FileFormatError, describe, parse_binary, parse_text, pb2, read_bytes

PARAM_EXTENSIONS = (".h5", ".protobuf", ".nntxt", ".prototxt", ".nnp")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading or writing .h5 files needs h5py: "
                          'pip install "nablite[io]"  (or pip install h5py)') from None
    return h5py


def _extension(path, extension, fn):
    if isinstance(path, (str, os.PathLike)):
        ext = os.path.splitext(os.fspath(path))[1].lower()
        return ext if ext else (extension or "")
    if extension is None:
        raise ValueError(f"{fn}: give extension= ('.h5' or '.protobuf') when path is a file object")
    return extension if extension.startswith(".") else "." + extension


def _write_target(path, extension, fn, write_file):
    """Write with ``write_file(file_or_path)`` atomically to a path, or into a file object."""
    if isinstance(path, (str, os.PathLike)):
        atomic_write(path, write_file)
    else:
        write_file(path)


def _open_error(path, fn):
    if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
        raise FileNotFoundError(f"{fn}: no such file: {os.fspath(path)!r}")


# -- parameters ----------------------------------------------------------------
def save_parameters(path, params, extension=None):
    """Write ``params`` (OrderedDict key -> Variable) as ``.h5`` or ``.protobuf``."""
    ext = _extension(path, extension, "save_parameters")
    items = [(k, np.asarray(v.d, order="C"), bool(v.need_grad)) for k, v in params.items()]
    if ext not in (".h5", ".protobuf"):
        raise ValueError(f"save_parameters: unsupported extension {ext!r} of {path!r}; "
                         "use '.h5' or '.protobuf'")
    if ext == ".h5":
        _h5py()  # fail before anything is written
    else:
        pb2()
        _check_protobuf_size(sum(arr.size for _, arr, _ in items) * 4, path)
    _write_target(path, extension, "save_parameters",
                  lambda target: write_parameter_items(target, items, ext))


# Above this many bytes of parameters a .protobuf save warns: loading one takes
# about twice its size in memory (benchmarks/param_files.py), .h5 its size.
LARGE_PROTOBUF = 256 * 2 ** 20


def _check_protobuf_size(nbytes, path):
    """Refuse a .protobuf that protobuf could not read back (2 GiB per message),
    and warn about large ones."""
    from ._nnp import proto
    from .logger import logger
    if LARGE_PROTOBUF < nbytes <= proto.MAX_BYTES:
        logger.warning(f"save_parameters: {nbytes / 2 ** 20:.0f} MB of parameters as "
                       ".protobuf take about twice that in memory to load; .h5 is the format "
                       "for large models")
    if nbytes > proto.MAX_BYTES:
        raise ValueError(f"save_parameters: {nbytes / 2 ** 20:.0f} MB of parameters is over "
                         f"the {proto.MAX_BYTES / 2 ** 20:.0f} MB a .protobuf file can hold "
                         f"(protobuf reads at most 2 GiB); save them as .h5 instead of "
                         f"{os.fspath(path) if isinstance(path, (str, os.PathLike)) else path!r}")


def write_parameter_items(target, items, ext):
    """Write [(key, array, need_grad)] as .h5 or .protobuf to a path or file object."""
    if ext == ".h5":
        h5py = _h5py()
        with h5py.File(target, "w") as f:
            for i, (key, arr, need_grad) in enumerate(items):
                f[key] = np.asarray(arr)  # not create_dataset: this call gives NNabla's bytes
                ds = f[key]
                ds.attrs["need_grad"] = bool(need_grad)
                ds.attrs["index"] = i
    elif ext == ".protobuf":
        # One message per parameter, written one after another: serialized protobuf
        # messages concatenate to their merge, so the bytes are those of the whole
        # NNablaProtoBuf while only one parameter's copy is in memory at a time.
        def write(f):
            for item in items:
                f.write(params_to_proto([item]).SerializeToString())
        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as f:
                write(f)
        else:
            write(target)
    else:
        raise ValueError(f"unsupported parameter format {ext!r}; use '.h5' or '.protobuf'")


def params_to_proto(items, proto=None):
    """An NNablaProtoBuf with one Parameter per (key, array, need_grad)."""
    proto = pb2().NNablaProtoBuf() if proto is None else proto
    for key, arr, need_grad in items:
        arr = np.asarray(arr, np.float32)
        p = proto.parameter.add()
        p.variable_name = key
        p.shape.dim.extend(int(s) for s in arr.shape)
        p.shape.SetInParent()  # a 0-d parameter still writes its (empty) shape, as NNabla
        _set_floats(p, arr)
        p.need_grad = bool(need_grad)
    return proto


def _set_floats(message, arr):
    """Fill ``message.data`` (field 100, packed float) with ``arr``: handed to protobuf
    as the field's wire bytes (little-endian float32), so no Python float is made
    per value."""
    raw = np.ascontiguousarray(arr, "<f4").tobytes()
    n, length = len(raw), b""
    while True:
        length += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            break
    if raw:
        message.MergeFromString(b"\xa2\x06" + length + raw)


def read_parameters(path, extension=".nntxt"):
    """Parse a parameter file: (list of (key, float32 array, need_grad), NNablaProtoBuf)."""
    fn = "load_parameters"
    _open_error(path, fn)
    ext = _extension(path, extension, fn)
    name = describe(path)
    try:
        if ext == ".h5":
            return read_h5_params(path, name), pb2().NNablaProtoBuf()
        if ext in (".protobuf", ".nntxt", ".prototxt"):
            data = read_bytes(path, name)
            proto = pb2().NNablaProtoBuf()
            if ext == ".protobuf":
                parse_binary(data, proto, name)
            else:
                parse_text(data, proto, name)
            del data  # the file's bytes go before the arrays are made (peak memory)
            return proto_parameters(proto, name), proto
        if ext == ".nnp":
            return _read_nnp(path)
    except (OSError, ValueError, KeyError, IndexError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise FileFormatError(f"{fn}: cannot read {name} as {ext} ({e}); the file is "
                              "missing parts or corrupt. No parameter was changed.") from e
    raise ValueError(f"{fn}: unsupported extension {ext!r}; use one of {PARAM_EXTENSIONS}")


def read_h5_params(path, where=None):
    """[(key, array, need_grad)] of an .h5 parameter file, in its ``index`` order."""
    h5py = _h5py()
    where = where or describe(path)
    found = []
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    index = int(obj.attrs.get("index", len(found)))
                    found.append((index, name, np.array(obj[()]),
                                  bool(obj.attrs.get("need_grad", True))))
            f.visititems(visit)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise FileFormatError(f"{where}: not a readable HDF5 parameter file "
                              f"({type(e).__name__}: {e})") from None
    found.sort(key=lambda item: item[0])
    return [(name, arr, need_grad) for _, name, arr, need_grad in found]


def proto_parameters(proto, fn="set_parameter_from_proto"):
    """(key, float32 array, need_grad) for each ``proto.parameter`` entry, validated."""
    out = []
    for p in proto.parameter:
        shape = tuple(int(d) for d in p.shape.dim)
        size = 1
        for d in shape:  # Python ints: a hostile shape cannot overflow
            size *= d
        if any(d < 0 for d in shape) or size != len(p.data):
            raise FileFormatError(f"{fn}: parameter {p.variable_name!r} has {len(p.data)} "
                                  f"values but shape {shape}")
        data = np.asarray(p.data, dtype=np.float32)
        out.append((p.variable_name, data.reshape(shape), bool(p.need_grad)))
    return out


def _read_nnp(path):
    """Parameters (and the rest of the message) of an .nnp archive."""
    from ._nnp.files import read_network_files
    proto, items = read_network_files(path)
    return items, proto


# -- solver states ---------------------------------------------------------------
# A state record is OrderedDict key -> (t, OrderedDict state name -> array).
def save_states(path, records):
    ext = _extension(path, None, "save_states") if isinstance(path, (str, os.PathLike)) \
        else ".h5"
    if ext == ".h5":
        h5py = _h5py()

        def write(target):
            with h5py.File(target, "w") as f:
                for i, (key, (t, arrays)) in enumerate(records.items()):
                    group = f.create_group(key)  # this order gives NNabla's bytes
                    group.create_dataset("t", data=np.int64(t))
                    group.attrs["index"] = i
                    for j, (name, arr) in enumerate(arrays.items()):
                        ds = group.create_dataset(name, data=np.asarray(arr, np.float32))
                        ds.attrs["index"] = j
    elif ext == ".protobuf":
        data = states_to_optimizer(records, pb2().Optimizer()).SerializeToString()

        def write(target):
            with open(target, "wb") as f:
                f.write(data)
    else:
        raise ValueError(f"save_states: unsupported extension {ext!r} of {path!r}; "
                         "use '.h5' or '.protobuf'")
    _write_target(path, None, "save_states", write)


def load_states(path):
    fn = "load_states"
    _open_error(path, fn)
    ext = _extension(path, None, fn)
    if ext == ".nnp":
        raise NotImplementedError("load_states: .nnp files hold no solver states")
    try:
        if ext == ".h5":
            return _read_h5_states(path)
        if ext in (".protobuf", ".nntxt", ".prototxt"):
            name = describe(path)
            data = read_bytes(path, name)
            opt = pb2().Optimizer()
            if ext == ".protobuf":
                parse_binary(data, opt, name)
            else:
                parse_text(data, opt, name)
            return states_from_optimizer(opt)
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise FileFormatError(f"{fn}: cannot read {os.fspath(path)!r} as {ext} "
                              f"({type(e).__name__}: {e}); no state was changed.") from e
    raise ValueError(f"{fn}: unsupported extension {ext!r}; use .h5, .protobuf or .nntxt")


def _read_h5_states(path):
    h5py = _h5py()
    groups = {}
    with h5py.File(path, "r") as f:  # load_states turns h5py's OSError into its error
        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            key, _, leaf = name.rpartition("/")
            entry = groups.setdefault(key, [int(obj.parent.attrs.get("index", len(groups))),
                                            None, []])
            if leaf == "t":
                entry[1] = _h5_step_count(obj, key)
            else:
                entry[2].append((int(obj.attrs.get("index", 0)), leaf, np.array(obj[()])))
        f.visititems(visit)
    records = OrderedDict()
    for key, (_, t, arrays) in sorted(groups.items(), key=lambda kv: kv[1][0]):
        # NNabla reads a missing t as 0 and takes t=-5; a step count is never
        # guessed here (Adam's bias correction depends on it).
        if t is None:
            raise FileFormatError(f"state group {key!r} has no step count dataset 't'")
        records[key] = (t, OrderedDict((n, a) for _, n, a in sorted(arrays, key=lambda x: x[0])))
    return records


def _h5_step_count(dataset, key):
    """The ``t`` dataset of state group ``key``: one integer in NNabla's range."""
    from ._solver_base import _T_MAX  # (_solver_base imports this module lazily)
    if dataset.shape not in ((), (1,)) or dataset.dtype.kind not in "iu":
        raise FileFormatError(f"state group {key!r}: the step count 't' is a "
                              f"{dataset.dtype} dataset of shape {dataset.shape}; expected "
                              "one integer")
    t = int(np.asarray(dataset[()]).reshape(()))
    if not 0 <= t <= _T_MAX:
        raise FileFormatError(f"state group {key!r}: the step count t={t} must be in "
                              f"[0, {_T_MAX}]")
    return t


def states_to_optimizer(records, optimizer):
    for key, (t, arrays) in records.items():
        state = optimizer.solver.states[key]
        state.t = int(t)
        for name, arr in arrays.items():
            sp = state.state_parameter[name]
            arr = np.asarray(arr, np.float32)
            sp.shape.dim.extend(int(s) for s in arr.shape)
            _set_floats(sp, arr)
    return optimizer


def states_from_optimizer(optimizer):
    records = OrderedDict()
    for key, state in optimizer.solver.states.items():
        arrays = OrderedDict()
        for name, sp in state.state_parameter.items():
            shape = tuple(int(d) for d in sp.shape.dim)
            size = 1
            for d in shape:
                size *= d
            if any(d < 0 for d in shape) or size != len(sp.data):
                raise FileFormatError(f"state {name!r} of {key!r} has {len(sp.data)} values "
                                      f"but shape {shape}")
            arrays[name] = np.asarray(sp.data, np.float32).reshape(shape)
        records[key] = (int(state.t), arrays)
    return records
