"""Skip connections (FCN-16s, FCN-8s): a traced forward pass, staged initialisation, alignment.

Three small tools for the chapter on skip connections:

* :func:`skip_forward` runs an FCN step by step and returns every intermediate map
  (features at 1/8, 1/16, 1/32; the score maps; each 2x upsampling; each sum), so a lesson
  can print the shapes at the fusion points and look at each stage.
* :func:`init_from` copies a trained coarser net into a finer one, the paper's *staged*
  training: FCN-16s starts from a trained FCN-32s, FCN-8s from a trained FCN-16s. The new
  skip score layers start at zero, so the finer net starts out predicting exactly what the
  coarser one predicted.
* :func:`coordinate_map` and :func:`chain_sizes` do the bookkeeping that made the original
  VGG-16 FCN need "crop" layers (100 pixels of padding on its first convolution), and show
  why the ResNet-18 layout does not need them.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .arithmetic import conv_output_size, conv_transpose_output_size

__all__ = [
    "skip_forward", "init_from", "InitReport", "head_parameters", "param_groups",
    "train_variant", "comparison_settings", "train_staged", "PAPER_TABLE2", "comparison_table",
    "Layer", "coordinate_map", "chain_sizes", "vgg16_fcn_layers", "resnet18_fcn_layers",
]


# --------------------------------------------------------------------------------------
# The forward pass, one named step at a time
# --------------------------------------------------------------------------------------

def skip_forward(net: nn.Module, x: Tensor) -> Dict[str, Tensor]:
    """Every intermediate tensor of ``net(x)`` for an FCN from :func:`fcnlib.fcn_resnet18`.

    Keys, in the order they are computed (the skip entries only for FCN-16s / FCN-8s)::

        layer2 (1/8), layer3 (1/16), layer4 (1/32)   backbone features
        score32        final_conv(layer4)                       [N, C, H/32, W/32]
        up32to16       up_layer4(score32)      (16s, 8s)        [N, C, H/16, W/16]
        score16        score_layer3(layer3)    (16s, 8s)
        fused16        up32to16 + score16      (16s, 8s)
        up16to8        up_layer3(fused16)      (8s)             [N, C, H/8, W/8]
        score8         score_layer2(layer2)    (8s)
        fused8         up16to8 + score8        (8s)
        out            transpose_conv(finest fused map)         [N, C, H, W]

    ``out`` equals ``net(x)``; the tests check it.
    """
    for name in ("conv1", "layer4", "final_conv", "transpose_conv", "variant"):
        if not hasattr(net, name):
            raise TypeError(f"skip_forward needs an FCN built by fcnlib.fcn_resnet18 (it has no {name!r})")
    if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2] % 32 or x.shape[-1] % 32:
        raise ValueError(f"x must be [N, 3, H, W] with H and W multiples of 32, got {tuple(x.shape)}")
    t: Dict[str, Tensor] = {}
    h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    h = net.layer1(h)
    t["layer2"] = net.layer2(h)
    t["layer3"] = net.layer3(t["layer2"])
    t["layer4"] = net.layer4(t["layer3"])
    score = t["score32"] = net.final_conv(t["layer4"])
    if net.variant in ("16s", "8s"):
        t["up32to16"] = net.up_layer4(score)
        t["score16"] = net.score_layer3(t["layer3"])
        score = t["fused16"] = t["up32to16"] + t["score16"]
    if net.variant == "8s":
        t["up16to8"] = net.up_layer3(score)
        t["score8"] = net.score_layer2(t["layer2"])
        score = t["fused8"] = t["up16to8"] + t["score8"]
    t["out"] = net.transpose_conv(score)
    return t


# --------------------------------------------------------------------------------------
# Staged training: start a finer net from a trained coarser one
# --------------------------------------------------------------------------------------

class InitReport(NamedTuple):
    """What :func:`init_from` did: names copied, and names of ``dst`` left as they were."""

    copied: List[str]
    kept: List[str]


def init_from(dst: nn.Module, src: nn.Module) -> InitReport:
    """Copy every parameter and buffer of ``src`` into ``dst`` whose name and shape match.

    Used as in the paper: ``init_from(fcn16, trained_fcn32)``. The backbone, the layer4
    score layer (``final_conv``) and BatchNorm statistics are copied; what FCN-32s does not
    have (the zero-initialised skip score layers, the bilinear 2x upsamplers) or has in
    another shape (the final 32x upsampler, which becomes a 16x one) keeps ``dst``'s
    initialisation. With zero skip layers the fresh FCN-16s then predicts what the trained
    FCN-32s predicted, up to the final upsampling (bilinear 16x of the 2x-upsampled scores
    instead of bilinear 32x). Returns an :class:`InitReport`.
    """
    if not isinstance(dst, nn.Module) or not isinstance(src, nn.Module):
        raise TypeError(f"dst and src must be torch modules, got {type(dst).__name__} and {type(src).__name__}")
    src_state = src.state_dict()
    dst_state = dst.state_dict()
    copied, kept = [], []
    with torch.no_grad():
        for name, value in dst_state.items():
            other = src_state.get(name)
            if other is not None and other.shape == value.shape:
                value.copy_(other)
                copied.append(name)
            else:
                kept.append(name)
    if not any(name.startswith("layer4.") for name in copied):
        raise ValueError(
            "init_from copied no backbone weights: src and dst do not look like two FCNs on the same backbone "
            f"(copied {copied[:3]}...)"
        )
    return InitReport(copied, kept)


_HEAD_PREFIXES = ("final_conv", "score_layer3", "score_layer2", "up_layer4", "up_layer3", "transpose_conv")


def head_parameters(net: nn.Module) -> List[nn.Parameter]:
    """The parameters of the FCN head (score layers and upsamplers), not of the backbone."""
    return [p for n, p in net.named_parameters() if n.split(".")[0] in _HEAD_PREFIXES]


def param_groups(net: nn.Module, lr: float, skip_lr_mult: float = 1.0) -> List[Dict]:
    """Optimizer parameter groups where the two skip score layers learn ``skip_lr_mult`` times faster.

    The skip layers start at zero and see a gradient only through the sum with the
    coarse scores; a larger multiplier lets them catch up in a short training run. With
    ``skip_lr_mult=1`` this is just ``net.parameters()`` at rate ``lr``.
    """
    if lr <= 0 or skip_lr_mult <= 0:
        raise ValueError(f"lr and skip_lr_mult must be positive, got lr={lr}, skip_lr_mult={skip_lr_mult}")
    skip = [p for n, p in net.named_parameters() if n.split(".")[0] in ("score_layer3", "score_layer2")]
    skip_ids = {id(p) for p in skip}
    rest = [p for p in net.parameters() if id(p) not in skip_ids]
    groups = [{"params": rest, "lr": lr}]
    if skip:
        groups.append({"params": skip, "lr": lr * skip_lr_mult})
    return groups


# --------------------------------------------------------------------------------------
# Training the three variants under identical settings
# --------------------------------------------------------------------------------------

def train_variant(
    variant: str,
    train_iter: Any,
    test_iter: Any,
    profile: Any,
    *,
    num_classes: Optional[int] = None,
    seed: int = 0,
    init: Optional[nn.Module] = None,
    optimizer: str = "sgd",
    lr: Optional[float] = None,
    wd: Optional[float] = None,
    momentum: float = 0.0,
    skip_lr_mult: float = 1.0,
    num_epochs: Optional[int] = None,
    weights: Optional[str] = "auto",
    **train_kwargs: Any,
) -> Tuple[nn.Module, Any]:
    """Build FCN-``variant`` and train it with :func:`fcnlib.train`; return ``(net, history)``.

    Everything but the variant is fixed by ``seed``, so FCN-32s, 16s and 8s trained with the
    same arguments differ *only* in their skip layers:

    * the same starting weights: a seeded FCN-32s is built and copied into the variant
      (:func:`init_from`), so the backbone and the layer4 score layer start identical and
      the skip score layers start at zero;
    * the same batches, crops and flips in the same order: the random generator is seeded
      again right before training.

    ``init`` (a trained coarser FCN) replaces the seeded FCN-32s as the starting point:
    that is the paper's *staged* training. ``profile`` (:func:`fcnlib.profile`) gives the
    defaults of ``lr``, ``wd``, ``num_epochs`` and the devices. ``optimizer`` is ``"sgd"``
    (plain SGD by default, the seed's ``d2l.train_ch13`` setting; with the loss summed over
    the batch, momentum multiplies the step about tenfold) or ``"adam"``; ``skip_lr_mult``
    multiplies the learning rate of the skip score layers (:func:`param_groups`). Other
    keyword arguments go to :func:`fcnlib.train`.
    """
    from .models import fcn_resnet18
    from .train import train

    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    if num_classes is None:
        num_classes = getattr(getattr(train_iter, "dataset", None), "num_classes", None)
        if not isinstance(num_classes, int):
            raise ValueError("num_classes is not given and train_iter.dataset has no num_classes; pass num_classes=")
    lr = profile.lr if lr is None else lr
    wd = profile.wd if wd is None else wd
    num_epochs = profile.num_epochs if num_epochs is None else num_epochs
    torch.manual_seed(seed)
    start = init if init is not None else fcn_resnet18(num_classes, "32s", weights=weights)
    net = fcn_resnet18(num_classes, variant, weights=None)
    init_from(net, start)
    net.weights_source = getattr(start, "weights_source", "copied from init")
    groups = param_groups(net, lr, skip_lr_mult)
    if optimizer == "sgd":
        trainer = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=wd)
    else:
        trainer = torch.optim.Adam(groups, lr=lr, weight_decay=wd)
    torch.manual_seed(seed + 1)
    history = train(net, train_iter, test_iter, None, trainer, num_epochs, profile.devices, **train_kwargs)
    return net, history


def comparison_settings(profile: Any, seed: int = 0) -> Dict[str, Any]:
    """The training settings the skip-connection chapter uses for all three variants.

    Chapter 4's, for every variant: SGD with the profile's ``lr``, ``wd`` and ``momentum``
    (the seed's plain SGD in the full profile; momentum 0.9 in the quick profile, where the
    nets start from a random backbone and get 180 steps), every layer at the same rate as
    in the paper. Measured on the teaching dataset in the quick profile over seeds 0-4
    (``benchmarks/skip_seeds.py``), FCN-8s beats FCN-32s near the edges for every seed.

    Returns keyword arguments for :func:`train_variant`.
    """
    return dict(seed=seed, optimizer="sgd", lr=profile.lr, wd=profile.wd, momentum=profile.momentum)


def train_staged(
    train_iter: Any,
    test_iter: Any,
    profile: Any,
    start: Optional[nn.Module] = None,
    stages: Sequence[str] = ("32s", "16s", "8s"),
    lr_scale: Sequence[float] = (1.0, 1.0, 1.0),
    **kwargs: Any,
) -> Dict[str, Tuple[nn.Module, Any]]:
    """The paper's staged training: FCN-32s, then FCN-16s started from it, then FCN-8s from that.

    ``start`` is an already trained FCN-32s (its stage is then skipped, its history is
    ``None``). Stage ``i`` trains with learning rate ``lr * lr_scale[i]``: a net that starts
    from trained weights is fine-tuned, and the paper lowered the rate 100-fold for FCN-16s.
    Returns ``{variant: (net, history)}``; ``kwargs`` go to :func:`train_variant`.
    """
    if len(lr_scale) != len(stages):
        raise ValueError(f"need one lr_scale per stage: {len(stages)} stages, {len(lr_scale)} scales")
    lr = kwargs.pop("lr", None)
    lr = profile.lr if lr is None else lr
    results: Dict[str, Tuple[nn.Module, Any]] = {}
    previous = start
    for variant, scale in zip(stages, lr_scale):
        if variant == "32s" and start is not None:
            results[variant] = (start, None)
            continue
        net, history = train_variant(variant, train_iter, test_iter, profile, init=previous, lr=lr * scale, **kwargs)
        results[variant] = (net, history)
        previous = net
    return results


PAPER_TABLE2: Dict[str, Dict[str, float]] = {
    "FCN-32s": dict(pixel_acc=89.1, mean_acc=73.3, miou=59.4, fw_iou=81.4),
    "FCN-16s": dict(pixel_acc=90.0, mean_acc=75.7, miou=62.4, fw_iou=83.0),
    "FCN-8s": dict(pixel_acc=90.3, mean_acc=75.9, miou=62.7, fw_iou=83.2),
}
"""Table 2 of Long, Shelhamer and Darrell (CVPR 2015), in percent: FCN-VGG16 variants trained
end to end, evaluated on the 736 images of PASCAL VOC 2011 val not in their training set."""

_COLUMNS = (("pixel_acc", "pixel acc."), ("mean_acc", "mean acc."), ("miou", "mean IU"), ("fw_iou", "f.w. IU"))


def comparison_table(measured: Mapping[str, Mapping[str, Any]], paper: Optional[Mapping[str, Mapping[str, float]]] = None,
                     extra: Sequence[Tuple[str, str]] = ()) -> str:
    """A text table of the four FCN metrics (in percent, one decimal), with the paper's beside.

    ``measured`` maps a row name (``"FCN-32s"``) to a metrics dict (fractions in 0..1, as
    :meth:`fcnlib.ConfusionMatrix.compute` returns; extra entries are ignored). ``paper``
    (e.g. :data:`PAPER_TABLE2`, percent) adds a "paper" line under every row it names.
    ``extra`` adds columns ``(key, title)`` that only the measured rows have.
    """
    columns = list(_COLUMNS) + list(extra)
    name_width = max([len(n) for n in measured] + [7]) + 8
    widths = [max(len(title), 6) for _, title in columns]
    lines = [" " * name_width + "  ".join(title.rjust(w) for (_, title), w in zip(columns, widths))]
    for name, metrics in measured.items():
        missing = [key for key, _ in columns if key not in metrics]
        if missing:
            raise ValueError(f"row {name!r} has no {missing}; give the dicts evaluate()/ConfusionMatrix.compute() return")
        cells = [f"{100 * float(metrics[key]):.1f}".rjust(w) for (key, _), w in zip(columns, widths)]
        lines.append(f"{name} (ours)".ljust(name_width) + "  ".join(cells))
        if paper is not None and name in paper:
            row = paper[name]
            cells = [(f"{row[key]:.1f}" if key in row else "-").rjust(w) for (key, _), w in zip(columns, widths)]
            lines.append(f"{name} (paper)".ljust(name_width) + "  ".join(cells))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Alignment: why the VGG-16 FCN needed crop layers
# --------------------------------------------------------------------------------------

class Layer(NamedTuple):
    """One spatial layer of a chain: ``kind`` is "conv", "pool" (Caffe pools round up) or "deconv"."""

    name: str
    kind: str
    kernel_size: int
    stride: int = 1
    padding: int = 0


def _check_layers(layers: Sequence[Layer]) -> None:
    if len(layers) == 0:
        raise ValueError("layers is empty: give at least one Layer")
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"layers must be fcnlib.skips.Layer tuples, got {layer!r}")
        if layer.kind not in ("conv", "pool", "deconv"):
            raise ValueError(f"layer {layer.name!r} has kind {layer.kind!r}; use 'conv', 'pool' or 'deconv'")


def coordinate_map(layers: Sequence[Layer]) -> Tuple[float, float]:
    """``(scale, offset)`` such that output pixel ``u`` of the chain is centred on input pixel ``scale * u + offset``.

    A convolution or pooling window of size ``k``, stride ``s`` and padding ``p`` puts the
    centre of output pixel ``u`` on input pixel ``s * u + (k - 1) / 2 - p``. A transposed
    convolution runs this backwards (``u_in = (u_out - (k - 1) / 2 + p) / s``). Chaining
    the layers composes these straight lines. An ``offset`` that is a whole number ``c`` with
    ``scale == 1`` is exactly what a Caffe "crop" layer with offset ``c`` removes; an
    ``offset`` of 0 means the output lines up with the input pixel for pixel.
    """
    _check_layers(layers)
    scale, offset = 1.0, 0.0
    for layer in layers:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "deconv":
            a, b = 1.0 / s, (p - (k - 1) / 2) / s
        else:
            a, b = float(s), (k - 1) / 2 - p
        scale, offset = scale * a, scale * b + offset
    return scale, offset


def chain_sizes(size: int, layers: Sequence[Layer]) -> List[Tuple[str, int]]:
    """The spatial size after every layer of the chain, starting from ``size`` pixels.

    Convolutions use :func:`fcnlib.conv_output_size`; pooling rounds *up* as Caffe did
    (the original FCN was a Caffe model); transposed convolutions use
    :func:`fcnlib.conv_transpose_output_size`.
    """
    _check_layers(layers)
    sizes = [("input", size)]
    for layer in layers:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "conv":
            size = conv_output_size(size, k, s, p)
        elif layer.kind == "pool":
            conv_output_size(size, k, s, p)  # same checks, then Caffe's rounding up
            size = math.ceil((size + 2 * p - k) / s) + 1
        else:
            size = conv_transpose_output_size(size, k, s, p)
        sizes.append((layer.name, size))
    return sizes


def vgg16_fcn_layers(pad: int = 100) -> List[Layer]:
    """The spatial layers of the paper's FCN-VGG16 up to ``score_fr`` (the 1/32 class scores).

    ``pad`` is the padding of ``conv1_1``: 100 in the paper, so that ``fc6`` (VGG's first
    fully connected layer, now a 7 x 7 convolution) still has a 7 x 7 input for small
    images. Its side effect is an output larger than the input, shifted, hence the crops.
    """
    layers = [Layer("conv1_1", "conv", 3, 1, pad), Layer("conv1_2", "conv", 3, 1, 1), Layer("pool1", "pool", 2, 2)]
    for block, convs in ((2, 2), (3, 3), (4, 3), (5, 3)):
        layers += [Layer(f"conv{block}_{i}", "conv", 3, 1, 1) for i in range(1, convs + 1)]
        layers.append(Layer(f"pool{block}", "pool", 2, 2))
    layers += [Layer("fc6", "conv", 7), Layer("fc7", "conv", 1), Layer("score_fr", "conv", 1)]
    return layers


def resnet18_fcn_layers() -> List[Layer]:
    """The spatial layers of fcnlib's ResNet-18 FCN up to ``final_conv`` (stride-1 3x3 convs omitted: they move nothing)."""
    return [
        Layer("conv1", "conv", 7, 2, 3), Layer("maxpool", "conv", 3, 2, 1),
        Layer("layer2", "conv", 3, 2, 1), Layer("layer3", "conv", 3, 2, 1), Layer("layer4", "conv", 3, 2, 1),
        Layer("final_conv", "conv", 1),
    ]
