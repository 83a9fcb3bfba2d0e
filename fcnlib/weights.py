"""ImageNet weights for the ResNet-18 backbone: torchvision's cache, a bounded download, and
the offline fallback to a random backbone.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["RESNET18_URL", "imagenet_weights_path", "load_imagenet_backbone"]


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
    url: str | None = None,
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
            except (urllib.error.URLError, TimeoutError, OSError, RuntimeError) as err:
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
    backbone_missing = [
        k for k in missing if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
    ]
    if backbone_missing or unexpected:
        raise RuntimeError(
            f"{path} does not hold ResNet-18 weights (missing {backbone_missing[:3]}, unexpected {unexpected[:3]})"
        )
    return f"ImageNet weights from {path}"
