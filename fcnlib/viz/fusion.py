"""Skip fusion (FCN-16s, FCN-8s): the score maps that are summed at each fusion point, one class against another,
drawn over the image's extent so that grids of any resolution line up. Each function returns its Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.lines import Line2D

from .segmentation import _labels

__all__ = ["show_fusion_maps"]
FUSION_COLUMNS = ("coarse scores", "2x upsampled", "skip scores", "sum")


def _difference(scores: Any, class_index: int, background: int) -> np.ndarray:
    """``scores[class_index] - scores[background]`` of a ``[C, h, w]`` map (a leading 1 is dropped), float64."""
    s = torch.as_tensor(scores).detach().cpu().double()
    s = s[0] if s.dim() == 4 and s.shape[0] == 1 else s
    if s.dim() != 3 or not (0 <= class_index < s.shape[0] and 0 <= background < s.shape[0]):
        raise ValueError(
            f"expected score maps [C, h, w] with classes {class_index} and {background}, got {tuple(s.shape)}"
        )
    return (s[class_index] - s[background]).numpy()


def show_fusion_maps(
    fusions: Mapping[str, Sequence[Any]], label, class_index: int, classes: Sequence[str], background: int = 0
):
    """A row per fusion point, ``{row title: (coarse, upsampled, skip, fused)}`` (score maps ``[C, h, w]``; the last
    three on one grid), each map drawn as class ``class_index``'s score minus class ``background``'s (red: the class
    wins over background) over the whole ``label``'s ``[H, W]`` extent, on one colour scale per row centred at 0 with
    its colour bar, and the outline of the pixels ``label`` gives that class. ValueError for shapes that do not fit."""
    truth = _labels(label)
    h, w = truth.shape
    rows = {title: [_difference(m, class_index, background) for m in maps] for title, maps in fusions.items()}
    if not rows or any(len(maps) != len(FUSION_COLUMNS) for maps in rows.values()):
        raise ValueError(f"each fusion needs four maps {FUSION_COLUMNS}, got {[len(m) for m in rows.values()]}")
    fig, axes = plt.subplots(len(rows), 4, figsize=(11.5, 2.15 * len(rows) + 0.5), squeeze=False, layout="constrained")
    name = f"{classes[class_index]} - {classes[background]}"
    for ax_row, (title, maps) in zip(axes, rows.items()):
        limit = max(float(np.abs(m).max()) for m in maps) or 1.0
        for ax, column, m in zip(ax_row, FUSION_COLUMNS, maps):
            shown = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
            if (truth == class_index).any():
                ax.contour(truth == class_index, levels=[0.5], colors="black", linewidths=1)
            ax.set_title(f"{column} ({m.shape[0]}x{m.shape[1]})")
            ax.set(xticks=[], yticks=[])
        ax_row[0].set_ylabel(title)
        fig.colorbar(shown, ax=list(ax_row), shrink=0.9, label=name)
    outline = Line2D([], [], color="black", lw=1, label=f"true outline of {classes[class_index]}")
    fig.legend(handles=[outline], loc="outside lower center", frameon=False)
    return fig
