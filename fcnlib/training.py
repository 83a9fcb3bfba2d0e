"""Training and evaluation: the seed's ``d2l.train_ch13`` as :func:`train_batch` (one step),
:func:`train_epoch` (one pass) and :func:`train` (epochs, test metrics, checkpoints).

Progress and figures are handed in as reporters (:class:`TextReporter` by default); this module
draws nothing. Under ``torchrun`` (``torch.distributed`` initialised) the epoch's sums and the
confusion matrices are all-reduced, so every process reports the same numbers, and only rank 0
reports and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .metrics import ConfusionMatrix, check_label_map, restrict_to_band, scores_to_labels
from .model import device_of
from .profiles import all_devices, autocast_dtype

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHANNELS_LAST_DEVICES",
    "TrainingDiverged",
    "History",
    "TextReporter",
    "per_example_cross_entropy",
    "check_checkpoint_path",
    "save_checkpoint",
    "load_checkpoint",
    "train_batch",
    "train_epoch",
    "evaluate",
    "evaluate_with_boundary",
    "boundary_miou",
    "train",
]

DeviceLike = str | torch.device | int
CHECKPOINT_FORMAT = "fcnlib-checkpoint-1"
CHANNELS_LAST_DEVICES = ("cuda", "cpu")
"""Where ``channels_last="auto"`` switches it on: cuDNN's and oneDNN's convolutions are faster with it
(on a 2-core AVX2 CPU a training step of the FCN takes about 14% less time, inference about 25% less)."""
PAD_MULTIPLE = 32
"""``evaluate`` pads images whose height or width is not a multiple of this (the FCN's downsampling)."""
_METRIC_KEYS = ("pixel_acc", "mean_acc", "miou", "fw_iou")
_WRAPPERS = (nn.DataParallel, nn.parallel.DistributedDataParallel)


class TrainingDiverged(FloatingPointError):
    """The training loss or the weights became NaN or infinite. ``err.history`` holds the good epochs."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


class History(list):
    """One dict per epoch: ``epoch, loss, train_acc, pixel_acc, mean_acc, miou, fw_iou, iou, examples,
    train_seconds, examples_per_sec, seconds``.

    ``loss`` and ``train_acc`` are measured on the training batches while the net learns (as in d2l);
    the test metrics on ``test_iter`` after the epoch (absent without one); ``examples_per_sec`` counts
    training images per second of the training loop (loading included, evaluation not).
    ``print(history)`` gives d2l's two closing lines, ``history.column("miou")`` one curve.
    """

    def __init__(self, epochs: Iterable[dict[str, Any]] = (), devices: Sequence[torch.device] = ()) -> None:
        super().__init__(epochs)
        self.devices = list(devices)

    def column(self, key: str) -> list[Any]:
        """The value of ``key`` in every epoch (``None`` where it is missing)."""
        return [epoch.get(key) for epoch in self]

    @property
    def examples_per_sec(self) -> float:
        """Training images per second over all epochs (as d2l: total images / total training time)."""
        seconds = sum(e.get("train_seconds", 0.0) for e in self)
        return sum(e.get("examples", 0) for e in self) / seconds if seconds > 0 else float("nan")

    def __str__(self) -> str:
        if not self:
            return "no epoch completed"
        last = self[-1]
        line = f"loss {last['loss']:.3f}, train acc {last['train_acc']:.3f}"
        if last.get("pixel_acc") is not None:
            line += f", test acc {last['pixel_acc']:.3f}, test mIoU {last['miou']:.3f}"
        return line + f"\n{self.examples_per_sec:.1f} examples/sec on {self.devices}"

    def __repr__(self) -> str:
        return f"History({len(self)} epochs)\n{self}"


class TextReporter:
    """The default reporter: a tqdm bar per epoch, the epoch's summary on it, d2l's closing lines.

    A reporter is any object with some of these methods (missing ones are skipped), called on rank 0
    only: ``on_train_begin(num_epochs, num_batches, history)``; ``on_batch(epoch, running)`` with
    ``running = {"loss", "acc"}`` when measured, else None; ``on_epoch_end(history)``;
    ``close(history, completed)`` (``completed`` is False after an error or Ctrl-C).
    :class:`fcnlib.viz.LiveCurves` is one.
    """

    def __init__(self) -> None:
        self.bar: Any = None
        self.num_epochs: int | None = None
        self.num_batches: int | None = None

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
        last = history[-1]
        summary = f"loss {last['loss']:.3f}, train acc {last['train_acc']:.3f}"
        if "pixel_acc" in last:
            summary += f", test acc {last['pixel_acc']:.3f}, mIoU {last['miou']:.3f}"
        if self.bar is not None:
            self.bar.set_postfix_str(summary, refresh=True)
        self.close(history)

    def close(self, history: History, completed: bool = False) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if completed and history:
            print(history)


def _report(reporters: Sequence[Any], hook: str, *args: Any) -> None:
    for reporter in reporters:
        method = getattr(reporter, hook, None)
        if method is not None:
            method(*args)


def per_example_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
    """Cross-entropy averaged over each image's labelled pixels: ``[N]`` from logits ``[N, C, H, W]``.

    The seed's ``F.cross_entropy(inputs, targets, reduction='none').mean(1).mean(1)`` for labels
    without ``ignore_index``; pixels labelled ``ignore_index`` count neither in the sum nor the mean.
    """
    pixel_loss = F.cross_entropy(logits, labels, ignore_index=ignore_index, reduction="none")
    valid = (labels != ignore_index).flatten(1).sum(dim=1).clamp(min=1)
    return pixel_loss.flatten(1).sum(dim=1) / valid


# ---- torch.distributed (torchrun): reduce sums, report and save on rank 0 only


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _is_rank0() -> bool:
    return not _distributed() or dist.get_rank() == 0


def _all_reduce(t: Tensor) -> Tensor:
    """Sum ``t`` over all processes in place (nothing to do in a single process)."""
    if _distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def _unwrap(net: nn.Module) -> nn.Module:
    """The module inside ``DataParallel``/``DistributedDataParallel``: checkpoints hold its state."""
    return net.module if isinstance(net, _WRAPPERS) else net


# ---- checks of the input, each in one place


def _as_devices(devices: None | DeviceLike | Sequence[DeviceLike]) -> list[torch.device]:
    if devices is None:
        return all_devices()
    result = [torch.device(d) for d in ([devices] if isinstance(devices, (str, torch.device, int)) else devices)]
    if not result:
        raise ValueError(
            "devices is an empty list (d2l.try_all_gpus() returns [] without a GPU in some versions); pass "
            "devices=None to use the best device here, or e.g. [torch.device('cpu')]"
        )
    if len(result) > 1 and any(d.type != "cuda" for d in result):
        raise ValueError(f"several devices are only supported for CUDA GPUs (DataParallel), got {result}")
    return result


def _resolve_flag(value: Any, name: str, default: bool) -> bool:
    if value == "auto":
        return default
    if isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be 'auto', True or False, got {value!r}")


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def _logits(out: Any) -> Tensor:
    """The score tensor of a net's output (torchvision's segmentation models return ``{'out': ...}``)."""
    if isinstance(out, dict) and "out" in out:
        out = out["out"]
    if not isinstance(out, Tensor):
        raise TypeError(f"the net must return a tensor of class scores [N, C, H, W], got {type(out).__name__}")
    return out


def _length(data_iter: Any) -> int | None:
    try:
        return len(data_iter)
    except TypeError:
        return None


def _check_loader(data_iter: Any, name: str) -> None:
    if _length(data_iter) == 0:
        raise ValueError(
            f"{name} yields no batches: its dataset is empty, or it drops the last incomplete batch "
            "(drop_last=True) and the dataset has fewer examples than batch_size. Check the data folder "
            "and n_train/n_val, or lower batch_size."
        )


def _check_batch(X: Any, y: Any, name: str) -> None:
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise TypeError(
            f"{name} must yield (images, labels) tensor pairs, got ({type(X).__name__}, {type(y).__name__})"
        )
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(
            f"labels from {name} must be integer class indices [N, H, W], got dtype {y.dtype}; "
            "convert colour label images to indices first (fcnlib.data does this)"
        )
    if y.dim() != 3:
        raise ValueError(f"labels from {name} must have shape [N, H, W], got {tuple(y.shape)}")


def _bad_labels(y: Tensor, num_classes: int, ignore_index: int | None) -> Tensor:
    bad = (y < 0) | (y >= num_classes)
    return bad & (y != ignore_index) if ignore_index is not None else bad


def _label_rule(num_classes: int, ignore_index: int | None) -> str:
    ignore = f" and not the ignore index {ignore_index}" if ignore_index is not None else ""
    return f"outside the class indices 0..{num_classes - 1}{ignore}. Check num_classes ({num_classes}) and the labels."


def _check_labels(y: Tensor, num_classes: int, ignore_index: int | None, name: str) -> None:
    """Raise if ``y`` holds a label that is no class and not ``ignore_index`` (waits for the device)."""
    bad = _bad_labels(y, num_classes, ignore_index)
    if bool(bad.any()):
        values = y[bad].unique()[:8].tolist()
        raise ValueError(f"labels from {name} contain {values}, {_label_rule(num_classes, ignore_index)}")


def _screen_labels(y: Tensor, num_classes: int, ignore_index: int | None, strict: bool) -> tuple[Tensor, Any]:
    """``(labels, bad count)``: ``strict`` raises at once (a host sync, right on the CPU); else bad labels
    are counted on the device, trained as ignored, and :func:`train_epoch` raises at the epoch's end."""
    if strict:
        _check_labels(y, num_classes, ignore_index, "train_iter")
        return y, 0
    bad = _bad_labels(y, num_classes, ignore_index)
    return torch.where(bad, ignore_index if ignore_index is not None else 0, y), bad.sum()


def _check_output(out: Tensor, y: Tensor, num_classes: int | None) -> int:
    if out.dim() != 4:
        raise ValueError(f"the net must return class scores [N, C, H, W], got shape {tuple(out.shape)}")
    if out.shape[0] != y.shape[0] or out.shape[-2:] != y.shape[-2:]:
        raise ValueError(
            f"the net's output {tuple(out.shape)} does not match the labels {tuple(y.shape)}: every pixel needs "
            "a score per class. For the FCN the crop size must be a multiple of 32 in both directions "
            "(e.g. crop_size=(320, 480)), and the transposed convolution must upsample exactly 32 times."
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise ValueError(
            f"the net returns {out.shape[1]} class scores per pixel but num_classes={num_classes}; "
            "build the net with the dataset's number of classes"
        )
    return int(out.shape[1])


def _first_batch_loss(loss: Callable, num_classes: int | None, ignore_index: int | None, found: dict) -> Callable:
    """``loss`` with the first batch's checks of scores and labels; sets ``found["num_classes"]``."""

    def checked(out: Tensor, y: Tensor) -> Tensor:
        found["num_classes"] = c = _check_output(out, y, num_classes)
        _check_labels(y, c, ignore_index, "train_iter")
        try:
            return loss(out, y)
        except (IndexError, RuntimeError) as err:
            raise ValueError(
                f"the loss function failed on the first batch: {err}. If the labels contain {ignore_index} "
                f"(unlabelled pixels), the loss must ignore them, e.g. F.cross_entropy(..., "
                f"ignore_index={ignore_index}), or pass loss=None."
            ) from err

    return checked


def _infer_num_classes(num_classes: int | None, *loaders: Any) -> int | None:
    """``num_classes``, else a loader's ``dataset.num_classes``, else None (taken from the net's scores)."""
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        return num_classes
    for loader in loaders:
        value = getattr(getattr(loader, "dataset", None), "num_classes", None)
        if isinstance(value, int):
            return value
    return None


def _to_device(X: Tensor, y: Tensor, device: torch.device, channels_last: bool, non_blocking: bool) -> tuple:
    X = X.to(device, non_blocking=non_blocking)
    if channels_last:
        X = X.contiguous(memory_format=torch.channels_last)
    return X, y.to(device, non_blocking=non_blocking).long()


# ---- checkpoints


def check_checkpoint_path(path: str | Path) -> Path:
    """Raise ``ValueError`` unless a checkpoint can be written at ``path`` (``train`` checks before epoch 1)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"checkpoint={str(path)!r} is a folder; give a file in it, e.g. {str(path / 'fcn.pt')!r}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists; the others are created when saving
    if not folder.is_dir():
        raise ValueError(f"cannot save the checkpoint {path}: {folder} is a file, not a folder; choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(
            f"cannot save the checkpoint {path}: the folder {folder} is read-only; choose a path in a folder "
            "you can write to (e.g. checkpoint='data/checkpoints/fcn.pt')"
        )
    return path


def save_checkpoint(
    path: str | Path,
    net: nn.Module,
    trainer: torch.optim.Optimizer | None = None,
    history: Sequence[dict[str, Any]] = (),
    scaler: Any = None,
) -> Path:
    """Save ``net`` (the module inside a DataParallel/DDP wrapper), ``trainer`` and ``history`` atomically.

    Written under a temporary name and renamed over ``path`` (``os.replace``): an interruption
    leaves the old checkpoint or the new one, never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "model": _unwrap(net).state_dict(),
        "optimizer": trainer.state_dict() if trainer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "history": [dict(e) for e in history],
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(
    path: str | Path,
    net: nn.Module,
    trainer: torch.optim.Optimizer | None = None,
    scaler: Any = None,
    map_location: Any = "cpu",
) -> History:
    """Load a checkpoint of :func:`save_checkpoint` into ``net`` (and ``trainer``, ``scaler``); return its History.

    The trainer gets its saved *state* (momentum buffers, step counts) but keeps the hyper-parameters
    it was built with (``lr``, ``momentum``, ``weight_decay``, ...): a lower learning rate set before
    resuming stays. Raises ``FileNotFoundError`` or ``ValueError`` (not a checkpoint, another net).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train with checkpoint={str(path)!r} first")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is not a readable checkpoint ({err}); delete it to start afresh") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an fcnlib checkpoint; delete it or choose another path")
    try:
        _unwrap(net).load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint {path} holds a different network than the one given (for example another number "
            f"of classes or FCN variant): {str(err).splitlines()[0]} ... Build the same net, or delete the file "
            "to start afresh."
        ) from err
    if trainer is not None and state.get("optimizer") is not None:
        settings = [{k: v for k, v in group.items() if k != "params"} for group in trainer.param_groups]
        trainer.load_state_dict(state["optimizer"])
        for group, own in zip(trainer.param_groups, settings, strict=True):
            group.update(own)
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    return History(state.get("history", []))


def _finite_weights(net: nn.Module) -> bool:
    checks = [torch.isfinite(t).all() for t in _unwrap(net).state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


# ---- one step, one epoch, evaluation, the whole run


def train_batch(
    net: nn.Module,
    X: Tensor,
    y: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor],
    trainer: torch.optim.Optimizer,
    scaler: Any = None,
    amp_dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """One optimisation step: forward, loss summed over the batch (d2l's convention), backward, step.

    ``X [N, 3, H, W]`` and labels ``y [N, H, W]`` on the net's device; ``loss(scores, labels)`` gives
    ``[N]``. ``amp_dtype`` (:func:`fcnlib.autocast_dtype`) runs the forward in mixed precision;
    ``scaler`` (``torch.amp.GradScaler``) scales float16 gradients. Returns ``(loss_sum, scores)``, detached.
    """
    trainer.zero_grad(set_to_none=True)
    with _autocast(X.device, amp_dtype):
        scores = _logits(net(X))
        total = loss(scores, y).sum()
    if scaler is not None:
        scaler.scale(total).backward()
        scaler.step(trainer)
        scaler.update()
    else:
        total.backward()
        trainer.step()
    return total.detach(), scores.detach()


def train_epoch(
    net: nn.Module,
    train_iter: Iterable,
    loss: Callable[[Tensor, Tensor], Tensor],
    trainer: torch.optim.Optimizer,
    device: torch.device,
    *,
    epoch: int = 0,
    num_classes: int | None = None,
    ignore_index: int | None = 255,
    scaler: Any = None,
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    non_blocking: bool = True,
    reporters: Sequence[Any] = (),
) -> dict[str, Any]:
    """One pass of :func:`train_batch` over ``train_iter``; ``sampler.set_epoch(epoch)`` first if it has one.

    Returns ``{"loss": mean per example, "train_acc": accuracy on labelled pixels, "examples",
    "train_seconds", "batches", "num_classes"}``, summed over all processes under torch.distributed.
    A non-finite loss ends the epoch early (``loss`` is then NaN or infinite). The first batch is
    checked (types, shapes, labels, loss); later labels at once on the CPU, at the epoch's end on a GPU.
    """
    if hasattr(sampler := getattr(train_iter, "sampler", None), "set_epoch"):
        sampler.set_epoch(epoch)
    start, found, batches, last_look = time.perf_counter(), {"num_classes": num_classes}, 0, 0.0
    net.train()
    # loss sum, correct and labelled pixels, bad labels: summed on the device, read once an epoch
    sums, examples = torch.zeros(4, dtype=torch.float64, device=device), 0
    for X, y in train_iter:
        if batches == 0:
            _check_batch(X, y, "train_iter")
        X, y = _to_device(X, y, device, channels_last, non_blocking)
        step_loss = loss
        if batches == 0:
            step_loss = _first_batch_loss(loss, num_classes, ignore_index, found)
        else:
            y, bad = _screen_labels(y, found["num_classes"], ignore_index, strict=device.type == "cpu")
            sums[3] += bad
        total, scores = train_batch(net, X, y, step_loss, trainer, scaler, amp_dtype)
        valid = y != ignore_index if ignore_index is not None else torch.ones_like(y, dtype=torch.bool)
        correct = ((scores_to_labels(scores) == y) & valid).sum()
        sums[:3] += torch.stack([total.double(), correct.double(), valid.sum().double()])
        batches, examples = batches + 1, examples + len(y)
        running, now = None, time.perf_counter()
        if device.type == "cpu" or now - last_look > 1.0:  # a GPU is read (a sync) about once a second
            last_look = now
            if not _distributed() and not bool(torch.isfinite(sums[0])):
                break  # under torchrun every process finishes the epoch, so that the all-reduce below meets
            if reporters:
                running = {"loss": float(sums[0]) / examples, "acc": float(sums[1] / sums[2].clamp(min=1))}
        _report(reporters, "on_batch", epoch, running)
    if batches == 0:
        raise ValueError("train_iter yielded no batches: its dataset is empty")
    totals = torch.cat([sums, sums.new_tensor([examples])])
    loss_sum, correct, labelled, bad, examples = _all_reduce(totals).tolist()
    if bad > 0 and math.isfinite(loss_sum):
        raise ValueError(
            f"{int(bad)} training pixels in epoch {epoch + 1} had labels "
            + _label_rule(found["num_classes"], ignore_index)
        )
    return {
        "loss": loss_sum / examples,
        "train_acc": correct / max(labelled, 1),
        "examples": int(examples),
        "train_seconds": time.perf_counter() - start,
        "batches": batches,
        "num_classes": found["num_classes"],
    }


def _score_batches(
    net: nn.Module,
    data_iter: Iterable,
    device: torch.device,
    num_classes: int | None,
    consume: Callable[[Tensor, Tensor], None],
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    non_blocking: bool = True,
) -> None:
    """Call ``consume(scores [N, C, H, W], labels [N, H, W])`` for every batch, the net in eval mode.

    Images whose height or width is not a multiple of :data:`PAD_MULTIPLE` are padded at the bottom
    and right with zeros (the mean colour after normalisation) and the scores cropped back.
    """
    was_training, batches = net.training, 0
    net.eval()
    try:
        with torch.inference_mode():
            for X, y in data_iter:
                if batches == 0:
                    _check_batch(X, y, "data_iter")
                X, y = _to_device(X, y, device, False, non_blocking)
                h, w = X.shape[-2:]
                padded = h % PAD_MULTIPLE or w % PAD_MULTIPLE
                if padded:
                    X = F.pad(X, (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE))
                if channels_last:
                    X = X.contiguous(memory_format=torch.channels_last)
                with _autocast(device, amp_dtype):
                    out = _logits(net(X))
                out = out[..., :h, :w] if padded else out
                if batches == 0:
                    num_classes = _check_output(out, y, num_classes)
                consume(out, y)
                batches += 1
    finally:
        net.train(was_training)
    if batches == 0:
        raise ValueError("data_iter yielded no batches: its dataset is empty")


def _eval_setup(net: nn.Module, device: DeviceLike | None, amp: Any, channels_last: Any) -> tuple:
    """``(net, device, amp_dtype, channels_last)``. A DDP net is unwrapped (evaluation needs no collectives),
    after taking rank 0's buffers (batch norm statistics), as DDP's next forward would."""
    if isinstance(net, nn.parallel.DistributedDataParallel):
        net = net.module
        for buffer in net.buffers():
            dist.broadcast(buffer, src=0)
    net_device = device_of(net)
    device = torch.device(device) if device is not None else net_device
    if device.type != net_device.type or (
        device.index is not None and net_device.index is not None and device.index != net_device.index
    ):
        raise ValueError(f"the net is on {net_device} but device={device}; move it first: net.to({str(device)!r})")
    use_cl = _resolve_flag(channels_last, "channels_last", device.type in CHANNELS_LAST_DEVICES)
    return net, device, autocast_dtype(device, amp), use_cl


def _reduced(cm: ConfusionMatrix, device: torch.device) -> ConfusionMatrix:
    """``cm`` with the counts of every process added (torch.distributed), so every rank computes the same."""
    if _distributed():
        if cm._counts is None:
            cm._counts = torch.zeros(cm.num_classes**2 + 2, dtype=torch.int64, device=device)
        _all_reduce(cm._counts)
    return cm


def evaluate(
    net: nn.Module,
    data_iter: Iterable,
    num_classes: int | None = None,
    device: DeviceLike | None = None,
    *,
    ignore_index: int | None = 255,
    amp: Any = "auto",
    channels_last: Any = "auto",
    non_blocking: bool = True,
) -> dict[str, Any]:
    """The FCN paper's metrics of ``net`` (eval mode, then its mode restored) on ``data_iter``.

    Returns :meth:`ConfusionMatrix.compute`'s dict: ``pixel_acc``, ``mean_acc``, ``miou``, ``fw_iou``
    (floats), per-class ``iou`` and ``acc`` (tensors, NaN for absent classes). ``num_classes``
    defaults to ``data_iter.dataset.num_classes``, else the net's score channels; ``device`` to the
    net's. Images of any size: sides that are not multiples of 32 are padded and the scores cropped.
    Under torch.distributed the counts of all processes are summed. Raises ``ValueError`` for no
    batches, a net on another device, or scores that do not match the labels.
    """
    _check_loader(data_iter, "data_iter")
    net, device, amp_dtype, use_cl = _eval_setup(net, device, amp, channels_last)
    found: list[ConfusionMatrix] = []

    def consume(scores: Tensor, y: Tensor) -> None:
        if not found:
            found.append(ConfusionMatrix(int(scores.shape[1]), ignore_index=ignore_index))
        found[0].update(scores_to_labels(scores), y)

    num_classes = _infer_num_classes(num_classes, data_iter)
    _score_batches(net, data_iter, device, num_classes, consume, amp_dtype, use_cl, non_blocking)
    return _reduced(found[0], device).compute()


def evaluate_with_boundary(
    net: nn.Module,
    data_iter: Iterable[tuple[Tensor, Tensor]],
    widths: Iterable[int] = (3,),
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    ignore_index: int = 255,
    void_is_edge: bool = True,
) -> dict[str, dict]:
    """Score ``net`` once on all pixels and on the boundary band of every width (float32, no amp).

    Returns ``{"all": metrics, "band3": metrics, ...}``, each :meth:`ConfusionMatrix.compute`'s dict
    plus ``"pixels"``, the number of pixels scored.
    """
    widths = tuple(widths)
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"every width must be an int >= 1, got {w!r} in {widths}")
    net, device, _, _ = _eval_setup(net, device, False, False)
    matrices: dict[str, ConfusionMatrix] = {}

    def consume(scores: Tensor, target: Tensor) -> None:
        check_label_map(target, "the labels from data_iter")
        if not matrices:
            c = int(scores.shape[1])
            matrices.update({k: ConfusionMatrix(c, ignore_index) for k in ["all"] + [f"band{w}" for w in widths]})
        pred = scores.argmax(dim=1)
        matrices["all"].update(pred, target)
        for w in widths:
            matrices[f"band{w}"].update(pred, restrict_to_band(target, w, ignore_index, void_is_edge))

    _score_batches(net, data_iter, device, num_classes, consume)
    results = {}
    for key, cm in matrices.items():
        results[key] = {**_reduced(cm, device).compute(), "pixels": int(cm.mat.sum())}
    return results


def boundary_miou(
    net: nn.Module,
    data_iter: Iterable[tuple[Tensor, Tensor]],
    width: int = 3,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    ignore_index: int = 255,
    void_is_edge: bool = True,
) -> dict:
    """:func:`evaluate_with_boundary`'s metrics for one band: ``result["miou"]``, ``result["pixels"]``."""
    results = evaluate_with_boundary(net, data_iter, (width,), num_classes, device, ignore_index, void_is_edge)
    return results[f"band{width}"]


def _prepare(net: nn.Module, devices: list[torch.device], channels_last: bool) -> nn.Module:
    """``net`` on ``devices[0]`` (parameters keep their identity, so a trainer built before still holds
    them), channels last if asked, in ``DataParallel`` for several GPUs. A DDP net is used as it comes."""
    if isinstance(net, _WRAPPERS):
        return net
    net.to(devices[0])
    if channels_last:
        net.to(memory_format=torch.channels_last)
    return nn.DataParallel(net, device_ids=devices) if len(devices) > 1 else net


def _entry(epoch: int, stats: dict, metrics: dict | None, start: float) -> dict[str, Any]:
    entry = {"epoch": epoch + 1, "loss": stats["loss"], "train_acc": stats["train_acc"]}
    if metrics is not None:
        entry.update({k: metrics[k] for k in _METRIC_KEYS}, iou=metrics["iou"].tolist())
    entry.update(examples=stats["examples"], train_seconds=stats["train_seconds"])
    entry.update(examples_per_sec=stats["examples"] / stats["train_seconds"], seconds=time.perf_counter() - start)
    return entry


def _diverged(epoch: int, batches: int, trainer: torch.optim.Optimizer, checkpoint: Any, history: History) -> Any:
    lrs = sorted({group["lr"] for group in trainer.param_groups if "lr" in group})
    lr = f"lr={lrs[0]}" if len(lrs) == 1 else f"lr={lrs}"
    if checkpoint is not None and history:
        path = repr(str(checkpoint))
        then = (
            f"and continue from the last good epoch ({len(history)}) saved in {path}: train(net, ..., new_trainer, "
            f"..., checkpoint={path}, resume=True) reloads its weights and keeps the new learning rate "
            f"(fcnlib.load_checkpoint({path}, net) reloads the weights alone)."
        )
    else:
        then = "and a fresh net: this one's weights are now invalid."
    return TrainingDiverged(
        f"the training loss or the weights became NaN or infinite in epoch {epoch + 1} (by batch {batches}): "
        f"training diverged. Lower the learning rate (now {lr}; the loss is summed over the batch, so a larger "
        f"batch takes larger steps) or use amp=False: train again with a new trainer {then}",
        history,
    )


def _interrupted(epoch: int, net: nn.Module, trainer: Any, scaler: Any, checkpoint: Any, history: History) -> None:
    """Ctrl-C (the notebook's stop button): save the weights if they are finite, say so on rank 0."""
    if not _is_rank0():
        return
    message = f"training interrupted during epoch {epoch + 1}; {len(history)} epochs completed"
    if checkpoint is not None and _finite_weights(net):
        # The weights may be part-way through an epoch; the history lists complete epochs only,
        # so resume=True repeats the interrupted epoch starting from these weights.
        save_checkpoint(checkpoint, net, trainer, history, scaler)
        message += f", saved to {checkpoint} (resume=True continues)"
    print(message, file=sys.stderr)


def train(
    net: nn.Module,
    train_iter: Iterable,
    test_iter: Iterable | None,
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
    trainer: torch.optim.Optimizer | None = None,
    num_epochs: int = 5,
    devices: None | DeviceLike | Sequence[DeviceLike] = None,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = 255,
    checkpoint: None | str | Path = None,
    resume: bool = False,
    amp: Any = "auto",
    channels_last: Any = "auto",
    non_blocking: bool = True,
    progress: bool = True,
    reporter: Any = None,
    plot: bool = False,
) -> History:
    """Train ``net`` for ``num_epochs`` epochs, evaluating on ``test_iter`` after each; return the History.

    The first seven arguments are ``d2l.train_ch13``'s, in its order: ``loss(scores, labels) -> [N]``
    (None: :func:`per_example_cross_entropy`; the step minimises its sum over the batch), ``trainer``
    (None: the seed's ``SGD(lr=0.001, weight_decay=1e-3)``), ``num_epochs`` in total (with ``resume``,
    including those done), ``devices`` (None: :func:`fcnlib.all_devices`; several CUDA GPUs: DataParallel).
    A net already in DistributedDataParallel (torchrun) is used as it comes.

    Keyword-only: ``num_classes`` (default: the loader's dataset, else the net's scores); ``checkpoint``
    (a file written atomically after every epoch with finite weights and loss, and on Ctrl-C; its folder
    is checked before training); ``resume`` (continue from it: weights, optimiser state, history; the
    trainer keeps the hyper-parameters given now); ``amp`` (:func:`fcnlib.autocast_dtype`);
    ``channels_last`` ("auto": CUDA and CPU); ``non_blocking`` copies; ``progress`` (the
    :class:`TextReporter`); ``reporter``: one more reporter or a list (e.g. ``fcnlib.viz.LiveCurves()``).

    Raises ``ValueError`` for bad input (empty loader, labels outside ``0..C-1`` other than
    ``ignore_index``, scores of another size, an unwritable checkpoint path); :class:`TrainingDiverged`
    when the loss or the weights become NaN or infinite. Ctrl-C saves and returns the history so far.
    """
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 0:
        raise ValueError(f"num_epochs must be a non-negative int, got {num_epochs!r}")
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if plot:
        raise ValueError("train draws no figure itself: pass reporter=fcnlib.viz.LiveCurves() for live curves")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=path: the file to continue from")
    ddp = isinstance(net, nn.parallel.DistributedDataParallel)
    devices = _as_devices([device_of(net)] if devices is None and ddp else devices)
    device = devices[0]
    if checkpoint is not None and _is_rank0():
        check_checkpoint_path(checkpoint)
    _check_loader(train_iter, "train_iter")
    _check_loader(test_iter if test_iter is not None else [None], "test_iter")
    num_classes = _infer_num_classes(num_classes, train_iter, test_iter)
    amp_dtype = autocast_dtype(device, amp)
    use_cl = _resolve_flag(channels_last, "channels_last", device.type in CHANNELS_LAST_DEVICES)
    trainer = trainer if trainer is not None else torch.optim.SGD(net.parameters(), lr=0.001, weight_decay=1e-3)
    if loss is None:
        void = ignore_index if ignore_index is not None else -100
        loss = lambda out, y: per_example_cross_entropy(out, y, ignore_index=void)  # noqa: E731
    model = _prepare(net, devices, use_cl)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    history = History(devices=devices)
    if resume and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, net, trainer, scaler, map_location=device)
        history.devices = devices
    extra = [] if reporter is None else list(reporter) if isinstance(reporter, (list, tuple)) else [reporter]
    reporters = ([TextReporter()] if progress else []) + extra if _is_rank0() else []
    _report(reporters, "on_train_begin", num_epochs, _length(train_iter), history)
    step = dict(ignore_index=ignore_index, scaler=scaler, amp_dtype=amp_dtype, channels_last=use_cl)
    step.update(non_blocking=non_blocking, reporters=reporters)
    cudnn_benchmark, completed, epoch = torch.backends.cudnn.benchmark, False, len(history)
    torch.backends.cudnn.benchmark = cudnn_benchmark or device.type == "cuda"  # fixed crops: cuDNN picks once
    try:
        for epoch in range(len(history), num_epochs):
            start = time.perf_counter()
            stats = train_epoch(model, train_iter, loss, trainer, device, epoch=epoch, num_classes=num_classes, **step)
            num_classes, batches = stats.pop("num_classes"), stats.pop("batches")
            if not math.isfinite(stats["loss"]) or not _finite_weights(net):
                raise _diverged(epoch, batches, trainer, checkpoint, history)
            m = None if test_iter is None else evaluate(model, test_iter, num_classes, device, ignore_index=ignore_index,
                                                        amp=amp, channels_last=use_cl, non_blocking=non_blocking)  # fmt: skip
            history.append(_entry(epoch, stats, m, start))
            if checkpoint is not None and _is_rank0():
                save_checkpoint(checkpoint, net, trainer, history, scaler)
            _report(reporters, "on_epoch_end", history)
        completed = True
    except KeyboardInterrupt:
        _interrupted(epoch, net, trainer, scaler, checkpoint, history)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        _report(reporters, "close", history, completed)
    return history
