"""Shapes: output sizes of convolutions and transposed convolutions, ``upsampling_params``,
the ResNet-18 stage table, and the coordinate bookkeeping of skip connections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple, Union

import torch
from torch import Tensor, nn

__all__ = [
    "RESNET18_DOWNSAMPLING",
    "conv_output_size",
    "conv_transpose_output_size",
    "explain_conv_transpose_output_size",
    "upsampling_params",
    "backbone_size_trace",
    "Stage",
    "stage_shapes",
    "format_stage_table",
    "Layer",
    "coordinate_map",
    "chain_sizes",
    "vgg16_fcn_layers",
    "resnet18_fcn_layers",
]


IntOrPair = Union[int, Sequence[int]]


def _pairs(**kwargs: IntOrPair) -> tuple[bool, dict]:
    """Split every argument into (height, width) values; remember whether any was a pair."""
    any_pair = False
    out = {}
    for name, value in kwargs.items():
        if isinstance(value, bool):
            raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
        if isinstance(value, int):
            out[name] = (value, value)
            continue
        try:
            items = tuple(value)
        except TypeError:
            raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}") from None
        if len(items) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
        any_pair = True
        out[name] = items
    return any_pair, out


def _check_common(size: int, kernel_size: int, stride: int, padding: int, dilation: int, axis: str) -> None:
    if size < 1:
        raise ValueError(f"size{axis} must be at least 1, got {size}: a feature map has at least one pixel.")
    if kernel_size < 1:
        raise ValueError(f"kernel_size{axis} must be at least 1, got {kernel_size}.")
    if stride < 1:
        raise ValueError(f"stride{axis} must be at least 1, got {stride}: the kernel has to move forward.")
    if dilation < 1:
        raise ValueError(f"dilation{axis} must be at least 1, got {dilation} (1 means no gaps between kernel taps).")
    if padding < 0:
        raise ValueError(f"padding{axis} must not be negative, got {padding}.")


def _axis(i: int, any_pair: bool) -> str:
    return ("[height]", "[width]")[i] if any_pair else ""


def conv_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> int | tuple[int, int]:
    """Output size of a convolution (or pooling window) along each spatial axis.

    The kernel covers ``dilation * (kernel_size - 1) + 1`` input pixels. Sliding it in
    steps of ``stride`` over the padded input of ``size + 2 * padding`` pixels gives::

        out = floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1

    >>> conv_output_size(224, kernel_size=7, stride=2, padding=3)   # ResNet's first conv
    112
    >>> conv_output_size((320, 480), 3, stride=2, padding=1)
    (160, 240)
    """
    any_pair, v = _pairs(size=size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    result = []
    for i in range(2):
        n, k, s, p, d = (v[name][i] for name in ("size", "kernel_size", "stride", "padding", "dilation"))
        ax = _axis(i, any_pair)
        _check_common(n, k, s, p, d, ax)
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            raise ValueError(
                f"kernel_size{ax}={k} (spanning {span} pixels with dilation {d}) is larger than the padded "
                f"input size{ax} + 2*padding = {n} + 2*{p} = {n + 2 * p}; use a smaller kernel or more padding."
            )
        result.append((n + 2 * p - span) // s + 1)
    return tuple(result) if any_pair else result[0]


def conv_transpose_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> int | tuple[int, int]:
    """Output size of a transposed convolution along each spatial axis.

    Each input pixel scatters a copy of the kernel (spanning ``dilation*(kernel_size-1)+1``
    pixels) into the output, and consecutive input pixels land ``stride`` pixels apart.
    ``padding`` then trims pixels from both ends and ``output_padding`` adds pixels to
    one end (to pick between the several input sizes a strided convolution maps to the
    same output size)::

        out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1

    >>> conv_transpose_output_size(10, kernel_size=64, stride=32, padding=16)   # the seed's FCN
    320
    >>> conv_transpose_output_size((10, 15), 64, 32, 16)
    (320, 480)
    """
    any_pair, v = _pairs(
        size=size,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    result = []
    for i in range(2):
        n, k, s, p, op, d = (
            v[name][i] for name in ("size", "kernel_size", "stride", "padding", "output_padding", "dilation")
        )
        ax = _axis(i, any_pair)
        _check_common(n, k, s, p, d, ax)
        if op < 0:
            raise ValueError(f"output_padding{ax} must not be negative, got {op}.")
        if op >= max(s, d):
            raise ValueError(
                f"output_padding{ax}={op} must be smaller than stride{ax}={s} or dilation{ax}={d} "
                f"(whichever is larger): it only chooses among the {max(s, d)} output sizes a strided "
                f"convolution maps to the same input size. Use output_padding < {max(s, d)}."
            )
        out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ValueError(
                f"padding{ax}={p} trims 2*{p} = {2 * p} pixels, more than the {out + 2 * p} pixels the "
                f"transposed convolution produces, leaving {out}; use padding <= {(out + 2 * p - 1) // 2}."
            )
        result.append(out)
    return tuple(result) if any_pair else result[0]


def explain_conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> str:
    """The transposed-convolution formula with this setting's numbers filled in.

    For an impossible setting the text is the rule it breaks, so an explorer can show
    it instead of a traceback.

    >>> explain_conv_transpose_output_size(10, 64, 32, 16)
    '(10 - 1) x 32 - 2 x 16 + 1 x (64 - 1) + 0 + 1 = 320'
    """
    try:
        out = conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    except (ValueError, TypeError) as err:
        return f"Impossible setting: {err}"
    return f"({size} - 1) x {stride} - 2 x {padding} + {dilation} x ({kernel_size} - 1) + {output_padding} + 1 = {out}"


def upsampling_params(factor: int) -> tuple[int, int, int]:
    """``(kernel_size, stride, padding)`` of a transposed conv that upsamples exactly ``factor`` times.

    With stride ``s`` the formula above gives ``(n - 1) * s - 2p + k``, which equals ``n * s``
    for every ``n`` exactly when ``k - 2p = s``. The bilinear kernel wants ``k`` about ``2s``
    (each output pixel mixes the two nearest input pixels in each direction), so:

    * even ``s``: ``k = 2s``, ``p = s / 2``  (the seed's 64, 32, 16 for ``s = 32``)
    * odd ``s``:  ``k = 2s - 1``, ``p = (s - 1) / 2`` (an odd kernel whose centre is a pixel)

    >>> upsampling_params(32)
    (64, 32, 16)
    >>> upsampling_params(3)
    (5, 3, 1)
    """
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"factor must be an int, got {factor!r}")
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    kernel_size = 2 * factor - factor % 2
    return kernel_size, factor, factor // 2


RESNET18_DOWNSAMPLING: tuple[tuple[str, int, int, int], ...] = (
    ("conv1", 7, 2, 3),
    ("maxpool", 3, 2, 1),
    ("layer1", 3, 1, 1),
    ("layer2", 3, 2, 1),
    ("layer3", 3, 2, 1),
    ("layer4", 3, 2, 1),
)
"""``(stage, kernel_size, stride, padding)`` of the layer in each stage that sets its output size."""


def backbone_size_trace(
    size: tuple[int, int], kernel_size: int = 64, stride: int = 32, padding: int = 16
) -> list[tuple[str, tuple[int, int]]]:
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


def _pair(value: IntOrPair, name: str) -> tuple[int, int]:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    if min(value) < 1:
        raise ValueError(f"{name} must be positive, got {tuple(value)}")
    return int(value[0]), int(value[1])


@dataclass(frozen=True)
class Stage:
    """One top-level stage of a network and the output it produced for a test input."""

    name: str
    """The child module's name (``conv1``, ``layer4``, ``final_conv``, ...)."""
    kind: str
    """Its class name (``Conv2d``, ``Sequential``, ...)."""
    shape: tuple[int, ...]
    """Output shape without the batch dimension: ``(C, H, W)`` or ``(features,)``."""
    scale: str
    """Output height relative to the input height, as a fraction (``"1/32"``), or ``"-"``."""


def stage_shapes(net: nn.Module, input_size: IntOrPair, in_channels: int = 3) -> list[Stage]:
    """Run one random ``[1, in_channels, H, W]`` image through ``net`` and record each child's output.

    The children are reported in the order they *ran* (forward hooks on
    ``net.named_children()``), so the table follows the data even when ``forward`` calls
    the children in a different order than they were defined. A child that runs twice is
    listed twice. The network is put in eval mode for the pass (batch-norm statistics are
    not touched) and restored afterwards.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    h, w = _pair(input_size, "input_size")
    records: list[tuple[str, nn.Module, Tensor]] = []
    hooks = []
    for name, child in net.named_children():

        def hook(module, inputs, output, name=name):
            records.append((name, module, output))

        hooks.append(child.register_forward_hook(hook))
    was_training = net.training
    try:
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        net.eval()
        with torch.no_grad():
            net(torch.rand(1, in_channels, h, w, device=device, dtype=dtype))
    finally:
        for handle in hooks:
            handle.remove()
        net.train(was_training)
    stages = []
    for name, module, output in records:
        if not isinstance(output, Tensor):
            raise TypeError(f"stage {name!r} returned {type(output).__name__}, not a tensor")
        shape = tuple(output.shape[1:])
        scale = str(Fraction(output.shape[-2], h)) if output.dim() == 4 else "-"
        stages.append(Stage(name, type(module).__name__, shape, scale))
    return stages


def format_stage_table(stages: Sequence[Stage]) -> str:
    """A plain-text table of :func:`stage_shapes`' result, one stage per line."""
    lines = [f"{'stage':<16}{'layer':<18}{'output (C, H, W)':<22}{'H / input H'}"]
    for s in stages:
        lines.append(f"{s.name:<16}{s.kind:<18}{str(s.shape):<22}{s.scale}")
    return "\n".join(lines)


class Layer(NamedTuple):
    """One spatial layer of a chain: ``kind`` is "conv", "pool" (Caffe pools round up) or "deconv"."""

    name: str
    kind: str
    kernel_size: int
    stride: int = 1
    padding: int = 0


def _check_layers(layers: Sequence[Layer]) -> None:
    if len(layers) == 0:
        raise ValueError("layers is empty: give at least one Layer")
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"layers must be fcnlib.skips.Layer tuples, got {layer!r}")
        if layer.kind not in ("conv", "pool", "deconv"):
            raise ValueError(f"layer {layer.name!r} has kind {layer.kind!r}; use 'conv', 'pool' or 'deconv'")


def coordinate_map(layers: Sequence[Layer]) -> tuple[float, float]:
    """``(scale, offset)`` such that output pixel ``u`` of the chain is centred on input pixel ``scale * u + offset``.

    A convolution or pooling window of size ``k``, stride ``s`` and padding ``p`` puts the
    centre of output pixel ``u`` on input pixel ``s * u + (k - 1) / 2 - p``. A transposed
    convolution runs this backwards (``u_in = (u_out - (k - 1) / 2 + p) / s``). Chaining
    the layers composes these straight lines. An ``offset`` that is a whole number ``c`` with
    ``scale == 1`` is exactly what a Caffe "crop" layer with offset ``c`` removes; an
    ``offset`` of 0 means the output lines up with the input pixel for pixel.
    """
    _check_layers(layers)
    scale, offset = 1.0, 0.0
    for layer in layers:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "deconv":
            a, b = 1.0 / s, (p - (k - 1) / 2) / s
        else:
            a, b = float(s), (k - 1) / 2 - p
        scale, offset = scale * a, scale * b + offset
    return scale, offset


def chain_sizes(size: int, layers: Sequence[Layer]) -> list[tuple[str, int]]:
    """The spatial size after every layer of the chain, starting from ``size`` pixels.

    Convolutions use :func:`fcnlib.conv_output_size`; pooling rounds *up* as Caffe did
    (the original FCN was a Caffe model); transposed convolutions use
    :func:`fcnlib.conv_transpose_output_size`.
    """
    _check_layers(layers)
    sizes = [("input", size)]
    for layer in layers:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "conv":
            size = conv_output_size(size, k, s, p)
        elif layer.kind == "pool":
            conv_output_size(size, k, s, p)  # same checks, then Caffe's rounding up
            size = math.ceil((size + 2 * p - k) / s) + 1
        else:
            size = conv_transpose_output_size(size, k, s, p)
        sizes.append((layer.name, size))
    return sizes


def vgg16_fcn_layers(pad: int = 100) -> list[Layer]:
    """The spatial layers of the paper's FCN-VGG16 up to ``score_fr`` (the 1/32 class scores).

    ``pad`` is the padding of ``conv1_1``: 100 in the paper, so that ``fc6`` (VGG's first
    fully connected layer, now a 7 x 7 convolution) still has a 7 x 7 input for small
    images. Its side effect is an output larger than the input, shifted, hence the crops.
    """
    layers = [Layer("conv1_1", "conv", 3, 1, pad), Layer("conv1_2", "conv", 3, 1, 1), Layer("pool1", "pool", 2, 2)]
    for block, convs in ((2, 2), (3, 3), (4, 3), (5, 3)):
        layers += [Layer(f"conv{block}_{i}", "conv", 3, 1, 1) for i in range(1, convs + 1)]
        layers.append(Layer(f"pool{block}", "pool", 2, 2))
    layers += [Layer("fc6", "conv", 7), Layer("fc7", "conv", 1), Layer("score_fr", "conv", 1)]
    return layers


def resnet18_fcn_layers() -> list[Layer]:
    """The spatial layers of fcnlib's ResNet-18 FCN up to ``final_conv`` (stride-1 3x3 convs omitted: they move nothing)."""
    return [
        Layer("conv1", "conv", 7, 2, 3),
        Layer("maxpool", "conv", 3, 2, 1),
        Layer("layer2", "conv", 3, 2, 1),
        Layer("layer3", "conv", 3, 2, 1),
        Layer("layer4", "conv", 3, 2, 1),
        Layer("final_conv", "conv", 1),
    ]
