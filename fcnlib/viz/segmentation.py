"""Images, label maps in class colours (integer ``[H, W]``, 255 void; VOC's names and colours by default), overlays
and bars per class; images uint8 ``[3, H, W]``, floats in [0, 1] or normalised. Each function returns its Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from ..data import VOC_CLASSES, VOC_COLORMAP, VOID_COLOR
from ..inference import label2image
from ..metrics import boundary_band
from ._common import image_array

__all__ = ["show_coarse_prediction", "show_boundary_band", "show_model_comparison", "show_segmentation"]
__all__ += ["show_overlay", "show_samples", "plot_class_frequencies", "plot_iou"]
_TITLES = ("image", "prediction", "ground truth")


def _labels(label: Any) -> np.ndarray:
    """``[H, W]`` int64 class indices (a leading 1 is dropped); TypeError for scores, ValueError for shapes."""
    array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a label map [H, W] of class indices, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"a label map holds integer class indices, got {array.dtype} (scores: take .argmax(0) first)")
    return array.astype(np.int64)


def _palette(classes: Sequence[str] | None, colormap: Any, n: int | None = None) -> tuple[list[str], np.ndarray]:
    """The colour table ``[K, 3]`` int64 (default VOC's) and ``n`` (default K) names: the given ones (default VOC's
    when they suffice), then the indices as text."""
    colormap = VOC_COLORMAP if colormap is None else colormap
    cmap = np.asarray(colormap.cpu() if isinstance(colormap, torch.Tensor) else colormap, dtype=np.int64)
    n = len(cmap) if n is None else n
    classes = (VOC_CLASSES if n <= len(VOC_CLASSES) else []) if classes is None else classes
    return list(classes) + [str(i) for i in range(len(classes), n)], cmap


def _as_list(items: Any, item_dims: int) -> list[Any]:
    """Single items (images: ``item_dims=3``, label maps: 2) from a batch, one item or a list."""
    if isinstance(items, (torch.Tensor, np.ndarray)):
        if items.ndim in (item_dims, item_dims + 1):
            return [items] if items.ndim == item_dims else list(items)
        raise ValueError(f"expected one item with {item_dims} dimensions or a batch of them, got {tuple(items.shape)}")
    return list(items) if isinstance(items, (list, tuple)) else [items]


def _handles(label_maps: Sequence[np.ndarray], names: list[str], colormap: np.ndarray) -> list[Patch]:
    """A legend patch per class that occurs in the label maps, then void (255) if it occurs (unknown indices left
    out)."""
    found = set().union(*[np.unique(m).tolist() for m in label_maps])
    present = sorted(found & set(range(len(colormap))))
    handles = [Patch(facecolor=colormap[c] / 255, edgecolor="0.5", label=names[c]) for c in present]
    void = [Patch(facecolor=np.array(VOID_COLOR) / 255, edgecolor="0.5", label="void")] if 255 in found else []
    return handles + void


def _grid(pictures: list[list[Any]], scale: float, aspect: float, ylabels=(), titles=(), fontsize: Any = "small"):
    """Rows of pictures without ticks, panels ``aspect`` (width / height) wide; titles over the top row."""
    rows, cols = len(pictures), len(pictures[0])
    fig, axes = plt.subplots(rows, cols, figsize=(scale * cols * aspect, scale * rows), squeeze=False, layout="tight")
    for r, row in enumerate(pictures):
        for c, picture in enumerate(row):
            axes[r][c].imshow(picture)
    for ax, label in zip(axes[:, 0], ylabels):
        ax.set_ylabel(label)
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=fontsize)
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
    return fig, axes


def _rows_figure(images, rows: Mapping[str, Any], ylabels, classes, colormap, scale, aspect=None, tops=()):
    """Images on top, a row of label maps per entry of ``rows``, a legend; ValueError when a count differs."""
    images = [image_array(image, None) for image in _as_list(images, 3)]
    maps = {name: [_labels(m) for m in _as_list(row, 2)] for name, row in rows.items()}
    if not images or any(len(r) != len(images) for r in maps.values()):
        counts = f"{len(images)}, {[len(r) for r in maps.values()]}"
        raise ValueError(f"need as many label maps as images in every row (one label map per image): {counts}")
    names, cmap = _palette(classes, colormap)
    pictures = [images] + [[label2image(m, cmap) for m in row] for row in maps.values()]
    fig, _ = _grid(pictures, scale, aspect or images[0].shape[1] / images[0].shape[0], ylabels, tops)
    return _legend_below(fig, _handles([m for row in maps.values() for m in row], names, cmap))


def _legend_below(fig, handles: list) -> Any:
    """``fig`` (laid out tightly) grown at the bottom to hold a legend of ``handles`` under its axes."""
    width, height = fig.get_size_inches()
    ncol = max(1, min(len(handles), int(width / 1.3)))
    extra = 0.25 * -(-len(handles) // ncol) + 0.1 if handles else 0.0
    if handles:
        fig.set_size_inches(width, height + extra)
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))  # once, with room for the legend
    return fig


def show_coarse_prediction(image, coarse, pred, stride=32, colormap=None, target=None, scale=2.2, classes=None):
    """The image, the argmax of the 1/``stride`` scores ``coarse`` (``[H / stride, W / stride]``, else ValueError)
    as blocks in a white grid of ``stride``-pixel cells, ``pred`` (and ``target``) ``[H, W]``, and a legend."""
    img = image_array(image, None)
    h, w = img.shape[:2]
    coarse = torch.from_numpy(_labels(coarse))
    if coarse.shape[0] * stride != h or coarse.shape[1] * stride != w:
        want = f"[H/{stride}, W/{stride}] = [{h // stride}, {w // stride}] for a {h}x{w} image"
        raise ValueError(f"coarse must be {want}, got {tuple(coarse.shape)}")
    blocks = coarse.repeat_interleave(stride, 0).repeat_interleave(stride, 1).numpy()
    maps = [blocks, _labels(pred)] + ([] if target is None else [_labels(target)])
    names, cmap = _palette(classes, colormap)
    titles = ["image", f"argmax of the 1/{stride} scores", f"after {stride}x upsampling", "ground truth"]
    pictures = [[img] + [label2image(m, cmap) for m in maps]]
    fig, axes = _grid(pictures, scale, w / h, titles=titles, fontsize=9)
    for ax in axes[0]:
        ax.hlines(np.arange(stride, h, stride) - 0.5, -0.5, w - 0.5, color="white", lw=0.6, alpha=0.8)
        ax.vlines(np.arange(stride, w, stride) - 0.5, -0.5, h - 0.5, color="white", lw=0.6, alpha=0.8)
    return _legend_below(fig, _handles(maps, names, cmap))


def show_boundary_band(
    label, widths: Sequence[int] = (1, 3, 5), colormap=None, ignore_index=255, scale=2.4, classes=None
):
    """A label map, then for each width its boundary band (:func:`fcnlib.metrics.boundary_band`: the labelled pixels
    at most ``width`` pixels from an edge) in colour, the rest faded; a legend of the colours and the fading."""
    lab = torch.from_numpy(_labels(label))
    colors = label2image(lab.numpy(), colormap, ignore_index=ignore_index)
    pictures, titles = [colors], ["label"]
    for width in widths:
        band = boundary_band(lab, width, ignore_index).numpy()
        pictures.append(np.where(band[..., None], colors, (colors * 0.25 + 190).astype(np.uint8)))
        titles.append(f"within {width} px of an edge: {band.mean():.0%}")
    fig, _ = _grid([pictures], scale, lab.shape[1] / lab.shape[0], titles=titles, fontsize=9)
    names, cmap = _palette(classes, colormap)
    handles = _handles([lab.numpy()], names, cmap)
    handles.append(Patch(facecolor=(190 / 255,) * 3, edgecolor="0.5", label="outside the band (colours faded)"))
    return _legend_below(fig, handles)


def show_model_comparison(images, predictions: Mapping[str, Any], targets=None, colormap=None, classes=None, scale=1.8):
    """Images (``[N, 3, H, W]`` or a list) on top, a row per model (``predictions``: title -> ``[N, H, W]``), and
    with ``targets`` the ground truth. ValueError when a row has not one map per image."""
    rows = dict(predictions) | ({} if targets is None else {"ground truth": targets})
    return _rows_figure(images, rows, ["image", *rows], classes, colormap, scale)


def show_segmentation(images, preds, targets=None, classes=None, colormap=None, titles=_TITLES, scale=2.0):
    """Images (``[N, 3, H, W]``, one or a list), predictions and (with ``targets``) ground truth ``[N, H, W]`` in
    rows, as in the seed, and a legend of the classes. ValueError when the counts differ or N is 0."""
    rows = {"prediction": preds} | ({} if targets is None else {"ground truth": targets})
    return _rows_figure(images, rows, titles, classes, colormap, scale, aspect=1.4)


def show_overlay(image, pred, alpha=0.5, classes=None, colormap=None, ax=None):
    """The image with its label map painted over it (opacity ``alpha`` in [0, 1]; neither background nor void) and
    a legend. ValueError for an alpha outside [0, 1] or sizes that differ."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    picture, labels = image_array(image, None), _labels(pred)
    if picture.shape[:2] != labels.shape:
        (h, w), (lh, lw) = picture.shape[:2], labels.shape
        raise ValueError(f"the image is {h}x{w} but the label map {lh}x{lw}")
    names, cmap = _palette(classes, colormap)
    painted = (labels != 255) & (labels != 0)
    rgba = np.concatenate([label2image(labels, cmap) / 255, (alpha * painted)[..., None]], axis=-1)
    if ax is None:
        ax = plt.subplots(figsize=(6.5, 5 * labels.shape[0] / max(labels.shape[1], 1)), layout="tight")[1]
    ax.imshow(picture)
    ax.imshow(rgba)
    ax.set(xticks=[], yticks=[])
    handles = _handles([labels[painted]], names, cmap)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return ax.figure


def show_samples(dataset, n=4, indices: Sequence[int] | None = None, classes=None, colormap=None, scale=2.0):
    """The first ``n`` (or ``indices``) ``(image, label)`` pairs of a dataset, images above labels; names and
    colours default to the dataset's ``classes`` and ``colormap``, else VOC's."""
    indices = list(range(min(n, len(dataset)))) if indices is None else list(indices)
    if not indices:
        raise ValueError("the dataset is empty: nothing to show")
    classes = classes if classes is not None else getattr(dataset, "classes", None)
    colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
    images, labels = zip(*[dataset[i] for i in indices])
    tops = [f"#{i}" for i in indices]
    return _rows_figure(images, {"label": labels}, ["image", "label"], classes, colormap, scale, 1.4, tops=tops)


def _class_bars(values: np.ndarray, classes, colormap, ylabel: str, title: str):
    """One bar per class in its colour (grey past the colour table), named below."""
    names, cmap = _palette(classes, colormap, len(values))
    colors = [cmap[i] / 255 if i < len(cmap) else (0.5, 0.5, 0.5) for i in range(len(values))]
    ax = plt.subplots(figsize=(max(6, 0.35 * len(values)), 3.2), layout="tight")[1]
    ax.bar(range(len(values)), np.nan_to_num(values), color=colors, edgecolor="0.3")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(names[: len(values)], rotation=60, ha="right", fontsize=9)
    ax.set(ylabel=ylabel, title=title)
    return ax


def plot_class_frequencies(dataset_or_counts, classes=None, colormap=None):
    """Each class's share of the labelled pixels (void excluded) as bars, from counts per class or a dataset
    (whole labels via ``read_raw`` if it has one; names and colours from its attributes)."""
    if isinstance(dataset_or_counts, (list, tuple, np.ndarray, torch.Tensor)):
        counts = np.asarray(torch.as_tensor(dataset_or_counts).cpu(), dtype=np.float64).ravel()
    else:
        dataset = dataset_or_counts
        classes = classes if classes is not None else getattr(dataset, "classes", None)
        colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
        k = getattr(dataset, "num_classes", None) or len(_palette(None, colormap)[1] if classes is None else classes)
        read = getattr(dataset, "read_raw", dataset.__getitem__)
        labels = (_labels(read(i)[1]) for i in range(len(dataset)))  # one at a time: whole labels are large
        counts = sum((np.bincount(x[(x >= 0) & (x < k)], minlength=k) for x in labels), np.zeros(k))
    if counts.size == 0 or counts.sum() <= 0:
        raise ValueError("no labelled pixels to count")
    return _class_bars(counts / counts.sum(), classes, colormap, "share of labelled pixels", "class frequencies").figure


def plot_iou(iou, classes=None, colormap=None):
    """A bar per class of its IoU (NaN: "n/a"), the mean IoU dashed; ``iou``: per-class values or a metrics dict."""
    if isinstance(iou, dict):
        if "iou" not in iou:
            raise ValueError("a metrics dict needs an 'iou' entry (from fcnlib.evaluate or ConfusionMatrix.compute)")
        iou = iou["iou"]
    values = np.asarray(torch.as_tensor(iou).cpu(), dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("iou is empty")
    ax = _class_bars(values, classes, colormap, "IoU", "IoU per class")
    for i in np.flatnonzero(np.isnan(values)):
        ax.text(i, 0.02, "n/a", ha="center", va="bottom", rotation=90, fontsize=9)
    if not np.all(np.isnan(values)):
        mean = np.nanmean(values)
        ax.axhline(mean, color="k", linestyle="--", linewidth=1, label=f"mIoU {mean:.3f}")
        ax.legend(loc="upper right", fontsize=9)
    ax.set_ylim(0, 1)
    return ax.figure
