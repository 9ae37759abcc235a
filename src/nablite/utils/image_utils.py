"""Reading, writing and resizing images, with NNabla's backend manager.

Images are NumPy arrays of shape (H, W) (grayscale) or (H, W, C), or
(C, H, W) with ``channel_first=True``. Sizes are given as ``(width, height)``.
``imread``/``imsave``/``imresize`` run on the current backend: ``PilBackend``
(Pillow, the default; ``pip install "nablite[image]"``) or ``Cv2Backend``
(OpenCV, when ``cv2`` is installed); :func:`set_backend` chooses,
:func:`get_available_backends` lists what is installed.

8-bit files are read, converted and resized as NNabla's Pillow backend does
(tests/test_data_parity.py). 16-bit files are scaled to uint8 by 257 (NNabla
keeps their low byte) or kept with ``as_uint16=True``, and ``num_channels=1``
or ``as_uint16`` need no other backend (NNabla's Pillow backend refuses them).

Files from elsewhere are checked before they are decoded: an image whose
header declares more pixels than ``NABLITE_MAX_IMAGE_PIXELS`` (default
2**28) or more bytes than the read limit is refused, and a file that is not
an image or is truncated gives an error naming it.
"""
import io
import os

import numpy as np

from .. import backend as _backend
from ._data_bounded import max_read_bytes, read_at_most

__all__ = ["imread", "imsave", "imresize", "set_backend", "get_backend",
           "get_available_backends", "imload", "imwrite", "rescale_pixel_intensity",
           "minmax_auto_scale"]

_RESAMPLE = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")


def _pil(fn):
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"nablite.utils.image_utils.{fn} needs Pillow; install it with "
            '`pip install "nablite[image]"`') from e
    return Image


def _max_pixels():
    try:
        return int(os.environ.get("NABLITE_MAX_IMAGE_PIXELS", 1 << 28))
    except ValueError:
        return 1 << 28


def check_declared_size(width, height, channels, itemsize, source, fn="imread"):
    """Refuse an image whose header declares too many pixels or bytes."""
    pixels = int(width) * int(height)
    if pixels > _max_pixels() or pixels * channels * itemsize > max_read_bytes():
        raise ValueError(
            f"{fn}: {source} declares {width} x {height} pixels, more than the "
            f"limit of {_max_pixels()} pixels (NABLITE_MAX_IMAGE_PIXELS) or "
            f"{max_read_bytes()} bytes; refused before decoding (a "
            "decompression bomb?)")


def _check_source(path, fn):
    if isinstance(path, (str, os.PathLike)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{fn}: no image file {os.fspath(path)!r}")
    elif not hasattr(path, "read"):
        raise TypeError(f"{fn}: path must be a file name or a binary file object, "
                        f"got {type(path).__name__}")


def _source(path):
    return path if isinstance(path, str) else getattr(path, "name", repr(path))


def _resample(Image, interpolate, fn):
    if interpolate not in _RESAMPLE:
        raise ValueError(f"{fn}: interpolate must be one of {_RESAMPLE}, "
                         f"got {interpolate!r}")
    return getattr(Image.Resampling, interpolate.upper())


def _check_size(size, fn):
    try:
        w, h = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: size must be (width, height), got {size!r}")
    if w <= 0 or h <= 0:
        raise ValueError(f"{fn}: size must be positive (width, height), "
                         f"got {size!r}")
    return w, h


def _to_hwc(img, channel_first, fn):
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{fn}: img must be a numpy.ndarray, got {type(img).__name__}")
    if img.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: img must hold real numbers, got dtype {img.dtype}")
    if img.ndim not in (2, 3):
        raise ValueError(f"{fn}: img must have 2 or 3 dimensions, got shape "
                         f"{img.shape}")
    if channel_first and img.ndim == 3:
        img = img.transpose(1, 2, 0)
    return img


def _from_hwc(img, channel_first):
    if channel_first and img.ndim == 3:
        return img.transpose(2, 0, 1)
    return img


def _pil_imresize(img, size, interpolate="bilinear", channel_first=False):
    # uint8 L/RGB/RGBA images are resampled by Pillow as they are (NNabla's
    # results); any other image channel by channel in float32, then rounded
    # and clipped back to its dtype.
    Image = _pil("imresize")
    w, h = _check_size(size, "imresize")
    method = _resample(Image, interpolate, "imresize")
    hwc = _to_hwc(img, channel_first, "imresize")
    check_declared_size(w, h, hwc.shape[-1] if hwc.ndim == 3 else 1, 4,
                        f"size={tuple(size)}", fn="imresize")
    if hwc.dtype == np.uint8 and (hwc.ndim == 2 or hwc.shape[-1] in (1, 3, 4)):
        squeeze = hwc.ndim == 3 and hwc.shape[-1] == 1
        plane = np.ascontiguousarray(hwc[..., 0] if squeeze else hwc)
        out = np.asarray(Image.fromarray(plane).resize((w, h), method))
        return _from_hwc(out[..., None] if squeeze else out, channel_first)
    planes = hwc[..., None] if hwc.ndim == 2 else hwc
    out = np.stack([
        np.asarray(Image.fromarray(np.ascontiguousarray(
            planes[..., c], dtype=np.float32)).resize((w, h), method))
        for c in range(planes.shape[-1])], axis=-1)
    if hwc.ndim == 2:
        out = out[..., 0]
    if np.issubdtype(hwc.dtype, np.integer):
        info = np.iinfo(hwc.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    elif hwc.dtype == np.bool_:
        out = out >= 0.5
    return _from_hwc(out.astype(hwc.dtype), channel_first)


def _pil_imread(path, grayscale=False, size=None, interpolate="bilinear",
                channel_first=False, as_uint16=False, num_channels=-1):
    Image = _pil("imread")
    _check_channels(grayscale, num_channels)
    _check_source(path, "imread")
    try:
        im = Image.open(path)
    except Image.DecompressionBombError as e:
        raise ValueError(f"imread: {_source(path)} is refused as a decompression "
                         f"bomb ({e})") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"imread: cannot read {_source(path)} as an image "
                         f"({type(e).__name__}: {e})") from None
    with im:
        check_declared_size(im.width, im.height, len(im.getbands()),
                            2 if im.mode.startswith("I") else 1, _source(path))
        # 16-bit files keep one plane (Pillow's conversions would clip them);
        # their channels are made in NumPy below.
        sixteen = im.mode in ("I;16", "I;16B", "I;16L", "I")
        try:
            if not sixteen:
                if grayscale or num_channels == 1:
                    im = im.convert("L")
                elif num_channels == 3:
                    im = im.convert("RGB")
                elif num_channels == 4:
                    im = im.convert("RGBA")
                elif im.mode not in ("L", "RGB", "RGBA"):
                    im = im.convert("RGBA" if "A" in im.getbands() or
                                    "transparency" in im.info else "RGB")
            arr = np.asarray(im)
        except (OSError, ValueError, SyntaxError) as e:
            raise ValueError(f"imread: {_source(path)} is truncated or corrupt "
                             f"({type(e).__name__}: {e})") from None
    if sixteen:
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
    if as_uint16 and arr.dtype == np.uint8:
        arr = arr.astype(np.uint16) * 257
    elif not as_uint16 and arr.dtype == np.uint16:
        arr = (arr // 257).astype(np.uint8)
    if arr.ndim == 2 and num_channels in (1, 3) and (num_channels == 1 or grayscale
                                                   or sixteen):
        arr = np.repeat(arr[..., None], num_channels, axis=-1)
    elif arr.ndim == 2 and num_channels == 4 and sixteen:
        top = np.iinfo(arr.dtype).max
        arr = np.concatenate([np.repeat(arr[..., None], 3, axis=-1),
                              np.full(arr.shape + (1,), top, arr.dtype)], axis=-1)
    elif arr.ndim == 2 and num_channels == 4 and grayscale:
        arr = np.repeat(arr[..., None], 4, axis=-1)
    if size is not None:
        arr = _pil_imresize(arr, size, interpolate=interpolate)
    return _from_hwc(arr, channel_first)


def _check_channels(grayscale, num_channels):
    if num_channels not in (-1, 0, 1, 3, 4):
        raise ValueError(f"imread: num_channels must be -1, 0, 1, 3 or 4, got "
                         f"{num_channels!r}")
    if not grayscale and num_channels in (0, 1):  # as NNabla's
        raise ValueError(f"imread: num_channels={num_channels} reads a gray image; pass "
                         "grayscale=True (with grayscale=False it must be -1, 3 or 4)")


def _pil_imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    Image = _pil("imsave")
    hwc = _to_hwc(img, channel_first, "imsave")
    if hwc.ndim == 3:
        if hwc.shape[-1] == 1:
            hwc = hwc[..., 0]
        elif hwc.shape[-1] not in (3, 4):
            raise ValueError(f"imsave: img must have 1, 3 or 4 channels, got "
                             f"shape {np.shape(img)} (channel_first="
                             f"{channel_first})")
    dtype, top = (np.uint16, 65535) if as_uint16 else (np.uint8, 255)
    if np.issubdtype(hwc.dtype, np.floating) or hwc.dtype == np.bool_:
        values = hwc.astype(np.float32)  # scaled in float32, as NNabla (57/255 -> 57)
        if auto_scale:
            lo, hi = (float(values.min()), float(values.max())) if values.size else (0, 0)
            if lo < 0.0 or hi > 1.0 or np.isnan(values).any():
                raise ValueError(
                    f"imsave: float image values must lie in [0, 1] with "
                    f"auto_scale=True, got range [{lo}, {hi}]")
            values = values * top
        out = np.clip(values, 0, top).astype(dtype)  # truncated, as NNabla's
    else:
        out = np.clip(hwc, 0, top).astype(dtype)
    if as_uint16:
        if out.ndim != 2:
            raise ValueError("imsave: as_uint16=True is supported for "
                             f"single-channel images only, got shape {hwc.shape}")
    _save_atomic(path, Image.fromarray(out))


def _save_atomic(path, im):
    from .._atomic_file import atomic_write
    if not isinstance(path, (str, os.PathLike)):
        im.save(path)
        return
    Image = _pil("imsave")
    ext = os.path.splitext(os.fspath(path))[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise ValueError(f"imsave: cannot tell the image format from the "
                         f"extension of {os.fspath(path)!r}; use .png, .jpg, "
                         ".bmp, .tif, ...")
    atomic_write(path, lambda tmp: im.save(tmp, format=fmt))


# -- OpenCV ---------------------------------------------------------------------------
def _cv2(fn):
    try:
        import cv2
    except ImportError as e:
        raise ImportError(f"nablite.utils.image_utils.{fn}: the Cv2Backend needs "
                          "OpenCV (`pip install opencv-python-headless`)") from e
    return cv2


def _cv2_imread(path, grayscale=False, size=None, interpolate="bilinear",
                channel_first=False, as_uint16=False, num_channels=-1):
    cv2 = _cv2("imread")
    _check_source(path, "imread")
    _check_channels(grayscale, num_channels)
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            data = read_at_most(f)
    else:
        data = read_at_most(path)
    if len(data) > max_read_bytes():
        raise ValueError(f"imread: {_source(path)} is larger than the limit of "
                         f"{max_read_bytes()} bytes (NABLITE_MAX_READ_BYTES)")
    try:
        Image = _pil("imread")
    except ImportError:
        Image = None
    if Image is not None:  # the header's size first, where Pillow can read it
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:
            raise ValueError(f"imread: {_source(path)} is refused as a decompression "
                             f"bomb ({e})") from None
        except (OSError, ValueError, SyntaxError):
            im = None  # a format Pillow lacks: OpenCV may read it
        if im is not None:
            with im:
                check_declared_size(im.width, im.height, len(im.getbands()), 2,
                                    _source(path))
    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f"imread: cannot read {_source(path)} as an image")
    if arr.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
        arr = cv2.cvtColor(arr, code)
    if grayscale or num_channels == 1:
        if arr.ndim == 3:
            arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2GRAY if arr.shape[2] == 4
                               else cv2.COLOR_RGB2GRAY)
        if num_channels == 4 and arr.dtype == np.uint16:  # opaque, as the Pillow path
            arr = np.concatenate([np.repeat(arr[..., None], 3, axis=-1),
                                  np.full(arr.shape + (1,), 65535, np.uint16)], axis=-1)
        elif num_channels in (1, 3, 4):  # the gray plane repeated, as the Pillow path
            arr = np.repeat(arr[..., None], num_channels, axis=-1)
    elif num_channels in (3, 4):
        gray = arr.ndim == 2
        if gray:
            arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB)
        if num_channels == 4 and arr.shape[2] == 3:
            arr = cv2.cvtColor(arr, cv2.COLOR_RGB2RGBA)
        elif num_channels == 3 and arr.shape[2] == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2RGB)
    if as_uint16 and arr.dtype == np.uint8:
        arr = arr.astype(np.uint16) * 257
    elif not as_uint16 and arr.dtype == np.uint16:
        arr = (arr // 257).astype(np.uint8)
    if size is not None:
        arr = _cv2_imresize(arr, size, interpolate)
    return _from_hwc(arr, channel_first)


_CV2_RESAMPLE = {"nearest": "INTER_NEAREST", "box": "INTER_AREA",
                 "bilinear": "INTER_LINEAR", "hamming": "INTER_AREA",
                 "bicubic": "INTER_CUBIC", "lanczos": "INTER_LANCZOS4"}


def _cv2_imresize(img, size, interpolate="bilinear", channel_first=False):
    cv2 = _cv2("imresize")
    w, h = _check_size(size, "imresize")
    if interpolate not in _CV2_RESAMPLE:
        raise ValueError(f"imresize: interpolate must be one of {_RESAMPLE}, "
                         f"got {interpolate!r}")
    hwc = _to_hwc(img, channel_first, "imresize")
    check_declared_size(w, h, hwc.shape[-1] if hwc.ndim == 3 else 1, 4,
                        f"size={tuple(size)}", fn="imresize")
    out = cv2.resize(np.ascontiguousarray(hwc), (w, h),
                     interpolation=getattr(cv2, _CV2_RESAMPLE[interpolate]))
    if hwc.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return _from_hwc(out, channel_first)


def _cv2_imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    from .._atomic_file import atomic_write
    cv2 = _cv2("imsave")
    hwc = _to_hwc(img, channel_first, "imsave")
    dtype, top = (np.uint16, 65535) if as_uint16 else (np.uint8, 255)
    if np.issubdtype(hwc.dtype, np.floating):
        values = hwc.astype(np.float32)  # scaled in float32, as NNabla (57/255 -> 57)
        if auto_scale:
            if values.size and (values.min() < 0 or values.max() > 1):
                raise ValueError("imsave: float image values must lie in [0, 1] "
                                 "with auto_scale=True")
            values = values * top
        out = np.clip(values, 0, top).astype(dtype)  # truncated, as NNabla's
    else:
        out = np.clip(hwc, 0, top).astype(dtype)
    if out.ndim == 3 and out.shape[2] in (3, 4):
        out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR if out.shape[2] == 3
                           else cv2.COLOR_RGBA2BGRA)
    ext = os.path.splitext(os.fspath(path))[1] or ".png"
    ok, buf = cv2.imencode(ext, out)
    if not ok:
        raise ValueError(f"imsave: OpenCV cannot write {os.fspath(path)!r}")
    atomic_write(path, lambda tmp: buf.tofile(tmp))


# -- the backend manager ---------------------------------------------------------------
_BACKENDS = {
    "PilBackend": ("PIL", _pil_imread, _pil_imsave, _pil_imresize),
    "Cv2Backend": ("cv2", _cv2_imread, _cv2_imsave, _cv2_imresize),
}
_current = ["PilBackend"]


def get_available_backends():
    """Names of the image backends whose library is installed."""
    import importlib.util
    return [name for name, (module, *_) in _BACKENDS.items()
            if importlib.util.find_spec(module) is not None]


def get_backend():
    """Name of the backend ``imread``/``imsave``/``imresize`` use now."""
    return _current[0]


def set_backend(backend):
    """Use ``backend`` ('PilBackend' or 'Cv2Backend') from now on."""
    if backend not in _BACKENDS:
        raise ValueError(f"set_backend: backend must be one of "
                         f"{sorted(_BACKENDS)}, got {backend!r}")
    if backend not in get_available_backends():
        raise ValueError(f"set_backend: {backend} is not installed here "
                         f"(available: {get_available_backends()})")
    _current[0] = backend


def imread(path, grayscale=False, size=None, interpolate="bilinear",
           channel_first=False, as_uint16=False, num_channels=-1, **kwargs):
    """Read an image file into a NumPy array (current backend).

    Args:
        path (str or file-like): Image to read.
        grayscale (bool): Convert to one channel; the result is (H, W).
        size (None or tuple of int): Resize to (width, height).
        interpolate (str): Resampling for ``size`` (see :func:`imresize`).
        channel_first (bool): Return (C, H, W) instead of (H, W, C).
        as_uint16 (bool): Return uint16 (8-bit files are scaled by 257).
            Otherwise uint8 (16-bit files are scaled down by 257).
        num_channels (int): -1 keeps the file's channels (grayscale files
            give (H, W)); 1, 3 or 4 converts to that many channels and always
            keeps a channel axis.

    Returns:
        numpy.ndarray: uint8 (or uint16) image.
    """
    return _BACKENDS[_current[0]][1](path, grayscale, size, interpolate,
                                     channel_first, as_uint16, num_channels)


def imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True,
           **kwargs):
    """Write an image array to a file (format from the extension; written
    atomically).

    Args:
        path (str): File to write.
        img (numpy.ndarray): (H, W), (H, W, 1), (H, W, 3), (H, W, 4), or the
            channel-first layouts with ``channel_first=True`` (a device array
            is copied to the host first).
        channel_first (bool): ``img`` is (C, H, W).
        as_uint16 (bool): Write 16-bit pixels (grayscale PNG/TIFF only with
            Pillow).
        auto_scale (bool): Float images must lie in [0, 1] and are scaled to
            [0, 255] (or [0, 65535]) and truncated, as NNabla's; without it
            floats are truncated as they are (NNabla refuses them). Integer
            images are written as they are (clipped to range).
    """
    img = _backend.to_numpy(img)
    return _BACKENDS[_current[0]][2](path, img, channel_first, as_uint16, auto_scale)


def imresize(img, size, interpolate="bilinear", channel_first=False, **kwargs):
    """Resize an image to ``size = (width, height)`` (current backend).

    Integer images are rounded and clipped back to their dtype.

    Args:
        img (numpy.ndarray): (H, W), (H, W, C), or (C, H, W) with
            ``channel_first``.
        size (tuple of int): (width, height) of the result.
        interpolate (str): 'nearest', 'box', 'bilinear', 'hamming',
            'bicubic' or 'lanczos'.
        channel_first (bool): ``img`` (and the result) is (C, H, W).
    """
    return _BACKENDS[_current[0]][3](img, size, interpolate, channel_first)


# NNabla's other names for the two
imwrite = imsave
imload = imread


def rescale_pixel_intensity(img, input_low=0, input_high=255, output_low=0,
                            output_high=255, output_type=None):
    """Map ``img``'s values linearly from [input_low, input_high] to
    [output_low, output_high] and cast to ``output_type`` (default: img's
    dtype), as NNabla's helper of that name.

    Where ``input_low == input_high`` every value becomes
    ``img / input_low`` (0 for a zero range at 0) before the mapping; where
    ``input_low == output_low == output_high`` the image is only cast.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError(f"rescale_pixel_intensity: img must be a numpy.ndarray, "
                         f"got {type(img).__name__}")
    dtype = img.dtype if output_type is None else output_type
    if input_low == output_low == output_high:  # NNabla's shortcut, kept
        return np.asarray(img, dtype)
    span = input_high - input_low
    if span == 0:
        unit = img if input_low == 0 else img / input_low
    else:
        unit = (img - input_low) / span
    return (unit * (output_high - output_low) + output_low).astype(dtype)


def minmax_auto_scale(img, as_uint16):
    """``img`` stretched from its own [min, max] to [0, 255] as uint8 (to
    [0, 65535] as uint16 with ``as_uint16``)."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f"minmax_auto_scale: img must be a numpy.ndarray, got "
                         f"{type(img).__name__}")
    top, dtype = (65535, np.uint16) if as_uint16 else (255, np.uint8)
    return rescale_pixel_intensity(img, img.min(), img.max(), 0, top, dtype)
