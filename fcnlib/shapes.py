"""Shapes: output sizes of (transposed) convolutions, ``upsampling_params``, the ResNet-18 stage table,
the coordinates of skip connections and receptive fields."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import NamedTuple

import torch
from torch import Tensor, nn

Pair = int | Sequence[int]
"""An int (the same on both axes) or an ``(h, w)`` pair of ints."""


def check_int(value: object, name: str, minimum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``; else ``TypeError`` or ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        bound = "" if minimum is None else f" >= {minimum}"
        raise TypeError(f"{name} must be an int{bound}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def as_pair(value: object, name: str, minimum: int | None = None) -> tuple[int, int]:
    """``(h, w)`` from an int ``n`` (``(n, n)``) or a pair of ints; else ``TypeError``; ``ValueError`` below minimum."""
    try:
        items = (value, value) if isinstance(value, int) else tuple(value)
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
"""ResNet-18's stages (He et al. 2016, torchvision ``resnet18``)."""

VARIANT_STRIDES: dict[str, tuple[int, ...]] = {"32s": (32,), "16s": (32, 16), "8s": (32, 16, 8)}
"""FCN variant -> the strides of the score maps it fuses, coarsest first (Long et al. 2015)."""


def conv_axes(
    size: Pair, kernel_size: Pair, stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0, dilation: Pair = 1
) -> tuple[bool, list[tuple[str, int, int, int, int, int, int]]]:
    """``(any_pair, [(axis, n, k, s, p, op, d)] for height and width)``, ``axis`` "[height]"/"[width]" or "" when
    no argument is a pair. ``TypeError`` for non-ints, ``ValueError`` naming argument and axis where PyTorch refuses."""
    args = dict(size=size, kernel_size=kernel_size, stride=stride, padding=padding)
    args.update(output_padding=output_padding, dilation=dilation)
    any_pair = any(not isinstance(value, int) for value in args.values())
    pairs = [as_pair(value, name) for name, value in args.items()]
    why = {"size": ": a map has at least one pixel", "stride": ": the kernel must move", "dilation": " (1: no gaps)"}
    axes = []
    for i in range(2):
        ax = ("[height]", "[width]")[i] if any_pair else ""
        values = [pair[i] for pair in pairs]
        for name, value in zip(args, values):
            if value < (0 if "padding" in name else 1):
                rule = "must not be negative" if "padding" in name else "must be at least 1"
                raise ValueError(f"{name}{ax} {rule}, got {value}{why.get(name, '')}.")
        axes.append((ax, *values))
    return any_pair, axes


def conv_output_size(
    size: Pair, kernel_size: Pair, stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1
) -> int | tuple[int, int]:
    """``floor((n + 2p - d(k - 1) - 1) / s) + 1``, an ``(h, w)`` pair if any argument is one. Errors as
    :func:`conv_axes`, also for a kernel wider than the padded input."""
    any_pair, axes = conv_axes(size, kernel_size, stride, padding, dilation=dilation)
    result = []
    for ax, n, k, s, p, _, d in axes:
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            msg = f"kernel_size{ax}={k} spans {span} pixels, more than the padded input {n} + 2*{p} = {n + 2 * p}"
            raise ValueError(f"{msg}; use a smaller kernel or more padding.")
        result.append((n + 2 * p - span) // s + 1)
    return tuple(result) if any_pair else result[0]


def conv_transpose_output_size(
    size: Pair, kernel_size: Pair, stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0, dilation: Pair = 1
) -> int | tuple[int, int]:
    """``(n - 1)s - 2p + d(k - 1) + op + 1`` (d2l's ``(10, 64, 32, 16)``: 320). Errors as :func:`conv_axes`,
    also for ``output_padding >= max(stride, dilation)`` or a padding that trims everything."""
    any_pair, axes = conv_axes(size, kernel_size, stride, padding, output_padding, dilation)
    result = []
    for ax, n, k, s, p, op, d in axes:
        if op >= max(s, d):
            raise ValueError(
                f"output_padding{ax}={op} must be smaller than stride{ax}={s} or dilation{ax}={d} "
                f"(whichever is larger): it only chooses among the {max(s, d)} input sizes that a "
                f"strided convolution maps to the same output size. Use output_padding < {max(s, d)}."
            )
        out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            made = out + 2 * p  # what the transposed convolution produces before the padding trims it
            lead, left = ("all", "none (an empty output)") if out == 0 else ("more than the", out)
            how = f"{lead} {made} pixels the transposed convolution produces, leaving {left}"
            raise ValueError(f"padding{ax}={p} trims 2*{p} = {2 * p} pixels, {how}; use padding <= {(made - 1) // 2}.")
        result.append(out)
    return tuple(result) if any_pair else result[0]


def explain_conv_transpose_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> str:
    """The transposed-convolution formula with these numbers filled in, or "Impossible setting: <the error>"."""
    try:
        out = conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    except (ValueError, TypeError) as err:
        return f"Impossible setting: {err}"
    return f"({size} - 1) x {stride} - 2 x {padding} + {dilation} x ({kernel_size} - 1) + {output_padding} + 1 = {out}"


def upsampling_params(factor: int) -> tuple[int, int, int]:
    """``(kernel_size, stride, padding)`` of a transposed conv that upsamples exactly ``factor`` times
    (``k - 2p = s``, ``k`` about ``2s`` for the bilinear kernel): 32 gives d2l's ``(64, 32, 16)``."""
    if check_int(factor, "factor") < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    return 2 * factor - factor % 2, factor, factor // 2


def backbone_size_trace(size: tuple[int, int], kernel_size: int = 64, stride: int = 32, padding: int = 16) -> list:
    """``[(stage, (H, W))]`` after each of :data:`RESNET18_STAGES`, then after d2l's transposed conv."""
    trace = [("input", tuple(size))]
    for stage in RESNET18_STAGES:
        size = conv_output_size(size, stage.kernel_size, stage.stride, stage.padding)
        trace.append((stage.name, size))
    return trace + [("transpose_conv", conv_transpose_output_size(size, kernel_size, stride, padding))]


@contextlib.contextmanager
def eval_mode(net: nn.Module) -> Iterator[None]:
    """Run ``net`` in eval mode without gradients (``torch.inference_mode``), then restore its mode."""
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        net.train(was_training)


class Stage(NamedTuple):
    """A child of a net: class name ``kind``, output ``shape`` without the batch axis, height ratio ``scale``."""

    name: str
    kind: str
    shape: tuple[int, ...]
    scale: str


def stage_shapes(net: nn.Module, input_size: Pair, in_channels: int = 3) -> list[Stage]:
    """One :class:`Stage` per child of ``net`` run (eval mode) on a random ``[1, in_channels, H, W]`` image.
    ``TypeError`` for a non-module or a child that returns no tensor."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    h, w = as_pair(input_size, "input_size", minimum=1)
    records: list[tuple[str, nn.Module, Tensor]] = []
    hooks = [
        child.register_forward_hook(lambda module, _, output, name=name: records.append((name, module, output)))
        for name, child in net.named_children()
    ]
    param = next(net.parameters(), torch.empty(0))  # no parameters: float32 on the CPU
    try:
        with eval_mode(net):
            net(torch.rand(1, in_channels, h, w, device=param.device, dtype=param.dtype))
    finally:
        for handle in hooks:
            handle.remove()
    stages = []
    for name, module, output in records:
        if not isinstance(output, Tensor):
            raise TypeError(f"stage {name!r} returned {type(output).__name__}, not a tensor")
        scale = str(Fraction(output.shape[-2], h)) if output.dim() == 4 else "-"
        stages.append(Stage(name, type(module).__name__, tuple(output.shape[1:]), scale))
    return stages


def format_stage_table(stages: Sequence[Stage]) -> str:
    """A plain-text table of :func:`stage_shapes`' result, one stage per line."""
    lines = [f"{'stage':<16}{'layer':<18}{'output (C, H, W)':<22}{'H / input H'}"]
    lines += [f"{s.name:<16}{s.kind:<18}{str(s.shape):<22}{s.scale}" for s in stages]
    return "\n".join(lines)


class Layer(NamedTuple):
    """One spatial layer of a chain: ``kind`` is "conv", "pool" (Caffe pools round up) or "deconv"."""

    name: str
    kind: str
    kernel_size: int
    stride: int = 1
    padding: int = 0


def _walk(layers: Sequence[Layer], size: int | None = None) -> tuple[tuple[float, float], list[tuple[str, int]]]:
    """``((scale, offset), [(name, size)])`` of a chain of layers; sizes only when ``size`` is given."""
    if len(layers) == 0:
        raise ValueError("layers is empty: give at least one Layer")
    scale, offset, sizes = 1.0, 0.0, [("input", size)]
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"layers must be fcnlib.shapes.Layer tuples, got {layer!r}")
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "deconv":
            a, b = 1.0 / s, (p - (k - 1) / 2) / s
            size = None if size is None else conv_transpose_output_size(size, k, s, p)
        elif layer.kind in ("conv", "pool"):
            a, b = float(s), (k - 1) / 2 - p
            n, size = size, None if size is None else conv_output_size(size, k, s, p)
            if layer.kind == "pool" and n is not None:
                size = math.ceil((n + 2 * p - k) / s) + 1  # Caffe's pools round up
        else:
            raise ValueError(f"layer {layer.name!r} has kind {layer.kind!r}; use 'conv', 'pool' or 'deconv'")
        scale, offset = scale * a, scale * b + offset
        sizes.append((layer.name, size))
    return (scale, offset), sizes


def coordinate_map(layers: Sequence[Layer]) -> tuple[float, float]:
    """``(scale, offset)``: output pixel ``u`` of the chain is centred on input pixel ``scale * u + offset``
    (Long et al. 2015, section 4.1: the offsets Caffe's crop layers remove)."""
    return _walk(layers)[0]


def chain_sizes(size: int, layers: Sequence[Layer]) -> list[tuple[str, int]]:
    """The spatial size after every layer of the chain, from ``size`` pixels (pooling rounds up, as in Caffe)."""
    return _walk(layers, size)[1]


def vgg16_fcn_layers(pad: int = 100) -> list[Layer]:
    """The paper's FCN-VGG16 spatial layers up to ``score_fr`` (Long et al. 2015); ``pad``: ``conv1_1``'s (100)."""
    layers = [Layer("conv1_1", "conv", 3, 1, pad), Layer("conv1_2", "conv", 3, 1, 1), Layer("pool1", "pool", 2, 2)]
    for block, convs in ((2, 2), (3, 3), (4, 3), (5, 3)):
        layers += [Layer(f"conv{block}_{i}", "conv", 3, 1, 1) for i in range(1, convs + 1)]
        layers.append(Layer(f"pool{block}", "pool", 2, 2))
    return layers + [Layer("fc6", "conv", 7), Layer("fc7", "conv", 1), Layer("score_fr", "conv", 1)]


def resnet18_fcn_layers() -> list[Layer]:
    """The spatial layers of fcnlib's ResNet-18 FCN up to ``final_conv`` (stride-1 3x3 convs move nothing)."""
    strided = [Layer(st.name, "conv", st.kernel_size, st.stride, st.padding) for st in RESNET18_STAGES if st.stride > 1]
    return [*strided, Layer("final_conv", "conv", 1)]


def receptive_fields(layers: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """``(size, jump)`` after each ``(kernel_size, stride[, dilation])`` layer: the side of the input square one
    output sees, and the input distance between neighbouring outputs."""
    size, jump, out = 1, 1, []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ValueError(f"layer {i} is {layer!r}; give (kernel_size, stride) or (kernel_size, stride, dilation)")
        k, s, d = (*layer, 1)[:3]
        for name, value in (("kernel_size", k), ("stride", s), ("dilation", d)):
            check_int(value, f"{name} of layer {i}", minimum=1)
        size += d * (k - 1) * jump
        jump *= s
        out.append((size, jump))
    return out


def resnet18_receptive_fields() -> list[tuple[str, int, int]]:
    """``(stage, size, jump)`` after each ResNet-18 stage (each ``layerN``: four 3x3 convs, the first strided)."""
    layers, ends = [], []
    for stage in RESNET18_STAGES:
        layers.append((stage.kernel_size, stage.stride))
        if stage.name.startswith("layer"):
            layers += [(3, 1)] * 3
        ends.append(len(layers) - 1)
    fields = receptive_fields(layers)
    return [(stage.name, *fields[end]) for stage, end in zip(RESNET18_STAGES, ends, strict=True)]
