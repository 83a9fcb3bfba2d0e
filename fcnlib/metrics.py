"""Segmentation metrics: the confusion matrix, the FCN paper's four metrics (Long et al. 2015, section 5),
per-class IoU, and the boundary band used to score outlines."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from .shapes import check_int


def scores_to_labels(scores: Tensor, dim: int = 1) -> Tensor:
    """``scores.argmax(dim)`` (int64, first on ties), by ``max(dim).indices`` unless channels_last (3x quicker on CPU)."""
    if scores.dim() == 4 and dim in (1, -3) and scores.is_contiguous(memory_format=torch.channels_last):
        return scores.argmax(dim=dim)
    return scores.max(dim=dim).indices


def metrics_from_confusion(mat: Tensor) -> dict[str, float | Tensor]:
    """The FCN paper's metrics from a confusion matrix ``mat[target, prediction]``: the floats ``pixel_acc``,
    ``mean_acc``, ``miou``, ``fw_iou`` (NaN if nothing was counted) and per class the float64 CPU tensors ``iou``
    and ``acc`` (NaN where a class never occurs)."""
    if mat.dim() != 2 or mat.shape[0] != mat.shape[1]:
        raise ValueError(f"a confusion matrix must be square [C, C], got shape {tuple(mat.shape)}")
    n = mat.detach().cpu().double()  # copied first: MPS has no float64
    diag = n.diagonal()
    target_count = n.sum(dim=1)  # t_i: pixels whose true class is i
    total = target_count.sum()
    union = target_count + n.sum(dim=0) - diag
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    acc = torch.where(target_count > 0, diag / target_count.clamp(min=1), nan)
    iou = torch.where(union > 0, diag / union.clamp(min=1), nan)
    fw_iou = (target_count * torch.nan_to_num(iou)).sum() / total  # t_i = 0 weighs 0 (nan_to_num: no 0 * NaN)
    floats = dict(pixel_acc=diag.sum() / total, mean_acc=acc.nanmean(), miou=iou.nanmean(), fw_iou=fw_iou)
    return {**{name: float(value) for name, value in floats.items()}, "iou": iou, "acc": acc}  # 0 / 0 is NaN


class ConfusionMatrix:
    """Count (target, prediction) pairs batch after batch, then :meth:`compute` the paper's metrics. Labels outside
    ``0 .. C-1`` other than ``ignore_index`` raise ``ValueError``: at once on the CPU, at :meth:`compute` on a GPU."""

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        check_int(num_classes, "num_classes", 1)
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            other = (
                "255 (VOC's)" if num_classes <= 255 else f"{num_classes} or -1 (any value outside 0..{num_classes - 1})"
            )
            raise ValueError(f"ignore_index={ignore_index} is a class label 0..{num_classes - 1}; use {other} or None")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        # C*C cells, bins for ignored pixels, bad labels, bad predictions: no boolean indexing (a GPU sync).
        self._counts: Tensor | None = None

    def reset(self) -> None:
        """Forget everything counted so far."""
        self._counts = None

    @property
    def mat(self) -> Tensor:
        """The ``[C, C]`` int64 matrix: ``mat[i, j]`` pixels of true class ``i`` predicted as ``j``."""
        c = self.num_classes
        counts = self._counts if self._counts is not None else torch.zeros(c * c, dtype=torch.int64)
        return counts[: c * c].view(c, c)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add one batch: int ``pred`` labels (or float ``[N, C, ...]`` scores) and ``target`` labels, on any device."""
        if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
            raise TypeError(f"pred and target must be tensors, got {type(pred).__name__} and {type(target).__name__}")
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"target must hold integer labels, got dtype {target.dtype}")
        if pred.is_floating_point():
            if pred.dim() != target.dim() + 1 or pred.shape[1] != self.num_classes:
                msg = f"float pred must be class scores [N, {self.num_classes}, ...], got {tuple(pred.shape)}"
                raise ValueError(f"{msg}; pass labels (pred.argmax(1)) or one score channel per class")
            pred = scores_to_labels(pred, dim=1)
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
        if pred.device != target.device:
            raise ValueError(f"pred is on {pred.device} but target on {target.device}; move them to one device")
        c, ignore = self.num_classes, self.ignore_index
        pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
        ignored = target == ignore if ignore is not None else torch.zeros_like(target, dtype=torch.bool)
        bad_target = ~ignored & ((target < 0) | (target >= c))
        bad_pred = ~ignored & ~bad_target & ((pred < 0) | (pred >= c))
        if target.device.type == "cpu" and bool((bad_target | bad_pred).any()):
            found = [t[m].unique()[:8].tolist() for t, m in ((target, bad_target), (pred, bad_pred))]
            raise self._bad(int(bad_target.sum()), int(bad_pred.sum()), *found)
        bins = torch.where(bad_target, c * c + 1, torch.where(bad_pred, c * c + 2, target * c + pred))
        index = torch.where(ignored, c * c, bins)
        if self._counts is None:
            self._counts = torch.zeros(c * c + 3, dtype=torch.int64, device=index.device)
        self._counts = self._counts.to(index.device)
        if index.device.type != "cpu":  # bincount on CUDA syncs to size its output; scatter_add_ does not
            self._counts.scatter_add_(0, index, torch.ones_like(index))
        else:
            self._counts += torch.bincount(index, minlength=c * c + 3)

    def compute(self) -> dict[str, float | Tensor]:
        """The metrics of everything counted since the last :meth:`reset`: see :func:`metrics_from_confusion`."""
        if self._counts is None:
            raise RuntimeError("ConfusionMatrix.compute() was called before any update(pred, target)")
        counts, c = self._counts.cpu(), self.num_classes  # the one place that waits for the GPU
        if counts[-2:].any():
            raise self._bad(int(counts[-2]), int(counts[-1]))
        return metrics_from_confusion(counts[: c * c].view(c, c))

    def _bad(self, labels: int, preds: int, label_values=None, pred_values=None) -> ValueError:
        """The error for ``labels`` bad target pixels (first) or ``preds`` predictions outside 0..C-1."""
        c, ignore = self.num_classes, self.ignore_index
        if labels:
            found = "" if label_values is None else f" (values {label_values})"
            return ValueError(
                f"{labels} pixels have labels outside 0..{c - 1} and not ignore_index={ignore}{found}; check "
                "num_classes and that labels are class indices, not colours"
            )
        found = "" if pred_values is None else f" {pred_values}"
        return ValueError(
            f"{preds} predictions are{found} outside the classes 0..{c - 1}: pass class scores [N, {c}, H, W] (or "
            f"their argmax), or build ConfusionMatrix(num_classes) with the net's number of classes"
        )

    def all_reduce(self, device: torch.device | str | None = None) -> ConfusionMatrix:
        """Sum the counts of every torch.distributed process into each one's (a no-op when not initialised);
        ``self``. ``device``: where a process that counted nothing holds zeros (the backend's; CUDA for NCCL)."""
        if dist.is_available() and dist.is_initialized():
            if self._counts is None:
                self._counts = torch.zeros(self.num_classes**2 + 3, dtype=torch.int64, device=device)
            dist.all_reduce(self._counts, op=dist.ReduceOp.SUM)
        return self

    def __repr__(self) -> str:
        pixels = 0 if self._counts is None else int(self._counts[: self.num_classes**2].sum())
        return f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index}, pixels={pixels})"


def boundary_band(labels: Tensor, width: int = 3, ignore_index: int | None = 255, void_is_edge: bool = True) -> Tensor:
    """Bool mask (the shape of int ``labels [H, W]`` or ``[N, H, W]``) of labelled pixels whose ``(2 * width + 1)``
    square holds another label; ``void_is_edge``: a change to or from ``ignore_index`` counts (VOC outlines with void)."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class indices (e.g. torch.long), got dtype {labels.dtype}")
    if labels.dim() not in (2, 3):
        raise ValueError(f"labels must have shape [H, W] or [N, H, W], got {tuple(labels.shape)}")
    check_int(width, "width", 1)
    x = labels.unsqueeze(-3).float()  # [H, W] -> [1, H, W]; [N, H, W] -> [N, 1, H, W]
    void = labels.unsqueeze(-3) == ignore_index if ignore_index is not None else torch.zeros_like(x, dtype=torch.bool)
    hi, lo = (x, x) if void_is_edge else (x.masked_fill(void, -math.inf), x.masked_fill(void, math.inf))
    # max_pool2d pads with -inf: the window shrinks at the image border.
    largest = F.max_pool2d(hi, kernel_size=2 * width + 1, stride=1, padding=width)
    smallest = -F.max_pool2d(-lo, kernel_size=2 * width + 1, stride=1, padding=width)
    return ((largest != smallest) & ~void).squeeze(-3)


def restrict_to_band(target: Tensor, width: int = 3, ignore_index: int = 255, void_is_edge: bool = True) -> Tensor:
    """A copy of ``target`` with every pixel outside :func:`boundary_band` set to ``ignore_index``."""
    band = boundary_band(target, width, ignore_index, void_is_edge)
    return target.masked_fill(~band, ignore_index)


def describe_errors(mat: Tensor, classes, background: int = 0, found: float = 0.9, spill: float = 0.2, limit=3):
    """What went wrong in one prediction, in words, from its confusion matrix ``mat [C, C]`` (``mat[i, j]``: pixels
    of true class ``i`` predicted as ``j``; void not counted) and the ``C`` class names. Notes on each object class
    (not ``background``): found on less than ``found`` of its pixels ("ring: 12% found, 80% taken for square"),
    predicted where the truth has none ("star: 310 px predicted, none in the truth"), or more than ``spill`` of the
    pixels predicted as it belonging to other classes ("square: 35% of its prediction is background"). Notes about
    fewer than 0.5% of the labelled pixels are dropped; the ``limit`` that concern the most pixels are returned,
    joined by "; ", else a sentence that no class is missed, invented or spilled over.
    ValueError: a non-square matrix or a number of names other than C."""
    n = mat.detach().cpu().double()
    if n.dim() != 2 or n.shape[0] != n.shape[1] or len(classes) != n.shape[0]:
        raise ValueError(f"need a square confusion matrix [C, C] and C class names: {tuple(n.shape)}, {len(classes)}")
    notes, others = [], lambda c, counts: max((j for j in range(len(classes)) if j != c), key=lambda j: counts[j])
    for c, name in enumerate(classes):
        truth, predicted, right = float(n[c].sum()), float(n[:, c].sum()), float(n[c, c])
        if c == background or truth + predicted == 0:
            continue
        if truth == 0:
            notes.append((predicted, f"{name}: {predicted:,.0f} px predicted, none in the truth"))
            continue
        if right < found * truth:
            j = others(c, n[c])
            text = f"{name}: {math.floor(100 * right / truth)}% found, {n[c, j] / truth:.0%} taken for {classes[j]}"
            notes.append((truth - right, text))
        if predicted - right > spill * predicted:
            i = others(c, n[:, c])
            notes.append((predicted - right, f"{name}: {n[i, c] / predicted:.0%} of its prediction is {classes[i]}"))
    notes = [note for note in notes if note[0] >= 0.005 * float(n.sum())]
    none = f"every object class at least {found:.0%} found, none invented, none spilling over by more than {spill:.0%}"
    return "; ".join(text for _, text in sorted(notes, key=lambda note: -note[0])[:limit]) if notes else none
