"""Figures for the skip-connection chapter: the FCN-32s/16s/8s diagram, coarse grids, boundary bands.

Every function returns its matplotlib ``Figure``; the shapes a figure prints come from
:mod:`fcnlib.arithmetic`, the bands from :mod:`fcnlib.boundary`, so a figure shows what
the tests check.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["plot_skip_architecture", "show_coarse_prediction", "show_boundary_band", "show_model_comparison",
           "plot_histories"]

# Stage name, stride, channels of the ResNet-18 backbone (after conv1 + max pooling comes layer1 at 1/4).
_BACKBONE = (("conv1+pool", 4, 64), ("layer1", 4, 64), ("layer2", 8, 128), ("layer3", 16, 256), ("layer4", 32, 512))
_VARIANT_STRIDE = {"32s": 32, "16s": 16, "8s": 8}


def _check_size(input_size: Any) -> Tuple[int, int]:
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    try:
        h, w = (int(v) for v in input_size)
    except (TypeError, ValueError):
        raise TypeError(f"input_size must be an int or an (H, W) pair, got {input_size!r}") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise ValueError(f"input_size must be positive multiples of 32 (the FCN's requirement), got {(h, w)}")
    return h, w


def plot_skip_architecture(variant: str = "8s", input_size: Any = (320, 480), num_classes: int = 21,
                           ax: Any = None):
    """The FCN-32s / 16s / 8s head on ResNet-18, drawn as in Figure 3 of the FCN paper.

    The top row is the backbone: each block is drawn with a side proportional to its
    feature map's resolution and labelled with its shape for an input of ``input_size``.
    Below, the head of ``variant`` (the other paths greyed out): a 1x1 convolution turns
    features into ``num_classes`` class scores, a 2x transposed convolution (bilinear
    initialised) brings coarse scores to the next finer grid, a sum (+) fuses them with the
    finer layer's scores, and a last transposed convolution upsamples 32x, 16x or 8x.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Circle

    if variant not in _VARIANT_STRIDE:
        raise ValueError(f"variant must be one of {sorted(_VARIANT_STRIDE)}, got {variant!r}")
    h, w = _check_size(input_size)
    c = num_classes
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 5.4))
    else:
        fig = ax.figure
    ax.set_xlim(0, 10.7)
    ax.set_ylim(0.0, 6.4)
    ax.set_aspect("equal")
    ax.axis("off")
    on, off = "#1f4e79", "#c8c8c8"

    def active(level: int) -> bool:  # level: the stride a head element belongs to
        return level >= _VARIANT_STRIDE[variant]

    def box(x, y, bw, bh, text, color, fc="white", size=8):
        ax.add_patch(FancyBboxPatch((x - bw / 2, y - bh / 2), bw, bh, boxstyle="round,pad=0.03",
                                    ec=color, fc=fc, lw=1.5))
        ax.text(x, y, text, ha="center", va="center", fontsize=size, color="black" if color == on else "0.6")

    def arrow(x0, y0, x1, y1, color, text=None, side=0.0, dx=0.0):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11, color=color, lw=1.4))
        if text:
            ax.text((x0 + x1) / 2 + dx, (y0 + y1) / 2 + side, text, ha="center", va="center", fontsize=7.5,
                    color="black" if color == on else "0.6", bbox=dict(fc="white", ec="none", pad=0.5))

    # Backbone: the input and five stages, sized by resolution.
    y_top = 5.4
    xs = [0.9, 2.55, 4.1, 5.7, 7.6, 9.5]
    size_in = 1.5
    box(xs[0], y_top, size_in, size_in, f"image\n3x{h}x{w}", on, fc="#eef3f8")
    centers = {}
    for x, (name, stride, ch) in zip(xs[1:], _BACKBONE):
        side = max(0.35, size_in * 4 / stride / 2.2 + 0.35)
        box(x, y_top, side * 1.3, side, f"{name}\n1/{stride}", on, fc="#eef3f8", size=7.5)
        ax.text(x, y_top - side / 2 - 0.18, f"{ch}x{h // stride}x{w // stride}", ha="center", va="top", fontsize=7)
        centers[name] = (x, y_top - side / 2 - 0.45)
    for x0, x1 in zip(xs[:-1], xs[1:]):
        arrow(x0 + 0.5, y_top, x1 - 0.4, y_top, on)

    # Head: score layers under layer4, layer3, layer2.
    y_score, y_fuse, y_out = 3.2, 1.9, 0.45
    score_color = {32: on, 16: on if active(16) else off, 8: on if active(8) else off}
    for name, stride, ch in _BACKBONE[2:][::-1]:
        x, y0 = centers[name]
        color = score_color[stride]
        label = {32: "final_conv", 16: "score_layer3", 8: "score_layer2"}[stride]
        arrow(x, y0, x, y_score + 0.32, color)
        box(x, y_score, 1.75, 0.6, f"{label} 1x1\n{c}x{h // stride}x{w // stride}", color, size=7)

    x32, x16, x8 = centers["layer4"][0], centers["layer3"][0], centers["layer2"][0]
    c16 = on if active(16) else off
    c8 = on if active(8) else off
    # 32 -> 16: up_layer4, then the sum with score_layer3.
    ax.add_patch(Circle((x16, y_fuse), 0.22, ec=c16, fc="white", lw=1.5))
    ax.text(x16, y_fuse, "+", ha="center", va="center", fontsize=12, color="black" if c16 == on else "0.6")
    arrow(x32, y_score - 0.32, x16 + 0.24, y_fuse + 0.05, c16, f"up_layer4 2x\n{c}x{h // 16}x{w // 16}", side=-0.42, dx=0.1)
    arrow(x16, y_score - 0.32, x16, y_fuse + 0.23, c16)
    # 16 -> 8: up_layer3, then the sum with score_layer2.
    ax.add_patch(Circle((x8, y_fuse), 0.22, ec=c8, fc="white", lw=1.5))
    ax.text(x8, y_fuse, "+", ha="center", va="center", fontsize=12, color="black" if c8 == on else "0.6")
    arrow(x16 - 0.24, y_fuse, x8 + 0.24, y_fuse, c8, f"up_layer3 2x\n{c}x{h // 8}x{w // 8}", side=0.32)
    arrow(x8, y_score - 0.32, x8, y_fuse + 0.23, c8)

    # The final upsampling of the chosen variant.
    stride = _VARIANT_STRIDE[variant]
    start = {32: (x32, y_score - 0.32), 16: (x16, y_fuse - 0.23), 8: (x8, y_fuse - 0.23)}[stride]
    x_out = 1.6
    box(x_out, y_out, 2.2, 0.6, f"FCN-{variant} scores\n{c}x{h}x{w}", on, fc="#fdf1e6", size=7.5)
    ax.plot([start[0], start[0]], [start[1], y_out], color=on, lw=1.4)
    arrow(start[0] + 0.01, y_out, x_out + 1.12, y_out, on, f"transpose_conv {stride}x (bilinear init)", side=0.22)
    ax.set_title(f"FCN-{variant} on ResNet-18 (grey: paths of the other variants)", fontsize=10)
    return fig


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
        raise ValueError(f"expected a label map [H, W] of integer class indices, got shape {array.shape}, dtype {array.dtype}")
    return array.astype(np.int64)


def _colors(colormap: Optional[Any]) -> np.ndarray:
    if colormap is None:
        from ..data import VOC_COLORMAP

        colormap = VOC_COLORMAP
    return np.asarray(colormap, dtype=np.int64)


def _add_legend(fig: Any, label_maps: Sequence[np.ndarray], classes: Optional[Sequence[str]], colormap: np.ndarray) -> None:
    """Name the colours that occur, in one row under the axes."""
    from matplotlib.patches import Patch

    present = sorted(set().union(*[set(np.unique(m).tolist()) for m in label_maps]) & set(range(len(colormap))))
    names = list(classes) if classes is not None else [str(i) for i in range(len(colormap))]
    handles = [Patch(facecolor=colormap[c] / 255, edgecolor="0.5", label=names[c] if c < len(names) else str(c))
               for c in present]
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


def show_coarse_prediction(image: Any, coarse: Any, pred: Any, stride: int = 32,
                           colormap: Optional[Any] = None, target: Any = None, scale: float = 2.2):
    """Why FCN-32s is coarse: the image, its one-label-per-block scores, and the upsampled prediction.

    ``coarse`` is the argmax of the score map before upsampling (``[H / stride, W / stride]``),
    ``pred`` the final prediction ``[H, W]``. The white grid marks the ``stride x stride``
    blocks: each block gets one vector of class scores, and the bilinear upsampling can
    only blend neighbouring blocks' scores, so edges come out as smooth blobs.
    """
    import matplotlib.pyplot as plt
    import torch

    from ..predict import label2image

    img = _display(image)
    h, w = img.shape[:2]
    coarse = torch.from_numpy(_label_map(coarse))
    if coarse.dim() != 2 or coarse.shape[0] * stride != h or coarse.shape[1] * stride != w:
        raise ValueError(f"coarse must be [H/{stride}, W/{stride}] = [{h // stride}, {w // stride}] for a {h}x{w} image, "
                         f"got {tuple(coarse.shape)}")
    blocks = coarse.repeat_interleave(stride, 0).repeat_interleave(stride, 1)
    panels = [(img, "image"), (label2image(blocks.numpy(), colormap), f"argmax of the 1/{stride} scores"),
              (label2image(_label_map(pred), colormap), f"after {stride}x upsampling")]
    if target is not None:
        panels.append((label2image(_label_map(target), colormap), "ground truth"))
    fig, axes = plt.subplots(1, len(panels), figsize=(scale * len(panels) * w / h, scale), squeeze=False)
    for ax, (picture, title) in zip(axes[0], panels):
        ax.imshow(picture)
        _grid(ax, h, w, stride)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_boundary_band(label: Any, widths: Sequence[int] = (1, 3, 5), colormap: Optional[Any] = None,
                       ignore_index: int = 255, scale: float = 2.4):
    """A label map and its boundary bands (:func:`fcnlib.boundary.boundary_band`) for several widths."""
    import matplotlib.pyplot as plt
    import torch

    from ..boundary import boundary_band
    from ..predict import label2image

    lab = torch.from_numpy(_label_map(label))
    h, w = lab.shape
    colors = label2image(lab.numpy(), colormap, ignore_index=ignore_index)
    fig, axes = plt.subplots(1, 1 + len(widths), figsize=(scale * (1 + len(widths)) * w / h, scale), squeeze=False)
    axes[0][0].imshow(colors)
    axes[0][0].set_title("label", fontsize=9)
    for ax, width in zip(axes[0][1:], widths):
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


def show_model_comparison(images: Any, predictions: Mapping[str, Any], targets: Any = None,
                          colormap: Optional[Any] = None, classes: Optional[Sequence[str]] = None,
                          scale: float = 1.8):
    """Predictions of several models on the same images: one column per image, one row per model.

    ``images`` is a batch ``[N, 3, H, W]`` or a list of images; ``predictions`` maps a row
    title (e.g. ``"FCN-32s"``) to label maps ``[N, H, W]`` (or a list). The first row shows
    the images and, with ``targets``, the last row the ground truth; a legend names the
    colours that occur.
    """
    import matplotlib.pyplot as plt

    from ..predict import label2image

    images = [_display(image) for image in images]
    rows: Dict[str, list] = {name: [_label_map(p) for p in maps] for name, maps in predictions.items()}
    if targets is not None:
        rows["ground truth"] = [_label_map(t) for t in targets]
    n = len(images)
    if n == 0 or any(len(r) != n for r in rows.values()):
        raise ValueError(f"need one label map per image in every row: {n} images, rows {[len(r) for r in rows.values()]}")
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


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, Any]]], keys: Sequence[str] = ("loss", "miou"),
                   figsize: Tuple[float, float] = (8, 2.8)):
    """Training curves of several runs in one figure: one panel per key, one line per run.

    ``histories`` maps a run's name (``"32s"``) to the :class:`fcnlib.train.History` that
    :func:`fcnlib.train` returned (a list of per-epoch dicts).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    titles = {"loss": "training loss", "train_acc": "training pixel accuracy", "pixel_acc": "test pixel accuracy",
              "miou": "test mean IoU", "mean_acc": "test mean accuracy", "fw_iou": "test f.w. IoU"}
    if not histories:
        raise ValueError("no histories to plot")
    fig, axes = plt.subplots(1, len(keys), figsize=figsize, squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, history in histories.items():
            if history is None:
                continue
            epochs = [e["epoch"] for e in history if e.get(key) is not None]
            ax.plot(epochs, [e[key] for e in history if e.get(key) is not None], "o-", label=f"FCN-{name}"
                    if not str(name).startswith("FCN") else name)
        ax.set_title(titles.get(key, key), fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    return fig
