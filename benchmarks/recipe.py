"""Which training recipe makes chapter 6's FCN-8s best within the quick profile's budget?

Each recipe (a named row of ``RECIPES``: optimiser, learning rate and its schedule, weight decay, batch, crop,
how the image passes are split between chapters 4 and 6, the teaching scenes' object sizes) is run per seed the
way the chapters run it: chapter 4 trains an FCN-32s from a random backbone (seeded as
``fcnlib.experiments.train_fcn``, tested after each epoch as chapter 4 does), chapter 6 fine-tunes FCN-8s from it
(seeded as ``train_variant``; ``--all-variants`` also the FCN-32s control and FCN-16s). Every net is scored on
the same test crops (the 96 validation scenes' central 128x160 crops): mIoU and boundary mIoU (3 px band).
Results are merged into the JSON file (one entry per recipe and seed, with the command that made it), and the
table printed is over every seed stored for a recipe: mean and spread (min..max).

Budget rule: no recipe may use more training image passes than the old one (chapter 4: 2 epochs of the 960
training scenes; chapter 6: one epoch per net), nor more time: on a CPU a step costs a fixed ~70 ms (resnet-18's
weights, the optimiser; 2 cores) besides ~30 ms per 128x160 image, so batches smaller than the old 16 make the same
passes slower (batch 4: chapter 4 1.3x, chapter 6 1.4x). ``--timing`` measures seconds per epoch of several recipes
alternately in one process (same load), as the ratio to the first one named.

Usage::

    python benchmarks/recipe.py --recipes old adamw-onecycle --seeds 0 1 2
    python benchmarks/recipe.py --report                          # the table of everything stored
    python benchmarks/recipe.py --timing old adamw-onecycle       # time per epoch, alternately
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FCNLIB_OFFLINE", "1")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fcnlib  # noqa: E402
from fcnlib.data.synthetic import ensure_synthetic_voc, make_synthetic_voc  # noqa: E402
from fcnlib.model import fcn_resnet18, init_from, param_groups  # noqa: E402

BAND = 3
TEST_CROP = (128, 160)  # every recipe is scored on these central crops
N_TRAIN, N_VAL, IMAGE_SIZE = 960, 96, (144, 192)

OLD = dict(
    optimizer="sgd",  # "sgd" or "adamw"
    lr=0.001,  # chapter 4's rate (the loss is summed over the batch, as d2l's)
    momentum=0.9,
    wd=1e-3,
    schedule="constant",  # "constant", "onecycle" (torch's OneCycleLR) or "warmcos" (linear warm-up, cosine to 0)
    warmup=0.3,  # fraction of the steps spent warming up ("onecycle", "warmcos")
    ft_lr=None,  # chapter 6's rate (None: chapter 4's)
    ft_schedule=None,  # chapter 6's schedule (None: chapter 4's)
    ft_batch=None,  # chapter 6's batch (None: chapter 4's)
    batch=16,
    crop=(128, 160),
    ch4_epochs=2,
    ch4_steps=None,  # batches per chapter-4 epoch (None: all)
    ch6_steps=None,  # batches of each chapter-6 net's epoch (None: all)
    ch6_epochs=1,
    over_budget=False,  # True: a row that shows what more image passes would give (not a candidate)
    radius=None,  # object radii of the teaching scenes, fractions of the shorter side (None: the generator's)
)
RECIPES = {
    "old": {},
    # plain SGD, higher rates
    "sgd-lr3e-3": dict(lr=3e-3),
    "sgd-lr1e-2": dict(lr=1e-2),
    # Adam(W)
    "adamw-1e-3": dict(optimizer="adamw", lr=1e-3, wd=1e-4),
    "adamw-3e-3": dict(optimizer="adamw", lr=3e-3, wd=1e-4),
    # schedules
    "sgd-onecycle-1e-2": dict(lr=1e-2, schedule="onecycle"),
    "adamw-onecycle-3e-3": dict(optimizer="adamw", lr=3e-3, wd=1e-4, schedule="onecycle"),
    "adamw-warmcos-3e-3": dict(optimizer="adamw", lr=3e-3, wd=1e-4, schedule="warmcos", warmup=0.1),
    # the old recipe's batch, so its time (the budget rule above)
    "sgd-onecycle-5e-3": dict(lr=5e-3, schedule="onecycle"),
    "sgd-onecycle-2e-2": dict(lr=2e-2, schedule="onecycle"),
    # chapter 4 at the old batch; chapter 6 fine-tunes in batches of 4 (all its passes, or as many as take the
    # old recipe's time: ~0.72 of an epoch at the budget rule's fixed cost)
    "sgd-onecycle-5e-3-ft-b4": dict(lr=5e-3, schedule="onecycle", ft_batch=4, ft_lr=1e-2),
    "sgd-onecycle-5e-3-ft-b4-t": dict(lr=5e-3, schedule="onecycle", ft_batch=4, ft_lr=1e-2, ch6_steps=173),
    # smaller batches: more steps for the same image passes
    "adamw-onecycle-3e-3-b8": dict(optimizer="adamw", lr=3e-3, wd=1e-4, schedule="onecycle", batch=8),
    "adamw-onecycle-3e-3-b4": dict(optimizer="adamw", lr=3e-3, wd=1e-4, schedule="onecycle", batch=4),
    "adamw-onecycle-1e-3-b4": dict(optimizer="adamw", lr=1e-3, wd=1e-4, schedule="onecycle", batch=4),
    "sgd-onecycle-1e-2-b4": dict(lr=1e-2, schedule="onecycle", batch=4),
    "sgd-onecycle-2e-2-b4": dict(lr=2e-2, schedule="onecycle", batch=4),
    "adamw-onecycle-3e-3-b2": dict(optimizer="adamw", lr=3e-3, wd=1e-4, schedule="onecycle", batch=2),
    # chapter 6's fine-tuning
    "adamw-onecycle-3e-3-b4-ft1e-3": dict(
        optimizer="adamw", lr=3e-3, wd=1e-4, schedule="onecycle", batch=4, ft_lr=1e-3
    ),
    "sgd-onecycle-1e-2-b4-ft3e-3": dict(lr=1e-2, schedule="onecycle", batch=4, ft_lr=3e-3),
    "adamw-onecycle-3e-3-b4-ft6e-3": dict(
        optimizer="adamw", lr=3e-3, wd=1e-4, schedule="onecycle", batch=4, ft_lr=6e-3
    ),
    "sgd-onecycle-1e-2-b4-ft2e-2": dict(lr=1e-2, schedule="onecycle", batch=4, ft_lr=2e-2),
    "adamw-onecycle-6e-3-b4": dict(optimizer="adamw", lr=6e-3, wd=1e-4, schedule="onecycle", batch=4),
    # the teaching scenes' scale: larger objects (radius 0.25-0.5 of the shorter side, against 0.2-0.45)
    "sgd-onecycle-1e-2-b4-r25-50": dict(lr=1e-2, schedule="onecycle", batch=4, radius=(0.25, 0.5)),
    "adamw-warmcos-3e-3-b4": dict(optimizer="adamw", lr=3e-3, wd=1e-4, schedule="warmcos", warmup=0.1, batch=4),
    # what limits: twice the image passes in both chapters (over the budget)
    "sgd-onecycle-1e-2-b4-2x": dict(
        lr=1e-2, schedule="onecycle", batch=4, ch4_epochs=4, ch6_epochs=2, over_budget=True
    ),
    "sgd-onecycle-1e-2-b4-4x": dict(
        lr=1e-2, schedule="onecycle", batch=4, ch4_epochs=8, ch6_epochs=4, over_budget=True
    ),
}


def recipe(name: str) -> dict:
    if name not in RECIPES:
        raise SystemExit(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return {**OLD, **RECIPES[name]}


def passes(r: dict) -> tuple[float, float]:
    """Training image passes (epochs of the 960 scenes) in chapter 4 and in each of chapter 6's nets."""
    per_epoch, ft_per_epoch = N_TRAIN // r["batch"], N_TRAIN // (r["ft_batch"] or r["batch"])
    ch4 = r["ch4_epochs"] * (r["ch4_steps"] or per_epoch) / per_epoch
    return ch4, r["ch6_epochs"] * (r["ch6_steps"] or ft_per_epoch) / ft_per_epoch


def make_trainer(r: dict, params, steps: int, lr: float, schedule: str):
    """``(optimizer, scheduler or None)`` for ``steps`` batches: fcnlib's (what the chapters run), or warm-up + cosine."""
    if schedule != "warmcos" and r["warmup"] == OLD["warmup"]:  # 0.3: OneCycleLR's default, as fcnlib builds it
        recipe = dict(optimizer=r["optimizer"], lr=lr, wd=r["wd"], momentum=r["momentum"], schedule=schedule)
        return fcnlib.profiles.make_trainer(params, steps, **recipe)
    if r["optimizer"] == "sgd":
        trainer = torch.optim.SGD(params, lr=lr, momentum=r["momentum"], weight_decay=r["wd"])
    else:
        trainer = torch.optim.AdamW(params, lr=lr, weight_decay=r["wd"])
    if schedule == "constant":
        return trainer, None
    if schedule == "onecycle":
        return trainer, torch.optim.lr_scheduler.OneCycleLR(trainer, lr, total_steps=steps, pct_start=r["warmup"])
    warm = max(1, round(r["warmup"] * steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, steps - warm))))

    return trainer, torch.optim.lr_scheduler.LambdaLR(trainer, factor)


def quietly(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def dataset_root(radius) -> Path:
    """A folder holding the teaching dataset (default scenes, or objects of ``radius``) as VOCdevkit/VOC2012."""
    if radius is None:
        root = fcnlib.data.default_root() / "synthetic"
        ensure_synthetic_voc(root, N_TRAIN, N_VAL, seed=0, image_size=IMAGE_SIZE)
        return root
    root = ROOT / "data" / "bench" / f"recipe-radius-{radius[0]}-{radius[1]}"
    if fcnlib.data.find_voc_dir(root) is None:
        make_synthetic_voc(root, N_TRAIN, N_VAL, seed=0, image_size=IMAGE_SIZE, radius=tuple(radius))
    return root


def loaders(r: dict):
    root = dataset_root(r["radius"])
    train_iter, _ = quietly(fcnlib.data.load_data_voc, r["batch"], tuple(r["crop"]), root=root, download=False)
    _, test_iter = quietly(fcnlib.data.load_data_voc, 16, TEST_CROP, root=root, download=False)
    return train_iter, test_iter


def score(net, test_iter) -> dict[str, float]:
    res = fcnlib.training.evaluate_with_boundary(net, test_iter, widths=(BAND,))
    return dict(miou=res["all"]["miou"], boundary=res[f"band{BAND}"]["miou"])


CH4_KEYS = "optimizer lr momentum wd schedule warmup batch crop ch4_epochs ch4_steps radius".split()
CACHE = ROOT / "data" / "bench" / "recipe-cache"  # chapter 4's nets, reused by recipes that differ in chapter 6 only


def chapter4(r: dict, train_iter, test_iter, seed: int, upsample_init: str = "bilinear"):
    """FCN-32s from a random backbone, seeded as ``train_fcn``: ``(net, history)``, from the cache if trained."""
    C = train_iter.dataset.num_classes
    key = json.dumps([{k: r[k] for k in CH4_KEYS}, seed, upsample_init, torch.__version__], sort_keys=True)
    path = CACHE / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.pt"
    if path.is_file():
        net = fcn_resnet18(C, weights=None)
        return net, fcnlib.load_checkpoint(path, net)
    net, history = _chapter4(r, train_iter, test_iter, seed, upsample_init)
    fcnlib.training.save_checkpoint(path, net, history=history)
    return net, history


def _chapter4(r: dict, train_iter, test_iter, seed: int, upsample_init: str):
    C = train_iter.dataset.num_classes
    steps = r["ch4_steps"] or len(train_iter)
    torch.manual_seed(seed)
    net = fcn_resnet18(C, weights=None, upsample_init=upsample_init)
    trainer, scheduler = make_trainer(r, net.parameters(), r["ch4_epochs"] * steps, r["lr"], r["schedule"])
    torch.manual_seed(seed + 1)
    limited = fcnlib.data.StepLimit(train_iter, r["ch4_steps"])
    history = quietly(
        fcnlib.train, net, limited, test_iter, None, trainer, r["ch4_epochs"], ["cpu"], scheduler=scheduler
    )
    return net, history


def chapter6(r: dict, variant: str, net32, train_iter, seed: int):
    """FCN-``variant`` fine-tuned from ``net32`` for ``ch6_epochs`` (of ``ch6_steps``), seeded as ``train_variant``."""
    C = train_iter.dataset.num_classes
    steps = r["ch6_epochs"] * (r["ch6_steps"] or len(train_iter))
    lr = r["ft_lr"] if r["ft_lr"] is not None else r["lr"]
    torch.manual_seed(seed)
    net = fcn_resnet18(C, variant, weights=None)
    init_from(net, net32)
    trainer, scheduler = make_trainer(r, param_groups(net, lr), steps, lr, r["ft_schedule"] or r["schedule"])
    torch.manual_seed(seed + 1)
    limited = fcnlib.data.StepLimit(train_iter, r["ch6_steps"])
    history = quietly(fcnlib.train, net, limited, None, None, trainer, r["ch6_epochs"], ["cpu"], scheduler=scheduler)
    return net, history


def save_figure(path: Path, nets: dict, test_iter) -> None:
    """The first 8 test crops, each net's prediction and the truth, as a PNG (to check the shapes by eye)."""
    from fcnlib import viz

    X, Y = next(iter(test_iter))
    with torch.no_grad():
        preds = {name: net.eval()(X[:8]).argmax(1) for name, net in nets.items()}
    ds = test_iter.dataset
    fig = viz.show_model_comparison(X[:8], preds, Y[:8], colormap=ds.colormap, classes=ds.classes, scale=1.4)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def run(name: str, seed: int, variants: list[str], figure: Path | None = None) -> dict:
    r = recipe(name)
    train_iter, test_iter = loaders(r)
    ch4, ch6 = passes(r)
    ft_iter = loaders(dict(r, batch=r["ft_batch"]))[0] if r["ft_batch"] else train_iter
    if ch4 + 3 * ch6 > 5 + 1e-9 and not r["over_budget"]:
        raise SystemExit(f"recipe {name!r} uses {ch4:g} + 3 x {ch6:g} image passes, more than the old 2 + 3 x 1")
    start = time.perf_counter()
    net32, history = chapter4(r, train_iter, test_iter, seed)
    found = {"FCN-32s, chapter 4": dict(score(net32, test_iter), per_epoch=history.column("miou"))}
    found["FCN-32s, chapter 4"]["s_per_epoch"] = sum(history.column("train_seconds")) / ch4
    nets = {"FCN-32s, ch. 4": net32}
    for variant in variants:
        try:
            nets[f"FCN-{variant}, ch. 6"], h = chapter6(r, variant, net32, ft_iter, seed)
        except fcnlib.training.TrainingDiverged as err:  # a result too: stored, then the next seed
            found["diverged"] = f"FCN-{variant}, chapter 6: {str(err).split(' Lower')[0]}"
            break
        found[f"FCN-{variant}, chapter 6"] = dict(score(nets[f"FCN-{variant}, ch. 6"], test_iter))
        found[f"FCN-{variant}, chapter 6"]["s_per_epoch"] = sum(h.column("train_seconds")) / ch6
    if figure is not None:
        save_figure(figure / f"{name}_seed{seed}.png", nets, test_iter)
    found["seconds"], found["load"] = time.perf_counter() - start, os.getloadavg()
    return found


def timing(names: list[str], rounds: int, images: int) -> dict:
    """Seconds per training epoch of each recipe's FCN-32s (chapter 4) and FCN-8s (chapter 6), from ``images``
    training images each, the recipes measured alternately (ABBA...) so that they share the machine's load."""
    seen = {(name, variant): [] for name in names for variant in ("32s", "8s")}
    for k in range(rounds):
        for name, variant in seen if k % 2 == 0 else list(seen)[::-1]:
            r = recipe(name)
            r = dict(r, batch=r["ft_batch"] or r["batch"]) if variant == "8s" else r
            steps = images // r["batch"]
            train_iter, _ = loaders(r)
            torch.manual_seed(0)
            net = fcn_resnet18(train_iter.dataset.num_classes, variant, weights=None)
            trainer, scheduler = make_trainer(r, net.parameters(), steps, r["lr"], r["schedule"])
            limited = fcnlib.data.StepLimit(train_iter, steps)
            h = quietly(fcnlib.train, net, limited, None, None, trainer, 1, ["cpu"], scheduler=scheduler)
            seen[name, variant].append(h[0]["train_seconds"] / steps * len(train_iter))
    out = {}
    for (name, variant), values in seen.items():
        base = statistics.median(seen[names[0], variant])
        ratio = statistics.median(values) / base
        out[f"{name}, FCN-{variant}"] = dict(s_per_epoch=values, median=statistics.median(values), ratio=ratio)
    return out


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ({min(values):.3f}..{max(values):.3f})"


def report(stored: dict) -> None:
    """Markdown table: per recipe, mean (min..max) over its stored seeds of each net's mIoU and boundary mIoU."""
    print(
        "| recipe | seeds | FCN-32s ch4 mIoU | FCN-32s ch4 boundary | FCN-8s ch6 mIoU | FCN-8s ch6 boundary | settings |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, entry in stored.items():
        seeds = sorted(entry["seeds"], key=int)
        if not seeds:
            continue
        cells = []
        for net, key in [("FCN-32s, chapter 4", "miou"), ("FCN-32s, chapter 4", "boundary")] + [
            ("FCN-8s, chapter 6", "miou"),
            ("FCN-8s, chapter 6", "boundary"),
        ]:
            values = [entry["seeds"][s][net][key] for s in seeds if net in entry["seeds"][s]]
            cells.append(spread(values) if values else "-")
        changed = {k: v for k, v in entry["settings"].items() if json.loads(json.dumps(OLD)).get(k) != v}
        print(f"| {name} | {','.join(seeds)} | " + " | ".join(cells) + f" | {changed or 'd2l + momentum 0.9'} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", nargs="+", default=[])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--all-variants", action="store_true", help="also the FCN-32s control and FCN-16s in chapter 6")
    p.add_argument("--timing", nargs="+", default=[], help="recipes to time alternately (the first is the base)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--timing-images", type=int, default=320, help="training images per timed run")
    p.add_argument("--report", action="store_true")
    p.add_argument("--figures", type=Path, default=None, help="a folder for PNGs of the predictions")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "recipe.json")
    args = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    stored = json.loads(args.json.read_text()) if args.json.is_file() else {}
    command = "python " + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    variants = ["32s", "16s", "8s"] if args.all_variants else ["8s"]
    for name in args.recipes:
        for seed in args.seeds:
            found = run(name, seed, variants, args.figures)
            entry = stored.setdefault(name, {"settings": recipe(name), "seeds": {}})
            entry["settings"] = recipe(name)
            entry["seeds"][str(seed)] = dict(found, command=command, torch=torch.__version__)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(stored, indent=1) + "\n")
            nets = {k: v for k, v in found.items() if isinstance(v, dict)}
            line = ", ".join(f"{k}: {v['miou']:.3f}/{v['boundary']:.3f}" for k, v in nets.items())
            line += f"; diverged: {found['diverged']}" if "diverged" in found else ""
            print(f"{name} seed {seed}: {line} (mIoU/boundary) [{found['seconds']:.0f} s, load {found['load'][0]:.1f}]")
    if args.timing:
        before = os.getloadavg()
        times = timing(args.timing, args.rounds, args.timing_images)
        stored.setdefault("_timing", []).append(
            dict(recipes=times, command=command, load_before=before, load_after=os.getloadavg())
        )
        for name, t in times.items():
            print(f"{name}: {t['median']:.1f} s per epoch (median of {len(t['s_per_epoch'])}), ratio {t['ratio']:.2f}")
        print(f"load average before {before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
        args.json.write_text(json.dumps(stored, indent=1) + "\n")
    if args.report or args.recipes:
        report({k: v for k, v in stored.items() if not k.startswith("_")})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
