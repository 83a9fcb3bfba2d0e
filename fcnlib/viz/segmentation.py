"""Images, label maps in class colours (integer ``[H, W]``, 255 void; VOC's names and colours by default), overlays
and bars per class; images uint8 ``[3, H, W]``, floats in [0, 1] or normalised. Each function returns its Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch, Rectangle

from ..data import VOC_CLASSES, VOC_COLORMAP, VOID_COLOR
from ..inference import label2image
from ..metrics import boundary_band
from ._common import image_array

__all__ = ["show_coarse_prediction", "show_boundary_band", "show_model_comparison", "show_segmentation"]
__all__ += ["show_overlay", "show_samples", "plot_class_frequencies", "plot_iou", "plot_confusion_matrix"]
__all__ += ["plot_difference_maps", "show_void_zoom"]
LEGEND_MIN_PIXELS = 10  # show_errors and the skip explorer leave classes on fewer pixels out: they cannot be seen
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


def _handles(label_maps: Sequence[np.ndarray], names: list[str], colormap: np.ndarray, min_pixels=1) -> list[Patch]:
    """Legend patches of the classes on ``min_pixels`` pixels of the maps together (no unknown index), then void."""
    values, counts = np.unique(np.concatenate([np.asarray(m).ravel() for m in label_maps]), return_counts=True)
    found = set(values[counts >= min_pixels].tolist())
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
    at most ``width`` pixels from an edge) and void in colour, the rest faded, each titled with the band's share of
    the labelled pixels; a legend of the colours and the fading."""
    lab = torch.from_numpy(_labels(label))
    colors = label2image(lab.numpy(), colormap, ignore_index=ignore_index)
    pictures, titles, void = [colors], ["label"], (lab == ignore_index).numpy()
    for width in widths:
        band = boundary_band(lab, width, ignore_index).numpy()
        pictures.append(np.where((band | void)[..., None], colors, (colors * 0.25 + 190).astype(np.uint8)))
        titles.append(f"within {width} px of an edge:\n{band.sum() / max((~void).sum(), 1):.0%} of the labelled pixels")
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
    rows, as in d2l's code, and a legend of the classes. ValueError when the counts differ or N is 0."""
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


def plot_difference_maps(maps: Mapping[str, Any], columns: Mapping[str, Sequence[int]] | None = None, label=""):
    """One heat map per ``[H, W]`` entry of ``maps`` (titled by its key) on one scale from 0, with a colour bar
    (``label``); ``columns``: per key, columns marked by dashed white lines (named in the title).
    ValueError: no maps, or a map that is not 2-D."""
    arrays = {name: np.asarray(torch.as_tensor(m).detach().cpu(), dtype=np.float64) for name, m in maps.items()}
    if not arrays or any(a.ndim != 2 for a in arrays.values()):
        raise ValueError("maps must hold at least one [H, W] map, e.g. {'pad': diff} with diff of shape [H, W]")
    h, w = next(iter(arrays.values())).shape
    fig, axes = plt.subplots(1, len(arrays), figsize=(len(arrays) * (2.2 * w / h + 0.5) + 1, 3.1), layout="constrained")
    axes, vmax = np.atleast_1d(axes), max(float(a.max()) for a in arrays.values()) or 1.0
    for ax, (name, a) in zip(axes, arrays.items(), strict=True):
        image = ax.imshow(a, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        marked = list((columns or {}).get(name, ()))
        for col in marked:
            ax.axvline(col - 0.5, color="white", linestyle="--", linewidth=1)
        title = f"{name}\n(dashed: columns {', '.join(map(str, marked))})" if marked else name
        ax.set(title=title, xlabel="column", xticks=[0, w // 3, 2 * w // 3, w - 1], yticks=[0, h // 2, h - 1])
    axes[0].set_ylabel("row")
    fig.colorbar(image, ax=list(axes), label=label, shrink=0.9)
    return fig


def show_samples(dataset, n=4, indices: Sequence[int] | None = None, classes=None, colormap=None, scale=2.0):
    """The first ``n`` (or ``indices``) ``(image, label)`` pairs of a dataset, images above labels, each titled by
    its place in the dataset counted from 1 (``#1`` is ``dataset[0]``); names and colours default to the dataset's
    ``classes`` and ``colormap``, else VOC's."""
    indices = list(range(min(n, len(dataset)))) if indices is None else list(indices)
    if not indices:
        raise ValueError("the dataset is empty: nothing to show")
    classes = classes if classes is not None else getattr(dataset, "classes", None)
    colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
    images, labels = zip(*[dataset[i] for i in indices])
    tops = [f"#{i + 1}" for i in indices]
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


__all__ += ["show_tasks", "show_label_and_scores", "show_mask_overlap"]
_OBJECT_COLORS = plt.get_cmap("tab10").colors  # object k (1, 2, ...) in colour k - 1


def _below(ax, handles, ncol=2):
    """A legend under the axes ``ax`` (its figure laid out with ``layout="constrained"``)."""
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=ncol, frameon=False)


def show_tasks(image, instances, boxes, class_index: int, class_name: str = "person", colormap=None):
    """One image, four answers: a classifier's class name, a detector's ``boxes`` (``[N, 4]`` inclusive pixel
    ``(x1, y1, x2, y2)``), semantic segmentation (every object in class ``class_index``'s colour) and instance
    segmentation (a colour per object); ``instances``: int ``[H, W]``, 0 background, 1..N the objects. Boxes are
    drawn 1.5 pixels inside their edges (touching boxes stay apart); a legend under each panel names its colours. ValueError when sizes or the number of boxes differ."""
    img, inst = image_array(image, None), _labels(instances)
    n, cmap = int(inst.max()), _palette(None, colormap)[1]
    if img.shape[:2] != inst.shape or len(boxes) != n or n > len(_OBJECT_COLORS):
        raise ValueError(f"need an image and instances of one size and one box per object (1..10): {len(boxes)}, {n}")
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.3), layout="constrained")
    titles = [f"classifier: '{class_name}'", f"detector: {n} boxes", "semantic: a class per pixel"]
    for ax, title in zip(axes, [*titles, "instance: an object per pixel"]):
        ax.imshow(img)
        ax.set_title(title)
        ax.axis("off")
    objects = [Patch(facecolor=_OBJECT_COLORS[k], label=f"{class_name} {k + 1}") for k in range(n)]
    for (x1, y1, x2, y2), color in zip(np.asarray(boxes).tolist(), _OBJECT_COLORS):
        inset = 1.5  # pixels inside the box's edge, so that boxes that touch stay apart
        corner, w, h = (x1 - 0.5 + inset, y1 - 0.5 + inset), x2 - x1 + 1 - 2 * inset, y2 - y1 + 1 - 2 * inset
        axes[1].add_patch(Rectangle(corner, w, h, fill=False, ec=color, lw=2))
    semantic, painted = np.zeros((*inst.shape, 4)), np.zeros((*inst.shape, 4))
    semantic[inst > 0] = (*(cmap[class_index] / 255), 0.6)
    for k in range(n):
        painted[inst == k + 1] = (*_OBJECT_COLORS[k], 0.6)
    axes[2].imshow(semantic)
    axes[3].imshow(painted)
    _below(axes[1], [Patch(fill=False, ec=p.get_facecolor(), lw=2, label=f"box of {p.get_label()}") for p in objects])
    unpainted = Patch(facecolor="white", edgecolor="0.5", label="background (unpainted)")
    _below(axes[2], [Patch(facecolor=cmap[class_index] / 255, label=class_name), unpainted])
    _below(axes[3], [*objects, unpainted], ncol=3)
    return fig


def show_label_and_scores(
    label, score_map, score_title: str = "score map", classes=None, colormap=None, label_title: str = "label map"
):
    """A label map ``[H, W]`` in class colours (255 in VOC's void colour) with a legend of every colour in it,
    beside one class's score map ``[H, W]`` (floats) with a colour bar; the two panels titled ``label_title`` and
    ``score_title``. ValueError when the sizes differ."""
    labels, scores = _labels(label), np.asarray(torch.as_tensor(score_map).detach().cpu(), dtype=np.float64)
    if scores.shape != labels.shape:
        raise ValueError(f"the label map is {labels.shape} but the score map {scores.shape}: they must match")
    names, cmap = _palette(classes, colormap)
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.9), layout="constrained")
    axes[0].imshow(label2image(labels, cmap))
    shown = axes[1].imshow(scores, cmap="viridis")
    fig.colorbar(shown, ax=axes[1], shrink=0.9, label="score")
    handles = _handles([labels], names, cmap)  # void (255) included where it is drawn
    axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for ax, title in zip(axes, [label_title, score_title]):
        ax.set_title(title)
        ax.axis("off")
    return fig


def show_mask_overlap(a, b, names=("A", "B")):
    """Two bool masks ``[H, W]`` and how they overlap: ``a``, ``b``, their intersection (green) and their union
    (green: both, orange: only ``a``, blue: only ``b``), titled with pixel counts and IoU = intersection / union.
    ValueError when the sizes differ or both masks are empty."""
    a, b = (np.asarray(torch.as_tensor(m).detach().cpu(), dtype=bool) for m in (a, b))
    if a.shape != b.shape or a.ndim != 2 or not (a | b).any():
        raise ValueError(f"need two masks [H, W] of one size, not both empty: got {a.shape} and {b.shape}")
    both, union = int((a & b).sum()), int((a | b).sum())
    colors = {"both": (0.2, 0.7, 0.3), "a": (1.0, 0.55, 0.1), "b": (0.25, 0.45, 0.95), "in": (0.3, 0.3, 0.3)}
    pictures = [np.ones((*a.shape, 3)) for _ in range(4)]
    pictures[0][a], pictures[1][b], pictures[2][a & b] = colors["in"], colors["in"], colors["both"]
    pictures[3][a & ~b], pictures[3][b & ~a], pictures[3][a & b] = colors["a"], colors["b"], colors["both"]
    titles = [f"A: {names[0]}", f"B: {names[1]}", f"intersection A and B: {both:,} px", f"union A or B: {union:,} px"]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.0), layout="constrained")
    for ax, picture, title in zip(axes, pictures, titles):
        ax.imshow(picture)
        ax.set_title(title)
        ax.set(xticks=[], yticks=[])
    colors["out"] = (1.0, 1.0, 1.0)
    labels = {"in": "in the mask", "both": "in both", "a": "only in A", "b": "only in B", "out": "outside"}
    handles = [Patch(facecolor=colors[k], edgecolor="0.5", label=text) for k, text in labels.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=5, frameon=False)
    fig.suptitle(f"IoU = intersection / union = {both:,} / {union:,} = {both / union:.2f}")
    return fig


def _cell_text(share: float) -> str:
    """A share in [0, 1] as whole percent, "<1" for a share that would round to 0 but is not 0."""
    return "<1" if 0 < share < 0.005 else f"{100 * share:.0f}"


def plot_confusion_matrix(n, classes=None, title="confusion matrix (test set)"):
    """A confusion matrix ``n[i, j]`` (pixels of true class ``i`` predicted as ``j``; ``[C, C]`` counts) as a heat
    map of each row's shares in percent (each true class's pixels add up to 100), written in every non-zero cell,
    with the class names (default VOC's, else indices) on both axes and a colour bar. A class without pixels gets
    "(none)" after its name and an empty row. ValueError: not square, or negative counts."""
    counts = np.asarray(torch.as_tensor(n).detach().cpu(), dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise ValueError(f"a confusion matrix must be square [C, C] with C >= 1, got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError("a confusion matrix holds pixel counts, but some are negative")
    k, totals = len(counts), counts.sum(1, keepdims=True)
    shares = np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)
    names = _palette(classes, None, k)[0][:k]
    fig, ax = plt.subplots(figsize=(0.5 * k + 2.6, 0.45 * k + 1.7), layout="constrained")
    image = ax.imshow(100 * shares, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, label="share of the true class's pixels (%)")
    for i, j in zip(*np.nonzero(counts)):
        white = shares[i, j] > 0.6  # dark cells get white text
        ax.text(j, i, _cell_text(shares[i, j]), ha="center", va="center", fontsize=9, color="w" if white else "k")
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(k), [f"{c} (none)" if t == 0 else c for c, t in zip(names, totals[:, 0])], fontsize=9)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return fig


def show_void_zoom(image, labels: Mapping[str, Any], box=(32, 48), classes=None, colormap=None, scale=2.2):
    """The image and each label map of ``labels`` (title -> ``[H, W]``, 255 void) on top, and below each a zoom into
    the ``box`` (height, width) around the void pixel of the first map nearest the image's centre (a red frame
    marks it on top), and a legend. ValueError when the first map has no void pixel or the sizes differ."""
    img, maps = image_array(image, None), {title: _labels(m) for title, m in labels.items()}
    first = next(iter(maps.values()))
    if any(m.shape != img.shape[:2] for m in maps.values()):
        raise ValueError(f"every label map must be {img.shape[0]}x{img.shape[1]} like the image")
    rows, cols = np.nonzero(first == 255)
    if not len(rows):
        raise ValueError("the first label map has no void pixel (255) to zoom into")
    (h, w), (bh, bw) = first.shape, box
    k = np.argmin((rows - h / 2) ** 2 + (cols - w / 2) ** 2)
    top, left = min(max(rows[k] - bh // 2, 0), max(h - bh, 0)), min(max(cols[k] - bw // 2, 0), max(w - bw, 0))
    names, cmap = _palette(classes, colormap)
    pictures = [img] + [label2image(m, cmap) for m in maps.values()]
    zooms = [p[top : top + bh, left : left + bw] for p in pictures]
    titles = ["image", *maps]
    fig, axes = _grid([pictures, zooms], scale, w / h, ylabels=("whole", "zoom (red frame)"), titles=titles, fontsize=9)
    for ax in axes[0]:
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), bw, bh, fill=False, ec="red", lw=1.2))
    for ax in axes[1]:
        ax.images[0].set_interpolation("nearest")
    return _legend_below(fig, _handles(list(maps.values()), names, cmap))
