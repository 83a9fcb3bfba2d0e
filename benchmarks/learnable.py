"""Is the teaching dataset learnable? FCN-32s trained on it with a profile's settings, against the baseline.

Generates the teaching dataset the profile would use (quick: 960 + 96 scenes of 144x192;
full: 1464 + 1449 scenes of 375x500, VOC2012's split sizes) under ``data/bench/``, trains
FCN-32s from ``fcn_resnet18(weights="auto")`` with the profile's crops, batch, optimiser, schedule and
epochs (what chapter 4 does), and prints the test metrics after every epoch beside the
"background everywhere" baseline, with the time each epoch took.

On a GPU this is the full profile's claim ("a high mIoU in minutes"); on a CPU the full
profile takes about half an hour on 2 cores but shows the same learning curve.

Usage::

    python benchmarks/learnable.py --profile quick            # about 1 minute on 2 cores
    python benchmarks/learnable.py --profile full --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fcnlib  # noqa: E402

# FCN-32s, seed 0, test mIoU on the previous teaching dataset (generator version 2: random background colours,
# colour hint 0.8, object radii 0.2-0.42, texture contrasts 40/40), measured with this script before version 3.
PREVIOUS = {
    "quick": dict(miou=0.398, baseline=0.098, seconds=55),
    "full": dict(miou=0.411, baseline=0.103, seconds=1188),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=["quick", "full"], default="quick")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best here)")
    p.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device) if args.device else fcnlib.best_device()
    P = fcnlib.profile(args.profile, device=device)
    epochs = P.num_epochs if args.epochs is None else args.epochs
    root = ROOT / "data" / "bench" / f"learnable-{P.n_train}-{P.n_val}-{P.image_size[0]}x{P.image_size[1]}"
    train_iter, test_iter = fcnlib.data.load_data_voc(
        P.batch_size,
        P.crop_size,
        root=root,
        num_workers=P.num_workers,
        n_train=P.n_train,
        n_val=P.n_val,
        image_size=P.image_size,
    )
    C = train_iter.dataset.num_classes
    lazy = fcnlib.ConfusionMatrix(C)
    for _, y in test_iter:
        lazy.update(torch.zeros_like(y), y)
    baseline = lazy.compute()

    torch.manual_seed(args.seed)
    net = fcnlib.fcn_resnet18(C, weights="auto")
    trainer, scheduler = fcnlib.profiles.make_trainer(net.parameters(), epochs * len(train_iter), **P.recipe)
    torch.manual_seed(args.seed + 1)
    start = time.perf_counter()
    history = fcnlib.train(net, train_iter, test_iter, None, trainer, epochs, P.devices, scheduler=scheduler)
    seconds = time.perf_counter() - start

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(
        f"\nFCN-32s on the teaching dataset, profile {P.name!r} on {name}: {len(train_iter.dataset)} train / "
        f"{len(test_iter.dataset)} val images of {P.image_size[0]}x{P.image_size[1]}, crops {P.crop_size}, batch "
        f"{P.batch_size}, {P.recipe}, backbone: {net.weights_source}"
    )
    print(f"{'epoch':>5} {'loss':>7} {'pixel acc':>9} {'mean acc':>8} {'mIoU':>6} {'seconds':>8}")
    for e in history:
        print(
            f"{e['epoch']:>5} {e['loss']:>7.3f} {e['pixel_acc']:>9.3f} {e['mean_acc']:>8.3f} {e['miou']:>6.3f} "
            f"{e['seconds']:>8.1f}"
        )
    print(
        f"{'background everywhere':>24} {baseline['pixel_acc']:>9.3f} {baseline['mean_acc']:>8.3f} "
        f"{baseline['miou']:>6.3f}"
    )
    print(
        f"total {seconds:.0f} s ({seconds / 60:.1f} min); final mIoU {history[-1]['miou']:.3f} against the "
        f"baseline's {baseline['miou']:.3f}"
    )
    old = PREVIOUS[P.name]
    print(
        f"previous teaching dataset (generator version 2, recorded on 2 CPU cores): final mIoU {old['miou']:.3f} "
        f"against its baseline's {old['baseline']:.3f}, {old['seconds']} s"
    )
    path = args.json or ROOT / "benchmarks" / "results" / f"learnable_{P.name}_{device.type}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            dict(
                benchmark="learnable",
                profile=P.name,
                device=name,
                seconds=seconds,
                backbone=net.weights_source,
                baseline={k: baseline[k] for k in ("pixel_acc", "mean_acc", "miou", "fw_iou")},
                epochs=[
                    {
                        k: e[k]
                        for k in ("epoch", "loss", "train_acc", "pixel_acc", "mean_acc", "miou", "fw_iou", "seconds")
                    }
                    for e in history
                ],
            ),
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
