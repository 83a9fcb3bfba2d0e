"""Where a prediction goes wrong: error maps (right / wrong / void) over the image, a row of test images with
their errors, and two predictions' disagreement beside the score margin. Images uint8 ``[3, H, W]``; label maps
int ``[H, W]`` with 255 void; class names and colours as in :mod:`fcnlib.viz.segmentation`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from ..data import VOID_COLOR
from ..inference import label2image
from ._common import image_array
from .segmentation import LEGEND_MIN_PIXELS, _as_list, _handles, _labels, _palette

__all__ = ["ERROR_COLORS", "error_map", "show_errors", "show_disagreement"]

ERROR_COLORS = {"right": (110, 200, 255), "wrong": (255, 40, 40), "void": tuple(VOID_COLOR)}
"""RGB 0..255 of the error map's three kinds of pixel (sky blue, red, VOC's void cream)."""


def _error_handles() -> list[Patch]:
    names = {"right": "right", "wrong": "wrong", "void": "void (not scored)"}
    return [Patch(facecolor=np.array(ERROR_COLORS[k]) / 255, edgecolor="0.5", label=v) for k, v in names.items()]


def error_map(image: Any, pred: Any, target: Any, ignore_index: int = 255) -> np.ndarray:
    """Uint8 ``[H, W, 3]``: each pixel in its colour of :data:`ERROR_COLORS`, void where ``target`` is
    ``ignore_index``, else right or wrong (``pred == target``); right and wrong are shaded by the image's brightness
    (``0.5 + 0.5 * grey``, grey in [0, 1]) so that its shapes stay visible, void is not. ValueError: sizes differ."""
    picture, p, t = image_array(image, None), _labels(pred), _labels(target)
    if p.shape != t.shape or picture.shape[:2] != t.shape:
        raise ValueError(f"image {picture.shape[:2]}, prediction {p.shape} and target {t.shape} must be one size")
    rgb = picture[..., :3] / 255.0 if picture.dtype == np.uint8 else np.asarray(picture, dtype=np.float64)
    grey = rgb.mean(axis=-1) if rgb.ndim == 3 else rgb
    kind = np.where(t == ignore_index, 2, np.where(p == t, 0, 1))  # 0 right, 1 wrong, 2 void
    colors = np.array([ERROR_COLORS[k] for k in ("right", "wrong", "void")], dtype=np.float64)[kind]
    shade = np.where(kind == 2, 1.0, 0.5 + 0.5 * grey)[..., None]
    return np.round(colors * shade).astype(np.uint8)


def show_errors(
    images, preds, targets, titles=(), classes=None, colormap=None, scale=2.0, min_pixels=LEGEND_MIN_PIXELS
):
    """A column per image (``[N, 3, H, W]`` or a list): the image, the prediction and the ground truth in class
    colours, and its :func:`error_map`; ``titles`` over the columns; a legend of the classes (void included) that
    cover at least ``min_pixels`` pixels in all the label maps together (fewer cannot be seen), and one of the error
    colours. ValueError when the counts differ or N is 0."""
    images, preds, targets = _as_list(images, 3), _as_list(preds, 2), _as_list(targets, 2)
    if not images or len(preds) != len(images) or len(targets) != len(images):
        raise ValueError(f"need one prediction and one target per image: {len(images)}, {len(preds)}, {len(targets)}")
    names, cmap = _palette(classes, colormap)
    rows = {
        "image": [image_array(i, None) for i in images],
        "prediction": [label2image(_labels(p), cmap) for p in preds],
        "ground truth": [label2image(_labels(t), cmap) for t in targets],
        "errors": [error_map(i, p, t) for i, p, t in zip(images, preds, targets)],
    }
    h, w = rows["image"][0].shape[:2]
    size = (scale * len(images) * w / h + 1.2, scale * 4 + 0.9)
    fig, axes = plt.subplots(4, len(images), figsize=size, squeeze=False, layout="constrained")
    for r, (name, pictures) in enumerate(rows.items()):
        axes[r][0].set_ylabel(name)
        for c, picture in enumerate(pictures):
            axes[r][c].imshow(picture)
            axes[r][c].set(xticks=[], yticks=[])
    for ax, title in zip(axes[0], titles):
        ax.set_title(title)
    class_handles = _handles([_labels(m) for m in preds + targets], names, cmap, min_pixels)
    fig.legend(handles=class_handles, loc="outside lower center", ncol=min(len(class_handles), 5), frameon=False)
    axes[3][-1].legend(handles=_error_handles(), loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def _colorbar(fig, shown, ax, label: str, ticks=None) -> None:
    """A colour bar just right of ``ax`` that does not shrink it (the panels of a row stay aligned)."""
    fig.colorbar(shown, cax=ax.inset_axes((1.03, 0.0, 0.05, 1.0)), ticks=ticks, label=label)


def show_disagreement(image, preds: Mapping[str, Any], margin, target, coverage=None, classes=None, colormap=None):
    """Two predictions of one image compared: the image, the ground truth, ``preds`` (two names -> label maps),
    ``coverage`` (int ``[H, W]``: how many windows cover each pixel, if given, with integer ticks), where the two
    differ, and ``margin`` (float ``[H, W]``: the top score minus the second) with a colour bar; one legend.
    ValueError for other than two predictions or sizes that differ."""
    if len(preds) != 2:
        raise ValueError(f"preds must map two names to label maps, got {len(preds)} entries")
    (a, pa), (b, pb) = ((name, _labels(p)) for name, p in preds.items())
    m, t = np.asarray(torch.as_tensor(margin).detach().cpu(), dtype=np.float64), _labels(target)
    if not pa.shape == pb.shape == m.shape == t.shape:
        raise ValueError(f"the predictions {pa.shape}, {pb.shape}, margin {m.shape}, target {t.shape} must match")
    names, cmap = _palette(classes, colormap)
    differ, color = pa != pb, np.array([255, 140, 0]) / 255
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.0))
    fig.subplots_adjust(left=0.01, right=0.99, top=0.94, bottom=0.02, wspace=0.3, hspace=0.18)
    panels = [(image_array(image, None), "image"), (label2image(t, cmap), "ground truth")]
    panels += [(label2image(pa, cmap), a), (label2image(pb, cmap), b)]
    panels += [(None, "windows covering each pixel"), (np.where(differ[..., None], color, 1.0), None)]
    for ax, (picture, title) in zip(axes.flat, panels):
        if picture is not None:
            ax.imshow(picture)
        ax.set(title=title or f"where {a} and {b} differ ({differ.mean():.1%})", xticks=[], yticks=[])
    if coverage is not None:
        counts = np.asarray(torch.as_tensor(coverage).cpu())
        shown = axes[1][0].imshow(counts, cmap="Blues", vmin=0, vmax=counts.max())
        _colorbar(fig, shown, axes[1][0], "windows", ticks=range(int(counts.max()) + 1))
    else:
        axes[1][0].axis("off")
    shown = axes[1][2].imshow(m, cmap="viridis", vmin=0)
    _colorbar(fig, shown, axes[1][2], "top score - second")
    axes[1][2].set(title=f"top-2 score margin ({a})", xticks=[], yticks=[])
    handles = _handles([pa, pb, t], names, cmap)
    handles += [Patch(facecolor=color, edgecolor="0.5", label=f"{a} and {b} differ")]
    handles += [Patch(facecolor="white", edgecolor="0.5", label="they agree")]
    axes[1][3].legend(handles=handles, loc="center right", frameon=False)
    axes[1][3].axis("off")
    return fig
