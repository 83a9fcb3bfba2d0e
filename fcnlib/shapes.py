"""Shapes: output sizes of convolutions and transposed convolutions, ``upsampling_params``,
the ResNet-18 stage table, and the coordinate bookkeeping of skip connections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "check_int",
    "as_pair",
    "RESNET18_STAGES",
    "VARIANT_STRIDES",
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
    "receptive_fields",
    "resnet18_receptive_fields",
]


IntOrPair = int | Sequence[int]


def check_int(value: object, name: str, minimum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``.

    Raises ``TypeError`` for a non-int or a bool, ``ValueError`` below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        bound = "" if minimum is None else f" >= {minimum}"
        raise TypeError(f"{name} must be an int{bound}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def as_pair(value: object, name: str, minimum: int | None = None) -> tuple[int, int]:
    """``(h, w)`` from an int ``n`` (giving ``(n, n)``) or a pair of ints.

    Raises ``TypeError`` for anything else (bools included), ``ValueError`` when either
    value is below ``minimum``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if minimum is not None and min(items) < minimum:
        raise ValueError(f"{name} must be ints >= {minimum}, got {items}")
    return items


class BackboneStage(NamedTuple):
    """One stage of a backbone: the layer that sets its output size, and its output channels."""

    name: str
    kernel_size: int
    stride: int
    padding: int
    channels: int


RESNET18_STAGES: tuple[BackboneStage, ...] = (
    BackboneStage("conv1", 7, 2, 3, 64),
    BackboneStage("maxpool", 3, 2, 1, 64),
    BackboneStage("layer1", 3, 1, 1, 64),
    BackboneStage("layer2", 3, 2, 1, 128),
    BackboneStage("layer3", 3, 2, 1, 256),
    BackboneStage("layer4", 3, 2, 1, 512),
)
"""ResNet-18's stages (He et al. 2016, torchvision ``resnet18``): the size-setting layer's kernel, stride, padding."""

VARIANT_STRIDES: dict[str, tuple[int, ...]] = {"32s": (32,), "16s": (32, 16), "8s": (32, 16, 8)}
"""FCN variant -> the strides of the score maps it fuses, coarsest first (Long et al. 2015)."""


def _pairs(**kwargs: IntOrPair) -> tuple[bool, dict]:
    """Every argument as an ``(h, w)`` pair (see :func:`as_pair`); also whether any was given as a pair."""
    any_pair = any(not isinstance(value, int) for value in kwargs.values())
    return any_pair, {name: as_pair(value, name) for name, value in kwargs.items()}


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
    """Output size of a convolution or pooling window: ``floor((n + 2p - d(k - 1) - 1) / s) + 1``.

    Each argument is an int or an ``(h, w)`` pair; a pair anywhere gives an ``(h, w)`` result.
    ``TypeError`` for non-ints, ``ValueError`` (naming the axis) where PyTorch would refuse.

    >>> conv_output_size(224, kernel_size=7, stride=2, padding=3), conv_output_size((320, 480), 3, 2, 1)
    (112, (160, 240))
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
    """Output size of a transposed convolution: ``(n - 1)s - 2p + d(k - 1) + op + 1``.

    Arguments and errors as :func:`conv_output_size`; also ``ValueError`` for ``output_padding``
    not below ``max(stride, dilation)`` or a padding that trims everything.

    >>> conv_transpose_output_size(10, kernel_size=64, stride=32, padding=16)   # the seed's FCN
    320
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
    """The transposed-convolution formula with these numbers filled in, or "Impossible setting: ...".

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

    ``k - 2p = s`` keeps ``n * s`` for every ``n``; the bilinear kernel wants ``k`` about ``2s``: even
    ``s`` gives ``(2s, s, s/2)``, odd ``s`` gives ``(2s - 1, s, (s - 1)/2)``.

    >>> upsampling_params(32), upsampling_params(3)
    ((64, 32, 16), (5, 3, 1))
    """
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"factor must be an int, got {factor!r}")
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    kernel_size = 2 * factor - factor % 2
    return kernel_size, factor, factor // 2


def backbone_size_trace(
    size: tuple[int, int], kernel_size: int = 64, stride: int = 32, padding: int = 16
) -> list[tuple[str, tuple[int, int]]]:
    """``(stage, (H, W))`` after each stage of :data:`RESNET18_STAGES`, then after the transposed conv.

    Computed with :func:`conv_output_size` and :func:`conv_transpose_output_size` alone (default
    the seed's ``k=64, s=32, p=16``). Chapter 2 types the same function.
    """
    trace = [("input", tuple(size))]
    for stage in RESNET18_STAGES:
        size = conv_output_size(size, stage.kernel_size, stage.stride, stage.padding)
        trace.append((stage.name, size))
    trace.append(("transpose_conv", conv_transpose_output_size(size, kernel_size, stride, padding)))
    return trace


class Stage(NamedTuple):
    """One child of a network and its output for a test input: ``kind`` is its class name, ``shape``
    the output without the batch axis, ``scale`` the output height over the input's (``"1/32"``) or ``"-"``."""

    name: str
    kind: str
    shape: tuple[int, ...]
    scale: str


def stage_shapes(net: nn.Module, input_size: IntOrPair, in_channels: int = 3) -> list[Stage]:
    """Run one random ``[1, in_channels, H, W]`` image through ``net``; one :class:`Stage` per child, in run order.

    Forward hooks on ``net.named_children()``; eval mode for the pass, then the mode is restored.
    ``TypeError`` for a non-module or a child that returns no tensor.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    h, w = as_pair(input_size, "input_size", minimum=1)
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
    """``(scale, offset)``: output pixel ``u`` of the chain is centred on input pixel ``scale * u + offset``.

    A conv or pool maps ``u`` to ``s u + (k - 1)/2 - p``; a transposed conv runs that backwards
    (Long et al. 2015, section 4.1: the offsets Caffe's crop layers remove).
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
    """The spatial size after every layer of the chain, from ``size`` pixels (pooling rounds up, as in Caffe)."""
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
    """The paper's FCN-VGG16 spatial layers up to ``score_fr`` (Long et al. 2015); ``pad`` of ``conv1_1`` (100 there)."""
    layers = [Layer("conv1_1", "conv", 3, 1, pad), Layer("conv1_2", "conv", 3, 1, 1), Layer("pool1", "pool", 2, 2)]
    for block, convs in ((2, 2), (3, 3), (4, 3), (5, 3)):
        layers += [Layer(f"conv{block}_{i}", "conv", 3, 1, 1) for i in range(1, convs + 1)]
        layers.append(Layer(f"pool{block}", "pool", 2, 2))
    layers += [Layer("fc6", "conv", 7), Layer("fc7", "conv", 1), Layer("score_fr", "conv", 1)]
    return layers


def resnet18_fcn_layers() -> list[Layer]:
    """The spatial layers of fcnlib's ResNet-18 FCN up to ``final_conv`` (stride-1 3x3 convs omitted: they move nothing)."""
    strided = [Layer(st.name, "conv", st.kernel_size, st.stride, st.padding) for st in RESNET18_STAGES if st.stride > 1]
    return [*strided, Layer("final_conv", "conv", 1)]


# Receptive fields (chapter 0) ------------------------------------------------------------


def receptive_fields(layers: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """``(size, jump)`` in input pixels after each layer of a chain of ``(kernel_size, stride[, dilation])``.

    ``size`` is the side of the input square one output position depends on, ``jump`` the
    distance in input pixels between neighbouring output positions. Each layer adds
    ``dilation * (kernel_size - 1)`` of its input steps: ``size += d * (k - 1) * jump;
    jump *= stride``. Padding moves the field but does not change its size.

    >>> receptive_fields([(3, 1), (3, 2), (3, 1)])
    [(3, 1), (5, 2), (9, 2)]
    """
    size, jump, out = 1, 1, []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ValueError(f"layer {i} is {layer!r}; give (kernel_size, stride) or (kernel_size, stride, dilation)")
        k, s, d = (*layer, 1)[:3]
        check_int(k, f"kernel_size of layer {i}", minimum=1)
        check_int(s, f"stride of layer {i}", minimum=1)
        check_int(d, f"dilation of layer {i}", minimum=1)
        size += d * (k - 1) * jump
        jump *= s
        out.append((size, jump))
    return out


def resnet18_receptive_fields() -> list[tuple[str, int, int]]:
    """``(stage, size, jump)`` after each ResNet-18 stage: sizes 7, 11, 43, 99, 211, 435; jumps 2 to 32.

    Each ``layerN`` is two BasicBlocks of two 3x3 convolutions, the first carrying the
    stride (He et al. 2016); the 1x1 shortcut convolutions add nothing to the field.
    """
    layers, ends = [], []
    for stage in RESNET18_STAGES:
        layers.append((stage.kernel_size, stage.stride))
        if stage.name.startswith("layer"):
            layers += [(3, 1)] * 3
        ends.append(len(layers) - 1)
    fields = receptive_fields(layers)
    return [(stage.name, *fields[end]) for stage, end in zip(RESNET18_STAGES, ends)]
