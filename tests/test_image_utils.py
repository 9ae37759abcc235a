import numpy as np
import pytest

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from nablite.utils.image_utils import imread, imresize, imsave  # noqa: E402


def test_roundtrip_gray_and_rgb(tmp_path):
    rng = np.random.RandomState(0)
    gray = rng.randint(0, 256, (5, 7)).astype(np.uint8)
    imsave(str(tmp_path / "g.png"), gray)
    back = imread(str(tmp_path / "g.png"))
    assert back.dtype == np.uint8 and back.shape == (5, 7)
    np.testing.assert_array_equal(back, gray)
    rgb = rng.randint(0, 256, (3, 5, 7)).astype(np.uint8)
    imsave(str(tmp_path / "c.png"), rgb, channel_first=True)
    np.testing.assert_array_equal(imread(str(tmp_path / "c.png")), rgb.transpose(1, 2, 0))
    np.testing.assert_array_equal(imread(str(tmp_path / "c.png"), channel_first=True), rgb)


def test_imsave_takes_a_device_array(tmp_path):
    from nablite._device_sim import xp
    rgb = np.random.RandomState(2).randint(0, 256, (3, 4, 5)).astype(np.uint8)
    imsave(str(tmp_path / "d.png"), xp.asarray(rgb), channel_first=True)
    np.testing.assert_array_equal(imread(str(tmp_path / "d.png"), channel_first=True), rgb)
    imsave(str(tmp_path / "f.png"), xp.asarray(np.array([[0.0, 0.5, 1.0]])))
    np.testing.assert_array_equal(imread(str(tmp_path / "f.png")), [[0, 127, 255]])


def test_imsave_float_auto_scale(tmp_path):
    img = np.array([[0.0, 0.5, 1.0]])
    imsave(str(tmp_path / "f.png"), img)  # 0.5 * 255 truncated, as NNabla's
    np.testing.assert_array_equal(imread(str(tmp_path / "f.png")), [[0, 127, 255]])
    imsave(str(tmp_path / "n.png"), np.array([[3.0, 200.4]]), auto_scale=False)
    np.testing.assert_array_equal(imread(str(tmp_path / "n.png")), [[3, 200]])
    with pytest.raises(ValueError, match=r"imsave: float image values must lie in \[0, 1\]"):
        imsave(str(tmp_path / "bad.png"), np.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="imsave: img must have 1, 3 or 4 channels"):
        imsave(str(tmp_path / "bad.png"), np.zeros((4, 4, 2)))


def test_uint16(tmp_path):
    img = np.array([[0, 1000, 65535]], np.uint16)
    imsave(str(tmp_path / "u.png"), img, as_uint16=True)
    back = imread(str(tmp_path / "u.png"), as_uint16=True)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, img)
    assert imread(str(tmp_path / "u.png")).tolist() == [[0, 1000 // 257, 255]]
    imsave(str(tmp_path / "s.png"), np.array([[0, 255]], np.uint8))
    np.testing.assert_array_equal(imread(str(tmp_path / "s.png"), as_uint16=True), [[0, 65535]])


def test_imread_options(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 255
    imsave(str(tmp_path / "r.png"), rgb)
    g = imread(str(tmp_path / "r.png"), grayscale=True)
    assert g.shape == (4, 6) and g[0, 0] == 76  # ITU-R 601 luma of pure red
    assert imread(str(tmp_path / "r.png"), grayscale=True, num_channels=1).shape == (4, 6, 1)
    with pytest.raises(ValueError, match="imread: num_channels=1 reads a gray image; pass "
                                         "grayscale=True"):  # as NNabla
        imread(str(tmp_path / "r.png"), num_channels=1)
    assert imread(str(tmp_path / "r.png"), num_channels=4).shape == (4, 6, 4)
    assert imread(str(tmp_path / "r.png"), size=(3, 2)).shape == (2, 3, 3)
    assert imread(str(tmp_path / "r.png"), size=(3, 2), channel_first=True).shape == (3, 2, 3)
    with pytest.raises(ValueError, match="imread: num_channels"):
        imread(str(tmp_path / "r.png"), num_channels=2)


def test_imresize():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    out = imresize(img, (2, 8), interpolate="nearest")
    assert out.shape == (8, 2) and out.dtype == np.uint8
    assert set(np.unique(out)) <= set(np.unique(img))
    f = np.random.RandomState(0).rand(3, 4, 6).astype(np.float32)
    o = imresize(f, (12, 8), channel_first=True)
    assert o.shape == (3, 8, 12) and o.dtype == np.float32
    const = np.full((5, 5, 3), 0.3)
    np.testing.assert_allclose(imresize(const, (9, 7), interpolate="bicubic"), 0.3, atol=1e-6)
    with pytest.raises(ValueError, match="imresize: interpolate"):
        imresize(img, (2, 2), interpolate="cubic-ish")
    with pytest.raises(ValueError, match=r"imresize: size must be"):
        imresize(img, (0, 2))


def test_save_curves(tmp_path):
    pytest.importorskip("matplotlib")
    from nablite.utils.plot import save_curves
    out = save_curves(str(tmp_path / "c.png"),
                      {"train": ([0, 1, 2], [3.0, 2.0, 1.5]), "val": (range(3), [3, 2.5, 2])},
                      title="loss", xlabel="epoch", ylabel="loss")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 100
    with pytest.raises(ValueError, match=r"save_curves: series\['a'\] has 2 x values but 1"):
        save_curves(str(tmp_path / "d.png"), {"a": ([0, 1], [1])})


def test_backend_manager(tmp_path):
    from nablite.utils import image_utils as iu
    assert "PilBackend" in iu.get_available_backends()
    assert iu.get_backend() == "PilBackend"
    with pytest.raises(ValueError, match="set_backend: backend must be one of"):
        iu.set_backend("TkBackend")
    if "Cv2Backend" not in iu.get_available_backends():
        with pytest.raises(ValueError, match="Cv2Backend is not installed"):
            iu.set_backend("Cv2Backend")
    iu.set_backend("PilBackend")
    assert iu.get_backend() == "PilBackend"


def test_cv2_backend_reads_what_pillow_writes(tmp_path):
    pytest.importorskip("cv2")
    from nablite.utils import image_utils as iu
    rgb = np.random.RandomState(0).randint(0, 256, (5, 7, 3)).astype(np.uint8)
    iu.imsave(str(tmp_path / "c.png"), rgb)
    iu.set_backend("Cv2Backend")
    try:
        np.testing.assert_array_equal(iu.imread(str(tmp_path / "c.png")), rgb)
        assert iu.imread(str(tmp_path / "c.png"), channel_first=True).shape == (3, 5, 7)
        assert iu.imresize(rgb, (3, 2)).shape == (2, 3, 3)
        iu.imsave(str(tmp_path / "d.png"), rgb)
    finally:
        iu.set_backend("PilBackend")
    np.testing.assert_array_equal(iu.imread(str(tmp_path / "d.png")), rgb)


def test_sixteen_bit_channels(tmp_path):
    img = np.array([[0, 257 * 100, 65535]], np.uint16)
    imsave(str(tmp_path / "g16.png"), img, as_uint16=True)
    rgb = imread(str(tmp_path / "g16.png"), num_channels=3)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 3, 3)
    np.testing.assert_array_equal(rgb, np.repeat([[[0], [100], [255]]], 3, axis=-1))
    rgba = imread(str(tmp_path / "g16.png"), num_channels=4, as_uint16=True)
    np.testing.assert_array_equal(rgba[..., 3], 65535)
    np.testing.assert_array_equal(rgba[..., 0], img)
    g3 = imread(str(tmp_path / "g16.png"), grayscale=True, num_channels=3)
    assert g3.shape == (1, 3, 3)


def rescaled(images):
    from nnabla.utils.image_utils import minmax_auto_scale, rescale_pixel_intensity
    out = {}
    for k, img in enumerate(images):
        img = np.asarray(img, dtype=["float32", "uint8", "float64"][k % 3])
        out[f"{k}_u8"] = minmax_auto_scale(img, False)
        out[f"{k}_u16"] = minmax_auto_scale(img, True)
        out[f"{k}_to01"] = rescale_pixel_intensity(img, 0, 255, 0, 1, np.float32)
        out[f"{k}_same"] = rescale_pixel_intensity(img, 3, 9, 3, 3)
    return out


def test_pixel_rescaling_as_nnabla():
    """minmax_auto_scale / rescale_pixel_intensity give NNabla's values and
    dtypes, constant images included (a zero range divides by the low end)."""
    from nnabla_parity import check_same_source
    rng = np.random.RandomState(1)
    images = [rng.rand(3, 4).tolist(), rng.randint(0, 256, (2, 5, 3)).tolist(),
              (rng.randn(4, 4) * 7).tolist(), [[0.5, 0.5]], [[7, 7, 7]], [[0.0, 0.0]]]
    mine, _ = check_same_source(rescaled, images=images)
    assert mine["0_u8"].dtype == np.uint8 and mine["0_u8"].max() == 255
    assert mine["4_u16"].tolist() == [[65535] * 3]  # 7 / 7 stretched to the top


def test_nnabla_aliases_and_rescale_errors():
    from nablite.utils import image_utils as iu
    assert iu.imload is iu.imread and iu.imwrite is iu.imsave
    with pytest.raises(ValueError, match="rescale_pixel_intensity: img must be a "
                                         "numpy.ndarray, got list"):
        iu.rescale_pixel_intensity([1, 2])
    with pytest.raises(ValueError, match="minmax_auto_scale: img must be"):
        iu.minmax_auto_scale(3.0, False)


def test_cv2_backend_matches_the_pillow_backend(tmp_path):
    """Every grayscale / num_channels / as_uint16 / channel_first combination
    gives the Pillow backend's shape, dtype and values (within 1 for colour
    to gray), from paths and file objects; a bomb header is refused by name."""
    pytest.importorskip("cv2")
    import io
    import itertools
    import struct
    import zlib
    from nablite.utils import image_utils as iu
    rng = np.random.RandomState(0)
    rgb = rng.randint(0, 256, (5, 7, 3)).astype(np.uint8)
    imsave(str(tmp_path / "a.png"), rgb)
    imsave(str(tmp_path / "g.png"), rgb[..., 0])
    imsave(str(tmp_path / "r.png"), rng.randint(0, 256, (5, 7, 4)).astype(np.uint8))
    imsave(str(tmp_path / "g16.png"), rng.randint(0, 65536, (5, 7)).astype(np.uint16),
           as_uint16=True)
    try:
        for name in ("a.png", "g.png", "r.png", "g16.png"):
            for g, n, u, cf in itertools.product([False, True], [-1, 0, 1, 3, 4],
                                                 [False, True], [False, True]):
                kw = dict(grayscale=g, num_channels=n, as_uint16=u, channel_first=cf)
                got = []
                for backend in ("PilBackend", "Cv2Backend"):
                    iu.set_backend(backend)
                    got.append(iu.imread(str(tmp_path / name), **kw))
                assert got[0].shape == got[1].shape and got[0].dtype == got[1].dtype, (name, kw)
                assert np.abs(got[0].astype(int) - got[1].astype(int)).max() <= 1, (name, kw)
        iu.set_backend("Cv2Backend")
        with open(tmp_path / "a.png", "rb") as f:
            np.testing.assert_array_equal(iu.imread(f), rgb)
        np.testing.assert_array_equal(iu.imread(io.BytesIO((tmp_path / "a.png").read_bytes())),
                                      rgb)

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + \
                struct.pack(">I", zlib.crc32(kind + data))
        (tmp_path / "bomb.png").write_bytes(
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10 ** 5, 10 ** 5,
                                                                 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
        with pytest.raises(ValueError, match="imread: .*bomb.png is refused as a "
                                             "decompression bomb"):
            iu.imread(str(tmp_path / "bomb.png"))
    finally:
        iu.set_backend("PilBackend")


def test_float_images_and_gray_channel_counts_as_nnabla(tmp_path):
    """imsave truncates floats scaled in float32 (15.3 -> 15, 127.5 -> 127) and imread refuses
    num_channels 0/1 without grayscale=True, in both libraries."""
    from nnabla_parity import check_same_source
    mine, _ = check_same_source('''
import os
from nnabla.utils import image_utils
image_utils.set_backend("PilBackend")
path = os.path.join(folder, "f.png")
image_utils.imsave(path, np.array([[[0.06, 0.5, 0.999, 57 * (1.0 / 255)]]]), auto_scale=True)
OUT = {"back": image_utils.imread(path).ravel().tolist(), "refused": []}
for nc in (0, 1):
    try:
        image_utils.imread(path, grayscale=False, num_channels=nc)
    except ValueError:
        OUT["refused"].append(nc)
''', folder=str(tmp_path))
    # truncated after a float32 product: 56.99999999999999 in float64 is 57 there
    assert mine["back"] == [15, 127, 254, 57] and mine["refused"] == [0, 1]
