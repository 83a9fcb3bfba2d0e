"""Small, hand-written helpers for the chapters on upsampling (1 and 2).

Each function spells out one mechanism with plain loops and arithmetic, so that a learner
can read it and then watch PyTorch's fast operator compute the same numbers:

* :func:`linear_interpolate`, :func:`bilinear_interpolate`, :func:`source_coordinate` and
  :func:`bilinear_resize_by_hand`: interpolation by hand, the way ``F.interpolate`` does it.
* :func:`tent_weights`: the 1-D profile whose outer product is the seed's ``bilinear_kernel``.
* :func:`border_and_interior_difference`: where two upsamplings agree and where they do not.
* :func:`backbone_size_trace`: ResNet-18's five halvings (and FCN's way back up) with the
  output-size formulas, no network needed.
* :func:`pad_to_multiple`: the simplest way to run a net that needs multiples of 32 on an
  image of any size (``fcnlib.predict.full_scores`` also tiles).
* :func:`pool_and_upsample_three_ways`: the seed's three upsampling methods on one map.

The convolution matrix, the step-by-step scatter and the sample photo live in
:mod:`fcnlib.explain`. The tests check every function here against PyTorch's own operators
or hand-computed numbers.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .arithmetic import conv_output_size, conv_transpose_output_size
from .upsampling import bilinear_upsample

__all__ = [
    "linear_interpolate",
    "bilinear_interpolate",
    "source_coordinate",
    "bilinear_resize_by_hand",
    "tent_weights",
    "border_and_interior_difference",
    "RESNET18_DOWNSAMPLING",
    "backbone_size_trace",
    "pad_to_multiple",
    "pool_and_upsample_three_ways",
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


# --------------------------------------------------------------------------------------
# Interpolation by hand
# --------------------------------------------------------------------------------------

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


def border_and_interior_difference(a: Tensor, b: Tensor, border: int) -> Tuple[float, float]:
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
    interior = diff[..., border:h - border, border:w - border]
    edge = diff.clone()
    edge[..., border:h - border, border:w - border] = 0
    return float(interior.max()), float(edge.max()) if border else 0.0


# --------------------------------------------------------------------------------------
# Sizes through ResNet-18 and back; images of any size
# --------------------------------------------------------------------------------------

RESNET18_DOWNSAMPLING: Tuple[Tuple[str, int, int, int], ...] = (
    ("conv1", 7, 2, 3),
    ("maxpool", 3, 2, 1),
    ("layer1", 3, 1, 1),
    ("layer2", 3, 2, 1),
    ("layer3", 3, 2, 1),
    ("layer4", 3, 2, 1),
)
"""``(stage, kernel_size, stride, padding)`` of the layer in each stage that sets its output size."""


def backbone_size_trace(
    size: Tuple[int, int], kernel_size: int = 64, stride: int = 32, padding: int = 16
) -> List[Tuple[str, Tuple[int, int]]]:
    """``(stage, (H, W))`` after each stage of ResNet-18, then after FCN's transposed convolution.

    Computed with :func:`~fcnlib.arithmetic.conv_output_size` alone: five stages halve the
    size (rounding *up*, because of their padding), so ``H`` comes back unchanged only when
    it is a multiple of 32. The last row applies the transposed convolution (by default the
    seed's ``k=64, s=32, p=16``), which multiplies by exactly 32.
    """
    trace = [("input", tuple(size))]
    current = tuple(size)
    for name, k, s, p in RESNET18_DOWNSAMPLING:
        current = conv_output_size(current, k, s, p)
        trace.append((name, current))
    trace.append(("transpose_conv", conv_transpose_output_size(current, kernel_size, stride, padding)))
    return trace


def pad_to_multiple(x: Tensor, multiple: int = 32, value: float = 0.0) -> Tuple[Tensor, Tuple[int, int]]:
    """Pad ``x`` (``[..., H, W]``) at the bottom and right up to the next multiples of ``multiple``.

    Returns ``(padded, (H, W))``; crop a result back with ``y[..., :H, :W]``. Padding at
    the bottom-right only keeps pixel ``(0, 0)`` where it was, so the crop is a plain slice.
    """
    _check_tensor(x, "x", (2, 3, 4))
    _check_int(multiple, "multiple", 1)
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), value=value), (h, w)


# --------------------------------------------------------------------------------------
# The seed's three upsampling methods
# --------------------------------------------------------------------------------------

def pool_and_upsample_three_ways(x: Tensor, factor: int = 2) -> Dict[str, Tensor]:
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
