"""The skip connections of FCN-32s, FCN-16s and FCN-8s on ResNet-18, drawn as Figure 3 of Long et al. 2015."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from ..shapes import RESNET18_STAGES, VARIANT_STRIDES, as_pair

__all__ = ["plot_skip_architecture"]

_ON, _OFF = "#1f4e79", "#c8c8c8"  # the chosen variant's paths, the other variants' paths
_STRIDES = [math.prod(s.stride for s in RESNET18_STAGES[: i + 1]) for i in range(len(RESNET18_STAGES))]
_BOXES = [(s.name, stride, s.channels) for s, stride in zip(RESNET18_STAGES, _STRIDES)][1:]  # (name, stride, channels)
_BOXES[0] = ("conv1+pool", *_BOXES[0][1:])  # conv1 shares its max pooling's box


def _text(ax, x, y, text, color, ha="center", **kw):
    ax.text(x, y, text, ha=ha, va="center", color="black" if color == _ON else "0.6", **kw)


def _box(ax, x, y, bw, bh, text, color, fc="white", size=9):
    ax.add_patch(FancyBboxPatch((x - bw / 2, y - bh / 2), bw, bh, boxstyle="round,pad=0.03", ec=color, fc=fc, lw=1.5))
    _text(ax, x, y, text, color, fontsize=size)


def _arrow(ax, x0, y0, x1, y1, color, text=None, side=0.0, dx=0.0):
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11, color=color, lw=1.4))
    if text:
        box = dict(fc="white", ec="none", pad=0.5)
        _text(ax, (x0 + x1) / 2 + dx, (y0 + y1) / 2 + side, text, color, fontsize=9, bbox=box)


def _plus(ax, x, y, color):
    ax.add_patch(Circle((x, y), 0.22, ec=color, fc="white", lw=1.5))
    _text(ax, x, y, "+", color, fontsize=12)


def _draw_backbone(ax, h: int, w: int) -> dict[str, tuple[float, float]]:
    """The input and the stages in the top row, sized by resolution; returns where each stage's arrow starts."""
    y, xs, size_in = 5.4, [0.9, 2.55, 4.1, 5.7, 7.6, 9.5], 1.5
    _box(ax, xs[0], y, size_in, size_in, f"image\n3x{h}x{w}", _ON, fc="#eef3f8")
    starts, widths = {}, [size_in]
    for x, (name, stride, ch) in zip(xs[1:], _BOXES, strict=True):
        side = max(0.6, size_in * 4 / stride / 2.2 + 0.35)
        widths.append(max(0.95, side * 1.25))  # wide enough for 9-point text
        _box(ax, x, y, widths[-1], side, f"{name}\n1/{stride}", _ON, fc="#eef3f8")
        ax.text(x, y - side / 2 - 0.18, f"{ch}x{h // stride}x{w // stride}", ha="center", va="top", fontsize=9)
        starts[name] = (x, y - side / 2 - 0.45)
    for x0, x1, w0, w1 in zip(xs[:-1], xs[1:], widths[:-1], widths[1:]):
        _arrow(ax, x0 + w0 / 2 + 0.05, y, x1 - w1 / 2 - 0.05, y, _ON)
    return starts


def _draw_head(ax, variant: str, h: int, w: int, c: int, starts: dict[str, tuple[float, float]]) -> None:
    """Score layers, the 2x upsamplings and sums of the skips, and each variant's final upsampling to its scores."""
    y_score, y_fuse, y_out = 3.3, 1.95, 0.45
    uses = {s: _ON if s in VARIANT_STRIDES[variant] else _OFF for s in (32, 16, 8)}  # the layers of each fusion
    for (name, stride, _), label in zip(_BOXES[:1:-1], ("final_conv", "score_layer3", "score_layer2"), strict=True):
        x, y0 = starts[name]
        _arrow(ax, x, y0, x, y_score + 0.4, uses[stride])
        _box(ax, x, y_score, 1.4, 0.8, f"{label}\n1x1 conv\n{c}x{h // stride}x{w // stride}", uses[stride])
    x32, x16, x8 = (starts[name][0] for name in ("layer4", "layer3", "layer2"))
    y_low = y_score - 0.43  # just below the score boxes
    _plus(ax, x16, y_fuse, uses[16])  # 32 -> 16: up_layer4 on final_conv's scores, then the sum with score_layer3
    ax.plot([x32 - 0.35] * 2, [y_low, y_fuse], color=uses[16], lw=1.4)
    up4 = f"up_layer4 2x\n{c}x{h // 16}x{w // 16}"
    _arrow(ax, x32 - 0.35, y_fuse, x16 + 0.24, y_fuse, uses[16], up4, side=0.3, dx=-0.1)
    _arrow(ax, x16, y_low, x16, y_fuse + 0.23, uses[16])
    _plus(ax, x8, y_fuse, uses[8])  # 16 -> 8: up_layer3 on that sum, then the sum with score_layer2
    _arrow(ax, x16 - 0.24, y_fuse, x8 + 0.24, y_fuse, uses[8], f"up_layer3 2x\n{c}x{h // 8}x{w // 8}", side=0.3)
    _arrow(ax, x8, y_low, x8, y_fuse + 0.23, uses[8])
    ends = {"8s": (x8, y_fuse - 0.23), "16s": (x16, y_fuse - 0.23), "32s": (x32 + 0.35, y_low)}
    for name, (x, y0) in ends.items():  # each variant's own final upsampling and scores
        stride, color = VARIANT_STRIDES[name][-1], _ON if name == variant else _OFF
        _arrow(ax, x, y0, x, y_out + 0.33, color)
        _text(ax, x - 0.1, (y_fuse + y_out) / 2 - 0.05, f"transpose_conv\n{stride}x", color, fontsize=9, ha="right")
        fill = "#fdf1e6" if color == _ON else "white"
        _box(ax, x, y_out, 1.5, 0.6, f"FCN-{name} scores\n{c}x{h}x{w}", color, fc=fill)


def plot_skip_architecture(variant: str = "8s", input_size: Any = (320, 480), num_classes: int = 21):
    """The backbone stages (top, sized by resolution, shapes for ``input_size``: int or ``(H, W)``, multiples of
    32) and the head of ``variant``; grey: the layers only the other variants use, down to their own final
    upsampling and scores. ValueError for an unknown variant or size."""
    if variant not in VARIANT_STRIDES:
        raise ValueError(f"variant must be one of {sorted(VARIANT_STRIDES)}, got {variant!r}")
    h, w = as_pair(input_size, "input_size", minimum=1)
    if h % 32 or w % 32:
        raise ValueError(f"input_size must be positive multiples of 32 (the FCN's requirement), got {(h, w)}")
    ax = plt.figure(figsize=(9, 5.8)).add_axes((0, 0, 1, 0.94))  # the whole width: room for 9-point labels
    ax.set(xlim=(0, 10.7), ylim=(0.0, 6.4), aspect="equal")
    ax.axis("off")
    _draw_head(ax, variant, h, w, num_classes, _draw_backbone(ax, h, w))
    others = " and ".join(f"FCN-{v}" for v in VARIANT_STRIDES if v != variant)
    ax.set_title(f"FCN-{variant} on ResNet-18 (grey: layers only {others} use)", fontsize=10)
    return ax.figure
