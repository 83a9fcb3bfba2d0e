"""Functions a chapter types in the open agree with fcnlib's copies that later chapters import."""

from __future__ import annotations

import contextlib
import io
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
    tent = chapter_definitions("01_bilinear_kernel.ipynb", "source_coordinate", "bilinear_kernel", "tent")["tent"]
    assert tent(4).tolist() == [0.25, 0.75, 0.75, 0.25]  # by hand: 1 - |i - 1.5| / 2
    assert tent(3).tolist() == [0.5, 1.0, 0.5]  # by hand: 1 - |i - 1| / 2
    for k in range(1, 65):
        torch.testing.assert_close(tent(k)[:, None] * tent(k)[None, :], fcnlib.bilinear_kernel(1, 1, k)[0, 0])


def test_chapter1_phase_sums_are_fcnlibs_and_a_row_of_ones_upsampled():
    ns = chapter_definitions("01_bilinear_kernel.ipynb", "source_coordinate", "bilinear_kernel", "tent", "phase_sums")
    assert ns["phase_sums"](torch.tensor([0.25, 0.75, 0.75, 0.25]), 2).tolist() == [1.0, 1.0]  # by hand
    for k in range(1, 17):
        for stride in range(1, 9):
            sums = ns["phase_sums"](ns["tent"](k), stride)
            torch.testing.assert_close(sums, fcnlib.upsampling.phase_sums(ns["tent"](k), stride))
            # a long row of ones, scattered: away from the ends output position o holds phase o % stride's sum
            row = F.conv_transpose1d(torch.ones(1, 1, 60), ns["tent"](k)[None, None], stride=stride)[0, 0]
            middle = torch.arange(2 * k, row.numel() - 2 * k)
            torch.testing.assert_close(row[middle], sums[middle % stride])


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


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
def test_chapter2_conv_matrix_is_fcnlibs_and_conv2d(stride, padding):
    conv_matrix = chapter_definitions("02_transposed_conv.ipynb", "conv_matrix")["conv_matrix"]
    g = torch.Generator().manual_seed(stride * 10 + padding)
    for in_size, k in [((3, 3), (2, 2)), ((6, 6), (3, 3)), ((5, 7), (3, 2)), ((8, 5), (4, 4))]:
        K = torch.randn(*k, dtype=torch.float64, generator=g)
        W = conv_matrix(in_size, K, stride, padding)
        assert torch.equal(W, fcnlib.upsampling.conv_matrix(in_size, K, stride, padding))
        x = torch.randn(1, 1, *in_size, dtype=torch.float64, generator=g)
        y = F.conv2d(x, K[None, None], stride=stride, padding=padding)
        torch.testing.assert_close((W @ x.flatten()).reshape(y.shape), y)
        back = F.conv_transpose2d(y, K[None, None], stride=stride, padding=padding)  # may be short of in_size
        full = (W.T @ y.flatten()).reshape(in_size)
        torch.testing.assert_close(full[: back.shape[-2], : back.shape[-1]], back[0, 0])


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 0), (2, 1), (3, 1), (4, 2)])
def test_chapter2_scatter_add_loop_is_conv_transpose2d(stride, padding):
    by_hand = chapter_definitions("02_transposed_conv.ipynb", "conv_transpose_by_hand")["conv_transpose_by_hand"]
    g = torch.Generator().manual_seed(stride * 10 + padding)
    for x_size, k in [((2, 2), (2, 2)), ((3, 4), (3, 3)), ((5, 3), (4, 2)), ((4, 4), (5, 5))]:
        X = torch.randn(*x_size, dtype=torch.float64, generator=g)
        K = torch.randn(*k, dtype=torch.float64, generator=g)
        ref = F.conv_transpose2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]
        torch.testing.assert_close(by_hand(X, K, stride, padding), ref)
        torch.testing.assert_close(
            by_hand(X, K, stride, padding), fcnlib.upsampling.scatter_step(X, K, stride=stride, padding=padding).output
        )
    # By hand: each pixel of [[0, 1], [2, 3]] adds a scaled copy of the kernel (d2l's example).
    assert by_hand(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[0.0, 1.0], [2.0, 3.0]])).tolist() == [
        [0, 0, 1],
        [0, 4, 6],
        [4, 12, 9],
    ]


def chapter_cells(notebook: str, namespace: dict, *markers: str) -> dict:
    """Run, in order, the one code cell of ``notebook`` that contains each marker; return the namespace."""
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    namespace.setdefault("print", lambda *args, **kwargs: None)
    for marker in markers:
        found = [s for s in sources if marker in s]
        assert len(found) == 1, f"{notebook}: {len(found)} code cells contain {marker!r}"
        exec(compile(found[0], f"{notebook}:{marker}", "exec"), namespace)
    return namespace


def test_chapter3_hand_built_fcn_is_fcnlibs():
    """d2l's FCN-32s as chapter 3 assembles and initialises it computes what fcn_resnet18 computes."""
    from collections import OrderedDict

    import torchvision

    torch.manual_seed(0)
    ns = {"torch": torch, "nn": nn, "F": F, "fcnlib": fcnlib, "OrderedDict": OrderedDict}
    ns.update(resnet=torchvision.models.resnet18(weights=None).eval(), X=torch.rand(1, 3, 64, 64))
    chapter_cells(
        "03_fcn_model.ipynb",
        ns,
        "net = nn.Sequential(OrderedDict(list(resnet.named_children())[:-2]))",
        'net.add_module("final_conv"',
        "nn.init.xavier_uniform_(net.final_conv.weight)",
    )
    net = ns["net"].eval()
    fcn = fcnlib.fcn_resnet18(num_classes=21, weights=None).eval()
    assert [n for n, _ in net.named_children()] == [n for n, _ in fcn.named_children()]
    assert torch.equal(net.transpose_conv.weight, fcn.transpose_conv.weight)  # both bilinear
    assert net.transpose_conv.bias is None and not net.final_conv.bias.any()
    head_and_backbone = {k: v for k, v in net.state_dict().items() if not k.startswith("transpose_conv")}
    assert fcn.load_state_dict(head_and_backbone, strict=False).missing_keys == ["transpose_conv.weight"]
    with torch.no_grad():
        for seed, size in enumerate([(32, 32), (64, 96), (96, 160), (128, 64), (160, 224)]):
            x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(seed))
            torch.testing.assert_close(net(x), fcn(x), rtol=1e-4, atol=1e-5)
            # The transposed convolution alone is bilinear interpolation away from the border.
            coarse = nn.Sequential(*list(net.children())[:-1])(x)
            up = F.interpolate(coarse, scale_factor=32, mode="bilinear", align_corners=False)
            torch.testing.assert_close(net(x)[..., 16:-16, 16:-16], up[..., 16:-16, 16:-16], rtol=1e-4, atol=1e-4)


YOUR_TURN_WRITE = [
    ("01_bilinear_kernel.ipynb", "linear_resize_by_hand", ("linear_interpolate", "source_coordinate")),
    ("02_transposed_conv.ipynb", "transposed_size", ()),
    ("03_fcn_model.ipynb", "bilinear_upsampler", ()),
    ("06_skip_connections.ipynb", "fcn16s_scores", ()),
]


@pytest.mark.parametrize("notebook, name, needs", YOUR_TURN_WRITE)
def test_your_turn_checks_say_not_written_then_right_with_the_folded_solution(notebook, name, needs):
    import random
    import re

    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    (i,) = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and f"def {name}(" in "".join(c["source"])]
    stub = "".join(cells[i]["source"])
    (solution,) = re.findall(r"```python\n(.*?)```", "".join(cells[i + 1]["source"]), re.S)
    assert "<details>" in "".join(cells[i + 1]["source"]) and "Your turn" in "".join(cells[i - 1]["source"])
    start = stub.index(f"def {name}(")
    end = stub.index("return None\n", start) + len("return None\n")
    for code, expected in [(stub, "Not written yet"), (stub[:start] + solution + stub[end:], "Right")]:
        ns = chapter_definitions(notebook, *needs) if needs else {"torch": torch, "nn": nn, "F": F, "fcnlib": fcnlib}
        ns.update(random=random, checks=fcnlib.checks, print=print)  # the cell's prints and fcnlib.checks' lines
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(code, f"{notebook}:{name}", "exec"), ns)
        printed = out.getvalue().splitlines()
        assert printed and printed[0].startswith(expected), printed
