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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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


def _display(image: Any) -> np.ndarray:
    """An RGB array ``[H, W, 3]`` for ``imshow`` from a uint8 or float (maybe normalised) ``[3, H, W]`` tensor."""
    import torch

    if not isinstance(image, torch.Tensor):
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ValueError(f"expected an RGB image [H, W, 3] or a tensor [3, H, W], got shape {array.shape}")
        return array
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected an RGB image tensor [3, H, W], got shape {tuple(image.shape)}")
    image = image.detach().cpu()
    if image.dtype == torch.uint8:
        return image.permute(1, 2, 0).numpy()
    image = image.float()
    if image.min() < 0 or image.max() > 1:  # normalised by the data loader: undo it for display
        from ..data import denormalize

        image = denormalize(image)
    return image.permute(1, 2, 0).numpy()


def _label_map(label: Any) -> np.ndarray:
    import torch

    array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"expected a label map [H, W] of integer class indices, got shape {array.shape}, dtype {array.dtype}"
        )
    return array.astype(np.int64)


def _colors(colormap: Any | None) -> np.ndarray:
    if colormap is None:
        from ..data import VOC_COLORMAP

        colormap = VOC_COLORMAP
    return np.asarray(colormap, dtype=np.int64)


def _add_legend(
    fig: Any, label_maps: Sequence[np.ndarray], classes: Sequence[str] | None, colormap: np.ndarray
) -> None:
    """Name the colours that occur, in one row under the axes."""
    from matplotlib.patches import Patch

    present = sorted(set().union(*[set(np.unique(m).tolist()) for m in label_maps]) & set(range(len(colormap))))
    names = list(classes) if classes is not None else [str(i) for i in range(len(colormap))]
    handles = [
        Patch(facecolor=colormap[c] / 255, edgecolor="0.5", label=names[c] if c < len(names) else str(c))
        for c in present
    ]
    ncol = min(len(handles), 4) or 1
    rows = -(-len(handles) // ncol)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0.28 * rows / height if handles else 0, 1, 1))
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False)


def _grid(ax: Any, h: int, w: int, stride: int) -> None:
    for y in range(stride, h, stride):
        ax.axhline(y - 0.5, color="white", lw=0.6, alpha=0.8)
    for x in range(stride, w, stride):
        ax.axvline(x - 0.5, color="white", lw=0.6, alpha=0.8)


def show_coarse_prediction(
    image: Any,
    coarse: Any,
    pred: Any,
    stride: int = 32,
    colormap: Any | None = None,
    target: Any = None,
    scale: float = 2.2,
):
    """Why FCN-32s is coarse: the image, its one-label-per-block scores, and the upsampled prediction.

    ``coarse`` is the argmax of the score map before upsampling (``[H / stride, W / stride]``),
    ``pred`` the final prediction ``[H, W]``. The white grid marks the ``stride x stride``
    blocks: each block gets one vector of class scores, and the bilinear upsampling can
    only blend neighbouring blocks' scores, so edges come out as smooth blobs.
    """
    import matplotlib.pyplot as plt
    import torch

    from ..inference import label2image

    img = _display(image)
    h, w = img.shape[:2]
    coarse = torch.from_numpy(_label_map(coarse))
    if coarse.dim() != 2 or coarse.shape[0] * stride != h or coarse.shape[1] * stride != w:
        raise ValueError(
            f"coarse must be [H/{stride}, W/{stride}] = [{h // stride}, {w // stride}] for a {h}x{w} image, "
            f"got {tuple(coarse.shape)}"
        )
    blocks = coarse.repeat_interleave(stride, 0).repeat_interleave(stride, 1)
    panels = [
        (img, "image"),
        (label2image(blocks.numpy(), colormap), f"argmax of the 1/{stride} scores"),
        (label2image(_label_map(pred), colormap), f"after {stride}x upsampling"),
    ]
    if target is not None:
        panels.append((label2image(_label_map(target), colormap), "ground truth"))
    fig, axes = plt.subplots(1, len(panels), figsize=(scale * len(panels) * w / h, scale), squeeze=False)
    for ax, (picture, title) in zip(axes[0], panels, strict=False):
        ax.imshow(picture)
        _grid(ax, h, w, stride)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_boundary_band(
    label: Any,
    widths: Sequence[int] = (1, 3, 5),
    colormap: Any | None = None,
    ignore_index: int = 255,
    scale: float = 2.4,
):
    """A label map and its boundary bands (:func:`fcnlib.boundary.boundary_band`) for several widths."""
    import matplotlib.pyplot as plt
    import torch

    from ..inference import label2image
    from ..metrics import boundary_band

    lab = torch.from_numpy(_label_map(label))
    h, w = lab.shape
    colors = label2image(lab.numpy(), colormap, ignore_index=ignore_index)
    fig, axes = plt.subplots(1, 1 + len(widths), figsize=(scale * (1 + len(widths)) * w / h, scale), squeeze=False)
    axes[0][0].imshow(colors)
    axes[0][0].set_title("label", fontsize=9)
    for ax, width in zip(axes[0][1:], widths, strict=False):
        band = boundary_band(lab, width, ignore_index).numpy()
        shown = (colors * 0.25 + 190).astype(np.uint8)
        shown[band] = colors[band]
        ax.imshow(shown)
        ax.set_title(f"band, width {width}: {band.mean():.0%} of pixels", fontsize=9)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_model_comparison(
    images: Any,
    predictions: Mapping[str, Any],
    targets: Any = None,
    colormap: Any | None = None,
    classes: Sequence[str] | None = None,
    scale: float = 1.8,
):
    """Predictions of several models on the same images: one column per image, one row per model.

    ``images`` is a batch ``[N, 3, H, W]`` or a list of images; ``predictions`` maps a row
    title (e.g. ``"FCN-32s"``) to label maps ``[N, H, W]`` (or a list). The first row shows
    the images and, with ``targets``, the last row the ground truth; a legend names the
    colours that occur.
    """
    import matplotlib.pyplot as plt

    from ..inference import label2image

    images = [_display(image) for image in images]
    rows: dict[str, list] = {name: [_label_map(p) for p in maps] for name, maps in predictions.items()}
    if targets is not None:
        rows["ground truth"] = [_label_map(t) for t in targets]
    n = len(images)
    if n == 0 or any(len(r) != n for r in rows.values()):
        raise ValueError(
            f"need one label map per image in every row: {n} images, rows {[len(r) for r in rows.values()]}"
        )
    cmap = _colors(colormap)
    h, w = images[0].shape[:2]
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(scale * n * w / h, scale * (1 + len(rows))), squeeze=False)
    for c, image in enumerate(images):
        axes[0][c].imshow(image)
    for r, (name, maps) in enumerate(rows.items(), start=1):
        for c, m in enumerate(maps):
            axes[r][c].imshow(label2image(m, cmap))
        axes[r][0].set_ylabel(name)
    axes[0][0].set_ylabel("image")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    _add_legend(fig, [m for maps in rows.values() for m in maps], classes, cmap)
    return fig


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
        raise TypeError(
            f"a label map must hold integer class indices, got dtype {array.dtype} (for scores take .argmax(0) first)"
        )
    return array.astype(np.int64)


def _colormap(colormap: Any | None) -> np.ndarray:
    if colormap is None:
        from ..data import VOC_COLORMAP

        colormap = VOC_COLORMAP
    return np.asarray(_to_numpy(colormap), dtype=np.int64)


def _classes(classes: Sequence[str] | None, n: int) -> list[str]:
    if classes is None:
        from ..data import VOC_CLASSES

        classes = VOC_CLASSES if n <= len(VOC_CLASSES) else [str(i) for i in range(n)]
    classes = list(classes)
    return classes + [str(i) for i in range(len(classes), n)]


def _as_list(items: Any, item_dims: int) -> list[Any]:
    """A list of single items (images: ``item_dims=3``, label maps: 2) from a batch, one item or a list."""
    import torch

    if isinstance(items, (torch.Tensor, np.ndarray)):
        if items.ndim == item_dims:
            return [items]
        if items.ndim == item_dims + 1:
            return [items[i] for i in range(items.shape[0])]
        raise ValueError(
            f"expected one item with {item_dims} dimensions or a batch of them, got shape {tuple(items.shape)}"
        )
    if isinstance(items, (list, tuple)):
        return list(items)
    return [items]  # a PIL image


def _present(label_maps: Sequence[np.ndarray], num_colors: int) -> list[int]:
    """The class indices that occur in the label maps (void and unknown indices left out)."""
    present = set().union(*[set(np.unique(m).tolist()) for m in label_maps])
    return sorted(c for c in present if 0 <= c < num_colors)


def _legend_layout(fig: Any, label_maps: Sequence[np.ndarray], classes: list[str], colormap: np.ndarray) -> None:
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
    fig.legend(
        handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False, bbox_to_anchor=(0.5, 0.0)
    )
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))


def show_segmentation(
    images: Any,
    preds: Any,
    targets: Any = None,
    classes: Sequence[str] | None = None,
    colormap: Any | None = None,
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

    from ..inference import label2image

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


def show_overlay(
    image: Any,
    pred: Any,
    alpha: float = 0.5,
    classes: Sequence[str] | None = None,
    colormap: Any | None = None,
    ax: Any = None,
    show_background: bool = False,
):
    """The image with its label map painted over it (``alpha``: how opaque the paint is).

    Background (class 0) stays unpainted unless ``show_background``, so the objects stand
    out; void (255) is never painted. A legend names the classes that occur.
    """
    import matplotlib.pyplot as plt

    from ..inference import label2image

    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    picture, labels = _display_image(image), _labels(pred)
    if picture.shape[:2] != labels.shape:
        raise ValueError(
            f"the image is {picture.shape[0]}x{picture.shape[1]} but the label map {labels.shape[0]}x{labels.shape[1]}"
        )
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
        ax.legend(
            handles=[Patch(facecolor=cmap[c] / 255, edgecolor="0.5", label=names[c]) for c in present],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
            frameon=False,
        )
    if own_figure:
        fig.tight_layout()
    return fig


def show_samples(
    dataset: Any,
    n: int = 4,
    indices: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    colormap: Any | None = None,
    scale: float = 2.0,
):
    """The first ``n`` (or the given ``indices``) ``(image, label)`` pairs of a dataset, images above labels.

    Class names and colours default to the dataset's ``classes`` and ``colormap``
    attributes, else VOC's.
    """
    import matplotlib.pyplot as plt

    from ..inference import label2image

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
    for c, ((image, _), label) in enumerate(zip(pairs, labels, strict=False)):
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


def plot_class_frequencies(
    dataset_or_counts: Any,
    classes: Sequence[str] | None = None,
    colormap: Any | None = None,
    ax: Any = None,
    log: bool = False,
):
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


def plot_iou(iou: Any, classes: Sequence[str] | None = None, colormap: Any | None = None, ax: Any = None):
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
