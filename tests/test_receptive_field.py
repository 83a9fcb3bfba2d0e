"""Receptive fields: the recursion in fcnlib.shapes against autograd, and the chapter-0 explorer.

The reference is the gradient: an input pixel lies in an output position's receptive field
when the output's gradient with respect to it is non-zero (all-positive weights keep every
ReLU open in the small stacks; on ResNet-18, summing over the output's channels does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from fcnlib import widgets as W
from fcnlib.shapes import receptive_fields, resnet18_receptive_fields

RESNET18_FIELDS = [("conv1", 7, 2), ("maxpool", 11, 4), ("layer1", 43, 4), ("layer2", 99, 8)]
RESNET18_FIELDS += [("layer3", 211, 16), ("layer4", 435, 32)]


def _extent(grad: torch.Tensor) -> tuple[int, int]:
    """Height and width of the bounding box of the non-zero entries of a [H, W] map."""
    rows, cols = (grad != 0).any(1).nonzero().flatten(), (grad != 0).any(0).nonzero().flatten()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def _gradient_extent(net: nn.Module, size: int, position: int) -> tuple[int, int]:
    x = torch.rand(1, 1, size, size, requires_grad=True)
    out = net(x)
    (grad,) = torch.autograd.grad(out[0, :, position, position].sum(), x)
    return _extent(grad[0, 0])


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([(3, 1), (3, 1)], [(3, 1), (5, 1)]),  # by hand: 3, then 3 + 2
        ([(3, 2), (3, 1)], [(3, 2), (7, 2)]),  # the second 3x3 steps 2 input pixels: 3 + 2 * 2
        ([(2, 2), (2, 2), (3, 1)], [(2, 2), (4, 4), (12, 4)]),  # pools: 2, 2 + 2, 4 + 2 * 4
        ([(3, 1, 2), (3, 1, 4)], [(5, 1), (13, 1)]),  # dilated: 1 + 2*2, 5 + 2*4
        ([(1, 1)], [(1, 1)]),
    ],
)
def test_receptive_fields_by_hand_and_against_the_gradient(layers, expected):
    assert receptive_fields(layers) == expected
    convs = []
    for k, s, d in ((*layer, 1)[:3] for layer in layers):
        conv = nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False)
        nn.init.constant_(conv.weight, 1.0)
        convs += [conv, nn.ReLU()]
    size = expected[-1][0] + 4 * expected[-1][1]
    assert _gradient_extent(nn.Sequential(*convs), size, position=1) == (expected[-1][0],) * 2


def test_receptive_fields_rejects_bad_layers_with_a_clear_message():
    with pytest.raises(ValueError, match=r"\(kernel_size, stride\)"):
        receptive_fields([(3,)])
    with pytest.raises(ValueError, match="stride of layer 1"):
        receptive_fields([(3, 1), (3, 0)])
    with pytest.raises(TypeError, match="kernel_size of layer 0"):
        receptive_fields([(3.0, 1)])
    assert receptive_fields([]) == []


def test_resnet18_stage_fields_from_the_recursion():
    assert resnet18_receptive_fields() == RESNET18_FIELDS


def test_resnet18_stage_fields_from_the_gradient_of_torchvision_resnet18():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    stages = {"conv1": [net.conv1], "maxpool": [net.bn1, net.relu, net.maxpool]}
    stages.update({f"layer{i}": [getattr(net, f"layer{i}")] for i in range(1, 5)})
    x = torch.randn(1, 3, 512, 512, requires_grad=True)
    h, measured = x, []
    for name, modules in stages.items():
        for m in modules:
            h = m(h)
        u = h.shape[-1] // 2  # the centre: its whole field lies inside the 512 x 512 input
        (grad,) = torch.autograd.grad(h[0, :, u, u].sum(), x, retain_graph=True)
        g = grad[0].abs().sum(0)
        jump = 512 // h.shape[-1]
        size = _extent(g)[0]
        assert _extent(g) == (size, size)
        nz = (g != 0).nonzero()
        assert (nz.min(0).values + nz.max(0).values).tolist() == [2 * jump * u] * 2  # centred on jump * u
        measured.append((name, size, jump))
    assert measured == RESNET18_FIELDS


def test_receptive_field_view_numbers_match_the_recursion_and_the_gradient():
    photo = torch.rand(3, 256, 224, generator=torch.Generator().manual_seed(0))
    net = W.resnet18_stages()
    for name, size, jump in RESNET18_FIELDS[:4]:
        view = W.receptive_field_view(name, 3, 2, photo, net)
        assert view.ok, view.text
        assert (view.numbers["size"], view.numbers["jump"]) == (size, jump)
        assert view.numbers["grid"] == (256 // jump, 224 // jump)
        half = size // 2
        box = (max(3 * jump - half, 0), max(2 * jump - half, 0), 3 * jump + half, 2 * jump + half)
        assert view.numbers["box"] == box
        assert view.numbers["grad_box"] == box  # the gradient fills the (clipped) field exactly
        assert 0 < view.numbers["half_mass_px"] < (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    view = W.receptive_field_view("layer4", 4, 3, photo, net)
    assert view.numbers["box"] == (0, 0, 255, 223)  # a deep position sees the whole photo


@pytest.mark.parametrize(
    "args",
    [("layer9", 0, 0), ("layer2", -1, 0), ("layer2", 0, 99), ("layer2", 1.5, 0), ("conv1", None, 0), (None, 0, 0)],
)
def test_receptive_field_view_never_raises_on_bad_input(args):
    view = W.receptive_field_view(*args, photo=torch.rand(3, 64, 64))
    assert not view.ok and view.figure is None
    assert view.text.startswith("Impossible setting:") and "Traceback" not in view.text


def test_receptive_field_view_refuses_a_bad_photo():
    for photo in ("photo.jpg", torch.rand(64, 64), torch.rand(3, 8, 8)):
        view = W.receptive_field_view("layer1", 0, 0, photo=photo)
        assert not view.ok and "[3, H, W]" in view.text
    view = W.receptive_field_view("layer1", 0, 0, photo=torch.full((3, 64, 64), 128, dtype=torch.uint8))
    assert not view.ok and "floats" in view.text  # the message says to pass photo / 255
    assert W.receptive_field_view("layer1", 2, 2, photo=torch.rand(3, 64, 64, dtype=torch.float64)).ok


def test_receptive_field_explorer_stage_resets_the_sliders():
    explorer = W.receptive_field_explorer(photo=torch.rand(3, 64, 96))
    assert explorer.view.ok and explorer.values() == {"stage": "layer2", "row": 4, "col": 6}
    explorer.controls["stage"].value = "layer4"  # as a click does: the sliders follow, one redraw
    view = explorer.view
    assert explorer.values() == {"stage": "layer4", "row": 1, "col": 1} and explorer.controls["col"].max == 2
    assert view.numbers["size"] == 435 and explorer.png.startswith(b"\x89PNG")
    assert explorer.set(col=0).numbers["box"][1] == 0


def test_chapter_0_writes_the_same_recursion_as_fcnlib():
    """The chapter's solution (folded in a <details>) gives fcnlib's numbers, on ResNet-18 and on dilations."""
    nb = json.loads(next(Path(__file__).parents[1].glob("notebooks/00_*.ipynb")).read_text())
    solution = next(
        "".join(c["source"])
        for c in nb["cells"]
        if "<details>" in "".join(c["source"]) and "def receptive_field(" in "".join(c["source"])
    )
    code = solution.split("```python")[1].split("```")[0]
    namespace: dict = {}
    exec(code, namespace)
    layers = [(7, 2), (3, 2), (3, 1), (3, 2, 2), (5, 1, 3)]
    assert namespace["receptive_field"](layers) == receptive_fields(layers)


def test_chapter_0_exercise_4_solution_quotes_what_its_code_prints(capsys):
    """The folded solution runs the explorer's view for three stages on a portrait that holds a whole layer4 field;
    the counts it quotes are within 5 %."""
    import re

    import fcnlib
    from fcnlib import widgets

    nb = json.loads(next(Path(__file__).parents[1].glob("notebooks/00_*.ipynb")).read_text())
    solution = next("".join(c["source"]) for c in nb["cells"] if "Solution 4" in "".join(c["source"]))
    namespace = {"fcnlib": fcnlib, "widgets": widgets}
    exec(solution.split("```python")[1].split("```")[0], namespace)
    printed = [int(line.split()[-1]) for line in capsys.readouterr().out.splitlines()]
    height, width = namespace["photo"].shape[-2:]  # the centred layer4 position (jump 32) and its 435-pixel field
    cy, cx = 32 * (height // 32 // 2), 32 * (width // 32 // 2)
    assert 217 <= min(cy, cx) and cy + 217 < height and cx + 217 < width, "the photo cuts the layer4 field"
    quoted = re.search(r"About ([\d,]+), ([\d,]+) and ([\d,]+) pixels", solution).groups()
    assert len(printed) == 3
    for got, said in zip(printed, quoted):
        assert abs(got - int(said.replace(",", ""))) <= 0.05 * got, (printed, quoted)
