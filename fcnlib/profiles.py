"""Run profiles (``quick``: minutes per chapter on a CPU; ``full``: the seed's settings), devices, precision,
and every ``FCNLIB_*`` environment variable, each read by one function here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch


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
    momentum: float  # quick: 0.9, else 180 plain-SGD steps from a random backbone predict background everywhere
    n_train: int  # images of the generated teaching dataset (used when VOC2012 is absent)
    n_val: int
    image_size: tuple[int, int]  # (height, width) of the generated images
    num_workers: int
    devices: list[torch.device] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"profile {self.name!r} on {self.device.type}: crops {self.crop_size[0]}x{self.crop_size[1]}, "
            f"batch {self.batch_size}, {self.num_epochs} epochs"
        )


# quick: about a minute on two cores from a random backbone (3 epochs of 60 batches). FCN-32s, seed 0, test mIoU
# on the central validation crops: 0.674 on the teaching dataset's version 3 (0.40 on version 2).
_KEYS = "crop_size batch_size num_epochs lr wd momentum n_train n_val image_size num_workers".split()
PROFILES = {  # settings in _KEYS' order
    "quick": dict(zip(_KEYS, [(128, 160), 16, 3, 0.001, 1e-3, 0.9, 960, 96, (144, 192), 0])),
    "full": dict(zip(_KEYS, [(320, 480), 32, 5, 0.001, 1e-3, 0.0, 1464, 1449, (375, 500), 4])),
}


def profile(name: str | None = None, device: torch.device | None = None) -> Profile:
    """Settings for this run: ``name`` or ``$FCNLIB_PROFILE`` or ``full`` on CUDA else ``quick``; ``$FCNLIB_DEVICE``
    (e.g. ``cpu``) overrides the device choice."""
    if device is None:
        env_device = os.environ.get("FCNLIB_DEVICE", "").strip()
        device = torch.device(env_device) if env_device else best_device()
    device = torch.device(device)
    default = "full" if device.type == "cuda" else "quick"
    name = name or os.environ.get("FCNLIB_PROFILE", "").strip().lower() or default
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: choose 'quick' (CPU, minutes) or 'full' (GPU, the seed's settings); "
            f"check the FCNLIB_PROFILE environment variable"
        )
    settings = {**PROFILES[name], **({"num_workers": 0} if device.type == "cpu" else {})}
    return Profile(name=name, device=device, devices=all_devices() if device.type == "cuda" else [device], **settings)


def data_root_setting() -> str:
    """``$FCNLIB_DATA_DIR`` (or an older ``$FCNLIB_DATA`` that is no dataset name): the datasets' folder, or ''."""
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


def max_steps_setting() -> int | None:
    """``$FCNLIB_MAX_STEPS``: at most this many batches per epoch from ``load_data_voc`` (smoke runs); None when unset.

    Raises ValueError unless it is a whole number >= 1.
    """
    value = os.environ.get("FCNLIB_MAX_STEPS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"FCNLIB_MAX_STEPS must be a whole number >= 1 (batches per epoch), got {value!r}; unset it")
    return int(value)


def resnet18_url_setting() -> str:
    """``$FCNLIB_RESNET18_URL``: another address of the ImageNet ResNet-18 file ('' when unset)."""
    return os.environ.get("FCNLIB_RESNET18_URL", "").strip()


def autocast_dtype(device: Any, amp: Any = "auto") -> torch.dtype | None:
    """The dtype ``train(amp=amp)`` computes in on ``device``, or None for float32. ``"auto"``: bfloat16 on CUDA
    compute capability >= 8.0, float16 (with a gradient scaler) below (a T4's bfloat16 is emulated, slow), float32
    on CPU and MPS; ``True``: also bfloat16 on the CPU; ``False``: float32; ``"bf16"``/``"fp16"`` force one.
    Raises ValueError for anything else."""
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
