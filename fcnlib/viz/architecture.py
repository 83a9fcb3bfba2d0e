"""Figures of the FCN architecture: the skip connections of FCN-32s, FCN-16s and FCN-8s."""

from __future__ import annotations

from typing import Any

__all__ = ["plot_skip_architecture"]


# Stage name, stride, channels of the ResNet-18 backbone (after conv1 + max pooling comes layer1 at 1/4).
_BACKBONE = (("conv1+pool", 4, 64), ("layer1", 4, 64), ("layer2", 8, 128), ("layer3", 16, 256), ("layer4", 32, 512))


_VARIANT_STRIDE = {"32s": 32, "16s": 16, "8s": 8}


def _check_size(input_size: Any) -> tuple[int, int]:
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    try:
        h, w = (int(v) for v in input_size)
    except (TypeError, ValueError):
        raise TypeError(f"input_size must be an int or an (H, W) pair, got {input_size!r}") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise ValueError(f"input_size must be positive multiples of 32 (the FCN's requirement), got {(h, w)}")
    return h, w


def plot_skip_architecture(variant: str = "8s", input_size: Any = (320, 480), num_classes: int = 21, ax: Any = None):
    """The FCN-32s / 16s / 8s head on ResNet-18, drawn as in Figure 3 of the FCN paper.

    The top row is the backbone: each block is drawn with a side proportional to its
    feature map's resolution and labelled with its shape for an input of ``input_size``.
    Below, the head of ``variant`` (the other paths greyed out): a 1x1 convolution turns
    features into ``num_classes`` class scores, a 2x transposed convolution (bilinear
    initialised) brings coarse scores to the next finer grid, a sum (+) fuses them with the
    finer layer's scores, and a last transposed convolution upsamples 32x, 16x or 8x.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    if variant not in _VARIANT_STRIDE:
        raise ValueError(f"variant must be one of {sorted(_VARIANT_STRIDE)}, got {variant!r}")
    h, w = _check_size(input_size)
    c = num_classes
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 5.4))
    else:
        fig = ax.figure
    ax.set_xlim(0, 10.7)
    ax.set_ylim(0.0, 6.4)
    ax.set_aspect("equal")
    ax.axis("off")
    on, off = "#1f4e79", "#c8c8c8"

    def active(level: int) -> bool:  # level: the stride a head element belongs to
        return level >= _VARIANT_STRIDE[variant]

    def box(x, y, bw, bh, text, color, fc="white", size=8):
        ax.add_patch(
            FancyBboxPatch((x - bw / 2, y - bh / 2), bw, bh, boxstyle="round,pad=0.03", ec=color, fc=fc, lw=1.5)
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=size, color="black" if color == on else "0.6")

    def arrow(x0, y0, x1, y1, color, text=None, side=0.0, dx=0.0):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11, color=color, lw=1.4))
        if text:
            ax.text(
                (x0 + x1) / 2 + dx,
                (y0 + y1) / 2 + side,
                text,
                ha="center",
                va="center",
                fontsize=7.5,
                color="black" if color == on else "0.6",
                bbox=dict(fc="white", ec="none", pad=0.5),
            )

    # Backbone: the input and five stages, sized by resolution.
    y_top = 5.4
    xs = [0.9, 2.55, 4.1, 5.7, 7.6, 9.5]
    size_in = 1.5
    box(xs[0], y_top, size_in, size_in, f"image\n3x{h}x{w}", on, fc="#eef3f8")
    centers = {}
    for x, (name, stride, ch) in zip(xs[1:], _BACKBONE, strict=False):
        side = max(0.35, size_in * 4 / stride / 2.2 + 0.35)
        box(x, y_top, side * 1.3, side, f"{name}\n1/{stride}", on, fc="#eef3f8", size=7.5)
        ax.text(x, y_top - side / 2 - 0.18, f"{ch}x{h // stride}x{w // stride}", ha="center", va="top", fontsize=7)
        centers[name] = (x, y_top - side / 2 - 0.45)
    for x0, x1 in zip(xs[:-1], xs[1:], strict=False):
        arrow(x0 + 0.5, y_top, x1 - 0.4, y_top, on)

    # Head: score layers under layer4, layer3, layer2.
    y_score, y_fuse, y_out = 3.2, 1.9, 0.45
    score_color = {32: on, 16: on if active(16) else off, 8: on if active(8) else off}
    for name, stride, ch in _BACKBONE[2:][::-1]:
        x, y0 = centers[name]
        color = score_color[stride]
        label = {32: "final_conv", 16: "score_layer3", 8: "score_layer2"}[stride]
        arrow(x, y0, x, y_score + 0.32, color)
        box(x, y_score, 1.75, 0.6, f"{label} 1x1\n{c}x{h // stride}x{w // stride}", color, size=7)

    x32, x16, x8 = centers["layer4"][0], centers["layer3"][0], centers["layer2"][0]
    c16 = on if active(16) else off
    c8 = on if active(8) else off
    # 32 -> 16: up_layer4, then the sum with score_layer3.
    ax.add_patch(Circle((x16, y_fuse), 0.22, ec=c16, fc="white", lw=1.5))
    ax.text(x16, y_fuse, "+", ha="center", va="center", fontsize=12, color="black" if c16 == on else "0.6")
    arrow(
        x32,
        y_score - 0.32,
        x16 + 0.24,
        y_fuse + 0.05,
        c16,
        f"up_layer4 2x\n{c}x{h // 16}x{w // 16}",
        side=-0.42,
        dx=0.1,
    )
    arrow(x16, y_score - 0.32, x16, y_fuse + 0.23, c16)
    # 16 -> 8: up_layer3, then the sum with score_layer2.
    ax.add_patch(Circle((x8, y_fuse), 0.22, ec=c8, fc="white", lw=1.5))
    ax.text(x8, y_fuse, "+", ha="center", va="center", fontsize=12, color="black" if c8 == on else "0.6")
    arrow(x16 - 0.24, y_fuse, x8 + 0.24, y_fuse, c8, f"up_layer3 2x\n{c}x{h // 8}x{w // 8}", side=0.32)
    arrow(x8, y_score - 0.32, x8, y_fuse + 0.23, c8)

    # The final upsampling of the chosen variant.
    stride = _VARIANT_STRIDE[variant]
    start = {32: (x32, y_score - 0.32), 16: (x16, y_fuse - 0.23), 8: (x8, y_fuse - 0.23)}[stride]
    x_out = 1.6
    box(x_out, y_out, 2.2, 0.6, f"FCN-{variant} scores\n{c}x{h}x{w}", on, fc="#fdf1e6", size=7.5)
    ax.plot([start[0], start[0]], [start[1], y_out], color=on, lw=1.4)
    arrow(start[0] + 0.01, y_out, x_out + 1.12, y_out, on, f"transpose_conv {stride}x (bilinear init)", side=0.22)
    ax.set_title(f"FCN-{variant} on ResNet-18 (grey: paths of the other variants)", fontsize=10)
    return fig
