"""Predictions on photographs: the photo beside label maps and a confidence map drawn at its own size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ..data import VOID_COLOR
from ..inference import label2image
from ._common import image_array
from .segmentation import _labels, _palette

__all__ = ["show_photo_prediction"]


def _share_legend(ax, labels: np.ndarray, names: list[str], cmap: np.ndarray) -> None:
    """Under ``ax``: a legend entry per value in ``labels`` (class colour, or void's) with its share, largest first."""
    values, counts = np.unique(labels, return_counts=True)
    handles = []
    for v, c in sorted(zip(values.tolist(), counts.tolist()), key=lambda vc: -vc[1]):
        colour = cmap[v] if 0 <= v < len(cmap) else np.array(VOID_COLOR)
        name = names[v] if 0 <= v < len(names) else ("void" if v == 255 else str(v))
        share = f"{c / labels.size:.0%}" if c / labels.size >= 0.005 else "<1%"
        handles.append(Patch(facecolor=colour / 255, edgecolor="0.5", label=f"{name} {share}"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, fontsize=9, frameon=False)


def show_photo_prediction(image, preds: Mapping[str, Any], classes=None, colormap=None, confidence=None, height=3.4):
    """The photo (``[3, H, W]``: uint8, floats in [0, 1] or normalised), then one label map per entry of ``preds``
    (title -> int ``[H, W]``) in the class colours (``classes``, ``colormap``: default VOC's), each with a legend of
    the classes it holds and their share of its pixels, largest first; then, if given, ``confidence`` (float
    ``[H, W]`` in [0, 1], e.g. the top softmax probability) with a colour bar. Every map must have the photo's size
    (else ValueError). Returns the Figure."""
    picture = image_array(image, None)
    h, w = picture.shape[:2]
    maps = {str(title): _labels(m) for title, m in preds.items()}
    extra = [] if confidence is None else [np.asarray(getattr(confidence, "cpu", lambda: confidence)(), float)]
    wrong = [t for t, m in [*maps.items(), *(("confidence", c) for c in extra)] if m.shape[-2:] != (h, w)]
    if wrong:
        raise ValueError(f"{wrong} are not the photo's size {h}x{w}: draw every map at the photo's own size")
    names, cmap = _palette(classes, colormap)
    n = 1 + len(maps) + len(extra)
    fig, axes = plt.subplots(1, n, figsize=(n * height * w / h + 0.6 * len(extra), height + 0.9), layout="constrained")
    axes = np.atleast_1d(axes)
    axes[0].imshow(picture)
    axes[0].set_title(f"photo, {h}x{w}")
    for ax, (title, labels) in zip(axes[1:], maps.items()):
        ax.imshow(label2image(labels, cmap))
        ax.set_title(title)
        _share_legend(ax, labels, names, cmap)
    for ax, conf in zip(axes[1 + len(maps) :], extra):
        shown = ax.imshow(conf, cmap="viridis", vmin=0, vmax=1)
        ax.set_title("top class probability")
        fig.colorbar(shown, ax=ax, shrink=0.8)
    for ax in axes:
        ax.set(xticks=[], yticks=[])
    return fig
