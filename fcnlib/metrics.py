"""How good is a segmentation? The confusion matrix and the FCN paper's four numbers.

Every pixel with a ground-truth label is one vote: it lands in row ``target`` and column
``prediction`` of a ``C x C`` table, the *confusion matrix* ``n``. Its diagonal counts the
pixels that were right; everything off the diagonal is a mistake, and *which* cell it sits
in says which class was taken for which. With ``t_i = sum_j n_ij`` (pixels of class ``i``)
Long, Shelhamer and Darrell (FCN, 2015) summarise the table with four numbers:

* pixel accuracy ``sum_i n_ii / sum_i t_i``: the share of pixels labelled right. On VOC,
  where most pixels are background, a net that only says "background" already scores ~0.7.
* mean accuracy ``(1/n_cl) sum_i n_ii / t_i``: the accuracy of every class on its own,
  averaged, so small classes count as much as the background.
* mean IU (mIoU) ``(1/n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)``: for every class, the
  overlap of "predicted i" and "really i" divided by their union, averaged. It punishes
  both missed pixels and false alarms and is the number segmentation papers report.
* frequency weighted IU ``(sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)``: the
  IoUs weighted by how many pixels each class has.

Pixels labelled ``ignore_index`` (255: the "don't care" outline around VOC objects) vote
nowhere. A class that occurs neither in the ground truth nor in the prediction has no
IoU at all (0/0, NaN) and is left out of the means (``n_cl`` counts only the others),
whereas a class that is predicted but absent from the ground truth has IoU 0: every one of
its predicted pixels was a false alarm. The mean accuracy is averaged over the classes that
occur in the ground truth (for the others ``n_ii / t_i`` is 0/0).

The same code counts on the CPU and on a GPU, and ``update`` never waits for the GPU
(no ``.item()``, no boolean indexing), so it can run after every batch of a training loop.
"""

from __future__ import annotations

from typing import Dict, Optional, Union

import torch
from torch import Tensor

__all__ = ["ConfusionMatrix", "metrics_from_confusion", "scores_to_labels"]


def scores_to_labels(scores: Tensor, dim: int = 1) -> Tensor:
    """The predicted class of every pixel: the index of the largest score along ``dim``.

    The same as ``scores.argmax(dim)`` (ties go to the first index), but quick for either
    memory layout: on the CPU ``argmax`` across the channels of a ``[N, C, H, W]`` tensor
    strides through memory and takes about three times as long as ``max(dim).indices``,
    while for ``channels_last`` tensors (channels adjacent in memory) ``argmax`` is quickest.
    """
    if scores.dim() == 4 and dim in (1, -3) and scores.is_contiguous(memory_format=torch.channels_last):
        return scores.argmax(dim=dim)
    return scores.max(dim=dim).indices


def metrics_from_confusion(mat: Tensor) -> Dict[str, Union[float, Tensor]]:
    """The FCN paper's metrics from a confusion matrix ``mat[target, prediction]``.

    Returns a dict with the floats ``pixel_acc``, ``mean_acc``, ``miou``, ``fw_iou`` and the
    float64 CPU tensors ``iou`` and ``acc`` (per class; NaN for classes the formulas leave
    undefined, see the module's docstring). With no counted pixel at all every value is NaN.
    """
    if mat.dim() != 2 or mat.shape[0] != mat.shape[1]:
        raise ValueError(f"a confusion matrix must be square [C, C], got shape {tuple(mat.shape)}")
    n = mat.detach().to("cpu", torch.float64)
    diag = n.diagonal()
    target_count = n.sum(dim=1)  # t_i: pixels whose true class is i
    pred_count = n.sum(dim=0)  # pixels predicted as i
    total = target_count.sum()
    union = target_count + pred_count - diag
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    acc = torch.where(target_count > 0, diag / target_count.clamp(min=1), nan)
    iou = torch.where(union > 0, diag / union.clamp(min=1), nan)
    if total == 0:
        return dict(pixel_acc=float("nan"), mean_acc=float("nan"), miou=float("nan"),
                    fw_iou=float("nan"), iou=iou, acc=acc)
    # Classes with t_i = 0 have weight 0 in the f.w. IU; nan_to_num keeps 0 * NaN from poisoning it.
    fw_iou = (target_count * torch.nan_to_num(iou)).sum() / total
    return dict(
        pixel_acc=float(diag.sum() / total),
        mean_acc=float(acc.nanmean()),
        miou=float(iou.nanmean()),
        fw_iou=float(fw_iou),
        iou=iou,
        acc=acc,
    )


class ConfusionMatrix:
    """Count (target, prediction) pairs batch after batch, then :meth:`compute` the metrics.

    >>> cm = ConfusionMatrix(num_classes=3)
    >>> cm.update(torch.tensor([[0, 1], [2, 2]]), torch.tensor([[0, 1], [2, 1]]))
    >>> cm.mat
    tensor([[1, 0, 0],
            [0, 1, 1],
            [0, 0, 1]])
    >>> round(cm.compute()["pixel_acc"], 2)
    0.75

    Args:
        num_classes: ``C``; labels are ``0 .. C-1``.
        ignore_index: the label of pixels that are not counted (VOC's 255); ``None`` for none.

    ``update(pred, target)`` takes predicted labels ``[...]`` or scores ``[N, C, ...]``
    (an argmax over dim 1 is taken) and targets of the labels' shape, on any device; the
    counts stay on that device. Labels outside ``0 .. C-1`` (other than ``ignore_index``)
    are an error: on the CPU :meth:`update` raises at once; on a GPU they are counted
    apart without stopping the GPU, and :meth:`compute` raises.
    """

    def __init__(self, num_classes: int, ignore_index: Optional[int] = 255) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(
                f"ignore_index={ignore_index} is one of the {num_classes} class labels 0..{num_classes - 1}; "
                "choose a value outside that range (VOC uses 255) or None"
            )
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        # C*C cells, then one bin for ignored pixels and one for invalid labels: every pixel
        # gets a bin, so counting needs no boolean indexing (which would wait for the GPU).
        self._counts: Optional[Tensor] = None

    def reset(self) -> None:
        """Forget everything counted so far."""
        self._counts = None

    @property
    def mat(self) -> Tensor:
        """The ``[C, C]`` int64 matrix: ``mat[i, j]`` pixels of true class ``i`` predicted as ``j``."""
        c = self.num_classes
        if self._counts is None:
            return torch.zeros(c, c, dtype=torch.int64)
        return self._counts[: c * c].view(c, c)

    @property
    def invalid_count(self) -> Tensor:
        """How many pixels had a label outside ``0 .. C-1`` that was not ``ignore_index`` (a 0-dim tensor)."""
        if self._counts is None:
            return torch.zeros((), dtype=torch.int64)
        return self._counts[-1]

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add one batch: ``pred`` labels (or ``[N, C, ...]`` scores) and ``target`` labels of the same shape."""
        if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
            raise TypeError(f"pred and target must be torch tensors, got {type(pred).__name__} and {type(target).__name__}")
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"target must hold integer labels, got dtype {target.dtype}")
        if pred.is_floating_point():
            if pred.dim() != target.dim() + 1 or pred.shape[1] != self.num_classes:
                raise ValueError(
                    f"floating-point pred is taken as class scores [N, {self.num_classes}, ...] for targets "
                    f"{tuple(target.shape)}, got shape {tuple(pred.shape)}; pass predicted labels (pred.argmax(1)) "
                    "or scores with one channel per class"
                )
            pred = scores_to_labels(pred, dim=1)
        if pred.shape != target.shape:
            raise ValueError(
                f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)} "
                "(did the network change the image size?)"
            )
        if pred.device != target.device:
            raise ValueError(f"pred is on {pred.device} but target on {target.device}; move them to one device")
        c = self.num_classes
        pred = pred.reshape(-1).long()
        target = target.reshape(-1).long()
        ignored = target == self.ignore_index if self.ignore_index is not None else torch.zeros_like(target, dtype=torch.bool)
        bad = ~ignored & ((target < 0) | (target >= c) | (pred < 0) | (pred >= c))
        if target.device.type == "cpu" and bool(bad.any()):
            raise ValueError(self._invalid_message(int(bad.sum()), target, pred))
        index = torch.where(ignored, c * c, torch.where(bad, c * c + 1, target * c + pred))
        if self._counts is None or self._counts.device != index.device:
            previous = self._counts
            self._counts = torch.zeros(c * c + 2, dtype=torch.int64, device=index.device)
            if previous is not None:
                self._counts += previous.to(index.device)
        if index.device.type == "cuda":
            # torch.bincount on CUDA reads the largest value back to the host (a sync) to size
            # its output; scatter_add_ into the fixed-size buffer does not.
            self._counts.scatter_add_(0, index, torch.ones_like(index))
        else:
            self._counts += torch.bincount(index, minlength=c * c + 2)

    def _invalid_message(self, count: int, target: Tensor, pred: Tensor) -> str:
        c = self.num_classes
        ignore = "" if self.ignore_index is None else f" and not the ignore index {self.ignore_index}"
        values = torch.cat([target, pred]).unique()
        values = values[(values < 0) | (values >= c)]
        if self.ignore_index is not None:
            values = values[values != self.ignore_index]
        return (
            f"{count} pixels have labels outside 0..{c - 1}{ignore} (values {values[:8].tolist()}). "
            f"Check num_classes={c} and that the labels are class indices (a VOC label image must be "
            "turned from colours into indices first)."
        )

    def compute(self) -> Dict[str, Union[float, Tensor]]:
        """The metrics of everything counted since the last :meth:`reset`: see :func:`metrics_from_confusion`."""
        if self._counts is None:
            raise RuntimeError("ConfusionMatrix.compute() was called before any update(pred, target)")
        counts = self._counts.cpu()  # the one place that waits for the GPU
        if counts[-1] > 0:
            c = self.num_classes
            raise ValueError(
                f"{int(counts[-1])} pixels had labels outside 0..{c - 1} (and not the ignore index "
                f"{self.ignore_index}); check num_classes={c} and the label images"
            )
        c = self.num_classes
        return metrics_from_confusion(counts[: c * c].view(c, c))

    def __repr__(self) -> str:
        pixels = 0 if self._counts is None else int(self._counts[: self.num_classes ** 2].sum())
        return f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index}, pixels={pixels})"
