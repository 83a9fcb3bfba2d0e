"""Does FCN-8s beat FCN-32s near object edges, over seeds, as chapter 6 trains them?

For each seed, as chapters 4 and 6 do with seed 0 in the quick profile: train an FCN-32s for the profile's
epochs with chapter 4's recipe (``fcnlib.experiments.train_fcn(..., **P.recipe)``: the profile's optimiser and
learning-rate schedule), then fine-tune FCN-32s, FCN-16s and FCN-8s from it for one more epoch each with the
same recipe (``train_variant(..., init=net32)``; the FCN-32s trained as long is the control). Prints each net's
mean IoU on all pixels and inside a 3-pixel boundary band on the teaching dataset's test split, per seed, and how
often FCN-8s beats FCN-32s near the edges.

``--from-scratch`` trains every net from a random start for the profile's epochs instead (no shared FCN-32s).
``--without-16s`` leaves FCN-16s out; ``--adam`` adds an FCN-8s row fine-tuned with AdamW at a constant rate
(``lr=1e-3``, ``wd=1e-4``), to see whether the result depends on the optimiser.

Usage::

    python benchmarks/skip_seeds.py [--seeds 0 1 2 3 4] [--from-scratch] [--without-16s] [--adam] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import statistics
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

BAND = 3


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--from-scratch", action="store_true", help="train every net from a random start")
    p.add_argument("--without-16s", action="store_true", help="train only FCN-32s and FCN-8s")
    p.add_argument("--adam", action="store_true", help="add an FCN-8s row trained with Adam")
    p.add_argument("--epochs", type=int, default=None, help="epochs of each net (default: chapter 6's)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "skip_seeds.json")
    return p.parse_args(argv)


def quietly(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def score(net, test_iter) -> dict[str, float]:
    r = fcnlib.training.evaluate_with_boundary(net, test_iter, widths=(BAND,))
    return dict(miou=r["all"]["miou"], boundary=r[f"band{BAND}"]["miou"])


def run_seed(seed, rows, args, P, train_iter, test_iter, log) -> dict[str, dict[str, float]]:
    """One seed: chapter 4's FCN-32s (unless from scratch), then every row; ``{row: scores}``."""
    settings = experiments.comparison_settings(P, seed=seed)
    found, init = {}, None
    if not args.from_scratch:
        # with the test set, as chapter 4: evaluating draws from the seeded generator, so the batches match
        init, _ = quietly(
            experiments.train_fcn, train_iter, test_iter, **P.recipe, num_epochs=P.num_epochs, devices=P.devices,
            seed=seed,
        )  # fmt: skip
        found["FCN-32s, chapter 4"] = score(init, test_iter)
        log(seed, "FCN-32s, chapter 4", found["FCN-32s, chapter 4"])
    epochs = args.epochs if args.epochs is not None else (P.num_epochs if args.from_scratch else 1)
    for name, variant, change in rows:
        kwargs = dict(settings, **change, num_epochs=epochs, init=init)
        net, _ = quietly(experiments.train_variant, variant, train_iter, None, P, **kwargs)
        found[name] = score(net, test_iter)
        log(seed, name, found[name])
    return found


def report(results, rows, seeds) -> None:
    header = "| net | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |"
    print(header + "\n" + "|---" * (len(seeds) + 2) + "|")
    for name in results[seeds[0]]:
        values = [results[s][name]["boundary"] for s in seeds]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {statistics.mean(values):.3f} |")
    for name, variant, _ in rows:
        if variant != "32s":
            margins = [results[s][name]["boundary"] - results[s]["FCN-32s"]["boundary"] for s in seeds]
            wins = sum(m > 0 for m in margins)
            print(
                f"{name}: beats FCN-32s near the edges for {wins} of {len(seeds)} seeds "
                f"(margin {min(margins):+.3f} .. {max(margins):+.3f}, mean {statistics.mean(margins):+.3f})"
            )


def main(argv=None) -> int:
    args = parse_args(argv)
    P = fcnlib.profile("quick")
    train_iter, test_iter = fcnlib.data.load_data_voc(P.batch_size, P.crop_size, num_workers=P.num_workers)
    rows = [("FCN-32s", "32s", {}), ("FCN-16s", "16s", {}), ("FCN-8s", "8s", {})]
    if args.without_16s:
        rows.pop(1)
    if args.adam:
        rows.append(("FCN-8s, AdamW", "8s", dict(optimizer="adamw", lr=1e-3, wd=1e-4, schedule="constant")))
    start = time.perf_counter()

    def log(seed, name, r):
        print(
            f"seed {seed}  {name:20s} mIoU {r['miou']:.3f}  boundary mIoU ({BAND} px) {r['boundary']:.3f}"
            f"   [{time.perf_counter() - start:.0f} s]",
            flush=True,
        )

    results = {seed: run_seed(seed, rows, args, P, train_iter, test_iter, log) for seed in args.seeds}
    design = "each net from scratch" if args.from_scratch else "fine-tuned from a per-seed FCN-32s, as chapter 6"
    print(
        f"\nboundary mIoU ({BAND} px band), quick profile ({P.num_epochs} epochs for FCN-32s; {P.recipe}), {design}; "
        f"{test_iter.dataset.source} data ({len(train_iter.dataset)} train / {len(test_iter.dataset)} test images)"
    )
    report(results, rows, args.seeds)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/skip_seeds.py", *sys.argv[1:]])
    settings = dict(P.recipe, crop_size=P.crop_size, batch_size=P.batch_size)
    payload = dict(
        benchmark="skip_seeds", command=command, design=design, band=BAND, seeds=args.seeds, results=results,
        settings=dict(settings, ch4_epochs=P.num_epochs, epochs_each=args.epochs or (P.num_epochs if args.from_scratch else 1), data=test_iter.dataset.source),
        torch=torch.__version__, threads=torch.get_num_threads(), seconds=time.perf_counter() - start,
    )  # fmt: skip
    args.json.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.json} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
