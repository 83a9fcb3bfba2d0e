"""Pictures are read as an image viewer shows them, whatever their mode and metadata, or refused with a message:
fcnlib.data.read_image (datasets, python -m fcnlib predict) and PIL images given to fcnlib.predict.

References: hand-made images in every PIL mode and what a viewer shows, computed here with numpy by the rules
viewers follow (16-bit grey / 257, float grey x 255, transparency over a white page, CMYK (255 - C)(255 - K) / 255
as Firefox and Chrome do, EXIF orientations as rotations and mirrors, a colour profile's curve by the sRGB formula).
"""

import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms
from torch import nn

import fcnlib
from fcnlib.data import read_image

RNG = np.random.default_rng(25)
H, W = 6, 10  # not square: a quarter turn changes the shape


def grey(dtype=np.uint8, high=256):
    return RNG.integers(0, high, (H, W)).astype(dtype)


def over_white(rgb, alpha):
    """A colour over a white page, by its alpha (what a browser shows for a transparent picture)."""
    a = alpha.astype(np.float64)[..., None] / 255
    return rgb.astype(np.float64) * a + 255 * (1 - a)


def case_1():
    bits = grey(np.uint8, 2).astype(bool)
    return Image.fromarray(bits).convert("1"), np.repeat(bits[..., None] * 255.0, 3, -1)


def case_L():
    g = grey()
    return Image.fromarray(g), np.repeat(g[..., None], 3, -1).astype(np.float64)


def case_LA():
    g, a = grey(), grey()
    return Image.fromarray(np.stack([g, a], -1), "LA"), over_white(np.repeat(g[..., None], 3, -1), a)


def case_P_transparent():
    palette = RNG.integers(0, 256, (16, 3)).astype(np.uint8)
    index = grey(np.uint8, 16)
    img = Image.fromarray(index, "P")
    img.putpalette(palette.ravel().tolist())
    img.info["transparency"] = 3  # palette entry 3 is transparent
    expected = palette[index].astype(np.float64)
    expected[index == 3] = 255
    return img, expected


def case_RGBA():
    rgb, a = RNG.integers(0, 256, (H, W, 3)).astype(np.uint8), grey()
    return Image.fromarray(np.dstack([rgb, a]), "RGBA"), over_white(rgb, a)


def case_CMYK():
    cmyk = RNG.integers(0, 256, (H, W, 4)).astype(np.uint8)
    c, k = cmyk[..., :3].astype(np.float64), cmyk[..., 3:].astype(np.float64)
    return Image.fromarray(cmyk, "CMYK"), (255 - c) * (255 - k) / 255


def case_I16():
    g = grey(np.uint16, 65536)
    return Image.fromarray(g), np.repeat(g[..., None] / 257, 3, -1)  # mode "I;16"


def case_F():
    f = RNG.random((H, W)).astype(np.float32)
    return Image.fromarray(f), np.repeat(f[..., None].astype(np.float64) * 255, 3, -1)


CASES = {
    "1": (case_1, "png"),
    "L": (case_L, "png"),
    "LA": (case_LA, "png"),
    "P": (case_P_transparent, "png"),
    "RGBA": (case_RGBA, "png"),
    "CMYK": (case_CMYK, "tiff"),
    "I;16": (case_I16, "png"),
    "F": (case_F, "tiff"),
}


@pytest.mark.parametrize("mode", CASES)
def test_every_mode_is_read_as_a_viewer_shows_it(mode, tmp_path):
    make, ext = CASES[mode]
    img, expected = make()
    assert img.mode == mode
    img.save(tmp_path / f"x.{ext}")
    assert Image.open(tmp_path / f"x.{ext}").mode == mode  # the file keeps the mode
    got = read_image(tmp_path / f"x.{ext}")
    assert got.dtype == torch.uint8 and got.shape == (3, H, W)
    assert np.abs(got.permute(1, 2, 0).numpy() - expected).max() <= 0.5 + 1e-9  # rounded
    # a PIL image handed to predict is read the same way: a per-pixel net sees the same pixels
    net = nn.Conv2d(3, 4, 1)
    assert torch.equal(fcnlib.predict(net, img), fcnlib.predict(net, got))


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: Image.fromarray(grey(np.int32, 1 << 30) * 3), "mode 'I'"),  # 32-bit integers
        (lambda: Image.fromarray(RNG.random((H, W)).astype(np.float32) * 7), "values 0"),  # floats beyond 1
        (lambda: Image.fromarray(np.full((H, W), np.nan, np.float32)), "nan"),
    ],
)
def test_pixels_without_an_agreed_scale_are_refused_with_advice(make, problem, tmp_path):
    make().save(tmp_path / "x.tiff")
    with pytest.raises(ValueError, match="no agreed brightness scale") as info:
        read_image(tmp_path / "x.tiff")
    assert (
        problem in str(info.value)
        and "x.tiff" in str(info.value)
        and "save it as an 8-bit or 16-bit PNG" in str(info.value)
    )
    # the advice works: saved as a 16-bit PNG (scaled to 0..65535), it is read
    values = np.nan_to_num(np.asarray(Image.open(tmp_path / "x.tiff"), dtype=np.float64))
    scaled = np.round(values / max(values.max(), 1) * 65535).astype(np.uint16)
    Image.fromarray(scaled).save(tmp_path / "x.png")
    assert np.abs(read_image(tmp_path / "x.png")[0].numpy() - scaled / 257).max() <= 0.5 + 1e-9


# EXIF orientation: how the stored grid is turned for display (the EXIF 2.3 table)
ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: np.rot90(a, 2),
    4: lambda a: a[::-1],
    5: lambda a: np.transpose(a, (1, 0, 2)),
    6: lambda a: np.rot90(a, -1),  # a quarter turn clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("ext", ["jpg", "png"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_exif_orientation_is_applied(orientation, ext, tmp_path):
    stored = np.kron(RNG.integers(0, 256, (3, 5, 3)), np.ones((8, 8, 1))).astype(np.uint8)  # 24 x 40, flat blocks
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / f"x.{ext}", exif=exif, quality=95)
    grid = np.asarray(Image.open(tmp_path / f"x.{ext}").convert("RGB")).astype(np.int16)  # the stored pixels
    got = read_image(tmp_path / f"x.{ext}").permute(1, 2, 0).numpy().astype(np.int16)
    assert got.shape == ORIENTATIONS[orientation](grid).shape
    assert np.array_equal(got, ORIENTATIONS[orientation](grid))


def _linear_srgb_profile() -> bytes:
    """The sRGB profile with its tone curves replaced by gamma 1.0 (linear light): a colour profile a viewer must
    apply, whose effect the sRGB formula gives independently."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", profile[128:132])[0]
    tags = {
        bytes(profile[132 + 12 * i : 136 + 12 * i]): struct.unpack(">II", profile[136 + 12 * i : 144 + 12 * i])
        for i in range(count)
    }
    for name in (b"rTRC", b"gTRC", b"bTRC"):
        offset, size = tags[name]
        curve = b"para" + bytes(4) + struct.pack(">HHi", 0, 0, 1 << 16)  # function 0: y = x ** 1.0
        profile[offset : offset + size] = curve + bytes(size - len(curve))
    return bytes(profile)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_colour_profile_is_converted_to_srgb(ext, tmp_path):
    linear = np.kron(RNG.integers(0, 256, (3, 4, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    Image.fromarray(linear).save(tmp_path / f"x.{ext}", icc_profile=_linear_srgb_profile(), quality=100)
    stored = np.asarray(Image.open(tmp_path / f"x.{ext}").convert("RGB")) / 255
    srgb = np.where(stored <= 0.0031308, 12.92 * stored, 1.055 * stored ** (1 / 2.4) - 0.055) * 255
    got = read_image(tmp_path / f"x.{ext}").permute(1, 2, 0).numpy()
    assert np.abs(got - srgb).max() <= 1.5  # littlecms interpolates its tables


def test_plain_jpeg_is_read_unchanged(tmp_path):
    rgb = RNG.integers(0, 256, (H, W, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "x.jpg")
    assert np.array_equal(
        read_image(tmp_path / "x.jpg").permute(1, 2, 0).numpy(), np.asarray(Image.open(tmp_path / "x.jpg"))
    )


@pytest.mark.parametrize("content", [b"", b"plain text, no picture\n"])
def test_empty_or_non_picture_file_is_named_with_advice(content, tmp_path):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ValueError) as info:
        read_image(tmp_path / "x.png")
    message = str(info.value)
    assert "x.png" in message and ("empty (0 bytes)" if not content else "give a JPEG, PNG") in message
    assert "split list" not in message and "Traceback" not in message
