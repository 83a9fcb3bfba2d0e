"""Fully Convolutional Networks on a ResNet-18 backbone: FCN-32s (the seed's net), FCN-16s, FCN-8s.

The recipe (Long, Shelhamer and Darrell, 2015) has three ingredients:

1. **Convolutionalisation**: keep a classification CNN but drop its global pooling and
   fully connected layers, so it maps an image to a *grid* of features (ResNet-18: 512
   channels at 1/32 of the input's height and width).
2. **Upsampling**: a 1x1 convolution turns the 512 features at every grid cell into
   class scores, and a transposed convolution (initialised to bilinear interpolation)
   enlarges the score map 32 times, back to the input size.
3. **Skip layers**: FCN-16s and FCN-8s add scores computed from the finer layer3 (1/16)
   and layer2 (1/8) feature maps, so object boundaries are no longer drawn in 32-pixel
   blocks.

The backbone's modules keep torchvision's names (``conv1``, ``bn1``, ..., ``layer4``), so
ImageNet weights load into it directly, and the head keeps the seed's names
(``final_conv``, ``transpose_conv``).
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Optional, Union

import torch
from torch import Tensor, nn

from .upsampling import bilinear_kernel, upsampling_params

__all__ = ["FCN", "fcn_resnet18", "imagenet_weights_path", "load_imagenet_backbone"]

VARIANTS = {"32s": 32, "16s": 16, "8s": 8}
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
"""torchvision's ResNet18_Weights.IMAGENET1K_V1 file (the name carries the start of its sha256)."""

_warned_offline = False


def imagenet_weights_path() -> Path:
    """Where torchvision keeps (and fcnlib looks for) the ImageNet ResNet-18 weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_URL.rsplit("/", 1)[-1]


def _download_weights(url: str, dst: Path, timeout: float) -> None:
    """Download ``url`` to ``dst``, failing fast (``timeout`` seconds) when the host is unreachable."""
    # torch.hub's downloader has no timeout: probe the connection first so that a machine
    # without internet falls back within seconds instead of hanging.
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
        pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    # torchvision's file names end in the first hex digits of the file's sha256.
    hash_prefix = url.rsplit("/", 1)[-1].split(".")[0].rsplit("-", 1)[-1]
    torch.hub.download_url_to_file(url, str(dst), hash_prefix=hash_prefix, progress=True)


def load_imagenet_backbone(
    net: nn.Module,
    required: bool,
    url: Optional[str] = None,
    timeout: float = 5.0,
) -> str:
    """Copy ImageNet ResNet-18 weights into ``net``'s backbone; return a sentence saying what happened.

    Looks in torch's hub cache first (see :func:`imagenet_weights_path`), then tries to
    download. ``FCNLIB_OFFLINE=1`` skips the download. With ``required=False`` a failure
    warns (once per session) and leaves the random initialisation in place; with
    ``required=True`` it raises a :class:`RuntimeError` that says where to put the file.
    """
    global _warned_offline
    url = url or os.environ.get("FCNLIB_RESNET18_URL", RESNET18_URL)
    path = imagenet_weights_path()
    if not path.is_file():
        reason = None
        if os.environ.get("FCNLIB_OFFLINE", "") not in ("", "0"):
            reason = "FCNLIB_OFFLINE is set"
        else:
            try:
                _download_weights(url, path, timeout)
            except (urllib.error.URLError, socket.timeout, TimeoutError, OSError, RuntimeError) as err:
                reason = f"downloading {url} failed ({err})"
        if reason is not None:
            message = (
                f"ImageNet weights for ResNet-18 are not available: {reason}. Download {RESNET18_URL} "
                f"on a machine with internet and place it at {path}"
            )
            if required:
                raise RuntimeError(message + ", or use weights=None for a randomly initialised backbone.")
            if not _warned_offline:
                warnings.warn(message + ". Continuing with a randomly initialised backbone.", stacklevel=3)
                _warned_offline = True
            return f"random backbone ({reason})"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        message = f"could not read the ImageNet weights at {path} ({err}); delete it and download it again"
        if required:
            raise RuntimeError(message) from err
        warnings.warn(message + ". Continuing with a randomly initialised backbone.", stacklevel=3)
        return f"random backbone (unreadable {path})"
    backbone_state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = net.load_state_dict(backbone_state, strict=False)
    backbone_missing = [k for k in missing if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")]
    if backbone_missing or unexpected:
        raise RuntimeError(f"{path} does not hold ResNet-18 weights (missing {backbone_missing[:3]}, unexpected {unexpected[:3]})")
    return f"ImageNet weights from {path}"


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
    weights: Union[str, None] = "auto",
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
