"""The FCN: FCN-32s/16s/8s on a ResNet-18 backbone (Long et al. 2015, d2l 14.11), and the
small tools that look inside it (convolutionalisation, parameter counts, staged initialisation).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .shapes import VARIANT_STRIDES, check_int, upsampling_params
from .upsampling import bilinear_kernel
from .weights import load_imagenet_backbone

__all__ = [
    "device_of",
    "FCN",
    "fcn_resnet18",
    "skip_forward",
    "InitReport",
    "init_from",
    "param_groups",
]


def device_of(net: nn.Module) -> torch.device:
    """The device of ``net``'s first parameter, else of its first buffer, else the CPU."""
    tensor = next(itertools.chain(net.parameters(), net.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _transpose_conv(num_classes: int, factor: int) -> nn.ConvTranspose2d:
    k, s, p = upsampling_params(factor)
    return nn.ConvTranspose2d(num_classes, num_classes, kernel_size=k, stride=s, padding=p, bias=False)


def check_input(x: object, dtype: torch.dtype = torch.float32) -> None:
    """Raise a clear error unless ``x`` is a ``dtype`` batch ``[N, 3, H, W]`` with ``H``, ``W`` multiples of 32.

    ``TypeError`` for a non-tensor or another dtype (uint8 pixels, float64), ``ValueError``
    for another rank, channel count or size; each message says how to convert.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"the FCN expects a tensor [N, 3, H, W], got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        hint = " (one image [3, H, W]: add the batch axis with x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(f"expected a batch of RGB images [N, 3, H, W], got shape {tuple(x.shape)}{hint}")
    if x.dtype != dtype:
        how = (
            "normalise uint8 pixels with fcnlib.data.normalize_image(x)"
            if not x.is_floating_point()
            else f"convert with x.to({dtype})"
        )
        raise TypeError(f"the FCN expects normalised {dtype} images [N, 3, H, W], got {x.dtype}; {how}")
    h, w = x.shape[-2:]
    if h % 32 or w % 32:
        raise ValueError(
            f"input height and width must be multiples of 32 (ResNet-18 halves them five times), got {h}x{w}; "
            "crop or pad the image (fcnlib.predict_full pads any size for you)."
        )


class FCN(nn.Module):
    """FCN-32s, -16s or -8s on a ResNet-18 backbone (Long et al. 2015). Build it with :func:`fcn_resnet18`.

    ``forward``: float ``[N, 3, H, W]`` (``H``, ``W`` multiples of 32, the parameters' dtype)
    -> logits ``[N, num_classes, H, W]``. :meth:`intermediates` returns every map it computes.
    """

    def __init__(self, num_classes: int = 21, variant: str = "32s") -> None:
        super().__init__()
        if variant not in VARIANT_STRIDES:
            raise ValueError(f"variant must be one of {sorted(VARIANT_STRIDES)}, got {variant!r}")
        check_int(num_classes, "num_classes", 1)
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
        self.transpose_conv = _transpose_conv(num_classes, self.output_stride)

    @property
    def output_stride(self) -> int:
        """How many input pixels one cell of the finest score map covers (32, 16 or 8)."""
        return VARIANT_STRIDES[self.variant][-1]

    def upsampling_layers(self) -> list:
        """The transposed convolutions of the head, coarsest first."""
        return [m for m in self.modules() if isinstance(m, nn.ConvTranspose2d)]

    def intermediates(self, x: Tensor) -> dict[str, Tensor]:
        """Every map of the forward pass, in the order computed (skip entries for 16s/8s only)::

            layer2 (1/8), layer3 (1/16), layer4 (1/32)   backbone features
            score32   final_conv(layer4)                 [N, C, H/32, W/32]
            up32to16, score16, fused16 = up32to16 + score16   (16s, 8s)  [N, C, H/16, W/16]
            up16to8,  score8,  fused8  = up16to8 + score8     (8s)       [N, C, H/8, W/8]
            out       transpose_conv(finest map)         [N, C, H, W]

        Raises what :func:`check_input` raises.
        """
        param = next(self.parameters())
        check_input(x, param.dtype if torch.is_floating_point(param) else torch.float32)
        t: dict[str, Tensor] = {}
        t["layer2"] = self.layer2(self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x))))))
        t["layer3"] = self.layer3(t["layer2"])
        t["layer4"] = self.layer4(t["layer3"])
        score = t["score32"] = self.final_conv(t["layer4"])
        if self.variant in ("16s", "8s"):
            t["up32to16"] = self.up_layer4(score)
            t["score16"] = self.score_layer3(t["layer3"])
            score = t["fused16"] = t["up32to16"] + t["score16"]
        if self.variant == "8s":
            t["up16to8"] = self.up_layer3(score)
            t["score8"] = self.score_layer2(t["layer2"])
            score = t["fused8"] = t["up16to8"] + t["score8"]
        t["out"] = self.transpose_conv(score)
        return t

    def forward(self, x: Tensor) -> Tensor:
        return self.intermediates(x)["out"]


def fcn_resnet18(
    num_classes: int = 21,
    variant: str = "32s",
    weights: str | None = "auto",
    upsample_init: str = "bilinear",
) -> FCN:
    """An FCN on ResNet-18 (Long et al. 2015; the seed's net is ``variant="32s"``).

    ``num_classes``: output channels (21 for VOC). ``variant``: ``"32s"``, ``"16s"`` or ``"8s"``.
    ``weights``: ``"auto"`` (ImageNet backbone if cached or downloadable, else a warning and a
    random one), ``"imagenet"`` (``RuntimeError`` naming the file's place if unavailable) or
    ``None``. ``upsample_init``: ``"bilinear"`` (the seed's) or ``"xavier"`` (its exercise 1).
    ``final_conv`` is Xavier-initialised, the skip score layers zero (as in the paper).
    ``net.weights_source`` says what the backbone got. ``ValueError`` for other values.
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


def skip_forward(net: FCN, x: Tensor) -> dict[str, Tensor]:
    """``net.intermediates(x)``: every map of an FCN's forward pass (see :meth:`FCN.intermediates`)."""
    if not isinstance(net, FCN):
        raise TypeError(f"skip_forward needs an FCN built by fcnlib.fcn_resnet18, got {type(net).__name__}")
    return net.intermediates(x)


class InitReport(NamedTuple):
    """What :func:`init_from` did: names copied, and names of ``dst`` left as they were."""

    copied: list[str]
    kept: list[str]


def init_from(dst: nn.Module, src: nn.Module) -> InitReport:
    """Copy every parameter and buffer of ``src`` whose name and shape match into ``dst`` (in place).

    The paper's staged training: ``init_from(fcn16, trained_fcn32)`` copies the backbone and
    ``final_conv``; the skip layers and the re-sized final upsampler keep ``dst``'s values.
    ``ValueError`` when no backbone weight matched.
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
