"""Figures of kernels, scatter steps, overlap maps and convolution matrices."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from ..upsampling import bilinear_kernel, checkerboard, conv_matrix, overlap_map, scatter_step, spread

__all__ = [
    "draw_grid",
    "plot_kernel",
    "draw_kernel_profile",
    "plot_kernel_profile",
    "outline_cells",
    "draw_scatter",
    "plot_scatter",
    "plot_scatter_steps",
    "plot_overlap",
    "plot_conv_matrix",
    "draw_checkerboard",
    "plot_resize_vs_transposed",
    "to_display_image",
    "show_images_side_by_side",
]


# Cells get their value printed in them up to this many cells per panel (more is unreadable).
_MAX_ANNOTATED = 144


def _kernel_2d(kernel: int | Tensor) -> Tensor:
    """An int means ``bilinear_kernel(1, 1, k)``; a 4-D weight gives its first ``[k, k]`` slice."""
    if isinstance(kernel, bool):
        raise TypeError("kernel must be a kernel size (int) or a tensor")
    if isinstance(kernel, int):
        return bilinear_kernel(1, 1, kernel)[0, 0]
    if not isinstance(kernel, Tensor):
        raise TypeError(f"kernel must be a kernel size (int) or a tensor, got {type(kernel).__name__}")
    if kernel.dim() == 4:
        return kernel[0, 0].detach().float()
    if kernel.dim() == 2:
        return kernel.detach().float()
    raise ValueError(f"kernel must be [k, k] or [in, out, k, k], got shape {tuple(kernel.shape)}")


def _new_axes(ncols: int, figsize: tuple[float, float], **kw) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(1, ncols, figsize=figsize, squeeze=False, **kw)
    return fig, axes[0]


def _number(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}".rstrip("0")


def draw_grid(
    ax: Axes,
    values: Tensor,
    title: str = "",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool | None = None,
) -> None:
    """Draw a 2-D tensor as a grid of pixels with thin lines between them and, if small, their values."""
    arr = values.detach().float().cpu().numpy()
    image = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    h, w = arr.shape
    if max(h, w) <= 40:  # thin lines between pixels (two line collections: quick to draw)
        ax.hlines(np.arange(-0.5, h + 0.5), -0.5, w - 0.5, colors="white", linewidth=0.5)
        ax.vlines(np.arange(-0.5, w + 0.5), -0.5, h - 0.5, colors="white", linewidth=0.5)
    # No axis at all: creating and drawing ticks costs more than the picture itself.
    ax.set_axis_off()
    if annotate is None:
        annotate = h * w <= _MAX_ANNOTATED
    if annotate:
        rgb = image.cmap(image.norm(arr))[..., :3]
        light = rgb @ np.array([0.299, 0.587, 0.114]) > 0.5  # dark text on light cells
        size = 9 if max(h, w) <= 8 else 7
        for i in range(h):
            for j in range(w):
                ax.text(
                    j,
                    i,
                    _number(arr[i, j]),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="black" if light[i, j] else "white",
                )
    if title:
        ax.set_title(title, fontsize=10, y=1.0)  # a fixed y skips a costly layout pass


def plot_kernel(kernel: int | Tensor, title: str | None = None, surface: bool = True) -> Figure:
    """Heat map (and 3-D surface) of a 2-D kernel, e.g. ``plot_kernel(bilinear_kernel(3, 3, 4))``.

    ``kernel`` is a kernel size (meaning ``bilinear_kernel(1, 1, k)``), a ``[k, k]`` tensor or
    a ConvTranspose2d weight ``[in, out, k, k]`` (its ``[0, 0]`` slice is drawn). The surface
    shows the "pyramid" the bilinear kernel forms: the product of two tents.
    """
    k = _kernel_2d(kernel)
    title = title or f"{k.shape[0]}x{k.shape[1]} kernel"
    fig = plt.figure(figsize=(8.5 if surface else 4.2, 3.8))
    ax = fig.add_subplot(1, 2 if surface else 1, 1)
    draw_grid(ax, k, title=f"{title}: heat map", annotate=k.numel() <= 64)
    if surface:
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        yy, xx = np.meshgrid(np.arange(k.shape[0]), np.arange(k.shape[1]), indexing="ij")
        ax3.plot_surface(xx, yy, k.numpy(), cmap="viridis", edgecolor="k", linewidth=0.2)
        ax3.set_title(f"{title}: surface", fontsize=10)
        ax3.set_xlabel("column")
        ax3.set_ylabel("row")
    fig.tight_layout()
    return fig


def draw_kernel_profile(ax: Axes, kernel_size: int, stride: int | None = None, legend: bool = True) -> None:
    """One kernel's middle row as stems, with the continuous tent it samples and (if given) the stride."""
    k = bilinear_kernel(1, 1, kernel_size)[0, 0]
    row = k.diagonal().sqrt()  # k[i, j] = t[i] * t[j], so the diagonal holds t[i] ** 2
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    t = np.linspace(center - factor, center + factor, 200)
    ax.plot(t, np.clip(1 - np.abs(t - center) / factor, 0, None), color="0.6", lw=1, label="tent 1 - |t|/f")
    markers = ax.stem(np.arange(kernel_size), row.numpy(), label=f"k={kernel_size} taps")
    markers[0].set_markersize(4)
    if stride is not None and stride != factor:
        ax.set_title(f"k={kernel_size} is made for factor {factor}, used at stride {stride}", fontsize=10, y=1.0)
    else:
        ax.set_title(f"1-D profile, k={kernel_size}, factor {factor}", fontsize=10, y=1.0)
    ax.set_xlabel("tap position")
    ax.set_ylim(0, 1.1)
    ax.set_yticks([0, 0.5, 1])  # few ticks: each label is a text to lay out and draw
    ax.set_xticks(range(0, kernel_size, max(1, (kernel_size + 3) // 4)))
    if legend:
        ax.legend(fontsize=7, loc="upper right")


def plot_kernel_profile(kernel_sizes: int | Sequence[int] = (4, 8), ax: Axes | None = None) -> Figure:
    """The bilinear kernel along one axis: one panel per kernel size, taps as stems on the tent they sample.

    For ``k = 2f`` (even) the tent's peak sits between the two middle taps; for
    ``k = 2f - 1`` (odd) it sits on the middle tap. Either way the tent reaches zero ``f``
    taps from its centre: one *input* pixel away after upsampling ``f`` times.
    """
    sizes = [kernel_sizes] if isinstance(kernel_sizes, int) else list(kernel_sizes)
    if ax is not None:
        if len(sizes) != 1:
            raise ValueError("pass a single kernel size when drawing into a given ax")
        draw_kernel_profile(ax, sizes[0])
        return ax.figure
    fig, axes = _new_axes(len(sizes), (3.6 * len(sizes), 2.8))
    for a, size in zip(axes, sizes, strict=False):
        draw_kernel_profile(a, size)
    fig.tight_layout()
    return fig


def outline_cells(ax: Axes, mask: Tensor, color: str = "red", linewidth: float = 1.5) -> None:
    """Outline the pixels where ``mask`` is true (one collection: quick to draw)."""
    rows, cols = torch.nonzero(mask, as_tuple=True)
    rects = [Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in zip(rows.tolist(), cols.tolist(), strict=False)]
    if rects:
        ax.add_collection(PatchCollection(rects, facecolor="none", edgecolor=color, linewidth=linewidth))


def draw_scatter(
    axes: Sequence[Axes],
    x: Tensor,
    kernel: Tensor,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    step: int | None = None,
) -> None:
    """Draw one step of the scatter picture into three axes: input, kernel, output canvas."""
    s = scatter_step(x, kernel, step, stride, padding, output_padding, dilation)
    ax_in, ax_k, ax_out = axes
    draw_grid(
        ax_in,
        x,
        title=f"input {x.shape[0]}x{x.shape[1]}",
        cmap="Blues",
        vmin=min(0.0, float(x.min())),
        vmax=max(float(x.max()) * 1.6, 1e-6),
    )
    if s.index is not None:
        i, j = s.index
        ax_in.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
    draw_grid(
        ax_k,
        kernel,
        title=f"kernel {kernel.shape[0]}x{kernel.shape[1]}",
        cmap="Greens",
        vmin=min(0.0, float(kernel.min())),
        vmax=max(float(kernel.max()) * 1.6, 1e-6),
    )
    top, left, h, w = s.crop
    what = f"pixel {s.index} writes the red taps" if s.index is not None else "nothing written yet"
    draw_grid(
        ax_out,
        s.canvas,
        title=f"step {s.step}/{s.num_steps}: {what}",
        cmap="magma",
        vmin=0,
        vmax=max(float(scatter_step(x, kernel, None, stride, padding, output_padding, dilation).canvas.max()), 1e-6),
    )
    outline_cells(ax_out, s.footprint)
    if (top, left, h, w) != (0, 0, *s.canvas.shape):
        ax_out.add_patch(
            Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="cyan", linewidth=2, linestyle="--")
        )
        ax_out.text(
            0.5,
            -0.02,
            f"cyan box: the {h}x{w} output kept after padding={padding} trims the border",
            transform=ax_out.transAxes,
            ha="center",
            va="top",
            fontsize=8,
        )


def plot_scatter(
    x: Tensor,
    kernel: Tensor,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    step: int | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """A transposed convolution as a scatter: each input pixel adds a scaled copy of the kernel.

    Three panels: the input (the pixel of this ``step`` outlined in red), the kernel, and
    the output canvas holding the partial sums after ``step`` input pixels (``None``: all
    of them), with the taps the current pixel wrote outlined in red. When ``padding`` > 0
    a dashed cyan box marks the part that is kept. ``x`` and ``kernel`` are 2-D tensors;
    the numbers are :func:`fcnlib.explain.scatter_step`'s, which equal
    ``F.conv_transpose2d`` once every pixel is done.

    >>> fig = plot_scatter(torch.tensor([[0., 1.], [2., 3.]]), torch.tensor([[0., 1.], [2., 3.]]))  # d2l's example
    """
    if axes is None:
        fig, axes = _new_axes(3, (10, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.6]})
        draw_scatter(axes, x, kernel, stride, padding, output_padding, dilation, step)
        fig.tight_layout()
        return fig
    draw_scatter(axes, x, kernel, stride, padding, output_padding, dilation, step)
    return axes[0].figure


def plot_scatter_steps(
    x: Tensor,
    kernel: Tensor,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """Every step of the scatter side by side (the static, printable version of the step slider).

    One panel per input pixel, each showing the canvas after that pixel has added its
    kernel copy (its taps outlined in red); the last panel is the finished output.
    """
    n = x.numel()
    fig, axes = _new_axes(n, (2.6 * n, 3.1))
    final = scatter_step(x, kernel, None, stride, padding, output_padding, dilation)
    vmax = max(float(final.canvas.max()), 1e-6)
    for t, ax in enumerate(axes, start=1):
        s = scatter_step(x, kernel, t, stride, padding, output_padding, dilation)
        draw_grid(
            ax,
            s.canvas,
            title=f"after pixel {s.index} (x={_number(float(x[s.index]))})",
            cmap="magma",
            vmin=0,
            vmax=vmax,
        )
        outline_cells(ax, s.footprint)
    fig.tight_layout()
    return fig


def plot_overlap(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    ax: Axes | None = None,
    annotate: bool | None = None,
) -> Figure:
    """How many kernel taps land on each output pixel (:func:`fcnlib.upsampling.overlap_map`).

    Uneven counts in the middle of the map are the checkerboard: a constant input comes out
    with exactly this pattern (for a kernel of ones). They are even when ``kernel_size`` is a
    multiple of ``stride``.
    """
    counts = overlap_map(size, kernel_size, stride, padding, output_padding, dilation)
    title = f"overlap counts: k={kernel_size}, s={stride} -> {counts.shape[0]}x{counts.shape[1]}"
    if ax is None:
        side = min(1.5 + 0.32 * counts.shape[1], 7.0)
        fig, axes = _new_axes(1, (side, side))
        ax = axes[0]
    draw_grid(ax, counts, title=title, cmap="viridis", vmin=0, annotate=annotate)
    return ax.figure


def plot_conv_matrix(input_size: tuple[int, int], kernel: Tensor, stride: int = 1, padding: int = 0) -> Figure:
    """A convolution as the matrix ``W`` and the transposed convolution as ``W.T``, side by side.

    d2l's example is ``plot_conv_matrix((3, 3), torch.tensor([[1., 2.], [3., 4.]]))``: a 2x2
    kernel on a 3x3 input is a 4x9 matrix (4 outputs from 9 inputs); its 9x4 transpose
    takes 4 values back to 9. See :func:`fcnlib.explain.conv_matrix`.
    """
    W = conv_matrix(input_size, kernel, stride, padding)
    fig, axes = _new_axes(
        2,
        (4 + 0.45 * (W.shape[1] + W.shape[0]), 0.6 + 0.42 * max(W.shape)),
        gridspec_kw={"width_ratios": [W.shape[1], W.shape[0]]},
    )
    vmax = float(W.abs().max()) or 1.0
    draw_grid(
        axes[0],
        W,
        title=f"convolution: W is {W.shape[0]}x{W.shape[1]}\n(output pixels x input pixels)",
        cmap="Blues",
        vmin=0,
        vmax=vmax,
    )
    draw_grid(
        axes[1],
        W.T,
        title=f"transposed convolution: W.T is {W.shape[1]}x{W.shape[0]}",
        cmap="Oranges",
        vmin=0,
        vmax=vmax,
    )
    fig.tight_layout()
    return fig


def draw_checkerboard(ax: Axes, img: Tensor, title: str) -> None:
    """A constant image after upsampling, with its min/max/spread in the title."""
    lo, hi, rel = spread(img)
    draw_grid(
        ax,
        img,
        title=f"{title}\nmin {lo:.2f}, max {hi:.2f}, spread {rel:.0%}",
        cmap="gray",
        vmin=0,
        vmax=max(hi, 1.0) * 1.05,
        annotate=False,
    )


def plot_resize_vs_transposed(
    kernel_size: int = 3,
    stride: int = 2,
    layers: Sequence[int] = (1, 2),
    size: int = 4,
) -> Figure:
    """A constant image upsampled by transposed convolutions (top row) and by resize-convolutions (bottom).

    One column per entry of ``layers``. With ``kernel_size`` not a multiple of ``stride``
    the top row shows the checkerboard, stronger after more layers; the bottom row stays
    flat. Values come from :func:`fcnlib.explain.checkerboard` (the middle of an infinitely
    large constant image, so borders do not distract). One layer starts from ``size`` pixels,
    more layers from 2 (two periods of their ``stride**layers``-pixel pattern).
    """
    layers = [layers] if isinstance(layers, int) else list(layers)
    fig, axes = plt.subplots(2, len(layers), figsize=(3.2 * len(layers), 6.4), squeeze=False)
    for col, n_layers in enumerate(layers):
        start = size if n_layers == 1 else 2  # two periods of the (stride**layers)-pixel pattern
        for row, method in enumerate(("transposed", "resize")):
            img = checkerboard(kernel_size, stride, n_layers, start, method)
            name = "transposed conv" if method == "transposed" else "resize-conv"
            draw_checkerboard(axes[row, col], img, f"{name}, {n_layers} layer{'s' * (n_layers > 1)}")
    fig.suptitle(f"a constant image, kernel {kernel_size}, stride {stride}", fontsize=11)
    fig.tight_layout()
    return fig


def to_display_image(img: Tensor | np.ndarray) -> np.ndarray:
    """A ``[C, H, W]``/``[H, W, C]``/``[H, W]`` tensor or array as something ``imshow`` draws as is.

    Float images are clipped to ``[0, 1]`` (a bilinear upsampling by a transposed
    convolution can overshoot slightly); a 1-channel image becomes ``[H, W]``.
    """
    if isinstance(img, Tensor):
        arr = img.detach().cpu()
        if arr.dim() == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
            arr = arr.permute(1, 2, 0)
        arr = arr.numpy()
    else:
        arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"an image must be [C, H, W], [H, W, C] or [H, W]; got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.clip(arr, 0, 1)
    return arr


def show_images_side_by_side(
    images: Sequence[Tensor | np.ndarray],
    titles: Sequence[str] | None = None,
    height: float = 3.0,
    true_scale: bool = False,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Images in one row, each titled with its size, e.g. the input and its 2x upsampling.

    By default every panel has the same height, so a small input and its enlargement are
    compared detail for detail (the small one looks blocky). ``true_scale=True`` draws them
    at their relative pixel sizes instead, so the enlargement looks larger.
    """
    if len(images) == 0:
        raise ValueError("images is empty: pass at least one image")
    arrays = [to_display_image(im) for im in images]
    titles = list(titles) if titles is not None else [""] * len(arrays)
    if len(titles) != len(arrays):
        raise ValueError(f"got {len(titles)} titles for {len(arrays)} images")
    own_figure = axes is None
    if own_figure:
        widths = [a.shape[1] / a.shape[0] * (a.shape[0] if true_scale else 1) for a in arrays]
        scale = height / (max(a.shape[0] for a in arrays) if true_scale else 1)
        fig, axes = _new_axes(
            len(arrays), (sum(widths) * scale + 0.3 * len(arrays), height + 0.5), gridspec_kw={"width_ratios": widths}
        )
    for ax, arr, title in zip(axes, arrays, titles, strict=False):
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, interpolation="nearest")
        ax.set_title(f"{title} {arr.shape[0]}x{arr.shape[1]}".strip(), fontsize=10, y=1.0)
        ax.axis("off")
    fig = axes[0].figure
    if own_figure:
        fig.tight_layout()
    return fig
