"""Small pure computations behind the lessons' pictures and explorers.

Each function here answers one "what happens if ...?" question with plain tensors, so a
figure or a slider only has to draw the answer, and a test can check the answer against
PyTorch's own operators:

* :func:`scatter_step`: a transposed convolution done by hand, one input pixel at a time
  (the "scatter" picture of chapter 2).
* :func:`conv_matrix`: a convolution written as one matrix; its transpose *is* the
  transposed convolution, which is where the name comes from.
* :func:`bilinear_settings`, :func:`bilinear_transposed_conv`, :func:`phase_sums`: what
  happens when a bilinear kernel is used at a stride it was not made for.
* :func:`resize_conv` and :func:`checkerboard`: Odena et al.'s resize-convolution, and the
  checkerboard pattern a constant image picks up after one or several transposed
  convolutions.
* :func:`sample_photo`: matplotlib's bundled photo of Grace Hopper, so nothing is downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .arithmetic import conv_output_size, conv_transpose_output_size
from .upsampling import bilinear_kernel

__all__ = [
    "ScatterStep",
    "scatter_step",
    "conv_matrix",
    "bilinear_settings",
    "bilinear_transposed_conv",
    "phase_sums",
    "resize_conv",
    "checkerboard",
    "spread",
    "sample_photo",
]


def _as_2d(name: str, t: Tensor) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor [height, width], got shape {tuple(t.shape)}")
    return t.float() if not t.is_floating_point() else t


# --------------------------------------------------------------------------------------
# A transposed convolution, one input pixel at a time
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScatterStep:
    """The state of a hand-run transposed convolution after ``step`` input pixels.

    ``canvas`` is the full output *before* ``padding`` trims its border: every input pixel
    adds its kernel copy here. ``output`` is the part that is kept, ``canvas[top:top+h,
    left:left+w]`` with ``crop = (top, left, h, w)``. ``footprint`` marks the canvas pixels
    the most recent input pixel (``index``) wrote to; ``index`` is ``None`` at step 0.
    """

    step: int
    index: Optional[Tuple[int, int]]
    canvas: Tensor
    footprint: Tensor
    crop: Tuple[int, int, int, int]
    output: Tensor
    num_steps: int


def scatter_step(
    x: Tensor,
    kernel: Tensor,
    step: Optional[int] = None,
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
    canvas = torch.zeros((n_h - 1) * stride + span_h + output_padding, (n_w - 1) * stride + span_w + output_padding,
                         dtype=x.dtype)
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
    output = canvas[padding:padding + out_h, padding:padding + out_w]
    return ScatterStep(step, index, canvas, footprint, crop, output, num_steps)


# --------------------------------------------------------------------------------------
# Convolution as a matrix
# --------------------------------------------------------------------------------------


def conv_matrix(input_size: Tuple[int, int], kernel: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
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


# --------------------------------------------------------------------------------------
# A bilinear kernel at any stride
# --------------------------------------------------------------------------------------


def bilinear_settings(factor: int, kernel_size: int) -> Tuple[int, int, int]:
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
    y = F.conv_transpose2d(x4, weight, stride=stride, padding=padding, output_padding=output_padding,
                           groups=channels)
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


# --------------------------------------------------------------------------------------
# Checkerboard artifacts and resize-convolution
# --------------------------------------------------------------------------------------


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
    if size * stride ** layers > 4096:
        raise ValueError(
            f"size * stride**layers = {size * stride ** layers} pixels is too large to draw; use fewer layers"
        )
    y = torch.ones(1, 1, size, size)
    if method == "resize":
        weight = torch.full((1, 1, kernel_size, kernel_size), 1.0 / kernel_size ** 2)
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
        padded = tiled[..., c - margin:c + n + margin, c - margin:c + n + margin]
        full = F.conv_transpose2d(padded, weight, stride=stride)
        start = margin * stride + offset
        y = full[..., start:start + n * stride, start:start + n * stride]
    return y[0, 0]


def spread(img: Tensor) -> Tuple[float, float, float]:
    """``(min, max, (max - min) / mean)`` of an image: 0 spread means perfectly flat."""
    lo, hi, mean = img.min().item(), img.max().item(), img.mean().item()
    return lo, hi, (hi - lo) / mean if mean else float("inf")


# --------------------------------------------------------------------------------------
# The sample photo
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _photo(size: Optional[Tuple[int, int]], face: bool) -> Tensor:
    import numpy as np
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB")
        img.load()
    if face:
        # A square crop around the face (the photo is 512 wide, 600 high).
        img = img.crop((96, 40, 416, 360))
    if size is not None:
        img = img.resize((size[1], size[0]), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255


def sample_photo(size: Optional[Sequence[int]] = None, face: bool = True) -> Tensor:
    """Matplotlib's bundled photo of Grace Hopper as a ``[3, H, W]`` float tensor in ``[0, 1]``.

    It ships with matplotlib, so no download is needed. ``face=True`` crops a square around
    her face; ``size=(height, width)`` resizes (bicubic) to that many pixels, which keeps
    interactive pictures quick (a 32 x 32 face upsampled 8 times is still only 256 x 256).
    """
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (height, width) with positive ints, got {size!r}")
    return _photo(size, bool(face)).clone()
