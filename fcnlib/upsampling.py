"""Upsampling: the bilinear kernel, bilinear and transposed-convolution upsampling, overlap
maps and resize-convolutions, and the from-scratch versions the chapters read (loops,
scatter steps, convolution as a matrix).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .shapes import IntOrPair, _pairs, check_int, conv_output_size, conv_transpose_output_size, upsampling_params

__all__ = [
    "border_and_interior_difference",
    "pad_to_multiple",
    "ScatterStep",
    "scatter_step",
    "conv_matrix",
    "bilinear_settings",
    "phase_sums",
    "resize_conv",
    "checkerboard",
    "spread",
    "bilinear_kernel",
    "bilinear_upsample",
    "overlap_map",
]


def _check_tensor(x: object, name: str, dims: Sequence[int]) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {tuple(x.shape)}")
    return x


def border_and_interior_difference(a: Tensor, b: Tensor, border: int) -> tuple[float, float]:
    """``(interior, border)``: the largest ``|a - b|`` away from, and within, ``border`` pixels of the edge."""
    _check_tensor(a, "a", (2, 3, 4))
    _check_tensor(b, "b", (2, 3, 4))
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    check_int(border, "border", 0)
    h, w = a.shape[-2:]
    if 2 * border >= min(h, w):
        raise ValueError(f"border={border} leaves no interior in a {h}x{w} image")
    diff = (a - b).abs()
    interior = diff[..., border : h - border, border : w - border]
    edge = diff.clone()
    edge[..., border : h - border, border : w - border] = 0
    return float(interior.max()), float(edge.max()) if border else 0.0


def pad_to_multiple(x: Tensor, multiple: int = 32, value: float = 0.0) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x [..., H, W]`` with ``value`` at the bottom and right up to multiples of ``multiple``.

    Returns ``(padded, (H, W))``; ``y[..., :H, :W]`` crops a result back.
    """
    _check_tensor(x, "x", (2, 3, 4))
    check_int(multiple, "multiple", 1)
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), value=value), (h, w)


def _as_2d(name: str, t: Tensor) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor [height, width], got shape {tuple(t.shape)}")
    return t.float() if not t.is_floating_point() else t


@dataclass(frozen=True)
class ScatterStep:
    """A hand-run transposed convolution after ``step`` input pixels (see :func:`scatter_step`).

    ``canvas``: the output before ``padding`` trims it; ``output = canvas[top:top+h, left:left+w]``
    with ``crop = (top, left, h, w)``; ``footprint``: the canvas pixels input pixel ``index`` wrote
    (``None`` at step 0).
    """

    step: int
    index: tuple[int, int] | None
    canvas: Tensor
    footprint: Tensor
    crop: tuple[int, int, int, int]
    output: Tensor
    num_steps: int


def scatter_step(
    x: Tensor,
    kernel: Tensor,
    step: int | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> ScatterStep:
    """Run a 2-D transposed convolution by hand over the first ``step`` input pixels (reading order).

    ``x``, ``kernel``: 2-D tensors. Pixel ``(i, j)`` adds ``x[i, j] * kernel`` at ``(i * stride, j * stride)``;
    after all pixels, ``output`` equals ``F.conv_transpose2d`` with the same settings. Impossible
    settings raise :func:`~fcnlib.shapes.conv_transpose_output_size`'s ``ValueError``.
    """
    x = _as_2d("x", x)
    kernel = _as_2d("kernel", kernel).to(x.dtype)
    (n_h, n_w), (k_h, k_w) = x.shape, kernel.shape
    out_h, out_w = conv_transpose_output_size((n_h, n_w), (k_h, k_w), stride, padding, output_padding, dilation)
    num_steps = n_h * n_w
    if step is None:
        step = num_steps
    if check_int(step, "step", 0) > num_steps:
        raise ValueError(f"step must be an int from 0 to {num_steps} (the number of input pixels), got {step!r}")
    span_h, span_w = dilation * (k_h - 1) + 1, dilation * (k_w - 1) + 1
    canvas = torch.zeros(
        (n_h - 1) * stride + span_h + output_padding, (n_w - 1) * stride + span_w + output_padding, dtype=x.dtype
    )
    footprint = torch.zeros(canvas.shape, dtype=torch.bool)
    index = None
    for t in range(step):
        i, j = divmod(t, n_w)
        rows = slice(i * stride, i * stride + span_h, dilation)
        cols = slice(j * stride, j * stride + span_w, dilation)
        canvas[rows, cols] += x[i, j] * kernel
        if t == step - 1:
            index = (i, j)
            footprint[rows, cols] = True
    crop = (padding, padding, out_h, out_w)
    output = canvas[padding : padding + out_h, padding : padding + out_w]
    return ScatterStep(step, index, canvas, footprint, crop, output, num_steps)


def conv_matrix(input_size: tuple[int, int], kernel: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
    """The matrix ``W [out_h * out_w, in_h * in_w]`` with ``conv2d(x).flatten() == W @ x.flatten()``.

    ``W.T @ y.flatten()`` is ``conv_transpose2d(y, kernel, stride, padding)``: hence the name.
    """
    kernel = _as_2d("kernel", kernel)
    in_h, in_w = input_size
    k_h, k_w = kernel.shape
    out_h, out_w = conv_output_size((in_h, in_w), (k_h, k_w), stride, padding)
    W = torch.zeros(out_h * out_w, in_h * in_w, dtype=kernel.dtype)
    for oi in range(out_h):
        for oj in range(out_w):
            for a in range(k_h):
                for b in range(k_w):
                    i, j = oi * stride - padding + a, oj * stride - padding + b
                    if 0 <= i < in_h and 0 <= j < in_w:
                        W[oi * out_w + oj, i * in_w + j] = kernel[a, b]
    return W


def bilinear_settings(factor: int, kernel_size: int) -> tuple[int, int, int]:
    """``(stride, padding, output_padding)`` making a ``kernel_size`` transposed conv upsample ``factor`` times.

    Solves ``k - s = 2p - op`` (output ``n * s`` for every ``n``). ``ValueError`` where no setting
    exists (factor 1 with an even kernel).

    >>> bilinear_settings(2, 4), bilinear_settings(3, 4)
    ((2, 1, 0), (3, 1, 1))
    """
    check_int(factor, "factor", 1)
    check_int(kernel_size, "kernel_size", 1)
    diff = kernel_size - factor
    if diff < 0:
        # The kernel is shorter than the stride: leave gaps, pad nothing.
        return factor, 0, -diff
    if diff % 2 == 0:
        return factor, diff // 2, 0
    if factor == 1:
        raise ValueError(
            f"kernel_size={kernel_size} cannot keep the size at factor 1: k - s = {diff} is odd, so it would need "
            "output_padding=1, but output_padding must be smaller than the stride (1). Use an odd kernel_size."
        )
    return factor, (diff + 1) // 2, 1


def phase_sums(kernel_1d: Tensor, stride: int) -> Tensor:
    """The ``stride`` sums ``kernel_1d[r::stride].sum()``: what a row of ones becomes at each output phase.

    All equal: a smooth result; unequal: stripes (a checkerboard in 2-D).

    >>> phase_sums(torch.tensor([0.25, 0.75, 0.75, 0.25]), 2).tolist()
    [1.0, 1.0]
    """
    if not isinstance(kernel_1d, Tensor) or kernel_1d.dim() != 1:
        raise ValueError("kernel_1d must be a 1-D tensor")
    check_int(stride, "stride", 1)
    return torch.stack([kernel_1d[r::stride].sum() for r in range(stride)])


def resize_conv(x: Tensor, factor: int, kernel: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Resize-convolution (Odena et al. 2016): nearest-neighbour upsampling, then a "same" stride-1 conv.

    ``x``: float ``[N, C, H, W]``; ``kernel``: a ``conv2d`` weight ``[C_out, C, k, k]`` or a ``[k, k]``
    kernel for each channel. Returns ``[N, C_out, H * factor, W * factor]``. ``padding_mode``:
    ``"zeros"`` or ``"replicate"``.
    """
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise TypeError("x must be a floating-point tensor of shape [N, C, H, W]")
    check_int(factor, "factor", 1)
    if padding_mode not in ("zeros", "replicate"):
        raise ValueError(f"padding_mode must be 'zeros' or 'replicate', got {padding_mode!r}")
    groups = 1
    if kernel.dim() == 2:
        groups = x.shape[1]
        kernel = kernel.expand(groups, 1, -1, -1)
    k_h, k_w = kernel.shape[-2:]
    up = x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)
    pads = ((k_w - 1) // 2, k_w // 2, (k_h - 1) // 2, k_h // 2)
    up = F.pad(up, pads, mode="constant" if padding_mode == "zeros" else "replicate")
    return F.conv2d(up, kernel.to(up), groups=groups)


def checkerboard(
    kernel_size: int,
    stride: int,
    layers: int = 1,
    size: int = 4,
    method: str = "transposed",
) -> Tensor:
    """A constant image of ones after ``layers`` upsampling layers, far from any border.

    ``method="transposed"``: stride ``stride``, a uniform ``k x k`` kernel scaled by ``(stride/k)**2``
    (chequered unless ``k`` is a multiple of ``stride``); ``"resize"``: :func:`resize_conv` (flat).
    Each layer continues its input periodically, so no border shows. Returns a square tensor
    of side ``size * stride**layers`` (at most 4096, else ``ValueError``).
    """
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("layers", layers), ("size", size)):
        check_int(value, name, 1)
    if method not in ("transposed", "resize"):
        raise ValueError(f"method must be 'transposed' or 'resize', got {method!r}")
    if size * stride**layers > 4096:
        raise ValueError(
            f"size * stride**layers = {size * stride**layers} pixels is too large to draw; use fewer layers"
        )
    y = torch.ones(1, 1, size, size)
    if method == "resize":
        weight = torch.full((1, 1, kernel_size, kernel_size), 1.0 / kernel_size**2)
        for _ in range(layers):
            y = resize_conv(y, stride, weight, padding_mode="replicate")
        return y[0, 0]
    weight = torch.full((1, 1, kernel_size, kernel_size), (stride / kernel_size) ** 2)
    margin = math.ceil(kernel_size / stride)
    offset = max(kernel_size - stride, 0) // 2  # centre each kernel copy on its input pixel
    for _ in range(layers):
        n = y.shape[-1]
        # The image repeats with a period that divides n: continue it periodically on every side.
        copies = -(-margin // n)
        tiled = y.repeat(1, 1, 2 * copies + 1, 2 * copies + 1)
        c = copies * n
        padded = tiled[..., c - margin : c + n + margin, c - margin : c + n + margin]
        full = F.conv_transpose2d(padded, weight, stride=stride)
        start = margin * stride + offset
        y = full[..., start : start + n * stride, start : start + n * stride]
    return y[0, 0]


def spread(img: Tensor) -> tuple[float, float, float]:
    """``(min, max, (max - min) / mean)`` of an image: 0 spread means perfectly flat."""
    lo, hi, mean = img.min().item(), img.max().item(), img.mean().item()
    return lo, hi, (hi - lo) / mean if mean else float("inf")


def bilinear_kernel(in_channels: int, out_channels: int, kernel_size: int) -> Tensor:
    """The seed's bilinear kernel (d2l 14.11), float32 ``[in_channels, out_channels, k, k]``.

    The product of two 1-D tents ``1 - |t - center| / factor`` with ``factor = (k + 1) // 2``,
    on the diagonal (channel ``c`` feeds only channel ``c``). ``ValueError`` unless
    ``in_channels == out_channels``; ``TypeError``/``ValueError`` for non-positive ints.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
        check_int(value, name, 1)
    if in_channels != out_channels:
        raise ValueError(
            f"in_channels ({in_channels}) must equal out_channels ({out_channels}): the bilinear kernel "
            "upsamples each channel separately and cannot change the number of channels."
        )
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = (torch.arange(kernel_size).reshape(-1, 1), torch.arange(kernel_size).reshape(1, -1))
    filt = (1 - torch.abs(og[0] - center) / factor) * (1 - torch.abs(og[1] - center) / factor)
    weight = torch.zeros((in_channels, out_channels, kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight


def bilinear_upsample(x: Tensor, factor: int, kernel_size: int | None = None) -> Tensor:
    """Upsample ``x`` ``factor`` times with a transposed convolution holding :func:`bilinear_kernel`.

    ``x``: float ``[H, W]``, ``[C, H, W]`` or ``[N, C, H, W]``; the result has the same layout
    with ``H * factor`` by ``W * factor`` pixels. ``kernel_size`` defaults to the one made for
    ``factor`` (:func:`~fcnlib.shapes.upsampling_params`); another size keeps the output size
    (:func:`bilinear_settings`) but stripes the picture. Runs depthwise (one ``k x k`` kernel
    per channel). Away from the border this equals ``F.interpolate(mode="bilinear",
    align_corners=False)``; the outermost ``factor // 2`` pixels come out darker (zeros
    outside). ``TypeError`` for a non-float tensor, ``ValueError`` for another rank.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (2, 3, 4):
        raise ValueError(f"x must have shape [H, W], [C, H, W] or [N, C, H, W]; got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert images with x.float() / 255 first.")
    check_int(factor, "factor", 1)
    if kernel_size is None:
        kernel_size = upsampling_params(factor)[0]
    stride, padding, output_padding = bilinear_settings(factor, kernel_size)
    shape = x.shape
    x4 = x.reshape(-1, 1, *shape[-2:]) if x.dim() == 2 else x.reshape(-1, *shape[-3:]) if x.dim() == 3 else x
    channels = x4.shape[1]
    weight = bilinear_kernel(1, 1, kernel_size).to(x).expand(channels, 1, -1, -1)
    y = F.conv_transpose2d(x4, weight, stride=stride, padding=padding, output_padding=output_padding, groups=channels)
    return y.reshape(*shape[:-2], y.shape[-2], y.shape[-1])


def overlap_map(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """How many kernel taps land on each output pixel of a transposed convolution, float ``[H_out, W_out]``.

    Arguments as :func:`~fcnlib.shapes.conv_transpose_output_size`.

    >>> overlap_map(3, kernel_size=3, stride=2)[0].tolist()
    [1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    out_size = conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    _, v = _pairs(
        size=size,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    ones = torch.ones(1, 1, *v["size"])
    kernel = torch.ones(1, 1, *v["kernel_size"])
    y = F.conv_transpose2d(
        ones,
        kernel,
        stride=v["stride"],
        padding=v["padding"],
        output_padding=v["output_padding"],
        dilation=v["dilation"],
    )
    out = y[0, 0]
    assert tuple(out.shape) == (tuple(out_size) if isinstance(out_size, tuple) else (out_size, out_size))
    return out
