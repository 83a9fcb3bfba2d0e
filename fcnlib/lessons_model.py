"""Small helpers for the chapters on the FCN model, its training and its predictions (3-5).

Each function here turns one idea of those chapters into something a learner can run and
check in a line:

* :func:`linear_to_conv` and :func:`sliding_window_scores`: *convolutionalisation*, the
  first of FCN's three techniques. A fully connected layer that reads a ``k x k`` feature
  map is the same computation as a ``k x k`` convolution; once converted it slides over a
  larger map in one pass, instead of cropping and classifying every window separately.
* :func:`stage_shapes` and :func:`format_stage_table`: what each stage of a network does to
  the height, width and channels of its input.
* :func:`count_parameters` and :func:`parameter_table`: where a network's weights are.
* :func:`roughness`: how smooth a score map is (bilinear vs Xavier-initialised upsampling).
* :func:`void_to_background`: the label map d2l trains on, where the "void" outline of
  every object silently becomes background.
* :func:`coarse_oracle`: the best segmentation an FCN with a given output stride could
  produce, which shows what the coarse grid alone costs, whatever the training.
* :func:`train_fcn`, :func:`load_or_train_fcn` and :func:`runs_table`: reproducible training
  runs for the experiments of chapters 4 and 5 (same seed, same data order, same crops),
  the checkpoint that chapter 5 starts from, and a table comparing runs.

Apart from the training helpers, everything is a pure function of its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "linear_to_conv",
    "sliding_window_scores",
    "Stage",
    "stage_shapes",
    "format_stage_table",
    "count_parameters",
    "parameter_table",
    "format_parameter_table",
    "roughness",
    "void_to_background",
    "coarse_oracle",
    "train_fcn",
    "load_or_train_fcn",
    "runs_table",
]

IntOrPair = Union[int, Tuple[int, int]]


def _pair(value: IntOrPair, name: str) -> Tuple[int, int]:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    if min(value) < 1:
        raise ValueError(f"{name} must be positive, got {tuple(value)}")
    return int(value[0]), int(value[1])


# --------------------------------------------------------------------------------------
# Convolutionalisation
# --------------------------------------------------------------------------------------

def linear_to_conv(linear: nn.Linear, kernel_size: IntOrPair) -> nn.Conv2d:
    """The convolution that computes exactly what ``linear`` computes on a flattened feature map.

    A classifier head flattens a ``[C, kh, kw]`` feature map into ``C * kh * kw`` numbers and
    multiplies them by a weight matrix with one row per output. Each row is just a
    ``[C, kh, kw]`` filter written out flat, and "multiply the flattened map by a row" is
    "slide that filter over the map at its only possible position". So reshaping the weight
    matrix to ``[out_features, C, kh, kw]`` gives a ``Conv2d`` with kernel ``(kh, kw)`` that
    agrees with the ``Linear`` on a ``kh x kw`` input, and on a larger input produces a whole
    grid of classifications, one per window, in a single pass.

    The flattening order must be PyTorch's (``x.flatten(1)`` of ``[N, C, H, W]``: channel
    slowest, then rows, then columns), which is what ``torch.flatten`` and
    ``nn.Flatten`` do. The weights are copied, so the two layers do not share storage.

    Args:
        linear: a ``nn.Linear`` whose ``in_features`` equals ``C * kh * kw``.
        kernel_size: ``k`` or ``(kh, kw)``, the size of the feature map ``linear`` reads.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    kh, kw = _pair(kernel_size, "kernel_size")
    if linear.in_features % (kh * kw):
        raise ValueError(
            f"a Linear with in_features={linear.in_features} cannot read a {kh}x{kw} feature map: "
            f"in_features must be channels * {kh} * {kw}; pick the kernel_size of the map it was trained on"
        )
    channels = linear.in_features // (kh * kw)
    conv = nn.Conv2d(channels, linear.out_features, kernel_size=(kh, kw), bias=linear.bias is not None)
    conv = conv.to(device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, channels, kh, kw))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def sliding_window_scores(linear: nn.Linear, features: Tensor, kernel_size: IntOrPair) -> Tensor:
    """Apply a ``Linear`` classifier to every ``kh x kw`` window of ``features``, one window at a time.

    This is the slow way FCN replaced: crop a window, flatten it, classify it, move one
    cell, repeat. It returns ``[N, out_features, H - kh + 1, W - kw + 1]``, the same grid of
    scores that ``linear_to_conv(linear, kernel_size)(features)`` computes in one pass.
    Kept deliberately as a plain double loop so that the comparison is honest.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    if not isinstance(features, Tensor) or features.dim() != 4:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be a tensor [N, C, H, W], got {shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    n, c, h, w = features.shape
    if c * kh * kw != linear.in_features:
        raise ValueError(
            f"windows of {c}x{kh}x{kw} = {c * kh * kw} values do not match the Linear's in_features="
            f"{linear.in_features}"
        )
    if h < kh or w < kw:
        raise ValueError(f"features ({h}x{w}) are smaller than one {kh}x{kw} window")
    rows = []
    for i in range(h - kh + 1):
        cols = [linear(features[:, :, i:i + kh, j:j + kw].flatten(1)) for j in range(w - kw + 1)]
        rows.append(torch.stack(cols, dim=-1))  # [N, out, W']
    return torch.stack(rows, dim=-2)  # [N, out, H', W']


# --------------------------------------------------------------------------------------
# Shapes and parameters
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """One top-level stage of a network and the output it produced for a test input."""

    name: str
    """The child module's name (``conv1``, ``layer4``, ``final_conv``, ...)."""
    kind: str
    """Its class name (``Conv2d``, ``Sequential``, ...)."""
    shape: Tuple[int, ...]
    """Output shape without the batch dimension: ``(C, H, W)`` or ``(features,)``."""
    scale: str
    """Output height relative to the input height, as a fraction (``"1/32"``), or ``"-"``."""


def stage_shapes(net: nn.Module, input_size: IntOrPair, in_channels: int = 3) -> List[Stage]:
    """Run one random ``[1, in_channels, H, W]`` image through ``net`` and record each child's output.

    The children are reported in the order they *ran* (forward hooks on
    ``net.named_children()``), so the table follows the data even when ``forward`` calls
    the children in a different order than they were defined. A child that runs twice is
    listed twice. The network is put in eval mode for the pass (batch-norm statistics are
    not touched) and restored afterwards.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    h, w = _pair(input_size, "input_size")
    records: List[Tuple[str, nn.Module, Tensor]] = []
    hooks = []
    for name, child in net.named_children():
        def hook(module, inputs, output, name=name):
            records.append((name, module, output))
        hooks.append(child.register_forward_hook(hook))
    was_training = net.training
    try:
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        net.eval()
        with torch.no_grad():
            net(torch.rand(1, in_channels, h, w, device=device, dtype=dtype))
    finally:
        for handle in hooks:
            handle.remove()
        net.train(was_training)
    stages = []
    for name, module, output in records:
        if not isinstance(output, Tensor):
            raise TypeError(f"stage {name!r} returned {type(output).__name__}, not a tensor")
        shape = tuple(output.shape[1:])
        scale = str(Fraction(output.shape[-2], h)) if output.dim() == 4 else "-"
        stages.append(Stage(name, type(module).__name__, shape, scale))
    return stages


def format_stage_table(stages: Sequence[Stage]) -> str:
    """A plain-text table of :func:`stage_shapes`' result, one stage per line."""
    lines = [f"{'stage':<16}{'layer':<18}{'output (C, H, W)':<22}{'H / input H'}"]
    for s in stages:
        lines.append(f"{s.name:<16}{s.kind:<18}{str(s.shape):<22}{s.scale}")
    return "\n".join(lines)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """The number of scalar weights in ``module`` (optionally only those with ``requires_grad``)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_table(net: nn.Module) -> List[Tuple[str, int]]:
    """``(child name, parameter count)`` for each direct child of ``net`` that has parameters."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    return [(name, count_parameters(child)) for name, child in net.named_children() if count_parameters(child)]


def format_parameter_table(net: nn.Module) -> str:
    """:func:`parameter_table` as text, with each child's share of the total."""
    rows = parameter_table(net)
    total = count_parameters(net)
    lines = [f"{'child':<16}{'parameters':>12}{'share':>8}"]
    for name, count in rows:
        lines.append(f"{name:<16}{count:>12,}{100 * count / total:>7.1f}%")
    lines.append(f"{'total':<16}{total:>12,}{100.0:>7.1f}%")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Score maps and labels
# --------------------------------------------------------------------------------------

def roughness(x: Tensor) -> float:
    """How jagged a map is: mean absolute difference of neighbouring pixels over the values' std.

    For ``x`` of shape ``[..., H, W]`` this averages ``|x[i, j+1] - x[i, j]|`` and
    ``|x[i+1, j] - x[i, j]|`` over all pixels and leading dimensions, and divides by the
    standard deviation of ``x`` so that the number does not depend on the scale of the
    scores. A smooth ramp scores close to 0, white noise about 1.13 (``2 / sqrt(pi)``), a
    +1/-1 checkerboard 2.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2 or x.shape[-1] < 2 or x.shape[-2] < 2:
        raise ValueError(f"x must have at least 2x2 pixels in its last two dimensions, got {tuple(x.shape)}")
    x = x.detach().double()
    std = x.std(unbiased=False)
    if std == 0:
        return 0.0
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs()
    mean_diff = (dx.sum() + dy.sum()) / (dx.numel() + dy.numel())
    return float(mean_diff / std)


def void_to_background(label: Tensor, ignore_index: int = 255, background: int = 0) -> Tensor:
    """The label map as d2l builds it: every ``ignore_index`` ("void") pixel becomes ``background``.

    Pascal VOC draws a 5-pixel "void" outline (colour (224, 224, 192)) around every object,
    where the annotators were unsure. fcnlib keeps it as 255 and the loss and metrics skip
    it. d2l's ``voc_label_indices`` looks colours up in a table that has no entry for void,
    and the table's default is 0, so d2l trains the net to call object outlines
    "background". Use this function to reproduce that behaviour for a comparison.
    """
    if not isinstance(label, Tensor):
        raise TypeError(f"label must be a torch.Tensor, got {type(label).__name__}")
    if label.is_floating_point():
        raise TypeError(f"label must be an integer tensor of class indices, got {label.dtype}")
    return torch.where(label == ignore_index, torch.full_like(label, background), label)


def coarse_oracle(label: Tensor, stride: int, num_classes: int, ignore_index: int = 255) -> Tensor:
    """The best an FCN with output stride ``stride`` could predict if its coarse scores were perfect.

    FCN-32s computes one score vector per ``stride x stride`` block and enlarges the score
    map with a bilinear transposed convolution. Suppose the network were perfect at the
    coarse level: its score for class ``c`` in a block would be the share of the block's
    labelled pixels that belong to ``c``. This function builds exactly those scores from
    the ground truth ``label`` (``[H, W]`` class indices, ``ignore_index`` not counted),
    upsamples them with :func:`fcnlib.bilinear_upsample` (the FCN's own upsampling) and
    takes the argmax. Whatever such a net gets wrong is lost to the grid, not to training:
    thin parts, sharp corners and objects smaller than a block.

    Sides that are not multiples of ``stride`` are padded with unlabelled pixels first.
    Returns class indices ``[H, W]`` (int64).
    """
    from .upsampling import bilinear_upsample

    if not isinstance(label, Tensor) or label.dim() != 2 or label.is_floating_point():
        raise ValueError(f"label must be an integer tensor [H, W], got "
                         f"{tuple(label.shape) if isinstance(label, Tensor) else type(label).__name__}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    bad = (label != ignore_index) & ((label < 0) | (label >= num_classes))
    if bool(bad.any()):
        raise ValueError(f"label holds values {label[bad].unique()[:8].tolist()} outside 0..{num_classes - 1} "
                         f"that are not ignore_index={ignore_index}")
    h, w = label.shape
    valid = label != ignore_index
    onehot = torch.zeros(num_classes, h, w, dtype=torch.float64, device=label.device)
    onehot.scatter_(0, torch.where(valid, label, 0).long().unsqueeze(0), valid.double().unsqueeze(0))
    ph, pw = -(-h // stride) * stride, -(-w // stride) * stride
    onehot = F.pad(onehot, (0, pw - w, 0, ph - h))
    counts = F.pad(valid.double(), (0, pw - w, 0, ph - h))
    block_sums = onehot.reshape(num_classes, ph // stride, stride, pw // stride, stride).sum(dim=(2, 4))
    block_counts = counts.reshape(ph // stride, stride, pw // stride, stride).sum(dim=(1, 3)).clamp(min=1)
    shares = block_sums / block_counts  # [C, H / stride, W / stride]: the perfect coarse scores
    scores = bilinear_upsample(shares, stride)[:, :h, :w]
    return scores.argmax(dim=0)


# --------------------------------------------------------------------------------------
# Reproducible training runs
# --------------------------------------------------------------------------------------

def train_fcn(
    train_iter: Iterable,
    test_iter: Optional[Iterable],
    *,
    lr: float,
    wd: float,
    num_epochs: int,
    momentum: float = 0.0,
    devices: Any = None,
    num_classes: Optional[int] = None,
    variant: str = "32s",
    upsample_init: str = "bilinear",
    weights: Union[str, None] = "auto",
    seed: int = 0,
    checkpoint: Union[None, str, Path] = None,
    plot: Any = "auto",
    progress: bool = True,
) -> Tuple[nn.Module, List[dict]]:
    """Build an FCN with :func:`fcnlib.fcn_resnet18` and train it the seed's way; return ``(net, history)``.

    The seed's recipe: SGD with learning rate ``lr`` and weight decay ``wd`` on the
    per-example mean cross-entropy, summed over the batch (:func:`fcnlib.train`'s default
    loss, which also ignores void pixels). The seed uses no ``momentum``; the quick profile
    adds 0.9 (see :class:`fcnlib.profiles.Profile`).

    Two seeds make runs comparable. ``torch.manual_seed(seed)`` before building the net
    gives every run the same backbone and ``final_conv``; ``torch.manual_seed(seed + 1)``
    just before training gives every run the same shuffling, crops and flips (with
    ``num_workers=0``, where the loader draws from the main process's generator). So two
    runs that differ only in ``upsample_init`` (or ``lr``) see exactly the same batches, and
    any difference in their histories comes from that one setting.

    ``num_classes`` defaults to ``train_iter.dataset.num_classes``. ``checkpoint``, ``plot``
    and ``progress`` are passed to :func:`fcnlib.train`.
    """
    from .models import fcn_resnet18
    from .train import train

    if num_classes is None:
        num_classes = getattr(getattr(train_iter, "dataset", None), "num_classes", None)
        if num_classes is None:
            raise ValueError("num_classes is needed: train_iter.dataset has no num_classes attribute")
    for name, value in (("lr", lr), ("wd", wd)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    torch.manual_seed(seed)
    net = fcn_resnet18(num_classes=num_classes, variant=variant, weights=weights, upsample_init=upsample_init)
    trainer = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=wd, momentum=momentum)
    torch.manual_seed(seed + 1)
    history = train(net, train_iter, test_iter, None, trainer, num_epochs, devices,
                    checkpoint=checkpoint, plot=plot, progress=progress)
    return net, history


def load_or_train_fcn(
    checkpoint: Union[str, Path],
    train_iter: Iterable,
    test_iter: Optional[Iterable],
    *,
    lr: float,
    wd: float,
    num_epochs: int,
    momentum: float = 0.0,
    devices: Any = None,
    num_classes: Optional[int] = None,
    weights: Union[str, None] = "auto",
    seed: int = 0,
    plot: Any = False,
    progress: bool = True,
) -> Tuple[nn.Module, List[dict], str]:
    """FCN-32s from ``checkpoint`` if it holds one for these classes, else a freshly trained one.

    Returns ``(net, history, message)``; ``message`` says which happened. A missing file, or
    one saved for another number of classes (say, the teaching dataset's checkpoint after
    VOC2012 was downloaded), leads to :func:`train_fcn` with these settings, which saves
    its result to ``checkpoint`` for next time (``weights`` is the backbone's start, as in
    :func:`fcnlib.fcn_resnet18`). The net is returned in eval mode on the first of
    ``devices`` (default: the best device).
    """
    from .models import fcn_resnet18
    from .profiles import all_devices
    from .train import load_checkpoint

    checkpoint = Path(checkpoint)
    if num_classes is None:
        num_classes = getattr(getattr(train_iter, "dataset", None), "num_classes", None)
        if num_classes is None:
            raise ValueError("num_classes is needed: train_iter.dataset has no num_classes attribute")
    device_list = all_devices() if devices is None else (list(devices) if isinstance(devices, (list, tuple)) else [devices])
    device = torch.device(device_list[0])
    reason = "no checkpoint"
    if checkpoint.is_file():
        net = fcn_resnet18(num_classes=num_classes, weights=None)
        try:
            history = load_checkpoint(checkpoint, net, map_location="cpu")
        except ValueError as err:
            reason = f"the checkpoint does not fit ({str(err).split(':')[0]})"
        else:
            return net.to(device).eval(), history, f"loaded {checkpoint} ({len(history)} epochs of training)"
    net, history = train_fcn(train_iter, test_iter, lr=lr, wd=wd, num_epochs=num_epochs, momentum=momentum, devices=devices,
                             num_classes=num_classes, weights=weights, seed=seed, checkpoint=checkpoint,
                             plot=plot, progress=progress)
    return net.eval(), history, f"{reason} at {checkpoint}: trained a new FCN-32s for {num_epochs} epochs and saved it there"


_RUN_COLUMNS = {"loss": "loss", "train_acc": "train acc", "pixel_acc": "pixel acc", "mean_acc": "mean acc",
                "miou": "mIoU", "fw_iou": "f.w. IoU"}


def runs_table(runs: Mapping[str, Sequence[Mapping[str, Any]]], keys: Sequence[str] = ("loss", "pixel_acc", "miou"),
               per_epoch: bool = False) -> str:
    """A text table comparing training runs (``{name: history}``, histories from :func:`fcnlib.train`).

    ``per_epoch=False``: one row per run with its last epoch's ``keys``. ``per_epoch=True``:
    one row per epoch and one column per run, for the single key ``keys[0]``. Values are
    printed with 3 decimals; an epoch a run does not have is left blank.
    """
    if not runs:
        raise ValueError("runs is empty: pass {name: history}")
    for name, history in runs.items():
        if not history:
            raise ValueError(f"run {name!r} has no completed epoch")
    width = max(12, max(len(str(n)) for n in runs) + 2)
    if per_epoch:
        key = keys[0]
        lines = [f"{'epoch':<8}" + "".join(f"{str(n):>{width}}" for n in runs)]
        for epoch in range(max(len(h) for h in runs.values())):
            cells = [f"{h[epoch][key]:>{width}.3f}" if epoch < len(h) else " " * width for h in runs.values()]
            lines.append(f"{epoch + 1:<8}" + "".join(cells))
        return "\n".join(lines)
    lines = [f"{'run':<{width}}{'epochs':>8}" + "".join(f"{_RUN_COLUMNS.get(k, k):>12}" for k in keys)]
    for name, history in runs.items():
        last = history[-1]
        lines.append(f"{str(name):<{width}}{len(history):>8}" + "".join(f"{last[k]:>12.3f}" for k in keys))
    return "\n".join(lines)
