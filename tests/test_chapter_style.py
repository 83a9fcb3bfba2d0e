"""What a learner reads in a chapter: no development residue, cells short enough to read, prose of a
readable length, figures sharp enough to read (issue 26). Checked on the stored chapters."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Words and markers from the project's own history and tooling that a learner never met.
RESIDUE = {
    "'the seed' (say d2l's code or the study note)": r"\bthe seed\b",
    "an nbval comment (use the cell tag)": r"NBVAL_",
    "a formatter comment (reformat instead)": r"#\s*fmt:\s*(skip|off|on)\b",
    "a remark about the README": r"README figure",
    "a remark about test runs": r"\bsmoke[- ]?(run|test)|\bnbval\b|\bself-check, where\b",
    "a remark about the stored run": r"\b(in our run|stored run|stored numbers)\b",
}
MAX_MARKDOWN_LINES = 40
MAX_CODE_LINES = 15  # non-blank lines
MAX_PROSE_WORDS = 2500
MIN_DPI = 100


def _cells(path):
    return nbformat.read(str(path), as_version=4).cells


def _text_outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def prose_words(cells) -> int:
    """Words of the Markdown cells, without fenced code, inline code, links' addresses and the badge."""
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"\[!\[Open In Colab\][^\n]*", " ", text)
    return len(re.findall(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", text))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_development_residue(path):
    found = []
    for i, cell in enumerate(_cells(path)):
        for what, pattern in RESIDUE.items():
            for text in (cell.source, _text_outputs(cell)):
                for m in re.finditer(pattern, text, re.I):
                    found.append(f"cell {i}: {what}: {text[max(0, m.start() - 30) : m.end() + 30]!r}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_cells_are_short(path):
    long = []
    for i, cell in enumerate(_cells(path)):
        lines = cell.source.splitlines()
        if cell.cell_type == "markdown" and len(lines) > MAX_MARKDOWN_LINES:
            long.append(f"cell {i}: Markdown of {len(lines)} lines (at most {MAX_MARKDOWN_LINES})")
        code_lines = [line for line in lines if line.strip()]
        if cell.cell_type == "code" and len(code_lines) > MAX_CODE_LINES:
            long.append(f"cell {i}: code of {len(code_lines)} non-blank lines (at most {MAX_CODE_LINES})")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_prose_has_a_readable_length(path):
    assert prose_words(_cells(path)) <= MAX_PROSE_WORDS


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_figures_are_stored_sharp_enough_to_read(path):
    low = []
    for i, cell in enumerate(_cells(path)):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                dpi = Image.open(io.BytesIO(base64.b64decode(png))).info.get("dpi", (0, 0))[0]
                if dpi < MIN_DPI - 0.5:
                    low.append(f"cell {i}: {dpi:.0f} dpi")
    assert not low, f"figures under {MIN_DPI} dpi: " + ", ".join(low)


def test_prose_word_count_reads_words_not_code():
    cells = [nbformat.v4.new_markdown_cell("Two words `and code` [here](http://x.org/a b)\n```\nx = 1\n```")]
    assert prose_words(cells) == 3
