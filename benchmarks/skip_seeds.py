"""Does FCN-8s beat FCN-32s near object edges, over seeds, when each is trained from scratch?

Trains FCN-32s and FCN-8s (and FCN-16s unless ``--without-16s``) on the teaching dataset in the
quick profile with chapter 4's SGD (``comparison_settings``), each from a random start, for several
seeds, and prints each net's mean IoU on all pixels and inside a 3-pixel boundary band.
(Chapter 6 itself fine-tunes all three from chapter 4's FCN-32s, to fit its time budget.)
``--adam`` adds an FCN-8s row trained with Adam (``lr=1e-3``, ``wd=1e-4``) instead, to see
whether the result depends on the optimiser.

Usage::

    python benchmarks/skip_seeds.py [--seeds 0 1 2 3 4] [--without-16s] [--adam] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
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
from fcnlib import experiments as skips  # noqa: E402

BAND = 3


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--without-16s", action="store_true", help="train only FCN-32s and FCN-8s")
    p.add_argument("--adam", action="store_true", help="add an FCN-8s row trained with Adam")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "skip_seeds.json")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    P = fcnlib.profile("quick")
    train_iter, test_iter = fcnlib.data.load_data_voc(P.batch_size, P.crop_size, num_workers=P.num_workers)
    rows = [("FCN-32s", "32s", {}), ("FCN-16s", "16s", {}), ("FCN-8s", "8s", {})]
    if args.without_16s:
        rows.pop(1)
    if args.adam:
        rows.append(("FCN-8s, Adam", "8s", dict(optimizer="adam", lr=1e-3, wd=1e-4, momentum=0.0)))
    results = {name: {} for name, _, _ in rows}
    start = time.perf_counter()
    for seed in args.seeds:
        settings = skips.comparison_settings(P, seed=seed)
        for name, variant, change in rows:
            kwargs = dict(settings, **change)
            if args.epochs is not None:
                kwargs["num_epochs"] = args.epochs
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                net, _ = skips.train_variant(variant, train_iter, test_iter, P, plot=False, progress=False, **kwargs)
            r = fcnlib.training.evaluate_with_boundary(net, test_iter, widths=(BAND,))
            results[name][seed] = dict(miou=r["all"]["miou"], boundary=r[f"band{BAND}"]["miou"])
            print(
                f"seed {seed}  {name:32s} mIoU {r['all']['miou']:.3f}  boundary mIoU ({BAND} px) "
                f"{r[f'band{BAND}']['miou']:.3f}   [{time.perf_counter() - start:.0f} s]",
                flush=True,
            )

    print(
        f"\nboundary mIoU ({BAND} px band), quick profile, {P.num_epochs if args.epochs is None else args.epochs} "
        f"epochs, teaching dataset ({len(train_iter.dataset)} train / {len(test_iter.dataset)} val)"
    )
    header = "| seed | " + " | ".join(str(s) for s in args.seeds) + " | mean |"
    print(header)
    print("|---" * (len(args.seeds) + 2) + "|")
    for name, _, _ in rows:
        values = [results[name][s]["boundary"] for s in args.seeds]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {statistics.mean(values):.3f} |")
    base = results["FCN-32s"]
    for name, variant, _ in rows:
        if variant == "8s":
            wins = sum(results[name][s]["boundary"] > base[s]["boundary"] for s in args.seeds)
            margins = [results[name][s]["boundary"] - base[s]["boundary"] for s in args.seeds]
            print(
                f"{name}: beats FCN-32s near the edges for {wins} of {len(args.seeds)} seeds "
                f"(margin {min(margins):+.3f} .. {max(margins):+.3f})"
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            dict(
                benchmark="skip_seeds",
                band=BAND,
                seeds=args.seeds,
                results=results,
                torch=torch.__version__,
                threads=torch.get_num_threads(),
                seconds=time.perf_counter() - start,
            ),
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.json} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
