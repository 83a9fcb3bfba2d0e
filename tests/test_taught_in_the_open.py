"""Functions a chapter types in the open agree with fcnlib's copies that later chapters import."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fcnlib

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def chapter_definitions(notebook: str, *names: str) -> dict:
    """Run the code cells of ``notebook`` that define ``names`` (``def name(``) and return what they define."""
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    namespace = {"torch": torch, "nn": nn, "F": F, "fcnlib": fcnlib, "print": lambda *args, **kwargs: None}
    for name in names:
        sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        found = [s for s in sources if f"def {name}(" in s]
        assert len(found) == 1, f"{notebook} should define {name} in exactly one code cell, found {len(found)}"
        exec(compile(found[0], f"{notebook}:{name}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("kernel_size", range(1, 65))
def test_chapter1_bilinear_kernel_is_fcnlibs(kernel_size):
    chapter = chapter_definitions("01_bilinear_kernel.ipynb", "bilinear_kernel")["bilinear_kernel"]
    for channels in (1, 3, 21):
        assert torch.equal(
            chapter(channels, channels, kernel_size), fcnlib.bilinear_kernel(channels, channels, kernel_size)
        )


def test_chapter1_tent_is_one_axis_of_fcnlibs_kernel():
    tent = chapter_definitions("01_bilinear_kernel.ipynb", "bilinear_kernel", "tent")["tent"]
    assert tent(4).tolist() == [0.25, 0.75, 0.75, 0.25]  # by hand: 1 - |i - 1.5| / 2
    assert tent(3).tolist() == [0.5, 1.0, 0.5]  # by hand: 1 - |i - 1| / 2
    for k in range(1, 65):
        torch.testing.assert_close(tent(k)[:, None] * tent(k)[None, :], fcnlib.bilinear_kernel(1, 1, k)[0, 0])


CHAPTER1 = ("linear_interpolate", "bilinear_interpolate", "source_coordinate", "bilinear_resize_by_hand")


def test_chapter1_linear_interpolate_matches_numpy_interp():
    linear_interpolate = chapter_definitions("01_bilinear_kernel.ipynb", *CHAPTER1)["linear_interpolate"]
    values = [3.0, -1.0, 4.0, 1.5, 9.0]
    for x in np.linspace(0, 4, 17):
        assert linear_interpolate(values, float(x)) == pytest.approx(np.interp(x, range(5), values))
    assert linear_interpolate([10, 20, 40], 1.25) == 25.0  # by hand: 0.75*20 + 0.25*40


def test_chapter1_bilinear_interpolate_matches_grid_sample():
    ns = chapter_definitions("01_bilinear_kernel.ipynb", *CHAPTER1)
    torch.manual_seed(0)
    grid = torch.rand(4, 5, dtype=torch.float64)
    for y, x in [(0.0, 0.0), (1.3, 2.7), (3.0, 4.0), (2.5, 0.25), (0.9, 3.99)]:
        # grid_sample with align_corners=True puts -1 and +1 on the centres of the end pixels.
        g = torch.tensor([[[[2 * x / 4 - 1, 2 * y / 3 - 1]]]], dtype=torch.float64)
        ref = F.grid_sample(grid[None, None], g, mode="bilinear", align_corners=True).item()
        assert ns["bilinear_interpolate"](grid, y, x) == pytest.approx(ref, abs=1e-12)
    square = torch.tensor([[0.0, 10.0], [20.0, 30.0]])
    assert ns["bilinear_interpolate"](square, 0.5, 0.5) == pytest.approx(15.0)  # the four pixels' mean
    assert ns["bilinear_interpolate"](square, 0.25, 0.75) == pytest.approx(12.5)  # 0.75*7.5 + 0.25*27.5
    assert [ns["source_coordinate"](i, 2) for i in range(4)] == [-0.25, 0.25, 0.75, 1.25]
    assert ns["source_coordinate"](0, 4) == -0.375


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_chapter1_resize_by_hand_matches_f_interpolate(factor):
    resize = chapter_definitions("01_bilinear_kernel.ipynb", *CHAPTER1)["bilinear_resize_by_hand"]
    torch.manual_seed(factor)
    grid = torch.rand(3, 4, dtype=torch.float64)
    ref = F.interpolate(grid[None, None], scale_factor=factor, mode="bilinear", align_corners=False)[0, 0]
    torch.testing.assert_close(resize(grid, factor), ref)
    # fcnlib's transposed-convolution upsampling agrees away from the border.
    if factor > 1:
        up = fcnlib.bilinear_upsample(grid, factor)
        torch.testing.assert_close(up[factor:-factor, factor:-factor], ref[factor:-factor, factor:-factor])


@pytest.mark.parametrize("size", [(1, 1), (31, 33), (64, 96), (160, 240), (320, 480), (375, 500), (97, 1)])
def test_chapter2_backbone_size_trace_is_fcnlibs(size):
    chapter = chapter_definitions("02_transposed_conv.ipynb", "backbone_size_trace")["backbone_size_trace"]
    for k, s, p in [(64, 32, 16), (4, 2, 1), (16, 8, 4)]:
        assert chapter(size, k, s, p) == fcnlib.shapes.backbone_size_trace(size, k, s, p)
