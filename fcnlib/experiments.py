"""Experiments: seeded, comparable training runs of FCN variants, staged training, and tables
of their results (what chapters 4 to 6 compare).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .model import fcn_resnet18, init_from, param_groups
from .profiles import all_devices
from .training import load_checkpoint, train

__all__ = [
    "seeded_run",
    "train_fcn",
    "load_or_train_fcn",
    "runs_table",
    "train_variant",
    "comparison_settings",
    "train_staged",
    "PAPER_TABLE2",
    "comparison_table",
]


def _num_classes(num_classes: int | None, train_iter: Any) -> int:
    """``num_classes``, else ``train_iter.dataset.num_classes``; ValueError if neither is there."""
    if num_classes is None:
        num_classes = getattr(getattr(train_iter, "dataset", None), "num_classes", None)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise ValueError("num_classes is not given and train_iter.dataset has no num_classes; pass num_classes=")
    return num_classes


def seeded_run(
    build: Callable[[], nn.Module],
    make_trainer: Callable[[nn.Module], torch.optim.Optimizer],
    train_iter: Iterable,
    test_iter: Iterable | None,
    num_epochs: int,
    devices: Any = None,
    seed: int = 0,
    **train_kwargs: Any,
) -> tuple[nn.Module, Any]:
    """``torch.manual_seed(seed)``, ``net = build()``, ``torch.manual_seed(seed + 1)``, :func:`fcnlib.train`.

    The first seed fixes the starting weights, the second the batches, crops and flips (with
    ``num_workers=0``): two runs that differ in one setting see the same data. Returns ``(net, history)``.
    """
    torch.manual_seed(seed)
    net = build()
    trainer = make_trainer(net)
    torch.manual_seed(seed + 1)
    history = train(net, train_iter, test_iter, None, trainer, num_epochs, devices, **train_kwargs)
    return net, history


def train_fcn(
    train_iter: Iterable,
    test_iter: Iterable | None,
    *,
    lr: float,
    wd: float,
    num_epochs: int,
    momentum: float = 0.0,
    devices: Any = None,
    num_classes: int | None = None,
    variant: str = "32s",
    upsample_init: str = "bilinear",
    weights: str | None = "auto",
    seed: int = 0,
    **train_kwargs: Any,
) -> tuple[nn.Module, list[dict]]:
    """A :func:`fcnlib.fcn_resnet18` trained the seed's way by :func:`seeded_run`; returns ``(net, history)``.

    SGD (``lr``, weight decay ``wd``, ``momentum``: the seed uses none) on :func:`fcnlib.train`'s
    default loss. ``num_classes`` defaults to ``train_iter.dataset.num_classes``; other keyword
    arguments (``checkpoint``, ``progress``, ``reporter``) go to :func:`fcnlib.train`.
    """
    num_classes = _num_classes(num_classes, train_iter)
    for name, value in (("lr", lr), ("wd", wd)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return seeded_run(
        lambda: fcn_resnet18(num_classes=num_classes, variant=variant, weights=weights, upsample_init=upsample_init),
        lambda net: torch.optim.SGD(net.parameters(), lr=lr, weight_decay=wd, momentum=momentum),
        train_iter,
        test_iter,
        num_epochs,
        devices,
        seed,
        **train_kwargs,
    )


def load_or_train_fcn(
    checkpoint: str | Path,
    train_iter: Iterable,
    test_iter: Iterable | None,
    *,
    devices: Any = None,
    num_classes: int | None = None,
    num_epochs: int,
    **settings: Any,
) -> tuple[nn.Module, list[dict], str]:
    """FCN-32s from ``checkpoint`` if it holds one for these classes, else :func:`train_fcn` with ``settings``.

    Returns ``(net, history, message)``, the net in eval mode on the first of ``devices``;
    ``message`` says which happened. A newly trained net is saved to ``checkpoint``.
    """
    checkpoint = Path(checkpoint)
    num_classes = _num_classes(num_classes, train_iter)
    first = devices[0] if isinstance(devices, (list, tuple)) else devices
    device = torch.device(first) if first is not None else all_devices()[0]
    reason = "no checkpoint"
    if checkpoint.is_file():
        net = fcn_resnet18(num_classes=num_classes, weights=None)
        try:
            history = load_checkpoint(checkpoint, net, map_location="cpu")
        except ValueError as err:
            reason = f"the checkpoint does not fit ({str(err).split(':')[0]})"
        else:
            return net.to(device).eval(), history, f"loaded {checkpoint} ({len(history)} epochs of training)"
    net, history = train_fcn(
        train_iter, test_iter, num_epochs=num_epochs, devices=devices, num_classes=num_classes,
        checkpoint=checkpoint, **settings,
    )  # fmt: skip
    message = f"{reason} at {checkpoint}: trained a new FCN-32s for {num_epochs} epochs and saved it there"
    return net.eval(), history, message


_RUN_COLUMNS = {
    "loss": "loss",
    "train_acc": "train acc",
    "pixel_acc": "pixel acc",
    "mean_acc": "mean acc",
    "miou": "mIoU",
    "fw_iou": "f.w. IoU",
}


def runs_table(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    keys: Sequence[str] = ("loss", "pixel_acc", "miou"),
    per_epoch: bool = False,
) -> str:
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


def train_variant(
    variant: str,
    train_iter: Any,
    test_iter: Any,
    profile: Any,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    init: nn.Module | None = None,
    optimizer: str = "sgd",
    lr: float | None = None,
    wd: float | None = None,
    momentum: float = 0.0,
    skip_lr_mult: float = 1.0,
    num_epochs: int | None = None,
    weights: str | None = "auto",
    **train_kwargs: Any,
) -> tuple[nn.Module, Any]:
    """FCN-``variant`` trained by :func:`seeded_run`; return ``(net, history)``.

    A seeded FCN-32s (or ``init``, a trained coarser FCN: the paper's staged training) is copied
    into the variant (:func:`init_from`; skip score layers start at zero), so variants trained with
    the same arguments differ only in their skip layers. ``profile`` gives the defaults of ``lr``,
    ``wd``, ``num_epochs`` and the devices; ``optimizer`` is ``"sgd"`` or ``"adam"``;
    ``skip_lr_mult`` scales the skip layers' rate (:func:`param_groups`). Other keyword arguments
    go to :func:`fcnlib.train`.
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    num_classes = _num_classes(num_classes, train_iter)
    lr = profile.lr if lr is None else lr
    wd = profile.wd if wd is None else wd

    def build() -> nn.Module:
        start = init if init is not None else fcn_resnet18(num_classes, "32s", weights=weights)
        net = fcn_resnet18(num_classes, variant, weights=None)
        init_from(net, start)
        net.weights_source = getattr(start, "weights_source", "copied from init")
        return net

    def make_trainer(net: nn.Module) -> torch.optim.Optimizer:
        groups = param_groups(net, lr, skip_lr_mult)
        if optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=wd)
        return torch.optim.Adam(groups, lr=lr, weight_decay=wd)

    epochs = profile.num_epochs if num_epochs is None else num_epochs
    return seeded_run(build, make_trainer, train_iter, test_iter, epochs, profile.devices, seed, **train_kwargs)


def comparison_settings(profile: Any, seed: int = 0) -> dict[str, Any]:
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
    start: nn.Module | None = None,
    stages: Sequence[str] = ("32s", "16s", "8s"),
    lr_scale: Sequence[float] = (1.0, 1.0, 1.0),
    **kwargs: Any,
) -> dict[str, tuple[nn.Module, Any]]:
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
    results: dict[str, tuple[nn.Module, Any]] = {}
    previous = start
    for variant, scale in zip(stages, lr_scale, strict=False):
        if variant == "32s" and start is not None:
            results[variant] = (start, None)
            continue
        net, history = train_variant(variant, train_iter, test_iter, profile, init=previous, lr=lr * scale, **kwargs)
        results[variant] = (net, history)
        previous = net
    return results


PAPER_TABLE2: dict[str, dict[str, float]] = {
    "FCN-32s": dict(pixel_acc=89.1, mean_acc=73.3, miou=59.4, fw_iou=81.4),
    "FCN-16s": dict(pixel_acc=90.0, mean_acc=75.7, miou=62.4, fw_iou=83.0),
    "FCN-8s": dict(pixel_acc=90.3, mean_acc=75.9, miou=62.7, fw_iou=83.2),
}
"""Table 2 of Long, Shelhamer and Darrell (CVPR 2015), in percent: FCN-VGG16 variants trained
end to end, evaluated on the 736 images of PASCAL VOC 2011 val not in their training set."""


_COLUMNS = (("pixel_acc", "pixel acc."), ("mean_acc", "mean acc."), ("miou", "mean IU"), ("fw_iou", "f.w. IU"))


def comparison_table(
    measured: Mapping[str, Mapping[str, Any]],
    paper: Mapping[str, Mapping[str, float]] | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """A text table of the four FCN metrics (in percent, one decimal), with the paper's beside.

    ``measured`` maps a row name (``"FCN-32s"``) to a metrics dict (fractions in 0..1, as
    :meth:`fcnlib.ConfusionMatrix.compute` returns; extra entries are ignored). ``paper``
    (e.g. :data:`PAPER_TABLE2`, percent) adds a "paper" line under every row it names.
    ``extra`` adds columns ``(key, title)`` that only the measured rows have.
    """
    columns = list(_COLUMNS) + list(extra)
    name_width = max([len(n) for n in measured] + [7]) + 8
    widths = [max(len(title), 6) for _, title in columns]
    lines = [" " * name_width + "  ".join(title.rjust(w) for (_, title), w in zip(columns, widths, strict=False))]
    for name, metrics in measured.items():
        missing = [key for key, _ in columns if key not in metrics]
        if missing:
            raise ValueError(
                f"row {name!r} has no {missing}; give the dicts evaluate()/ConfusionMatrix.compute() return"
            )
        cells = [f"{100 * float(metrics[key]):.1f}".rjust(w) for (key, _), w in zip(columns, widths, strict=False)]
        lines.append(f"{name} (ours)".ljust(name_width) + "  ".join(cells))
        if paper is not None and name in paper:
            row = paper[name]
            cells = [
                (f"{row[key]:.1f}" if key in row else "-").rjust(w)
                for (key, _), w in zip(columns, widths, strict=False)
            ]
            lines.append(f"{name} (paper)".ljust(name_width) + "  ".join(cells))
    return "\n".join(lines)
