"""Reading ``.onnx`` files from elsewhere within bounds.

A tensor's declared dims x itemsize is checked against the bytes it carries
(raw, typed or external) and against ``MAX_TENSOR_BYTES`` before an array is
made; external data must be a file inside the model's folder. Every failure is
an ``OnnxImportError`` that names the file and the problem.
"""
import math
import os

import numpy as np

from ._deps import require_onnx

MAX_FILE_BYTES = 2 ** 31          # protobuf cannot hold a larger message anyway
MAX_TENSOR_BYTES = 2 ** 31
MAX_NODES = 2 ** 20               # nablite builds one Function per node; real models have far fewer


class OnnxImportError(ValueError):
    """An ONNX file or model that nablite.onnx.import_model cannot read."""


# ONNX TensorProto.DataType -> (NumPy dtype, the typed field that can hold it)
_DTYPES = {1: (np.float32, "float_data"), 2: (np.uint8, "int32_data"),
           3: (np.int8, "int32_data"), 4: (np.uint16, "int32_data"),
           5: (np.int16, "int32_data"), 6: (np.int32, "int32_data"),
           7: (np.int64, "int64_data"), 9: (np.bool_, "int32_data"),
           10: (np.float16, "int32_data"), 11: (np.float64, "double_data"),
           12: (np.uint32, "uint64_data"), 13: (np.uint64, "uint64_data")}


def numpy_dtype(onnx_type):
    if onnx_type not in _DTYPES:
        raise OnnxImportError(f"ONNX data type {onnx_type} is not supported")
    return _DTYPES[onnx_type][0]


def load_model(model):
    """(ModelProto, the name used in errors, the folder external data may live in)."""
    onnx = require_onnx("nablite.onnx.import_model")
    if isinstance(model, onnx.ModelProto):
        where = f"ONNX model {model.graph.name or '(unnamed)'}"
        check_graph_size(model, where)
        return model, where, None
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise OnnxImportError(f"{path}: no such file")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise OnnxImportError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES}-byte limit of "
                              "a protobuf message")
    with open(path, "rb") as f:
        data = f.read()
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:  # google.protobuf's DecodeError and friends
        raise OnnxImportError(f"{path}: not an ONNX model (truncated or corrupt protobuf: "
                              f"{e})") from None
    if proto.ir_version <= 0 or not proto.HasField("graph") or not proto.graph.output:
        raise OnnxImportError(f"{path}: not an ONNX model (no IR version or no graph with "
                              "outputs)")
    check_graph_size(proto, path)
    return proto, path, os.path.dirname(os.path.abspath(path))


def check_graph_size(model, where):
    n = len(model.graph.node)
    if n > MAX_NODES:
        raise OnnxImportError(f"{where}: {n} nodes is over the limit of {MAX_NODES}")


def tensor_to_array(t, where, base_dir):
    """The NumPy array of TensorProto ``t``, after checking its declared size."""
    name = t.name or "(unnamed)"
    if t.data_type not in _DTYPES:
        raise OnnxImportError(f"{where}: tensor {name!r} has data type {t.data_type}, which is "
                              "not supported")
    dtype, field = _DTYPES[t.data_type]
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise OnnxImportError(f"{where}: tensor {name!r} declares negative dims {dims}")
    count = math.prod(dims)
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise OnnxImportError(f"{where}: tensor {name!r} declares dims {dims} ({nbytes} bytes), "
                              f"over the {MAX_TENSOR_BYTES}-byte limit")
    if t.HasField("segment"):
        raise OnnxImportError(f"{where}: tensor {name!r} is segmented, which is not supported")
    if t.data_location == 1:  # EXTERNAL
        raw = _external(t, where, base_dir, nbytes)
    elif t.HasField("raw_data"):
        raw = t.raw_data
        if len(raw) != nbytes:
            raise OnnxImportError(f"{where}: tensor {name!r} declares dims {dims} ({nbytes} "
                                  f"bytes) but carries {len(raw)} bytes")
    else:
        values = getattr(t, field)
        if len(values) != count:
            raise OnnxImportError(f"{where}: tensor {name!r} declares dims {dims} ({count} "
                                  f"values) but carries {len(values)}")
        if dtype == np.float16:
            return np.array(values, np.uint16).view(np.float16).reshape(dims)
        return np.array(values, dtype).reshape(dims)
    return np.frombuffer(raw, dtype).reshape(dims).copy()


def _external(t, where, base_dir, nbytes):
    name = t.name or "(unnamed)"
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise OnnxImportError(f"{where}: tensor {name!r} keeps its data in external file "
                              f"{location!r}; load the model from its path")
    target = os.path.realpath(os.path.join(base_dir, location))
    root = os.path.realpath(base_dir)
    if not location or os.path.isabs(location) or os.path.commonpath([root, target]) != root:
        raise OnnxImportError(f"{where}: tensor {name!r} refers to external data "
                              f"{location!r} outside the model's folder")
    if not os.path.isfile(target):
        raise OnnxImportError(f"{where}: tensor {name!r}: external data file {location!r} "
                              "does not exist")
    try:
        offset = int(info.get("offset", 0))
        length = int(info.get("length", nbytes))
    except ValueError:
        raise OnnxImportError(f"{where}: tensor {name!r}: external data offset/length "
                              f"{info.get('offset')!r}/{info.get('length')!r} are not "
                              "integers") from None
    size = os.path.getsize(target)
    if length != nbytes or offset < 0 or offset + nbytes > size:
        raise OnnxImportError(f"{where}: tensor {name!r} needs {nbytes} bytes at offset "
                              f"{offset} of {location!r} ({size} bytes, length {length})")
    with open(target, "rb") as f:
        f.seek(offset)
        return f.read(nbytes)
