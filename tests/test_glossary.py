"""The course glossary (notebooks/glossary.md): every `glossary.md#term` link in a chapter lands on one of its
headings, the terms are in alphabetical order, and each names the chapter that teaches it. The Chinese glossary
(notebooks/zh/glossary.md, built by tools/translate.py from notebooks/zh/glossary-page.yml): every English section
translated from its current text, Chinese headings with the glossary's terms, and every link of a Chinese chapter
landing on one of its headings as GitHub and MyST (the site) slug them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from myst_parser.slugs import github_slugify
from test_translation import _build, _checkout  # a copy of the translated chapters and the glossary, and its build

from tools import translate

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "notebooks" / "glossary.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # the English chapters
ZH = ROOT / "notebooks" / "zh"
ZH_GLOSSARY = ZH / "glossary.md"
ZH_NOTEBOOKS = sorted(ZH.glob("[0-9][0-9]_*.ipynb"))
LINK = re.compile(r"\]\((?:\./)?glossary\.md#([^)\s]*)\)")
TERMS = yaml.safe_load((ZH / "glossary.yml").read_text(encoding="utf-8"))  # English term -> Chinese term


def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped (letters of any script, CJK
    included, digits, spaces, hyphens and underscores stay), each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def glossary_terms(path: Path = GLOSSARY) -> list[str]:
    return [line[4:].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("### ")]


def sections(path: Path) -> dict[str, str]:
    """A glossary page's sections (title and terms) by their heading's slug, read here independently of the tool."""
    text = path.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"^#{1,3} ", text, flags=re.M)]
    parts = [text[a:b].rstrip() for a, b in zip(starts, starts[1:] + [len(text)])]
    return {github_slug(part.splitlines()[0].lstrip("#")): part for part in parts}


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
        ("感受野", "感受野"),  # CJK characters stay
        ("Xavier 初始化", "xavier-初始化"),
        ("编码器-解码器", "编码器-解码器"),
        ("条件随机场（CRF）", "条件随机场crf"),  # full-width punctuation dropped like ASCII punctuation
    ],
)
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug
    assert github_slugify(heading) == slug  # MyST's heading anchors (myst_heading_anchors), the site's links
    assert translate.heading_slug(heading) == slug


def test_broken_links_finds_a_link_to_a_missing_term():
    text = "a [field](glossary.md#receptive-field) and a [typo](glossary.md#receptive-feild), [x](other.md#iou)"
    assert glossary_links(text) == ["receptive-field", "receptive-feild"]
    assert broken_links(text, {"receptive-field"}) == ["receptive-feild"]


def test_every_glossary_link_in_the_english_chapters_lands_on_a_term():
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


# --- the Chinese glossary ---


def _zh_entries() -> dict[str, dict[str, str]]:
    return yaml.load((ZH / "glossary-page.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)


def test_every_english_section_is_translated_from_its_current_text():
    english, entries = sections(GLOSSARY), _zh_entries()
    assert len(english) == len(glossary_terms()) + 1  # the title with its introduction, and every term
    problems = []
    for slug, text in english.items():
        entry = entries.get(slug)
        if entry is None or entry["en"] != hashlib.sha256(text.encode()).hexdigest()[:12]:
            problems.append(f"{slug}: {'missing' if entry is None else 'stale'}")
        elif not re.match(r"#{1,3} \S", entry["zh"]) or not re.search(r"[\u4e00-\u9fff]", entry["zh"]):
            problems.append(f"{slug}: the translation does not start with a heading or holds no Chinese")
    assert not problems, "glossary sections to (re)translate (python -m tools.translate todo):\n" + "\n".join(problems)
    assert sorted(entries) == sorted(english), "translations of sections the English glossary no longer has"


def test_the_chinese_page_has_every_term_in_the_english_order_with_unique_anchors():
    english, chinese = glossary_terms(), glossary_terms(ZH_GLOSSARY)
    assert len(chinese) == len(english)
    slugs = [github_slug(h) for h in chinese]
    assert len(set(slugs)) == len(slugs) and all(slugs), slugs
    by_english = dict(zip(english, chinese))
    assert by_english["receptive field"] == "感受野" and by_english["transposed convolution"] == "转置卷积"
    text = ZH_GLOSSARY.read_text(encoding="utf-8")
    assert text.startswith("# 术语表\n") and "tools.translate" in text.splitlines()[-1]  # generated: says so


def test_chinese_headings_use_the_glossary_terms():
    """A heading whose English term uses a term of glossary.yml (d2l-zh's where it has one) holds its Chinese
    term; the definitions follow glossary.yml as the chapters do."""
    english, chinese = glossary_terms(), glossary_terms(ZH_GLOSSARY)
    problems = []
    for en, zh in zip(english, chinese):
        for term, zh_term in TERMS.items():
            if re.search(rf"\b{re.escape(term)}\b", en, re.I) and zh_term not in zh:
                problems.append(f"{en!r} -> {zh!r}: wants {zh_term!r}")
    entries, english_sections = _zh_entries(), sections(GLOSSARY)
    for slug, text in english_sections.items():
        problems += [f"{slug}: {p}" for p in translate.term_problems(text, entries[slug]["zh"], TERMS)]
    assert not problems, "\n".join(problems)


def test_every_glossary_link_in_the_chinese_chapters_lands_on_a_chinese_heading():
    slugs = {github_slug(h) for h in glossary_terms(ZH_GLOSSARY)}
    broken, found = [], 0
    for path in ZH_NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            text = "".join(cell["source"])
            assert "](../glossary.md" not in text, f"{path.name} cell {cell['id']} links the English glossary"
            found += len(glossary_links(text))
            broken += [f"{path.name} cell {cell['id']}: #{a}" for a in broken_links(text, slugs)]
    assert not broken, f"links to headings the Chinese glossary does not have: {broken}"
    assert found >= 10 and any(
        re.search(r"[\u4e00-\u9fff]", a) for p in ZH_NOTEBOOKS for a in LINK.findall(p.read_text(encoding="utf-8"))
    )
    local = re.findall(r"\]\(#([^)\s]+)\)", ZH_GLOSSARY.read_text(encoding="utf-8"))
    assert local and set(local) <= slugs, sorted(set(local) - slugs)
    for chapter in re.findall(r"\]\(((?:\.\./)?\d\d_[a-z_]+\.ipynb)\)", ZH_GLOSSARY.read_text(encoding="utf-8")):
        assert (ZH / chapter).exists(), chapter


def test_the_copy_builds_the_committed_page(tmp_path):
    root = _checkout(tmp_path)
    assert translate.main(["build", str(root)]) == 0
    assert (root / "notebooks" / "zh" / "glossary.md").read_text(encoding="utf-8") == ZH_GLOSSARY.read_text(
        encoding="utf-8"
    )


def test_a_changed_english_section_stops_the_build_and_is_named(tmp_path):
    root = _checkout(tmp_path)
    path = root / "notebooks" / "glossary.md"
    text = path.read_text(encoding="utf-8")
    changed = text.replace("The square of input pixels that one output position", "The square of input pixels one")
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    done = _build(root)
    assert done.returncode == 2
    assert "notebooks/zh/glossary-page.yml: section receptive-field: stale translation" in done.stderr
    assert "'### receptive field The square of input pixels one" in done.stderr
    assert "section backbone" not in done.stderr  # only the section that changed
    assert not (root / "notebooks" / "zh" / "glossary.md").exists()  # nothing half-built
    todo = translate.todo(root)
    assert "glossary section receptive-field (stale)" in todo and "The square of input pixels one" in todo


def test_a_new_english_term_without_translation_and_a_link_to_a_missing_term_stop_the_build(tmp_path):
    root = _checkout(tmp_path)
    path = root / "notebooks" / "glossary.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("### backbone", "### atrous convolution\nA dilated convolution.\n\n### backbone"))
    yml = root / "notebooks" / "zh" / "01.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("glossary.md#tap)", "glossary.md#tpa)"), encoding="utf-8")
    with pytest.raises(translate.TranslationError) as problems:
        translate.build(root)
    assert "section atrous-convolution: no translation of the section ('### atrous convolution A" in str(problems.value)
    assert "notebooks/zh/01.yml: chapter 01_bilinear_kernel.ipynb, cell " in str(problems.value)
    assert "glossary.md#tpa: the glossary has no term with that slug" in str(problems.value)
    assert "glossary section atrous-convolution (missing)" in translate.todo(root)


def test_a_chinese_section_without_its_heading_is_refused(tmp_path):
    root = _checkout(tmp_path)
    page = root / "notebooks" / "zh" / "glossary-page.yml"
    entries = translate.load_translation(page)
    entries["tap"]["zh"] = entries["tap"]["zh"].split("\n", 1)[1]  # the heading left out
    page.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    with pytest.raises(translate.TranslationError, match="glossary section tap: the Chinese text must start with its"):
        translate.build(root)
