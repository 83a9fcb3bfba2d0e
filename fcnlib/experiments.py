"""Experiments: seeded, comparable training runs of FCN variants, staged training, tables of their results."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import shown_path
from .metrics import scores_to_labels
from .model import device_of, fcn_resnet18, init_from, param_groups
from .profiles import all_devices, make_trainer
from .shapes import check_int
from .training import _infer_num_classes, _logits, _unwrap, load_checkpoint, train


def _num_classes(num_classes: int | None, train_iter: Any) -> int:
    if (found := _infer_num_classes(num_classes, train_iter)) is None:
        raise ValueError("num_classes is not given and train_iter.dataset has no num_classes; pass num_classes=")
    return found


def seeded_run(build: Callable, make: Callable, train_iter, test_iter, num_epochs, devices=None, seed=0, **kw):
    """``torch.manual_seed(seed)``, ``net = build()``, ``trainer, scheduler = make(net)``, ``torch.manual_seed(seed +
    1)``, :func:`fcnlib.train`; returns ``(net, history)``. Runs that differ in one setting start alike and see the
    same batches."""
    torch.manual_seed(seed)
    net = build()
    trainer, scheduler = make(net)
    torch.manual_seed(seed + 1)
    return net, train(net, train_iter, test_iter, None, trainer, num_epochs, devices, scheduler=scheduler, **kw)


def train_fcn(
    train_iter,
    test_iter,
    *,
    lr: float,
    wd: float,
    num_epochs: int,
    momentum: float = 0.0,
    optimizer: str = "sgd",
    schedule: str = "constant",
    devices: Any = None,
    num_classes: int | None = None,
    upsample_init: str = "bilinear",
    weights: str | None = "auto",
    seed: int = 0,
    **train_kwargs: Any,
) -> tuple[nn.Module, list[dict]]:
    """An FCN-32s (:func:`fcnlib.fcn_resnet18`) trained by :func:`seeded_run` with :func:`fcnlib.train`'s default loss
    and :func:`fcnlib.profiles.make_trainer`'s optimiser and schedule over all ``num_epochs * len(train_iter)``
    batches (the defaults: d2l's SGD; ``**profile.recipe`` gives a profile's): ``(net, history)``. Further keywords
    go to :func:`fcnlib.train`."""
    num_classes = _num_classes(num_classes, train_iter)
    for name, value in (("lr", lr), ("wd", wd)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    build = lambda: fcn_resnet18(num_classes, weights=weights, upsample_init=upsample_init)  # noqa: E731
    recipe = dict(optimizer=optimizer, lr=lr, wd=wd, momentum=momentum, schedule=schedule)
    make = lambda net: make_trainer(net.parameters(), num_epochs * len(train_iter), **recipe)  # noqa: E731
    return seeded_run(build, make, train_iter, test_iter, num_epochs, devices, seed, **train_kwargs)


def _free_name(path: Path) -> Path:
    """``<stem>.old-<n><suffix>`` beside ``path`` with the smallest ``n`` not taken."""
    n = 1
    while (free := path.with_name(f"{path.stem}.old-{n}{path.suffix}")).exists():
        n += 1
    return free


def load_or_train_fcn(checkpoint, train_iter, test_iter, *, devices=None, num_classes=None, num_epochs, **settings):
    """FCN-32s from ``checkpoint`` if it holds one for these classes, else :func:`train_fcn` (saved there; a
    checkpoint that does not fit is first renamed ``<name>.old-<n>.pt``, never overwritten). Returns ``(net, history,
    message)``, the net in eval mode on the first of ``devices``; ``message`` says which (the paths as
    :func:`fcnlib.data.shown_path` writes them)."""
    checkpoint, num_classes = Path(checkpoint), _num_classes(num_classes, train_iter)
    first = devices[0] if isinstance(devices, (list, tuple)) else devices
    reason = "no checkpoint"
    if checkpoint.is_file():
        net = fcn_resnet18(num_classes=num_classes, weights=None)
        try:
            history = load_checkpoint(checkpoint, net, map_location="cpu")
        except ValueError as err:
            kept = _free_name(checkpoint)
            checkpoint.rename(kept)
            reason = f"the checkpoint does not fit ({str(err).split(':')[0]}; kept as {shown_path(kept)})"
        else:
            net.to(torch.device(first) if first is not None else all_devices()[0])
            return net.eval(), history, f"loaded {shown_path(checkpoint)} ({len(history)} epochs of training)"
    kwargs = dict(num_epochs=num_epochs, devices=devices, num_classes=num_classes, checkpoint=checkpoint)
    net, history = train_fcn(train_iter, test_iter, **kwargs, **settings)
    message = f"{reason} at {shown_path(checkpoint)}: trained a new FCN-32s for {num_epochs} epochs and saved it there"
    return net.eval(), history, message


def load_latest_fcn(folder, train_iter, test_iter, *, devices=None, num_epochs, **settings):
    """The most refined net the chapters saved in ``folder``: chapter 6's FCN-8s (``fcn8s.pt``) if it holds one for
    train_iter's classes, else :func:`load_or_train_fcn` with ``fcn32s.pt`` (chapter 4's, or trained and saved now
    with ``num_epochs`` and ``settings``). Returns ``(net, name, message)``: the net in eval mode on the first of
    ``devices``, ``"FCN-8s"`` or ``"FCN-32s"``, and what happened (paths as :func:`fcnlib.data.shown_path` writes)."""
    from .data import shown_path

    folder, num_classes = Path(folder), _num_classes(None, train_iter)
    path, why = folder / "fcn8s.pt", "no FCN-8s checkpoint"
    if path.is_file():
        net = fcn_resnet18(num_classes=num_classes, variant="8s", weights=None)
        try:
            load_checkpoint(path, net, map_location="cpu")
        except ValueError as err:
            why = f"the FCN-8s checkpoint does not fit ({str(err).split(':')[0].replace(str(path), shown_path(path))})"
        else:
            first = devices[0] if isinstance(devices, (list, tuple)) else devices
            net.to(torch.device(first) if first is not None else all_devices()[0])
            return net.eval(), "FCN-8s", f"loaded {shown_path(path)}"
    checkpoint = folder / "fcn32s.pt"
    kwargs = dict(devices=devices, num_classes=num_classes, num_epochs=num_epochs)
    net, _, message = load_or_train_fcn(checkpoint, train_iter, test_iter, **kwargs, **settings)
    return net, "FCN-32s", f"{why}; FCN-32s: {message.replace(str(checkpoint), shown_path(checkpoint))}"


class PredictionRecorder:
    """A reporter for :func:`fcnlib.train` (``reporter=``) that keeps what ``net`` predicts for fixed ``images``
    (normalised float ``[K, 3, H, W]``, sides that ``net`` accepts) before training and after every epoch:
    ``predictions[i]``, an int64 label map ``[K, H, W]`` on the CPU, after ``epochs[i]`` epochs (0: untrained).
    The net runs in eval mode without gradients, then its mode is restored. ValueError for other images."""

    def __init__(self, net: nn.Module, images: torch.Tensor) -> None:
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"images must be a batch [K, 3, H, W] of normalised images, got {got}")
        if not images.is_floating_point():
            raise ValueError(f"images must be normalised floats (fcnlib.data's batches), got {images.dtype}")
        self.net, self.images = _unwrap(net), images.detach().cpu()  # DataParallel/DDP: the module inside
        self.epochs: list[int] = []
        self.predictions: list[torch.Tensor] = []

    def record(self, epoch: int) -> torch.Tensor:
        """Predict the images now and keep the label maps as those after ``epoch`` epochs; returns them."""
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.inference_mode():
                labels = scores_to_labels(_logits(self.net(self.images.to(device_of(self.net))))).cpu()
        finally:
            self.net.train(was_training)
        self.epochs.append(int(epoch))
        self.predictions.append(labels)
        return labels

    def on_train_begin(self, num_epochs: int, num_batches: int | None, history: Sequence) -> None:
        if not self.epochs or self.epochs[-1] != len(history):
            self.record(len(history))

    def on_epoch_end(self, history: Sequence) -> None:
        self.record(len(history))


_RUN_COLUMNS = dict(loss="loss", train_acc="train acc", pixel_acc="pixel acc", mean_acc="mean acc", miou="mIoU")
_RUN_COLUMNS["fw_iou"] = "f.w. IoU"


def runs_table(runs: Mapping[str, Sequence], keys=("loss", "pixel_acc", "miou"), per_epoch=False, batches=None):
    """A text table of training runs ``{name: history}``: one row per run with its epochs and its last epoch's
    ``keys``, or (``per_epoch``) one row per epoch and one column per run for ``keys[0]``; 3 decimals, missing epochs
    blank. ``batches``: the batches of one epoch (``len(train_iter)``); the rows then give the batches each run
    trained (epochs x ``batches``) instead of its epochs."""
    if not runs:
        raise ValueError("runs is empty: pass {name: history}")
    if empty := [name for name, history in runs.items() if not history]:
        raise ValueError(f"runs {empty} have no completed epoch")
    width = max(12, max(len(str(n)) for n in runs) + 2)
    if per_epoch:
        lines = [f"{'epoch':<8}" + "".join(f"{str(n):>{width}}" for n in runs)]
        for epoch in range(max(len(h) for h in runs.values())):
            cells = [f"{h[epoch][keys[0]]:>{width}.3f}" if epoch < len(h) else " " * width for h in runs.values()]
            lines.append(f"{epoch + 1:<8}" + "".join(cells))
        return "\n".join(lines)
    count, per = ("epochs", 1) if batches is None else ("batches", check_int(batches, "batches", 1))
    lines = [f"{'run':<{width}}{count:>8}" + "".join(f"{_RUN_COLUMNS.get(k, k):>12}" for k in keys)]
    for name, history in runs.items():
        cells = "".join(f"{history[-1][k]:>12.3f}" for k in keys)
        lines.append(f"{str(name):<{width}}{len(history) * per:>8}" + cells)
    return "\n".join(lines)


_SEED_COLUMNS = dict(loss="training loss", pixel_acc="test pixel acc", miou="test mIoU")


def seeds_table(rows: Mapping[str, Mapping], extra: Mapping[str, Mapping] | None = None, keys=tuple(_SEED_COLUMNS)):
    """A text table of settings each run from several seeds, ``{name: {seed: run}}`` (``run``: ``{key: value, ...,
    "diverged": bool}``, no values needed when diverged): per row each key's ``mean (min..max)`` over the runs that
    did not diverge ("-" when all did) and how many diverged; ``extra``: ``{name: {key: value}}`` rows of one value
    each (e.g. a baseline), "-" where a key is missing. 3 decimals. ValueError: no rows, or a row without runs."""
    if not rows or not all(rows.values()):
        raise ValueError("rows must be {name: {seed: run}}, with at least one run per name")
    extra = dict(extra or {})
    width = max(len(str(name)) for name in [*rows, *extra, "run"]) + 2
    lines = [f"{'run':<{width}}" + "".join(f"{_SEED_COLUMNS.get(k, k):>22}" for k in keys) + f"{'diverged':>10}"]
    for name, runs in rows.items():
        good = [run for run in runs.values() if not run["diverged"]]
        cells = ["-" if not good else _spread([float(run[k]) for run in good]) for k in keys]
        count = f"{len(runs) - len(good)} of {len(runs)}"
        lines.append(f"{str(name):<{width}}" + "".join(f"{c:>22}" for c in cells) + f"{count:>10}")
    for name, values in extra.items():
        lines.append(
            f"{str(name):<{width}}" + "".join(f"{values[k]:>22.3f}" if k in values else f"{'-':>22}" for k in keys)
        )
    return "\n".join(lines)


def _spread(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.3f} ({min(values):.3f}..{max(values):.3f})"


def train_variant(
    variant: str,
    train_iter: Any,
    test_iter: Any,
    profile: Any,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    init: nn.Module | None = None,
    optimizer: str | None = None,
    lr: float | None = None,
    wd: float | None = None,
    momentum: float | None = None,
    schedule: str | None = None,
    num_epochs: int | None = None,
    weights: str | None = "auto",
    **train_kwargs: Any,
) -> tuple[nn.Module, Any]:
    """FCN-``variant`` from a seeded FCN-32s (or ``init``, a trained coarser FCN) by :func:`init_from`, trained by
    :func:`seeded_run` with :func:`fcnlib.profiles.make_trainer`: ``(net, history)``. ``profile`` gives what is not
    given: its ``recipe`` (``optimizer, lr, wd, momentum, schedule``), ``num_epochs`` and devices; further keywords go
    to :func:`fcnlib.train`."""
    num_classes = _num_classes(num_classes, train_iter)
    given = dict(optimizer=optimizer, lr=lr, wd=wd, momentum=momentum, schedule=schedule)
    recipe = {**profile.recipe, **{k: v for k, v in given.items() if v is not None}}

    def build() -> nn.Module:
        start = init if init is not None else fcn_resnet18(num_classes, "32s", weights=weights)
        net = fcn_resnet18(num_classes, variant, weights=None)
        init_from(net, start)
        net.weights_source = getattr(start, "weights_source", "copied from init")
        return net

    epochs = profile.num_epochs if num_epochs is None else num_epochs
    make = lambda net: make_trainer(param_groups(net, recipe["lr"]), epochs * len(train_iter), **recipe)  # noqa: E731
    return seeded_run(build, make, train_iter, test_iter, epochs, profile.devices, seed, **train_kwargs)


def comparison_settings(profile: Any, seed: int = 0) -> dict[str, Any]:
    """:func:`train_variant`'s arguments for chapter 6: ``seed`` and the profile's ``recipe``, chapter 4's optimiser
    and schedule (``benchmarks/skip_seeds.py`` measures FCN-8s against FCN-32s near the edges over seeds)."""
    return dict(seed=seed, **profile.recipe)


def train_staged(train_iter, test_iter, profile, start=None, stages=("32s", "16s", "8s"), lr_scale=(1, 1, 1), **kwargs):
    """The paper's staged training: FCN-32s, then FCN-16s from it, then FCN-8s from that; ``{variant: (net, history)}``.
    ``start``: a trained FCN-32s (its stage is skipped, history ``None``). Stage ``i`` trains with
    ``lr * lr_scale[i]`` (the paper lowered it 100-fold for FCN-16s); ``kwargs`` go to :func:`train_variant`."""
    if len(lr_scale) != len(stages):
        raise ValueError(f"need one lr_scale per stage: {len(stages)} stages, {len(lr_scale)} scales")
    lr, results, previous = kwargs.pop("lr", None), {}, start
    lr = profile.lr if lr is None else lr
    for v, scale in zip(stages, lr_scale):
        if v == "32s" and start is not None:
            results[v] = (start, None)
            continue
        results[v] = train_variant(v, train_iter, test_iter, profile, init=previous, lr=lr * scale, **kwargs)
        previous = results[v][0]
    return results


PAPER_TABLE2: dict[str, dict[str, float]] = {
    "FCN-32s": dict(pixel_acc=89.1, mean_acc=73.3, miou=59.4, fw_iou=81.4),
    "FCN-16s": dict(pixel_acc=90.0, mean_acc=75.7, miou=62.4, fw_iou=83.0),
    "FCN-8s": dict(pixel_acc=90.3, mean_acc=75.9, miou=62.7, fw_iou=83.2),
}
"""Table 2 of Long, Shelhamer and Darrell (CVPR 2015), in percent: FCN-VGG16 variants trained end to end,
evaluated on the 736 images of PASCAL VOC 2011 val not in their training set."""
_COLUMNS = (("pixel_acc", "pixel acc."), ("mean_acc", "mean acc."), ("miou", "mean IU"), ("fw_iou", "f.w. IU"))


def comparison_table(measured: Mapping[str, Mapping], paper: Mapping | None = None, extra: Sequence = ()) -> str:
    """The four FCN metrics of ``measured`` (``{row: ConfusionMatrix.compute() dict}``) in percent; with ``paper``
    (e.g. :data:`PAPER_TABLE2`) a "(paper)" line under every row it names and "(ours)" on ours; ``extra``:
    ``(key, title)`` columns of ours only."""
    columns = list(_COLUMNS) + list(extra)
    name_width, widths = max([len(n) for n in measured] + [7]) + 8, [max(len(t), 6) for _, t in columns]
    lines = [" " * name_width + "  ".join(title.rjust(w) for (_, title), w in zip(columns, widths))]
    for name, metrics in measured.items():
        if missing := [key for key, _ in columns if key not in metrics]:
            raise ValueError(f"row {name!r} has no {missing}: give evaluate()/ConfusionMatrix.compute() dicts")
        rows = [("ours", {k: 100 * float(metrics[k]) for k, _ in columns})]
        rows += [("paper", paper[name])] if paper is not None and name in paper else []
        for who, row in rows:
            cells = [(f"{row[k]:.1f}" if k in row else "-").rjust(w) for (k, _), w in zip(columns, widths)]
            lines.append((name if paper is None else f"{name} ({who})").ljust(name_width) + "  ".join(cells))
    return "\n".join(lines)


RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"  # in a checkout of the repository
RESULTS_URL = "https://raw.githubusercontent.com/{repository}/{branch}/benchmarks/results/{name}.json"


def stored_result(name: str, cache: str | Path | None = None, timeout: float = 5.0) -> dict | None:
    """The committed benchmark result ``benchmarks/results/<name>.json`` (what a chapter prints beside its own
    smaller run): read from the checkout, else downloaded once from the repository (e.g. on Colab) into
    ``cache`` (default: the data folder), else None when neither can be had (offline)."""
    import json

    from .data import default_root
    from .profiles import BRANCH, REPOSITORY, offline_setting
    from .weights import download_file

    local = RESULTS / f"{name}.json"
    cached = Path(cache or default_root() / "benchmarks") / f"{name}.json"
    if not local.is_file() and not cached.is_file() and not offline_setting():
        url = RESULTS_URL.format(repository=REPOSITORY, branch=BRANCH, name=name)
        part = cached.with_suffix(".part")
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            download_file(url, part, timeout=timeout, retries=1, progress=False, window=timeout, deadline=4 * timeout)
            part.replace(cached)
        except OSError:  # offline, refused, not found, too slow: the chapter says it has no stored table
            part.unlink(missing_ok=True)
    for path in (local, cached):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None
