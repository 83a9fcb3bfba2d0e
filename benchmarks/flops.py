"""How much arithmetic is one training step, and how fast can this GPU do arithmetic at all?

Two numbers bound any training speed-up (see GPU_NOTES.md):

* **work**: the floating-point operations (FLOPs) of one training step of FCN-32s
  ResNet-18 on 320x480 crops, batch 32 (d2l's settings), forward plus backward.
  ``torch.utils.flop_counter.FlopCounterMode`` counts the matrix work of every convolution
  and matrix product from shapes alone, so we run the step on the ``meta`` device: no
  memory, no arithmetic, the same count on a laptop as on an H100. (Batch norm, ReLU, the
  loss and the optimizer are not counted: they move bytes, they are not matrix work.)
* **rate**: the bf16 matrix rate this GPU reaches on a big ``torch.matmul`` loop.

Work over rate is the *floor*: the fewest seconds a step can take, hence the most images
per second. A trainer's measured images/s over that floor is its *achieved fraction*.

Usage::

    python benchmarks/flops.py                   # FLOPs (and, on CUDA, the bf16 rate)
    python benchmarks/flops.py --batch 8 --crop 256 256 --json flops.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = [
    "count_step_flops",
    "activation_elements",
    "fcn_step_flops",
    "matmul_rate",
    "copy_bandwidth",
    "floor_images_per_s",
    "TOUCHES_PER_ELEMENT",
    "main",
]

TOUCHES_PER_ELEMENT = 5
"""Rough memory traffic per activation element in one training step: written and read once in
the forward pass, then (backward) the saved value read, its gradient written and read."""


def seed_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d2l's loss: per-pixel cross-entropy averaged over each image, one value per image."""
    return F.cross_entropy(logits, target, reduction="none").mean(1).mean(1)


def count_step_flops(
    model: nn.Module,
    batch_shape: Sequence[int],
    loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: str = "meta",
) -> dict[str, int]:
    """FLOPs of one training step (forward, then ``loss.sum().backward()``) of ``model``.

    Args:
        model: any module; it is moved to ``device`` (a copy is not made).
        batch_shape: the input's shape, e.g. ``(32, 3, 320, 480)``.
        loss_fn: maps the output to a tensor whose sum is back-propagated; the default
            is the output's sum, which adds no matrix work.
        device: ``"meta"`` (shapes only, instant) or a real device.

    Returns ``{"forward": ..., "backward": ..., "total": ...}`` in FLOPs, counting a
    multiply-add as two, as ``FlopCounterMode`` does.
    """
    if len(batch_shape) < 1 or any((not isinstance(s, int)) or s < 1 for s in batch_shape):
        raise ValueError(f"batch_shape must be positive ints like (32, 3, 320, 480), got {tuple(batch_shape)!r}")
    model = model.to(device).train()
    x = torch.empty(tuple(batch_shape), device=device)
    if device != "meta":
        x.normal_()
    with FlopCounterMode(display=False) as forward:
        out = model(x)
        loss = loss_fn(out) if loss_fn is not None else out
    with FlopCounterMode(display=False) as backward:
        loss.sum().backward()
    f, b = forward.get_total_flops(), backward.get_total_flops()
    return {"forward": int(f), "backward": int(b), "total": int(f + b)}


def activation_elements(model: nn.Module, batch_shape: Sequence[int]) -> int:
    """Elements of every leaf module's output in one forward pass (on ``meta``: shapes only).

    Multiplied by bytes per element and :data:`TOUCHES_PER_ELEMENT` this estimates the
    bytes a step must move through GPU memory: the second floor, next to the FLOPs one.
    """
    model = model.to("meta")
    total = 0

    def hook(module: nn.Module, inputs, output) -> None:
        nonlocal total
        total += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(torch.empty(tuple(batch_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    return int(total)


def fcn_step_flops(
    batch: int = 32, crop: tuple[int, int] = (320, 480), num_classes: int = 21, variant: str = "32s"
) -> dict[str, float]:
    """FLOPs of one training step of d2l's FCN (ResNet-18, random weights) with its loss."""
    import fcnlib

    net = fcnlib.fcn_resnet18(num_classes=num_classes, variant=variant, weights=None)
    h, w = crop
    target = torch.zeros((batch, h, w), dtype=torch.long, device="meta")
    counts = count_step_flops(net, (batch, 3, h, w), loss_fn=lambda out: seed_loss(out, target))
    elements = activation_elements(net, (1, 3, h, w))
    return dict(
        counts,
        batch=batch,
        crop=[h, w],
        per_image=counts["total"] / batch,
        activation_elements_per_image=elements,
        bf16_bytes_per_image=2 * TOUCHES_PER_ELEMENT * elements,
    )


def matmul_rate(
    device: str = "cuda", n: int = 8192, dtype: torch.dtype = torch.bfloat16, iters: int = 50, warmup: int = 5
) -> float:
    """Measured matrix rate in FLOP/s: ``iters`` products of random n x n matrices, timed with CUDA events.

    Random data, not zeros (zeros can run faster than real data); the median of the
    per-product times is used so that one slow launch does not skew it.
    """
    if not str(device).startswith("cuda"):
        raise ValueError(
            f"matmul_rate measures a CUDA GPU, got device {device!r}; the CPU rate is not the floor we want"
        )
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(warmup):
        torch.matmul(a, b)
    torch.cuda.synchronize(device)
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return 2 * n**3 / times[len(times) // 2]


def copy_bandwidth(device: str = "cuda", nbytes: int = 2**31, iters: int = 20) -> float:
    """Measured device-to-device copy bandwidth in bytes/s, counting bytes read plus bytes written."""
    if not str(device).startswith("cuda"):
        raise ValueError(f"copy_bandwidth measures a CUDA GPU, got device {device!r}")
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize(device)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        dst.copy_(src)
    end.record()
    end.synchronize()
    return 2 * nbytes * iters / (start.elapsed_time(end) / 1e3)


def floor_images_per_s(work_per_image: float, rate: float) -> float:
    """The most images per second a GPU can train: its ``rate`` over the work one image needs.

    Works for both floors: FLOPs per image over FLOP/s, or bytes per image over bytes/s.
    """
    if work_per_image <= 0 or rate <= 0:
        raise ValueError(f"need positive work per image and rate, got {work_per_image} and {rate}")
    return rate / work_per_image


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--crop", type=int, nargs=2, default=(320, 480), metavar=("H", "W"))
    parser.add_argument("--matmul-size", type=int, default=8192, help="n of the n x n x n bf16 products (CUDA only)")
    parser.add_argument("--no-gpu", action="store_true", help="count FLOPs only, even where CUDA is available")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    result = fcn_step_flops(batch=args.batch, crop=tuple(args.crop))
    print(
        f"FCN-32s ResNet-18, {args.crop[0]}x{args.crop[1]}, batch {args.batch}: one training step = "
        f"{result['total'] / 1e12:.3f} TFLOP (forward {result['forward'] / 1e12:.3f}, backward "
        f"{result['backward'] / 1e12:.3f}), {result['per_image'] / 1e9:.2f} GFLOP per image "
        f"[counted in {time.perf_counter() - t0:.1f} s]"
    )
    print(
        f"activations: {result['activation_elements_per_image'] / 1e6:.1f} M elements per image forward, so roughly "
        f"{result['bf16_bytes_per_image'] / 1e6:.0f} MB of bf16 memory traffic per image and step "
        f"({TOUCHES_PER_ELEMENT} touches per element)"
    )
    if torch.cuda.is_available() and not args.no_gpu:
        rate = matmul_rate("cuda", n=args.matmul_size)
        bandwidth = copy_bandwidth("cuda")
        result.update(
            device=torch.cuda.get_device_name(),
            bf16_matmul_flops=rate,
            floor_images_per_s=floor_images_per_s(result["per_image"], rate),
            copy_bytes_per_s=bandwidth,
            memory_floor_images_per_s=floor_images_per_s(result["bf16_bytes_per_image"], bandwidth),
        )
        print(
            f"{result['device']}: bf16 matmul {rate / 1e12:.0f} TFLOP/s -> compute floor "
            f"{result['floor_images_per_s']:,.0f} images/s ({result['per_image'] * args.batch / rate * 1e3:.2f} ms per step)"
        )
        print(
            f"{result['device']}: copy {bandwidth / 1e12:.2f} TB/s -> rough memory floor "
            f"{result['memory_floor_images_per_s']:,.0f} images/s"
        )
    else:
        result.update(
            device="cpu",
            bf16_matmul_flops=None,
            floor_images_per_s=None,
            copy_bytes_per_s=None,
            memory_floor_images_per_s=None,
        )
        print("no CUDA GPU here: the bf16 matmul rate (and so the floor) is measured only on a GPU")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
