"""d2l's exercises 1 and 2, measured: Xavier against bilinear initialisation of FCN-32s's final upsampler, and a
learning-rate sweep, each trained as chapter 4 trains (the quick profile's settings, all its epochs), over seeds.

For every seed: FCN-32s from a random backbone with the final transposed convolution initialised bilinear or
Xavier (everything else alike: ``fcnlib.experiments.train_fcn(upsample_init=...)``, the same seed giving the same
backbone, ``final_conv`` and batches), and the bilinear FCN-32s at the profile's learning rate times each of
``--factors``. Prints per row the mean and spread (min..max) over seeds of the last epoch's training loss and the
test pixel accuracy and mIoU (chapter 4's numbers), beside the "background everywhere" baseline; a run whose loss
became NaN or exploded counts as diverged. Writes the seeds, settings, command and per-seed numbers to ``--json``
(default ``benchmarks/results/init_and_lr.json``, which chapter 4 prints).

Usage::

    python benchmarks/init_and_lr.py [--seeds 0 1 2] [--factors 0.1 0.3 3 10] [--jobs 2] [--json PATH]

``--jobs N`` trains N runs at once in separate processes, each with this process's thread count (every run is
seeded, so the numbers do not depend on N; run it with ``OMP_NUM_THREADS=1`` and ``--jobs`` = the cores).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import json
import multiprocessing
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FCNLIB_OFFLINE", "1")
os.environ.setdefault("FCNLIB_DATA", "synthetic")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fcnlib  # noqa: E402
from fcnlib import experiments  # noqa: E402

KEYS = ("loss", "pixel_acc", "miou")


def baseline(test_iter) -> dict[str, float]:
    """Test scores of a net that predicts background everywhere."""
    lazy = fcnlib.ConfusionMatrix(test_iter.dataset.num_classes)
    for _, y in test_iter:
        lazy.update(torch.zeros_like(y), y)
    return {k: float(v) for k, v in lazy.compute().items() if k in ("pixel_acc", "miou")}


def one_run(P, train_iter, test_iter, seed: int, init: str, lr: float) -> dict:
    """Chapter 4's training from ``seed`` with ``init`` and ``lr``: the last epoch's numbers, or diverged."""
    settings = dict(P.recipe, lr=lr, num_epochs=P.num_epochs, devices=P.devices)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, history = experiments.train_fcn(train_iter, test_iter, upsample_init=init, seed=seed, **settings)
    except fcnlib.training.TrainingDiverged as err:
        return dict(diverged=True, epochs=len(err.history))
    return dict({k: float(history[-1][k]) for k in KEYS}, miou_per_epoch=history.column("miou"), diverged=False)


def worker_run(seed: int, init: str, lr: float) -> dict:
    """:func:`one_run` in a worker process, with the quick profile and data loaded there."""
    P = fcnlib.profile("quick")
    train_iter, test_iter = fcnlib.data.load_data_voc(P.batch_size, P.crop_size, num_workers=P.num_workers)
    return one_run(P, train_iter, test_iter, seed, init, lr)


def settings(P, test_iter) -> dict:
    """What every run shares: the profile's settings and the data."""
    keep = ("name", "crop_size", "batch_size", "num_epochs", "n_train", "n_val", "image_size")
    found = {k: getattr(P, k) for k in keep}
    return dict(found, **P.recipe, data=test_iter.dataset.source, device=P.device.type)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--factors", nargs="+", type=float, default=[0.1, 0.3, 3.0, 10.0])
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once, in separate processes")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "init_and_lr.json")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    P = fcnlib.profile("quick")
    train_iter, test_iter = fcnlib.data.load_data_voc(P.batch_size, P.crop_size, num_workers=P.num_workers)
    plan = [("bilinear, lr x 1", "bilinear", 1.0), ("Xavier, lr x 1", "xavier", 1.0)]
    plan += [(f"bilinear, lr x {f:g}", "bilinear", f) for f in args.factors if f != 1.0]
    start, rows = time.perf_counter(), {name: dict(init=init, lr=P.lr * f, seeds={}) for name, init, f in plan}
    tasks = {(name, seed): (seed, init, P.lr * factor) for name, init, factor in plan for seed in args.seeds}
    context = dict(mp_context=multiprocessing.get_context("spawn"), initializer=torch.set_num_threads)
    with concurrent.futures.ProcessPoolExecutor(args.jobs, initargs=(torch.get_num_threads(),), **context) as pool:
        futures = {pool.submit(worker_run, *task): key for key, task in tasks.items()}
        for future in concurrent.futures.as_completed(futures):
            (name, seed), found = futures[future], future.result()
            rows[name]["seeds"][str(seed)] = found
            shown = "diverged" if found["diverged"] else ", ".join(f"{k} {found[k]:.3f}" for k in KEYS)
            print(f"{name:20s} seed {seed}: {shown}   [{time.perf_counter() - start:.0f} s]", flush=True)
    for row in rows.values():
        row["seeds"] = {str(seed): row["seeds"][str(seed)] for seed in args.seeds}
    lazy = baseline(test_iter)
    print(f"\n{P.num_epochs} epochs each, quick profile ({P}); seeds {args.seeds}; mean (min..max) over seeds")
    rows_by_seed = {name: row["seeds"] for name, row in rows.items()}
    print(experiments.seeds_table(rows_by_seed, {"background everywhere": lazy}))
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/init_and_lr.py", *sys.argv[1:]])
    payload = dict(
        benchmark="init_and_lr", command=command, seeds=args.seeds, settings=settings(P, test_iter),
        baseline=lazy, rows=rows, torch=torch.__version__, threads=torch.get_num_threads(),
        seconds=time.perf_counter() - start,
    )  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.json} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
