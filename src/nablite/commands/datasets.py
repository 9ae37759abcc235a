"""create_image_classification_dataset and conv_dataset: NNabla's commands that
make data sets, an image folder (one folder per class) into PNG files and CSV
lists, and a CSV data set into a cache folder."""
import csv
import io
import os
import random
import re
import shutil
import sys

import numpy as np

from ._common import CommandError, handler

_CLASSIFICATION = "create_image_classification_dataset"
# the extensions NNabla 1.39 takes as images (searched in the extension, any case)
_IMAGE_EXTENSION = re.compile(r"\.(bmp|jpg|jpeg|png|gif|tif|tiff)", re.IGNORECASE)
# ITU-R 601 luma, NNabla's RGB -> grayscale weights (the result is truncated)
_LUMA = (0.299, 0.587, 0.114)


def _positive(opts, name, flag):
    text = getattr(opts, name)
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"{flag} ({name}) must be a whole number of pixels or channels, "
                           f"got {text!r}") from None
    if value < 1:
        raise CommandError(f"{flag} ({name}) must be at least 1, got {value}")
    return value


def _ratio(opts, name, flag):
    text = getattr(opts, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"{flag} ({name}) must be a whole percentage from 0 to 100, "
                           f"got {text!r}") from None
    if not 0 <= value <= 100:
        raise CommandError(f"{flag} ({name}) must be a percentage from 0 to 100, got {value}")
    return value


def _choice(opts, name, flag, choices):
    value = getattr(opts, name)
    if value not in choices:
        raise CommandError(f"{flag} ({name}) must be {' or '.join(choices)}, got {value!r}")
    return value


def _classification_settings(opts):
    width = _positive(opts, "width", "-w")
    height = _positive(opts, "height", "-g")
    channel = _positive(opts, "channel", "-c")
    if channel not in (1, 3):
        raise CommandError(f"-c (channel) must be 1 (grayscale) or 3 (RGB), got {channel}")
    mode = _choice(opts, "mode", "-m", ("trimming", "padding"))
    shuffle = _choice(opts, "shuffle", "-s", ("true", "false")) == "true"
    if opts.file2 and os.path.normpath(opts.file2) == os.path.normpath(opts.file1):
        raise CommandError(f"-f1 (file1) and -f2 (file2) are the same file, {opts.file1}; "
                           "give two names")
    ratio1, ratio2 = _ratio(opts, "ratio1", "-r1"), _ratio(opts, "ratio2", "-r2")
    # As NNabla's: -r2 decides the split (FILE2 gets ratio2 percent, FILE1 the rest);
    # the combinations NNabla would quietly misread are refused.
    if ratio2 is not None and not opts.file2:
        raise CommandError(f"-r2 (ratio2) {ratio2} is given without -f2 (file2); name the "
                           "second CSV file or leave out -r2")
    if ratio1 is not None and opts.file2 and ratio2 is None:
        raise CommandError(f"-r1 (ratio1) {ratio1} is given without -r2 (ratio2); give the "
                           f"second file's share, -r2 {100 - ratio1}")
    if ratio1 is not None and ratio2 is not None and ratio1 + ratio2 != 100:
        raise CommandError(f"-r1 (ratio1) and -r2 (ratio2) must add up to 100, got "
                           f"{ratio1} + {ratio2} = {ratio1 + ratio2}")
    if ratio1 is not None and not opts.file2 and ratio1 != 100:
        raise CommandError(f"-r1 (ratio1) {ratio1} leaves {100 - ratio1}% of the images "
                           "unlisted: name -f2 (file2) and give -r2, or leave out -r1")
    return width, height, channel, mode, shuffle, ratio2 or 0


def _source_list(source):
    """[(class index, class folder, file name)] of the images under ``source``, and
    the class names: folders in sorted order, a folder without images getting no
    index, files in sorted order (sub-folders and other files are left out)."""
    folders = sorted(d for d in os.listdir(source) if os.path.isdir(os.path.join(source, d)))
    if not folders:
        raise CommandError(f"-i (sourcedir) {source} holds no folders; it must hold one "
                           "folder of images per class")
    rows, classes = [], []
    for folder in folders:
        full = os.path.join(source, folder)
        files = sorted(f for f in os.listdir(full) if os.path.isfile(os.path.join(full, f))
                       and _IMAGE_EXTENSION.search(os.path.splitext(f)[1]))
        if files:
            rows += [(len(classes), folder, f) for f in files]
            classes.append(folder)
    if not rows:
        raise CommandError(f"-i (sourcedir) {source}: none of its folders "
                           f"({', '.join(folders)}) holds an image file (.bmp, .jpg, .jpeg, "
                           ".png, .gif, .tif, .tiff)")
    return rows, classes


def _trim(im, width, height):
    """Cut the centre of ``im`` to the aspect ratio width:height (NNabla's rounding)."""
    h, w = im.shape[:2]
    if h / w > height / width:
        cut = (h - int(w / width * height)) // 2
        return im[cut:h - cut]
    cut = (w - int(h / height * width)) // 2
    return im[:, cut:w - cut]


def _pad(im, width, height):
    """Extend ``im`` with black to the aspect ratio width:height, centred."""
    h, w = im.shape[:2]
    if h / w < height / width:
        extra = max(int(height / width * w) - h, 0)
        pad = [(extra // 2, extra - extra // 2), (0, 0)]
    else:
        extra = max(int(width / height * h) - w, 0)
        pad = [(0, 0), (extra // 2, extra - extra // 2)]
    return np.pad(im, pad + [(0, 0)] * (im.ndim - 2), mode="constant")


def _shape_image(im, width, height, mode, channel):
    from ..utils.image_utils import imresize
    h, w = im.shape[:2]
    if (w, h) != (width, height):
        im = (_trim if mode == "trimming" else _pad)(im, width, height)
        im = imresize(im, size=(width, height))  # bilinear, as NNabla's
    if im.ndim == 2 and channel == 3:
        im = np.stack([im] * 3, axis=-1)
    elif im.ndim == 3 and channel == 1:
        im = np.dot(im[..., :3], _LUMA).astype(np.uint8)
    return im


def _bands(path):
    """The channels NNabla reads from ``path``: the file's own (CMYK: 4, LA: 2), a
    palette image's RGB (RGBA with a transparent colour)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            if im.mode == "P":
                return 4 if "transparency" in im.info else 3
            return len(im.getbands())
    except (UnidentifiedImageError, OSError):
        return 1  # imread says why it cannot be read


def _convert(source_file, target_file, width, height, mode, channel):
    """None, or why ``source_file`` could not be converted."""
    from ..utils.image_utils import imread, imsave
    try:
        bands = _bands(source_file)
        if bands not in (1, 3):
            return f"it has {bands} channels; the image must be RGB or grayscale"
        im = imread(source_file)
    except (OSError, ValueError) as e:
        return str(e)
    if im.ndim == 3 and im.shape[2] != 3:
        return f"it has {im.shape[2]} channels; the image must be RGB or grayscale"
    im = _shape_image(im, width, height, mode, channel)
    os.makedirs(os.path.dirname(target_file), exist_ok=True)
    try:
        imsave(target_file, im)
    except OSError as e:
        return f"cannot write {target_file} ({e})"
    return None


def _write_csv(path, rows):
    from .._atomic_file import atomic_write
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["x:image", "y:label"])
    writer.writerows(rows)

    def write(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text.getvalue())
    atomic_write(path, write)


@handler(_CLASSIFICATION)
def create_image_classification_dataset(opts):
    from ..logger import logger, progress_bar
    width, height, channel, mode, shuffle, test_ratio = _classification_settings(opts)
    source, out = opts.sourcedir, opts.outdir
    if not os.path.isdir(source):
        raise CommandError(f"-i (sourcedir): no such folder: {source}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CommandError(f"-o (outdir) {out} is a file, not a folder")
    if os.path.realpath(source) == os.path.realpath(out):
        raise CommandError(f"-i (sourcedir) and -o (outdir) are the same folder, {source}; "
                           "the images are written to another one")
    files = [os.path.join(out, opts.file1)] + ([os.path.join(out, opts.file2)]
                                               if opts.file2 else [])
    logger.info("Creating file list...")
    rows, classes = _source_list(source)
    logger.info(f"{len(rows)} images in {len(classes)} classes; creating output images...")
    listed, written = [], {}
    for label, folder, name in progress_bar(rows, desc=_CLASSIFICATION, unit="image"):
        png = os.path.splitext(name)[0] + ".png"
        source_file = os.path.join(source, folder, name)
        failure = _convert(source_file, os.path.join(out, folder, png), width, height, mode,
                           channel)
        if failure is not None:
            logger.warning(f"Failed to convert {source_file}: {failure}; left out")
            continue
        cell = os.path.join(".", folder, png)
        if cell in written:
            logger.warning(f"{source_file} and {written[cell]} are both written to {cell}; "
                           f"the file holds {name}'s image, the CSV lists it twice")
        written[cell] = source_file
        listed.append([cell, label])
    if not listed:
        raise CommandError(f"none of the {len(rows)} images under {source} could be "
                           "converted (see the warnings above)")
    if shuffle:
        random.shuffle(listed)  # unseeded, as NNabla's
    first = len(listed) * (100 - test_ratio) // 100
    for path, part in zip(files, (listed[:first], listed[first:])):
        if part:  # as NNabla's, a file with no rows is not written
            _write_csv(path, part)
            logger.info(f"wrote {path} ({len(part)} images)")
    logger.info("Dataset was successfully created.")
    return 0


# -- conv_dataset -----------------------------------------------------------------
_CONV = "conv_dataset"


@handler(_CONV)
def conv_dataset(opts):
    from ..utils.create_cache import CreateCache
    threads = opts.num_of_threads
    if threads is not None and threads <= 0:
        raise CommandError(f"-t (num_of_threads) must be a positive number of threads, "
                           f"got {threads}")
    source, destination = opts.source, opts.destination
    extension = os.path.splitext(source)[1].lower()
    if extension not in (".csv", ".cache"):
        raise CommandError(f"source {source} must be a CSV file (.csv) or a cache folder "
                           "(.cache)")
    if not os.path.exists(source):
        raise CommandError(f"no such {'CSV file' if extension == '.csv' else 'cache folder'}:"
                           f" {source}")
    if extension == ".cache":
        if os.path.splitext(destination)[1].lower() != ".cache":
            raise CommandError(f"destination {destination} of a cache must be a folder named "
                               "*.cache")
        if not os.path.isdir(source):
            raise CommandError(f"source {source} is not a cache folder")
    elif not os.path.isfile(source):
        raise CommandError(f"source {source} is not a CSV file")
    if os.path.exists(destination):
        if not opts.force:
            raise CommandError(f"destination {destination} exists; use -F to overwrite it")
        if not os.path.isdir(destination):
            raise CommandError(f"destination {destination} is a file; -F replaces folders "
                               "only, delete it first")
        if os.path.realpath(destination) == os.path.realpath(source):
            raise CommandError(f"destination {destination} is the source itself")
        print(f"Overwrite destination [{destination}].")
        shutil.rmtree(destination)
    if extension == ".csv":
        cache = CreateCache(source, shuffle=opts.shuffle, num_of_threads=threads)
        _report(cache.size, opts)
    os.makedirs(destination)
    try:
        if extension == ".csv":
            cache.create(destination, normalize=opts.normalize)
        else:
            _recache(source, destination, opts)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)  # no half-written cache is left
        raise
    return 0


def _report(size, opts):
    print(f"Number of Data: {size}")
    print(f"Shuffle:        {opts.shuffle}")
    print(f"Normalize:      {opts.normalize}")
    sys.stdout.flush()


def _recache(source, destination, opts):
    """A cache folder written again (reordered with -S) through DataSourceWithFileCache."""
    from ..logger import progress_bar
    from ..utils.data_source import DataSourceWithFileCache
    from ..utils.data_source_implements import CacheDataSource
    with CacheDataSource(source, shuffle=opts.shuffle, normalize=opts.normalize) as data:
        with DataSourceWithFileCache(data, cache_dir=destination,
                                     shuffle=opts.shuffle) as cached:
            _report(cached.size, opts)
            for i in progress_bar(range(cached.size), desc=_CONV, unit="row"):
                cached._get_data(i)


def register(subparsers):
    p = subparsers.add_parser(
        _CLASSIFICATION, help="make an image classification data set (PNGs and CSV lists) "
        "from a folder of class folders",
        description="Convert the images under SOURCEDIR (one folder per class, the classes "
        "numbered 0, 1, ... in sorted order of their names) to PNGs of WIDTH x HEIGHT "
        "pixels and CHANNEL channels under OUTDIR/<class>/, and list them with their class "
        "numbers in OUTDIR/FILE1 (and FILE2), as NNabla's command does. trimming cuts the "
        "centre of each image to the aspect ratio, padding adds black borders; then the "
        "image is resized (bilinear). RATIO2 percent of the images go to FILE2, the rest "
        "to FILE1; -s true shuffles the list first (differently each run). An image that "
        "cannot be read is left out with a warning.")
    p.add_argument("-i", "--sourcedir", required=True,
                   help="source folder, holding one folder of images per class")
    p.add_argument("-o", "--outdir", required=True, help="output folder (created if missing)")
    p.add_argument("-c", "--channel", required=True,
                   help="color channels of the output images: 1 or 3")
    p.add_argument("-w", "--width", required=True, help="width of the output images")
    p.add_argument("-g", "--height", required=True, help="height of the output images")
    p.add_argument("-m", "--mode", required=True,
                   help="how images of another aspect ratio are shaped: trimming or padding")
    p.add_argument("-s", "--shuffle", required=True,
                   help="shuffle the rows of the CSV files: true or false")
    p.add_argument("-f1", "--file1", required=True, help="name of the (first) CSV file")
    p.add_argument("-r1", "--ratio1",
                   help="percentage of the images in FILE1 (100 - RATIO2; optional)")
    p.add_argument("-f2", "--file2", help="name of the second CSV file (optional)")
    p.add_argument("-r2", "--ratio2",
                   help="percentage of the images in FILE2 (default: 0)")
    p.set_defaults(handler=create_image_classification_dataset)

    p = subparsers.add_parser(
        _CONV, help="convert a CSV data set (or a cache) into a cache folder",
        description="Write the data set of a CSV file (or of a cache folder) as a cache "
        "folder DESTINATION, as NNabla's command does: chunk files of 100 rows "
        "(cache_*.npy), cache_index.csv, cache_info.csv, original.csv and order.csv, "
        "which data_iterator_cache reads. Images are stored as uint8, or as float "
        "in [0, 1] with -N.")
    p.add_argument("-F", "--force", action="store_true",
                   help="replace DESTINATION if it is an existing folder")
    p.add_argument("-S", "--shuffle", action="store_true",
                   help="write the rows in a shuffled order (NNabla's fixed seed, 313)")
    p.add_argument("-N", "--normalize", action="store_true",
                   help="store images as float in [0, 1] instead of uint8")
    p.add_argument("-t", "--num_of_threads", type=int,
                   help="threads that load the files (default: 10)")
    p.add_argument("source", help="a CSV file (.csv) or a cache folder (.cache)")
    p.add_argument("destination", help="the cache folder to write")
    p.set_defaults(handler=conv_dataset)
