"""Upsampling: the bilinear kernel, bilinear upsampling, overlap maps, resize-convolutions, checkerboards, and
from-scratch versions the chapters read (scatter steps, convolution as a matrix)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .shapes import Pair, check_int, conv_axes, conv_output_size, conv_transpose_output_size, upsampling_params


def _check_tensor(x: object, name: str, dims: Sequence[int]) -> Tensor:
    """``x`` if it is a tensor of one of the ranks ``dims``, as float if it was an int tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in dims:
        raise ValueError(f"{name} must be a {' or '.join(f'{d}-D' for d in dims)} tensor, got shape {tuple(x.shape)}")
    return x if x.is_floating_point() else x.float()


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


@dataclass(frozen=True)
class ScatterStep:
    """:func:`scatter_step`'s result: ``output = canvas[top:top+h, left:left+w]``, ``crop = (top, left, h, w)``;
    ``footprint``: the canvas pixels the last input pixel ``index`` wrote (``None`` at step 0)."""

    step: int
    index: tuple[int, int] | None
    canvas: Tensor
    footprint: Tensor
    crop: tuple[int, int, int, int]
    output: Tensor
    num_steps: int


def scatter_step(
    x: Tensor, kernel: Tensor, step: int | None = None, stride=1, padding=0, output_padding=0, dilation=1
) -> ScatterStep:
    """A 2-D transposed convolution by hand over the first ``step`` pixels of 2-D ``x``: pixel ``(i, j)`` adds ``x[i,
    j] * kernel`` at ``(i * stride, j * stride)``; all steps equal ``F.conv_transpose2d``. ``ValueError`` if impossible."""
    x = _check_tensor(x, "x", (2,))
    kernel = _check_tensor(kernel, "kernel", (2,)).to(x.dtype)
    (n_h, n_w), (k_h, k_w) = x.shape, kernel.shape
    out_h, out_w = conv_transpose_output_size((n_h, n_w), (k_h, k_w), stride, padding, output_padding, dilation)
    num_steps = n_h * n_w
    step = num_steps if step is None else step
    if check_int(step, "step", 0) > num_steps:
        raise ValueError(f"step must be an int from 0 to {num_steps} (the number of input pixels), got {step!r}")
    span_h, span_w = dilation * (k_h - 1) + 1, dilation * (k_w - 1) + 1
    canvas = torch.zeros(out_h + 2 * padding, out_w + 2 * padding, dtype=x.dtype)
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
    output = canvas[padding : padding + out_h, padding : padding + out_w]
    return ScatterStep(step, index, canvas, footprint, (padding, padding, out_h, out_w), output, num_steps)


def conv_matrix(input_size: tuple[int, int], kernel: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
    """``W [out_h * out_w, in_h * in_w]`` with ``conv2d(x).flatten() == W @ x.flatten()``; ``W.T`` is the
    transposed convolution."""
    kernel = _check_tensor(kernel, "kernel", (2,))
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
    """``(stride, padding, output_padding)`` making a ``kernel_size`` transposed conv upsample ``factor`` times
    (``k - s = 2p - op``). ``ValueError`` where none exists (factor 1, even kernel)."""
    diff = check_int(kernel_size, "kernel_size", 1) - check_int(factor, "factor", 1)
    if diff < 0:  # the kernel is shorter than the stride: leave gaps, pad nothing
        return factor, 0, -diff
    if diff % 2 == 0:
        return factor, diff // 2, 0
    if factor == 1:
        msg = f"kernel_size={kernel_size} cannot keep the size at factor 1 (k - s = {diff} is odd, output_padding < 1)"
        raise ValueError(f"{msg}; use an odd kernel_size.")
    return factor, (diff + 1) // 2, 1


def phase_sums(kernel_1d: Tensor, stride: int) -> Tensor:
    """The ``stride`` sums ``kernel_1d[r::stride].sum()``: a row of ones at each output phase (unequal: stripes)."""
    if not isinstance(kernel_1d, Tensor) or kernel_1d.dim() != 1:
        raise ValueError("kernel_1d must be a 1-D tensor")
    check_int(stride, "stride", 1)
    return torch.stack([kernel_1d[r::stride].sum() for r in range(stride)])


def resize_conv(x: Tensor, factor: int, kernel: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Nearest-neighbour upsampling, then a "same" conv (Odena et al. 2016): float ``x [N, C, H, W]``, ``kernel
    [C_out, C, k, k]`` or ``[k, k]`` per channel -> ``[N, C_out, H * factor, W * factor]``; "zeros"/"replicate"."""
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise TypeError("x must be a floating-point tensor of shape [N, C, H, W]")
    check_int(factor, "factor", 1)
    if padding_mode not in ("zeros", "replicate"):
        raise ValueError(f"padding_mode must be 'zeros' or 'replicate', got {padding_mode!r}")
    groups = x.shape[1] if kernel.dim() == 2 else 1  # a [k, k] kernel: the same for each channel
    kernel = kernel.expand(groups, 1, -1, -1) if kernel.dim() == 2 else kernel
    k_h, k_w = kernel.shape[-2:]
    up = x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)
    pads = ((k_w - 1) // 2, k_w // 2, (k_h - 1) // 2, k_h // 2)
    up = F.pad(up, pads, mode="constant" if padding_mode == "zeros" else "replicate")
    return F.conv2d(up, kernel.to(up), groups=groups)


def checkerboard(kernel_size: int, stride: int, layers: int = 1, size: int = 4, method: str = "transposed") -> Tensor:
    """Ones after ``layers`` upsampling layers, periodic (no border), side ``size * stride**layers`` <= 4096: a uniform
    ``k x k`` kernel times ``(stride/k)**2`` (``method="transposed"``) or :func:`resize_conv` (``"resize"``)."""
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("layers", layers), ("size", size)):
        check_int(value, name, 1)
    if method not in ("transposed", "resize"):
        raise ValueError(f"method must be 'transposed' or 'resize', got {method!r}")
    if size * stride**layers > 4096:
        raise ValueError(f"size * stride**layers = {size * stride**layers} pixels is too large; use fewer layers")
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
        copies = -(-margin // n)  # the image's period divides n: tile it, then cut n + 2 * margin
        cut = slice(copies * n - margin, copies * n + n + margin)
        tiled = y.repeat(1, 1, 2 * copies + 1, 2 * copies + 1)[..., cut, cut]
        keep = slice(margin * stride + offset, margin * stride + offset + n * stride)
        y = F.conv_transpose2d(tiled, weight, stride=stride)[..., keep, keep]
    return y[0, 0]


def spread(img: Tensor) -> tuple[float, float, float]:
    """``(min, max, (max - min) / mean)`` of an image: 0 spread means perfectly flat."""
    lo, hi, mean = img.min().item(), img.max().item(), img.mean().item()
    return lo, hi, (hi - lo) / mean if mean else float("inf")


def bilinear_kernel(in_channels: int, out_channels: int, kernel_size: int) -> Tensor:
    """d2l's bilinear kernel (d2l 14.11), float32 ``[in_channels, out_channels, k, k]``, channel ``c`` to ``c``
    only. ``ValueError`` unless ``in_channels == out_channels``; ints below 1 are refused."""
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
        check_int(value, name, 1)
    if in_channels != out_channels:
        msg = f"in_channels ({in_channels}) must equal out_channels ({out_channels})"
        raise ValueError(f"{msg}: the bilinear kernel upsamples each channel alone and cannot change their number.")
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    tent = 1 - torch.abs(torch.arange(kernel_size) - center) / factor
    filt = tent.reshape(-1, 1) * tent.reshape(1, -1)
    weight = torch.zeros((in_channels, out_channels, kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight


def bilinear_upsample(x: Tensor, factor: int, kernel_size: int | None = None) -> Tensor:
    """Float ``x [H, W]``, ``[C, H, W]`` or ``[N, C, H, W]`` ``factor`` times larger by a depthwise transposed conv
    holding :func:`bilinear_kernel`: ``F.interpolate(mode="bilinear")`` but for the outer ``factor // 2`` pixels.
    ``TypeError`` for a non-float tensor, ``ValueError`` for another rank."""
    if isinstance(x, Tensor) and not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert images with x.float() / 255 first.")
    _check_tensor(x, "x", (2, 3, 4))
    check_int(factor, "factor", 1)
    kernel_size = upsampling_params(factor)[0] if kernel_size is None else kernel_size
    s, p, op = bilinear_settings(factor, kernel_size)
    x4 = x.reshape(-1, 1, *x.shape[-2:]) if x.dim() == 2 else x.reshape(-1, *x.shape[-3:])
    weight = bilinear_kernel(1, 1, kernel_size).to(x).expand(x4.shape[1], 1, -1, -1)
    y = F.conv_transpose2d(x4, weight, stride=s, padding=p, output_padding=op, groups=x4.shape[1])
    return y.reshape(*x.shape[:-2], *y.shape[-2:])


def overlap_map(
    size: Pair, kernel_size: Pair, stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0, dilation: Pair = 1
) -> Tensor:
    """How many kernel taps land on each output pixel of a transposed convolution, float ``[H_out, W_out]``.
    Arguments and errors as :func:`~fcnlib.shapes.conv_transpose_output_size`."""
    conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    _, ((_, *height), (_, *width)) = conv_axes(size, kernel_size, stride, padding, output_padding, dilation)
    n, k, s, p, op, d = zip(height, width, strict=True)
    return F.conv_transpose2d(
        torch.ones(1, 1, *n), torch.ones(1, 1, *k), stride=s, padding=p, output_padding=op, dilation=d
    )[0, 0]
