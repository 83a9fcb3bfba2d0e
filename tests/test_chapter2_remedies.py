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


def chapter_differences(seed: int) -> dict:
    """The chapter's ``diffs`` ({remedy: [H, W] mean |score difference|}) for a net drawn after manual_seed(seed)."""
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
    return namespace["diffs"]


@pytest.mark.parametrize("seed", range(5))
def test_the_remedies_change_the_scores_where_chapter2_says(seed):
    diffs = chapter_differences(seed)
    pad, rsz, tiles = (diffs[name].mean(0) for name in ("pad and crop", "resize", "tiles"))  # per column
    assert pad.shape == (240,)
    thirds = {name: [float(d[c : c + 80].mean()) for c in (0, 80, 160)] for name, d in zip("prt", (pad, rsz, tiles))}
    # "Pad and crop leaves the left columns as good as untouched (the first number printed above)": 0.000,
    # and changes the scores near the zeros on the right.
    assert f"{thirds['p'][0]:.3f}" == "0.000" and thirds["p"][0] < thirds["p"][1] < thirds["p"][2]
    # "Resize changes the scores everywhere, most towards the right."
    assert thirds["r"][0] > 20 * thirds["p"][0] and thirds["r"][0] < thirds["r"][1] < thirds["r"][2]
    # "Columns 0-79 ... small differences": well below both other thirds; and there, where only the first tile
    # counts, "a tile's scores change more the nearer a pixel lies to columns that tile cannot see" (160 on).
    assert 2 * thirds["t"][0] < min(thirds["t"][1], thirds["t"][2])
    bands = [float(tiles[c : c + 20].mean()) for c in range(0, 80, 20)]
    assert bands == sorted(bands)
    # "At column 80 (dashed) the second tile joins the average ... and the differences jump."
    assert tiles[80:100].mean() > 1.5 * tiles[60:80].mean()
