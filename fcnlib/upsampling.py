"""Upsampling: the bilinear kernel, bilinear and transposed-convolution upsampling, overlap
maps and resize-convolutions, and the from-scratch versions the chapters read (loops,
scatter steps, convolution as a matrix).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .shapes import IntOrPair, _pairs, conv_output_size, conv_transpose_output_size, upsampling_params

__all__ = [
    "linear_interpolate",
    "bilinear_interpolate",
    "source_coordinate",
    "bilinear_resize_by_hand",
    "tent_weights",
    "border_and_interior_difference",
    "pad_to_multiple",
    "pool_and_upsample_three_ways",
    "roughness",
    "ScatterStep",
    "scatter_step",
    "conv_matrix",
    "bilinear_settings",
    "bilinear_transposed_conv",
    "phase_sums",
    "resize_conv",
    "checkerboard",
    "spread",
    "bilinear_kernel",
    "bilinear_upsample",
    "overlap_map",
]


Number = Union[int, float]


def _check_tensor(x: object, name: str, dims: Sequence[int]) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {tuple(x.shape)}")
    return x


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def linear_interpolate(values: Sequence[Number], x: float) -> float:
    """The value at position ``x`` of the straight lines joining ``values`` placed at 0, 1, 2, ...

    Linear interpolation draws a straight line between two known neighbours and reads the
    line off at ``x``. With ``i = floor(x)`` and ``t = x - i`` (how far ``x`` is past ``i``),
    the answer is ``(1 - t) * values[i] + t * values[i + 1]``: each neighbour's weight is
    one minus its distance to ``x``. ``x`` must lie within ``[0, len(values) - 1]``.

    >>> linear_interpolate([10, 20, 40], 1.25)
    25.0
    """
    v = [float(a) for a in values]
    if len(v) < 1:
        raise ValueError("values must hold at least one number")
    if not 0 <= x <= len(v) - 1:
        raise ValueError(f"x={x} is outside the known positions 0..{len(v) - 1}; interpolation does not extrapolate")
    i = min(int(math.floor(x)), len(v) - 2) if len(v) > 1 else 0
    t = x - i
    return (1 - t) * v[i] + (t * v[i + 1] if t else 0.0)


def bilinear_interpolate(grid: Tensor, y: float, x: float) -> float:
    """The value of a 2-D ``grid`` at the real-valued position ``(y, x)``, by bilinear interpolation.

    Bilinear interpolation is linear interpolation done twice: first along ``x`` in the
    two rows above and below ``y``, then along ``y`` between those two results. The four
    nearest pixels get the weights ``(1 - ty)(1 - tx)``, ``(1 - ty) tx``, ``ty (1 - tx)`` and
    ``ty tx``, which add up to 1. Pixel ``(r, c)`` sits at position ``(r, c)``.
    """
    _check_tensor(grid, "grid", (2,))
    h, w = grid.shape
    if not (0 <= y <= h - 1 and 0 <= x <= w - 1):
        raise ValueError(f"(y, x)=({y}, {x}) is outside the grid's positions (0..{h - 1}, 0..{w - 1})")
    r = min(int(math.floor(y)), max(h - 2, 0))
    ty = y - r
    rows = [grid[r].tolist()] + ([grid[r + 1].tolist()] if h > 1 else [])
    top = linear_interpolate(rows[0], x)
    if ty == 0:
        return top
    bottom = linear_interpolate(rows[1], x)
    return (1 - ty) * top + ty * bottom


def source_coordinate(out_index: int, factor: float) -> float:
    """Where output pixel ``out_index`` of an upsampling by ``factor`` lies on the input's pixel grid.

    Think of pixels as little squares with their centres at 0.5, 1.5, ... in continuous
    coordinates. Enlarging by ``factor`` maps output centre ``out_index + 0.5`` to input
    coordinate ``(out_index + 0.5) / factor``; subtracting 0.5 turns that back into a
    pixel index with fractions: ``(out_index + 0.5) / factor - 0.5``. This is
    ``F.interpolate(..., align_corners=False)``'s convention.

    >>> [source_coordinate(i, 2) for i in range(4)]
    [-0.25, 0.25, 0.75, 1.25]
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    return (out_index + 0.5) / factor - 0.5


def bilinear_resize_by_hand(grid: Tensor, factor: int) -> Tensor:
    """Enlarge a small 2-D ``grid`` ``factor`` times with explicit loops (slow; for tiny grids).

    For every output pixel: find its position on the input with
    :func:`source_coordinate`, clamp it into ``[0, size - 1]`` (outside the image the edge
    pixel is repeated), and read the value off with :func:`bilinear_interpolate`. The
    result equals ``F.interpolate(grid[None, None], scale_factor=factor, mode="bilinear",
    align_corners=False)``.
    """
    _check_tensor(grid, "grid", (2,))
    _check_int(factor, "factor", 1)
    h, w = grid.shape
    if h * w * factor * factor > 10_000:
        raise ValueError(f"{h}x{w} upsampled {factor} times is too big for the hand-written loop; use F.interpolate")
    out = torch.empty(h * factor, w * factor, dtype=torch.float64)
    for i in range(h * factor):
        y = min(max(source_coordinate(i, factor), 0.0), h - 1)
        for j in range(w * factor):
            x = min(max(source_coordinate(j, factor), 0.0), w - 1)
            out[i, j] = bilinear_interpolate(grid, y, x)
    return out


def tent_weights(kernel_size: int) -> Tensor:
    """The 1-D "tent" of the seed's ``bilinear_kernel``: ``1 - |i - center| / factor`` for each tap ``i``.

    ``factor = (kernel_size + 1) // 2`` is the upsampling factor the kernel is made for; a
    tap at distance ``factor`` (one *input* pixel, in output pixels) gets weight 0. The
    centre is a tap for odd ``kernel_size`` and lies halfway between the two middle taps for
    even ``kernel_size``. The seed's 2-D kernel is the outer product ``tent[:, None] *
    tent[None, :]``.

    >>> tent_weights(4).tolist()
    [0.25, 0.75, 0.75, 0.25]
    """
    _check_int(kernel_size, "kernel_size", 1)
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    return 1 - (torch.arange(kernel_size) - center).abs() / factor


def border_and_interior_difference(a: Tensor, b: Tensor, border: int) -> tuple[float, float]:
    """``(interior, border)``: the largest ``|a - b|`` away from, and within, ``border`` pixels of the edge.

    Two upsamplings can agree everywhere except near the image's edge, where each has to
    invent the pixels outside the image. Splitting the difference this way shows that.
    """
    _check_tensor(a, "a", (2, 3, 4))
    _check_tensor(b, "b", (2, 3, 4))
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    _check_int(border, "border", 0)
    h, w = a.shape[-2:]
    if 2 * border >= min(h, w):
        raise ValueError(f"border={border} leaves no interior in a {h}x{w} image")
    diff = (a - b).abs()
    interior = diff[..., border : h - border, border : w - border]
    edge = diff.clone()
    edge[..., border : h - border, border : w - border] = 0
    return float(interior.max()), float(edge.max()) if border else 0.0


def pad_to_multiple(x: Tensor, multiple: int = 32, value: float = 0.0) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x`` (``[..., H, W]``) at the bottom and right up to the next multiples of ``multiple``.

    Returns ``(padded, (H, W))``; crop a result back with ``y[..., :H, :W]``. Padding at
    the bottom-right only keeps pixel ``(0, 0)`` where it was, so the crop is a plain slice.
    """
    _check_tensor(x, "x", (2, 3, 4))
    _check_int(multiple, "multiple", 1)
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), value=value), (h, w)


def pool_and_upsample_three_ways(x: Tensor, factor: int = 2) -> dict[str, Tensor]:
    """Max-pool ``x`` by ``factor`` and bring it back to full size in the seed's three ways.

    Returns a dict with ``"pooled"`` (the small map) and three upsamplings of it:

    * ``"transposed conv"``: a transposed convolution with the bilinear kernel
      (:func:`~fcnlib.upsampling.bilinear_upsample`; in an FCN this layer is then trained);
    * ``"bilinear interpolation"``: ``F.interpolate(mode="bilinear")``, nothing to learn;
    * ``"max-unpooling"``: ``nn.MaxUnpool2d`` puts each maximum back where the pooling found
      it (the pooling *indices*) and fills the rest with zeros, as SegNet does.

    ``x`` is ``[C, H, W]`` or ``[N, C, H, W]`` with ``H`` and ``W`` multiples of ``factor``.
    """
    _check_tensor(x, "x", (3, 4))
    _check_int(factor, "factor", 1)
    if x.shape[-2] % factor or x.shape[-1] % factor:
        raise ValueError(f"height and width {tuple(x.shape[-2:])} must be multiples of factor={factor}")
    batch = x if x.dim() == 4 else x.unsqueeze(0)
    pooled, indices = nn.MaxPool2d(factor, return_indices=True)(batch)
    results = {
        "pooled": pooled,
        "transposed conv": bilinear_upsample(pooled, factor),
        "bilinear interpolation": F.interpolate(pooled, scale_factor=factor, mode="bilinear", align_corners=False),
        "max-unpooling": nn.MaxUnpool2d(factor)(pooled, indices, output_size=batch.shape[-2:]),
    }
    return results if x.dim() == 4 else {k: v[0] for k, v in results.items()}


def roughness(x: Tensor) -> float:
    """How jagged a map is: mean absolute difference of neighbouring pixels over the values' std.

    For ``x`` of shape ``[..., H, W]`` this averages ``|x[i, j+1] - x[i, j]|`` and
    ``|x[i+1, j] - x[i, j]|`` over all pixels and leading dimensions, and divides by the
    standard deviation of ``x`` so that the number does not depend on the scale of the
    scores. A smooth ramp scores close to 0, white noise about 1.13 (``2 / sqrt(pi)``), a
    +1/-1 checkerboard 2.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2 or x.shape[-1] < 2 or x.shape[-2] < 2:
        raise ValueError(f"x must have at least 2x2 pixels in its last two dimensions, got {tuple(x.shape)}")
    x = x.detach().double()
    std = x.std(unbiased=False)
    if std == 0:
        return 0.0
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs()
    mean_diff = (dx.sum() + dy.sum()) / (dx.numel() + dy.numel())
    return float(mean_diff / std)


def _as_2d(name: str, t: Tensor) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor [height, width], got shape {tuple(t.shape)}")
    return t.float() if not t.is_floating_point() else t


@dataclass(frozen=True)
class ScatterStep:
    """The state of a hand-run transposed convolution after ``step`` input pixels.

    ``canvas`` is the full output *before* ``padding`` trims its border: every input pixel
    adds its kernel copy here. ``output`` is the part that is kept, ``canvas[top:top+h,
    left:left+w]`` with ``crop = (top, left, h, w)``. ``footprint`` marks the canvas pixels
    the most recent input pixel (``index``) wrote to; ``index`` is ``None`` at step 0.
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
    """Run a 2-D transposed convolution by hand for the first ``step`` input pixels.

    Input pixels are visited in reading order. Pixel ``(i, j)`` adds ``x[i, j] * kernel``
    to the canvas with its top-left tap at ``(i * stride, j * stride)`` and its taps
    ``dilation`` pixels apart. When all pixels are done (``step=None`` or
    ``x.numel()``), trimming ``padding`` pixels from every side (and keeping
    ``output_padding`` extra rows/columns at the bottom/right) gives exactly
    ``F.conv_transpose2d(x, kernel, stride, padding, output_padding, dilation=dilation)``.

    Impossible settings raise the same ``ValueError`` as
    :func:`fcnlib.arithmetic.conv_transpose_output_size`.
    """
    x = _as_2d("x", x)
    kernel = _as_2d("kernel", kernel).to(x.dtype)
    (n_h, n_w), (k_h, k_w) = x.shape, kernel.shape
    out_h, out_w = conv_transpose_output_size((n_h, n_w), (k_h, k_w), stride, padding, output_padding, dilation)
    num_steps = n_h * n_w
    if step is None:
        step = num_steps
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= num_steps:
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
    """The matrix ``W`` with ``conv2d(x).flatten() == W @ x.flatten()``.

    Row ``r`` belongs to output pixel ``r`` (reading order) and holds the kernel's taps in
    the columns of the input pixels that the kernel covers there; taps that fall on the
    zero padding simply vanish. ``W`` has shape ``[out_h * out_w, in_h * in_w]``: a
    convolution maps many pixels to few. Its transpose ``W.T`` maps few to many, and
    ``W.T @ y.flatten()`` is exactly ``conv_transpose2d(y, kernel, stride, padding)``:
    the transposed convolution gets its name from this matrix.
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
    """``(stride, padding, output_padding)`` that make a ``kernel_size`` transposed conv upsample ``factor`` times.

    The output size ``(n - 1) * s - 2p + k + op`` equals ``n * s`` for every ``n`` when
    ``k - s = 2p - op``. With the kernel made for this factor (see
    :func:`fcnlib.arithmetic.upsampling_params`) that is ``op = 0``; any other kernel size
    works too, which lets a learner see what a *mismatched* kernel does. For ``factor=1``
    with an even kernel no setting keeps the size (``op`` would have to be 1, but must stay
    below the stride): that raises a ``ValueError``.

    >>> bilinear_settings(2, 4)     # the seed's kernel: stride 2, padding 1
    (2, 1, 0)
    >>> bilinear_settings(3, 4)     # a factor-2 kernel used for factor 3
    (3, 1, 1)
    """
    for name, value in (("factor", factor), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
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


def bilinear_transposed_conv(x: Tensor, kernel_size: int, factor: int) -> Tensor:
    """Upsample ``x`` (``[H, W]``, ``[C, H, W]`` or ``[N, C, H, W]``) ``factor`` times with a bilinear kernel of ``kernel_size``.

    With ``kernel_size == upsampling_params(factor)[0]`` this is
    :func:`fcnlib.upsampling.bilinear_upsample`. Other sizes show what goes wrong when the
    kernel does not fit the stride: the taps that land on neighbouring output pixels no
    longer add up to the same total (see :func:`phase_sums`), so the picture is striped.
    """
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() not in (2, 3, 4):
        raise TypeError("x must be a floating-point tensor of shape [H, W], [C, H, W] or [N, C, H, W]")
    stride, padding, output_padding = bilinear_settings(factor, kernel_size)
    shape = x.shape
    x4 = x.reshape(-1, 1, *shape[-2:]) if x.dim() == 2 else x.reshape(-1, *shape[-3:]) if x.dim() == 3 else x
    channels = x4.shape[1]
    weight = bilinear_kernel(1, 1, kernel_size).to(x).expand(channels, 1, -1, -1)
    y = F.conv_transpose2d(x4, weight, stride=stride, padding=padding, output_padding=output_padding, groups=channels)
    return y.reshape(*shape[:-2], y.shape[-2], y.shape[-1])


def phase_sums(kernel_1d: Tensor, stride: int) -> Tensor:
    """Total weight each output phase receives from a 1-D kernel used at ``stride``.

    Inside a transposed convolution, output pixel ``q`` collects the kernel taps
    ``q - i * stride`` from every input pixel ``i``, i.e. the taps whose position is
    ``q (mod stride)``. So the ``stride`` sums ``kernel_1d[r::stride].sum()`` are what a
    constant input of ones turns into, pixel by pixel. All equal: a smooth result. Unequal:
    stripes (in 2-D, a checkerboard, since the 2-D sums are products of two 1-D sums).

    >>> phase_sums(torch.tensor([0.25, 0.75, 0.75, 0.25]), 2).tolist()
    [1.0, 1.0]
    """
    if not isinstance(kernel_1d, Tensor) or kernel_1d.dim() != 1:
        raise ValueError("kernel_1d must be a 1-D tensor")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    return torch.stack([kernel_1d[r::stride].sum() for r in range(stride)])


def resize_conv(x: Tensor, factor: int, kernel: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Resize-convolution (Odena et al., 2016): nearest-neighbour upsampling, then a stride-1 convolution.

    ``x`` is ``[N, C, H, W]``; ``kernel`` is a ``conv2d`` weight ``[C_out, C, k, k]`` (or a
    2-D ``[k, k]`` kernel applied to each channel separately). The convolution keeps the
    size ("same" padding: ``(k - 1) // 2`` before, ``k // 2`` after, as ``conv2d(padding=
    "same")`` does), so the result is ``[N, C_out, H * factor, W * factor]``. Every output
    pixel sees the same number of kernel taps, so a constant image stays constant away from
    the border: no checkerboard. ``padding_mode="replicate"`` repeats edge pixels instead of
    padding with zeros, which removes the dark border too.
    """
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise TypeError("x must be a floating-point tensor of shape [N, C, H, W]")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
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
    """A constant image of ones after ``layers`` upsampling layers, away from any border.

    ``method="transposed"``: each layer is a transposed convolution with stride ``stride``
    and a uniform ``kernel_size x kernel_size`` kernel, scaled by ``(stride/kernel_size)**2``
    so that the *average* pixel stays 1. Each output pixel receives as many taps as
    :func:`fcnlib.upsampling.overlap_map` counts, so the result is that map's repeating
    pattern: flat when ``kernel_size`` is a multiple of ``stride``, chequered otherwise. A
    second layer multiplies its own pattern into the first one's, so artifacts compound.

    ``method="resize"``: each layer is :func:`resize_conv` (nearest-neighbour upsampling by
    ``stride``, then a uniform ``kernel_size`` convolution scaled by ``1/kernel_size**2``):
    every pixel stays exactly 1.

    To show the middle of an infinitely large constant image (so borders do not hide the
    pattern) each layer continues its input periodically (after ``l`` layers the image
    repeats every ``stride**l`` pixels, and its size is a multiple of that) and crops its
    output back to ``stride`` times the input size. Returns a ``[size * stride**layers]``-square
    tensor.
    """
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("layers", layers), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
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
    """The seed's bilinear upsampling kernel, shape ``[in_channels, out_channels, k, k]``.

    A tap at distance ``t`` from the kernel's centre gets weight ``1 - |t| / factor`` along
    each axis (a "tent"), and the 2-D weight is the product of the two axes' tents. With
    ``factor = (k + 1) // 2`` (the upsampling factor the kernel is made for) the tent
    reaches zero exactly one input pixel away, which is what linear interpolation between
    neighbouring pixels means. The centre sits on a pixel for odd ``k`` and between the two
    middle pixels for even ``k``.

    Channel ``c`` of the input feeds only channel ``c`` of the output (the kernel is
    "channel-diagonal"): upsampling must not mix class scores. So ``in_channels`` must
    equal ``out_channels``, as in the seed where both are the 21 VOC classes.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
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


def bilinear_upsample(x: Tensor, factor: int) -> Tensor:
    """Upsample ``x`` exactly ``factor`` times with a bilinear-initialised transposed convolution.

    ``x`` may be ``[H, W]``, ``[C, H, W]`` or ``[N, C, H, W]``; the result has the same
    layout with ``H * factor`` by ``W * factor`` pixels. The kernel and padding come from
    :func:`upsampling_params` and :func:`bilinear_kernel`; it runs as a depthwise
    ``conv_transpose2d`` (one ``k x k`` kernel per channel), which is what the channel-
    diagonal kernel amounts to, without ``C**2`` mostly-zero weights.

    Away from the border this equals ``F.interpolate(mode="bilinear", align_corners=False)``.
    At the border the transposed convolution treats pixels outside the image as zeros
    (they contribute nothing), so the outermost ``factor // 2`` rows and columns come
    out darker, where ``F.interpolate`` repeats the edge pixel instead.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (2, 3, 4):
        raise ValueError(f"x must have shape [H, W], [C, H, W] or [N, C, H, W]; got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert images with x.float() / 255 first.")
    kernel_size, stride, padding = upsampling_params(factor)
    shape = x.shape
    x4 = x.reshape(-1, 1, *shape[-2:]) if x.dim() == 2 else x.reshape(-1, *shape[-3:]) if x.dim() == 3 else x
    channels = x4.shape[1]
    weight = bilinear_kernel(1, 1, kernel_size).to(device=x.device, dtype=x.dtype).expand(channels, 1, -1, -1)
    y = F.conv_transpose2d(x4, weight, stride=stride, padding=padding, groups=channels)
    return y.reshape(*shape[:-2], y.shape[-2], y.shape[-1])


def overlap_map(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """How many kernel taps land on each output pixel of a transposed convolution.

    Returns a float tensor of shape ``(H_out, W_out)``. If every value is the same, a
    constant input gives a constant output (after the border). When ``kernel_size`` is
    not a multiple of ``stride`` some output pixels receive more taps than their
    neighbours: a constant input then comes out striped or chequered.

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
