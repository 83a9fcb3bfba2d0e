"""notebooks/sanitize.cfg read and applied exactly as nbval does (its own parser, its order): each kind of text
becomes what it should, and sizes such as 640x480 survive (issue 25; nbval#185)."""

import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

CFG = Path(__file__).resolve().parents[1] / "notebooks" / "sanitize.cfg"


def sanitize(text: str) -> str:
    patterns = dict(get_sanitize_patterns(CFG.read_text()))  # nbval keeps them in an ordered dict, file order
    for regex, replace in patterns.items():
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<Figure size 640x480 with 1 Axes>", "<Figure>"),  # matplotlib's default size
        ("<Figure size 1150x300 with 4 Axes>", "<Figure>"),
        ("<Figure size 333.3x200 with 2 Axes>", "<Figure>"),  # %g sizes
        ("<matplotlib.image.AxesImage at 0x7f3a2b1c9d90>", "<matplotlib.image.AxesImage at 0xADDRESS>"),
        ("<function f at 0x10A>", "<function f at 0xADDRESS>"),
        ("crops 320x480, images 640x480 and 128x160", "crops 320x480, images 640x480 and 128x160"),
        ("factor 2: 32x32 -> 64x64", "factor 2: 32x32 -> 64x64"),
        ("15.3 examples/sec on [device(type='cuda', index=0)]", "RATE on [DEVICE]"),
        ("60/60 [00:19<00:00,  3.37batch/s, loss 1.307]", "60/60 [ELAPSED<REMAINING,  RATE, loss 1.307]"),
        ("trained in 12.5 s (340 ms per batch)", "trained in TIME (TIME per batch)"),
        ("loss 0.512, train acc 0.83, 5 epochs", "loss 0.512, train acc 0.83, 5 epochs"),
    ],
)
def test_each_kind_of_text_becomes_what_it_should(text, expected):
    assert sanitize(text) == expected


def test_every_rule_is_read_by_nbval():
    sections = CFG.read_text().count("\n[") + CFG.read_text().startswith("[")
    assert len(get_sanitize_patterns(CFG.read_text())) == sections == 6
