"""Run profiles (``quick``: minutes per chapter on a CPU; ``full``: the seed's settings), devices, precision,
and every ``FCNLIB_*`` environment variable, each read by one function here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch


def _env(name: str, lower: bool = False) -> str:
    """``$FCNLIB_<name>``, stripped (and lower-cased), or '' when unset."""
    value = os.environ.get(f"FCNLIB_{name}", "").strip()
    return value.lower() if lower else value


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


# quick: about a minute on two cores from a random backbone (2 epochs of 60 batches). FCN-32s, seed 0, test mIoU
# on the central validation crops: 0.692 after 2 epochs on the teaching dataset's version 3 (0.40 on version 2).
_KEYS = "crop_size batch_size num_epochs lr wd momentum n_train n_val image_size num_workers".split()
PROFILES = {  # settings in _KEYS' order
    "quick": dict(zip(_KEYS, [(128, 160), 16, 2, 0.001, 1e-3, 0.9, 960, 96, (144, 192), 0])),
    "full": dict(zip(_KEYS, [(320, 480), 32, 5, 0.001, 1e-3, 0.0, 1464, 1449, (375, 500), 4])),
}


def profile(name: str | None = None, device: torch.device | None = None) -> Profile:
    """Settings for this run: ``name`` or ``$FCNLIB_PROFILE`` or ``full`` on CUDA else ``quick``; ``$FCNLIB_DEVICE``
    (e.g. ``cpu``) overrides the device choice."""
    device = torch.device(device or _env("DEVICE") or best_device())
    name = name or _env("PROFILE", lower=True) or ("full" if device.type == "cuda" else "quick")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: use 'quick' (CPU) or 'full' (GPU); check $FCNLIB_PROFILE")
    settings = {**PROFILES[name], **({"num_workers": 0} if device.type == "cpu" else {})}
    if max_steps_setting():  # a smoke run: every code path once, so one epoch of the profile's length
        settings["num_epochs"] = 1
    return Profile(name=name, device=device, devices=all_devices() if device.type == "cuda" else [device], **settings)


# The FCNLIB_* strings ('' when unset): the SHA-1 of the VOC archive a mirror serves (when not VOC2012's own),
# VOC2012 archive addresses (space- or comma-separated), another address of the ImageNet ResNet-18 file.
voc_sha1_setting = partial(_env, "VOC_SHA1", lower=True)
voc_mirrors_setting = partial(_env, "VOC_MIRRORS")
resnet18_url_setting = partial(_env, "RESNET18_URL")


def data_root_setting() -> str:
    """``$FCNLIB_DATA_DIR`` (or an older ``$FCNLIB_DATA`` that is no dataset name): the datasets' folder, or ''."""
    return _env("DATA_DIR") or ("" if _env("DATA", lower=True) in ("voc", "synthetic", "auto") else _env("DATA"))


def data_choice_setting() -> str:
    """``$FCNLIB_DATA``: ``"voc"`` (download VOC2012 when missing), ``"synthetic"`` (the teaching dataset), else ''."""
    return _env("DATA", lower=True) if _env("DATA", lower=True) in ("voc", "synthetic") else ""


def offline_setting() -> bool:
    """``$FCNLIB_OFFLINE`` set to anything but '' or '0': fcnlib downloads nothing."""
    return _env("OFFLINE") not in ("", "0")


def language_setting() -> str:
    """``$FCNLIB_LANG``: the language of the chapters' feedback, ``"en"`` (default) or ``"zh"``.
    ``ValueError`` for anything else."""
    value = _env("LANG", lower=True) or "en"
    if value not in ("en", "zh"):
        raise ValueError(f"FCNLIB_LANG must be 'en' or 'zh', got {value!r}; unset it for English")
    return value


def max_steps_setting() -> int | None:
    """``$FCNLIB_MAX_STEPS``: at most this many batches per epoch from ``load_data_voc``, and profiles of one epoch
    (smoke runs), or None.
    ``ValueError`` unless it is a whole number >= 1."""
    value = _env("MAX_STEPS")
    if value and (not value.isdigit() or int(value) < 1):
        raise ValueError(f"FCNLIB_MAX_STEPS must be a whole number >= 1 (batches per epoch), got {value!r}; unset it")
    return int(value) if value else None


def autocast_dtype(device: Any, amp: Any = "auto") -> torch.dtype | None:
    """The dtype ``train(amp=amp)`` computes in on ``device``, None for float32. ``"auto"``: bfloat16 on CUDA >= 8.0,
    float16 below (a T4's bfloat16 is emulated, slow), float32 on CPU and MPS; ``True``: also bfloat16 on the CPU;
    ``False``: float32; ``"bf16"``/``"fp16"`` force one. ``ValueError`` for anything else."""
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
