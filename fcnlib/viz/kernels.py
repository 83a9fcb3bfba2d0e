"""Kernels, scatter steps, overlap maps, conv matrices: ``draw_*`` into given axes, ``plot_*``/``show_*`` a Figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.patches import Patch, Rectangle
from torch import Tensor

from ..shapes import check_int
from ..upsampling import bilinear_kernel, checkerboard, conv_matrix, overlap_map, scatter_step, spread
from ._common import image_array

__all__ = ["plot_kernel", "plot_kernel_profile", "plot_scatter", "plot_scatter_steps", "plot_overlap"]
__all__ += ["plot_conv_matrix", "plot_resize_vs_transposed", "show_images_side_by_side", "plot_overlaps"]


def _new_axes(ncols: int, figsize: tuple[float, float], **kw) -> np.ndarray:
    return plt.subplots(1, ncols, figsize=figsize, squeeze=False, layout="tight", **kw)[1][0]


def _number(v: float, decimals: int = 2) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.{decimals}f}".rstrip("0")


def rounded_title(title: str, values: Tensor, decimals: int = 2) -> str:
    """``title`` plus " (rounded)" where ``draw_grid``'s labels (to ``decimals``) round some of ``values``."""
    exact = torch.allclose(values, (values * 10**decimals).round() / 10**decimals, rtol=0, atol=1e-6)
    return title if exact else f"{title} (rounded)"


def draw_grid(
    ax: Axes, values: Tensor, title="", cmap="viridis", vmin=None, vmax=None, annotate=None, outline=None, decimals=2
):
    """A 2-D tensor as pixels with thin lines between them and, up to 144 (or ``annotate``), their values (to
    ``decimals``); the pixels where the boolean ``outline`` is true outlined in red."""
    arr = values.detach().float().cpu().numpy()
    image = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    h, w = arr.shape
    if max(h, w) <= 40:  # two line collections: quick to draw
        ax.hlines(np.arange(-0.5, h + 0.5), -0.5, w - 0.5, colors="white", linewidth=0.5)
        ax.vlines(np.arange(-0.5, w + 0.5), -0.5, h - 0.5, colors="white", linewidth=0.5)
    ax.set_axis_off()  # ticks cost more to draw than the picture
    if annotate or (annotate is None and h * w <= 144):
        light = image.cmap(image.norm(arr))[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
        for (i, j), v in np.ndenumerate(arr):
            color = "black" if light[i, j] else "white"
            ax.text(j, i, _number(v, decimals), ha="center", va="center", fontsize=9, color=color)
    if outline is not None and outline.any():
        rects = [Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in torch.nonzero(outline).tolist()]
        ax.add_collection(PatchCollection(rects, facecolor="none", edgecolor="red", linewidth=1.5))
    if title:
        ax.set_title(title, fontsize=10, y=1.0)  # a fixed y skips a layout pass


def draw_box(ax: Axes, top: int, left: int, height: int, width: int, color: str = "red", lw: float = 2, **kw) -> None:
    """Outline ``height x width`` pixels from pixel ``(top, left)``."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, ec=color, lw=lw, **kw))


def plot_kernel(kernel: int | Tensor, title: str | None = None, surface: bool = True) -> Figure:
    """Heat map (and 3-D surface) of a size ``k`` (``bilinear_kernel(1, 1, k)``), ``[k, k]`` or ``[in, out, k, k]``
    (its first ``[k, k]`` slice). TypeError for another type, ValueError for another shape."""
    if isinstance(kernel, int) and not isinstance(kernel, bool):
        kernel = bilinear_kernel(1, 1, kernel)
    if not isinstance(kernel, Tensor):
        raise TypeError(f"kernel must be a kernel size (int) or a tensor, got {type(kernel).__name__}")
    if kernel.dim() not in (2, 4):
        raise ValueError(f"kernel must be [k, k] or [in, out, k, k], got shape {tuple(kernel.shape)}")
    k = (kernel[0, 0] if kernel.dim() == 4 else kernel).detach().float()
    title = title or f"{k.shape[0]}x{k.shape[1]} kernel"
    fig = plt.figure(figsize=(8.5 if surface else 4.2, 3.8), layout="tight")
    heat = rounded_title(f"{title}: heat map", k) if k.numel() <= 64 else f"{title}: heat map"
    draw_grid(fig.add_subplot(1, 2 if surface else 1, 1), k, title=heat, annotate=k.numel() <= 64)
    if surface:
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        yy, xx = np.meshgrid(np.arange(k.shape[0]), np.arange(k.shape[1]), indexing="ij")
        ax3.plot_surface(xx, yy, k.numpy(), cmap="viridis", edgecolor="k", linewidth=0.2)
        ax3.set(title=f"{title}: surface", xlabel="column", ylabel="row")
    return fig


def draw_kernel_profile(ax: Axes, kernel_size: int, stride: int | None = None, legend: bool = True) -> None:
    """The bilinear kernel's taps along one axis as stems on the tent they sample (``stride``: if it differs)."""
    row = bilinear_kernel(1, 1, kernel_size)[0, 0].diagonal().sqrt()  # k[i, j] = t[i] * t[j]
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    t = np.linspace(center - factor, center + factor, 200)
    ax.plot(t, np.clip(1 - np.abs(t - center) / factor, 0, None), color="0.6", lw=1, label="tent 1 - |x - center|/f")
    markers, _, baseline = ax.stem(np.arange(kernel_size), row.numpy(), label=f"k={kernel_size} taps")
    markers.set_markersize(4)
    baseline.set_visible(False)  # the x axis is the baseline
    title = f"1-D profile, k={kernel_size}, factor {factor}"
    if stride is not None and stride != factor:
        title = f"k={kernel_size} is made for factor {factor}, used at stride {stride}"
    ax.set_title(title, fontsize=10, y=1.0)
    ax.set(xlabel="tap position", ylim=(0, 1.45 if legend else 1.1), yticks=[0, 0.5, 1])
    ax.set_xticks(range(0, kernel_size, max(1, (kernel_size + 3) // 4)))
    if legend:  # above the tent's peak
        ax.legend(fontsize=9, loc="upper center", ncol=2, handlelength=1.2, columnspacing=0.8)


def plot_kernel_profile(kernel_sizes: int | Sequence[int] = (4, 8)) -> Figure:
    """One panel per kernel size: the taps along one axis on the tent they sample."""
    sizes = [kernel_sizes] if isinstance(kernel_sizes, int) else list(kernel_sizes)
    axes = _new_axes(len(sizes), (3.6 * len(sizes), 2.8))
    for ax, size in zip(axes, sizes, strict=True):
        draw_kernel_profile(ax, size)
    return axes[0].figure


def plot_scatter(x, kernel, stride=1, padding=0, output_padding=0, dilation=1, step=None, axes=None) -> Figure:
    """Input (``step``'s pixel in red), kernel and canvas after ``step`` input pixels (None: all), that pixel's
    taps outlined, a dashed cyan box around what ``padding`` keeps. ``axes``: three axes to draw into."""
    if axes is None:
        axes = _new_axes(3, (10, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.6]})
    conv = (stride, padding, output_padding, dilation)
    s = scatter_step(x, kernel, step, *conv)
    for ax, t, name, cmap in ((axes[0], x, "input", "Blues"), (axes[1], kernel, "kernel", "Greens")):
        title = f"{name} {t.shape[0]}x{t.shape[1]}"
        draw_grid(ax, t, title, cmap, vmin=min(0.0, float(t.min())), vmax=max(float(t.max()) * 1.6, 1e-6))
    what = "nothing added yet"
    if s.index is not None:
        draw_box(axes[0], *s.index, 1, 1, lw=2.5)
        what = f"pixel {s.index} adds {_number(float(x[s.index]))} x kernel to the red cells"
    vmax = max(float(scatter_step(x, kernel, None, *conv).canvas.max()), 1e-6)
    draw_grid(axes[2], s.canvas, f"step {s.step}/{s.num_steps}: {what}", "magma", 0, vmax, outline=s.footprint)
    if s.crop != (0, 0, *s.canvas.shape):
        draw_box(axes[2], *s.crop, "cyan", ls="--")
        note = f"cyan box: the {s.crop[2]}x{s.crop[3]} output kept after padding={padding} trims the border"
        axes[2].text(0.5, -0.02, note, transform=axes[2].transAxes, ha="center", va="top", fontsize=9)
    return axes[0].figure


def plot_scatter_steps(x: Tensor, kernel: Tensor, stride=1, padding=0, output_padding=0, dilation=1) -> Figure:
    """Every step of the scatter side by side: one canvas per input pixel, the last the finished output."""
    conv = (stride, padding, output_padding, dilation)
    axes = _new_axes(x.numel(), (2.6 * x.numel(), 3.1))
    vmax = max(float(scatter_step(x, kernel, None, *conv).canvas.max()), 1e-6)
    for t, ax in enumerate(axes, start=1):
        s = scatter_step(x, kernel, t, *conv)
        title = f"after pixel {s.index} (value {_number(float(x[s.index]))})"
        draw_grid(ax, s.canvas, title, "magma", 0, vmax, outline=s.footprint)
    return axes[0].figure


def plot_overlap(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1, ax=None):
    """How many kernel taps land on each output pixel (:func:`fcnlib.upsampling.overlap_map`)."""
    counts = overlap_map(size, kernel_size, stride, padding, output_padding, dilation)
    if ax is None:
        side = min(1.5 + 0.32 * counts.shape[1], 7.0)
        ax = _new_axes(1, (side, side))[0]
    title = f"taps per output pixel: k={kernel_size}, s={stride} -> {counts.shape[0]}x{counts.shape[1]}"
    draw_grid(ax, counts, title=title, vmin=0)
    return ax.figure


def plot_overlaps(size, pairs: Sequence[tuple[int, int]]) -> Figure:
    """:func:`plot_overlap` side by side for a ``size`` input, one panel per ``(kernel_size, stride)`` pair."""
    axes = _new_axes(len(pairs), (4.2 * len(pairs), 4.4))
    for ax, (kernel_size, stride) in zip(axes, pairs, strict=True):
        plot_overlap(size, kernel_size, stride, ax=ax)
    return axes[0].figure


def plot_conv_matrix(input_size: tuple[int, int], kernel: Tensor, stride: int = 1, padding: int = 0) -> Figure:
    """A convolution as the matrix ``W`` (:func:`fcnlib.upsampling.conv_matrix`) and the transposed one as ``W.T``."""
    W = conv_matrix(input_size, kernel, stride, padding)
    rows, cols = W.shape
    size = (4 + 0.45 * (rows + cols), 0.6 + 0.42 * max(rows, cols))
    axes = _new_axes(2, size, gridspec_kw={"width_ratios": [cols, rows]})
    vmax = float(W.abs().max()) or 1.0
    title = f"convolution: W is {rows}x{cols}\n(output pixels x input pixels)"
    draw_grid(axes[0], W, title, "Blues", vmin=0, vmax=vmax)
    draw_grid(axes[1], W.T, f"transposed convolution:\nW.T is {cols}x{rows}", "Oranges", vmin=0, vmax=vmax)
    return axes[0].figure


def draw_checkerboard(ax: Axes, img: Tensor, title: str, vmax: float | None = None):
    """A constant image after upsampling, in grey from 0 (black) to ``vmax`` (white; None: just above its max and
    1), with its min, max and spread in the title. Returns the image, for a colour bar."""
    lo, hi, rel = spread(img)
    title = f"{title}\nmin {lo:.2f}, max {hi:.2f}, spread {rel:.0%}"
    draw_grid(ax, img, title, "gray", vmin=0, vmax=vmax or max(hi, 1.0) * 1.05, annotate=False)
    return ax.images[-1]


def plot_resize_vs_transposed(kernel_size=3, stride=2, layers: int | Sequence[int] = (1, 2), size=4) -> Figure:
    """A constant image after transposed convs (top) and resize-convs (bottom), a column per entry of ``layers``,
    without the border (:func:`fcnlib.upsampling.checkerboard`), all on one grey scale with a colour bar; one
    layer from ``size`` pixels, more from 2 (two periods of the ``stride**layers`` pattern)."""
    layers = [layers] if isinstance(layers, int) else list(layers)
    fig, axes = plt.subplots(2, len(layers), figsize=(3.2 * len(layers) + 1, 6.4), squeeze=False, layout="constrained")
    methods = (("transposed", "transposed conv"), ("resize", "resize-conv"))
    imgs = [[checkerboard(kernel_size, stride, n, size if n == 1 else 2, m) for n in layers] for m, _ in methods]
    vmax = max(max(float(img.max()) for row in imgs for img in row), 1.0) * 1.05
    for row, (_, name) in enumerate(methods):
        for col, n in enumerate(layers):
            image = draw_checkerboard(axes[row, col], imgs[row][col], f"{name}, {n} layer{'s' * (n > 1)}", vmax)
    fig.colorbar(image, ax=axes, shrink=0.6, label="value (the input is 1 everywhere)")
    title = f"a constant image, kernel {kernel_size}, stride {stride}\n(without the border: the pattern repeats)"
    fig.suptitle(title, fontsize=11)
    return fig


def show_images_side_by_side(images, titles=None, height=3.0, true_scale=False, axes=None, boxes=None) -> Figure:
    """Images in a row, titled with their sizes, of one height or (``true_scale``) their relative pixel sizes;
    grey float images on one scale, 0 black to 1 white; ``boxes``: per image None or ``(top, left, height, width)``
    in its pixels, outlined in red. ValueError for no images or a titles or boxes count that differs."""
    if len(images) == 0:
        raise ValueError("images is empty: pass at least one image")
    arrays = [image_array(im) for im in images]
    titles = list(titles) if titles is not None else [""] * len(arrays)
    if len(titles) != len(arrays):
        raise ValueError(f"got {len(titles)} titles for {len(arrays)} images")
    boxes = list(boxes) if boxes is not None else [None] * len(arrays)
    if len(boxes) != len(arrays):
        raise ValueError(f"got {len(boxes)} boxes for {len(arrays)} images: give None for an image without one")
    if axes is None:  # else drawn into the given axes: the caller's layout
        widths = [a.shape[1] / a.shape[0] * (a.shape[0] if true_scale else 1) for a in arrays]
        scale = height / (max(a.shape[0] for a in arrays) if true_scale else 1)
        figsize = (sum(widths) * scale + 0.3 * len(arrays), height + 0.5)
        axes = _new_axes(len(arrays), figsize, gridspec_kw={"width_ratios": widths})
    for ax, arr, title, box in zip(axes, arrays, titles, boxes, strict=False):
        grey = (0, 1) if arr.ndim == 2 and np.issubdtype(arr.dtype, np.floating) else (None, None)  # one scale
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=grey[0], vmax=grey[1], interpolation="nearest")
        if box is not None:  # pixel (r, c) covers c - 0.5 to c + 0.5 on the image's axes
            top, left, h, w = box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="red", lw=1.5))
        ax.set_title(f"{title} {arr.shape[0]}x{arr.shape[1]}".strip(), fontsize=10, y=1.0)
        ax.axis("off")
    return axes[0].figure


__all__ += ["plot_tent_sum", "plot_value_grids", "plot_phases", "plot_signed_difference"]


def plot_tent_sum(values: Sequence[float], x: float | None = None) -> Figure:
    """Linear interpolation of ``values`` (known at positions 0, 1, 2, ...) as the sum of the tents
    ``values[i] * max(0, 1 - |t - i|)``, drawn on ``[0, len(values) - 1]``; ``x``: a point marked on the line.
    ValueError for fewer than 2 values or an ``x`` outside that range."""
    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        raise ValueError(f"values needs at least 2 numbers to interpolate between, got {n}")
    if x is not None and not 0 <= x <= n - 1:
        raise ValueError(f"x must lie between 0 and {n - 1}, where values are known, got {x}")
    t = np.linspace(0, n - 1, 60 * (n - 1) + 1)
    tents = [v * np.clip(1 - np.abs(t - i), 0, None) for i, v in enumerate(values)]
    ax = _new_axes(1, (6.4, 3.0))[0]
    for i, (v, tent) in enumerate(zip(values, tents, strict=True)):
        ax.plot(t, tent, "--", lw=1.3, color=f"C{i % 10}", label=f"{_number(v)} x tent at {i}")
    ax.plot(t, np.sum(tents, axis=0), color="k", lw=2.2, alpha=0.8, label="sum of the tents")
    ax.plot(range(n), values, "o", color="k", label="known values")
    if x is not None:
        y = float(np.interp(x, range(n), values))
        parts = [(i, v * (1 - abs(x - i))) for i, v in enumerate(values) if abs(x - i) < 1]  # the tents reaching x
        dots = tuple(ax.plot(x, h, "o", color=f"C{i % 10}", mec="k", zorder=3)[0] for i, h in parts)
        sum_text = " + ".join(_number(h) for _, h in parts)
        ax.plot(x, y, "*", color="red", markersize=13, label=f"f({_number(x)}) = {_number(y)}")
    handles, labels = ax.get_legend_handles_labels()
    if x is not None:  # one legend entry for the dots, in the tents' colours and in the order of the sum
        handles.insert(-1, dots)
        labels.insert(-1, f"tents at {_number(x)}: {sum_text}")
    ax.set(xlabel="position", ylabel="value", xticks=range(n))
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), handler_map={tuple: HandlerTuple(None)})
    return ax.figure


def plot_value_grids(grids: Sequence[Tensor], titles: Sequence[str], vmin=None, vmax=None, cmap="viridis") -> Figure:
    """2-D tensors side by side at one pixel size, each pixel labelled with its value to 4 decimals (:func:`draw_grid`).
    ValueError for no grids, a titles count that differs or a grid that is not 2-D."""
    if len(grids) == 0 or len(grids) != len(titles):
        raise ValueError(f"pass one title per grid, got {len(grids)} grids and {len(titles)} titles")
    if any(g.dim() != 2 for g in grids):
        raise ValueError(f"every grid must be a 2-D tensor, got shapes {[tuple(g.shape) for g in grids]}")
    widths = [g.shape[1] for g in grids]
    size = (0.75 * sum(widths) + 0.4 * len(grids), 0.75 * max(g.shape[0] for g in grids) + 0.9)
    axes = _new_axes(len(grids), size, gridspec_kw={"width_ratios": widths})
    for ax, grid, title in zip(axes, grids, titles, strict=True):
        draw_grid(ax, grid, title, cmap, vmin, vmax, annotate=True, decimals=4)
    return axes[0].figure


def draw_phases(ax: Axes, kernel_size: int, stride: int, inputs: int = 4) -> None:
    """``inputs`` input pixels of value 1 scattered by the bilinear tent of ``kernel_size`` at ``stride``, no padding:
    a bar per output position stacking the taps that land on it, coloured by its phase (position mod ``stride``),
    taps of 0.2 or more labelled with two decimals up to 16 bars; the legend gives each phase's taps and sum."""
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("inputs", inputs)):
        check_int(value, name, 1)
    taps = bilinear_kernel(1, 1, kernel_size)[0, 0].diagonal().sqrt().tolist()  # k[i, j] = t[i] * t[j]
    heights = np.zeros((inputs - 1) * stride + kernel_size)
    for i in range(inputs):  # input pixel i writes tap t onto output position i * stride + t
        where = i * stride + np.arange(kernel_size)
        colors = [f"C{o % stride % 10}" for o in where]
        ax.bar(where, taps, bottom=heights[where], width=0.9, color=colors, edgecolor="white", lw=1.5)
        for o, w in zip(where, taps, strict=True):
            if w >= 0.2 and len(heights) <= 16:  # two decimals fit up to 16 bars; the outline keeps the line off
                halo = [patheffects.withStroke(linewidth=3, foreground=f"C{o % stride % 10}")]
                label = f"{w + 1e-9:.2f}".rstrip("0").rstrip(".")
                ax.text(o, heights[o] + w / 2, label, ha="center", va="center", fontsize=9, path_effects=halo)
        heights[where] += taps
    handles = []  # the legend: each phase's taps and their sum
    for r in range(stride):
        parts = " + ".join(f"{w:.3g}" for w in taps[r::stride]) or "no tap"
        total = f" = {sum(taps[r::stride]):.3g}" if len(taps[r::stride]) > 1 else ""
        handles.append(Patch(color=f"C{r % 10}", label=f"phase {r}: {parts}{total}"))
    handles.append(ax.axhline(1, color="0.3", ls=":", lw=1.2, label="1: the input's value (flat and as bright)"))
    factor = (kernel_size + 1) // 2
    ax.set_title(f"k={kernel_size} (made for factor {factor}) at stride {stride}, {inputs} input pixels of value 1")
    ax.set(xlabel="output position (no padding)", ylabel="value", ylim=(0, max(1.1, heights.max() * 1.08)))
    ax.set_xticks(range(len(heights)))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_phases(settings: Sequence[tuple[int, int]] = ((4, 2),), inputs: int = 4) -> Figure:
    """One :func:`draw_phases` panel per ``(kernel_size, stride)`` in ``settings``, one above the other."""
    settings = [tuple(s) for s in settings]
    fig, axes = plt.subplots(len(settings), 1, figsize=(10, 2.9 * len(settings)), squeeze=False, layout="tight")
    for ax, (kernel_size, stride) in zip(axes[:, 0], settings, strict=True):
        draw_phases(ax, kernel_size, stride, inputs)
    return fig


def plot_signed_difference(a: Tensor, b: Tensor, size: int = 40, names: tuple[str, str] = ("a", "b")) -> Figure:
    """``a - b`` (float ``[C, H, W]``, averaged over channels, or ``[H, W]``) in its top-left ``size x size`` corner:
    blue where ``a`` is smaller, red where larger, white where equal, with a colour bar.
    ValueError for shapes that differ."""
    if a.shape != b.shape or a.dim() not in (2, 3):
        raise ValueError(f"a and b must have one shape, [C, H, W] or [H, W], got {tuple(a.shape)}, {tuple(b.shape)}")
    diff = (a - b).detach().float().cpu()
    diff = (diff.mean(0) if diff.dim() == 3 else diff)[:size, :size].numpy()
    limit = float(np.abs(diff).max()) or 1.0
    ax = _new_axes(1, (4.8, 3.9))[0]
    image = ax.imshow(diff, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    label = f"{names[0]} - {names[1]}" + ("\n(mean over channels)" if a.dim() == 3 else "")
    ax.figure.colorbar(image, ax=ax, shrink=0.85, label=label)
    ax.set(title=f"top-left {diff.shape[0]}x{diff.shape[1]} corner", xlabel="column", ylabel="row")
    return ax.figure
