"""Readers of files from elsewhere that bound what they allocate.

Every reader checks a declared size (an ``.npy`` header's shape, an image's
width and height, a tar member's size, a decompressed stream) against what the
file can hold and against a limit before it allocates, and names the file and
what is wrong when it refuses. The limit is ``NABLITE_MAX_READ_BYTES`` (bytes,
default 4 GiB).
"""
import io
import os
import pickle
import tarfile
import zlib

import numpy as np

__all__ = ["max_read_bytes", "read_at_most", "read_npy", "decompress",
           "tar_member_bytes", "safe_load_pickle"]


def max_read_bytes():
    """The most bytes one reader may allocate (``NABLITE_MAX_READ_BYTES``)."""
    try:
        return int(os.environ.get("NABLITE_MAX_READ_BYTES", 4 << 30))
    except ValueError:
        return 4 << 30


def read_at_most(f, limit=None):
    """Up to ``limit + 1`` bytes (or characters) of ``f`` (default limit: the
    read limit), so a caller sees whether it is over; read in 1 MiB pieces,
    as ``f.read(n)`` sets aside all ``n`` bytes before reading."""
    limit = max_read_bytes() if limit is None else int(limit)
    pieces, total = [], 0
    while total <= limit:
        piece = f.read(min(1 << 20, limit + 1 - total))
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    if not pieces:
        return f.read(0)  # b"" or "", as the stream gives
    return pieces[0][:0].join(pieces)


def _remaining(f):
    """Bytes left in a seekable file from its position (None if unknown)."""
    try:
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def read_npy(f, who, source):
    """The next array of an ``.npy`` stream ``f`` (several may follow each
    other, as in NNabla's cache files), without pickles and only after its
    declared size was checked against the bytes left and the limit."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        header = (fmt.read_array_header_1_0 if version == (1, 0)
                  else fmt.read_array_header_2_0)
        shape, fortran, dtype = header(f)
    except (ValueError, OSError, SyntaxError, TypeError) as e:
        raise ValueError(f"{who}: {source} is not a valid .npy stream ({e})") from None
    if dtype.hasobject:
        raise ValueError(f"{who}: {source} holds an object array (a pickle); "
                         "only plain numeric arrays are read")
    count = 1
    for d in shape:
        count *= int(d)
    need = count * dtype.itemsize
    left = _remaining(f)
    if left is not None and need > left:
        raise ValueError(f"{who}: {source} declares an array {shape} of {dtype} "
                         f"({need} bytes) but only {left} bytes follow; the file "
                         "is truncated or corrupt")
    if need > max_read_bytes():
        raise ValueError(f"{who}: {source} declares an array {shape} of {dtype} "
                         f"({need} bytes), more than the limit of "
                         f"{max_read_bytes()} bytes (NABLITE_MAX_READ_BYTES)")
    data = f.read(need)
    if len(data) != need:
        raise ValueError(f"{who}: {source} ends after {len(data)} of the {need} "
                         f"bytes its header {shape} {dtype} declares")
    a = np.frombuffer(data, dtype=dtype, count=count)
    a = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
    return a.copy() if not a.flags.writeable else a


def decompress(data, who, source, limit=None):
    """gzip or zlib ``data`` (bytes or a binary file) inflated, refusing more
    than ``limit`` output bytes (default: the read limit) as it streams."""
    limit = max_read_bytes() if limit is None else int(limit)
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
    out, size = [], 0
    try:
        while True:
            chunk = inflater.unconsumed_tail or f.read(1 << 20)
            if not chunk:
                break
            piece = inflater.decompress(chunk, limit + 1 - size)
            size += len(piece)
            if size > limit:
                raise ValueError(
                    f"{who}: {source} inflates to more than {limit} bytes "
                    "(a decompression bomb or the wrong file); refused")
            out.append(piece)
            if inflater.eof:
                break
    except zlib.error as e:
        raise ValueError(f"{who}: {source} is not a valid gzip stream ({e})") from None
    if not inflater.eof:
        raise ValueError(f"{who}: {source} is a truncated gzip stream (it ends "
                         f"after {size} inflated bytes)")
    return b"".join(out)


def tar_member_bytes(tar, name, who, source):
    """The bytes of the regular file ``name`` (a name or a ``TarInfo``) in an
    open tar archive; links, folders and members larger than the limit are
    refused by name (``tar.getmember`` / ``extractfile`` would raise a raw
    ``KeyError`` for a link whose target is missing)."""
    if isinstance(name, tarfile.TarInfo):
        member, name = name, name.name
    else:
        try:
            member = tar.getmember(name)
        except KeyError:
            raise FileNotFoundError(f"{who}: {name} not found in the archive "
                                    f"{source}") from None
    if member.issym() or member.islnk():
        raise ValueError(f"{who}: {name} in the archive {source} is a "
                         f"{'symbolic' if member.issym() else 'hard'} link (to "
                         f"{member.linkname!r}); only regular files are read")
    if not member.isfile():
        raise ValueError(f"{who}: {name} in the archive {source} is not a "
                         "regular file")
    if member.size > max_read_bytes():
        raise ValueError(f"{who}: {name} in the archive {source} declares "
                         f"{member.size} bytes, more than the limit of "
                         f"{max_read_bytes()} (NABLITE_MAX_READ_BYTES)")
    try:
        # in pieces: a truncated archive holds less than its header declares
        data = read_at_most(tar.extractfile(member), member.size)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
        raise ValueError(f"{who}: the archive {source} is truncated or corrupt "
                         f"in {name} ({e})") from None
    if len(data) != member.size:
        raise ValueError(f"{who}: the archive {source} is truncated: {name} "
                         f"holds {len(data)} of its {member.size} bytes")
    return data


def _allowed_globals():
    """(module, name) -> object, for the globals array pickles need."""
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    for mod in ("numpy.core", "numpy._core"):
        allowed[(mod + ".multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(mod + ".multiarray", "scalar")] = multiarray.scalar
        if hasattr(numeric, "_frombuffer"):
            allowed[(mod + ".numeric", "_frombuffer")] = numeric._frombuffer
    import _codecs
    # Python 3 pickles of protocol <= 2 write bytes as _codecs.encode(str, 'latin1').
    allowed[("_codecs", "encode")] = _codecs.encode
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    _allowed = None

    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self._source = source
        if _RestrictedUnpickler._allowed is None:
            _RestrictedUnpickler._allowed = _allowed_globals()

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"safe_load_pickle: refusing to load global '{module}.{name}' "
                f"from {self._source}; only plain containers and NumPy arrays "
                "are allowed") from None


def safe_load_pickle(data, source="<bytes>"):
    """Unpickle ``data`` (bytes or a binary file) allowing only plain
    containers, numbers, strings and NumPy arrays/dtypes.

    A pickle larger than the read limit is refused before it is read. Shared
    references are kept as references (no copies are made); callers check the
    types and sizes of what they take out.

    Raises:
        pickle.UnpicklingError: The pickle refers to any other global, or is
            corrupt.
    """
    if not isinstance(data, (bytes, bytearray)):
        left = _remaining(data)
        if left is not None and left > max_read_bytes():
            raise pickle.UnpicklingError(
                f"safe_load_pickle: {source} holds {left} bytes, more than the "
                f"limit of {max_read_bytes()} (NABLITE_MAX_READ_BYTES)")
        data = data.read()
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except pickle.UnpicklingError:
        raise
    except (EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, RecursionError, MemoryError) as e:
        raise pickle.UnpicklingError(
            f"safe_load_pickle: {source} is not a valid pickle of arrays "
            f"({type(e).__name__}: {e})") from None
