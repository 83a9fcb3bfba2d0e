"""Pictures of segmentations: images, label maps in class colours, overlays and bar charts per class.

Images: uint8 ``[3, H, W]``, floats in [0, 1], or the normalised floats a data loader yields
(denormalised for display). Label maps: integer ``[H, W]``; 255 (void) in VOC's void colour.
Class names and colours default to VOC's. Every function returns its matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from ..inference import label2image
from ..metrics import boundary_band
from ._common import image_array, no_ticks

__all__ = [
    "show_coarse_prediction",
    "show_boundary_band",
    "show_model_comparison",
    "show_segmentation",
    "show_overlay",
    "show_samples",
    "plot_class_frequencies",
    "plot_iou",
]


def _image(image: Any) -> np.ndarray:
    return image_array(image, normalized=None)


def _labels(label: Any) -> np.ndarray:
    """``[H, W]`` int64 class indices (a leading 1 is dropped); TypeError for scores, ValueError for shapes."""
    array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a label map [H, W] of class indices, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"a label map must hold integer class indices, got dtype {array.dtype} (for scores take .argmax(0) first)"
        )
    return array.astype(np.int64)


def _colormap(colormap: Any | None) -> np.ndarray:
    if colormap is None:
        from ..data import VOC_COLORMAP

        colormap = VOC_COLORMAP
    return np.asarray(colormap.cpu() if isinstance(colormap, torch.Tensor) else colormap, dtype=np.int64)


def _classes(classes: Sequence[str] | None, n: int) -> list[str]:
    """``n`` names: the given ones (default VOC's when they suffice), then the indices as text."""
    if classes is None:
        from ..data import VOC_CLASSES

        classes = VOC_CLASSES if n <= len(VOC_CLASSES) else []
    return list(classes) + [str(i) for i in range(len(classes), n)]


def _as_list(items: Any, item_dims: int) -> list[Any]:
    """Single items (images: ``item_dims=3``, label maps: 2) from a batch, one item or a list."""
    if isinstance(items, (torch.Tensor, np.ndarray)):
        if items.ndim in (item_dims, item_dims + 1):
            return [items] if items.ndim == item_dims else list(items)
        raise ValueError(f"expected one item with {item_dims} dimensions or a batch of them, got {tuple(items.shape)}")
    return list(items) if isinstance(items, (list, tuple)) else [items]


def _handles(label_maps: Sequence[np.ndarray], names: list[str], colormap: np.ndarray) -> list[Patch]:
    """A legend patch per class that occurs in the label maps (void and unknown indices left out)."""
    present = sorted(set().union(*[np.unique(m).tolist() for m in label_maps]) & set(range(len(colormap))))
    return [Patch(facecolor=colormap[c] / 255, edgecolor="0.5", label=names[c]) for c in present]


def _legend(fig: Any, label_maps: Sequence[np.ndarray], names: list[str], colormap: np.ndarray) -> None:
    """Name the colours that occur in a legend under the axes, growing the figure to make room."""
    handles = _handles(label_maps, names, colormap)
    if not handles:
        fig.tight_layout()
        return
    width, height = fig.get_size_inches()
    ncol = max(1, min(len(handles), int(width / 1.3)))
    extra = 0.25 * -(-len(handles) // ncol) + 0.1
    fig.set_size_inches(width, height + extra)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))


def _rows_figure(images, rows: Mapping[str, Any], ylabels, classes, colormap, scale, aspect=None, legend=True, tops=()):
    """Images on top, then a row of label maps per entry of ``rows``; a legend of the classes that occur.

    ``aspect``: width / height of a panel (default: the first image's); ``tops``: titles of the top row.
    ValueError when a count differs.
    """
    images = [_image(image) for image in _as_list(images, 3)]
    maps = {name: [_labels(m) for m in _as_list(row, 2)] for name, row in rows.items()}
    n = len(images)
    if n == 0 or any(len(r) != n for r in maps.values()):
        counts = [len(r) for r in maps.values()]
        raise ValueError(f"need as many label maps as images in every row (one label map per image): {n}, {counts}")
    cmap = _colormap(colormap)
    aspect = aspect or images[0].shape[1] / images[0].shape[0]
    pictures = [images] + [[label2image(m, cmap) for m in row] for row in maps.values()]
    fig, axes = plt.subplots(len(pictures), n, figsize=(scale * n * aspect, scale * len(pictures)), squeeze=False)
    for r, row in enumerate(pictures):
        for c, picture in enumerate(row):
            axes[r][c].imshow(picture)
        if r < len(ylabels):
            axes[r][0].set_ylabel(ylabels[r])
    for ax, title in zip(axes[0], tops, strict=False):
        ax.set_title(title, fontsize="small")
    no_ticks(axes.flat)
    if legend:
        _legend(fig, [m for row in maps.values() for m in row], _classes(classes, len(cmap)), cmap)
    else:
        fig.tight_layout()
    return fig, axes


def _image_row(panels: list[tuple[np.ndarray, str]], aspect: float, scale: float):
    """One row of titled pictures, ``aspect`` = width / height of each."""
    fig, axes = plt.subplots(1, len(panels), figsize=(scale * len(panels) * aspect, scale), squeeze=False)
    for ax, (picture, title) in zip(axes[0], panels, strict=True):
        ax.imshow(picture)
        ax.set_title(title, fontsize=9)
    no_ticks(axes[0])
    fig.tight_layout()
    return fig, axes[0]


def show_coarse_prediction(image, coarse, pred, stride=32, colormap=None, target=None, scale=2.2):
    """The image, the argmax of the 1/``stride`` scores drawn as blocks, and the upsampled prediction.

    ``coarse``: ``[H / stride, W / stride]`` (ValueError otherwise); ``pred`` and ``target``: ``[H, W]``.
    A white grid marks the ``stride x stride`` blocks.
    """
    img = _image(image)
    h, w = img.shape[:2]
    coarse = torch.from_numpy(_labels(coarse))
    if coarse.shape[0] * stride != h or coarse.shape[1] * stride != w:
        raise ValueError(
            f"coarse must be [H/{stride}, W/{stride}] = [{h // stride}, {w // stride}] for a {h}x{w} image, "
            f"got {tuple(coarse.shape)}"
        )
    blocks = coarse.repeat_interleave(stride, 0).repeat_interleave(stride, 1).numpy()
    panels = [
        (img, "image"),
        (label2image(blocks, colormap), f"argmax of the 1/{stride} scores"),
        (label2image(_labels(pred), colormap), f"after {stride}x upsampling"),
    ]
    if target is not None:
        panels.append((label2image(_labels(target), colormap), "ground truth"))
    fig, axes = _image_row(panels, w / h, scale)
    for ax in axes:
        ax.hlines(np.arange(stride, h, stride) - 0.5, -0.5, w - 0.5, color="white", lw=0.6, alpha=0.8)
        ax.vlines(np.arange(stride, w, stride) - 0.5, -0.5, h - 0.5, color="white", lw=0.6, alpha=0.8)
    return fig


def show_boundary_band(label, widths: Sequence[int] = (1, 3, 5), colormap=None, ignore_index=255, scale=2.4):
    """A label map, then its boundary band (:func:`fcnlib.metrics.boundary_band`) for each width, faded elsewhere."""
    lab = torch.from_numpy(_labels(label))
    colors = label2image(lab.numpy(), colormap, ignore_index=ignore_index)
    panels = [(colors, "label")]
    for width in widths:
        band = boundary_band(lab, width, ignore_index).numpy()
        shown = (colors * 0.25 + 190).astype(np.uint8)
        shown[band] = colors[band]
        panels.append((shown, f"band, width {width}: {band.mean():.0%} of pixels"))
    return _image_row(panels, lab.shape[1] / lab.shape[0], scale)[0]


def show_model_comparison(
    images, predictions: Mapping[str, Any], targets=None, colormap=None, classes: Sequence[str] | None = None, scale=1.8
):
    """Predictions of several models on the same images: the images on top, then one row per model.

    ``images``: ``[N, 3, H, W]`` or a list; ``predictions``: row title -> label maps ``[N, H, W]`` (or a
    list); ``targets`` adds a ground-truth row. ValueError when a row has not one map per image.
    """
    rows = dict(predictions) | ({} if targets is None else {"ground truth": targets})
    return _rows_figure(images, rows, ["image", *rows], classes, colormap, scale)[0]


def show_segmentation(
    images,
    preds,
    targets=None,
    classes: Sequence[str] | None = None,
    colormap=None,
    titles: Sequence[str] = ("image", "prediction", "ground truth"),
    scale: float = 2.0,
    legend: bool = True,
):
    """A row of images, a row of predictions and (with ``targets``) a row of ground truth, as in the seed.

    ``images``: ``[N, 3, H, W]``, one image or a list (sizes may differ); ``preds``/``targets``: ``[N, H, W]``
    or lists. ``legend`` names the classes that occur. ValueError when the counts differ or N is 0.
    """
    rows = {"prediction": preds} | ({} if targets is None else {"ground truth": targets})
    return _rows_figure(images, rows, titles, classes, colormap, scale, aspect=1.4, legend=legend)[0]


def show_overlay(image, pred, alpha=0.5, classes=None, colormap=None, ax=None, show_background=False):
    """The image with its label map painted over it, ``alpha`` in [0, 1] the paint's opacity.

    Background (0) stays unpainted unless ``show_background``; void (255) never is. A legend
    names the painted classes. ValueError for an alpha outside [0, 1] or sizes that differ.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    picture, labels = _image(image), _labels(pred)
    if picture.shape[:2] != labels.shape:
        raise ValueError(
            f"the image is {picture.shape[0]}x{picture.shape[1]} but the label map {labels.shape[0]}x{labels.shape[1]}"
        )
    cmap = _colormap(colormap)
    painted = (labels != 255) & ((labels != 0) | show_background)
    rgba = np.concatenate([label2image(labels, cmap) / 255, (alpha * painted)[..., None]], axis=-1)
    own_figure = ax is None
    if own_figure:
        _, ax = plt.subplots(figsize=(6.5, 5 * labels.shape[0] / max(labels.shape[1], 1)))
    ax.imshow(picture)
    ax.imshow(rgba)
    no_ticks([ax])
    handles = _handles([labels[painted]], _classes(classes, len(cmap)), cmap)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    if own_figure:
        ax.figure.tight_layout()
    return ax.figure


def show_samples(dataset, n=4, indices: Sequence[int] | None = None, classes=None, colormap=None, scale=2.0):
    """The first ``n`` (or the given ``indices``) ``(image, label)`` pairs of a dataset, images above labels.

    Names and colours default to the dataset's ``classes`` and ``colormap`` attributes, else VOC's.
    """
    indices = list(range(min(n, len(dataset)))) if indices is None else list(indices)
    if not indices:
        raise ValueError("the dataset is empty: nothing to show")
    classes = classes if classes is not None else getattr(dataset, "classes", None)
    colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
    images, labels = zip(*[dataset[i] for i in indices], strict=True)
    tops = [f"#{i}" for i in indices]
    return _rows_figure(
        list(images), {"label": list(labels)}, ["image", "label"], classes, colormap, scale, 1.4, tops=tops
    )[0]


def _class_bars(values: np.ndarray, classes, colormap, ax, ylabel: str, title: str):
    """One bar per class in its colour (grey past the colour table), named below."""
    cmap = _colormap(colormap)
    colors = [cmap[i] / 255 if i < len(cmap) else (0.5, 0.5, 0.5) for i in range(len(values))]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.35 * len(values)), 3.2))
    ax.bar(range(len(values)), np.nan_to_num(values), color=colors, edgecolor="0.3")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(_classes(classes, len(values))[: len(values)], rotation=60, ha="right", fontsize="small")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def plot_class_frequencies(dataset_or_counts, classes=None, colormap=None, ax=None, log=False):
    """Each class's share of the labelled pixels (void excluded), as bars; ``log`` for a log axis.

    ``dataset_or_counts``: a dataset of ``(image, label)`` pairs (whole labels read via ``read_raw``
    when it has one; names and colours from its attributes) or the counts per class.
    """
    if isinstance(dataset_or_counts, (list, tuple, np.ndarray, torch.Tensor)):
        counts = np.asarray(torch.as_tensor(dataset_or_counts).cpu(), dtype=np.float64).ravel()
    else:
        dataset = dataset_or_counts
        classes = classes if classes is not None else getattr(dataset, "classes", None)
        colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
        k = getattr(dataset, "num_classes", None) or (len(classes) if classes is not None else len(_colormap(colormap)))
        read = getattr(dataset, "read_raw", dataset.__getitem__)
        counts = np.zeros(k, dtype=np.int64)
        for i in range(len(dataset)):
            label = _labels(read(i)[1])
            counts += np.bincount(label[(label >= 0) & (label < k)], minlength=k)
    if counts.size == 0 or counts.sum() <= 0:
        raise ValueError("no labelled pixels to count")
    ax = _class_bars(counts / counts.sum(), classes, colormap, ax, "share of labelled pixels", "class frequencies")
    if log:
        ax.set_yscale("log")
    ax.figure.tight_layout()
    return ax.figure


def plot_iou(iou, classes=None, colormap=None, ax=None):
    """A bar per class of its IoU (NaN: "n/a"), with the mean IoU dashed.

    ``iou``: per-class values (tensor, list or array) or a metrics dict with an ``"iou"`` entry.
    """
    if isinstance(iou, dict):
        if "iou" not in iou:
            raise ValueError("a metrics dict needs an 'iou' entry (from fcnlib.evaluate or ConfusionMatrix.compute)")
        iou = iou["iou"]
    values = np.asarray(torch.as_tensor(iou).cpu(), dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("iou is empty")
    ax = _class_bars(values, classes, colormap, ax, "IoU", "IoU per class")
    for i in np.flatnonzero(np.isnan(values)):
        ax.text(i, 0.02, "n/a", ha="center", va="bottom", rotation=90, fontsize="x-small")
    if not np.all(np.isnan(values)):
        mean = np.nanmean(values)
        ax.axhline(mean, color="k", linestyle="--", linewidth=1, label=f"mIoU {mean:.3f}")
        ax.legend(loc="upper right", fontsize="small")
    ax.set_ylim(0, 1)
    ax.figure.tight_layout()
    return ax.figure
