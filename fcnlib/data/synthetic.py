"""The teaching dataset: textured shapes (the classes) with void (255) outlines, written as a VOC2012 tree plus
``classes.json`` (names, colours, generator settings). The same seed gives the same files, byte for byte."""

from __future__ import annotations

import colorsys
import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..metrics import boundary_band
from ..shapes import check_int
from .classes import IGNORE_INDEX, VOC_COLORMAP, voc_palette
from .voc import find_voc_dir

SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "star", "ring", "cross")  # classes 1, 2, ...
SYNTHETIC_CLASSES: list[str] = ["background", *SHAPES]
MAX_OBJECTS = 3
RADIUS = (0.2, 0.45)  # range of object radii, as fractions of the image's shorter side
COLOR_HINT = 0.9  # probability that an object takes its class's hue
BACKGROUND_SATURATION = 0.3
"""Backgrounds are muted (HSV saturation at most this), objects vivid. FCN-32s, quick profile (seed 0, 96
validation crops): mIoU 0.674 with these settings (version 3), 0.398 with version 2's."""
BACKGROUND_CONTRAST = 30.0  # standard deviation (grey levels) between the two colours of a texture
OBJECT_CONTRAST = 15.0
MIN_COLOR_DISTANCE = 200.0  # between an object's colour and the background under it (sum over R, G, B)
GENERATOR_VERSION = 3  # bumped whenever a change here changes the images for a given seed
LOW = 4  # textures are drawn at 1/LOW of the resolution and enlarged (speed)
Size = tuple[int, int]


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
    for _attempt in range(16):  # a colour that stands out from the background there
        if hinted:
            hue = (cls / len(shapes) + rng.uniform(-0.05, 0.05)) % 1.0
            o1 = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1), rng.uniform(0.55, 1)), np.float32) * 255
        else:
            o1 = rng.uniform(0, 255, size=3).astype(np.float32)
        if np.abs(o1 - under).sum() > MIN_COLOR_DISTANCE:
            break
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
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(image uint8 [H, W, 3], label uint8 [H, W])``, labels 0, 1..len(shapes), 255 (an outline about
    1% of the shorter side wide); later objects hide earlier ones."""
    h, w = size
    hue, saturation, value = rng.uniform(0, 1), rng.uniform(0, BACKGROUND_SATURATION), rng.uniform(0.25, 0.9)
    c1 = np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float32) * 255
    c2 = np.clip(c1 + rng.normal(0, BACKGROUND_CONTRAST, size=3), 0, 255).astype(np.float32)
    image = _texture(rng, h, w, c1, c2, int(rng.integers(0, 3)), float(min(h, w)))
    label = Image.new("L", (w, h), 0)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        _draw_object(rng, image, label, shapes, radius, color_hint)
    dy, dx = int(rng.integers(0, 64)), int(rng.integers(0, 64))
    amplitude = int(rng.integers(2, 9))  # noise standard deviation: 2 to 8 grey levels
    noisy = np.asarray(image).astype(np.int16) + (_noise_tile(h, w)[dy : dy + h, dx : dx + w] * amplitude >> 4)
    labels = np.array(label)
    width = max(1, round(min(h, w) / 125))
    labels[boundary_band(torch.from_numpy(labels), width, ignore_index=None).numpy()] = IGNORE_INDEX
    return np.clip(noisy, 0, 255).astype(np.uint8), labels


def _settings(
    n_train, n_val, seed, image_size, shapes=SHAPES, max_objects=MAX_OBJECTS, radius=RADIUS, color_hint=COLOR_HINT
) -> dict:
    """Checked generator settings as ``classes.json`` stores them (``TypeError``/``ValueError`` naming a bad one)."""
    check_int(n_train, "n_train", 1), check_int(n_val, "n_val", 1), check_int(max_objects, "max_objects", 1)
    if not shapes or any(s not in SHAPES for s in shapes) or len(set(shapes)) != len(shapes):
        raise ValueError(f"shapes must be distinct names from {SHAPES}, got {list(shapes)}")
    if not 0 < float(radius[0]) <= float(radius[1]) <= 1:
        raise ValueError(f"radius must be (low, high) with 0 < low <= high <= 1, got {tuple(radius)}")
    if not 0 <= color_hint <= 1:
        raise ValueError(f"color_hint is a probability in [0, 1], got {color_hint!r}")
    pair = isinstance(image_size, (tuple, list)) and len(image_size) == 2
    if pair and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image_size):
        image_size = [image_size]
    try:
        sizes = [[int(h), int(w)] for h, w in image_size]
    except (TypeError, ValueError):
        raise TypeError(f"image_size must be (height, width) or a list of such pairs, got {image_size!r}") from None
    if any(h < 16 or w < 16 for h, w in sizes):
        raise ValueError(f"image sizes must be at least 16x16 pixels, got {sizes}")
    radius, color_hint, version = [float(radius[0]), float(radius[1])], float(color_hint), GENERATOR_VERSION
    keys = "n_train n_val seed image_size shapes max_objects radius color_hint version".split()
    return dict(zip(keys, (n_train, n_val, seed, sizes, list(shapes), max_objects, radius, color_hint, version)))


def _write_images(voc_dir: Path, names: list[str], first: int, settings: dict) -> int:
    """Render and save ``names`` (image numbers ``first``, ``first + 1``, ...); return how many."""
    sizes, scene = settings["image_size"], {k: settings[k] for k in ("shapes", "max_objects", "radius", "color_hint")}
    palette = voc_palette()
    for offset, name in enumerate(names):
        rng = np.random.default_rng([settings["seed"], first + offset])  # any image alone comes out the same
        size = sizes[int(rng.integers(0, len(sizes)))] if len(sizes) > 1 else sizes[0]
        image, label = render_scene(rng, size, **scene)
        Image.fromarray(image).save(voc_dir / "JPEGImages" / f"{name}.jpg", quality=90)
        png = Image.fromarray(label)
        png.putpalette(palette)  # grey -> palette ("P") image
        png.save(voc_dir / "SegmentationClass" / f"{name}.png", compress_level=1)
    return len(names)


def _info(voc_dir: Path) -> dict:
    """A dataset folder's ``classes.json`` ({} when missing or unreadable)."""
    try:
        return dict(json.loads((voc_dir / "classes.json").read_text()))
    except (OSError, ValueError, TypeError):
        return {}


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
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Write the teaching dataset as ``root/VOCdevkit/VOC2012`` (replacing a generated one) and return that folder.
    ``image_size``: ``(height, width)`` or a list drawn from; class ``i + 1`` is ``shapes[i]``; ``workers``: processes
    (default 1 below 400 images, else up to 8). ``ValueError`` for bad settings or another dataset there."""
    from tqdm.auto import tqdm

    settings = _settings(n_train, n_val, seed, image_size, shapes, max_objects, radius, color_hint)
    voc_dir = Path(root).expanduser() / "VOCdevkit" / "VOC2012"
    if voc_dir.exists() and _info(voc_dir).get("source") != "synthetic":
        raise ValueError(f"{voc_dir} already holds a dataset that was not generated by fcnlib; choose another root")
    names = [f"synth_{i:06d}" for i in range(n_train + n_val)]
    workers = (1 if len(names) < 400 else min(os.cpu_count() or 1, 8)) if workers is None else int(workers)
    # Written into a temporary folder, renamed at the end: never a half-written dataset that looks complete.
    tmp = voc_dir.parent / f".VOC2012-{uuid.uuid4().hex[:8]}.tmp"
    try:
        for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        jobs = [(tmp, names[s : s + 64], s, settings) for s in range(0, len(names), 64)]  # 64 a task
        bar = tqdm(total=len(names), desc="generating images", unit="img", disable=not progress)
        with bar, ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
            for done in (map if pool is None else pool.map)(_write_images, *zip(*jobs)):
                bar.update(done)
        for split, ids in (("train", names[:n_train]), ("val", names[n_train:]), ("trainval", names)):
            (tmp / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        classes, colormap = ["background", *settings["shapes"]], [list(c) for c in VOC_COLORMAP[: len(shapes) + 1]]
        info = dict(source="synthetic", classes=classes, colormap=colormap, generator=settings)
        (tmp / "classes.json").write_text(json.dumps(info, indent=1) + "\n")
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
    voc_dir = find_voc_dir(root)
    if voc_dir is not None and _info(voc_dir).get("generator") == _settings(n_train, n_val, seed, image_size):
        return voc_dir, False
    return make_synthetic_voc(root, n_train, n_val, seed=seed, image_size=image_size), True
