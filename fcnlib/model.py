"""The FCN: FCN-32s/16s/8s on a ResNet-18 backbone (Long et al. 2015, d2l 14.11), staged initialisation."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .shapes import VARIANT_STRIDES, check_int, upsampling_params
from .upsampling import bilinear_kernel
from .weights import load_imagenet_backbone


def device_of(net: nn.Module) -> torch.device:
    """The device of ``net``'s first parameter, else of its first buffer, else the CPU."""
    tensor = next(itertools.chain(net.parameters(), net.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _transpose_conv(num_classes: int, factor: int) -> nn.ConvTranspose2d:
    k, s, p = upsampling_params(factor)
    return nn.ConvTranspose2d(num_classes, num_classes, kernel_size=k, stride=s, padding=p, bias=False)


def check_input(x: object, dtype: torch.dtype = torch.float32) -> None:
    """``TypeError`` (non-tensor, other dtype) or ``ValueError`` (other shape) unless ``x`` is a ``dtype``
    batch ``[N, 3, H, W]`` with ``H``, ``W`` multiples of 32; each message says how to fix it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"the FCN expects a tensor [N, 3, H, W], got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        hint = " (one image [3, H, W]: add the batch axis with x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(f"expected a batch of RGB images [N, 3, H, W], got shape {tuple(x.shape)}{hint}")
    if x.dtype != dtype:
        how = f"convert with x.to({dtype})" if x.is_floating_point() else "use fcnlib.data.normalize_image(x)"
        raise TypeError(f"the FCN expects normalised {dtype} images [N, 3, H, W], got {x.dtype}; {how}")
    h, w = x.shape[-2:]
    if h % 32 or w % 32:
        raise ValueError(f"input sides must be multiples of 32, got {h}x{w}; crop or pad, or use fcnlib.predict_full")


class FCN(nn.Module):
    """FCN-32s, -16s or -8s on ResNet-18 (Long et al. 2015), built by :func:`fcn_resnet18`. ``forward``: float
    ``[N, 3, H, W]`` (``H``, ``W`` multiples of 32, the parameters' dtype) -> logits ``[N, num_classes, H, W]``."""

    def __init__(self, num_classes: int = 21, variant: str = "32s") -> None:
        super().__init__()
        if variant not in VARIANT_STRIDES:
            raise ValueError(f"variant must be one of {sorted(VARIANT_STRIDES)}, got {variant!r}")
        check_int(num_classes, "num_classes", 1)
        import torchvision

        resnet = torchvision.models.resnet18(weights=None)
        self.variant, self.num_classes = variant, num_classes
        # The backbone: ResNet-18 without global average pooling and fc; the head scores layer4 (1/32).
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
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
        """Every map of the forward pass by name: backbone ``layer2`` (1/8), ``layer3``, ``layer4`` (1/32); ``score32``
        ``[N, C, H/32, W/32]``; for 16s/8s ``up32to16``, ``score16``, ``fused16`` (their sum) at 1/16; for 8s
        ``up16to8``, ``score8``, ``fused8`` at 1/8; ``out [N, C, H, W]``. Raises what :func:`check_input` raises."""
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
    num_classes: int = 21, variant: str = "32s", weights: str | None = "auto", upsample_init: str = "bilinear"
) -> FCN:
    """An FCN on ResNet-18 (Long et al. 2015; d2l's is ``variant="32s"``). ``weights``: ``"auto"`` (ImageNet
    backbone if cached or downloadable, else a warning and a random one), ``"imagenet"`` (else ``RuntimeError``) or
    ``None``; ``net.weights_source`` says which. ``upsample_init``: ``"bilinear"`` (d2l's) or ``"xavier"``.
    ``final_conv``: Xavier uniform as d2l's text says (d2l's PyTorch code keeps PyTorch's default; the paper starts
    it at zero), bias zero; skip score layers zero (the paper's). ``ValueError`` for other values."""
    if weights not in ("auto", "imagenet", None):
        raise ValueError(f"weights must be 'auto', 'imagenet' or None, got {weights!r}")
    if upsample_init not in ("bilinear", "xavier"):
        raise ValueError(f"upsample_init must be 'bilinear' or 'xavier', got {upsample_init!r}")
    net = FCN(num_classes=num_classes, variant=variant)
    nn.init.xavier_uniform_(net.final_conv.weight)
    for name, param in net.named_parameters():
        if name == "final_conv.bias" or name.startswith("score_layer"):
            nn.init.zeros_(param)
    with torch.no_grad():
        for layer in net.upsampling_layers():
            if upsample_init == "bilinear":
                layer.weight.copy_(bilinear_kernel(num_classes, num_classes, layer.kernel_size[0]))
            else:
                nn.init.xavier_uniform_(layer.weight)
    random = "random backbone (weights=None)"
    net.weights_source = load_imagenet_backbone(net, required=weights == "imagenet") if weights else random
    return net


class InitReport(NamedTuple):
    """What :func:`init_from` did: names copied, and names of ``dst`` left as they were."""

    copied: list[str]
    kept: list[str]


def init_from(dst: nn.Module, src: nn.Module) -> InitReport:
    """Copy every parameter and buffer of ``src`` whose name and shape match into ``dst``, in place (the paper's
    staged training: ``init_from(fcn16, trained_fcn32)``). ``ValueError`` when no backbone weight matched."""
    if not isinstance(dst, nn.Module) or not isinstance(src, nn.Module):
        raise TypeError(f"dst and src must be torch modules, got {type(dst).__name__} and {type(src).__name__}")
    src_state = src.state_dict()
    copied, kept = [], []
    with torch.no_grad():
        for name, value in dst.state_dict().items():
            other = src_state.get(name)
            if other is not None and other.shape == value.shape:
                value.copy_(other)
                copied.append(name)
            else:
                kept.append(name)
    if not any(name.startswith("layer4.") for name in copied):
        raise ValueError(f"init_from copied no backbone weights (only {copied[:3]}): give two FCNs on one backbone")
    return InitReport(copied, kept)


def param_groups(net: nn.Module, lr: float, skip_lr_mult: float = 1.0) -> list[dict]:
    """Optimizer parameter groups: the skip score layers at ``lr * skip_lr_mult``, the rest at ``lr`` (both > 0)."""
    if lr <= 0 or skip_lr_mult <= 0:
        raise ValueError(f"lr and skip_lr_mult must be positive, got lr={lr}, skip_lr_mult={skip_lr_mult}")
    skip, rest = [], []
    for name, param in net.named_parameters():
        (skip if name.split(".")[0] in ("score_layer3", "score_layer2") else rest).append(param)
    return [{"params": rest, "lr": lr}] + ([{"params": skip, "lr": lr * skip_lr_mult}] if skip else [])
