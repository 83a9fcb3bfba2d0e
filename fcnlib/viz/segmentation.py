"""Pictures of segmentations: images, label maps in VOC colours, overlays, and bar charts.

A label map is a grid of class indices; we *see* it by giving every class a colour
(:func:`fcnlib.label2image`), and we *read* it with a legend that names the colours that
occur. Every function here returns its matplotlib Figure, so a notebook shows it and a
script can save it.

Images may be given as uint8 tensors ``[3, H, W]`` (as read from disk), as float tensors
in [0, 1], or as the ImageNet-normalised floats a data loader yields (they are
denormalised for display); label maps as integer tensors or arrays ``[H, W]``, with 255
(void) drawn in VOC's void colour.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np

__all__ = ["show_segmentation", "show_overlay", "show_samples", "plot_class_frequencies", "plot_iou"]


# --------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------

def _to_numpy(x: Any) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(x)


def _display_image(image: Any) -> np.ndarray:
    """An RGB image for ``imshow``: ``[H, W, 3]``, uint8 or float in [0, 1]."""
    import torch

    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"expected an RGB image tensor [3, H, W], got shape {tuple(image.shape)}")
        if image.dtype == torch.uint8:
            return image.permute(1, 2, 0).cpu().numpy()
        image = image.detach().float().cpu()
        if image.min() < 0 or image.max() > 1:  # normalised: undo it for display
            from ..data import denormalize

            image = denormalize(image)
        return image.permute(1, 2, 0).numpy()
    array = np.asarray(image)  # PIL images and numpy arrays
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3] (numpy/PIL) or [3, H, W] (tensor), got shape {array.shape}")
    return array


def _labels(label: Any) -> np.ndarray:
    array = _to_numpy(label)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a label map [H, W] of class indices, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"a label map must hold integer class indices, got dtype {array.dtype} "
                        "(for scores take .argmax(0) first)")
    return array.astype(np.int64)


def _colormap(colormap: Optional[Any]) -> np.ndarray:
    if colormap is None:
        from ..data import VOC_COLORMAP

        colormap = VOC_COLORMAP
    return np.asarray(_to_numpy(colormap), dtype=np.int64)


def _classes(classes: Optional[Sequence[str]], n: int) -> List[str]:
    if classes is None:
        from ..data import VOC_CLASSES

        classes = VOC_CLASSES if n <= len(VOC_CLASSES) else [str(i) for i in range(n)]
    classes = list(classes)
    return classes + [str(i) for i in range(len(classes), n)]


def _as_list(items: Any, item_dims: int) -> List[Any]:
    """A list of single items (images: ``item_dims=3``, label maps: 2) from a batch, one item or a list."""
    import torch

    if isinstance(items, (torch.Tensor, np.ndarray)):
        if items.ndim == item_dims:
            return [items]
        if items.ndim == item_dims + 1:
            return [items[i] for i in range(items.shape[0])]
        raise ValueError(f"expected one item with {item_dims} dimensions or a batch of them, got shape {tuple(items.shape)}")
    if isinstance(items, (list, tuple)):
        return list(items)
    return [items]  # a PIL image


def _present(label_maps: Sequence[np.ndarray], num_colors: int) -> List[int]:
    """The class indices that occur in the label maps (void and unknown indices left out)."""
    present = set().union(*[set(np.unique(m).tolist()) for m in label_maps])
    return sorted(c for c in present if 0 <= c < num_colors)


def _legend_layout(fig: Any, label_maps: Sequence[np.ndarray], classes: List[str], colormap: np.ndarray) -> None:
    """Name the colours that occur in a legend under the grid, growing the figure to make room."""
    from matplotlib.patches import Patch

    present = _present(label_maps, len(colormap))
    if not present:
        fig.tight_layout()
        return
    width, height = fig.get_size_inches()
    ncol = max(1, min(len(present), int(width / 1.3)))
    rows = -(-len(present) // ncol)
    extra = 0.25 * rows + 0.1
    fig.set_size_inches(width, height + extra)
    handles = [Patch(facecolor=colormap[c] / 255, edgecolor="0.5", label=classes[c]) for c in present]
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------

def show_segmentation(
    images: Any,
    preds: Any,
    targets: Any = None,
    classes: Optional[Sequence[str]] = None,
    colormap: Optional[Any] = None,
    titles: Sequence[str] = ("image", "prediction", "ground truth"),
    scale: float = 2.0,
    legend: bool = True,
):
    """A grid as at the end of the seed: a row of images, a row of predictions, a row of ground truth.

    Args:
        images: a batch ``[N, 3, H, W]``, one image, or a list of images (sizes may differ).
        preds: the predicted label maps (``[N, H, W]`` or a list of ``[H, W]``).
        targets: the ground-truth label maps, or None for two rows only.
        classes, colormap: names and RGB colours of the classes (default: VOC's).
        legend: name the colours of the classes that occur, below the grid.
    """
    import matplotlib.pyplot as plt

    from ..predict import label2image

    images, preds = _as_list(images, 3), [_labels(p) for p in _as_list(preds, 2)]
    rows = [images, preds]
    if targets is not None:
        rows.append([_labels(t) for t in _as_list(targets, 2)])
    n = len(images)
    if any(len(r) != n for r in rows):
        raise ValueError(f"need as many predictions and targets as images, got {[len(r) for r in rows]}")
    if n == 0:
        raise ValueError("no images to show")
    cmap = _colormap(colormap)
    names = _classes(classes, len(cmap))
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * 1.4 * n, scale * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, item in enumerate(row):
            ax = axes[r][c]
            ax.imshow(_display_image(item) if r == 0 else label2image(item, cmap))
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0 and r < len(titles):
                ax.set_ylabel(titles[r])
    if legend:
        _legend_layout(fig, rows[1] + (rows[2] if len(rows) > 2 else []), names, cmap)
    else:
        fig.tight_layout()
    return fig


def show_overlay(image: Any, pred: Any, alpha: float = 0.5, classes: Optional[Sequence[str]] = None,
                 colormap: Optional[Any] = None, ax: Any = None, show_background: bool = False):
    """The image with its label map painted over it (``alpha``: how opaque the paint is).

    Background (class 0) stays unpainted unless ``show_background``, so the objects stand
    out; void (255) is never painted. A legend names the classes that occur.
    """
    import matplotlib.pyplot as plt

    from ..predict import label2image

    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    picture, labels = _display_image(image), _labels(pred)
    if picture.shape[:2] != labels.shape:
        raise ValueError(f"the image is {picture.shape[0]}x{picture.shape[1]} but the label map "
                         f"{labels.shape[0]}x{labels.shape[1]}")
    cmap = _colormap(colormap)
    names = _classes(classes, len(cmap))
    paint = label2image(labels, cmap).astype(np.float64) / 255
    painted = (labels != 255) & ((labels != 0) | show_background)
    rgba = np.concatenate([paint, (alpha * painted)[..., None]], axis=-1)
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(6.5, 5 * labels.shape[0] / max(labels.shape[1], 1)))
    else:
        fig = ax.figure
    ax.imshow(picture)
    ax.imshow(rgba)
    ax.set_xticks([])
    ax.set_yticks([])
    from matplotlib.patches import Patch

    present = _present([labels[painted]], len(cmap))
    if present:
        ax.legend(handles=[Patch(facecolor=cmap[c] / 255, edgecolor="0.5", label=names[c]) for c in present],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    if own_figure:
        fig.tight_layout()
    return fig


def show_samples(dataset: Any, n: int = 4, indices: Optional[Sequence[int]] = None,
                 classes: Optional[Sequence[str]] = None, colormap: Optional[Any] = None, scale: float = 2.0):
    """The first ``n`` (or the given ``indices``) ``(image, label)`` pairs of a dataset, images above labels.

    Class names and colours default to the dataset's ``classes`` and ``colormap``
    attributes, else VOC's.
    """
    import matplotlib.pyplot as plt

    from ..predict import label2image

    indices = list(range(min(n, len(dataset)))) if indices is None else list(indices)
    if not indices:
        raise ValueError("the dataset is empty: nothing to show")
    classes = classes if classes is not None else getattr(dataset, "classes", None)
    colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
    cmap = _colormap(colormap)
    names = _classes(classes, len(cmap))
    pairs = [dataset[i] for i in indices]
    labels = [_labels(label) for _, label in pairs]
    fig, axes = plt.subplots(2, len(pairs), figsize=(scale * 1.4 * len(pairs), scale * 2), squeeze=False)
    for c, ((image, _), label) in enumerate(zip(pairs, labels)):
        axes[0][c].imshow(_display_image(image))
        axes[1][c].imshow(label2image(label, cmap))
        axes[0][c].set_title(f"#{indices[c]}", fontsize="small")
        for ax in (axes[0][c], axes[1][c]):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_ylabel("image")
    axes[1][0].set_ylabel("label")
    _legend_layout(fig, labels, names, cmap)
    return fig


def _count_classes(dataset: Any, num_classes: int) -> np.ndarray:
    counts = np.zeros(num_classes, dtype=np.int64)
    read = getattr(dataset, "read_raw", None)  # whole labels, not random crops, when the dataset offers them
    for i in range(len(dataset)):
        label = _labels(read(i)[1] if read is not None else dataset[i][1])
        label = label[(label >= 0) & (label < num_classes)]
        counts += np.bincount(label.ravel(), minlength=num_classes)
    return counts


def plot_class_frequencies(dataset_or_counts: Any, classes: Optional[Sequence[str]] = None,
                           colormap: Optional[Any] = None, ax: Any = None, log: bool = False):
    """How many labelled pixels each class has, as a share of all labelled pixels (void excluded).

    ``dataset_or_counts`` is a dataset of ``(image, label)`` pairs (counted here, whole
    labels via ``read_raw`` when it has one) or the counts themselves. On VOC the bar of
    the background dwarfs every other: the reason pixel accuracy flatters and mean IoU
    does not. ``log=True`` uses a logarithmic axis.
    """
    import matplotlib.pyplot as plt

    import torch

    if not isinstance(dataset_or_counts, (list, tuple, np.ndarray, torch.Tensor)):
        dataset = dataset_or_counts
        classes = classes if classes is not None else getattr(dataset, "classes", None)
        colormap = colormap if colormap is not None else getattr(dataset, "colormap", None)
        cmap = _colormap(colormap)
        num_classes = getattr(dataset, "num_classes", None) or (len(classes) if classes is not None else len(cmap))
        counts = _count_classes(dataset, num_classes)
    else:
        counts = _to_numpy(dataset_or_counts).astype(np.float64).ravel()
        cmap = _colormap(colormap)
    if counts.size == 0 or counts.sum() <= 0:
        raise ValueError("no labelled pixels to count")
    names = _classes(classes, len(counts))
    share = counts / counts.sum()
    colors = [cmap[i] / 255 if i < len(cmap) else (0.5, 0.5, 0.5) for i in range(len(counts))]
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(counts)), 3.2))
    else:
        fig = ax.figure
    ax.bar(range(len(counts)), share, color=colors, edgecolor="0.3")
    ax.set_xticks(range(len(counts)))
    ax.set_xticklabels(names[: len(counts)], rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("share of labelled pixels")
    if log:
        ax.set_yscale("log")
    ax.set_title("class frequencies")
    fig.tight_layout()
    return fig


def plot_iou(iou: Any, classes: Optional[Sequence[str]] = None, colormap: Optional[Any] = None, ax: Any = None):
    """A bar per class of its IoU, with the mean IoU as a dashed line.

    ``iou`` is the per-class IoU (a tensor, list or array; NaN for classes that occur
    nowhere, marked "n/a") or a metrics dict from :func:`fcnlib.evaluate` (its ``"iou"``).
    """
    import matplotlib.pyplot as plt

    if isinstance(iou, dict):
        if "iou" not in iou:
            raise ValueError("a metrics dict needs an 'iou' entry (from fcnlib.evaluate or ConfusionMatrix.compute)")
        iou = iou["iou"]
    values = _to_numpy(iou).astype(np.float64).ravel()
    if values.size == 0:
        raise ValueError("iou is empty")
    names = _classes(classes, len(values))
    cmap = _colormap(colormap)
    colors = [cmap[i] / 255 if i < len(cmap) else (0.5, 0.5, 0.5) for i in range(len(values))]
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(values)), 3.2))
    else:
        fig = ax.figure
    ax.bar(range(len(values)), np.nan_to_num(values), color=colors, edgecolor="0.3")
    for i in np.flatnonzero(np.isnan(values)):
        ax.text(i, 0.02, "n/a", ha="center", va="bottom", rotation=90, fontsize="x-small")
    if not np.all(np.isnan(values)):
        mean = np.nanmean(values)
        ax.axhline(mean, color="k", linestyle="--", linewidth=1, label=f"mIoU {mean:.3f}")
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(names[: len(values)], rotation=60, ha="right", fontsize="small")
    ax.set_ylim(0, 1)
    ax.set_ylabel("IoU")
    ax.set_title("IoU per class")
    fig.tight_layout()
    return fig
