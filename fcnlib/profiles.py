"""Run profiles (``quick``: minutes per chapter on a CPU; ``full``: d2l's settings), devices, precision,
and every ``FCNLIB_*`` environment variable, each read by one function here."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

REPOSITORY = "fcn-notebooks/fcn-notebooks"
"""GitHub owner/name of the course (tools/repo.py builds the Colab badges and install cells from it)."""
BRANCH = "main"


def _env(name: str, lower: bool = False) -> str:
    """``$FCNLIB_<name>``, stripped (and lower-cased), or '' when unset."""
    value = os.environ.get(f"FCNLIB_{name}", "").strip()
    return value.lower() if lower else value


def _refuse(name: str, accepted: str, value: str, advice: str = "change it, or unset it") -> ValueError:
    """The one message for a bad ``$FCNLIB_<name>``: the accepted values, the value found, what to do."""
    return ValueError(f"FCNLIB_{name} must be {accepted}, got {value!r}; {advice}")


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
    optimizer: str  # "sgd" (d2l's) or "adamw"
    lr: float  # the rate (with schedule "onecycle": the peak rate)
    wd: float
    momentum: float  # SGD's (schedule "onecycle" cycles it from 0.95 to 0.85 and back instead)
    schedule: str  # "constant" (d2l's) or "onecycle": stepped after every batch, see make_trainer
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

    @property
    def recipe(self) -> dict[str, Any]:
        """How this profile trains, as keywords of :func:`make_trainer` (and ``fcnlib.experiments``' runs)."""
        return dict(optimizer=self.optimizer, lr=self.lr, wd=self.wd, momentum=self.momentum, schedule=self.schedule)


def make_trainer(
    params: Any, num_steps: int, *, optimizer="sgd", lr=0.001, wd=1e-3, momentum=0.0, schedule="constant"
) -> tuple[torch.optim.Optimizer, Any]:
    """``(trainer, scheduler)`` for ``num_steps`` batches: ``SGD(params, lr, momentum, weight_decay=wd)`` (the defaults
    are d2l's) or ``AdamW(params, lr, weight_decay=wd)``; scheduler None for ``"constant"``, else torch's ``OneCycleLR``
    with its defaults (each group's rate climbs from 1/25 of ``lr``, or of the group's own, to it over the first 30% of
    the steps, then falls to 1/25e4 of it along a cosine, while SGD's momentum or Adam's beta1 falls from 0.95 to 0.85
    and climbs back; step it after every batch: ``fcnlib.train(..., scheduler=)``). ``ValueError`` for other names."""
    if optimizer not in ("sgd", "adamw") or schedule not in ("constant", "onecycle"):
        raise ValueError(
            f"optimizer: 'sgd' or 'adamw', schedule: 'constant' or 'onecycle'; got {optimizer!r}, {schedule!r}"
        )
    kind, extra = (torch.optim.SGD, dict(momentum=momentum)) if optimizer == "sgd" else (torch.optim.AdamW, {})
    trainer = kind(params, lr=lr, weight_decay=wd, **extra)
    peaks = [group["lr"] for group in trainer.param_groups]  # a group given its own rate peaks at that rate
    return trainer, None if schedule == "constant" else torch.optim.lr_scheduler.OneCycleLR(trainer, peaks, num_steps)


# quick: recipe.py's best for chapter 6's FCN-8s (results/recipe.json) within the old image passes and time (batch
# 16: a CPU step has a fixed cost, so smaller batches are slower); SGD with momentum, one-cycle peaking at 5e-3.
_KEYS = "crop_size batch_size num_epochs optimizer lr wd momentum schedule n_train n_val image_size num_workers".split()
PROFILES = {  # settings in _KEYS' order
    "quick": dict(zip(_KEYS, [(128, 160), 16, 2, "sgd", 0.005, 1e-3, 0.9, "onecycle", 960, 96, (144, 192), 0])),
    "full": dict(zip(_KEYS, [(320, 480), 32, 5, "sgd", 0.001, 1e-3, 0.0, "constant", 1464, 1449, (375, 500), 4])),
}


def profile_setting() -> str:
    """``$FCNLIB_PROFILE``: ``"quick"``, ``"full"`` or '' (unset); ``ValueError`` for anything else."""
    if (name := _env("PROFILE", lower=True)) and name not in PROFILES:
        raise _refuse("PROFILE", "'quick' (CPU) or 'full' (GPU)", name, "unset it for full on CUDA, else quick")
    return name


def profile(name: str | None = None, device: torch.device | None = None) -> Profile:
    """Settings for this run: ``name`` or ``$FCNLIB_PROFILE`` or ``full`` on CUDA else ``quick``; ``device``, else
    :func:`device_setting`, else :func:`best_device`. ``ValueError`` for an unknown profile or a bad setting."""
    device = torch.device(device or device_setting() or best_device())
    name = name or profile_setting() or ("full" if device.type == "cuda" else "quick")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: use 'quick' (CPU) or 'full' (GPU)")
    settings = {**PROFILES[name], **({"num_workers": 0} if device.type == "cpu" else {})}
    if max_steps_setting():  # a smoke run: every code path once, so one epoch of the profile's length
        settings["num_epochs"] = 1
    return Profile(name=name, device=device, devices=all_devices() if device.type == "cuda" else [device], **settings)


def device_setting() -> torch.device | None:
    """``$FCNLIB_DEVICE``: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` that this machine has; None when unset or ``auto``.
    ``ValueError`` naming the variable for anything else, or for a device this machine lacks."""
    value = _env("DEVICE", lower=True)
    if value in ("", "auto"):
        return None
    try:
        device = torch.device(value)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise _refuse("DEVICE", "'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'", value, "unset it for the best device here")
    cuda = device.type == "cuda" and torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if not (device.type == "cpu" or cuda or (device.type == "mps" and best_device().type == "mps")):
        best = best_device().type
        raise _refuse("DEVICE", f"a device this machine has ({best} is its best)", value, f"use {best}, or unset it")
    return device


def _url_setting(name: str, accepted: str, advice: str, pattern: str, many: bool = False) -> str:
    """``$FCNLIB_<name>`` if every space- or comma-separated part (one unless ``many``) matches ``pattern``."""
    value, parts = _env(name), _env(name).replace(",", " ").split()
    if len(parts) > max(many * len(parts), 1) or any(not re.fullmatch(pattern, u, re.IGNORECASE) for u in parts):
        raise _refuse(name, accepted, value, advice)
    return value


def voc_mirrors_setting() -> str:
    """``$FCNLIB_VOC_MIRRORS``: VOC2012 archive addresses (space- or comma-separated), or ''; ``ValueError``."""
    accepted = "http://, https:// or file:// addresses separated by spaces or commas"
    return _url_setting("VOC_MIRRORS", accepted, "unset it for the default mirrors", r"(https?|file)://\S+", True)


def resnet18_url_setting() -> str:
    """``$FCNLIB_RESNET18_URL``: another address of the ImageNet ResNet-18 file, or ''; ``ValueError``."""
    accepted = "one http://, https:// or file:// address ending in the file's name"
    return _url_setting("RESNET18_URL", accepted, "unset it for torchvision's address", r"(https?|file)://\S*/[^/\s,]+")


def voc_sha1_setting() -> str:
    """``$FCNLIB_VOC_SHA1``: the SHA-1 (40 hex digits, lower case) of the VOC archive a mirror serves, or ''."""
    value = _env("VOC_SHA1", lower=True)
    if value and not re.fullmatch("[0-9a-f]{40}", value):
        raise _refuse("VOC_SHA1", "the archive's SHA-1 (40 hex digits, as sha1sum prints)", value)
    return value


def folder_problem(path: Path, writable: bool = False) -> str:
    """Why no folder can be at ``path`` (a file there or above it, a read-only parent; if ``writable``, a read-only
    folder there), or ''."""
    if path.exists() and not path.is_dir():
        return f"{path} is a file"
    if path.exists():
        return f"the folder {path} is read-only" if writable and not os.access(path, os.W_OK | os.X_OK) else ""
    parent = next(p for p in path.absolute().parents if p.exists())
    if not parent.is_dir():
        return f"{parent} is a file"
    return "" if os.access(parent, os.W_OK | os.X_OK) else f"{path} cannot be created in the read-only {parent}"


def data_root_setting() -> str:
    """``$FCNLIB_DATA_DIR`` (or an older ``$FCNLIB_DATA`` naming a folder): the datasets' folder, or ''.
    ``ValueError`` naming the variable when it is a file or cannot be created."""
    name, value = ("DATA_DIR", _env("DATA_DIR")) if _env("DATA_DIR") else ("DATA", _env("DATA"))
    if not value or (name == "DATA" and (data_choice_setting() or value.lower() == "auto")):
        return ""
    if problem := folder_problem(Path(value).expanduser()):
        raise _refuse(name, "a folder that exists or can be created", value, f"{problem}: name another, or unset it")
    return value


def data_choice_setting() -> str:
    """``$FCNLIB_DATA``: ``"voc"`` (download VOC2012 when missing), ``"synthetic"`` (the teaching dataset), else ''
    (unset, ``auto``, or an older folder path: one with a ``/`` or that exists). ``ValueError`` for anything else."""
    value = _env("DATA")
    if value.lower() in ("voc", "synthetic"):
        return value.lower()
    if value and value.lower() != "auto" and not ("/" in value or os.sep in value or Path(value).expanduser().is_dir()):
        raise _refuse("DATA", "'voc', 'synthetic' or 'auto' (a folder goes in FCNLIB_DATA_DIR)", value)
    return ""


def offline_setting() -> bool:
    """``$FCNLIB_OFFLINE``: ``1`` (also true, yes, on): fcnlib downloads nothing; ``0`` or unset: it may.
    ``ValueError`` for anything else."""
    value = _env("OFFLINE", lower=True)
    if value not in ("", "0", "false", "no", "off", "1", "true", "yes", "on"):
        raise _refuse("OFFLINE", "'1' (download nothing) or '0'", value, "unset it to allow downloads")
    return value in ("1", "true", "yes", "on")


def language_setting() -> str:
    """``$FCNLIB_LANG``: the language of the chapters' feedback, ``"en"`` (default) or ``"zh"``.
    ``ValueError`` for anything else."""
    value = _env("LANG", lower=True) or "en"
    if value not in ("en", "zh"):
        raise _refuse("LANG", "'en' or 'zh'", value, "unset it for English")
    return value


def max_steps_setting() -> int | None:
    """``$FCNLIB_MAX_STEPS``: at most this many batches per epoch from ``load_data_voc``, and profiles of one epoch
    (smoke runs), or None.
    ``ValueError`` unless it is a whole number >= 1."""
    value = _env("MAX_STEPS")
    if value and (not value.isdigit() or int(value) < 1):
        raise _refuse("MAX_STEPS", "a whole number >= 1 (batches per epoch)", value, "unset it for every batch")
    return int(value) if value else None


# every FCNLIB_* variable and the function that reads it
SETTINGS = dict(PROFILE=profile_setting, DEVICE=device_setting, DATA=data_choice_setting, DATA_DIR=data_root_setting)
SETTINGS.update(OFFLINE=offline_setting, LANG=language_setting, MAX_STEPS=max_steps_setting)
SETTINGS.update(VOC_MIRRORS=voc_mirrors_setting, VOC_SHA1=voc_sha1_setting, RESNET18_URL=resnet18_url_setting)


def check_settings() -> None:
    """Read every ``FCNLIB_*`` variable (``python -m fcnlib`` does at its start); ``ValueError`` for the first bad
    one, or for a variable fcnlib does not read (a misspelt name would otherwise be ignored)."""
    for name in sorted(k[7:] for k in os.environ if k.startswith("FCNLIB_")):
        if name not in SETTINGS:
            known = ", ".join(f"FCNLIB_{k}" for k in SETTINGS)
            raise ValueError(f"FCNLIB_{name} is no setting of fcnlib (they are {known}); correct its name or unset it")
        SETTINGS[name]()


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
