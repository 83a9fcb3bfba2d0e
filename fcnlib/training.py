"""Training and evaluation: the seed's ``d2l.train_ch13`` loop with checkpoints, mixed precision
and the FCN paper's metrics after every epoch.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .metrics import ConfusionMatrix, check_label_map, restrict_to_band, scores_to_labels
from .profiles import autocast_dtype

__all__ = [
    "boundary_miou",
    "evaluate_with_boundary",
    "CHECKPOINT_FORMAT",
    "CHANNELS_LAST_DEVICES",
    "TrainingDiverged",
    "History",
    "per_example_cross_entropy",
    "save_checkpoint",
    "load_checkpoint",
    "evaluate",
    "train",
]


def _forward(net: nn.Module, features: Tensor, device: torch.device) -> Tensor:
    with torch.no_grad():
        return net(features.to(device))


def evaluate_with_boundary(
    net: nn.Module,
    data_iter: Iterable[tuple[Tensor, Tensor]],
    widths: Iterable[int] = (3,),
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    ignore_index: int = 255,
    void_is_edge: bool = True,
) -> dict[str, dict]:
    """Score ``net`` on ``data_iter`` once, on all pixels and on the boundary bands of every width.

    Returns ``{"all": metrics, "band3": metrics, ...}`` where every ``metrics`` is the dict of
    :meth:`fcnlib.ConfusionMatrix.compute` (``pixel_acc``, ``mean_acc``, ``miou``,
    ``fw_iou``, ``iou``, ``acc``) plus ``"pixels"``, the number of pixels scored. Running the
    net once for all widths keeps the evaluation as cheap as a plain one.
    """
    widths = tuple(widths)
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"every width must be an int >= 1, got {w!r} in {widths}")
    if device is None:
        try:
            device = next(net.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    device = torch.device(device)
    was_training = net.training
    net.eval()
    matrices: dict[str, ConfusionMatrix] = {}
    try:
        for batch in data_iter:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise TypeError(
                    "data_iter must yield (images, labels) pairs, as fcnlib.data.load_data_voc's iterators do"
                )
            features, target = batch
            check_label_map(target, "the labels from data_iter")
            scores = _forward(net, features, device)
            if scores.dim() != 4:
                raise ValueError(f"net must return scores [N, C, H, W], got shape {tuple(scores.shape)}")
            c = num_classes if num_classes is not None else scores.shape[1]
            if scores.shape[1] != c:
                raise ValueError(f"net returns {scores.shape[1]} score channels but num_classes={c}")
            pred = scores.argmax(dim=1)
            target = target.to(pred.device)
            if not matrices:
                matrices = {"all": ConfusionMatrix(c, ignore_index)}
                matrices.update({f"band{w}": ConfusionMatrix(c, ignore_index) for w in widths})
            matrices["all"].update(pred, target)
            for w in widths:
                matrices[f"band{w}"].update(pred, restrict_to_band(target, w, ignore_index, void_is_edge))
    finally:
        net.train(was_training)
    if not matrices:
        raise ValueError("data_iter yielded no batches")
    results = {}
    for key, cm in matrices.items():
        metrics = cm.compute()
        metrics["pixels"] = int(cm.mat.sum())
        results[key] = metrics
    return results


DeviceLike = Union[str, torch.device, int]


CHECKPOINT_FORMAT = "fcnlib-checkpoint-1"


CHANNELS_LAST_DEVICES = ("cuda", "cpu")
"""Where ``channels_last="auto"`` switches it on: cuDNN's and oneDNN's convolutions are faster
with it (on a 2-core AVX2 CPU a training step of the FCN takes about 14% less CPU time and
inference about 25% less, mostly in the large transposed convolution); MPS is left alone."""


_METRIC_KEYS = ("pixel_acc", "mean_acc", "miou", "fw_iou")


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite. ``err.history`` holds the epochs completed before."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


class History(list):
    """One dict per epoch: ``epoch, loss, train_acc, pixel_acc, mean_acc, miou, fw_iou, iou,
    examples, examples_per_sec, seconds``.

    ``loss`` and ``train_acc`` are measured on the training batches while the net learns
    (as in d2l); ``pixel_acc`` ... ``iou`` on ``test_iter`` after the epoch (absent when
    there is no ``test_iter``); ``examples_per_sec`` counts training images per second of
    the epoch's training loop (data loading included, evaluation not); ``seconds`` is the
    whole epoch. ``print(history)`` gives d2l's two closing lines, ``history.column("miou")``
    one curve, :func:`fcnlib.viz.plot_history` a figure.
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


def per_example_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
    """Cross-entropy of every pixel, averaged over each image's labelled pixels: shape ``[N]``.

    The seed writes ``F.cross_entropy(inputs, targets, reduction='none').mean(1).mean(1)``;
    this is the same number for labels without ``ignore_index``, and pixels labelled
    ``ignore_index`` (VOC's object outlines) count neither in the sum nor in the average.
    """
    pixel_loss = F.cross_entropy(logits, labels, ignore_index=ignore_index, reduction="none")
    valid = (labels != ignore_index).flatten(1).sum(dim=1).clamp(min=1)
    return pixel_loss.flatten(1).sum(dim=1) / valid


def _as_devices(devices: None | DeviceLike | Sequence[DeviceLike]) -> list[torch.device]:
    if devices is None:
        from .profiles import all_devices

        return all_devices()
    if isinstance(devices, (str, torch.device, int)):
        devices = [devices]
    result = [torch.device(d) for d in devices]
    if not result:
        raise ValueError(
            "devices is an empty list (d2l.try_all_gpus() returns [] on a machine without a GPU in some "
            "versions); pass devices=None to use the best device here, or e.g. [torch.device('cpu')]"
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
    """Mixed precision on ``device`` in ``dtype``, or nothing at all for ``dtype=None``."""
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
    try:
        length = len(data_iter)
    except TypeError:
        return  # an iterable without a length: checked after the loop
    if length == 0:
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


def _check_labels(y: Tensor, num_classes: int, ignore_index: int | None, name: str) -> None:
    """Raise if ``y`` holds a label outside ``0..C-1`` that is not ``ignore_index`` (waits for the device)."""
    bad = (y < 0) | (y >= num_classes)
    if ignore_index is not None:
        bad &= y != ignore_index
    if bool(bad.any()):
        values = y[bad].unique()[:8].tolist()
        raise ValueError(
            f"labels from {name} contain {values}, outside the class indices 0..{num_classes - 1}"
            + (f" and not the ignore index {ignore_index}" if ignore_index is not None else "")
            + f". Check that num_classes ({num_classes}) matches the dataset and that labels are class indices."
        )


def _check_output(out: Tensor, y: Tensor, num_classes: int | None) -> int:
    if out.dim() != 4:
        raise ValueError(f"the net must return class scores [N, C, H, W], got shape {tuple(out.shape)}")
    if out.shape[0] != y.shape[0] or out.shape[-2:] != y.shape[-2:]:
        raise ValueError(
            f"the net's output {tuple(out.shape)} does not match the labels {tuple(y.shape)}: every pixel needs "
            f"a score per class. The height and width must stay the same; for FCN-32s the crop size must be "
            f"a multiple of 32 in both directions (e.g. crop_size=(320, 480)), and the transposed convolution "
            f"must upsample exactly 32 times."
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise ValueError(
            f"the net returns {out.shape[1]} class scores per pixel but num_classes={num_classes}; "
            "build the net with the dataset's number of classes"
        )
    return int(out.shape[1])


def _infer_num_classes(num_classes: int | None, *loaders: Any) -> int | None:
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        return num_classes
    for loader in loaders:
        value = getattr(getattr(loader, "dataset", None), "num_classes", None)
        if isinstance(value, int):
            return value
    return None  # taken from the net's output on the first batch


def _param_device(net: nn.Module) -> torch.device:
    for p in net.parameters():
        return p.device
    for b in net.buffers():
        return b.device
    return torch.device("cpu")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def save_checkpoint(
    path: str | Path,
    net: nn.Module,
    trainer: torch.optim.Optimizer | None = None,
    history: Sequence[dict[str, Any]] = (),
    scaler: Any = None,
) -> Path:
    """Save ``net``, ``trainer`` and ``history`` to ``path`` *atomically*.

    The file is written under a temporary name and then renamed over ``path``
    (``os.replace``), so an interruption while writing never leaves half a checkpoint:
    ``path`` holds either the old or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "model": net.state_dict(),
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
    """Load what :func:`save_checkpoint` (or ``train(checkpoint=...)``) saved into ``net`` (and ``trainer``).

    Returns the :class:`History` of the saved epochs.
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
        net.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint {path} holds a different network than the one given (for example another number "
            f"of classes or FCN variant): {str(err).splitlines()[0]} ... Build the same net, or delete the file "
            "to start afresh."
        ) from err
    if trainer is not None and state.get("optimizer") is not None:
        trainer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    return History(state.get("history", []))


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
    """The FCN paper's metrics of ``net`` on every batch of ``data_iter``.

    Returns :meth:`ConfusionMatrix.compute`'s dict: ``pixel_acc``, ``mean_acc``, ``miou``,
    ``fw_iou`` (floats) and per-class ``iou`` and ``acc`` (tensors, NaN for classes that
    occur nowhere). ``num_classes`` defaults to ``data_iter.dataset.num_classes`` or else the
    net's number of output channels; ``device`` to the device of the net's parameters.
    The net runs in eval mode (batch norm uses its running statistics) and is put back in
    the mode it was in.
    """
    _check_loader(data_iter, "data_iter")
    net_device = _param_device(net)
    device = torch.device(device) if device is not None else net_device
    if device.type != net_device.type or (
        device.index is not None and net_device.index is not None and device.index != net_device.index
    ):
        raise ValueError(f"the net is on {net_device} but device={device}; move it first: net.to({str(device)!r})")
    num_classes = _infer_num_classes(num_classes, data_iter)
    amp_dtype = autocast_dtype(device, amp)
    use_cl = _resolve_flag(channels_last, "channels_last", device.type in CHANNELS_LAST_DEVICES)
    was_training = net.training
    net.eval()
    cm: ConfusionMatrix | None = None
    try:
        with torch.inference_mode():
            for X, y in data_iter:
                if cm is None:
                    _check_batch(X, y, "data_iter")
                X = X.to(device, non_blocking=non_blocking)
                y = y.to(device, non_blocking=non_blocking)
                if use_cl:
                    X = X.contiguous(memory_format=torch.channels_last)
                with _autocast(device, amp_dtype):
                    out = _logits(net(X))
                if cm is None:
                    cm = ConfusionMatrix(_check_output(out, y, num_classes), ignore_index=ignore_index)
                cm.update(scores_to_labels(out), y)
    finally:
        net.train(was_training)
    if cm is None:
        raise ValueError("data_iter yielded no batches: its dataset is empty")
    return cm.compute()


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
    plot: Any = "auto",
    progress: bool = True,
) -> History:
    """Train ``net`` for ``num_epochs`` epochs, evaluating on ``test_iter`` after each; return the :class:`History`.

    The first seven arguments are ``d2l.train_ch13``'s, in its order and with its meaning:

    Args:
        net: a module mapping images ``[N, 3, H, W]`` to class scores ``[N, C, H, W]``.
            It is trained in place (and moved to ``devices[0]``).
        train_iter, test_iter: iterables of ``(images, labels)`` batches, labels ``[N, H, W]``
            of class indices with ``ignore_index`` for unlabelled pixels. ``test_iter`` may be
            None (no test metrics).
        loss: ``loss(scores, labels)`` returning one value per example (``[N]``), as the
            seed's; the step minimises ``loss(...).sum()`` (d2l's convention, which the
            seed's learning rate is tuned for). None: :func:`per_example_cross_entropy`.
        trainer: the optimiser. None: the seed's ``SGD(lr=0.001, weight_decay=1e-3)``.
        num_epochs: how many epochs in total (with ``resume``, including those already done).
        devices: a device or a list of devices; several CUDA GPUs split every batch
            between them (``nn.DataParallel``, as d2l). None: every GPU, else Apple's MPS,
            else the CPU (:func:`fcnlib.all_devices`).

    Keyword-only options:
        num_classes: defaults to ``train_iter.dataset.num_classes``, else the net's outputs.
        checkpoint: a file path; model, optimiser and history are saved there after every
            epoch and when training is interrupted (the notebook's stop button).
        resume: continue from ``checkpoint`` if it exists (else start afresh).
        amp: mixed precision. ``"auto"``: bfloat16 on GPUs that have it, float16 with a
            gradient scaler on older GPUs, off on CPU and MPS. ``True`` also uses
            bfloat16 on the CPU; ``False`` keeps float32; or ``"bf16"`` / ``"fp16"``.
        channels_last: store images and weights "channels last" (``[N, H, W, C]`` in
            memory), which cuDNN and oneDNN convolve faster. ``"auto"``: on CUDA and CPU.
        non_blocking: copy batches to the GPU asynchronously (pays off with pinned memory).
        plot: ``"auto"`` draws live curves in a notebook only; True or False.
        progress: a progress bar per epoch and d2l's closing lines.

    Raises ``ValueError`` for an empty loader, labels outside ``0..C-1`` that are not
    ``ignore_index``, or scores whose height and width differ from the labels';
    :class:`TrainingDiverged` when the loss becomes NaN or infinite (the checkpoint keeps
    the last good epoch). A ``KeyboardInterrupt`` stops training, saves the checkpoint and
    returns the history so far.
    """
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 0:
        raise ValueError(f"num_epochs must be a non-negative int, got {num_epochs!r}")
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=path: the file to continue from")
    devices = _as_devices(devices)
    device = devices[0]
    _check_loader(train_iter, "train_iter")
    if test_iter is not None:
        _check_loader(test_iter, "test_iter")
    num_classes = _infer_num_classes(num_classes, train_iter, test_iter)
    amp_dtype = autocast_dtype(device, amp)
    use_cl = _resolve_flag(channels_last, "channels_last", device.type in CHANNELS_LAST_DEVICES)
    show_plot = _resolve_flag(plot, "plot", False) if plot != "auto" else None
    if trainer is None:
        trainer = torch.optim.SGD(net.parameters(), lr=0.001, weight_decay=1e-3)
    loss_fn = (
        loss if loss is not None else (lambda out, y: per_example_cross_entropy(out, y, ignore_index=ignore_index))
    )

    # Moving parameters keeps their identity, so an optimiser built before still holds them.
    net.to(device)
    if use_cl:
        net.to(memory_format=torch.channels_last)
    model = nn.DataParallel(net, device_ids=devices) if len(devices) > 1 else net
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    history = History(devices=devices)
    if resume and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, net, trainer, scaler, map_location=device)
        history.devices = devices
        if progress:
            print(f"resuming from {checkpoint} after epoch {len(history)}")
    live = None
    if show_plot or (show_plot is None and _in_notebook()):
        from .viz.curves import LiveCurves

        live = LiveCurves(num_epochs)
        live.update(history)  # shown now (empty unless resuming), so it sits above the progress bars

    from tqdm.auto import tqdm

    cudnn_benchmark = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick its fastest kernels once
    checked_first_batch = False
    epoch = len(history)
    bar = None
    try:
        for epoch in range(len(history), num_epochs):
            epoch_start = time.perf_counter()
            model.train()
            # Running sums live on the device; reading them (a host sync) happens once per epoch.
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            labelled = torch.zeros((), dtype=torch.int64, device=device)
            bad_labels = torch.zeros((), dtype=torch.int64, device=device)
            finite = torch.ones((), dtype=torch.bool, device=device)
            examples, batches, last_refresh = 0, 0, 0.0
            # The bar is updated by hand: a bar that wraps the loader closes itself when the
            # loader is exhausted, and we want to add the test metrics to it after that.
            bar = tqdm(
                total=_length(train_iter),
                desc=f"epoch {epoch + 1}/{num_epochs}",
                unit="batch",
                disable=not progress,
                leave=True,
                dynamic_ncols=True,
            )
            for X, y in train_iter:
                if not checked_first_batch:
                    _check_batch(X, y, "train_iter")
                X = X.to(device, non_blocking=non_blocking)
                y = y.to(device, non_blocking=non_blocking).long()
                if use_cl:
                    X = X.contiguous(memory_format=torch.channels_last)
                if checked_first_batch and device.type == "cpu":
                    _check_labels(y, num_classes, ignore_index, "train_iter")
                elif checked_first_batch:
                    # On a GPU, checking every batch would wait for it: count bad labels on the
                    # device, train on them as "ignored" and raise at the end of the epoch.
                    bad = (y < 0) | (y >= num_classes)
                    if ignore_index is not None:
                        bad &= y != ignore_index
                    bad_labels += bad.sum()
                    y = torch.where(bad, ignore_index if ignore_index is not None else 0, y)
                trainer.zero_grad(set_to_none=True)
                with _autocast(device, amp_dtype):
                    out = _logits(model(X))
                    if not checked_first_batch:
                        num_classes = _check_output(out, y, num_classes)
                        _check_labels(y, num_classes, ignore_index, "train_iter")
                        try:
                            l = loss_fn(out, y)
                        except (IndexError, RuntimeError) as err:
                            raise ValueError(
                                f"the loss function failed on the first batch: {err}. If the labels contain "
                                f"{ignore_index} (unlabelled pixels), the loss must ignore them, e.g. "
                                f"F.cross_entropy(..., ignore_index={ignore_index}), or pass loss=None."
                            ) from err
                        checked_first_batch = True
                    else:
                        l = loss_fn(out, y)
                total = l.sum()
                scaler.scale(total).backward()
                scaler.step(trainer)
                scaler.update()
                with torch.no_grad():
                    total = total.detach()
                    finite &= torch.isfinite(total)
                    loss_sum += total.double()
                    valid = y != ignore_index if ignore_index is not None else torch.ones_like(y, dtype=torch.bool)
                    correct += ((scores_to_labels(out) == y) & valid).sum()
                    labelled += valid.sum()
                examples += y.shape[0]
                batches += 1
                bar.update(1)
                now = time.perf_counter()
                # The CPU has nothing to overlap: check every batch. On a GPU, look (a sync)
                # about once a second, so the loss shown is fresh and a NaN is caught soon.
                if device.type == "cpu" or now - last_refresh > 1.0:
                    last_refresh = now
                    if not bool(finite):
                        raise _diverged(epoch, batches, trainer, checkpoint, history)
                    if progress:
                        bar.set_postfix(
                            loss=f"{float(loss_sum) / examples:.3f}",
                            acc=f"{float(correct) / max(int(labelled), 1):.3f}",
                            refresh=False,
                        )
            if batches == 0:
                raise ValueError("train_iter yielded no batches: its dataset is empty")
            _synchronize(device)
            train_seconds = time.perf_counter() - epoch_start
            if not bool(finite):
                raise _diverged(epoch, batches, trainer, checkpoint, history)
            if int(bad_labels) > 0:
                raise ValueError(
                    f"{int(bad_labels)} training pixels had labels outside 0..{num_classes - 1}"
                    + (f" and not the ignore index {ignore_index}" if ignore_index is not None else "")
                    + f" in epoch {epoch + 1}. Check num_classes ({num_classes}) and the label images."
                )
            entry: dict[str, Any] = {
                "epoch": epoch + 1,
                "loss": float(loss_sum) / examples,
                "train_acc": float(correct) / max(int(labelled), 1),
            }
            if test_iter is not None:
                if progress:
                    bar.set_postfix_str("evaluating on test_iter", refresh=True)
                metrics = evaluate(
                    model,
                    test_iter,
                    num_classes,
                    device,
                    ignore_index=ignore_index,
                    amp=amp,
                    channels_last=use_cl,
                    non_blocking=non_blocking,
                )
                entry.update({k: metrics[k] for k in _METRIC_KEYS})
                entry["iou"] = metrics["iou"].tolist()
            entry.update(
                examples=examples,
                train_seconds=train_seconds,
                examples_per_sec=examples / train_seconds,
                seconds=time.perf_counter() - epoch_start,
            )
            history.append(entry)
            if checkpoint is not None:
                save_checkpoint(checkpoint, net, trainer, history, scaler)
            if progress:
                summary = f"loss {entry['loss']:.3f}, train acc {entry['train_acc']:.3f}"
                if "pixel_acc" in entry:
                    summary += f", test acc {entry['pixel_acc']:.3f}, mIoU {entry['miou']:.3f}"
                bar.set_postfix_str(summary, refresh=True)
            bar.close()
            if live is not None:
                live.update(history)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        where = f"during epoch {epoch + 1}" if epoch < num_epochs else "after the last epoch"
        message = f"training interrupted {where}; {len(history)} epochs completed"
        if checkpoint is not None:
            # The weights may be part-way through an epoch; the history lists complete epochs only,
            # so resume=True repeats the interrupted epoch starting from these weights.
            save_checkpoint(checkpoint, net, trainer, history, scaler)
            message += f", saved to {checkpoint} (resume=True continues)"
        print(message, file=sys.stderr)
        return history
    finally:
        if bar is not None:
            bar.close()
        torch.backends.cudnn.benchmark = cudnn_benchmark
    if progress and history:
        print(history)
    return history


def _diverged(
    epoch: int, batches: int, trainer: torch.optim.Optimizer, checkpoint: Any, history: History
) -> TrainingDiverged:
    lrs = sorted({group.get("lr") for group in trainer.param_groups if "lr" in group})
    lr = f"lr={lrs[0]}" if len(lrs) == 1 else f"lr={lrs}"
    kept = (
        f"The checkpoint {checkpoint} keeps the last good epoch ({len(history)}); the net's weights are now "
        f"invalid: reload them with fcnlib.train.load_checkpoint({str(checkpoint)!r}, net)."
        if checkpoint is not None and history
        else "The net's weights are now invalid: build a fresh net before training again."
    )
    return TrainingDiverged(
        f"the training loss became NaN or infinite in epoch {epoch + 1} (by batch {batches}): training diverged. "
        f"Lower the learning rate ({lr}; the loss is summed over the batch, so a larger batch takes larger "
        f"steps) or use amp=False. {kept}",
        history,
    )


def _in_notebook() -> bool:
    from .viz.curves import in_notebook

    return in_notebook()


def boundary_miou(
    net: nn.Module,
    data_iter: Iterable[tuple[Tensor, Tensor]],
    width: int = 3,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    ignore_index: int = 255,
    void_is_edge: bool = True,
) -> dict:
    """The metrics of :class:`fcnlib.ConfusionMatrix` counted only inside the boundary band.

    ``result["miou"]`` is the boundary mIoU; ``result["pixels"]`` says how many pixels the
    band held. See :func:`evaluate_with_boundary` to get several widths (and the usual
    all-pixel metrics) from one pass over the data.
    """
    return evaluate_with_boundary(net, data_iter, (width,), num_classes, device, ignore_index, void_is_edge)[
        f"band{width}"
    ]
