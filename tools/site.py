"""Build the course website into build/site/: ``python -m tools.site`` (``make site``).

The chapters are rendered from their stored outputs (MyST-NB with execution off: nothing is re-run). Sphinx
reads one folder, so the pages in docs/ (landing page, fcnlib, command line), the chapters, the glossary and
notebooks/figures/ are mirrored into build/site-work/src first (files copied only when changed, so a second
build redoes only what changed); docs/conf.py holds the settings.

The Chinese edition is a second Sphinx build with the same settings and theme (``language = "zh_CN"``) into
build/site/zh/: the Chinese chapters that exist (notebooks/zh/NN_*.ipynb), the Chinese glossary and a landing page
made from README.zh.md, mirrored into build/site-work/zh-src. Each build is told the other's pages, so that every
page links to the same page in the other language, or to the other language's landing page where there is none.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "site"
WORK = ROOT / "build" / "site-work"
ZH_TITLE = "FCN notebooks 中文版"
# The Chinese landing page's menu: the chapters in order, then the glossary (hidden: the theme draws it).
ZH_TOCTREE = """

```{toctree}
:hidden:
:caption: 章节
:glob:

[0-9]*
```

```{toctree}
:hidden:
:caption: 参考

glossary
```
"""


def site_sources() -> dict[str, Path]:
    """The site's pages and pictures: {path in the Sphinx source folder: file in the repository}."""
    files = {p.name: p for p in sorted(DOCS.glob("*.md"))}
    files |= {p.name: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    glossary = NOTEBOOKS / "glossary.md"
    if glossary.exists():  # another chapter file, shown when it is there
        files[glossary.name] = glossary
    files |= {f"figures/{p.name}": p for p in sorted((NOTEBOOKS / "figures").glob("*")) if p.is_file()}
    return files


def zh_landing(readme: str) -> str:
    """The Chinese landing page (index.md) from README.zh.md's text: its link to the English README left out (every
    page has the language switch), links to Chinese chapters made relative to the Chinese site, and the menu added.
    Links to English chapters (``notebooks/NN_name.ipynb``) stay: the site points them at the English pages."""
    text = re.sub(r"^\[English\]\(README\.md\)\n+", "", readme, count=1, flags=re.M)
    return text.replace("](notebooks/zh/", "](").rstrip("\n") + ZH_TOCTREE


def zh_sources() -> dict[str, Path]:
    """The Chinese site's pages: {path in its Sphinx source folder: file}; the landing page is written (only when
    its text changes) into build/site-work/zh-index.md from README.zh.md."""
    landing = WORK / "zh-index.md"
    text = zh_landing((ROOT / "README.zh.md").read_text(encoding="utf-8"))
    if not landing.exists() or landing.read_text(encoding="utf-8") != text:
        landing.parent.mkdir(parents=True, exist_ok=True)
        landing.write_text(text, encoding="utf-8")
    files = {"index.md": landing}
    files |= {p.name: p for p in sorted((NOTEBOOKS / "zh").glob("[0-9][0-9]_*.ipynb"))}
    if (NOTEBOOKS / "zh" / "glossary.md").exists():
        files["glossary.md"] = NOTEBOOKS / "zh" / "glossary.md"
    return files


def _pages(files: dict[str, Path]) -> str:
    """The page names (Sphinx docnames) among a site's files, comma-separated: what the other language links to."""
    return ",".join(sorted(rel.rsplit(".", 1)[0] for rel in files if rel.endswith((".md", ".ipynb"))))


def mirror(files: dict[str, Path], dest: Path) -> tuple[list[str], list[str]]:
    """Make ``dest`` hold exactly ``files`` (copies keep their times, unchanged ones are left alone); return the
    paths it copied and those it removed."""
    dest.mkdir(parents=True, exist_ok=True)
    copied, removed = [], []
    for rel, src in files.items():
        target = dest / rel
        if not target.exists() or not filecmp.cmp(src, target, shallow=False):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            copied.append(rel)
    for path in sorted(dest.rglob("*"), reverse=True):  # only build/site-work/src: never a user's file
        rel = path.relative_to(dest).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
            removed.append(rel)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return copied, removed


def _sphinx(files: dict[str, Path], src: Path, doctrees: Path, out: Path, options: list[str], quiet: bool) -> None:
    """One Sphinx build of ``files`` (mirrored into ``src``) into ``out``, with ``-D`` ``options``."""
    from sphinx.cmd.build import build_main

    copied, removed = mirror(files, src)
    for rel in removed:  # a page that is gone leaves no page behind (Sphinx would keep it)
        for stale in (out / rel).with_suffix(".html"), out / "_sources" / rel:
            stale.unlink(missing_ok=True)
    args = ["-b", "html", "-c", str(DOCS), "-d", str(doctrees), "--keep-going", str(src), str(out)]
    for option in options:
        args[:0] = ["-D", option]
    if any(rel.endswith((".md", ".ipynb")) for rel in copied + removed):
        args.insert(0, "-a")  # every page's menu lists every page's title: write them all, read only what changed
    if quiet:
        args.insert(0, "-q")
    if build_main(args) != 0:
        raise RuntimeError(f"Sphinx could not build the site from {src}: see the messages above")


def build(out: Path = OUT, quiet: bool = True) -> float:
    """Build the site into ``out`` (the Chinese edition into ``out``/zh) and return the seconds it took;
    RuntimeError if Sphinx fails."""
    start = time.perf_counter()
    english, chinese = site_sources(), zh_sources()
    _sphinx(english, WORK / "src", WORK / "doctrees", out, [f"course_other_pages={_pages(chinese)}"], quiet)
    zh_options = ["language=zh_CN", "course_language=zh", f"html_title={ZH_TITLE}"]
    zh_options.append(f"course_other_pages={_pages(english)}")
    _sphinx(chinese, WORK / "zh-src", WORK / "zh-doctrees", out / "zh", zh_options, quiet)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else OUT
    seconds = build(out)  # quiet: Sphinx's warnings and errors only
    pages = len(list(out.glob("*.html")))  # (the theme leaves two template snippets in _static/)
    pages_zh = len(list((out / "zh").glob("*.html")))
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"site: {pages} pages and {pages_zh} Chinese pages (zh/) in {where} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
