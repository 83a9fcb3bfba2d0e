"""Latency of full-image prediction: ``predict_full`` in "pad" and "tile" mode, and d2l's crop.

The image is VOC-sized (500x375, landscape: 375 rows, 500 columns) and the net is the
FCN-32s of the lessons (random weights: the cost does not depend on them). Rows:

* ``d2l crop``: d2l's ``predict`` on the top-left 320x480 crop (not every pixel);
* ``pad``: one forward pass on the image reflect-padded to 384x512;
* ``tile``: 320x480 windows at half-crop strides (here 2x2 = 4 windows), scores averaged.

Goal on a CPU: pad under 0.3 s. Usage::

    python benchmarks/bench_predict.py [--device cpu|cuda] [--size H W] [--repeat 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fcnlib  # noqa: E402
from fcnlib.inference import predict, predict_full, tile_starts  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--size", nargs=2, type=int, default=[375, 500], metavar=("H", "W"))
    p.add_argument("--crop", nargs=2, type=int, default=[320, 480], metavar=("H", "W"))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def timed(fn, device, repeat):
    fn()  # warm-up: oneDNN/cuDNN pick and cache their kernels on the first call
    times, cpu_times = [], []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is visible to PyTorch here")
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = fcnlib.fcn_resnet18(21, weights=None).to(device).eval()
    h, w = args.size
    ch, cw = args.crop
    image = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
    windows = len(tile_starts(max(h, ch), ch, ch // 2)) * len(tile_starts(max(w, cw), cw, cw // 2))
    cases = {
        f"d2l crop {min(ch, h - h % 32)}x{min(cw, w - w % 32)}": lambda: predict(
            net, image[:, : min(ch, h - h % 32), : min(cw, w - w % 32)]
        ),
        "pad": lambda: predict_full(net, image, mode="pad"),
        f"tile ({windows} windows)": lambda: predict_full(net, image, crop_size=(ch, cw), mode="tile"),
    }
    results = {}
    for name, fn in cases.items():
        times, cpu_times = timed(fn, device, args.repeat)
        results[name] = dict(
            median_s=statistics.median(times), min_s=min(times), runs=times, cpu_s=statistics.median(cpu_times)
        )
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(f"bench_predict on {device_name}: {w}x{h} image (W x H), FCN-32s, {args.repeat} runs after a warm-up")
    print(f"{'mode':22s} {'median s':>9s} {'min s':>8s} {'CPU s':>8s}")
    print("-" * 50)
    for name, r in results.items():
        print(f"{name:22s} {r['median_s']:9.3f} {r['min_s']:8.3f} {r['cpu_s']:8.3f}")
    pad = results["pad"]["median_s"]
    print(f"pad goal < 0.3 s: {'met' if pad < 0.3 else 'NOT met'} ({pad:.3f} s)")
    if device.type == "cpu":
        # On a busy machine the wall clock includes waiting for a core; the CPU time (all
        # threads together) is the work itself, so CPU s / threads is the unloaded latency.
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU s / threads = "
            f"{results['pad']['cpu_s'] / torch.get_num_threads():.3f} s for pad"
        )
    report = dict(
        device_name=device_name,
        size=[h, w],
        crop=[ch, cw],
        results=results,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        load_average=os.getloadavg()[0],
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
