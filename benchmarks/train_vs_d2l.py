"""fcnlib.train against d2l.train_ch13: the same FCN, data and settings, in one process.

Both trainers start from copies of one initial state, get the *same* data iterators
(re-seeded before each run, so the shuffling and random crops are identical), the same
loss (per-example cross-entropy that ignores void pixels, summed over the batch: d2l's
convention) and the same optimiser (d2l's SGD, lr 0.001, weight decay 1e-3).

Measured for each:

* wall-clock examples/s of the whole ``train`` call (training plus its per-epoch test
  evaluation, as a learner waits for it), and the ratio fcnlib / d2l;
* the examples/s each reports itself (d2l times only its training steps; fcnlib its
  training loop including data loading);
* the final test pixel accuracy and mean IoU of both final nets, measured the same way
  (``fcnlib.evaluate`` in float32, void pixels ignored), plus d2l's own reported test
  accuracy (which counts void pixels as errors).

d2l is used unchanged with one note: its ``train_ch13`` needs ``devices`` to be a
non-empty list (``d2l.try_all_gpus()`` is ``[]`` on a CPU machine), so we pass
``[torch.device('cpu')]`` or ``[torch.device('cuda:0')]``; it then wraps the net in
``nn.DataParallel`` (a pass-through on the CPU). Its live plot (``d2l.Animator``) runs as in
the book; outside a notebook it prints figure summaries, which we capture and discard.

Usage::

    python benchmarks/train_vs_d2l.py                                     # CPU, 96x128, batch 32
    python benchmarks/train_vs_d2l.py --device cuda --crop 320 480 --batch 32 --epochs 2 \
        --n-train 1024 --n-val 256 --json results/train_cuda.json

With ``--repeat 2`` the runs alternate d2l, fcnlib, fcnlib, d2l (so a machine that slows
down or warms up favours neither) and the table reports the median.

JSON (``--json PATH``): ``{"config": {...}, "device_name": str, "runs": [...],
"d2l": {...}, "fcnlib": {...}, "speedup": float}`` where each trainer's dict has
``examples_per_sec`` (wall clock, median over repeats), ``seconds``,
``reported_examples_per_sec``, ``test_pixel_acc``, ``test_miou``, on CUDA
``peak_mem_bytes`` (PyTorch's allocator peak) and (d2l) ``reported_test_acc``; ``speedup``
is fcnlib's examples/s divided by d2l's, ``cpu_time_speedup`` the same by CPU time.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fcnlib  # noqa: E402
from fcnlib.training import evaluate, per_example_cross_entropy  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--crop", nargs=2, type=int, default=[96, 128], metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--data", choices=["synthetic", "voc"], default="synthetic")
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help="data root (default: data/ for voc, data/bench/<settings> for synthetic)",
    )
    p.add_argument("--n-train", type=int, default=160, help="synthetic training images (d2l needs >= 5 batches)")
    p.add_argument("--n-val", type=int, default=32, help="synthetic validation images")
    p.add_argument(
        "--image-size",
        nargs=2,
        type=int,
        default=None,
        metavar=("H", "W"),
        help="synthetic image size (default: 128x160 for small crops, 375x500 otherwise)",
    )
    p.add_argument("--num-workers", type=int, default=None, help="DataLoader workers (default: 0 on cpu, 6 on cuda)")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--wd", type=float, default=1e-3)
    p.add_argument("--weights", choices=["auto", "none"], default="auto", help="ImageNet backbone when available")
    p.add_argument("--repeat", type=int, default=1, help="runs per trainer, alternating (ABBA...)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for PyTorch (default: its own choice); 1 gives steadier timings on a busy machine",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_loaders(args, device):
    from fcnlib.data import default_root, find_voc_dir, load_data_voc

    crop = tuple(args.crop)
    workers = args.num_workers if args.num_workers is not None else (6 if device.type == "cuda" else 0)
    if args.data == "voc":
        root = args.root or default_root()
        if find_voc_dir(root) is None:
            raise SystemExit(
                f"--data voc: no VOC2012 under {root}; download it (fcnlib.data.download_voc) or use --data synthetic"
            )
        return load_data_voc(args.batch, crop, root=root, num_workers=workers)
    if args.image_size:
        image_size = tuple(args.image_size)
    elif crop[0] <= 128 and crop[1] <= 160:
        image_size = (128, 160)
    else:
        image_size = (max(375, crop[0]), max(500, crop[1]))
    # One folder per setting, so runs with other sizes (even at the same time) never rewrite it.
    root = args.root or default_root() / "bench" / f"{args.n_train}-{args.n_val}-{image_size[0]}x{image_size[1]}"
    return load_data_voc(
        args.batch,
        crop,
        root=root,
        num_workers=workers,
        n_train=args.n_train,
        n_val=args.n_val,
        image_size=image_size,
        seed=args.seed,
    )


def run_d2l(net, train_iter, test_iter, trainer, epochs, device):
    try:
        from d2l import torch as d2l
    except ImportError as err:
        raise SystemExit(f"d2l is needed for this comparison: pip install --no-deps d2l==1.0.3 ({err})") from err
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        d2l.train_ch13(net, train_iter, test_iter, per_example_cross_entropy, trainer, epochs, [device])
    text = out.getvalue()
    loss, train_acc, test_acc = map(
        float, re.search(r"loss ([\d.naif]+), train acc ([\d.naif]+), test acc ([\d.naif]+)", text).groups()
    )
    reported = float(re.search(r"([\d.]+) examples/sec", text).group(1))
    return dict(loss=loss, train_acc=train_acc, reported_test_acc=test_acc, reported_examples_per_sec=reported)


def run_fcnlib(net, train_iter, test_iter, trainer, epochs, device):
    history = fcnlib.train(
        net, train_iter, test_iter, per_example_cross_entropy, trainer, epochs, [device], progress=False, plot=False
    )
    last = history[-1]
    return dict(loss=last["loss"], train_acc=last["train_acc"], reported_examples_per_sec=history.examples_per_sec)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.data == "synthetic" and args.n_train // args.batch < 5:
        raise SystemExit(
            f"--n-train {args.n_train} gives {args.n_train // args.batch} batches of {args.batch}; "
            "d2l.train_ch13 needs at least 5 per epoch (it updates its plot every num_batches // 5): "
            f"use --n-train {5 * args.batch} or more"
        )
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is visible to PyTorch here")
    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    train_iter, test_iter = make_loaders(args, device)
    num_classes = train_iter.dataset.num_classes
    torch.manual_seed(args.seed)
    net0 = fcnlib.fcn_resnet18(num_classes, weights=None if args.weights == "none" else "auto")
    weights_source = getattr(net0, "weights_source", "")
    state = copy.deepcopy(net0.state_dict())
    examples = len(train_iter) * args.batch * args.epochs

    order = []
    for r in range(args.repeat):
        order += ["d2l", "fcnlib"] if r % 2 == 0 else ["fcnlib", "d2l"]
    runs = []
    for name in order:
        net = fcnlib.fcn_resnet18(num_classes, weights=None)
        net.load_state_dict(state)
        net.to(device)
        trainer = torch.optim.SGD(net.parameters(), lr=args.lr, weight_decay=args.wd)
        torch.manual_seed(args.seed + 1)  # the same shuffling and crops for both
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = (run_d2l if name == "d2l" else run_fcnlib)(net, train_iter, test_iter, trainer, args.epochs, device)
        sync(device)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        net = net.module if isinstance(net, torch.nn.DataParallel) else net
        metrics = evaluate(net, test_iter, num_classes, device, amp=False)
        if device.type == "cuda":
            result["peak_mem_bytes"] = torch.cuda.max_memory_allocated(device)
        result.update(
            trainer=name,
            seconds=seconds,
            examples_per_sec=examples / seconds,
            cpu_seconds=cpu_seconds,
            test_pixel_acc=metrics["pixel_acc"],
            test_miou=metrics["miou"],
        )
        runs.append(result)
        print(
            f"  {name:7s} run: {seconds:7.1f} s ({cpu_seconds:7.1f} s CPU), {examples / seconds:7.2f} examples/s, "
            f"test pixel acc {metrics['pixel_acc']:.3f}",
            flush=True,
        )

    summary = {}
    for name in ("d2l", "fcnlib"):
        mine = [r for r in runs if r["trainer"] == name]
        entry = {
            k: statistics.median(r[k] for r in mine)
            for k in (
                "seconds",
                "cpu_seconds",
                "examples_per_sec",
                "reported_examples_per_sec",
                "test_pixel_acc",
                "test_miou",
                "loss",
                "train_acc",
                "peak_mem_bytes",
            )
            if k in mine[0]
        }
        if name == "d2l":
            entry["reported_test_acc"] = statistics.median(r["reported_test_acc"] for r in mine)
        summary[name] = entry
    speedup = summary["fcnlib"]["examples_per_sec"] / summary["d2l"]["examples_per_sec"]
    # The work itself, whatever else the machine runs: the CPU time of this process (all its
    # threads) per run. On a busy CPU the wall clock also counts waiting for a core.
    cpu_speedup = summary["d2l"]["cpu_seconds"] / summary["fcnlib"]["cpu_seconds"]
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    )
    config = dict(
        crop=args.crop,
        batch=args.batch,
        epochs=args.epochs,
        device=args.device,
        data=args.data,
        n_train=len(train_iter.dataset),
        n_val=len(test_iter.dataset),
        lr=args.lr,
        wd=args.wd,
        repeat=args.repeat,
        weights=weights_source,
        torch=torch.__version__,
        amp="bf16"
        if device.type == "cuda" and torch.cuda.is_bf16_supported()
        else ("fp16" if device.type == "cuda" else "off"),
    )
    report = dict(
        config=config,
        device_name=device_name,
        runs=runs,
        speedup=speedup,
        cpu_time_speedup=cpu_speedup,
        load_average=os.getloadavg()[0],
        **summary,
    )

    print()
    print(
        f"train_vs_d2l on {device_name}: crop {args.crop[0]}x{args.crop[1]}, batch {args.batch}, "
        f"{args.epochs} epoch(s), {config['n_train']} train / {config['n_val']} val images ({args.data}), "
        f"{args.repeat} run(s) each"
    )
    header = (
        f"{'trainer':8s} {'seconds':>8s} {'CPU s':>8s} {'ex/s wall':>10s} {'ex/s self':>10s} "
        f"{'test acc':>9s} {'test mIoU':>10s}"
    )
    print(header)
    print("-" * len(header))
    for name in ("d2l", "fcnlib"):
        s = summary[name]
        print(
            f"{name:8s} {s['seconds']:8.1f} {s['cpu_seconds']:8.1f} {s['examples_per_sec']:10.2f} "
            f"{s['reported_examples_per_sec']:10.2f} {s['test_pixel_acc']:9.3f} {s['test_miou']:10.3f}"
        )
    print(
        f"speed-up fcnlib / d2l: {speedup:.2f}x wall clock, {cpu_speedup:.2f}x CPU time "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"d2l's own test acc (void pixels counted wrong): {summary['d2l']['reported_test_acc']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
