"""Loading the contents a data source names: files by extension, local or remote.

* :class:`FileReader` opens a path or URL (local files, ``file://``,
  ``http(s)://``) and the files it names relative to it, as NNabla's.
* ``load(ext)`` gives the loader of an extension from the registry
  ``_load_functions`` (images, ``.csv``, ``.npy``, ``.wav``); add your own with
  :func:`register_load_function`. Each loader is
  ``loader(file, shape=None, normalize=False)``.
* :func:`download` and :func:`get_data_home` (the local data home) come from
  :mod:`nablite.utils._data_download`.

Every loader bounds what it allocates (see :mod:`nablite.utils._data_bounded`)
and names the file it could not read.
"""
import contextlib
import csv
import io
import os
import urllib.parse
import urllib.request

import numpy as np

from ._data_bounded import max_read_bytes, read_at_most, read_npy
from ._data_download import _timeout, download, get_data_home, urlopen_with_deadline
from .image_utils import imread, imresize  # noqa: F401 (NNabla's names here)

__all__ = ["FileReader", "ResourceFileReader", "get_file_extension",
           "load_image", "load_image_imread", "load_csv", "load_npy", "load_wav", "load",
           "register_load_function", "download", "get_data_home", "read_csv_rows"]

_REMOTE = ("http://", "https://")


def _is_remote(uri):
    return str(uri)[:8].lower().startswith(_REMOTE)


def _file_url_path(uri):
    return urllib.request.url2pathname(urllib.parse.urlparse(uri).path)


class FileReader:
    """Opens ``base_uri`` (a path, ``file://`` or ``http(s)://`` URL) and
    files named relative to it.

    Args:
        base_uri (str): The file (or folder) others are relative to.
    """

    def __init__(self, base_uri):
        if not isinstance(base_uri, (str, os.PathLike)):
            raise TypeError(f"FileReader: base_uri must be a path or URL, got "
                            f"{type(base_uri).__name__}")
        base_uri = os.fspath(base_uri)
        if base_uri[:7].lower() == "file://":
            base_uri = _file_url_path(base_uri)
        self._base_uri = base_uri
        self._file_type = "http" if _is_remote(base_uri) else "file"
        self.base_ext = os.path.splitext(base_uri)[1].lower()

    def _resolve(self, filename):
        if filename is None:
            return self._base_uri
        filename = filename.replace("\\", "/")
        if _is_remote(filename):
            return filename
        if self._file_type == "http":
            return urllib.parse.urljoin(self._base_uri, filename)
        if filename[:7].lower() == "file://":
            return _file_url_path(filename)
        return os.path.abspath(os.path.join(
            os.path.dirname(self._base_uri.replace("\\", "/")), filename))

    @contextlib.contextmanager
    def open(self, filename=None, textmode=False, encoding="utf-8-sig"):
        """Open ``filename`` (relative to the base; default the base itself)
        for reading; the file object gets an ``ext`` attribute."""
        name = self._resolve(filename)
        if _is_remote(name):
            try:
                with urlopen_with_deadline(name, _timeout()) as r:
                    data = read_at_most(r)
            except OSError as e:
                raise ConnectionError(f"FileReader: cannot fetch {name} "
                                      f"({getattr(e, 'reason', e)})") from None
            if len(data) > max_read_bytes():
                raise ValueError(f"FileReader: {name} is larger than the limit of "
                                 f"{max_read_bytes()} bytes (NABLITE_MAX_READ_BYTES)")
            f = io.StringIO(data.decode(encoding)) if textmode else io.BytesIO(data)
            f.name = name
        else:
            if not os.path.isfile(name):
                raise FileNotFoundError(f"FileReader: {name!r} is not a file (it does "
                                        "not exist or is a folder)")
            f = open(name, "rt", encoding=encoding, newline="") if textmode \
                else open(name, "rb")
        try:
            f.ext = os.path.splitext(urllib.parse.urlparse(name).path
                                     if _is_remote(name) else name)[1].lower()
        except AttributeError:  # real file objects take no new attributes
            pass
        with f:
            yield f

    def listdir(self):
        """Sorted ``.h5`` files of a local base folder (None for URLs)."""
        if self._file_type == "http":
            return None
        return [f for f in sorted(os.listdir(self._base_uri))
                if os.path.splitext(f)[1].lower() == ".h5"]


_SIGNATURES = [  # (extension, magic bytes, offset)
    (".png", b"\x89PNG\r\n\x1a\n", 0), (".jpg", b"\xff\xd8\xff", 0),
    (".bmp", b"BM", 0), (".gif", b"GIF87a", 0), (".gif", b"GIF89a", 0),
    (".tif", b"II*\x00", 0), (".tif", b"MM\x00*", 0), (".pgm", b"P5\n", 0),
    (".ico", b"\x00\x00\x01\x00", 0), (".dcm", b"DICM", 0x80),
    (".wav", b"RIFF", 0), (".npy", b"\x93NUMPY", 0),
]


def get_file_extension(source):
    """The lower-case extension of a path, of a file object's ``name``, or
    (for an unnamed binary stream) the one its first bytes identify; ''
    when unknown."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.splitext(os.fspath(source))[1].lower()
    name = getattr(source, "name", None)
    if isinstance(name, str) and os.path.splitext(name)[1]:
        return os.path.splitext(name)[1].lower()
    if hasattr(source, "read") and hasattr(source, "seek"):
        here = source.tell()
        head = source.read(0x84)
        source.seek(here)
        for ext, magic, offset in _SIGNATURES:
            if head[offset:offset + len(magic)] == magic:
                return ext
    return ""


class ResourceFileReader:
    """A path, URL or binary stream with its extension (``ext``) known,
    opened by :meth:`open`."""

    def __init__(self, source):
        if isinstance(source, (str, os.PathLike)):
            self._reader = FileReader(source)
            self.ext = self._reader.base_ext
            if not self.ext:
                with self._reader.open() as f:
                    self.ext = get_file_extension(f)
        elif hasattr(source, "read") and hasattr(source, "seek"):
            self._reader = None
            self._stream = source
            self.ext = get_file_extension(source)
        else:
            raise ValueError("ResourceFileReader: source must be a path, a URL "
                             f"or a binary file object, got {type(source).__name__}")

    @contextlib.contextmanager
    def open(self):
        if self._reader is not None:
            with self._reader.open() as f:
                yield f
        else:
            self._stream.seek(0)
            yield self._stream
            self._stream.seek(0)


def _source_name(file):
    if isinstance(file, (str, os.PathLike)):
        return os.fspath(file)
    return getattr(file, "name", None) or repr(file)


def load_image_imread(file, shape=None, max_range=1.0):
    """An image file as (C, H, W): uint8/uint16 as stored when ``max_range``
    is negative, else float64 scaled to [0, max_range]. ``shape=(C, H, W)``
    resizes to H x W (C must match the file's channels)."""
    img = imread(file)
    if img.ndim == 2:
        img = img[:, :, None]
    height, width, channels = img.shape
    if shape is not None:
        try:
            out_c, out_h, out_w = (int(s) for s in shape)
        except (TypeError, ValueError):
            raise ValueError(f"load_image: shape must be (C, H, W), got {shape!r}") from None
        if out_c != channels:
            raise ValueError(f"load_image: {_source_name(file)} has {channels} "
                             f"channels, shape asks for {out_c}")
        if (out_h, out_w) != (height, width):
            img = imresize(img, (out_w, out_h))
            img = img.reshape(out_h, out_w, channels)
    img = img.transpose(2, 0, 1)
    if max_range < 0:
        return img
    top = 65535.0 if img.dtype == np.uint16 else 255.0
    if max_range == top:
        return img
    return img * (max_range / top)


def load_image(file, shape=None, normalize=False):
    """An image as (C, H, W): as stored (uint8), or float64 in [0, 1] with
    ``normalize``."""
    return load_image_imread(file, shape, 1.0 if normalize else -1)


def read_csv_rows(f, who, name):
    """The rows of the CSV text in the binary (or text) stream ``f``, read
    only up to the read limit; a file over it, not UTF-8 or not CSV (a field
    over the csv module's size limit, a NUL byte) gives a ValueError naming
    ``name``."""
    data = read_at_most(f)
    if len(data) > max_read_bytes():
        raise ValueError(f"{who}: {name} is larger than the limit of "
                         f"{max_read_bytes()} bytes (NABLITE_MAX_READ_BYTES)")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ValueError(f"{who}: {name} is not UTF-8 text ({e})") from None
    reader = csv.reader(io.StringIO(data, newline=""))
    try:
        return list(reader)
    except csv.Error as e:
        raise ValueError(f"{who}: line {reader.line_num} of {name} cannot be read "
                         f"as CSV ({e})") from None


@contextlib.contextmanager
def _binary(file, fn, arg):
    """``file`` as a binary stream: a path is opened (and closed after), a
    file object is used as it is."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            yield f
        return
    if not hasattr(file, "read"):
        raise TypeError(f"{fn}: {arg} must be a path or a binary file object, got "
                        f"{type(file).__name__}")
    yield file


def load_csv(file, shape=None, normalize=False):
    """A CSV file of numbers (a binary file object or a path) as a float64
    array of its rows, reshaped to ``shape`` if given."""
    with _binary(file, "load_csv", "file") as f:
        name = _source_name(f)
        table = read_csv_rows(f, "load_csv", name)
    rows = []
    for n, row in enumerate(table, 1):
        if row:
            try:
                rows.append([float(c) for c in row])
            except ValueError:
                raise ValueError(f"load_csv: line {n} of {name} holds a cell that "
                                 f"is not a number: {row}") from None
    try:
        a = np.array(rows)
        return a if shape is None else a.reshape(shape)
    except ValueError as e:
        raise ValueError(f"load_csv: {name} cannot be read as an array of "
                         f"shape {shape} ({e})") from None


def load_npy(path, shape=None, normalize=False):
    """An ``.npy`` file (a path or binary file object); object arrays
    (pickles) are refused."""
    with _binary(path, "load_npy", "path") as f:
        name = _source_name(f)
        a = read_npy(f, "load_npy", name)
    if shape is None:
        return a
    try:
        return a.reshape(shape)
    except ValueError as e:
        raise ValueError(f"load_npy: {name} cannot be reshaped "
                         f"to {shape} ({e})") from None


def load_wav(path, shape=None, normalize=False):
    """A PCM ``.wav`` file (path or binary file object) as (frames, channels):
    uint8 for 8-bit, int16 / int32 for 16 / 32-bit samples (as stored, like
    NNabla's ``scipy.io.wavfile`` reader); ``shape`` reshapes."""
    import wave
    name = _source_name(path)
    try:
        with wave.open(path if not isinstance(path, os.PathLike) else os.fspath(path),
                       "rb") as w:
            width, channels, frames = w.getsampwidth(), w.getnchannels(), w.getnframes()
            if width not in (1, 2, 4):
                raise ValueError(f"load_wav: {name} has {8 * width}-bit samples; "
                                 "8, 16 and 32-bit PCM are read")
            need = width * channels * frames
            if need > max_read_bytes():
                raise ValueError(f"load_wav: {name} declares {frames} frames of "
                                 f"{channels} channels ({need} bytes), more than the "
                                 f"limit of {max_read_bytes()} bytes")
            # in pieces: a truncated file holds less than its header declares
            step, pieces, got = max(1, (1 << 20) // (width * channels)), [], 0
            while got < need:
                piece = w.readframes(step)
                if not piece:
                    break
                pieces.append(piece)
                got += len(piece)
            data = b"".join(pieces)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"load_wav: {name} is not a readable PCM .wav file ({e})") from None
    if len(data) != need:
        raise ValueError(f"load_wav: {name} is truncated: {len(data)} of the {need} "
                         "bytes its header declares")
    a = np.frombuffer(data, dtype={1: np.uint8, 2: "<i2", 4: "<i4"}[width])
    a = a.astype(a.dtype.newbyteorder("=")).reshape(-1, channels)
    return a if shape is None else a.reshape(shape)


_load_functions = {
    ".bmp": load_image, ".jpg": load_image, ".jpeg": load_image,
    ".png": load_image, ".gif": load_image, ".tif": load_image,
    ".tiff": load_image, ".csv": load_csv, ".npy": load_npy, ".wav": load_wav,
}


def register_load_function(ext, func):
    """Make ``load(ext)`` return ``func(file, shape=None, normalize=False)``."""
    if not callable(func):
        raise TypeError(f"register_load_function: func must be callable, got "
                        f"{type(func).__name__}")
    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    _load_functions[ext] = func


def load(ext):
    """The loader registered for the extension ``ext`` (e.g. ``'.png'``)."""
    try:
        return _load_functions[str(ext).lower()]
    except KeyError:
        raise ValueError(f"load: no loader for the file extension {ext!r}; known "
                         f"extensions are {sorted(_load_functions)} (add one with "
                         "register_load_function)") from None
