"""Reading, writing and resizing images with Pillow.

Images are NumPy arrays of shape (H, W) (grayscale) or (H, W, C), or
(C, H, W) with ``channel_first=True``. Sizes are given as ``(width, height)``.
Pillow is imported only when a function is called; install it with
``pip install nablite[plot]``.
"""
import numpy as np

__all__ = ["imread", "imsave", "imresize"]

_RESAMPLE = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")


def _pil(fn):
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"nablite.utils.image_utils.{fn} needs Pillow; install it with "
            "`pip install nablite[plot]` (or `pip install pillow`)") from e
    return Image


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
    img = np.asarray(img)
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


def imresize(img, size, interpolate="bilinear", channel_first=False):
    """Resize an image to ``size = (width, height)``.

    Each channel is resampled in float32 and converted back to the dtype of
    ``img`` (integers are rounded and clipped to their range).

    Args:
        img (numpy.ndarray): (H, W), (H, W, C), or (C, H, W) with
            ``channel_first``.
        size (tuple of int): (width, height) of the result.
        interpolate (str): 'nearest', 'box', 'bilinear', 'hamming',
            'bicubic' or 'lanczos'.
        channel_first (bool): ``img`` (and the result) is (C, H, W).
    """
    Image = _pil("imresize")
    w, h = _check_size(size, "imresize")
    method = _resample(Image, interpolate, "imresize")
    hwc = _to_hwc(img, channel_first, "imresize")
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


def imread(path, grayscale=False, size=None, interpolate="bilinear",
           channel_first=False, as_uint16=False, num_channels=-1):
    """Read an image file into a NumPy array.

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
    Image = _pil("imread")
    if num_channels not in (-1, 1, 3, 4):
        raise ValueError(f"imread: num_channels must be -1, 1, 3 or 4, got "
                         f"{num_channels!r}")
    with Image.open(path) as im:
        sixteen = im.mode in ("I;16", "I;16B", "I;16L", "I")
        if grayscale or num_channels == 1:
            im = im.convert("I") if sixteen else im.convert("L")
        elif num_channels == 3:
            im = im.convert("RGB")
        elif num_channels == 4:
            im = im.convert("RGBA")
        elif im.mode not in ("L", "RGB", "RGBA") and not sixteen:
            im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        arr = np.asarray(im)
    if sixteen:
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
    if as_uint16 and arr.dtype == np.uint8:
        arr = arr.astype(np.uint16) * 257
    elif not as_uint16 and arr.dtype == np.uint16:
        arr = (arr // 257).astype(np.uint8)
    if num_channels == 1 and not grayscale:
        arr = arr[..., None]
    if size is not None:
        arr = imresize(arr, size, interpolate=interpolate)
    return _from_hwc(arr, channel_first)


def imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    """Write an image array to a file (format from the file extension).

    Args:
        path (str): File to write.
        img (numpy.ndarray): (H, W), (H, W, 1), (H, W, 3), (H, W, 4), or the
            channel-first layouts with ``channel_first=True``.
        channel_first (bool): ``img`` is (C, H, W).
        as_uint16 (bool): Write 16-bit pixels (grayscale PNG/TIFF only with
            Pillow).
        auto_scale (bool): Float images must lie in [0, 1] and are scaled to
            [0, 255] (or [0, 65535]); without it floats are rounded as they
            are. Integer images are written as they are (clipped to range).
    """
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
        values = hwc.astype(np.float64)
        if auto_scale:
            lo, hi = (float(values.min()), float(values.max())) if values.size else (0, 0)
            if lo < 0.0 or hi > 1.0 or np.isnan(values).any():
                raise ValueError(
                    f"imsave: float image values must lie in [0, 1] with "
                    f"auto_scale=True, got range [{lo}, {hi}]")
            values = values * top
        out = np.clip(np.rint(values), 0, top).astype(dtype)
    else:
        out = np.clip(hwc, 0, top).astype(dtype)
    if as_uint16:
        if out.ndim != 2:
            raise ValueError("imsave: as_uint16=True is supported for "
                             f"single-channel images only, got shape {hwc.shape}")
    Image.fromarray(out).save(path)
