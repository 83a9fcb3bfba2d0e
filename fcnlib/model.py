"""The FCN: FCN-32s/16s/8s on a ResNet-18 backbone (Long et al. 2015, d2l 14.11), and the
small tools that look inside it (convolutionalisation, parameter counts, staged initialisation).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .shapes import IntOrPair, _pair, upsampling_params
from .upsampling import bilinear_kernel
from .weights import load_imagenet_backbone

__all__ = [
    "linear_to_conv",
    "sliding_window_scores",
    "count_parameters",
    "parameter_table",
    "format_parameter_table",
    "VARIANTS",
    "FCN",
    "fcn_resnet18",
    "skip_forward",
    "InitReport",
    "init_from",
    "param_groups",
]


def linear_to_conv(linear: nn.Linear, kernel_size: IntOrPair) -> nn.Conv2d:
    """The convolution that computes exactly what ``linear`` computes on a flattened feature map.

    A classifier head flattens a ``[C, kh, kw]`` feature map into ``C * kh * kw`` numbers and
    multiplies them by a weight matrix with one row per output. Each row is just a
    ``[C, kh, kw]`` filter written out flat, and "multiply the flattened map by a row" is
    "slide that filter over the map at its only possible position". So reshaping the weight
    matrix to ``[out_features, C, kh, kw]`` gives a ``Conv2d`` with kernel ``(kh, kw)`` that
    agrees with the ``Linear`` on a ``kh x kw`` input, and on a larger input produces a whole
    grid of classifications, one per window, in a single pass.

    The flattening order must be PyTorch's (``x.flatten(1)`` of ``[N, C, H, W]``: channel
    slowest, then rows, then columns), which is what ``torch.flatten`` and
    ``nn.Flatten`` do. The weights are copied, so the two layers do not share storage.

    Args:
        linear: a ``nn.Linear`` whose ``in_features`` equals ``C * kh * kw``.
        kernel_size: ``k`` or ``(kh, kw)``, the size of the feature map ``linear`` reads.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    kh, kw = _pair(kernel_size, "kernel_size")
    if linear.in_features % (kh * kw):
        raise ValueError(
            f"a Linear with in_features={linear.in_features} cannot read a {kh}x{kw} feature map: "
            f"in_features must be channels * {kh} * {kw}; pick the kernel_size of the map it was trained on"
        )
    channels = linear.in_features // (kh * kw)
    conv = nn.Conv2d(channels, linear.out_features, kernel_size=(kh, kw), bias=linear.bias is not None)
    conv = conv.to(device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, channels, kh, kw))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def sliding_window_scores(linear: nn.Linear, features: Tensor, kernel_size: IntOrPair) -> Tensor:
    """Apply a ``Linear`` classifier to every ``kh x kw`` window of ``features``, one window at a time.

    This is the slow way FCN replaced: crop a window, flatten it, classify it, move one
    cell, repeat. It returns ``[N, out_features, H - kh + 1, W - kw + 1]``, the same grid of
    scores that ``linear_to_conv(linear, kernel_size)(features)`` computes in one pass.
    Kept deliberately as a plain double loop so that the comparison is honest.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    if not isinstance(features, Tensor) or features.dim() != 4:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be a tensor [N, C, H, W], got {shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    n, c, h, w = features.shape
    if c * kh * kw != linear.in_features:
        raise ValueError(
            f"windows of {c}x{kh}x{kw} = {c * kh * kw} values do not match the Linear's in_features="
            f"{linear.in_features}"
        )
    if h < kh or w < kw:
        raise ValueError(f"features ({h}x{w}) are smaller than one {kh}x{kw} window")
    rows = []
    for i in range(h - kh + 1):
        cols = [linear(features[:, :, i : i + kh, j : j + kw].flatten(1)) for j in range(w - kw + 1)]
        rows.append(torch.stack(cols, dim=-1))  # [N, out, W']
    return torch.stack(rows, dim=-2)  # [N, out, H', W']


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """The number of scalar weights in ``module`` (optionally only those with ``requires_grad``)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_table(net: nn.Module) -> list[tuple[str, int]]:
    """``(child name, parameter count)`` for each direct child of ``net`` that has parameters."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    return [(name, count_parameters(child)) for name, child in net.named_children() if count_parameters(child)]


def format_parameter_table(net: nn.Module) -> str:
    """:func:`parameter_table` as text, with each child's share of the total."""
    rows = parameter_table(net)
    total = count_parameters(net)
    lines = [f"{'child':<16}{'parameters':>12}{'share':>8}"]
    for name, count in rows:
        lines.append(f"{name:<16}{count:>12,}{100 * count / total:>7.1f}%")
    lines.append(f"{'total':<16}{total:>12,}{100.0:>7.1f}%")
    return "\n".join(lines)


VARIANTS = {"32s": 32, "16s": 16, "8s": 8}


def _transpose_conv(num_classes: int, factor: int) -> nn.ConvTranspose2d:
    k, s, p = upsampling_params(factor)
    return nn.ConvTranspose2d(num_classes, num_classes, kernel_size=k, stride=s, padding=p, bias=False)


class FCN(nn.Module):
    """FCN-32s, -16s or -8s on a ResNet-18 backbone. Build it with :func:`fcn_resnet18`.

    ``forward`` takes ``[N, 3, H, W]`` with ``H`` and ``W`` multiples of 32 and returns
    class scores (logits) ``[N, num_classes, H, W]``.
    """

    def __init__(self, num_classes: int = 21, variant: str = "32s") -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        import torchvision

        resnet = torchvision.models.resnet18(weights=None)
        self.variant = variant
        self.num_classes = num_classes
        # The backbone: every child of ResNet-18 except global average pooling and fc.
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        # The head: class scores from layer4 (1/32), as in the seed.
        self.final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        if variant in ("16s", "8s"):
            self.score_layer3 = nn.Conv2d(256, num_classes, kernel_size=1)  # 1/16
            self.up_layer4 = _transpose_conv(num_classes, 2)  # 1/32 -> 1/16
        if variant == "8s":
            self.score_layer2 = nn.Conv2d(128, num_classes, kernel_size=1)  # 1/8
            self.up_layer3 = _transpose_conv(num_classes, 2)  # 1/16 -> 1/8
        self.transpose_conv = _transpose_conv(num_classes, VARIANTS[variant])

    @property
    def output_stride(self) -> int:
        """How many input pixels one cell of the finest score map covers (32, 16 or 8)."""
        return VARIANTS[self.variant]

    def upsampling_layers(self) -> list:
        """The transposed convolutions of the head, coarsest first."""
        return [m for m in self.modules() if isinstance(m, nn.ConvTranspose2d)]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected a batch of RGB images [N, 3, H, W], got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % 32 or w % 32:
            raise ValueError(
                f"input height and width must be multiples of 32 (ResNet-18 halves them five times), got {h}x{w}; "
                "crop or pad the image (fcnlib.predict_full pads any size for you)."
            )
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        f8 = self.layer2(x)
        f16 = self.layer3(f8)
        f32 = self.layer4(f16)
        score = self.final_conv(f32)
        if self.variant in ("16s", "8s"):
            score = self.up_layer4(score) + self.score_layer3(f16)
        if self.variant == "8s":
            score = self.up_layer3(score) + self.score_layer2(f8)
        return self.transpose_conv(score)


def fcn_resnet18(
    num_classes: int = 21,
    variant: str = "32s",
    weights: str | None = "auto",
    upsample_init: str = "bilinear",
) -> FCN:
    """Build an FCN on ResNet-18.

    Args:
        num_classes: output channels (21 for Pascal VOC: 20 objects and background).
        variant: ``"32s"`` (the seed's net), ``"16s"`` or ``"8s"`` (skip connections from
            layer3 and layer2, fused by 2x upsampling as in the FCN paper).
        weights: ``"auto"`` loads ImageNet weights for the backbone when they are cached or
            downloadable and otherwise warns once and continues with random weights;
            ``"imagenet"`` requires them (``RuntimeError`` saying where to put the file);
            ``None`` leaves the backbone random.
        upsample_init: ``"bilinear"`` (the seed's choice) or ``"xavier"`` (the seed's
            exercise 1) for every transposed convolution.

    The 1x1 score layer on layer4 is Xavier-initialised; the skip score layers start at
    zero, as in the paper, so the skips add nothing until training gives them something to
    add: a fresh FCN-16s/8s computes FCN-32s's coarse scores, upsampled in two or three
    bilinear steps (2x then 16x, or 2x, 2x then 8x) instead of one 32x step, which is
    close to FCN-32s's output but a little smoother (not identical). ``net.weights_source``
    says what happened to the backbone.
    """
    if weights not in ("auto", "imagenet", None):
        raise ValueError(f"weights must be 'auto', 'imagenet' or None, got {weights!r}")
    if upsample_init not in ("bilinear", "xavier"):
        raise ValueError(f"upsample_init must be 'bilinear' or 'xavier', got {upsample_init!r}")
    net = FCN(num_classes=num_classes, variant=variant)
    nn.init.xavier_uniform_(net.final_conv.weight)
    nn.init.zeros_(net.final_conv.bias)
    for name in ("score_layer3", "score_layer2"):
        if hasattr(net, name):
            nn.init.zeros_(getattr(net, name).weight)
            nn.init.zeros_(getattr(net, name).bias)
    with torch.no_grad():
        for layer in net.upsampling_layers():
            if upsample_init == "bilinear":
                layer.weight.copy_(bilinear_kernel(num_classes, num_classes, layer.kernel_size[0]))
            else:
                nn.init.xavier_uniform_(layer.weight)
    if weights is None:
        net.weights_source = "random backbone (weights=None)"
    else:
        net.weights_source = load_imagenet_backbone(net, required=(weights == "imagenet"))
    return net


def skip_forward(net: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Every intermediate tensor of ``net(x)`` for an FCN from :func:`fcnlib.fcn_resnet18`.

    Keys, in the order they are computed (the skip entries only for FCN-16s / FCN-8s)::

        layer2 (1/8), layer3 (1/16), layer4 (1/32)   backbone features
        score32        final_conv(layer4)                       [N, C, H/32, W/32]
        up32to16       up_layer4(score32)      (16s, 8s)        [N, C, H/16, W/16]
        score16        score_layer3(layer3)    (16s, 8s)
        fused16        up32to16 + score16      (16s, 8s)
        up16to8        up_layer3(fused16)      (8s)             [N, C, H/8, W/8]
        score8         score_layer2(layer2)    (8s)
        fused8         up16to8 + score8        (8s)
        out            transpose_conv(finest fused map)         [N, C, H, W]

    ``out`` equals ``net(x)``; the tests check it.
    """
    for name in ("conv1", "layer4", "final_conv", "transpose_conv", "variant"):
        if not hasattr(net, name):
            raise TypeError(f"skip_forward needs an FCN built by fcnlib.fcn_resnet18 (it has no {name!r})")
    if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2] % 32 or x.shape[-1] % 32:
        raise ValueError(f"x must be [N, 3, H, W] with H and W multiples of 32, got {tuple(x.shape)}")
    t: dict[str, Tensor] = {}
    h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    h = net.layer1(h)
    t["layer2"] = net.layer2(h)
    t["layer3"] = net.layer3(t["layer2"])
    t["layer4"] = net.layer4(t["layer3"])
    score = t["score32"] = net.final_conv(t["layer4"])
    if net.variant in ("16s", "8s"):
        t["up32to16"] = net.up_layer4(score)
        t["score16"] = net.score_layer3(t["layer3"])
        score = t["fused16"] = t["up32to16"] + t["score16"]
    if net.variant == "8s":
        t["up16to8"] = net.up_layer3(score)
        t["score8"] = net.score_layer2(t["layer2"])
        score = t["fused8"] = t["up16to8"] + t["score8"]
    t["out"] = net.transpose_conv(score)
    return t


class InitReport(NamedTuple):
    """What :func:`init_from` did: names copied, and names of ``dst`` left as they were."""

    copied: list[str]
    kept: list[str]


def init_from(dst: nn.Module, src: nn.Module) -> InitReport:
    """Copy every parameter and buffer of ``src`` into ``dst`` whose name and shape match.

    Used as in the paper: ``init_from(fcn16, trained_fcn32)``. The backbone, the layer4
    score layer (``final_conv``) and BatchNorm statistics are copied; what FCN-32s does not
    have (the zero-initialised skip score layers, the bilinear 2x upsamplers) or has in
    another shape (the final 32x upsampler, which becomes a 16x one) keeps ``dst``'s
    initialisation. With zero skip layers the fresh FCN-16s then predicts what the trained
    FCN-32s predicted, up to the final upsampling (bilinear 16x of the 2x-upsampled scores
    instead of bilinear 32x). Returns an :class:`InitReport`.
    """
    if not isinstance(dst, nn.Module) or not isinstance(src, nn.Module):
        raise TypeError(f"dst and src must be torch modules, got {type(dst).__name__} and {type(src).__name__}")
    src_state = src.state_dict()
    dst_state = dst.state_dict()
    copied, kept = [], []
    with torch.no_grad():
        for name, value in dst_state.items():
            other = src_state.get(name)
            if other is not None and other.shape == value.shape:
                value.copy_(other)
                copied.append(name)
            else:
                kept.append(name)
    if not any(name.startswith("layer4.") for name in copied):
        raise ValueError(
            "init_from copied no backbone weights: src and dst do not look like two FCNs on the same backbone "
            f"(copied {copied[:3]}...)"
        )
    return InitReport(copied, kept)


_HEAD_PREFIXES = ("final_conv", "score_layer3", "score_layer2", "up_layer4", "up_layer3", "transpose_conv")


def param_groups(net: nn.Module, lr: float, skip_lr_mult: float = 1.0) -> list[dict]:
    """Optimizer parameter groups where the two skip score layers learn ``skip_lr_mult`` times faster.

    The skip layers start at zero and see a gradient only through the sum with the
    coarse scores; a larger multiplier lets them catch up in a short training run. With
    ``skip_lr_mult=1`` this is just ``net.parameters()`` at rate ``lr``.
    """
    if lr <= 0 or skip_lr_mult <= 0:
        raise ValueError(f"lr and skip_lr_mult must be positive, got lr={lr}, skip_lr_mult={skip_lr_mult}")
    skip = [p for n, p in net.named_parameters() if n.split(".")[0] in ("score_layer3", "score_layer2")]
    skip_ids = {id(p) for p in skip}
    rest = [p for p in net.parameters() if id(p) not in skip_ids]
    groups = [{"params": rest, "lr": lr}]
    if skip:
        groups.append({"params": skip, "lr": lr * skip_lr_mult})
    return groups
