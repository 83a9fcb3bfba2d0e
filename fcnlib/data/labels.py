"""Reading VOC-format files: photos as ``uint8 [3, H, W]`` (from a path, bytes or an upload widget), label PNGs as
class indices, split lists."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError
from torch import Tensor

from .classes import IGNORE_INDEX, VOC_COLORMAP, VOID_COLOR, voc_palette

MAX_UNKNOWN = 0.05  # default largest share of a label's pixels of colours outside the colour table (read as void)


def _read_pil(path: Path, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(values, palette)`` read by PIL: RGB ``[H, W, 3]`` as a viewer shows it (for a label also palette or grey
    values ``[H, W]``, with the palette); ``FileNotFoundError``/``ValueError`` naming the file."""
    try:
        if path.stat().st_size == 0:
            raise ValueError("it is empty (0 bytes); copy it again, or give another file")
        with Image.open(path) as img:
            if what == "label" and img.mode in ("P", "L"):
                palette = img.getpalette() if img.mode == "P" else None
                return np.array(img), None if palette is None else np.array(palette, np.uint8).reshape(-1, 3)
            if what == "label" and img.mode not in ("RGB", "RGBA"):
                raise ValueError(f"label mode {img.mode!r} is not a palette, grayscale or RGB image")
            return (pil_to_rgb(img) if what == "image" else np.array(img.convert("RGB"))), None
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file {path} does not exist") from None
    except UnidentifiedImageError:
        raise ValueError(f"cannot read {what} {path}: not a picture; give a JPEG, PNG, BMP or TIFF file") from None
    except Image.DecompressionBombError as err:  # PIL's guard against pictures that would fill the memory
        raise ValueError(f"cannot read {what} {path}: {err}; scale it down first") from None
    except (OSError, SyntaxError) as err:
        raise ValueError(f"cannot read {what} {path}: {err} (damaged?); copy it again, or give another file") from err
    except ValueError as err:
        raise ValueError(f"cannot read {what} {path}: {err}") from err


def _scaled_grey(img: Image.Image, bits: int) -> Image.Image:
    """An 8-bit ``L`` image of a 16-bit (``I;16*``, or ``I`` of a 16-bit file) or float (``F`` in [0, 1]) one."""
    values = np.asarray(img, dtype=np.float64)
    low, high = values.min(initial=0), values.max(initial=0)
    if (img.mode.startswith("I;16") or (img.mode == "I" and bits == 16)) and 0 <= low and high <= 65535:
        return Image.fromarray(np.round(values / 257).astype(np.uint8))
    if img.mode == "F" and np.isfinite(values).all() and 0 <= low and high <= 1:
        return Image.fromarray(np.round(values * 255).astype(np.uint8))
    raise ValueError(
        f"a picture of mode {img.mode!r} (values {low:g} to {high:g}) has no agreed brightness scale (floats run "
        "0..1, 16-bit integers 0..65535); save it as an 8-bit or 16-bit PNG"
    )


def pil_to_rgb(img: Image.Image) -> np.ndarray:
    """``img`` as an image viewer shows it, uint8 ``[H, W, 3]`` RGB: turned by its EXIF orientation, its colour
    profile (ICC) converted to sRGB, transparent parts over white; 16-bit grey scaled to 8 bits (``v / 257``),
    float grey from [0, 1] (``v * 255``). ``ValueError`` for pixels no viewer agrees on (floats outside [0, 1],
    32-bit integers)."""
    bits = getattr(img, "tag_v2", {}).get(258, (0,))[0]  # a TIFF's bits per sample
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = _scaled_grey(img, bits)
    if (icc := img.info.get("icc_profile")) and img.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source, out = ImageCms.ImageCmsProfile(io.BytesIO(icc)), "RGBA" if img.mode == "RGBA" else "RGB"
            img = ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"), outputMode=out)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a damaged or unusable profile: the colours as stored, as most viewers do
    if img.has_transparency_data:
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return np.array(img.convert("RGB"))


def read_image(path: str | Path) -> Tensor:
    """A picture file as an image viewer shows it (:func:`pil_to_rgb`): ``uint8 [3, H, W]`` RGB.
    ``FileNotFoundError``; ``ValueError`` naming an empty, unreadable or unshowable file."""
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg") and (image := _decode(path, "jpeg")) is not None:
        return image
    return torch.from_numpy(_read_pil(path, "image")[0]).permute(2, 0, 1)


def upload_bytes(value: object) -> bytes | None:
    """The content of the first file in an ipywidgets ``FileUpload.value``: ipywidgets 8's tuple of dicts
    ``{"name", "type", "size", "last_modified", "content": memoryview}`` (or one such dict), ipywidgets 7's dict
    ``{file name: {"metadata": {...}, "content": bytes}}``; None when nothing was uploaded. ``ValueError``: other."""
    if not value:
        return None
    files = [value] if isinstance(value, dict) and "content" in value else value
    files = list(files.values()) if isinstance(files, dict) else files
    try:
        return bytes(files[0]["content"])
    except (TypeError, KeyError, IndexError) as err:
        msg = f"not a FileUpload value (got {type(value).__name__} {str(value)[:60]})"
        raise ValueError(f"{msg}; pass upload.value, a path or an image file's bytes") from err


def read_photo(source: object, max_side: int | None = 640) -> Tensor | None:
    """A photo as a viewer shows it (:func:`pil_to_rgb`), ``uint8 [3, H, W]``, shrunk (antialiased bilinear, aspect
    kept) where its longer side exceeds ``max_side`` pixels. ``source``: a path, an image file's bytes, or a
    ``FileUpload.value`` (:func:`upload_bytes`); None for None or an empty upload. ``FileNotFoundError``;
    ``ValueError`` for what is not a picture."""
    if source is None:
        return None
    if isinstance(source, (str, Path)):
        image = read_image(source)
    else:
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else upload_bytes(source)
        if not data:
            return None
        try:
            with Image.open(io.BytesIO(data)) as img:
                image = torch.from_numpy(pil_to_rgb(img)).permute(2, 0, 1)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as err:
            raise ValueError(f"the uploaded file is not a picture PIL can read ({err}); upload a JPEG or PNG") from None
    h, w = image.shape[-2:]
    if max_side is not None and max(h, w) > max_side:
        size = (max(1, round(h * max_side / max(h, w))), max(1, round(w * max_side / max(h, w))))
        small = torch.nn.functional.interpolate(image[None].float(), size, mode="bilinear", antialias=True)
        image = small[0].round().clamp(0, 255).to(torch.uint8)
    return image


def _decode(path: Path, kind: str) -> Tensor | None:
    """torchvision's decoder (25-40% faster than PIL) for 3-channel JPEGs without EXIF orientation or colour profile
    and 8-bit palette/grey PNGs, else None."""
    from torchvision.io import ImageReadMode, decode_jpeg, decode_png

    try:
        raw = path.read_bytes()
        data = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
        if kind == "png":  # IHDR: bit depth at byte 24, colour type at byte 25 (0 grey, 3 palette)
            if data.numel() < 26 or int(data[24]) != 8 or int(data[25]) not in (0, 3):
                return None
            return decode_png(data, mode=ImageReadMode.UNCHANGED)
        with Image.open(io.BytesIO(raw)) as img:  # reads the markers only
            if img.mode != "RGB" or "icc_profile" in img.info or img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
                return None
        return decode_jpeg(data, mode=ImageReadMode.UNCHANGED)
    except (OSError, RuntimeError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None  # missing, truncated, mislabelled or huge: PIL reports it


def _png_palette(raw: bytes) -> np.ndarray | None:
    """The PLTE chunk of PNG bytes as ``uint8 [n, 3]``, or None."""
    pos = 8
    while pos + 8 <= len(raw):
        length, kind = int.from_bytes(raw[pos : pos + 4], "big"), raw[pos + 4 : pos + 8]
        if kind == b"PLTE":
            return np.frombuffer(raw[pos + 8 : pos + 8 + length - length % 3], np.uint8).reshape(-1, 3)
        if kind == b"IDAT":
            return None
        pos += 12 + length
    return None


def _codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


@lru_cache(maxsize=8)
def _expected_codes(colormap: tuple) -> np.ndarray:
    """Colour codes of a dataset's palette: VOC's, with ``colormap`` as its first entries."""
    expected = np.array(voc_palette(), np.int32).reshape(256, 3)
    expected[: len(colormap)] = colormap
    return _codes(expected)


def _by_colour(path: Path, codes: np.ndarray, counts: np.ndarray, colormap, max_unknown: float) -> np.ndarray:
    """Class index (255: void or unknown) of each colour code; warns about pixels of unknown colour, or above
    ``max_unknown`` (a share) refuses them (``ValueError``)."""
    lookup = {int(c): i for i, c in enumerate(_codes(np.array(colormap)))}
    lookup.setdefault(int(_codes(np.array(VOID_COLOR))), IGNORE_INDEX)
    lut = np.array([lookup.get(int(c), IGNORE_INDEX) for c in codes], dtype=np.uint8)
    unknown_at = np.array([int(c) not in lookup for c in codes], dtype=bool) & (counts > 0)
    if not unknown_at.any():
        return lut
    share, unknown = float(counts[unknown_at].sum() / max(counts.sum(), 1)), codes[unknown_at]
    rgb = np.stack([(unknown >> 16) & 255, (unknown >> 8) & 255, unknown & 255], -1)[unknown >= 0]
    near = np.abs(rgb[:, None, :] - np.array([*colormap, VOID_COLOR])[None]).max(-1).min(-1) <= 64
    cause = "colours of another dataset or tool: recolour the mask with this dataset's colours (classes.json)"
    if len(unknown) > 32 and 2 * near.sum() > len(near):  # JPEG blends edges into hundreds of nearby colours
        cause = "lossy compression (the mask was saved as JPEG at some point, which blends colours): use the original PNG or repaint the mask with the exact class colours"
    what = f"{share:.1%} of the pixels of label {path} have {len(unknown)} colours outside the colour table"
    if share > max_unknown:
        raise ValueError(
            f"{what}; likely cause: {cause}. Refused (max_unknown={max_unknown:.0%}); pass a larger max_unknown to read them as void (255)."
        )
    warnings.warn(f"{what}, read as void (255); likely cause: {cause}", stacklevel=4)
    return lut


def read_label(
    path: str | Path, colormap: Sequence = VOC_COLORMAP, num_classes: int | None = None, max_unknown=MAX_UNKNOWN
) -> tuple[np.ndarray, str]:
    """A label PNG as ``(indices uint8 [H, W], how)``, 255 void; ``how``: ``""`` (stored values are the indices),
    ``"palette"`` or ``"rgb"`` (mapped by colour; unknown colours become 255 with a warning). ``ValueError`` above
    ``max_unknown`` (a share of the pixels) or for values other than ``0 .. num_classes - 1`` and 255."""
    path = Path(path)
    num_classes = len(colormap) if num_classes is None else num_classes
    decoded = _decode(path, "png") if path.suffix.lower() == ".png" else None
    if decoded is not None and decoded.shape[0] == 1:
        values, palette = decoded[0].numpy(), _png_palette(path.read_bytes())
    else:
        values, palette = _read_pil(path, "label")
    how = ""
    if values.ndim == 3:
        codes, inverse, counts = np.unique(_codes(values), return_inverse=True, return_counts=True)
        values, how = _by_colour(path, codes, counts, colormap, max_unknown)[inverse.reshape(values.shape[:2])], "rgb"
    elif palette is not None:
        codes = np.full(256, -1, np.int32)
        codes[: len(palette)] = _codes(palette[:256])
        counts = np.bincount(values.ravel(), minlength=256)
        used = counts > 0
        if not np.array_equal(codes[used], _expected_codes(tuple(map(tuple, colormap)))[used]):
            values, how = _by_colour(path, codes, counts, colormap, max_unknown)[values], "palette"
    outside = (values >= num_classes) & (values != IGNORE_INDEX)
    if outside.any():
        raise ValueError(
            f"label {path} holds values {np.unique(values[outside])[:8].tolist()} that are not class indices 0..{num_classes - 1} or 255 (void); is it a label of another dataset?"
        )
    return values, how


def read_split(path: Path) -> list[str]:
    """Image ids of a split list (one per line; UTF-8, a byte-order mark allowed); ``FileNotFoundError``,
    ``ValueError`` naming the file."""
    try:
        names = path.read_text(encoding="utf-8-sig").split()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"split list {path} is missing: write it, one image id (file name without .jpg) a line"
        ) from None
    except UnicodeDecodeError as err:
        raise ValueError(f"split list {path} is not UTF-8 text ({err}); save it as plain UTF-8, one id a line") from err
    if not names:
        raise ValueError(f"split list {path} is empty: it needs one image id a line")
    return names
