"""Chapter 2, section 6: where each remedy for a size that is not a multiple of 32 changes the scores.

The chapter runs d2l's net with random weights once; its prose (the cell after the difference maps) says
where the differences sit. Those sentences must hold for any random net a learner's re-run draws, so the
chapter's own cells run here for several nets and each sentence is checked against their numbers.
"""

import json
import types
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import fcnlib

CHAPTER2 = Path(__file__).resolve().parent.parent / "notebooks" / "02_transposed_conv.ipynb"
# One marker per code cell the experiment needs, in the chapter's order: the net, the photo, the remedies, the
# differences.
MARKERS = (
    "torchvision.models.resnet18(weights=None)",
    "sample_photo((300, 256)",
    "y_tiles = total / count",
    "diffs = {name:",
)


def run_chapter_remedies(seed: int) -> dict:
    """The namespace of the chapter's remedy cells (``net``, ``photo``, ``diffs``: {remedy: [H, W] mean |score
    difference|}, ...) for a net drawn after manual_seed(seed)."""
    sources = ["".join(c["source"]) for c in json.loads(CHAPTER2.read_text(encoding="utf-8"))["cells"]]
    namespace = {"torch": torch, "nn": nn, "F": F, "torchvision": torchvision, "OrderedDict": OrderedDict}
    namespace |= {
        "fcnlib": fcnlib,
        "print": lambda *a, **k: None,
        "viz": types.SimpleNamespace(plot_difference_maps=lambda *a, **k: None),  # no figures
    }
    torch.manual_seed(seed)
    for marker in MARKERS:
        (source,) = [s for s in sources if marker in s]
        exec(compile(source, f"{CHAPTER2.name}:{marker}", "exec"), namespace)
    return namespace


def test_stretching_240_columns_to_256_shifts_the_right_furthest():
    # "most towards the right, which stretching 240 columns to 256 shifts furthest": resize a ramp of column
    # numbers as the chapter resizes the photo, and read which photo column lands on each of the 256.
    ramp = torch.arange(240.0).expand(1, 1, 160, 240)
    source = F.interpolate(ramp, size=(160, 256), mode="bilinear", align_corners=False)[0, 0, 0]
    shift = torch.arange(256.0) - source
    assert (shift.diff()[1:-1] > 0).all() and shift[-1] > 14  # grows to the right, ~16 at the right edge


@pytest.mark.parametrize("seed", range(3))
def test_the_remedies_change_the_scores_where_chapter2_says(seed):
    chapter = run_chapter_remedies(seed)
    diffs = chapter["diffs"]
    pad, rsz, tiles = (diffs[name].mean(0) for name in ("pad and crop", "resize", "tiles"))  # per column
    assert pad.shape == (240,)
    thirds = {name: [float(d[c : c + 80].mean()) for c in (0, 80, 160)] for name, d in zip("prt", (pad, rsz, tiles))}
    # "Pad and crop leaves the left columns as good as untouched (the first number printed above)": 0.000,
    # and changes the scores near the zeros on the right.
    assert f"{thirds['p'][0]:.3f}" == "0.000" and thirds["p"][0] < thirds["p"][1] < thirds["p"][2]
    # "Resize changes the scores everywhere, most towards the right."
    assert thirds["r"][0] > 20 * thirds["p"][0] and thirds["r"][0] < thirds["r"][1] < thirds["r"][2]
    # "Columns 0-79 come from the first tile alone: they differ least" and "From column 80 ... the differences
    # are larger".
    assert 2 * thirds["t"][0] < min(thirds["t"][1], thirds["t"][2])
    # "and increasingly towards the columns that tile cannot see (160 on), as the last line shows": its 4 numbers.
    bands = [float(tiles[c : c + 20].mean()) for c in range(0, 80, 20)]
    assert bands == sorted(bands)

    # "as 80 is not a multiple of 32, its stride-32 grid lies 16 pixels off the whole photo's, so the backbone
    # samples the photo at other positions": that changes scores by itself. Two 224-wide crops, each blind to 32
    # of the photo's 256 columns: one starting at column 16 (16 off the full image's grid), one at column 32 (on
    # it). In columns 96-175, at least 64 columns from anything either crop misses, the shifted crop differs more.
    photo, reference = chapter["photo"], chapter["reference"][..., 96:176]  # the net's scores on the whole photo
    with torch.no_grad():
        off_grid, on_grid = chapter["net"](torch.cat([photo[..., 16:240], photo[..., 32:256]]))
    assert (off_grid[:, :, 80:160] - reference).abs().mean() > 1.5 * (on_grid[:, :, 64:144] - reference).abs().mean()
