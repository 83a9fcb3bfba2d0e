"""Upsampling with transposed convolutions: the bilinear kernel, and where kernel taps overlap.

A transposed convolution can *learn* how to upsample, but it is usually started from a
kernel that performs plain bilinear interpolation, so that an untrained FCN already
produces a smooth, correctly aligned enlargement of its coarse class scores.

The second half of this module counts how many kernel taps land on each output pixel.
When the kernel size is not a multiple of the stride those counts are uneven, which is
the origin of the "checkerboard artifacts" of Odena et al. (Distill, 2016).
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .arithmetic import IntOrPair, _pairs, conv_transpose_output_size, upsampling_params

__all__ = [
    "bilinear_kernel",
    "bilinear_upsample",
    "overlap_map",
    "scatter_footprint",
]


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
        raise TypeError(
            f"x must be a floating-point tensor, got {x.dtype}; convert images with x.float() / 255 first."
        )
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
    _, v = _pairs(size=size, kernel_size=kernel_size, stride=stride, padding=padding,
                  output_padding=output_padding, dilation=dilation)
    ones = torch.ones(1, 1, *v["size"])
    kernel = torch.ones(1, 1, *v["kernel_size"])
    y = F.conv_transpose2d(ones, kernel, stride=v["stride"], padding=v["padding"],
                           output_padding=v["output_padding"], dilation=v["dilation"])
    out = y[0, 0]
    assert tuple(out.shape) == (tuple(out_size) if isinstance(out_size, tuple) else (out_size, out_size))
    return out


def scatter_footprint(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    index: Tuple[int, int] = (0, 0),
) -> Tensor:
    """Which output pixels the single input pixel at ``index`` writes to (bool ``(H_out, W_out)``).

    A transposed convolution is easiest to picture as a scatter: input pixel ``(i, j)``
    adds a copy of the kernel, scaled by its value, whose top-left tap lands at output
    position ``(i * stride - padding, j * stride - padding)``. Taps that fall into the
    trimmed ``padding`` border are dropped.
    """
    _, v = _pairs(size=size, kernel_size=kernel_size, stride=stride, padding=padding,
                  output_padding=output_padding, dilation=dilation)
    i, j = index
    if not (0 <= i < v["size"][0] and 0 <= j < v["size"][1]):
        raise ValueError(f"index {index} is outside the {v['size'][0]}x{v['size'][1]} input")
    x = torch.zeros(1, 1, *v["size"])
    x[0, 0, i, j] = 1.0
    # A scatter can be computed exactly as a transposed convolution of a one-hot input.
    conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    y = F.conv_transpose2d(x, torch.ones(1, 1, *v["kernel_size"]), stride=v["stride"], padding=v["padding"],
                           output_padding=v["output_padding"], dilation=v["dilation"])
    return y[0, 0] > 0
