"""Chapter 0's "Your turn" checks (fcnlib.checks.segmentation) and the two-person scene they run on.

References are independent of the checks: boxes and thresholds by brute force over the pixels or the grey
levels, receptive fields from the hand-computed cases of tests/test_receptive_field.py, and the chapter's own
folded solutions, which must be judged right."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import fcnlib
from fcnlib import checks
from fcnlib.data import HOPPER_OUTLINE, person_mask, sample_photo, two_person_scene

CHAPTER = next((Path(__file__).resolve().parents[1] / "notebooks").glob("00_*.ipynb"))
MASK = torch.zeros(6, 8, dtype=torch.bool)
MASK[1:4, 2:7] = True  # rows 1..3, columns 2..6: the box (2, 1, 6, 3)


def _line(capsys) -> str:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# --- the scene ---------------------------------------------------------------------------------------------------


def test_person_mask_agrees_with_pillows_polygon_fill():
    """PIL fills the same 26-corner polygon by its own rule: the two may differ only along the outline."""
    img = Image.new("1", (512, 600))
    ImageDraw.Draw(img).polygon(HOPPER_OUTLINE, fill=1)
    pil = torch.from_numpy(np.array(img, dtype=bool))
    mask = person_mask()
    assert mask.shape == (600, 512) and mask.dtype == torch.bool and len(HOPPER_OUTLINE) == 26
    assert (mask != pil).float().mean() < 0.005
    xs, ys = np.array(HOPPER_OUTLINE, dtype=float).T  # the shoelace formula's area
    area = abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2
    assert abs(int(mask.sum()) - area) < 0.005 * area


def test_two_person_scene_is_the_half_size_photo_beside_its_mirror_image():
    scene, instances = two_person_scene()
    assert scene.shape == (3, 300, 512) and scene.dtype == torch.float32 and instances.dtype == torch.int64
    half = torch.nn.functional.interpolate(sample_photo(face=False)[None], size=(300, 256), mode="area")[0]
    assert (scene[:, :, :256] - half).abs().mean() < 0.02  # antialiased bilinear against box averaging
    assert torch.equal(scene[:, :, 256:], scene[:, :, :256].flip(-1))
    assert instances.unique().tolist() == [0, 1, 2]
    assert torch.equal(instances[:, :256] == 1, person_mask()[::2, ::2])
    assert torch.equal(instances[:, 256:], 2 * (instances[:, :256] == 1).flip(-1).long())


# --- check_mask_box ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [(2, 1, 6, 3), [2, 1, 6, 3], torch.tensor([2, 1, 6, 3]), np.array([2, 1, 6, 3])])
def test_mask_box_right_in_any_form(answer, capsys):
    assert checks.check_mask_box(answer, MASK) == (2, 1, 6, 3)
    assert _line(capsys).startswith("Right")


@pytest.mark.parametrize("answer", [(1, 2, 3, 6), (2, 1, 7, 4), (2, 1, 6), "2, 1, 6, 3", 5])
def test_mask_box_wrong(answer, capsys):
    assert checks.check_mask_box(answer, MASK) == (2, 1, 6, 3)
    line = _line(capsys)
    assert line.startswith("Not quite") and "(2, 1, 6, 3)" in line


def test_mask_box_unwritten(capsys):
    assert checks.check_mask_box(None, MASK) == (2, 1, 6, 3)
    assert _line(capsys).startswith("Not written yet")


# --- check_otsu --------------------------------------------------------------------------------------------------


def _between_class_best(hist: torch.Tensor) -> int:
    """Brute force over t of w0 * w1 * (m0 - m1)^2, the form the chapter states (not the check's own form)."""
    levels, best = torch.arange(256.0, dtype=torch.float64), {}
    for t in range(1, 256):
        w0, w1 = hist[:t].sum(), hist[t:].sum()
        if w0 > 0 and w1 > 0:
            m0, m1 = (levels[:t] * hist[:t]).sum() / w0, (levels[t:] * hist[t:]).sum() / w1
            best[t] = float(w0 * w1 * (m0 - m1) ** 2)
    return max(best, key=best.get)


def _hist(values) -> torch.Tensor:
    return torch.bincount(torch.tensor(values), minlength=256).double()


def test_otsu_reference_on_two_clear_groups_and_on_the_scene(capsys):
    assert checks.check_otsu(None, _hist([10] * 50 + [200] * 50)) in range(11, 201)  # anywhere between the groups
    t = checks.check_otsu(None, _hist([10] * 30 + [20] * 30 + [100] * 10 + [250] * 30))
    # By hand: {10, 20} | {100, 250} scores 60 * 40 * 197.5^2 = 93.6e6, {10, 20, 100} | {250} 70 * 30 * 222.9^2 = 104e6
    assert t == _between_class_best(_hist([10] * 30 + [20] * 30 + [100] * 10 + [250] * 30)) == 101
    grey = (two_person_scene()[0] * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0)
    hist = torch.bincount((grey * 255).round().long().flatten(), minlength=256).double()
    assert checks.check_otsu(None, hist) == _between_class_best(hist) == 85
    capsys.readouterr()


@pytest.mark.parametrize("form", [int, np.int64, torch.tensor, float])
def test_otsu_right_in_any_form(form, capsys):
    hist = _hist([10] * 30 + [20] * 30 + [100] * 10 + [250] * 30)
    expected = _between_class_best(hist)
    assert checks.check_otsu(form(expected), hist) == expected
    assert _line(capsys).startswith("Right")


@pytest.mark.parametrize("answer", [3, 255, "85", 85.5])
def test_otsu_wrong(answer, capsys):
    hist = _hist([10] * 30 + [20] * 30 + [100] * 10 + [250] * 30)
    expected = checks.check_otsu(answer, hist)
    line = _line(capsys)
    assert line.startswith("Not quite") and str(expected) in line


def test_otsu_unwritten_names_the_threshold_used_anyway(capsys):
    assert checks.check_otsu(None, _hist([10] * 50 + [200] * 50)) > 10
    assert _line(capsys).startswith("Not written yet")


# --- check_receptive_field ---------------------------------------------------------------------------------------

CASES = {"two 3x3": [(3, 1), (3, 1)], "dilated": [(3, 1, 2), (3, 1, 4)], "pools": [(2, 2), (2, 2), (3, 1)]}
BY_HAND = {"two 3x3": [(3, 1), (5, 1)], "dilated": [(5, 1), (13, 1)], "pools": [(2, 2), (4, 4), (12, 4)]}


def _right(layers):
    r, j, out = 1, 1, []
    for k, s, d in ((*layer, 1)[:3] for layer in layers):
        r, j = r + d * (k - 1) * j, j * s
        out.append([r, j])  # lists, not tuples: another right form
    return out


def test_receptive_field_right(capsys):
    assert checks.check_receptive_field(_right, CASES) == BY_HAND
    line = _line(capsys)
    assert line.startswith("Right") and "(12, 4)" in line


@pytest.mark.parametrize("form", [torch.tensor, np.array, tuple])
def test_receptive_field_right_as_a_tensor_an_array_or_a_tuple(form, capsys):
    assert checks.check_receptive_field(lambda layers: form(_right(layers)), CASES) == BY_HAND
    assert _line(capsys).startswith("Right")


@pytest.mark.parametrize(
    "function, start",
    [
        (lambda layers: [(1 + (k - 1), s) for k, s, *_ in layers], "Not quite on 'two 3x3'"),  # forgets to add up
        (lambda layers: _right([layer[:2] for layer in layers]), "Not quite on 'dilated'"),  # ignores dilation
        (lambda layers: [tuple(p) for p in _right(layers)][:-1], "Not quite on 'two 3x3'"),  # one pair short
        (lambda layers: 1 / 0, "Not quite: on 'two 3x3' your function raised ZeroDivisionError"),
        (lambda layers: None, "Not written yet"),
    ],
)
def test_receptive_field_wrong_raising_or_unwritten(function, start, capsys):
    assert checks.check_receptive_field(function, CASES) == BY_HAND
    assert _line(capsys).startswith(start)


# --- check_layer4_prediction -------------------------------------------------------------------------------------

UNANSWERED = {"pixels apart": None, "positions (H, W)": None, "some position sees all of it": None}


@pytest.mark.parametrize("positions", [(10, 15), [10, 15], torch.tensor([10, 15]), np.array([10, 15])])
def test_layer4_right_in_any_form(positions, capsys):
    answer = {"pixels apart": np.int64(32), "positions (H, W)": positions, "some position sees all of it": False}
    truth = checks.check_layer4_prediction(answer)
    assert truth == {"pixels apart": 32, "positions (H, W)": (10, 15), "some position sees all of it": False}
    assert _line(capsys).startswith("Right")


@pytest.mark.parametrize(
    "change, named",
    [
        ({"pixels apart": 16}, "'pixels apart' is 32"),
        ({"positions (H, W)": (15, 10)}, "'positions (H, W)' is (10, 15)"),
        ({"some position sees all of it": True}, "'some position sees all of it' is False"),
        ({"some position sees all of it": "no"}, "'some position sees all of it' is False"),
    ],
)
def test_layer4_wrong_names_the_entry(change, named, capsys):
    answer = {"pixels apart": 32, "positions (H, W)": (10, 15), "some position sees all of it": False} | change
    checks.check_layer4_prediction(answer)
    line = _line(capsys)
    assert line.startswith("Not quite") and named in line


def test_layer4_unwritten_and_partly_written(capsys):
    checks.check_layer4_prediction(UNANSWERED)
    assert _line(capsys).startswith("Not written yet: 'pixels apart'")
    checks.check_layer4_prediction(UNANSWERED | {"pixels apart": 32})
    assert _line(capsys).startswith("Not written yet: 'positions (H, W)'")


def test_layer4_truth_follows_the_image_size(capsys):
    """A 224 x 224 image: 7 x 7 positions (224 / 32), and a 435-pixel field covers it all."""
    truth = checks.check_layer4_prediction(UNANSWERED, size=(224, 224))
    assert truth == {"pixels apart": 32, "positions (H, W)": (7, 7), "some position sees all of it": True}
    capsys.readouterr()


# --- the chapter's cells: unsolved they say "Not written yet", with the folded solutions "Right" -----------------


def _cells() -> list[str]:
    return ["".join(c["source"]) for c in json.loads(CHAPTER.read_text(encoding="utf-8"))["cells"]]


@pytest.mark.parametrize("name", ["mask_box", "otsu", "receptive_field"])
def test_chapter_0_stubs_and_folded_solutions(name, capsys):
    cells = _cells()
    (i,) = [i for i, s in enumerate(cells) if f"def {name}(" in s and "<details>" not in s]
    (solution,) = re.findall(r"```python\n(.*?)```", cells[i + 1], re.S)
    assert "<details>" in cells[i + 1] and "Your turn" in cells[i - 1] + cells[i - 2]
    start = cells[i].index(f"def {name}(")
    end = cells[i].index("return None\n", start) + len("return None\n")
    solved = cells[i][:start] + solution + cells[i][end:]
    scene, instances = two_person_scene()
    for code, expected in [(cells[i], "Not written yet"), (solved, "Right")]:
        namespace = {"torch": torch, "fcnlib": fcnlib, "scene": scene, "instances": instances}
        exec(compile(code, f"{CHAPTER.name}:{name}", "exec"), namespace)
        assert _line(capsys).startswith(expected)


def test_chapter_0_layer4_prediction_cell(capsys):
    """The prediction cell (its output is not compared by nbval: under nbval a trailing ';' shows the result)."""
    (cell,) = [s for s in _cells() if "check_layer4_prediction(answer" in s]
    solved = re.sub(
        r"answer = \{.*?\}",
        'answer = {"pixels apart": 32, "positions (H, W)": (10, 15), "some position sees all of it": False}',
        cell,
        count=1,
    )
    assert solved != cell
    for code, expected in [(cell, "Not written yet"), (solved, "Right")]:
        exec(compile(code, f"{CHAPTER.name}:layer4", "exec"), {"fcnlib": fcnlib})
        assert _line(capsys).startswith(expected)
