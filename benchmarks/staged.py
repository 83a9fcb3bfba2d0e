"""Staged training (32s -> 16s -> 8s, as the FCN paper) against FCN-8s trained at once, same budget.

Chapter 6 runs this comparison in the full profile only (on a GPU); this script runs it in
any profile, by default the quick one on the teaching dataset (about 6 minutes on 2 cores):

* staged: FCN-32s for E epochs, then FCN-16s started from it (``skips.init_from``: its new
  skip layer at zero) for E epochs at ``lr * 0.1``, then FCN-8s from that for E epochs at
  ``lr * 0.1`` (``skips.train_staged`` with ``lr_scale=(1, 0.1, 0.1)``, the chapter's call);
* at once: FCN-8s for 3E epochs at ``lr``,

both with ``skips.comparison_settings`` (chapter 4's optimiser) and the same seed. Prints
the four metrics and the boundary mIoU (3 px band) of both final nets, and the time.

Usage::

    python benchmarks/staged.py [--profile quick|full] [--epochs E] [--seed 0] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fcnlib  # noqa: E402
from fcnlib import experiments as skips  # noqa: E402

BAND = 3


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=["quick", "full"], default="quick")
    p.add_argument("--epochs", type=int, default=None, help="epochs per stage (default: the profile's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    P = fcnlib.profile(args.profile)
    epochs = P.num_epochs if args.epochs is None else args.epochs
    train_iter, test_iter = fcnlib.data.load_data_voc(P.batch_size, P.crop_size, num_workers=P.num_workers)
    settings = dict(skips.comparison_settings(P, seed=args.seed), num_epochs=epochs, plot=False, progress=False)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        staged = skips.train_staged(train_iter, test_iter, P, lr_scale=(1.0, 0.1, 0.1), **settings)
    staged_s = time.perf_counter() - start
    settings["num_epochs"] = 3 * epochs
    with contextlib.redirect_stdout(io.StringIO()):
        at_once, _ = skips.train_variant("8s", train_iter, test_iter, P, **settings)
    at_once_s = time.perf_counter() - start - staged_s
    rows = {
        f"FCN-32s (stage 1, {epochs} epochs)": staged["32s"][0],
        f"FCN-16s (stage 2, +{epochs})": staged["16s"][0],
        f"FCN-8s staged (stage 3, +{epochs})": staged["8s"][0],
        f"FCN-8s at once ({3 * epochs} epochs)": at_once,
    }
    measured = {}
    for name, net in rows.items():
        r = fcnlib.training.evaluate_with_boundary(net, test_iter, widths=(BAND,))
        measured[name] = dict(r["all"], boundary=r[f"band{BAND}"]["miou"])
    print(
        f"\nprofile {P.name!r} on {P.device.type}, teaching dataset or VOC as load_data_voc finds it, seed {args.seed}"
    )
    print(skips.comparison_table(measured, extra=[("boundary", f"boundary IU ({BAND} px)")]))
    print(f"staged: {staged_s:.0f} s, at once: {at_once_s:.0f} s")
    path = args.json or ROOT / "benchmarks" / "results" / f"staged_{P.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            dict(
                benchmark="staged",
                profile=P.name,
                epochs_per_stage=epochs,
                seed=args.seed,
                staged_seconds=staged_s,
                at_once_seconds=at_once_s,
                results={
                    name: {k: m[k] for k in ("pixel_acc", "mean_acc", "miou", "fw_iou", "boundary")}
                    for name, m in measured.items()
                },
            ),
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
