"""Score maps (with colour bars) and the label maps their argmax or threshold gives (with a legend entry per colour):
a detector's map, upsampled class scores, binary predictions against a true mask. Each function returns its Figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap, TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..data import VOC_COLORMAP
from ..inference import label2image
from ._common import image_array

__all__ = ["show_detector", "show_upsampled_scores", "show_binary_predictions"]
_FILL = ListedColormap(["#eef3f8", "#3a78b5"])  # background, object


def _array(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _no_ticks(axes) -> None:
    for ax in np.ravel(axes):
        ax.set(xticks=[], yticks=[])


def show_detector(image, score, label, names=("background", "cross")):
    """A grey ``image [H, W]``, its score map ``[h, w]`` (positive: class 1 wins; colour bar centred at 0 and
    spanning the scores' range) and the label map ``[h, w]`` of 0/1 with a legend for ``names``."""
    score = _array(score)
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
    axes[0].imshow(_array(image), cmap="gray")
    axes[0].set_title(f"input {image.shape[-2]}x{image.shape[-1]}")
    norm = TwoSlopeNorm(vcenter=0.0, vmin=min(float(score.min()), -1e-6), vmax=max(float(score.max()), 1e-6))
    im = axes[1].imshow(score, cmap="coolwarm", norm=norm)
    axes[1].set_title(f"score map {score.shape[0]}x{score.shape[1]}")
    fig.colorbar(im, ax=axes[1], label=f"{names[1]} - {names[0]}")
    axes[2].imshow(_array(label), cmap=ListedColormap(["black", "white"]), vmin=0, vmax=1, interpolation="nearest")
    axes[2].set_title("argmax: a label map")
    handles = [Patch(facecolor=c, edgecolor="0.5", label=n) for c, n in zip(("black", "white"), names)]
    axes[2].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    _no_ticks(axes)
    return fig


def show_upsampled_scores(image, maps: Mapping[str, Any], channel: int):
    """Top: float ``image [3, H, W]`` in [0, 1] and channel ``channel`` of each score map ``[C, H, W]`` of ``maps``
    (each with its own colour bar, 2nd to 98th percentile); bottom: each map's argmax in VOC colours, a legend entry
    per channel shown (its index: an untrained head's channels stand for no class yet)."""
    maps = {k: _array(v) for k, v in maps.items()}
    fig, axes = plt.subplots(2, len(maps) + 1, figsize=(3.3 * (len(maps) + 1), 4.6), layout="constrained")
    axes[0, 0].imshow(image_array(image))
    axes[0, 0].set_title(f"input {image.shape[-2]}x{image.shape[-1]}")
    shown = set()
    for col, (title, y) in enumerate(maps.items(), start=1):
        lo, hi = np.percentile(y[channel], [2, 98])
        im = axes[0, col].imshow(y[channel], cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        fig.colorbar(im, ax=axes[0, col], shrink=0.8)
        axes[0, col].set_title(f"{title}: channel {channel}")
        label = y.argmax(0)
        shown |= set(np.unique(label).tolist())
        axes[1, col].imshow(label2image(label), interpolation="nearest")
        axes[1, col].set_title(f"{title}: argmax")
    colours = np.asarray(VOC_COLORMAP) / 255
    handles = [Patch(facecolor=colours[c], edgecolor="0.5", label=f"channel {c}") for c in sorted(shown)]
    axes[1, 0].axis("off")
    axes[1, 0].legend(handles=handles, loc="center", ncol=3, frameon=False, handlelength=1, columnspacing=0.6)
    _no_ticks(axes[:, 1:])
    _no_ticks(axes[0, :1])
    return fig


def show_binary_predictions(truth, predictions: Mapping[str, Any]):
    """Each 0/1 prediction ``[H, W]`` of ``predictions`` (title: its key), filled blue, with the outline of the true
    0/1 mask ``truth [H, W]`` in red; one legend for the figure."""
    truth = _array(truth).astype(float)
    fig, axes = plt.subplots(1, len(predictions), figsize=(3.4 * len(predictions), 2.9), layout="constrained")
    for ax, (title, pred) in zip(np.ravel(axes), predictions.items()):
        ax.imshow(_array(pred).astype(float), cmap=_FILL, vmin=0, vmax=1, interpolation="nearest")
        ax.contour(truth, levels=[0.5], colors="red", linewidths=1)
        ax.set_title(title)
    fills = ((1, "predicted object"), (0, "predicted background"))
    handles = [Patch(facecolor=_FILL(v), edgecolor="0.5", label=n) for v, n in fills]
    handles.append(Line2D([], [], color="red", label="true outline"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    _no_ticks(axes)
    return fig
