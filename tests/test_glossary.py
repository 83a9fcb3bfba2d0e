"""The course glossary (notebooks/glossary.md): every `glossary.md#term` link in a chapter lands on one of its
headings, the terms are in alphabetical order, and each names the chapter that teaches it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "notebooks" / "glossary.md"
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
LINK = re.compile(r"\]\((?:\./)?glossary\.md#([^)\s]*)\)")


def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped (letters, digits, spaces, hyphens
    and underscores stay), each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def glossary_terms() -> list[str]:
    return [line[4:].strip() for line in GLOSSARY.read_text(encoding="utf-8").splitlines() if line.startswith("### ")]


def glossary_links(text: str) -> list[str]:
    return LINK.findall(text)


def broken_links(text: str, slugs: set[str]) -> list[str]:
    return [anchor for anchor in glossary_links(text) if anchor not in slugs]


@pytest.mark.parametrize(
    "heading, slug",
    [
        ("IoU", "iou"),
        ("mean IoU (mIoU)", "mean-iou-miou"),
        ("FCN-32s", "fcn-32s"),
        ("Xavier initialisation", "xavier-initialisation"),
        ("What's new? A, B & C", "whats-new-a-b--c"),  # as GitHub renders it: '&' dropped, both spaces kept
    ],
)
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_broken_links_finds_a_link_to_a_missing_term():
    text = "a [field](glossary.md#receptive-field) and a [typo](glossary.md#receptive-feild), [x](other.md#iou)"
    assert glossary_links(text) == ["receptive-field", "receptive-feild"]
    assert broken_links(text, {"receptive-field"}) == ["receptive-feild"]


def test_every_glossary_link_in_the_chapters_lands_on_a_term():
    slugs = {github_slug(term) for term in glossary_terms()}
    broken, found = [], 0
    for path in NOTEBOOKS:
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            text = "".join(cell["source"])
            found += len(glossary_links(text))
            broken += [f"{path.name} cell {i}: #{anchor}" for anchor in broken_links(text, slugs)]
    assert not broken, f"links to terms the glossary does not have: {broken}; its terms: {sorted(slugs)}"
    assert found > 0


def test_terms_are_unique_and_in_alphabetical_order():
    terms = glossary_terms()
    assert len(terms) >= 20
    assert len({github_slug(t) for t in terms}) == len(terms)
    assert terms == sorted(terms, key=str.casefold), "keep the glossary's ### headings in alphabetical order"


def test_every_term_has_a_short_definition_naming_a_chapter_that_exists():
    text = GLOSSARY.read_text(encoding="utf-8")
    entries = re.split(r"^### .*$", text, flags=re.M)[1:]
    for term, entry in zip(glossary_terms(), entries):
        chapters = re.findall(r"\]\(((\d\d)_[a-z_]+\.ipynb)\)", entry)
        assert chapters, f"{term!r} names no chapter"
        assert all((ROOT / "notebooks" / name).exists() for name, _ in chapters), term
        sentences = len(re.findall(r"[.!?](\s|$)", entry.strip()))
        assert 1 <= sentences <= 4, f"{term!r}: {sentences} sentences"


def test_chapter_0_and_the_readme_point_to_the_glossary():
    chapter0 = next((ROOT / "notebooks").glob("00_*.ipynb")).read_text(encoding="utf-8")
    assert "](glossary.md)" in chapter0
    assert "](notebooks/glossary.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
