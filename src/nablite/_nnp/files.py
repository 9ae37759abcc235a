"""Network files on disk: ``.nnp`` archives, ``.nntxt``/``.prototxt`` text and binary
``.protobuf``, read into one NNablaProtoBuf plus its parameters, and written.

An ``.nnp`` is a zip holding ``nnp_version.txt``, ``network.nntxt`` (networks,
executors, training configuration) and the parameters as ``parameter.h5`` or
``parameter.protobuf``. Reading checks what a file from elsewhere may hold: the
zip is intact, member names are plain (no ``..``, no absolute paths), declared
sizes stay within ``proto.MAX_BYTES``, and every parameter's values match its
shape. Nothing is extracted to disk and nothing changes until all is read.
"""
import io
import os
import posixpath
import zipfile

from .. import _param_io
from .._atomic_file import atomic_write
from . import proto as _proto
from .proto import FileFormatError, describe, parse_binary, parse_text, pb2, \
    read_bytes, to_text

NNP_VERSION = "0.1\n"
TEXT_EXTENSIONS = (".nntxt", ".prototxt")
NETWORK_EXTENSIONS = (".nnp", ".nntxt", ".prototxt", ".protobuf", ".h5")


def extension_of(path, default=None):
    ext = os.path.splitext(os.fspath(path))[1].lower() if isinstance(
        path, (str, os.PathLike)) else ""
    return ext or default


def _safe_member(name, where):
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise FileFormatError(f"{where}: member {name!r} has an unsafe path "
                              "(absolute or with '..'); refusing the archive")


def read_nnp_members(source, limit=None):
    """[(member name, bytes)] of an .nnp archive, checked before anything is read;
    the members may unpack to ``limit`` bytes in all (default ``MAX_BYTES``)."""
    where = describe(source)
    limit = _proto.MAX_BYTES if limit is None else limit
    if isinstance(source, (str, os.PathLike)) and not os.path.exists(source):
        raise FileNotFoundError(f"no such file: {os.fspath(source)!r}")
    try:
        with zipfile.ZipFile(source) as z:
            infos = z.infolist()
            total = 0
            for info in infos:
                _safe_member(info.filename, where)
                total += info.file_size
                if info.file_size > limit or total > limit:
                    raise FileFormatError(
                        f"{where}: member {info.filename!r} declares {info.file_size} bytes; "
                        f"the archive would unpack to over the {limit}-byte limit")
            members = []
            for info in infos:
                if info.is_dir():
                    continue
                with z.open(info) as f:
                    data = f.read(info.file_size + 1)
                if len(data) != info.file_size:
                    raise FileFormatError(f"{where}: member {info.filename!r} holds "
                                          f"{len(data)} bytes, not the declared {info.file_size}")
                members.append((info.filename, data))
            return members
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError) as e:
        if isinstance(e, (FileFormatError, FileNotFoundError)):
            raise
        raise FileFormatError(f"{where}: not a readable .nnp (zip) archive "
                              f"({type(e).__name__}: {e})") from None


def _merge_part(name, data, ext, proto, params, where):
    """Merge one file's content (by extension) into ``proto`` and ``params``."""
    if ext in TEXT_EXTENSIONS or ext == ".protobuf":
        part = pb2().NNablaProtoBuf()
        if ext == ".protobuf":
            parse_binary(data, part, where)
        else:
            parse_text(data, part, where)
        params.extend(_param_io.proto_parameters(part, where))
        del part.parameter[:]
        proto.MergeFrom(part)
    elif ext == ".h5":
        params.extend(_param_io.read_h5_params(io.BytesIO(data), where))


def read_network_files(files, states=None, extension=None):
    """One NNablaProtoBuf (without parameters) and the parameters
    [(key, float32 array, need_grad)] of ``files`` (a path or a list of paths);
    the solver states an .nnp holds (``<optimizer>_<Solver>_optimizer<fmt>.optimizer``
    members) go into ``states`` (member name -> bytes) when given."""
    if isinstance(files, (str, os.PathLike)) or hasattr(files, "read"):
        files = [files]
    proto, params = pb2().NNablaProtoBuf(), []
    for path in files:
        where = describe(path)
        ext = extension_of(path, extension)
        if ext == ".nnp":
            for name, data in read_nnp_members(path):
                member_ext = posixpath.splitext(name)[1].lower()
                if member_ext == ".optimizer" and states is not None:
                    states[name] = data
                _merge_part(name, data, member_ext, proto, params,
                            f"{where} (member {name!r})")
        elif ext in NETWORK_EXTENSIONS:
            data = read_bytes(path, where) if ext != ".h5" else None
            if ext == ".h5":
                params.extend(_param_io.read_h5_params(path, where))
            else:
                _merge_part(path, data, ext, proto, params, where)
        else:
            raise FileFormatError(f"{where}: unknown extension {ext!r}; "
                                  f"expected one of {NETWORK_EXTENSIONS}")
    return proto, params


def write_network_file(path, proto, params, parameter_format=".h5", include_params=False,
                       extra_members=()):
    """Write ``proto`` (networks etc.) and ``params`` [(key, array, need_grad)] to
    ``path``: .nnp (zip with the parameters as ``parameter_format`` and
    ``extra_members`` [(name, bytes)]), .nntxt or .protobuf (parameters inside when
    ``include_params``). Atomic."""
    ext = extension_of(path)
    if ext == ".nnp":
        if parameter_format not in (".h5", ".protobuf"):
            raise ValueError(f"save: parameter_format must be '.h5' or '.protobuf', "
                             f"got {parameter_format!r}")
        text = to_text(proto).encode("utf-8")
        buf = io.BytesIO()
        _param_io.write_parameter_items(buf, params, parameter_format)

        def write(target):
            with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
                z.writestr("nnp_version.txt", NNP_VERSION)
                z.writestr("network.nntxt", text)
                z.writestr("parameter" + parameter_format, buf.getvalue())
                for name, data in extra_members:
                    z.writestr(name, data)
    elif ext in TEXT_EXTENSIONS + (".protobuf",):
        full = pb2().NNablaProtoBuf()
        full.CopyFrom(proto)
        if include_params:
            _param_io.params_to_proto(params, full)
        data = (to_text(full).encode("utf-8") if ext in TEXT_EXTENSIONS
                else full.SerializeToString())

        def write(target):
            with open(target, "wb") as f:
                f.write(data)
    else:
        raise ValueError(f"save: unsupported extension {ext!r} of {os.fspath(path)!r}; "
                         "use .nnp, .nntxt or .protobuf")
    atomic_write(path, write)
