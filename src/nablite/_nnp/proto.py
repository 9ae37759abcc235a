"""The NNablaProtoBuf messages (nablite/nnabla_pb2.py, generated from nnabla.proto)
and their two encodings, read with the checks a file from elsewhere needs.

protobuf is an optional dependency (``nablite[io]``): it is imported on first use,
so ``import nablite`` works without it. nnabla_pb2.py is generated from
nnabla.proto and committed; regenerate it from the repository root with

    python -m grpc_tools.protoc -I src --python_out=src src/nablite/nnabla.proto
"""
import os

# Largest file or archive member read into memory (protobuf itself stops at 2 GiB).
MAX_BYTES = 2 ** 31 - 1


def pb2():
    """The generated message module; a clear error when protobuf is missing."""
    try:
        from .. import nnabla_pb2
    except ImportError as e:
        raise ImportError("reading or writing NNabla's .protobuf/.nntxt/.nnp files needs "
                          'Google\'s protobuf package: pip install "nablite[io]"  '
                          f"(or pip install protobuf) [{e}]") from None
    return nnabla_pb2


def _text_format():
    pb2()
    from google.protobuf import text_format
    return text_format


def describe(source):
    """A file's name for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    return repr(getattr(source, "name", "<file object>"))


class FileFormatError(ValueError):
    """A file that is not what its name says, or that asks for too much."""


def parse_binary(data, message, where):
    """Merge binary protobuf ``data`` into ``message``; errors name ``where``."""
    from google.protobuf.message import DecodeError
    try:
        message.MergeFromString(data)
    except (DecodeError, RecursionError, ValueError) as e:
        raise FileFormatError(f"{where}: not a valid binary NNablaProtoBuf "
                              f"(truncated or corrupt: {e})") from None
    return message


def parse_text(data, message, where):
    """Merge protobuf text (bytes or str) into ``message``; errors name ``where``."""
    text_format = _text_format()
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        text_format.Merge(text, message)
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{where}: not UTF-8 text ({e})") from None
    except (text_format.ParseError, RecursionError, ValueError) as e:
        raise FileFormatError(f"{where}: not a valid NNabla text file "
                              f"({type(e).__name__}: {str(e)[:300]})") from None
    return message


def to_text(message):
    """Protobuf's text format, as NNabla writes .nntxt files."""
    return _text_format().MessageToString(message)


def read_bytes(source, where=None, limit=None):
    """All bytes of a path or file object, refusing files over ``limit`` (default
    ``MAX_BYTES``)."""
    where = where or describe(source)
    limit = MAX_BYTES if limit is None else limit
    if isinstance(source, (str, os.PathLike)):
        if not os.path.exists(source):
            raise FileNotFoundError(f"no such file: {os.fspath(source)!r}")
        size = os.path.getsize(source)
        if size > limit:
            hint = (" (protobuf reads at most 2 GiB; large parameter sets belong in .h5)"
                    if os.fspath(source).endswith(".protobuf") else "")
            raise FileFormatError(f"{where}: {size} bytes is over the {limit}-byte limit"
                                  + hint)
        with open(source, "rb") as f:
            return f.read()
    if getattr(source, "seekable", lambda: False)():
        # A stream left at its end (a BytesIO just written) is read from the start,
        # as NNabla reads it; one positioned elsewhere is read from there.
        pos = source.tell()
        if pos and source.seek(0, os.SEEK_END) == pos:
            source.seek(0)
        else:
            source.seek(pos)
    data = source.read(limit + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > limit:
        raise FileFormatError(f"{where}: over the {limit}-byte limit")
    return data
