"""encode_param / decode_param: parameter files to and from one text file per
parameter (``scope~name.txt``: the shape on the first line, then one value a
line), for reading or editing parameters by hand."""
import ast
import os
from collections import OrderedDict

import numpy as np

from ._common import CommandError, existing_dir, existing_file, handler

_MAX_VALUES = 1 << 28  # a text file holding more than this is refused, not read


def _text_name(key):
    return key.replace("/", "~") + ".txt"


def _write_text(path, arr):
    from .._atomic_file import atomic_write

    def write(tmp):
        lines = [str(tuple(int(s) for s in arr.shape))]
        lines += [repr(float(v)) for v in np.asarray(arr).ravel()]
        with open(tmp, "w") as f:
            f.write("\n".join(lines))  # no newline after the last value, as NNabla writes
    atomic_write(path, write)


def _read_text(path):
    """(shape, float32 array) of one text file, its declared size checked."""
    with open(path) as f:
        head = f.readline()
        try:
            shape = ast.literal_eval(head.strip())
            shape = tuple(int(s) for s in (shape if isinstance(shape, tuple) else (shape,)))
        except (ValueError, SyntaxError, TypeError):
            raise CommandError(f"{path}: the first line must be a shape such as (3, 4), "
                               f"got {head.strip()!r}") from None
        size = int(np.prod(shape, dtype=object)) if shape else 1
        if any(s < 0 for s in shape) or size > _MAX_VALUES:
            raise CommandError(f"{path}: shape {shape} is not a parameter shape nablite reads "
                               f"(at most {_MAX_VALUES} values)")
        try:
            values = np.array([float(line) for line in f if line.strip()], np.float32)
        except ValueError as e:
            raise CommandError(f"{path}: a value line is not a number ({e})") from None
    if values.size != size:
        raise CommandError(f"{path}: shape {shape} needs {size} values, the file has "
                           f"{values.size}")
    return values.reshape(shape)


@handler("decode_param")
def decode_param(opts):
    from .. import _param_io
    if opts.param is None:
        raise CommandError("give the parameter file with -p/--param")
    items, _ = _param_io.read_parameters(existing_file(opts.param, "parameter file"))
    os.makedirs(opts.outdir, exist_ok=True)
    for key, arr, _need_grad in items:
        _write_text(os.path.join(opts.outdir, _text_name(key)), arr)
        print(key)
    print(f"decoded {len(items)} parameters into {opts.outdir}")


@handler("encode_param")
def encode_param(opts):
    from .. import _param_io
    from ..variable import Variable
    existing_dir(opts.indir, "input directory")
    if opts.param is None:
        raise CommandError("give the parameter file to write with -p/--param")
    names = sorted(n for n in os.listdir(opts.indir) if n.endswith(".txt"))
    if not names:
        raise CommandError(f"{opts.indir} holds no .txt parameter files")
    params = OrderedDict()
    for name in names:
        key = name[:-len(".txt")].replace("~", "/")
        params[key] = Variable.from_numpy_array(_read_text(os.path.join(opts.indir, name)),
                                                need_grad=True)
    _param_io.save_parameters(opts.param, params)
    print(f"encoded {len(params)} parameters into {opts.param}")


def register(subparsers):
    p = subparsers.add_parser("decode_param", help="write each parameter of a file as text",
                              description="Write every parameter of an .h5/.protobuf/.nnp "
                              "file as <scope~name>.txt: its shape, then one value a line.")
    p.add_argument("-p", "--param", help="parameter file to read")
    p.add_argument("-o", "--outdir", required=True, help="folder for the text files")
    p.set_defaults(handler=decode_param)

    p = subparsers.add_parser("encode_param", help="make a parameter file from text files",
                              description="Read the <scope~name>.txt files decode_param "
                              "writes and save them as one parameter file.")
    p.add_argument("-i", "--indir", required=True, help="folder of .txt parameter files")
    p.add_argument("-p", "--param", help="parameter file to write (.h5 or .protobuf)")
    p.set_defaults(handler=encode_param)
