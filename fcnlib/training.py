"""Training and evaluation: d2l's ``d2l.train_ch13`` as :func:`train_batch`, :func:`train_epoch`, :func:`train`.
Progress and figures are handed in as reporters (nothing is drawn here). Under ``torchrun`` sums and confusion
matrices are all-reduced; only rank 0 reports and writes checkpoints."""

from __future__ import annotations

import copy
import errno
import io
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data.distributed import DistributedSampler

from .metrics import ConfusionMatrix, restrict_to_band, scores_to_labels
from .model import device_of
from .profiles import all_devices, autocast_dtype
from .shapes import check_int

CHECKPOINT_FORMAT = "fcnlib-checkpoint-1"
CHANNELS_LAST_DEVICES = ("cuda", "cpu")  # channels_last="auto": a 2-core CPU trains 14% faster, infers 25%
PAD_MULTIPLE = 32  # evaluate pads sides that are not multiples of this (the FCN's stride)
_WRAPPERS = (nn.DataParallel, nn.parallel.DistributedDataParallel)
_DDP = nn.parallel.DistributedDataParallel


class TrainingDiverged(FloatingPointError):
    """The training loss or the weights became NaN or infinite, or the loss exploded, or the images held NaN or
    inf (the message says which and what to do). ``err.history`` holds the good epochs."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


def _summary(entry: dict[str, Any]) -> str:
    line = f"loss {entry['loss']:.3f}, train acc {entry['train_acc']:.3f}"
    if entry.get("pixel_acc") is not None:
        line += f", test acc {entry['pixel_acc']:.3f}, test mIoU {entry['miou']:.3f}"
    return line


class History(list):
    """One dict per epoch: ``epoch, loss, train_acc`` (on the training batches, d2l's), test ``pixel_acc, mean_acc,
    miou, fw_iou, iou`` (absent without a test_iter), ``examples, train_seconds, examples_per_sec, seconds``."""

    def __init__(self, epochs: Iterable[dict[str, Any]] = (), devices: Sequence[torch.device] = ()) -> None:
        super().__init__(epochs)
        self.devices = list(devices)

    def column(self, key: str) -> list[Any]:
        """The value of ``key`` in every epoch (``None`` where it is missing)."""
        return [epoch.get(key) for epoch in self]

    @property
    def examples_per_sec(self) -> float:
        """Training images per second over all epochs (d2l's: total images / total training time)."""
        seconds = sum(e.get("train_seconds", 0.0) for e in self)
        return sum(e.get("examples", 0) for e in self) / seconds if seconds > 0 else float("nan")

    def __str__(self) -> str:
        if not self:
            return "no epoch completed"
        return f"{_summary(self[-1])}\n{self.examples_per_sec:.1f} examples/sec on {self.devices}"

    def __repr__(self) -> str:
        return f"History({len(self)} epochs)\n{self}"


class TextReporter:
    """The default reporter: a tqdm bar per epoch, then d2l's closing lines. A reporter (e.g. fcnlib.viz.LiveCurves)
    has some of ``on_train_begin(num_epochs, num_batches, history)``, ``on_batch(epoch, running)`` (``{"loss", "acc"}``
    or None), ``on_epoch_end(history)``, ``close(history, completed)``; they are called on rank 0."""

    bar: Any = None

    def on_train_begin(self, num_epochs: int, num_batches: int | None, history: History) -> None:
        self.num_epochs, self.num_batches = num_epochs, num_batches
        if history:
            print(f"resuming after epoch {len(history)}")

    def on_batch(self, epoch: int, running: dict[str, float] | None) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            desc = f"epoch {epoch + 1}/{self.num_epochs}"
            self.bar = tqdm(total=self.num_batches, desc=desc, unit="batch", dynamic_ncols=True)
        self.bar.update(1)
        if running is not None:
            self.bar.set_postfix(loss=f"{running['loss']:.3f}", acc=f"{running['acc']:.3f}", refresh=False)

    def on_epoch_end(self, history: History) -> None:
        self.close(history, summary=_summary(history[-1]))

    def close(self, history: History, completed: bool = False, summary: str | None = None) -> None:
        if self.bar is not None:
            if summary is not None:
                self.bar.set_postfix_str(summary, refresh=True)
            self.bar, bar = None, self.bar
            bar.close()
        if completed and history:
            print(history)


def _report(reporters: Sequence[Any], hook: str, *args: Any) -> None:
    for reporter in reporters:
        if (method := getattr(reporter, hook, None)) is not None:
            method(*args)


def per_example_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
    """Cross-entropy averaged over each image's pixels not labelled ``ignore_index``: ``[N]`` from logits
    ``[N, C, H, W]`` (d2l's ``F.cross_entropy(..., reduction='none').mean(1).mean(1)`` without void)."""
    pixel_loss = F.cross_entropy(logits, labels, ignore_index=ignore_index, reduction="none")
    valid = (labels != ignore_index).flatten(1).sum(dim=1).clamp(min=1)
    return pixel_loss.flatten(1).sum(dim=1) / valid


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _unwrap(net: nn.Module) -> nn.Module:
    return net.module if isinstance(net, _WRAPPERS) else net


def _options(device: torch.device, amp: Any, channels_last: Any) -> tuple[torch.dtype | None, bool]:
    """``(autocast dtype or None, channels last)`` on ``device`` for ``amp`` and ``channels_last`` ("auto", bool)."""
    if channels_last == "auto":
        channels_last = device.type in CHANNELS_LAST_DEVICES
    elif not isinstance(channels_last, bool):
        raise ValueError(f"channels_last must be 'auto', True or False, got {channels_last!r}")
    return autocast_dtype(device, amp), channels_last


def _batch(X: Any, y: Any, device: torch.device, channels_last: bool, name: str | None, pad: bool = False) -> tuple:
    """``(X, y.long())`` on ``device``; X zero-padded to multiples of :data:`PAD_MULTIPLE` if ``pad``, channels last
    if asked. With ``name`` (the first batch) the types and label shape are checked first."""
    if name is not None:
        if not isinstance(X, Tensor) or not isinstance(y, Tensor):
            raise TypeError(f"{name} must yield (images, labels) tensors, got ({type(X).__name__}, {type(y).__name__})")
        if y.is_floating_point() or y.dtype == torch.bool:
            raise TypeError(f"labels from {name} must be integer class indices [N, H, W] (fcnlib.data), got {y.dtype}")
        if y.dim() != 3:
            raise ValueError(f"labels from {name} must have shape [N, H, W], got {tuple(y.shape)}")
    X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True).long()
    h, w = X.shape[-2:]
    if pad and (h % PAD_MULTIPLE or w % PAD_MULTIPLE):
        X = F.pad(X, (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE))
    return (X.contiguous(memory_format=torch.channels_last) if channels_last else X), y


def _logits(out: Any) -> Tensor:
    if isinstance(out, dict) and "out" in out:  # torchvision's segmentation models
        out = out["out"]
    if not isinstance(out, Tensor):
        raise TypeError(f"the net must return a tensor of class scores [N, C, H, W], got {type(out).__name__}")
    return out


def _check_loader(data_iter: Any, name: str) -> int | None:
    """``len(data_iter)`` (None without one, or for no ``data_iter``); ValueError when it is 0."""
    try:
        length = len(data_iter)
    except TypeError:
        return None
    if length == 0:
        hint = (
            "its dataset is empty, or smaller than batch_size with drop_last=True; check the data or lower batch_size"
        )
        raise ValueError(f"{name} yields no batches: {hint}")
    return length


def _no_batches(name: str, data_iter: Any, epoch: int = 0) -> ValueError:
    if isinstance(data_iter, Iterator) or epoch > 0:
        why = f"in epoch {epoch + 1}: a one-shot iterator (a generator) is spent after one pass"
        return ValueError(f"{name} yielded no batches {why}; pass a DataLoader or a list of batches")
    return ValueError(f"{name} yielded no batches: its dataset is empty")


def _check_reusable(loaders: dict[str, Any], passes: int) -> None:
    """ValueError for a one-shot iterator (a generator) among ``loaders`` that would be read ``passes`` > 1 times."""
    for name, data_iter in loaders.items():
        if passes > 1 and isinstance(data_iter, Iterator):
            raise ValueError(
                f"{name} is a one-shot iterator ({type(data_iter).__name__}): it is spent after one epoch, and "
                f"{passes} epochs need it; pass a DataLoader or a list of batches (e.g. list({name}))"
            )


def _label_rule(num_classes: int, ignore_index: int) -> str:
    return f"outside the class indices 0..{num_classes - 1} and not {ignore_index}: check num_classes and the labels"


def _screen_labels(y: Tensor, num_classes: int, ignore_index: int, strict: bool) -> tuple[Tensor, Any]:
    """``(labels, bad count)``: ``strict`` raises at once (a host sync, right on the CPU); else bad labels
    are counted on the device and trained as ignored, and :func:`train_epoch` raises at the epoch's end."""
    bad = ((y < 0) | (y >= num_classes)) & (y != ignore_index)
    if strict:
        if bool(bad.any()):
            values = y[bad].unique()[:8].tolist()
            raise ValueError(f"labels from train_iter contain {values}, {_label_rule(num_classes, ignore_index)}")
        return y, 0
    return torch.where(bad, ignore_index, y), bad.sum()


def _check_output(out: Tensor, y: Tensor, num_classes: int | None) -> int:
    if out.dim() != 4:
        raise ValueError(f"the net must return class scores [N, C, H, W], got shape {tuple(out.shape)}")
    if out.shape[0] != y.shape[0] or out.shape[-2:] != y.shape[-2:]:
        hint = "every pixel needs class scores; for the FCN each crop side must be a multiple of 32, e.g. (320, 480)"
        raise ValueError(f"the net's output {tuple(out.shape)} does not fit the labels {tuple(y.shape)}: {hint}")
    if num_classes is not None and out.shape[1] != num_classes:
        raise ValueError(f"the net returns {out.shape[1]} scores per pixel but num_classes={num_classes}: rebuild it")
    return int(out.shape[1])


def _infer_num_classes(num_classes: int | None, *loaders: Any) -> int | None:
    """``num_classes``, else a loader's ``dataset.num_classes``, else None (taken from the net's scores)."""
    if num_classes is not None:
        return check_int(num_classes, "num_classes", 1)
    found = (getattr(getattr(loader, "dataset", None), "num_classes", None) for loader in loaders)
    return next((n for n in found if isinstance(n, int)), None)


def check_checkpoint_path(path: str | Path) -> Path:
    """``path`` (``~`` expanded) if a checkpoint can be written there without replacing anything but a checkpoint
    (``train`` checks before epoch 1); else ``ValueError`` saying what is in the way."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"checkpoint={str(path)!r} is a folder; give a file in it, e.g. {str(path / 'fcn.pt')!r}")
    if path.is_file() and path.stat().st_size > 0:
        try:
            read_checkpoint(path, mmap=True)
        except ValueError as err:
            raise ValueError(f"{err}. It is left as it is: choose another checkpoint path") from None
    folder = next(p for p in path.absolute().parents if p.exists())  # the nearest; the others are created when saving
    if not folder.is_dir():
        raise ValueError(f"cannot save the checkpoint {path}: {folder} is a file, not a folder; choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot save the checkpoint {path}: the folder {folder} is read-only; choose another folder")
    return path


def save_checkpoint(path, net: nn.Module, trainer=None, history: Sequence = (), scaler=None, scheduler=None) -> Path:
    """Save ``net`` (unwrapped from DataParallel/DDP), ``trainer``, ``scaler``, ``scheduler`` and ``history``
    atomically (written under a temporary name, then ``os.replace``: never half a file, and a previous checkpoint
    survives a failure). ``OSError`` saying "disk full" when the disk fills up."""
    path = Path(path).expanduser()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    optimizer = trainer.state_dict() if trainer is not None else None
    scaler = scaler.state_dict() if scaler is not None and scaler.is_enabled() else None
    state = dict(format=CHECKPOINT_FORMAT, model=_unwrap(net).state_dict(), optimizer=optimizer, scaler=scaler)
    state.update(optimizer_type=type(trainer).__name__ if trainer is not None else None)
    state["scheduler"] = scheduler.state_dict() if scheduler is not None else None
    buffer = io.BytesIO()  # torch's own writer reports a full disk as "enforce fail at inline_container.cc"
    torch.save(dict(state, history=[dict(e) for e in history]), buffer)
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        size = f"{path} ({buffer.getbuffer().nbytes / 1e6:.0f} MB) did not fit (a previous one is kept)"
        raise OSError(
            errno.ENOSPC, f"disk full: {size}; free space on that disk or choose a checkpoint path on another disk"
        ) from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_checkpoint(path: str | Path, map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """The dict a :func:`save_checkpoint` file holds (``format``, ``model``, ``optimizer``, ``scaler``, ``scheduler``,
    ``history``). ``FileNotFoundError``; ``ValueError`` saying what the file is instead (empty, no torch file, a
    pickled net)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train with checkpoint={str(path)!r} first")
    mine = "fcnlib.train(..., checkpoint=PATH) or python -m fcnlib train --checkpoint PATH writes one"
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes), not a checkpoint (a copy or save cut short?); {mine}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:
        if "Unsupported global" not in str(err):
            raise ValueError(f"{path} is not a checkpoint (no torch file, or a damaged one); {mine}") from None
        raise ValueError(
            f"{path} holds a whole pickled object (torch.save(net)?), which fcnlib does not load (unpickling runs code"
            "); if you trust it: net = torch.load(path, weights_only=False), then fcnlib.training.save_checkpoint("
            "new_path, net) makes a checkpoint"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        weights = isinstance(state, dict) and state and all(isinstance(v, Tensor) for v in state.values())
        hint = "; net.load_state_dict(torch.load(path)), then fcnlib.training.save_checkpoint(new_path, net)"
        raise ValueError(f"{path} is {'a state_dict' if weights else 'a torch file'}, not an fcnlib checkpoint{hint}")
    return state


def _load_optimizer(path: Path, state: dict[str, Any], trainer: Any, keep_own: bool = True) -> None:
    """``trainer`` takes the optimiser state in ``state`` but keeps its hyper-parameters (``lr``, ...) if ``keep_own``
    (else the saved ones, which a schedule set, continue); ``ValueError`` when that state is another optimiser's (an
    SGD state in Adam: ``KeyError: 'step'`` later). A learning-rate schedule's own settings are not compared."""
    saved, saved_type, own_type = state["optimizer"], state.get("optimizer_type"), type(trainer).__name__
    own = [{k: v for k, v in group.items() if k != "params"} for group in trainer.param_groups]
    flags = set("params initial_lr foreach maximize capturable differentiable fused decoupled_weight_decay".split())
    flags |= {"max_lr", "min_lr", "base_momentum", "max_momentum"}  # OneCycleLR's
    theirs = {k for group in saved.get("param_groups", []) for k in group} - flags
    if saved_type not in (None, own_type) or theirs ^ (set(own[0]) - flags):
        raise ValueError(
            f"the checkpoint {path} holds the state of {saved_type or 'another optimiser'} (settings "
            f"{', '.join(sorted(theirs))}), not of the {own_type} given: resume with the optimiser it was saved with, "
            "or start afresh with another checkpoint path (this one is kept)"
        )
    trainer.load_state_dict(saved)
    if keep_own:
        for group, settings in zip(trainer.param_groups, own, strict=True):
            group.update(settings)


def _check_schedule(path: Path, state: dict[str, Any], trainer: Any, scheduler: Any) -> None:
    """A resumed run (trainer given) needs the saved schedule, or none as saved: else ``ValueError`` saying why."""

    def schedule(steps: Any, groups: list[dict]) -> str:
        peaks, decays = sorted({g.get("max_lr") for g in groups}), sorted({g.get("weight_decay") for g in groups})
        return f"a learning-rate schedule of {steps} steps peaking at {peaks} with weight decay {decays}"

    saved, groups = state.get("scheduler"), (state.get("optimizer") or {}).get("param_groups", [])
    then = None if saved is None else schedule(saved.get("total_steps"), groups)
    now = None if scheduler is None else schedule(getattr(scheduler, "total_steps", None), trainer.param_groups)
    if trainer is not None and state.get("history") and then != now:
        raise ValueError(
            f"{path} was trained with {then or 'a constant learning rate'} and this run has {now or 'a constant one'}"
            ": resume with the settings of the run that saved it (on the command line: the same --schedule, --lr,"
            " --weight-decay, --epochs, --max-steps and --batch-size), or start a new run"
        )


def load_checkpoint(path, net: nn.Module, trainer=None, scaler=None, map_location="cpu", scheduler=None) -> History:
    """Load a :func:`save_checkpoint` file into ``net`` (and ``trainer``, ``scaler``, ``scheduler``); return its
    History. The trainer gets its saved state but keeps its own hyper-parameters (``lr``, ...), unless a scheduler
    is loaded too (the saved one's, which it set, then continue). Raises FileNotFoundError, ValueError."""
    path = Path(path).expanduser()
    state = read_checkpoint(path, map_location)
    try:
        _unwrap(net).load_state_dict(state["model"])
    except RuntimeError as err:
        hint = "build the same net (classes, FCN variant), or choose another checkpoint path to start afresh"
        raise ValueError(
            f"the checkpoint {path} holds another network ({str(err).splitlines()[0]} ...): {hint}"
        ) from err
    _check_schedule(path, state, trainer, scheduler)
    if trainer is not None and state.get("optimizer") is not None:
        _load_optimizer(path, state, trainer, keep_own=scheduler is None)
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    return History(state.get("history", []))


def _finite_weights(net: nn.Module) -> bool:
    checks = [torch.isfinite(t).all() for t in _unwrap(net).state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


def train_batch(net: nn.Module, X: Tensor, y: Tensor, loss: Callable, trainer, scaler=None, amp_dtype=None) -> tuple:
    """One step on ``X [N, 3, H, W]``, ``y [N, H, W]``: forward (autocast to ``amp_dtype`` if given), loss
    ``[N]`` summed over the batch (d2l's), backward (through a float16 ``GradScaler`` if given), step.
    Returns ``(loss_sum, scores)``, detached."""
    trainer.zero_grad(set_to_none=True)
    with torch.autocast(X.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        scores = _logits(net(X))
        total = loss(scores, y).sum()
    scaler = scaler if scaler is not None else torch.amp.GradScaler(X.device.type, enabled=False)
    scaler.scale(total).backward()  # unchanged, then trainer.step(), when disabled
    scaler.step(trainer)
    scaler.update()
    return total.detach(), scores.detach()


INVALID_WEIGHTS = "its weights are invalid (did its training diverge?); load good ones, e.g. load_checkpoint(path, net)"
EXPLOSION = 10.0  # a per-example training loss this many times its start (at least log C) has diverged


def _first_loss(loss: Callable, out: Tensor, y: Tensor, ignore_index: int) -> Tensor:
    """``loss(out, y)`` on the first batch: its errors explained and its shape checked (one value per image)."""
    try:
        value = loss(out, y)
    except (IndexError, RuntimeError) as err:
        hint = f"the loss must ignore {ignore_index} (void): F.cross_entropy(..., ignore_index={ignore_index})"
        raise ValueError(f"the loss function failed on the first batch ({err}); {hint}, or pass loss=None") from err
    if not isinstance(value, Tensor) or value.shape != (len(y),):
        got = f"shape {list(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        what = {0: " (one number: a mean over the batch would train at 1/N of the gradient)", 3: " (one per pixel)"}
        raise ValueError(
            f"the loss must return one value per image, shape [N] = [{len(y)}] (train sums them, as d2l's "
            f"train_ch13 does), got {got}{what.get(value.dim() if isinstance(value, Tensor) else -1, '')}: build "
            f"it with reduction='none' and average each image's pixels, e.g. loss=lambda out, y: F.cross_entropy("
            f"out, y, ignore_index={ignore_index}, reduction='none').mean((1, 2)), or pass loss=None"
        )
    return value


def _step(net: nn.Module, X: Tensor, y: Tensor, loss: Callable, trainer, scaler, amp_dtype) -> tuple:
    """:func:`train_batch`, with a hint where BatchNorm gets one value per channel (a batch of 1, small crops)."""
    try:
        return train_batch(net, X, y, loss, trainer, scaler, amp_dtype)
    except ValueError as err:
        if "Expected more than 1 value per channel" not in str(err):
            raise
        raise ValueError(
            f"a BatchNorm layer got one value per channel from a batch of {len(X)} image(s) of "
            f"{X.shape[-2]}x{X.shape[-1]} pixels ({err}): use batches of 2 or more (a DataLoader with drop_last=True "
            "drops a last batch of 1) or larger crops"
        ) from err


def _look(mean: float, max_loss: float | None, bad_images: int) -> str | None:
    """Why the training stops (``"images"``, ``"nan"``, ``"exploded"``) given a per-example loss, or None."""
    if bad_images:
        return "images"
    if not math.isfinite(mean):
        return "nan"
    return "exploded" if max_loss is not None and mean > max_loss else None


def train_epoch(
    net: nn.Module,
    train_iter: Iterable,
    loss: Callable,
    trainer: torch.optim.Optimizer,
    device: torch.device,
    *,
    epoch: int = 0,
    num_classes: int | None = None,
    ignore_index: int = 255,
    scaler: Any = None,
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    reporters: Sequence[Any] = (),
    max_loss: float | None = None,
    scheduler: Any = None,
) -> dict[str, Any]:
    """One pass of :func:`train_batch` over ``train_iter``: ``{"loss" (per example), "train_acc", "examples",
    "train_seconds", "batches", "num_classes", "max_loss", "problem", "recent", "bad"}`` over all processes
    (``recent``: the per-example loss that stopped the epoch, ``bad``: bad labels).
    ``problem`` (the epoch then ends early): ``"images"`` (NaN or inf; on the CPU caught before the step), ``"nan"``
    (the loss), ``"exploded"`` (above ``max_loss``; None: :data:`EXPLOSION` times the first batch's, at least log C).
    Labels are checked at once on the CPU (and in the first batch), at the epoch's end on a GPU. Sums on the
    device are float32 and int64 (MPS has no float64), read about once a second into float64 here. ``scheduler``: a
    ``torch.optim.lr_scheduler`` stepped after every batch (e.g. ``OneCycleLR``), or None."""
    if hasattr(sampler := getattr(train_iter, "sampler", None), "set_epoch"):
        sampler.set_epoch(epoch)
    start, batches, examples, seen, last_look = time.perf_counter(), 0, 0, 0, 0.0
    loss_sum, recent, problem, strict = 0.0, 0.0, None, device.type == "cpu"

    def first_loss(out: Tensor, y: Tensor) -> Tensor:  # the first batch: check the scores and labels too
        nonlocal num_classes
        num_classes = _check_output(out, y, num_classes)
        _screen_labels(y, num_classes, ignore_index, strict=True)
        return _first_loss(loss, out, y, ignore_index)

    net.train()
    # on the device: the loss since the last look; correct and labelled pixels, bad labels, batches of bad images
    window, counts = torch.zeros((), device=device), torch.zeros(4, dtype=torch.int64, device=device)
    for X, y in train_iter:
        X, y = _batch(X, y, device, channels_last, None if batches else "train_iter")
        bad_images = ~torch.isfinite(X).all()
        if (strict or not batches) and bool(bad_images):
            problem, batches = "images", batches + 1  # stopped before its step: the weights are unchanged
            break
        if batches > 0:
            y, bad = _screen_labels(y, num_classes, ignore_index, strict=strict)
            counts[2] += bad
        counts[3] += bad_images
        total, scores = _step(net, X, y, loss if batches else first_loss, trainer, scaler, amp_dtype)
        if scheduler is not None:
            scheduler.step()
        valid = y != ignore_index
        counts[:2] += torch.stack([((scores_to_labels(scores) == y) & valid).sum(), valid.sum()])
        window += total.float()
        batches, examples = batches + 1, examples + len(y)
        running, now = None, time.perf_counter()
        if strict or batches == 1 or now - last_look > 1.0:  # a GPU is read (a sync) about once a second
            part, last_look = float(window), now
            recent, loss_sum, seen = part / (examples - seen), loss_sum + part, examples
            window.zero_()
            if max_loss is None:
                max_loss = EXPLOSION * max(math.log(max(num_classes, 2)), *_all([recent], device, torch.float32, "MAX"))
            if not _distributed() and (problem := _look(recent, max_loss, int(counts[3]))):
                break  # under torchrun every process finishes the epoch, so that the all-reduce below meets
            if reporters:
                running = {"loss": loss_sum / examples, "acc": int(counts[0]) / max(int(counts[1]), 1)}
        _report(reporters, "on_batch", epoch, running)
    if batches == 0 and problem is None:
        raise _no_batches("train_iter", train_iter, epoch)
    (loss_sum,), sums = _all([loss_sum + float(window)], device, torch.float32), counts.tolist() + [examples]
    correct, labelled, bad, bad_images, examples = _all(sums, device)
    mean = loss_sum / examples if examples else math.nan
    recent = recent if problem else mean  # the loss that stopped the epoch
    problem = problem or _look(mean, max_loss, bad_images)
    problem = "labels" if problem == "nan" and bad > 0 else problem  # e.g. a loss that does not ignore them
    if bad > 0 and problem is None:
        raise ValueError(
            f"{bad} training pixels in epoch {epoch + 1} had labels {_label_rule(num_classes, ignore_index)}"
        )
    stats = dict(loss=mean, train_acc=correct / max(labelled, 1), examples=examples, batches=batches, problem=problem)
    stats.update(recent=recent, max_loss=max_loss, bad=bad, num_classes=num_classes)
    return dict(stats, train_seconds=time.perf_counter() - start)


def _all(values: list, device: torch.device, dtype: torch.dtype = torch.int64, op: str = "SUM") -> list:
    """``values`` reduced (``op``: "SUM", "MAX") over all torchrun processes, so that all take the same decisions."""
    if not _distributed():
        return list(values)
    t = torch.tensor(values, dtype=dtype, device=device)
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    return t.tolist()


def _own_samples(data_iter: Any) -> int | None:
    """How many of this process's samples are not a DistributedSampler's padding (repeats that make every
    process's share equal); None: count all."""
    sampler = getattr(data_iter, "sampler", None)
    if not isinstance(sampler, DistributedSampler) or sampler.drop_last:
        return None
    return sum(p < len(sampler.dataset) for p in range(sampler.rank, sampler.total_size, sampler.num_replicas))


def _confusions(net, data_iter, num_classes, device, targets, ignore_index, amp, channels_last) -> dict:
    """``{name: ConfusionMatrix}`` of ``net`` (eval mode, then its mode restored) on ``data_iter``, one per
    ``targets[name](labels)``, summed over all processes (a DistributedSampler's padding left out). Sides that are
    not multiples of :data:`PAD_MULTIPLE` are zero-padded and the scores cropped. A DDP net is unwrapped after
    taking rank 0's buffers. ``ValueError`` for images (or scores) with NaN or inf: they cannot be scored."""
    if isinstance(net, _DDP):
        net = net.module
        for buffer in net.buffers():
            dist.broadcast(buffer, src=0)
    net_device = device_of(net)
    device = torch.device(device) if device is not None else net_device
    if device.type != net_device.type or (None not in (device.index, net_device.index) and device != net_device):
        raise ValueError(f"the net is on {net_device} but device={device}; move it first: net.to({str(device)!r})")
    (amp_dtype, use_cl), matrices, batches, was_training = _options(device, amp, channels_last), {}, 0, net.training
    left, bad = _own_samples(data_iter), torch.zeros(2, dtype=torch.int64, device=device)  # images, scores
    net.eval()
    try:
        with torch.inference_mode():
            for X, y in data_iter:
                if left is not None:  # the padding comes last
                    X, y, left = X[: max(left, 0)], y[: max(left, 0)], left - len(X)
                X, y = _batch(X, y, device, use_cl, None if batches else "data_iter", pad=True)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    out = _logits(net(X))[..., : y.shape[-2], : y.shape[-1]]
                if batches == 0:
                    c = _check_output(out, y, num_classes)
                    matrices = {name: ConfusionMatrix(c, ignore_index) for name in targets}
                bad += torch.stack([(~torch.isfinite(t)).flatten(1).any(1).sum() for t in (X, out)])
                pred = scores_to_labels(out)
                for name, cm in matrices.items():
                    cm.update(pred, targets[name](y))
                batches += 1
    finally:
        net.train(was_training)
    if batches == 0:
        raise _no_batches("data_iter", data_iter)
    _check_finite(*_all(bad.tolist(), device))
    return {name: cm.all_reduce(device) for name, cm in matrices.items()}  # every process counts all pixels


def _check_finite(images: int, scores: int) -> None:
    if images:
        raise ValueError(
            f"{images} images from data_iter hold NaN or infinite values: they cannot be scored (argmax would call "
            "them class 0); fix the data (each batch X must pass torch.isfinite(X).all())"
        )
    if scores:
        raise ValueError(f"the net's scores are NaN or infinite for {scores} images: {INVALID_WEIGHTS}")


def evaluate(net, data_iter, num_classes=None, device=None, *, ignore_index=255, amp="auto", channels_last="auto"):
    """The FCN paper's metrics of ``net`` on ``data_iter`` (images of any size, all processes' pixels): a
    :meth:`ConfusionMatrix.compute` dict. ``num_classes``: the dataset's, else the net's score channels; ``device``:
    the net's. Raises ``ValueError`` for no batches, a net on another device, or scores that do not fit the labels."""
    num_classes, targets = _infer_num_classes(num_classes, data_iter), {"all": lambda y: y}
    return _confusions(net, data_iter, num_classes, device, targets, ignore_index, amp, channels_last)["all"].compute()


def evaluate_with_boundary(
    net, data_iter, widths=(3,), num_classes=None, device=None, ignore_index=255, void_is_edge=True
):
    """Score ``net`` (float32) on all pixels and on the boundary band of every width: ``{"all": metrics,
    "band3": ...}``, each :meth:`ConfusionMatrix.compute`'s dict plus ``"pixels"``, the number of pixels scored."""
    targets = {"all": lambda y: y}
    for w in widths:
        check_int(w, "every width", 1)
        targets[f"band{w}"] = partial(restrict_to_band, width=w, ignore_index=ignore_index, void_is_edge=void_is_edge)
    cms = _confusions(net, data_iter, num_classes, device, targets, ignore_index, False, False)
    return {key: {**cm.compute(), "pixels": int(cm.mat.sum())} for key, cm in cms.items()}


def boundary_miou(net: nn.Module, data_iter: Iterable, width: int = 3, *args: Any, **kwargs: Any) -> dict:
    """:func:`evaluate_with_boundary`'s metrics for one band (same further arguments): ``["miou"]``, ``["pixels"]``."""
    return evaluate_with_boundary(net, data_iter, (width,), *args, **kwargs)[f"band{width}"]


def _place(net: nn.Module, devices: Any, amp: Any, channels_last: Any) -> tuple[nn.Module, list, Any, bool]:
    """``(model, devices, amp dtype, channels last)``: ``net`` on ``devices[0]`` (same parameter objects, so a
    trainer built before still holds them), channels last if asked, in DataParallel for several GPUs. A wrapped
    net (DataParallel, DDP) is used as it comes; for DDP ``devices=None`` means its own device."""
    if devices is None:
        devices = [device_of(net)] if isinstance(net, _DDP) else all_devices()
    devices = [torch.device(d) for d in ([devices] if isinstance(devices, (str, torch.device, int)) else devices)]
    if not devices or (len(devices) > 1 and any(d.type != "cuda" for d in devices)):
        empty = "an empty list is d2l.try_all_gpus() without a GPU"
        raise ValueError(
            f"devices must be one device or several CUDA GPUs, got {devices} ({empty}): pass None or ['cpu']"
        )
    amp_dtype, use_cl = _options(devices[0], amp, channels_last)
    if not isinstance(net, _WRAPPERS):
        net.to(devices[0], memory_format=torch.channels_last if use_cl else None)
        net = nn.DataParallel(net, device_ids=devices) if len(devices) > 1 else net
    return net, devices, amp_dtype, use_cl


def _diverged(problem: str, epoch: int, stats: dict, trainer: Any, checkpoint: Any, history: History, net) -> Exception:
    """The :class:`TrainingDiverged` for ``problem`` (see :func:`train_epoch`) with advice that works."""
    when, then = f"in epoch {epoch + 1} (by batch {stats['batches']})", "a fresh net (its weights are now invalid)"
    if problem == "images" and _finite_weights(net):  # caught before the step
        then = "the same net (no step was taken with those images)"
    if checkpoint is not None and history:
        path = repr(str(checkpoint))
        then = (
            f"checkpoint={path}, resume=True: it continues from epoch {len(history)} saved there "
            f"(fcnlib.load_checkpoint({path}, net) reloads those weights)"
        )
    if problem == "images":
        fix = "fix the data (each batch X must pass torch.isfinite(X).all(); check the dataset's transform)"
        what = f"the images from train_iter held NaN or infinite values {when}: {fix}, then train again with {then}"
    elif problem == "labels":
        bad = f"{stats['bad']} training pixels had labels outside the class indices 0..{stats['num_classes'] - 1}"
        what = f"the loss became NaN {when}, and {bad}: fix the labels, then train again with {then}"
    else:
        lr = sorted({group["lr"] for group in trainer.param_groups if "lr" in group})
        what = "the training loss or the weights became NaN or infinite"
        if problem == "exploded":
            limit = f"{EXPLOSION:g} times its start or log(classes): {stats['max_loss']:.3g}"
            what = f"the training loss exploded to {stats['recent']:.3g} per example (more than {limit})"
        what += (
            f" {when}. Lower the learning rate (now lr={lr[0] if len(lr) == 1 else lr}; the loss is summed over "
            f"the batch), e.g. 10 times, or use amp=False, and train again with a new trainer and {then}"
        )
    return TrainingDiverged(what, history)


def _check_train_args(net: Any, num_epochs: Any, plot: bool, resume: bool, checkpoint: Any) -> None:
    """:func:`train`'s refusals of arguments that cannot work (before anything is loaded or trained)."""
    check_int(num_epochs, "num_epochs", 0)
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if plot:
        raise ValueError("train draws no figure itself: pass reporter=fcnlib.viz.LiveCurves() for live curves")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=path: the file to continue from")


def _epoch_entry(epoch: int, stats: dict, model: nn.Module, test_iter, num_classes: int, device, test: dict) -> dict:
    """One History entry: the epoch's training figures, then the test metrics when there is a ``test_iter``."""
    stats = {k: stats[k] for k in ("loss", "train_acc", "examples", "train_seconds")}
    entry = {"epoch": epoch + 1, **stats, "examples_per_sec": stats["examples"] / stats["train_seconds"]}
    if test_iter is not None:
        m = evaluate(model, test_iter, num_classes, device, **test)
        entry.update({k: m[k] for k in ("pixel_acc", "mean_acc", "miou", "fw_iou")}, iou=m["iou"].tolist())
    return entry


def train(
    net: nn.Module,
    train_iter: Iterable,
    test_iter: Iterable | None,
    loss: Callable | None = None,
    trainer: torch.optim.Optimizer | None = None,
    num_epochs: int = 5,
    devices: Any = None,
    *,
    num_classes: int | None = None,
    ignore_index: int = 255,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    amp: Any = "auto",
    channels_last: Any = "auto",
    progress: bool = True,
    reporter: Any = None,
    plot: bool = False,
    scheduler: Any = None,
) -> History:
    """Train ``net`` for ``num_epochs`` epochs (resumed ones included), testing on ``test_iter`` after each.
    d2l.train_ch13's arguments; ``loss(scores, labels) -> [N]``, summed (other shapes are refused; None:
    :func:`per_example_cross_entropy`),
    ``trainer`` (None: d2l's ``SGD(lr=0.001, weight_decay=1e-3)``), ``devices`` (None: all GPUs in
    DataParallel, else the best device; a DDP net is used as it comes). ``checkpoint``: written after every good
    epoch and on Ctrl-C; ``resume`` continues from it; ``amp``: :func:`fcnlib.autocast_dtype`; ``progress``: a
    :class:`TextReporter`; ``reporter``: more; ``scheduler``: stepped after every batch (its state is saved and
    resumed with the checkpoint). Raises ``ValueError`` (also for a generator read more than once),
    :class:`TrainingDiverged` (an exploded, NaN or infinite loss, NaN images: no checkpoint is written then)."""
    _check_train_args(net, num_epochs, plot, resume, checkpoint)
    rank0, checkpoint = not _distributed() or dist.get_rank() == 0, checkpoint and Path(checkpoint).expanduser()
    if checkpoint is not None and rank0:
        check_checkpoint_path(checkpoint)
    num_batches, _ = _check_loader(train_iter, "train_iter"), _check_loader(test_iter, "test_iter")
    num_classes = _infer_num_classes(num_classes, train_iter, test_iter)
    trainer = trainer if trainer is not None else torch.optim.SGD(net.parameters(), lr=0.001, weight_decay=1e-3)
    model, devices, amp_dtype, use_cl = _place(net, devices, amp, channels_last)
    scaler = torch.amp.GradScaler(devices[0].type, enabled=amp_dtype == torch.float16)
    history = History(devices=devices)
    if resume and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, net, trainer, scaler, devices[0], scheduler)
        history.devices = devices
    _check_reusable({"train_iter": train_iter, "test_iter": test_iter}, num_epochs - len(history))
    extra = [] if reporter is None else list(reporter) if isinstance(reporter, (list, tuple)) else [reporter]
    reporters = ([TextReporter()] if progress else []) + extra if rank0 else []
    _report(reporters, "on_train_begin", num_epochs, num_batches, history)
    loss = loss if loss is not None else partial(per_example_cross_entropy, ignore_index=ignore_index)
    step = dict(ignore_index=ignore_index, channels_last=use_cl, scaler=scaler, amp_dtype=amp_dtype)
    step.update(reporters=reporters, max_loss=None, scheduler=scheduler)
    test = dict(ignore_index=ignore_index, channels_last=use_cl, amp=amp)
    cudnn_benchmark, completed, epoch = torch.backends.cudnn.benchmark, False, len(history)
    at_start = scheduler and copy.deepcopy(scheduler.state_dict())  # the schedule where the running epoch began
    torch.backends.cudnn.benchmark = cudnn_benchmark or devices[0].type == "cuda"  # fixed crops: cuDNN picks once
    try:
        for epoch in range(len(history), num_epochs):
            start = time.perf_counter()
            stats = train_epoch(
                model, train_iter, loss, trainer, devices[0], epoch=epoch, num_classes=num_classes, **step
            )
            num_classes, step["max_loss"] = stats["num_classes"], stats["max_loss"]
            if (problem := stats["problem"] or (None if _finite_weights(net) else "nan")) is not None:
                raise _diverged(problem, epoch, stats, trainer, checkpoint, history, net)
            entry = _epoch_entry(epoch, stats, model, test_iter, num_classes, devices[0], test)
            history.append(dict(entry, seconds=time.perf_counter() - start))
            at_start = scheduler and copy.deepcopy(scheduler.state_dict())
            if checkpoint is not None and rank0:
                save_checkpoint(checkpoint, net, trainer, history, scaler, scheduler)
            _report(reporters, "on_epoch_end", history)
        completed = True
    except KeyboardInterrupt:  # save the weights if finite (resume=True repeats the interrupted epoch from them)
        if rank0:
            message = f"training interrupted during epoch {epoch + 1}; {len(history)} epochs completed"
            if checkpoint is not None and _finite_weights(net):
                if at_start is not None:  # the schedule, like the epoch, starts again from the epoch's start
                    scheduler.load_state_dict(at_start)
                    for group, lr in zip(trainer.param_groups, scheduler.get_last_lr()):
                        group["lr"] = lr
                save_checkpoint(checkpoint, net, trainer, history, scaler, scheduler)
                message += f", saved to {checkpoint} (resume=True continues)"
            print(message, file=sys.stderr)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        _report(reporters, "close", history, completed)
    return history
