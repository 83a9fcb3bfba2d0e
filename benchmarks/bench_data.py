"""Data pipeline: fcnlib's VOCDataset/load_data_voc against d2l's VOCSegDataset on a VOC2012-sized tree.

The tree is generated (VOC2012 itself cannot be downloaded here): 1464 train + 1449 val
images in VOC's mix of sizes (mostly 500x375 landscape, some portrait and shorter ones;
about a quarter are smaller than a 320x480 crop, as in VOC). Each pipeline runs in its own
process so that peak memory is measured fairly:

* ``load s``: building the train and test datasets and loaders (d2l reads and normalises
  every image up front; fcnlib only lists the files);
* ``peak RSS``: the process's maximum resident memory (``ru_maxrss``), and the part of it
  above the memory after imports;
* ``img/s``: one pass over the training batches (batch 32, 320x480 crops, num_workers=0);
* ``load+pass s``: what a learner waits for before the first epoch ends;
* ``files used``: train + val images the loaders serve (d2l drops those smaller than the crop).

fcnlib decodes the images of a batch on a few threads (``VOCDataset(decode_threads=...)``,
default ``min(4, CPUs)``), still inside the loading process (``num_workers=0``); the row
``fcnlib-1thread`` decodes one image after another, for the like-for-like comparison.
``fcnlib-preload`` keeps the decoded uint8 images in memory (``preload=True``).

``--workers-row 2`` adds a row for fcnlib with ``num_workers=2`` (decoding in two worker
processes; its peak RSS is the main process's only).

Goals: fcnlib's peak memory at most a quarter of d2l's, img/s no lower, every file used.
Usage::

    python benchmarks/bench_data.py [--small] [--json PATH] [--tree DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# VOC2012's segmentation images are 500 pixels on the long side; most are landscape 500x375.
VOC_LIKE_SIZES = [(375, 500)] * 14 + [(500, 375)] * 3 + [(333, 500), (281, 500), (500, 333)]
FULL = dict(n_train=1464, n_val=1449)
SMALL = dict(n_train=96, n_val=64)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help=f"a quick check on {SMALL['n_train']}+{SMALL['n_val']} images")
    p.add_argument("--tree", type=Path, default=None, help="where to generate the tree (default build/bench-data/)")
    p.add_argument("--json", type=Path, default=None, help="write the results here (default benchmarks/results/)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crop", nargs=2, type=int, default=[320, 480], metavar=("H", "W"))
    p.add_argument("--threads", type=int, default=1, help="torch threads in both pipelines")
    p.add_argument("--workers-row", type=int, default=0, help="add an fcnlib row with this num_workers (e.g. 2)")
    p.add_argument("--worker", choices=["fcnlib", "fcnlib-1thread", "fcnlib-preload", "d2l"], help=argparse.SUPPRESS)
    p.add_argument("--num-workers", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def worker(args) -> dict:
    """Run one pipeline in this process and return its measurements."""
    import torch

    torch.set_num_threads(args.threads)
    crop = tuple(args.crop)
    voc_dir = args.tree / "VOCdevkit" / "VOC2012"
    if args.worker == "d2l":
        from d2l import torch as d2l
    else:
        import fcnlib.data
    torch.manual_seed(0)
    base = current_rss_mb()
    start = time.perf_counter()
    if args.worker == "d2l":
        # d2l.load_data_voc without its download step and with num_workers=0.
        train_set = d2l.VOCSegDataset(True, crop, str(voc_dir))
        test_set = d2l.VOCSegDataset(False, crop, str(voc_dir))
        train_iter = torch.utils.data.DataLoader(train_set, args.batch, shuffle=True, drop_last=True, num_workers=0)
        torch.utils.data.DataLoader(test_set, args.batch, drop_last=True, num_workers=0)
    else:
        train_iter, test_iter = fcnlib.data.load_data_voc(
            args.batch,
            crop,
            root=args.tree,
            num_workers=args.num_workers,
            preload=args.worker == "fcnlib-preload",
            download=False,
        )
        train_set, test_set = train_iter.dataset, test_iter.dataset
        if args.worker == "fcnlib-1thread":
            train_set.decode_threads = test_set.decode_threads = 1
    load_s = time.perf_counter() - start
    images, start = 0, time.perf_counter()
    for x, y in train_iter:
        assert x.shape[-2:] == crop and y.shape[-2:] == crop
        images += x.shape[0]
    pass_s = time.perf_counter() - start
    return dict(
        pipeline=args.worker,
        num_workers=args.num_workers,
        load_s=load_s,
        pass_s=pass_s,
        images=images,
        images_per_s=images / pass_s,
        peak_rss_mb=peak_rss_mb(),
        rss_after_imports_mb=base,
        files_used=len(train_set) + len(test_set),
    )


def ensure_tree(tree: Path, n_train: int, n_val: int) -> Path:
    from fcnlib.data import make_synthetic_voc

    info = tree / "VOCdevkit" / "VOC2012" / "classes.json"
    if info.is_file():
        g = json.loads(info.read_text()).get("generator", {})
        if (
            g.get("n_train") == n_train
            and g.get("n_val") == n_val
            and g.get("image_size") == [list(s) for s in VOC_LIKE_SIZES]
        ):
            return tree
    print(f"generating a VOC2012-sized tree ({n_train} + {n_val} images) in {tree} ...", flush=True)
    start = time.perf_counter()
    make_synthetic_voc(tree, n_train, n_val, seed=0, image_size=VOC_LIKE_SIZES, progress=True)
    print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
    return tree


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return 0
    sizes = SMALL if args.small else FULL
    tree = args.tree or ROOT / "build" / ("bench-data-small" if args.small else "bench-data")
    ensure_tree(tree, **sizes)
    results = []
    runs = [("fcnlib", 0), ("fcnlib-preload", 0), ("d2l", 0), ("fcnlib-1thread", 0)] + (
        [("fcnlib", args.workers_row)] if args.workers_row > 0 else []
    )
    for name, num_workers in runs:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            name,
            "--tree",
            str(tree),
            "--batch",
            str(args.batch),
            "--crop",
            *map(str, args.crop),
            "--threads",
            str(args.threads),
            "--num-workers",
            str(num_workers),
        ]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode:
            print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
            print(f"{name} pipeline failed (exit {out.returncode}; -9 means it ran out of memory)", file=sys.stderr)
            return 1
        line = [s for s in out.stdout.splitlines() if s.startswith("RESULT ")][-1]
        results.append(json.loads(line[len("RESULT ") :]))
    ours, preloaded, d2l, one_thread = results[:4]
    total = sizes["n_train"] + sizes["n_val"]
    print(
        f"\nVOC-format tree: {sizes['n_train']} train + {sizes['n_val']} val images (mostly 500x375), "
        f"batch {args.batch}, crops {args.crop[0]}x{args.crop[1]}, num_workers=0, {args.threads} torch thread(s)"
    )
    header = (
        f"{'pipeline':<16}{'workers':>8}{'load s':>8}{'peak RSS MB':>13}{'data MB':>9}{'img/s':>8}"
        f"{'load+pass s':>13}{'files used':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['pipeline']:<16}{r['num_workers']:>8}{r['load_s']:>8.1f}{r['peak_rss_mb']:>13.0f}"
            f"{r['peak_rss_mb'] - r['rss_after_imports_mb']:>9.0f}{r['images_per_s']:>8.1f}"
            f"{r['load_s'] + r['pass_s']:>13.1f}{r['files_used']:>7}/{total}"
        )
    ratios = dict(
        peak_rss_d2l_over_fcnlib=d2l["peak_rss_mb"] / ours["peak_rss_mb"],
        images_per_s_fcnlib_over_d2l=ours["images_per_s"] / d2l["images_per_s"],
        load_s_d2l_over_fcnlib=d2l["load_s"] / max(ours["load_s"], 1e-9),
        load_plus_pass_d2l_over_fcnlib=(d2l["load_s"] + d2l["pass_s"]) / (ours["load_s"] + ours["pass_s"]),
        images_per_s_fcnlib_1thread_over_d2l=one_thread["images_per_s"] / d2l["images_per_s"],
        peak_rss_d2l_over_fcnlib_preload=d2l["peak_rss_mb"] / preloaded["peak_rss_mb"],
        images_per_s_fcnlib_preload_over_d2l=preloaded["images_per_s"] / d2l["images_per_s"],
    )
    print(
        f"\nd2l/fcnlib peak memory {ratios['peak_rss_d2l_over_fcnlib']:.1f}x (goal >= 4), "
        f"fcnlib/d2l img/s {ratios['images_per_s_fcnlib_over_d2l']:.2f}x (goal >= 1), "
        f"files used {ours['files_used']} vs {d2l['files_used']} of {total}; "
        f"d2l/fcnlib load+pass {ratios['load_plus_pass_d2l_over_fcnlib']:.1f}x"
    )
    print(
        f"decoding on one thread (decode_threads=1): fcnlib/d2l img/s "
        f"{ratios['images_per_s_fcnlib_1thread_over_d2l']:.2f}x (goal >= 1)"
    )
    print(
        f"with preload=True: d2l/fcnlib peak memory {ratios['peak_rss_d2l_over_fcnlib_preload']:.1f}x (goal >= 4), "
        f"fcnlib/d2l img/s {ratios['images_per_s_fcnlib_preload_over_d2l']:.2f}x (goal >= 1), "
        f"files used {preloaded['files_used']} of {total}"
    )
    report = dict(
        benchmark="bench_data",
        small=args.small,
        n_train=sizes["n_train"],
        n_val=sizes["n_val"],
        batch=args.batch,
        crop=args.crop,
        threads=args.threads,
        results=results,
        ratios=ratios,
        machine=dict(python=platform.python_version(), platform=platform.platform(), cpus=os.cpu_count()),
        time=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    path = args.json or ROOT / "benchmarks" / "results" / ("bench_data_small.json" if args.small else "bench_data.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
