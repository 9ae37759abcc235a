"""nablite create_image_classification_dataset and conv_dataset: the folders,
CSV files, pixels and caches NNabla 1.39's nnabla_cli writes (facts observed
from it and hard-coded here; the parity tests run it where /tmp/nnref has it),
and one-line errors on bad input."""
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from _helpers import cli_main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NNABLA_CLI = os.environ.get("NNABLA_CLI", "/tmp/nnref/bin/nnabla_cli")
MAKE = "create_image_classification_dataset"


main = cli_main  # nablite.cli.main in this process


def nnabla(*args, cwd=None):
    if not os.path.exists(NNABLA_CLI):
        pytest.skip("NNabla 1.39's nnabla_cli is not installed")
    return subprocess.run([NNABLA_CLI, *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def one_line_error(proc, command, *words):
    assert proc.returncode != 0, proc
    lines = [line for line in proc.stderr.strip().splitlines()   # less progress bars
             if not re.match(r"[\w ]+: +\d+%\|", line)]
    assert len(lines) == 1 and lines[0].startswith(f"nablite {command}: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def make_classes(root):
    """Three classes with images (RGB and gray, PNG, JPEG, BMP, upper-case
    extension, sizes of several aspect ratios, one of the output size), an
    empty class folder, and what the command leaves out: a text file, an RGBA
    image, a file that is no image, a sub-folder, a file beside the classes."""
    rs = np.random.RandomState(0)

    def save(rel, arr, **kw):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(arr).save(path, **kw)
    save("cat/a_wide.png", rs.randint(0, 256, (20, 37, 3)).astype(np.uint8))
    save("cat/b_tall.jpg", rs.randint(0, 256, (41, 17, 3)).astype(np.uint8), quality=90)
    save("cat/c_gray.png", rs.randint(0, 256, (30, 30)).astype(np.uint8))
    save("dog/x_exact.png", rs.randint(0, 256, (16, 24, 3)).astype(np.uint8))
    save("dog/y_odd.PNG", rs.randint(0, 256, (15, 23)).astype(np.uint8))
    save("dog/z_small.bmp", rs.randint(0, 256, (5, 9, 3)).astype(np.uint8))
    save("fish/rgba.png", rs.randint(0, 256, (10, 10, 4)).astype(np.uint8))
    save("fish/g2.jpeg", rs.randint(0, 256, (33, 20)).astype(np.uint8))
    save("fish/sub/inner.png", rs.randint(0, 256, (8, 8, 3)).astype(np.uint8))
    os.makedirs(os.path.join(root, "empty"))
    with open(os.path.join(root, "cat", "notes.txt"), "w") as f:
        f.write("not an image")
    with open(os.path.join(root, "fish", "broken.png"), "wb") as f:
        f.write(b"not a png")
    with open(os.path.join(root, "loose.png"), "wb") as f:
        f.write(b"a file beside the class folders")
    return root


@pytest.fixture
def classes(tmp_path):
    return make_classes(str(tmp_path / "src"))


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
                  for d, _, names in os.walk(folder) for f in names)


def pixels(path):
    return np.asarray(Image.open(path))


# NNabla 1.39's output for `-c 3 -w 24 -g 16 -m trimming -s false -f1 train.csv
# -r1 80 -f2 test.csv -r2 20` on make_classes's folder
NNABLA_TRAIN = ("x:image,y:label\n./cat/a_wide.png,0\n./cat/b_tall.png,0\n./cat/c_gray.png,0\n"
                "./dog/x_exact.png,1\n./dog/y_odd.png,1\n")
NNABLA_TEST = "x:image,y:label\n./dog/z_small.png,1\n./fish/g2.png,2\n"
NNABLA_IMAGES = ["cat/a_wide.png", "cat/b_tall.png", "cat/c_gray.png", "dog/x_exact.png",
                 "dog/y_odd.png", "dog/z_small.png", "fish/g2.png"]


def test_trimming_layout_csv_and_pixels_as_nnabla(classes, tmp_path, caplog):
    out = tmp_path / "out"
    proc = main(MAKE, "-i", classes, "-o", out, "-c", 3, "-w", 24, "-g", 16, "-m", "trimming",
                "-s", "false", "-f1", "train.csv", "-r1", 80, "-f2", "test.csv", "-r2", 20)
    assert proc.returncode == 0, proc.stderr
    assert files_under(out) == sorted(NNABLA_IMAGES + ["test.csv", "train.csv"])
    assert (out / "train.csv").read_text() == NNABLA_TRAIN
    assert (out / "test.csv").read_text() == NNABLA_TEST
    for name in NNABLA_IMAGES:
        im = Image.open(out / name)
        assert (im.mode, im.size) == ("RGB", (24, 16)), name
    # pixels NNabla 1.39 wrote: a 20x37 image cut to 20x30 and resized; a gray one
    # made RGB; a 5x9 BMP enlarged
    a = pixels(out / "cat/a_wide.png")
    assert a[0, 0].tolist() == [135, 73, 174] and a[8, 12].tolist() == [69, 164, 127]
    assert a[15, 23].tolist() == [40, 132, 148]
    c = pixels(out / "cat/c_gray.png")
    assert c[0, 0].tolist() == [216] * 3 and c[8, 12].tolist() == [95] * 3
    z = pixels(out / "dog/z_small.png")
    assert z[0, 0].tolist() == [110, 220, 164] and z[8, 12].tolist() == [154, 105, 78]
    # an image of the output size is copied as it is
    np.testing.assert_array_equal(pixels(out / "dog/x_exact.png"),
                                  pixels(os.path.join(classes, "dog/x_exact.png")))
    # the two images left out are named in warnings
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 2, warned
    assert re.match(r"Failed to convert .*broken\.png: imread: cannot read", warned[0])
    assert re.match(r"Failed to convert .*rgba\.png: it has 4 channels", warned[1])


def test_padding_to_grayscale_as_nnabla(classes, tmp_path):
    out = tmp_path / "out"
    proc = main(MAKE, "-i", classes, "-o", out, "-c", 1, "-w", 24, "-g", 16, "-m", "padding",
                "-s", "false", "-f1", "all.csv")
    assert proc.returncode == 0, proc.stderr
    assert files_under(out) == sorted(NNABLA_IMAGES + ["all.csv"])
    assert (out / "all.csv").read_text() == \
        NNABLA_TRAIN + NNABLA_TEST.split("\n", 1)[1]   # NNabla 1.39's: one file, 7 rows
    # NNabla 1.39's pixels: 20x37 padded to 24x37 with black rows, then resized
    a = pixels(out / "cat/a_wide.png")
    assert a.shape == (16, 24) and a[0].tolist() == [0] * 24 and a[8, 12] == 126
    # a square 30x30 gray image padded to 30x45 with black columns
    c = pixels(out / "cat/c_gray.png")
    assert c[:, 0].tolist() == [0] * 16 and c[8, 12] == 119
    assert c[:, 3].tolist() == [20, 33, 51, 50, 36, 28, 39, 31, 28, 56, 49, 42, 44, 47, 30, 36]
    y = pixels(out / "dog/y_odd.png")
    assert (y[0, 0], y[8, 12]) == (78, 209)


def test_rgb_to_gray_is_truncated_luma(tmp_path):
    src = tmp_path / "src" / "k"
    src.mkdir(parents=True)
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], np.uint8)
    Image.fromarray(rgb).save(src / "p.png")
    assert main(MAKE, "-i", tmp_path / "src", "-o", tmp_path / "o", "-c", 1, "-w", 2, "-g",
                2, "-m", "trimming", "-s", "false", "-f1", "a.csv").returncode == 0
    # 0.299, 0.587, 0.114 weights, truncated (10*0.299 + 20*0.587 + 30*0.114 = 18.15)
    assert pixels(tmp_path / "o" / "k" / "p.png").tolist() == [[76, 149], [29, 18]]


def test_shuffle_and_split(classes, tmp_path):
    rows = (NNABLA_TRAIN + NNABLA_TEST.split("\n", 1)[1]).strip().split("\n")[1:]
    orders = set()
    for seed in range(4):
        random.seed(seed)
        out = tmp_path / f"s{seed}"
        proc = main(MAKE, "-i", classes, "-o", out, "-c", 3, "-w", 8, "-g", 8, "-m",
                    "trimming", "-s", "true", "-f1", "a.csv", "-f2", "b.csv", "-r2", 50)
        assert proc.returncode == 0, proc.stderr
        a = (out / "a.csv").read_text().strip().split("\n")
        b = (out / "b.csv").read_text().strip().split("\n")
        assert a[0] == b[0] == "x:image,y:label"
        assert len(a) - 1 == 7 * 50 // 100 and len(b) - 1 == 4   # NNabla's split
        assert sorted(a[1:] + b[1:]) == sorted(rows)
        orders.add(tuple(a[1:] + b[1:]))
    assert len(orders) > 1  # the seeds give different orders
    # -r2 0 writes only the first file, -r2 100 only the second (as NNabla's)
    for ratio, want in ((0, ["a.csv"]), (100, ["b.csv"])):
        out = tmp_path / f"r{ratio}"
        assert main(MAKE, "-i", classes, "-o", out, "-c", 3, "-w", 8, "-g", 8, "-m",
                    "padding", "-s", "false", "-f1", "a.csv", "-f2", "b.csv", "-r2",
                    ratio).returncode == 0
        assert [f for f in os.listdir(out) if f.endswith(".csv")] == want


def test_unreadable_and_empty_are_left_out(tmp_path, caplog):
    """An empty class folder gets no label; an unreadable image is a warning and no
    row (NNabla 1.39 does the same); nothing convertible is an error."""
    src = tmp_path / "src"
    for name in ("a", "b_empty", "c"):
        (src / name).mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(src / "a" / "ok.png")
    Image.fromarray(np.full((4, 4, 3), 9, np.uint8)).save(src / "c" / "ok.png")
    (src / "c" / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    proc = main(MAKE, "-i", src, "-o", tmp_path / "o", "-c", 3, "-w", 4, "-g", 4, "-m",
                "trimming", "-s", "false", "-f1", "a.csv")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "a.csv").read_text() == \
        "x:image,y:label\n./a/ok.png,0\n./c/ok.png,1\n"
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.levelname == "WARNING"] \
        == [f"Failed to convert {src / 'c' / 'bad.jpg'}"]
    only_bad = tmp_path / "only_bad"
    (only_bad / "k").mkdir(parents=True)
    (only_bad / "k" / "x.png").write_bytes(b"junk")
    proc = main(MAKE, "-i", only_bad, "-o", tmp_path / "o2", "-c", 3, "-w", 4, "-g", 4,
                "-m", "trimming", "-s", "false", "-f1", "a.csv")
    assert proc.returncode == 1 and "could be converted" in proc.stderr.splitlines()[-1]


GOOD = ["-c", "3", "-w", "8", "-g", "8", "-m", "trimming", "-s", "false", "-f1", "a.csv"]


def _with(args, flag, value):
    args = list(args)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


@pytest.mark.parametrize("change, words", [
    (("-m", "stretch"), ["-m (mode)", "trimming or padding", "'stretch'"]),
    (("-s", "yes"), ["-s (shuffle)", "true or false", "'yes'"]),
    (("-s", "True"), ["-s (shuffle)", "'True'"]),
    (("-c", "2"), ["-c (channel)", "1 (grayscale) or 3", "2"]),
    (("-c", "rgb"), ["-c (channel)", "'rgb'"]),
    (("-w", "0"), ["-w (width)", "at least 1", "0"]),
    (("-g", "1.5"), ["-g (height)", "'1.5'"]),
    (("-r2", "150"), ["-r2 (ratio2)", "0 to 100", "150"]),
    (("-r1", "101"), ["-r1 (ratio1)", "0 to 100", "101"]),
    (("-r2", "20.5"), ["-r2 (ratio2)", "'20.5'"]),
    (("-r2", "20"), ["-r2 (ratio2) 20", "without -f2"]),
    (("-r1", "80"), ["-r1 (ratio1) 80", "-f2"]),
])
def test_bad_option_values(classes, tmp_path, change, words):
    args = _with(GOOD, *change)
    proc = main(MAKE, "-i", classes, "-o", tmp_path / "o", *args)
    one_line_error(proc, MAKE, *words)
    assert not (tmp_path / "o").exists()  # refused before anything is written


def test_bad_ratio_pairs_and_files(classes, tmp_path):
    out = tmp_path / "o"
    base = ["-i", classes, "-o", out] + GOOD + ["-f2", "b.csv"]
    one_line_error(main(MAKE, *base, "-r1", 80, "-r2", 30), MAKE, "-r1", "-r2",
                   "add up to 100", "80 + 30 = 110")
    one_line_error(main(MAKE, *base, "-r1", 80), MAKE, "-r1 (ratio1) 80", "-r2 20")
    one_line_error(main(MAKE, *_with(base, "-f2", "a.csv"), "-r2", 20), MAKE, "-f1", "-f2",
                   "same file")
    assert not out.exists()


def test_bad_folders(classes, tmp_path):
    one_line_error(main(MAKE, "-i", tmp_path / "nosuch", "-o", tmp_path / "o", *GOOD), MAKE,
                   "-i (sourcedir)", "no such folder", "nosuch")
    one_line_error(main(MAKE, "-i", classes, "-o", classes, *GOOD), MAKE, "-i (sourcedir)",
                   "-o (outdir)", "same folder")
    (tmp_path / "file").write_text("x")
    one_line_error(main(MAKE, "-i", classes, "-o", tmp_path / "file", *GOOD), MAKE,
                   "-o (outdir)", "is a file")
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(flat / "x.png")
    one_line_error(main(MAKE, "-i", flat, "-o", tmp_path / "o", *GOOD), MAKE,
                   "-i (sourcedir)", "holds no folders", "one folder of images per class")
    empty = tmp_path / "empties"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    (empty / "b" / "readme.txt").write_text("x")
    one_line_error(main(MAKE, "-i", empty, "-o", tmp_path / "o", *GOOD), MAKE,
                   "-i (sourcedir)", "(a, b)", "holds an image file")
    assert not (tmp_path / "o").exists()
    missing = main(MAKE, "-i", classes, "-o", tmp_path / "o")  # argparse's own message
    assert missing.returncode == 2 and "required" in missing.stderr


def _same_outputs(ref, mine):
    """Whole folders: the same files, CSV text, and pixels of each image."""
    assert files_under(mine) == files_under(ref)
    for name in files_under(ref):
        if name.endswith(".csv"):
            assert open(os.path.join(mine, name)).read() == \
                open(os.path.join(ref, name)).read(), name
        else:
            a, b = Image.open(os.path.join(ref, name)), Image.open(os.path.join(mine, name))
            assert a.mode == b.mode, name
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=name)


@pytest.mark.parametrize("args", [
    ["-c", "3", "-w", "24", "-g", "16", "-m", "trimming", "-f1", "train.csv", "-r1", "80",
     "-f2", "test.csv", "-r2", "20"],
    ["-c", "1", "-w", "16", "-g", "24", "-m", "trimming", "-f1", "a.csv"],
    ["-c", "3", "-w", "13", "-g", "13", "-m", "padding", "-f1", "a.csv", "-f2", "b.csv",
     "-r2", "30"],
    ["-c", "1", "-w", "40", "-g", "7", "-m", "padding", "-f1", "a.csv"],
])
def test_matches_nnabla_cli(tmp_path, args):
    src = make_classes(str(tmp_path / "src"))
    rs = np.random.RandomState(5)   # more sizes and formats: every aspect ratio's rounding
    for i in range(12):
        h, w = rs.randint(1, 50, 2)
        arr = rs.randint(0, 256, (h, w, 3) if i % 3 else (h, w)).astype(np.uint8)
        Image.fromarray(arr).save(os.path.join(src, "dog", f"r{i:02d}." +
                                               ["png", "jpg", "bmp", "gif", "tif", "tiff"][i % 6]))
    Image.fromarray(rs.randint(0, 256, (9, 14, 3)).astype(np.uint8)).convert("P").save(
        os.path.join(src, "fish", "palette.png"))
    Image.fromarray(rs.randint(0, 256, (9, 14, 3)).astype(np.uint8)).convert("CMYK").save(
        os.path.join(src, "fish", "cmyk.jpg"))
    Image.fromarray(rs.randint(0, 256, (9, 14, 3)).astype(np.uint8)).convert("LA").save(
        os.path.join(src, "fish", "gray_alpha.png"))
    ref = nnabla(MAKE, "-i", src, "-o", tmp_path / "ref", "-s", "false", *args)
    assert ref.returncode == 0, ref.stderr
    proc = main(MAKE, "-i", src, "-o", tmp_path / "mine", "-s", "false", *args)
    assert proc.returncode == 0, proc.stderr
    _same_outputs(str(tmp_path / "ref"), str(tmp_path / "mine"))
    # the images NNabla leaves out (unreadable, RGBA, CMYK, gray + alpha) are the same
    assert "cmyk.png" not in files_under(tmp_path / "mine")
    assert len(files_under(tmp_path / "mine")) >= 7 + 12


# -- conv_dataset ---------------------------------------------------------------
@pytest.fixture
def csv_set(classes, tmp_path):
    out = tmp_path / "set"
    assert main(MAKE, "-i", classes, "-o", out, "-c", 3, "-w", 6, "-g", 4, "-m", "trimming",
                "-s", "false", "-f1", "all.csv").returncode == 0
    rows = (out / "all.csv").read_text().splitlines()
    with open(out / "big.csv", "w") as f:   # 150 rows: two chunks of NNabla's 100
        f.write("\n".join([rows[0]] + [rows[1 + i % 7] for i in range(150)]) + "\n")
    return out


def test_conv_dataset_writes_a_cache(csv_set, tmp_path):
    from nablite.utils.data_iterator import data_iterator_cache
    dest = tmp_path / "big.cache"
    proc = main("conv_dataset", csv_set / "big.csv", dest)
    assert proc.returncode == 0, proc.stderr
    # NNabla 1.39's lines and files
    assert proc.stdout == "Number of Data: 150\nShuffle:        False\nNormalize:      False\n"
    assert sorted(os.listdir(dest)) == ["cache_00000000_00000099.npy",
                                        "cache_00000100_00000149.npy", "cache_index.csv",
                                        "cache_info.csv", "order.csv", "original.csv"]
    assert (dest / "cache_index.csv").read_text() == \
        "cache_00000000_00000099.npy,100\ncache_00000100_00000149.npy,50\n"
    assert (dest / "cache_info.csv").read_text() == "x\ny\n"
    with data_iterator_cache(str(dest), 7, shuffle=False, normalize=False) as it:
        x, y = it.next()
    assert x.shape == (7, 3, 4, 6) and x.dtype == np.uint8
    assert y.ravel().tolist() == [0, 0, 0, 1, 1, 1, 2]
    np.testing.assert_array_equal(
        x[0], pixels(csv_set / "cat" / "a_wide.png").transpose(2, 0, 1))
    # -N: floats in [0, 1]; -S: the same rows in another order; -F replaces the folder
    proc = main("conv_dataset", "-F", "-S", "-N", csv_set / "big.csv", dest)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Overwrite destination [{dest}].\n")
    assert "Shuffle:        True\nNormalize:      True" in proc.stdout
    with data_iterator_cache(str(dest), 150, shuffle=False, normalize=False) as it:
        xs, ys = it.next()
    assert xs.dtype.kind == "f" and 0 <= xs.min() and xs.max() <= 1
    assert sorted(ys.ravel().tolist()) == sorted([[0, 0, 0, 1, 1, 1, 2][i % 7]
                                                  for i in range(150)])
    assert ys.ravel().tolist() != [[0, 0, 0, 1, 1, 1, 2][i % 7] for i in range(150)]


def test_conv_dataset_matches_nnabla_cli(csv_set, tmp_path):
    for flags in ([], ["-S"], ["-S", "-N", "-t", "2"]):
        name = "".join(flags).replace("-", "") or "plain"
        ref, mine = tmp_path / f"ref_{name}.cache", tmp_path / f"mine_{name}.cache"
        r = nnabla("conv_dataset", *flags, csv_set / "big.csv", ref)
        assert r.returncode == 0, r.stderr
        proc = main("conv_dataset", *flags, csv_set / "big.csv", mine)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == r.stdout.splitlines()[1:]  # less the banner
        assert sorted(os.listdir(mine)) == sorted(os.listdir(ref))
        for f in os.listdir(ref):  # byte for byte
            assert (mine / f).read_bytes() == (ref / f).read_bytes(), (flags, f)
    # a cache written again from a cache: the same chunks (NNabla adds an order.csv)
    r = nnabla("conv_dataset", "-S", tmp_path / "ref_S.cache", tmp_path / "ref_again.cache")
    assert r.returncode == 0, r.stderr
    proc = main("conv_dataset", "-S", tmp_path / "ref_S.cache", tmp_path / "again.cache")
    assert proc.returncode == 0, proc.stderr
    assert set(os.listdir(tmp_path / "ref_again.cache")) - \
        set(os.listdir(tmp_path / "again.cache")) == {"order.csv"}
    for f in os.listdir(tmp_path / "again.cache"):
        assert (tmp_path / "again.cache" / f).read_bytes() == \
            (tmp_path / "ref_again.cache" / f).read_bytes(), f


def test_conv_dataset_errors(csv_set, tmp_path):
    src = csv_set / "all.csv"
    (tmp_path / "taken").mkdir()
    one_line_error(main("conv_dataset", src, tmp_path / "taken"), "conv_dataset", "taken",
                   "exists", "-F")
    (tmp_path / "afile").write_text("x")
    one_line_error(main("conv_dataset", "-F", src, tmp_path / "afile"), "conv_dataset",
                   "afile", "is a file")
    one_line_error(main("conv_dataset", "-t", 0, src, tmp_path / "d"), "conv_dataset",
                   "-t (num_of_threads)", "0")
    one_line_error(main("conv_dataset", tmp_path / "x.txt", tmp_path / "d"), "conv_dataset",
                   "x.txt", ".csv", ".cache")
    one_line_error(main("conv_dataset", tmp_path / "nosuch.csv", tmp_path / "d"),
                   "conv_dataset", "no such CSV file", "nosuch.csv")
    (tmp_path / "src.cache").mkdir()
    one_line_error(main("conv_dataset", tmp_path / "src.cache", tmp_path / "d"),
                   "conv_dataset", "*.cache")
    (tmp_path / "bad.csv").write_text("x:image,y:label\n./missing.png,0\n")
    one_line_error(main("conv_dataset", tmp_path / "bad.csv", tmp_path / "d"),
                   "conv_dataset", "missing.png")
    assert not (tmp_path / "d").exists()  # the folder it made is removed again
    assert not (tmp_path / "taken" / "cache_index.csv").exists()


# -- the README's lines ----------------------------------------------------------
def test_readme_dataset_block_runs(tmp_path):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## NNabla's commands\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```console\n(.*?)```", section, re.S)
    src = tmp_path / "photos"
    rs = np.random.RandomState(0)
    for cls, ext in (("cat", "png"), ("dog", "jpg")):
        (src / cls).mkdir(parents=True)
        for i in range(5):
            arr = rs.randint(0, 256, (20 + 7 * i, 30 - 3 * i, 3)).astype(np.uint8)
            Image.fromarray(arr).save(src / cls / f"{i}.{ext}")
    lines = [line.split("#")[0].split() for line in block.strip().splitlines()]
    assert len(lines) == 2 and all(line[0] == "nablite" for line in lines)
    for line in lines:
        proc = subprocess.run([sys.executable, "-m", "nablite.cli", *line[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert proc.returncode == 0, (line, proc.stderr[-1000:])
    assert len((tmp_path / "dataset" / "train.csv").read_text().splitlines()) == 1 + 8
    assert len((tmp_path / "dataset" / "test.csv").read_text().splitlines()) == 1 + 2
    assert Image.open(tmp_path / "dataset" / "dog" / "3.png").size == (32, 32)
    assert (tmp_path / "train.cache" / "cache_index.csv").read_text() == \
        "cache_00000000_00000007.npy,8\n"
    shutil.rmtree(tmp_path / "dataset")
