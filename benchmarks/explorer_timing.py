"""Slider-update times of the fcnlib explorers (what one slider move costs on this CPU).

Each row: an explorer, the control moved, and the time of Explorer.refresh() for that
change: the pure view function, the figure, and its PNG (what the notebook receives).
Reference row: one plain 6x3-inch imshow figure saved to PNG, to compare machines.
Usage: OMP_NUM_THREADS=1 python benchmarks/explorer_timing.py [--repeat 30] [--json PATH]
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from fcnlib import widgets as W

_args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
_args.add_argument("--repeat", type=int, default=30, help="slider moves per row")
_args.add_argument("--json", type=Path, default=None)
ARGS = _args.parse_args()
N = ARGS.repeat


CPU = {}


def measure(explorer, name, values):
    times, cpu = [], []
    for i in range(N):
        c = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):  # outside a kernel, display() prints a repr
            explorer.controls[name].value = values[i % len(values)]
        cpu.append(time.process_time() - c)
        times.append(explorer.last_update_s)
    CPU[id(times)] = cpu
    return times


def p90(values):
    return sorted(values)[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]


def reference():
    times, cpu = [], []
    for _ in range(N):
        c = time.process_time()
        t = time.perf_counter()
        fig = Figure(figsize=(6, 3))
        fig.subplots().imshow(np.random.rand(10, 10))
        fig.savefig(io.BytesIO(), format="png", dpi=72)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU[id(times)] = cpu
    return times


class _PixelNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 21, 1)

    def forward(self, x):
        return self.conv(x)


rows = [("reference: plain imshow figure -> PNG", "", reference())]
e = W.bilinear_explorer()
rows.append(("bilinear_explorer", "factor 2<->3", measure(e, "factor", [3, 2])))
rows.append(("bilinear_explorer", "kernel_size 4<->5", measure(e, "kernel_size", [5, 4])))
e = W.transposed_conv_explorer()
rows.append(("transposed_conv_explorer (default 2x2)", "stride 1<->2", measure(e, "stride", [2, 1])))
rows.append(("transposed_conv_explorer (default 2x2)", "step 0..4", measure(e, "step", [0, 1, 2, 3, 4])))
e.set(size=5, kernel_size=4, stride=3)
rows.append(("transposed_conv_explorer (largest: 5x5, k4, s3)", "padding 0<->1", measure(e, "padding", [1, 0])))
e = W.checkerboard_explorer()
rows.append(("checkerboard_explorer", "kernel_size 3<->4", measure(e, "kernel_size", [4, 3])))
rows.append(("checkerboard_explorer", "method toggle", measure(e, "method", ["resize", "transposed"])))

ref = statistics.median(rows[0][2])
print(
    f"{'explorer':50s} {'control':18s} {'median ms':>9s} {'min ms':>7s} {'p90 ms':>7s} {'max ms':>7s} {'cpu ms':>7s} {'x ref':>6s}"
)
for name, control, t in rows:
    c = CPU[id(t)]
    print(
        f"{name:50s} {control:18s} {1000 * statistics.median(t):9.0f} {1000 * min(t):7.0f} {1000 * p90(t):7.0f}"
        f" {1000 * max(t):7.0f} {1000 * statistics.median(c):7.0f} {statistics.median(t) / ref:6.1f}"
    )
print(
    "(Explorer.refresh pauses Python's cyclic garbage collector while it draws; without that, about one\n"
    " update in ten paid for a full collection of the kernel's objects, 200-300 ms on 2 cores)"
)
if ARGS.json is not None:
    ARGS.json.parent.mkdir(parents=True, exist_ok=True)
    ARGS.json.write_text(
        json.dumps(
            dict(
                benchmark="explorer_timing",
                repeat=N,
                threads=torch.get_num_threads(),
                load_average=os.getloadavg()[0],
                rows=[
                    dict(
                        explorer=name,
                        control=control,
                        median_ms=1000 * statistics.median(t),
                        min_ms=1000 * min(t),
                        p90_ms=1000 * p90(t),
                        max_ms=1000 * max(t),
                        cpu_median_ms=1000 * statistics.median(CPU[id(t)]),
                    )
                    for name, control, t in rows
                ],
            ),
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {ARGS.json}")
