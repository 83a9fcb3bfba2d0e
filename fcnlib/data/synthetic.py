"""A generated dataset in Pascal VOC2012's format, for learning without a 2 GB download.

Each image is a scene of a few objects on a textured background. The object classes are
*shapes* (disc, square, triangle, star, ring, cross). Like things in photos, each class
has a typical colour (discs tend to be red, squares yellow, ...: four objects in five
take a hue near their class's), but one object in five gets a random colour, and every
object gets a random texture: colour is a useful hint, shape is what decides. Objects
come in several sizes, overlap (the later one hides the earlier), run off the image's
edge, and have a thin void (255) outline as VOC's annotations do.

Why the colour hint: a network trained from scratch for a minute on a CPU (the quick
profile) learns colour long before it learns shape. With random colours only
(``color_hint=0``) it barely beats predicting "background" everywhere after 4 epochs;
with the hint it reaches more than twice that baseline's mean IoU, and with longer
training (or ImageNet weights) it learns the shapes too.

The files are a real VOC tree (``JPEGImages/*.jpg``, palette ``SegmentationClass/*.png``,
``ImageSets/Segmentation/{train,val}.txt``) plus ``classes.json`` with the class names and
their colours, so :class:`fcnlib.data.VOCDataset` reads it exactly like VOC2012, and so
would d2l's code. The same ``seed`` always gives the same files.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
import shutil
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

from .transforms import IGNORE_INDEX
from .voc import VOC_COLORMAP, find_voc_dir, voc_palette

__all__ = ['SHAPES', 'SYNTHETIC_CLASSES', 'MAX_OBJECTS', 'RADIUS', 'COLOR_HINT', 'BACKGROUND_CONTRAST', 'OBJECT_CONTRAST', 'MIN_COLOR_DISTANCE', 'GENERATOR_VERSION', 'render_scene', 'make_synthetic_voc', 'ensure_synthetic_voc']


SHAPES: Tuple[str, ...] = ("disc", "square", "triangle", "star", "ring", "cross")
"""The object classes of the teaching dataset, in index order (1, 2, ...)."""
SYNTHETIC_CLASSES: List[str] = ["background", *SHAPES]
"""Class names of the teaching dataset: index 0 is the background."""

MAX_OBJECTS = 3
"""At most this many objects per scene (at least one)."""
RADIUS = (0.2, 0.42)
"""Range of object radii, as fractions of the image's shorter side."""
COLOR_HINT = 0.8
"""Probability that an object takes its class's hue (see the module's docstring)."""
BACKGROUND_CONTRAST = 40.0
"""Spread (standard deviation, grey levels) between the two colours of a background pattern."""
OBJECT_CONTRAST = 40.0
MIN_COLOR_DISTANCE = 200.0
"""An object's colour differs from the background under it by at least this much (sum over R, G, B)."""
GENERATOR_VERSION = 2
"""Bumped whenever a change to this module changes the images for a given seed."""

Size = Tuple[int, int]


# ----------------------------------------------------------------------------- drawing
# Speed matters (the full profile writes 2,900 images of 375x500): textures are computed
# at a quarter of the resolution and enlarged by PIL, and objects are pasted through
# their masks by PIL, so that no Python loop and little NumPy work touch every pixel.
LOW = 4
"""Textures are drawn at 1/LOW of the final resolution and enlarged (smooth patterns lose nothing)."""


def _random_color(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int, c1: np.ndarray, c2: np.ndarray, kind: int,
             scale: float) -> Image.Image:
    """An ``h x w`` RGB image blending two colours with a pattern.

    ``kind`` 0: a linear gradient at a random angle; 1: stripes (period 8-30% of
    ``scale``); 2: soft blotches; 3: a flat colour.
    """
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


def _shape_outline(name: str, cx: float, cy: float, r: float, angle: float) -> Tuple[str, list]:
    """What to draw for one object: ("polygon", points) or ("ellipse", boxes); ``r`` is its radius."""
    def ring_points(n: int, radius: float, offset: float = 0.0) -> List[Tuple[float, float]]:
        return [(cx + radius * math.cos(angle + offset + 2 * math.pi * k / n),
                 cy + radius * math.sin(angle + offset + 2 * math.pi * k / n)) for k in range(n)]

    if name == "disc":
        return "ellipse", [(cx - r, cy - r, cx + r, cy + r)]
    if name == "ring":
        inner = 0.5 * r
        return "ellipse", [(cx - r, cy - r, cx + r, cy + r), (cx - inner, cy - inner, cx + inner, cy + inner)]
    if name == "square":
        return "polygon", ring_points(4, r, math.pi / 4)
    if name == "triangle":
        return "polygon", ring_points(3, 1.15 * r, -math.pi / 2)
    if name == "star":
        outer = ring_points(5, 1.15 * r, -math.pi / 2)
        inner = ring_points(5, 0.45 * r, -math.pi / 2 + math.pi / 5)
        return "polygon", [p for pair in zip(outer, inner) for p in pair]
    if name == "cross":
        a, b = r, 0.36 * r  # arm half-length and half-width
        corners = [(b, a), (b, b), (a, b), (a, -b), (b, -b), (b, -a), (-b, -a), (-b, -b), (-a, -b), (-a, b),
                   (-b, b), (-b, a)]
        c, s = math.cos(angle), math.sin(angle)
        return "polygon", [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]
    raise ValueError(f"unknown shape {name!r}; choose from {SHAPES}")


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, geometry: list, fill: int) -> None:
    if kind == "polygon":
        draw.polygon(geometry, fill=fill)
    else:
        draw.ellipse(geometry[0], fill=fill)
        if len(geometry) > 1:
            draw.ellipse(geometry[1], fill=0)


def _outline(label: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of a change of class (both sides): VOC's void band around objects.

    A pixel is on the band when the largest and the smallest label in the
    ``(2 width + 1)``-square around it differ; both are computed one axis at a time.
    """
    padded = np.pad(label, width, mode="edge")
    h, w = label.shape
    k = 2 * width + 1
    hi = lo = padded[:, :w]
    for d in range(1, k):
        hi, lo = np.maximum(hi, padded[:, d:d + w]), np.minimum(lo, padded[:, d:d + w])
    hi2, lo2 = hi[:h], lo[:h]
    for d in range(1, k):
        hi2, lo2 = np.maximum(hi2, hi[d:d + h]), np.minimum(lo2, lo[d:d + h])
    return hi2 != lo2


@lru_cache(maxsize=4)
def _noise_tile(h: int, w: int) -> np.ndarray:
    """Fixed Gaussian noise (int16), larger than the image; each image takes a random window of it."""
    return np.round(np.random.default_rng(2012).standard_normal((h + 64, w + 64, 3)) * 16).astype(np.int16)


def render_scene(
    rng: np.random.Generator,
    size: Size,
    shapes: Sequence[str] = SHAPES,
    max_objects: int = MAX_OBJECTS,
    radius: Tuple[float, float] = RADIUS,
    color_hint: float = 0.0,
    void_width: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one scene: ``(image uint8 [H, W, 3], label uint8 [H, W])`` with labels 0, 1..len(shapes), 255.

    ``radius`` is the range of object radii as a fraction of the image's shorter side;
    ``color_hint`` the probability that an object takes its class's own hue (a shortcut
    that makes the classes easier to learn) instead of a random colour;
    ``void_width`` the half-width of the void outline in pixels (default: about 1% of the
    shorter side, at least 1; 0 for none). Later objects hide earlier ones.
    """
    h, w = size
    short = min(h, w)
    c1 = _random_color(rng)
    c2 = np.clip(c1 + rng.normal(0, BACKGROUND_CONTRAST, size=3), 0, 255).astype(np.float32)
    image = _texture(rng, h, w, c1, c2, int(rng.integers(0, 3)), float(short))
    label = Image.new("L", (w, h), 0)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(0, len(shapes)))
        r = float(rng.uniform(*radius)) * short
        cx, cy = float(rng.uniform(0.1 * w, 0.9 * w)), float(rng.uniform(0.1 * h, 0.9 * h))
        angle = float(rng.uniform(0, 2 * math.pi))
        x0, y0 = max(0, int(cx - 1.2 * r)), max(0, int(cy - 1.2 * r))
        x1, y1 = min(w, int(cx + 1.2 * r) + 2), min(h, int(cy + 1.2 * r) + 2)
        # Draw the shape into a mask the size of its box, then paste texture and class through it.
        kind, geometry = _shape_outline(shapes[cls], cx - x0, cy - y0, r, angle)
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        _draw_shape(ImageDraw.Draw(mask), kind, geometry, 255)
        under = np.asarray(image.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)), dtype=np.float32)
        hinted = color_hint > 0 and rng.uniform() < color_hint
        for _attempt in range(16):  # a colour that stands out from the background there
            if hinted:
                hue = (cls / len(shapes) + rng.uniform(-0.05, 0.05)) % 1.0
                o1 = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1), rng.uniform(0.55, 1)),
                              dtype=np.float32) * 255
            else:
                o1 = _random_color(rng)
            if np.abs(o1 - under).sum() > MIN_COLOR_DISTANCE:
                break
        o2 = np.clip(o1 + rng.normal(0, OBJECT_CONTRAST, size=3), 0, 255).astype(np.float32)
        texture = _texture(rng, y1 - y0, x1 - x0, o1, o2, int(rng.integers(0, 4)), 2 * r)
        image.paste(texture, (x0, y0), mask)
        label.paste(cls + 1, (x0, y0, x1, y1), mask)
    tile = _noise_tile(h, w)
    dy, dx = int(rng.integers(0, 64)), int(rng.integers(0, 64))
    amplitude = int(rng.integers(2, 9))  # noise standard deviation amplitude / 16 * 16: 2 to 8 grey levels
    noisy = np.asarray(image).astype(np.int16) + (tile[dy:dy + h, dx:dx + w] * amplitude >> 4)
    labels = np.array(label)
    width = max(1, round(short / 125)) if void_width is None else int(void_width)
    if width > 0:
        labels[_outline(labels, width)] = IGNORE_INDEX
    return np.clip(noisy, 0, 255).astype(np.uint8), labels


# ----------------------------------------------------------------------------- files
def _sizes(image_size: Union[Size, Sequence[Size]]) -> List[Size]:
    if (isinstance(image_size, (tuple, list)) and len(image_size) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image_size)):
        sizes = [(int(image_size[0]), int(image_size[1]))]
    else:
        try:
            sizes = [(int(h), int(w)) for h, w in image_size]  # type: ignore[misc]
        except (TypeError, ValueError):
            raise TypeError(f"image_size must be (height, width) or a list of such pairs, got {image_size!r}") from None
    for h, w in sizes:
        if h < 16 or w < 16:
            raise ValueError(f"image sizes must be at least 16x16 pixels, got {h}x{w}")
    return sizes


def _settings(n_train: int, n_val: int, seed: int, image_size, scene: Dict) -> Dict:
    return dict(n_train=n_train, n_val=n_val, seed=seed, image_size=[list(s) for s in _sizes(image_size)],
                shapes=list(scene["shapes"]), max_objects=scene["max_objects"], radius=list(scene["radius"]),
                color_hint=scene["color_hint"], version=GENERATOR_VERSION)


def _write_images(voc_dir: Path, names: List[str], first: int, seed: int, sizes: List[Size],
                  scene: Dict, jpeg_quality: int) -> int:
    """Render and save ``names`` (image numbers ``first``, ``first + 1``, ...); return how many."""
    palette = voc_palette()
    for offset, name in enumerate(names):
        # One generator per image, seeded by (seed, number): any image can be made alone,
        # in any order or process, and comes out the same.
        rng = np.random.default_rng([seed, first + offset])
        size = sizes[int(rng.integers(0, len(sizes)))] if len(sizes) > 1 else sizes[0]
        image, label = render_scene(rng, size, **scene)
        Image.fromarray(image).save(voc_dir / "JPEGImages" / f"{name}.jpg", quality=jpeg_quality)
        png = Image.fromarray(label)
        png.putpalette(palette)  # turns the grayscale image into a palette ("P") image
        png.save(voc_dir / "SegmentationClass" / f"{name}.png", compress_level=1)
    return len(names)


def _generate(voc_dir: Path, names: List[str], seed: int, sizes: List[Size], scene: Dict,
              jpeg_quality: int, workers: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    chunk = 64
    starts = list(range(0, len(names), chunk))
    jobs = [(voc_dir, names[s:s + chunk], s, seed, sizes, scene, jpeg_quality) for s in starts]
    with tqdm(total=len(names), desc="generating images", unit="img", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                bar.update(_write_images(*job))
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(_write_images, *zip(*jobs)):
                bar.update(done)


def make_synthetic_voc(
    root: Union[str, Path],
    n_train: int,
    n_val: int,
    seed: int = 0,
    image_size: Union[Size, Sequence[Size]] = (128, 160),
    shapes: Sequence[str] = SHAPES,
    max_objects: int = MAX_OBJECTS,
    radius: Tuple[float, float] = RADIUS,
    color_hint: float = COLOR_HINT,
    jpeg_quality: int = 90,
    progress: bool = False,
    workers: Optional[int] = None,
) -> Path:
    """Write the teaching dataset as ``root/VOCdevkit/VOC2012`` and return that folder.

    Args:
        root: where to put ``VOCdevkit`` (created if needed).
        n_train, n_val: images in ``train.txt`` and ``val.txt``.
        seed: the same seed gives the same files, byte for byte.
        image_size: ``(height, width)`` of every image, or a list of sizes to pick from
            at random (e.g. VOC's mix of landscape and portrait photos).
        shapes: the object classes to use (names from :data:`SHAPES`); class ``i + 1`` is ``shapes[i]``.
        max_objects: at most this many objects per image (at least one).
        radius: the range of object radii, as fractions of the image's shorter side.
        color_hint: probability that an object has its class's hue rather than a random colour.
        progress: show a progress bar.
        workers: processes that draw in parallel (default: one for small datasets, all
            CPU cores up to 8 for large ones). The files do not depend on it.

    An existing generated dataset there is replaced; a real VOC2012 is never touched
    (``ValueError``).
    """
    for name, value in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(max_objects, bool) or not isinstance(max_objects, int) or max_objects < 1:
        raise ValueError(f"max_objects must be a positive int, got {max_objects!r}")
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not shapes or len(set(shapes)) != len(shapes):
        raise ValueError(f"shapes must be distinct names from {SHAPES}, got {list(shapes)}")
    radius = (float(radius[0]), float(radius[1]))
    if not 0 < radius[0] <= radius[1] <= 1:
        raise ValueError(f"radius must be (low, high) with 0 < low <= high <= 1, got {radius}")
    if not 0 <= color_hint <= 1:
        raise ValueError(f"color_hint is a probability in [0, 1], got {color_hint!r}")
    scene = dict(shapes=tuple(shapes), max_objects=max_objects, radius=radius, color_hint=float(color_hint))
    sizes = _sizes(image_size)
    root = Path(root).expanduser()
    voc_dir = root / "VOCdevkit" / "VOC2012"
    if voc_dir.exists():
        info = voc_dir / "classes.json"
        if not info.is_file() or json.loads(info.read_text()).get("source") != "synthetic":
            raise ValueError(f"{voc_dir} already holds a dataset that was not generated by fcnlib; "
                             "choose another root so it is not overwritten")
    # Write into a temporary folder and rename it at the end: an interrupted run never
    # leaves a half-written dataset that looks complete.
    tmp = root / "VOCdevkit" / f".VOC2012-{uuid.uuid4().hex[:8]}.tmp"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    try:
        names = [f"synth_{i:06d}" for i in range(n_train + n_val)]
        if workers is None:
            workers = 1 if len(names) < 400 else min(os.cpu_count() or 1, 8)
        _generate(tmp, names, seed, sizes, scene, jpeg_quality, int(workers), progress)
        split_dir = tmp / "ImageSets" / "Segmentation"
        (split_dir / "train.txt").write_text("\n".join(names[:n_train]) + "\n")
        (split_dir / "val.txt").write_text("\n".join(names[n_train:]) + "\n")
        (split_dir / "trainval.txt").write_text("\n".join(names) + "\n")
        info = dict(source="synthetic", classes=["background", *shapes],
                    colormap=[list(c) for c in VOC_COLORMAP[: len(shapes) + 1]],
                    generator=_settings(n_train, n_val, seed, image_size, scene))
        (tmp / "classes.json").write_text(json.dumps(info, indent=1) + "\n")
        if voc_dir.exists():
            shutil.rmtree(voc_dir)
        os.replace(tmp, voc_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return voc_dir


def ensure_synthetic_voc(
    root: Union[str, Path],
    n_train: int,
    n_val: int,
    seed: int = 0,
    image_size: Union[Size, Sequence[Size]] = (128, 160),
) -> Tuple[Path, bool]:
    """The teaching dataset under ``root`` with these settings: reuse it, or (re)generate it.

    Returns ``(voc_dir, generated)``. The settings are stored in ``classes.json``; a
    dataset made with other settings (or by an older fcnlib) is generated again.
    """
    root = Path(root).expanduser()
    wanted = _settings(n_train, n_val, seed, image_size, dict(shapes=SHAPES, max_objects=MAX_OBJECTS, radius=RADIUS,
                                                                 color_hint=COLOR_HINT))
    voc_dir = find_voc_dir(root)
    if voc_dir is not None and (voc_dir / "classes.json").is_file():
        try:
            stored = json.loads((voc_dir / "classes.json").read_text()).get("generator")
        except ValueError:
            stored = None
        if stored == wanted:
            return voc_dir, False
    return make_synthetic_voc(root, n_train, n_val, seed=seed, image_size=image_size), True
