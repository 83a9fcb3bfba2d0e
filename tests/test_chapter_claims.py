"""Every number a chapter's prose quotes is printed by one of its cells (or is an input in its code).

Numbers with a decimal point and percentages are what drift when a chapter is re-run: a claim such as
"mIoU 0.674" must still be in a stored output. Citations of papers and of the seed's own run are listed
in CITED with where they come from.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ZH_CHAPTERS = sorted((ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))  # the Chinese chapters, same outputs
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*\.\d+%?|(?<![\w.])\d+(?:\.\d+)?%")
NUMBER_ZH = re.compile(NUMBER.pattern, re.ASCII)  # a number right after a Chinese character counts too
# The FCN paper's Table 2 (pixel acc., mean acc., mean IU, f.w. IU on PASCAL VOC 2011 val), d2l 14.11's reported
# run of the seed (test accuracy after 5 epochs) and DeepLab's CRF gain on VOC 2012 val.
CITED = set("62.2 62.4 62.7 59.4 90.3 90.0 89.1 75.9 75.7 74.2 83.2 83.0 81.6 0.85 0.851 0.846 4.0 67.6 71.6".split())
# Worked arithmetic in the prose and in folded solutions (what a learner's own run of the solution prints).
WORKED = {
    "00": {"0.52", "0.54"},  # exercise 1's solution: the best k-means cluster's IoU (seed 0; seeds 0-5 give 0.52-0.54)
    "01": {"0.125", "0.375", "0.625", "0.875", "23.0"},  # tent taps 1 - |i - 3.5| / 4; 0.7 * 20 + 0.3 * 30
    "02": {"7.5"},  # 15 / 2, the halving that padding rounds up
    "03": {"0.45"},  # the threshold solution: sqrt(9) x 0.15, the spread of a noise window's +1/-1 sum
    "06": {"3.0", "0.3"},  # differences of the paper's Table 2: 62.4 - 59.4 and 62.7 - 62.4
}


def _prose(source: str) -> str:
    """Markdown without code, maths and link targets (numbers there are not claims about a run)."""
    for pattern in (
        r"arXiv[: ]*\d{4}\.\d{4,5}",
        r"\b\d{4}\.\d{4,5}\b",
        r"```.*?```",
        r"`[^`]*`",
        r"\$\$.*?\$\$",
        r"\$[^$]*\$",
        r"\]\([^)]*\)",
        r"<[^>]+>",
    ):
        source = re.sub(pattern, " ", source, flags=re.S)
    return source


def _printed(nb: dict) -> str:
    text = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        text.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            text.append("".join(out.get("text", "")))
            for kind in ("text/plain", "text/markdown", "text/html"):
                text.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(text)


@pytest.mark.parametrize("path", CHAPTERS + ZH_CHAPTERS, ids=lambda p: p.relative_to(ROOT / "notebooks").as_posix())
def test_numbers_in_the_prose_are_printed(path):
    nb = json.loads(path.read_text())
    printed = _printed(nb)
    missing = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for number in (NUMBER_ZH if path.parent.name == "zh" else NUMBER).findall(_prose("".join(cell["source"]))):
            bare = number.rstrip("%")
            allowed = CITED | WORKED.get(path.name[:2], set())
            if number in allowed or bare in allowed or number in printed or bare in printed:
                continue
            missing.append(f"cell {i}: {number}")
    assert not missing, f"{path.name} quotes numbers no output prints any more: {missing}"
