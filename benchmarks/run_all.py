"""`make bench`: every benchmark against the d2l baseline, one after another, each in its own process.

Each script prints its own table and writes JSON under benchmarks/results/. Pass --small for a
quick smoke run of all of them (minutes instead of the better part of an hour on 2 cores).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

BENCHMARKS = [
    # (script, arguments for the real run, arguments for --small)
    ("bench_data.py", [], ["--small"]),
    (
        "train_vs_d2l.py",
        ["--device", "cpu", "--crop", "96", "128", "--batch", "32"],
        [
            "--device",
            "cpu",
            "--crop",
            "96",
            "128",
            "--batch",
            "32",
            "--epochs",
            "1",
            "--n-train",
            "160",
            "--n-val",
            "32",
        ],
    ),
    ("bench_predict.py", [], []),
    ("explorer_timing.py", ["--repeat", "30"], ["--repeat", "5"]),
    # The teaching dataset is learnable: FCN-32s in the quick profile against "background everywhere".
    ("learnable.py", ["--profile", "quick"], ["--profile", "quick", "--epochs", "1"]),
    # Chapter 6's staged training against FCN-8s at once, at the quick profile's scale (5 minutes).
    ("staged.py", [], ["--epochs", "1"]),
    # Chapter 6's self-check over five seeds, fine-tuned as in chapter 6 (13 minutes on 2 cores); --small: two seeds.
    ("skip_seeds.py", [], ["--seeds", "0", "1", "--without-16s"]),
]


def main(argv: list[str]) -> int:
    small = "--small" in argv
    RESULTS.mkdir(exist_ok=True)
    failures = []
    for script, args, small_args in BENCHMARKS:
        name = Path(script).stem
        cmd = [
            sys.executable,
            str(HERE / script),
            *(small_args if small else args),
            "--json",
            str(RESULTS / f"{name}.json"),
        ]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(cmd)
        print(f"=== {name}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failures.append(name)
    if failures:
        print("failed: " + ", ".join(failures))
        return 1
    print(f"\nall benchmarks done; JSON in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
