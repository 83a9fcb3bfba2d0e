"""Run profiles: the same chapters on a 2-core laptop CPU and on a GPU.

``quick`` keeps every chapter to about two minutes on a CPU (small crops, a small
generated dataset, few epochs); ``full`` uses the seed's settings (320x480 crops,
batch 32, 5 epochs, Pascal VOC2012 when it is present). The profile is chosen from
the device and can be forced with the environment variable ``FCNLIB_PROFILE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["autocast_dtype", "best_device", "all_devices", "Profile", "PROFILES", "profile"]


def best_device() -> torch.device:
    """The fastest device here: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def all_devices() -> list[torch.device]:
    """Every CUDA GPU, else ``[best_device()]``; never empty (unlike d2l's ``try_all_gpus`` on a CPU)."""
    if torch.cuda.is_available():
        return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    return [best_device()]


@dataclass(frozen=True)
class Profile:
    """Settings one chapter run uses. Print it to see what ran."""

    name: str
    device: torch.device
    crop_size: tuple[int, int]
    batch_size: int
    num_epochs: int
    lr: float
    wd: float
    momentum: float
    """SGD momentum: the seed uses none (full); the quick profile uses 0.9, because without it
    the 180 plain-SGD steps from a random backbone barely get past predicting background everywhere."""
    n_train: int
    """Images in the generated teaching dataset's train split (when VOC2012 is absent)."""
    n_val: int
    image_size: tuple[int, int]
    """(height, width) of the generated teaching images."""
    num_workers: int
    devices: list[torch.device] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"profile {self.name!r} on {self.device.type}: crops {self.crop_size[0]}x{self.crop_size[1]}, "
            f"batch {self.batch_size}, {self.num_epochs} epochs"
        )


# The quick profile trains from a random backbone (no ImageNet weights offline) for about a
# minute on two cores: 960 generated images of 144x192, random 128x160 crops (a 4x5 grid of
# 32-pixel cells), 3 epochs of 60 batches. Measured on the teaching dataset (FCN-32s, seed 0,
# test mIoU; "background everywhere" scores 0.09-0.10): 0.40 on the central validation crops,
# 0.43 on the whole validation images, with these settings. On 48 validation crops of 96x128:
# 0.29 with the first version's 240 images of 128x160 and 4 epochs, 0.40 with 960 such images.
PROFILES = {
    "quick": dict(
        crop_size=(128, 160),
        batch_size=16,
        num_epochs=3,
        lr=0.001,
        wd=1e-3,
        momentum=0.9,
        n_train=960,
        n_val=96,
        image_size=(144, 192),
        num_workers=0,
    ),
    "full": dict(
        crop_size=(320, 480),
        batch_size=32,
        num_epochs=5,
        lr=0.001,
        wd=1e-3,
        momentum=0.0,
        n_train=1464,
        n_val=1449,
        image_size=(375, 500),
        num_workers=4,
    ),
}


def profile(name: str | None = None, device: torch.device | None = None) -> Profile:
    """Settings for this run: ``name`` or ``$FCNLIB_PROFILE`` or, by default, ``full`` on CUDA else ``quick``.

    ``$FCNLIB_DEVICE`` (e.g. ``cpu``) overrides the device choice.
    """
    if device is None:
        env_device = os.environ.get("FCNLIB_DEVICE", "").strip()
        device = torch.device(env_device) if env_device else best_device()
    device = torch.device(device)
    name = (
        name or os.environ.get("FCNLIB_PROFILE", "").strip().lower() or ("full" if device.type == "cuda" else "quick")
    )
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: choose 'quick' (CPU, minutes) or 'full' (GPU, the seed's settings); "
            f"check the FCNLIB_PROFILE environment variable"
        )
    devices = all_devices() if device.type == "cuda" else [device]
    settings = dict(PROFILES[name])
    if device.type == "cpu":
        settings["num_workers"] = 0
    return Profile(name=name, device=device, devices=devices, **settings)


def data_root_setting() -> str:
    """``$FCNLIB_DATA_DIR``: the folder datasets live in ('' when unset; see ``fcnlib.data.default_root``).

    An ``$FCNLIB_DATA`` that is not a dataset name (its older meaning) is read as this folder.
    """
    legacy = os.environ.get("FCNLIB_DATA", "").strip()
    return os.environ.get("FCNLIB_DATA_DIR", "").strip() or ("" if legacy.lower() in _DATASETS else legacy)


_DATASETS = ("voc", "synthetic", "auto")


def data_choice_setting() -> str:
    """``$FCNLIB_DATA``: ``"voc"`` (download VOC2012 when missing), ``"synthetic"`` (the teaching dataset), else ''."""
    value = os.environ.get("FCNLIB_DATA", "").strip().lower()
    return value if value in ("voc", "synthetic") else ""


def voc_sha1_setting() -> str:
    """``$FCNLIB_VOC_SHA1``: the SHA-1 of the VOC archive a mirror serves, when not VOC2012's own ('' when unset)."""
    return os.environ.get("FCNLIB_VOC_SHA1", "").strip().lower()


def offline_setting() -> bool:
    """``$FCNLIB_OFFLINE`` set to anything but '' or '0': fcnlib downloads nothing."""
    return os.environ.get("FCNLIB_OFFLINE", "").strip() not in ("", "0")


def voc_mirrors_setting() -> str:
    """``$FCNLIB_VOC_MIRRORS``: VOC2012 archive addresses, space- or comma-separated ('' when unset)."""
    return os.environ.get("FCNLIB_VOC_MIRRORS", "").strip()


def resnet18_url_setting() -> str:
    """``$FCNLIB_RESNET18_URL``: another address of the ImageNet ResNet-18 file ('' when unset)."""
    return os.environ.get("FCNLIB_RESNET18_URL", "").strip()


def autocast_dtype(device: Any, amp: Any = "auto") -> torch.dtype | None:
    """The dtype ``train(amp=amp)`` computes in on ``device``, or None for full float32.

    ``"auto"``: bfloat16 on CUDA GPUs of compute capability 8.0 and above (Ampere, Hopper),
    float16 with a gradient scaler below (Colab's T4 is 7.5: ``torch.cuda.is_bf16_supported()``
    says True there, but only because bfloat16 is emulated, which is slow); float32 on the CPU
    and MPS. ``True``: as "auto", and bfloat16 on the CPU too. ``False``: float32.
    ``"bf16"``/``"fp16"`` force one. Raises ValueError for anything else.
    """
    device = torch.device(device)
    if amp in (False, None, "off", "fp32", torch.float32):
        return None
    if amp in ("auto", True):
        if device.type == "cuda":
            major, _ = torch.cuda.get_device_capability(device)
            return torch.bfloat16 if major >= 8 else torch.float16
        return torch.bfloat16 if amp is True and device.type == "cpu" else None
    if amp in ("bf16", "bfloat16", torch.bfloat16):
        return torch.bfloat16
    if amp in ("fp16", "float16", torch.float16):
        return torch.float16
    raise ValueError(f"amp must be 'auto', True, False, 'bf16' or 'fp16', got {amp!r}")
