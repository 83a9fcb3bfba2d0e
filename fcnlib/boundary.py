"""Boundary accuracy: how well a segmentation follows object edges.

Mean IoU over a whole image is dominated by the *insides* of objects: a big dog has
thousands of interior pixels and only a few hundred on its outline. A net that paints
every object as a blurry blob can therefore score a good mIoU and still draw every edge
in the wrong place. FCN-32s is such a net (one prediction per 32 x 32 block); skip
connections (FCN-16s, FCN-8s) exist to fix exactly the edges.

To *measure* that, we score only the pixels near an edge: the **boundary band** of width
``w`` holds every labelled pixel that has a pixel of another label within ``w`` pixels
(in the chessboard sense: inside the ``(2w + 1) x (2w + 1)`` square around it). The
mean IoU restricted to that band (the "trimap" evaluation of Kohli et al. 2009, used for
DeepLab by Chen et al. 2015) is the boundary mIoU.

The band is computed with two poolings, no loops: max-pooling the label map over the
``(2w + 1) x (2w + 1)`` window gives the largest label nearby, min-pooling (max-pooling of
the negated map) the smallest. Where they differ, two different labels meet nearby.

The void label (255 in VOC) needs a decision. VOC draws a 5-pixel void outline around every
object, so the real edge *is* the void strip; with ``void_is_edge=True`` (the default) a
change to or from void counts as an edge, and the band hugs those outlines. With
``void_is_edge=False`` void pixels are transparent: only two different real labels make an
edge. Void pixels themselves are never in the band (they have no label to score).
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .metrics import ConfusionMatrix

__all__ = ["boundary_band", "restrict_to_band", "boundary_miou", "evaluate_with_boundary"]


def _check_labels(labels: Tensor, name: str = "labels") -> None:
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class indices (e.g. torch.long), got dtype {labels.dtype}")
    if labels.dim() not in (2, 3):
        raise ValueError(f"{name} must have shape [H, W] or [N, H, W], got {tuple(labels.shape)}")


def boundary_band(labels: Tensor, width: int = 3, ignore_index: Optional[int] = 255,
                  void_is_edge: bool = True) -> Tensor:
    """Bool mask of the labelled pixels within ``width`` pixels of a class edge.

    Args:
        labels: integer label map ``[H, W]`` or a batch ``[N, H, W]``.
        width: the band's half-width in pixels (chessboard distance), at least 1. A pixel
            is in the band when the ``(2 * width + 1)``-pixel square centred on it holds a
            label other than its own.
        ignore_index: the void label (VOC: 255), never in the band itself; ``None`` if
            every value is a real class.
        void_is_edge: whether a change to or from ``ignore_index`` counts as an edge (see
            the module docstring; ``True`` suits VOC's void outlines).

    Returns:
        A ``torch.bool`` tensor of the shape of ``labels``.

    >>> lab = torch.tensor([[0, 0, 0, 1, 1, 1]])
    >>> boundary_band(lab, width=1).int().tolist()
    [[0, 0, 1, 1, 0, 0]]
    """
    _check_labels(labels)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an int >= 1 (pixels on each side of an edge), got {width!r}")
    x = labels.unsqueeze(-3).float()  # [H, W] -> [1, H, W]; [N, H, W] -> [N, 1, H, W]; labels <= 255 are exact
    void = labels.unsqueeze(-3) == ignore_index if ignore_index is not None else torch.zeros_like(x, dtype=torch.bool)
    k = 2 * width + 1
    if void_is_edge:
        hi, lo = x, x
    else:
        # Make void pixels lose both contests, so they never become a window's max or min.
        hi = x.masked_fill(void, float("-inf"))
        lo = x.masked_fill(void, float("inf"))
    # max_pool2d pads with -inf, so the window simply shrinks at the image border.
    largest = F.max_pool2d(hi, kernel_size=k, stride=1, padding=width)
    smallest = -F.max_pool2d(-lo, kernel_size=k, stride=1, padding=width)
    band = (largest != smallest) & ~void
    return band.squeeze(-3)


def restrict_to_band(target: Tensor, width: int = 3, ignore_index: int = 255,
                     void_is_edge: bool = True) -> Tensor:
    """A copy of ``target`` with every pixel outside the boundary band set to ``ignore_index``.

    Feed it to any metric that honours ``ignore_index`` (such as
    :class:`fcnlib.ConfusionMatrix`) and that metric is computed on the band alone.
    """
    band = boundary_band(target, width, ignore_index, void_is_edge)
    return target.masked_fill(~band, ignore_index)


def _forward(net: nn.Module, features: Tensor, device: torch.device) -> Tensor:
    with torch.no_grad():
        return net(features.to(device))


def evaluate_with_boundary(
    net: nn.Module,
    data_iter: Iterable[Tuple[Tensor, Tensor]],
    widths: Iterable[int] = (3,),
    num_classes: Optional[int] = None,
    device: Union[str, torch.device, None] = None,
    ignore_index: int = 255,
    void_is_edge: bool = True,
) -> Dict[str, Dict]:
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
    matrices: Dict[str, ConfusionMatrix] = {}
    try:
        for batch in data_iter:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise TypeError("data_iter must yield (images, labels) pairs, as fcnlib.data.load_data_voc's iterators do")
            features, target = batch
            _check_labels(target, "the labels from data_iter")
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


def boundary_miou(
    net: nn.Module,
    data_iter: Iterable[Tuple[Tensor, Tensor]],
    width: int = 3,
    num_classes: Optional[int] = None,
    device: Union[str, torch.device, None] = None,
    ignore_index: int = 255,
    void_is_edge: bool = True,
) -> Dict:
    """The metrics of :class:`fcnlib.ConfusionMatrix` counted only inside the boundary band.

    ``result["miou"]`` is the boundary mIoU; ``result["pixels"]`` says how many pixels the
    band held. See :func:`evaluate_with_boundary` to get several widths (and the usual
    all-pixel metrics) from one pass over the data.
    """
    return evaluate_with_boundary(net, data_iter, (width,), num_classes, device, ignore_index,
                                  void_is_edge)[f"band{width}"]
