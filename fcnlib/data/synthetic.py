"""The teaching dataset: scenes of textured shapes (the classes) with VOC's void (255) outlines, written as a
VOC2012 tree (JPEGs, palette PNGs, split lists) plus ``classes.json`` (names, colours, generator settings).
The same seed gives the same files, byte for byte."""

from __future__ import annotations

import colorsys
import json
import math
import os
import shutil
import uuid
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..metrics import boundary_band
from ..shapes import check_int
from .classes import IGNORE_INDEX, VOC_COLORMAP, voc_palette
from .voc import find_voc_dir

SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "star", "ring", "cross")
"""The object classes, in index order (1, 2, ...)."""
SYNTHETIC_CLASSES: list[str] = ["background", *SHAPES]
MAX_OBJECTS = 3
RADIUS = (0.2, 0.45)
"""Range of object radii, as fractions of the image's shorter side."""
COLOR_HINT = 0.9
"""Probability that an object takes its class's hue."""
BACKGROUND_SATURATION = 0.3
"""Backgrounds are muted (HSV saturation at most this), objects vivid: as in photos, what is segmented
stands out. FCN-32s in the quick profile (seed 0, 96 validation crops): mIoU 0.398 with version 2's random
background colours, colour hint 0.8 and contrasts 40/40; 0.674 with these settings (version 3)."""
BACKGROUND_CONTRAST = 30.0
"""Standard deviation (grey levels) between the two colours of a texture."""
OBJECT_CONTRAST = 15.0
MIN_COLOR_DISTANCE = 200.0
"""An object's colour differs from the background under it by at least this (sum over R, G, B)."""
GENERATOR_VERSION = 3
"""Bumped whenever a change here changes the images for a given seed."""
LOW = 4
"""Textures are drawn at 1/LOW of the resolution and enlarged (speed: 2,900 images of 375x500 in the full profile)."""

Size = tuple[int, int]


def _random_color(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _background_color(rng: np.random.Generator) -> np.ndarray:
    hue, saturation, value = rng.uniform(0, 1), rng.uniform(0, BACKGROUND_SATURATION), rng.uniform(0.25, 0.9)
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float32) * 255


def _texture(rng, h: int, w: int, c1: np.ndarray, c2: np.ndarray, kind: int, scale: float) -> Image.Image:
    """``h x w`` RGB blending two colours: 0 gradient, 1 stripes (period 8-30% of ``scale``), 2 blotches, 3 flat."""
    lh, lw = max(2, -(-h // LOW)), max(2, -(-w // LOW))
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32) * LOW
    angle = rng.uniform(0, math.pi)
    along = xx * math.cos(angle) + yy * math.sin(angle)
    if kind == 0:
        t = (along - along.min()) / max(float(along.max() - along.min()), 1.0)
    elif kind == 1:
        period = max(rng.uniform(0.08, 0.3) * scale, 3.0 * LOW)
        t = 0.5 + 0.5 * np.sin(along * (2 * math.pi / period) + rng.uniform(0, 2 * math.pi))
    elif kind == 2:
        small = rng.uniform(0, 1, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)))).astype(np.float32)
        t = np.asarray(Image.fromarray(small).resize((lw, lh), Image.BILINEAR))
    else:
        t = np.zeros((lh, lw), dtype=np.float32)
    low = np.clip(c1 + (c2 - c1) * t[..., None], 0, 255).astype(np.uint8)
    return Image.fromarray(low).resize((w, h), Image.BILINEAR)


def _shape_outline(name: str, cx: float, cy: float, r: float, angle: float) -> tuple[str, list]:
    """What to draw for one object of radius ``r``: ("polygon", points) or ("ellipse", boxes)."""

    def ring(n: int, radius: float, offset: float = 0.0) -> list[tuple[float, float]]:
        steps = (angle + offset + 2 * math.pi * k / n for k in range(n))
        return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in steps]

    if name in ("disc", "ring"):
        boxes = [(cx - r, cy - r, cx + r, cy + r)]
        return "ellipse", boxes + ([(cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2)] if name == "ring" else [])
    if name == "square":
        return "polygon", ring(4, r, math.pi / 4)
    if name == "triangle":
        return "polygon", ring(3, 1.15 * r, -math.pi / 2)
    if name == "star":
        outer, inner = ring(5, 1.15 * r, -math.pi / 2), ring(5, 0.45 * r, -math.pi / 2 + math.pi / 5)
        return "polygon", [p for pair in zip(outer, inner) for p in pair]
    if name == "cross":
        a, b = r, 0.36 * r  # arm half-length and half-width
        corners = [(b, a), (b, b), (a, b)]
        for _ in range(3):  # the other three arms: exact quarter turns
            corners += [(y, -x) for x, y in corners[-3:]]
        c, s = math.cos(angle), math.sin(angle)
        return "polygon", [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]
    raise ValueError(f"unknown shape {name!r}; choose from {SHAPES}")


@lru_cache(maxsize=4)
def _noise_tile(h: int, w: int) -> np.ndarray:
    """Fixed Gaussian noise (int16), larger than the image; each image takes a random window of it."""
    return np.round(np.random.default_rng(2012).standard_normal((h + 64, w + 64, 3)) * 16).astype(np.int16)


def _object_color(rng, cls: int, n_classes: int, under: np.ndarray, hinted: bool) -> np.ndarray:
    for _attempt in range(16):  # a colour that stands out from the background there
        if hinted:
            hue = (cls / n_classes + rng.uniform(-0.05, 0.05)) % 1.0
            rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1), rng.uniform(0.55, 1))
            color = np.array(rgb, dtype=np.float32) * 255
        else:
            color = _random_color(rng)
        if np.abs(color - under).sum() > MIN_COLOR_DISTANCE:
            break
    return color


def _draw_object(rng, image: Image.Image, label: Image.Image, shapes, radius, color_hint: float) -> None:
    """Paste one random object (texture into ``image``, class into ``label``) through its mask."""
    w, h = image.size
    cls = int(rng.integers(0, len(shapes)))
    r = float(rng.uniform(*radius)) * min(h, w)
    cx, cy = float(rng.uniform(0.1 * w, 0.9 * w)), float(rng.uniform(0.1 * h, 0.9 * h))
    angle = float(rng.uniform(0, 2 * math.pi))
    x0, y0 = max(0, int(cx - 1.2 * r)), max(0, int(cy - 1.2 * r))
    x1, y1 = min(w, int(cx + 1.2 * r) + 2), min(h, int(cy + 1.2 * r) + 2)
    kind, geometry = _shape_outline(shapes[cls], cx - x0, cy - y0, r, angle)
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(mask)
    if kind == "polygon":
        draw.polygon(geometry, fill=255)
    else:
        for k, box in enumerate(geometry):
            draw.ellipse(box, fill=0 if k else 255)
    under = np.asarray(image.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)), dtype=np.float32)
    hinted = color_hint > 0 and rng.uniform() < color_hint
    o1 = _object_color(rng, cls, len(shapes), under, hinted)
    o2 = np.clip(o1 + rng.normal(0, OBJECT_CONTRAST, size=3), 0, 255).astype(np.float32)
    image.paste(_texture(rng, y1 - y0, x1 - x0, o1, o2, int(rng.integers(0, 4)), 2 * r), (x0, y0), mask)
    label.paste(cls + 1, (x0, y0, x1, y1), mask)


def render_scene(
    rng: np.random.Generator,
    size: Size,
    shapes: Sequence[str] = SHAPES,
    max_objects: int = MAX_OBJECTS,
    radius: tuple[float, float] = RADIUS,
    color_hint: float = 0.0,
    void_width: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(image uint8 [H, W, 3], label uint8 [H, W])``, labels 0, 1..len(shapes), 255; later objects
    hide earlier ones. ``void_width``: half-width of the void outline in pixels (default about 1% of the
    shorter side, at least 1; 0 for none)."""
    h, w = size
    c1 = _background_color(rng)
    c2 = np.clip(c1 + rng.normal(0, BACKGROUND_CONTRAST, size=3), 0, 255).astype(np.float32)
    image = _texture(rng, h, w, c1, c2, int(rng.integers(0, 3)), float(min(h, w)))
    label = Image.new("L", (w, h), 0)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        _draw_object(rng, image, label, shapes, radius, color_hint)
    dy, dx = int(rng.integers(0, 64)), int(rng.integers(0, 64))
    amplitude = int(rng.integers(2, 9))  # noise standard deviation: 2 to 8 grey levels
    noisy = np.asarray(image).astype(np.int16) + (_noise_tile(h, w)[dy : dy + h, dx : dx + w] * amplitude >> 4)
    labels = np.array(label)
    width = max(1, round(min(h, w) / 125)) if void_width is None else int(void_width)
    if width > 0:
        labels[boundary_band(torch.from_numpy(labels), width, ignore_index=None).numpy()] = IGNORE_INDEX
    return np.clip(noisy, 0, 255).astype(np.uint8), labels


def _sizes(image_size: Size | Sequence[Size]) -> list[Size]:
    pair = isinstance(image_size, (tuple, list)) and len(image_size) == 2
    if pair and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image_size):
        sizes = [(int(image_size[0]), int(image_size[1]))]
    else:
        try:
            sizes = [(int(h), int(w)) for h, w in image_size]  # type: ignore[misc]
        except (TypeError, ValueError):
            raise TypeError(f"image_size must be (height, width) or a list of such pairs, got {image_size!r}") from None
    if any(h < 16 or w < 16 for h, w in sizes):
        raise ValueError(f"image sizes must be at least 16x16 pixels, got {sizes}")
    return sizes


def _scene(shapes, max_objects, radius, color_hint) -> dict:
    """Checked scene settings (``ValueError`` naming the bad one)."""
    check_int(max_objects, "max_objects", 1)
    if not shapes or any(s not in SHAPES for s in shapes) or len(set(shapes)) != len(shapes):
        raise ValueError(f"shapes must be distinct names from {SHAPES}, got {list(shapes)}")
    radius = (float(radius[0]), float(radius[1]))
    if not 0 < radius[0] <= radius[1] <= 1:
        raise ValueError(f"radius must be (low, high) with 0 < low <= high <= 1, got {radius}")
    if not 0 <= color_hint <= 1:
        raise ValueError(f"color_hint is a probability in [0, 1], got {color_hint!r}")
    return dict(shapes=tuple(shapes), max_objects=max_objects, radius=radius, color_hint=float(color_hint))


def _settings(n_train: int, n_val: int, seed: int, image_size, scene: dict) -> dict:
    return dict(n_train=n_train, n_val=n_val, seed=seed, image_size=[list(s) for s in _sizes(image_size)],
                shapes=list(scene["shapes"]), max_objects=scene["max_objects"], radius=list(scene["radius"]),
                color_hint=scene["color_hint"], version=GENERATOR_VERSION)  # fmt: skip


def _write_images(voc_dir: Path, names: list[str], first: int, seed: int, sizes, scene: dict, quality: int) -> int:
    """Render and save ``names`` (image numbers ``first``, ``first + 1``, ...); return how many."""
    palette = voc_palette()
    for offset, name in enumerate(names):
        rng = np.random.default_rng([seed, first + offset])  # any image alone, in any process, comes out the same
        size = sizes[int(rng.integers(0, len(sizes)))] if len(sizes) > 1 else sizes[0]
        image, label = render_scene(rng, size, **scene)
        Image.fromarray(image).save(voc_dir / "JPEGImages" / f"{name}.jpg", quality=quality)
        png = Image.fromarray(label)
        png.putpalette(palette)  # grey -> palette ("P") image
        png.save(voc_dir / "SegmentationClass" / f"{name}.png", compress_level=1)
    return len(names)


def _write_tree(tmp: Path, n_train: int, n_val: int, seed: int, image_size, scene: dict, quality: int,
                workers: int | None, progress: bool) -> None:  # fmt: skip
    """Images (in chunks of 64, on ``workers`` processes), split lists and ``classes.json`` into ``tmp``."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    names = [f"synth_{i:06d}" for i in range(n_train + n_val)]
    workers = (1 if len(names) < 400 else min(os.cpu_count() or 1, 8)) if workers is None else int(workers)
    sizes = _sizes(image_size)
    jobs = [(tmp, names[s : s + 64], s, seed, sizes, scene, quality) for s in range(0, len(names), 64)]
    with tqdm(total=len(names), desc="generating images", unit="img", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                bar.update(_write_images(*job))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for done in pool.map(_write_images, *zip(*jobs)):
                    bar.update(done)
    split_dir = tmp / "ImageSets" / "Segmentation"
    for split, ids in (("train", names[:n_train]), ("val", names[n_train:]), ("trainval", names)):
        (split_dir / f"{split}.txt").write_text("\n".join(ids) + "\n")
    colormap = [list(c) for c in VOC_COLORMAP[: len(scene["shapes"]) + 1]]
    info = dict(source="synthetic", classes=["background", *scene["shapes"]], colormap=colormap,
                generator=_settings(n_train, n_val, seed, image_size, scene))  # fmt: skip
    (tmp / "classes.json").write_text(json.dumps(info, indent=1) + "\n")


def make_synthetic_voc(
    root: str | Path,
    n_train: int,
    n_val: int,
    seed: int = 0,
    image_size: Size | Sequence[Size] = (128, 160),
    shapes: Sequence[str] = SHAPES,
    max_objects: int = MAX_OBJECTS,
    radius: tuple[float, float] = RADIUS,
    color_hint: float = COLOR_HINT,
    jpeg_quality: int = 90,
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Write the teaching dataset as ``root/VOCdevkit/VOC2012`` and return that folder. ``image_size``:
    ``(height, width)``, or a list of sizes drawn at random; class ``i + 1`` is ``shapes[i]``; ``workers``:
    drawing processes (default 1 below 400 images, else up to 8; the files do not depend on it). A generated
    dataset there is replaced; any other raises ``ValueError``, as do bad settings."""
    check_int(n_train, "n_train", 1), check_int(n_val, "n_val", 1)
    scene = _scene(shapes, max_objects, radius, color_hint)
    _sizes(image_size)
    voc_dir = Path(root).expanduser() / "VOCdevkit" / "VOC2012"
    if voc_dir.exists():
        info = voc_dir / "classes.json"
        if not info.is_file() or json.loads(info.read_text()).get("source") != "synthetic":
            raise ValueError(
                f"{voc_dir} already holds a dataset that was not generated by fcnlib; "
                "choose another root so it is not overwritten"
            )
    # Written into a temporary folder, renamed at the end: never a half-written dataset that looks complete.
    tmp = voc_dir.parent / f".VOC2012-{uuid.uuid4().hex[:8]}.tmp"
    try:
        _write_tree(tmp, n_train, n_val, seed, image_size, scene, jpeg_quality, workers, progress)
        if voc_dir.exists():
            shutil.rmtree(voc_dir)
        os.replace(tmp, voc_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return voc_dir


def ensure_synthetic_voc(
    root: str | Path, n_train: int, n_val: int, seed: int = 0, image_size: Size | Sequence[Size] = (128, 160)
) -> tuple[Path, bool]:
    """``(voc_dir, generated)``: the teaching dataset under ``root`` with these settings, reused or (re)generated."""
    root = Path(root).expanduser()
    wanted = _settings(n_train, n_val, seed, image_size, _scene(SHAPES, MAX_OBJECTS, RADIUS, COLOR_HINT))
    voc_dir = find_voc_dir(root)
    if voc_dir is not None and (voc_dir / "classes.json").is_file():
        try:
            stored = json.loads((voc_dir / "classes.json").read_text()).get("generator")
        except ValueError:
            stored = None
        if stored == wanted:
            return voc_dir, False
    return make_synthetic_voc(root, n_train, n_val, seed=seed, image_size=image_size), True
