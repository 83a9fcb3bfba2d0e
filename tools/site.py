"""Build the course website into build/site/: ``python -m tools.site`` (``make site``).

The chapters are rendered from their stored outputs (MyST-NB with execution off: nothing is re-run). Sphinx
reads one folder, so the pages in docs/ (landing page, fcnlib, command line), the chapters, the glossary and
notebooks/figures/ are mirrored into build/site-work/src first (files copied only when changed, so a second
build redoes only what changed); docs/conf.py holds the settings.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "site"
WORK = ROOT / "build" / "site-work"


def site_sources() -> dict[str, Path]:
    """The site's pages and pictures: {path in the Sphinx source folder: file in the repository}."""
    files = {p.name: p for p in sorted(DOCS.glob("*.md"))}
    files |= {p.name: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    glossary = NOTEBOOKS / "glossary.md"
    if glossary.exists():  # another chapter file, shown when it is there
        files[glossary.name] = glossary
    files |= {f"figures/{p.name}": p for p in sorted((NOTEBOOKS / "figures").glob("*")) if p.is_file()}
    return files


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


def build(out: Path = OUT, quiet: bool = True) -> float:
    """Build the site into ``out`` and return the seconds it took; RuntimeError if Sphinx fails."""
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    src = WORK / "src"
    copied, removed = mirror(site_sources(), src)
    for rel in removed:  # a page that is gone leaves no page behind (Sphinx would keep it)
        for stale in (out / rel).with_suffix(".html"), out / "_sources" / rel:
            stale.unlink(missing_ok=True)
    args = ["-b", "html", "-c", str(DOCS), "-d", str(WORK / "doctrees"), "--keep-going", str(src), str(out)]
    if any(rel.endswith((".md", ".ipynb")) for rel in copied + removed):
        args.insert(0, "-a")  # every page's menu lists every page's title: write them all, read only what changed
    if quiet:
        args.insert(0, "-q")
    if build_main(args) != 0:
        raise RuntimeError(f"Sphinx could not build the site from {src}: see the messages above")
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else OUT
    seconds = build(out)  # quiet: Sphinx's warnings and errors only
    pages = len(list(out.glob("*.html")))  # (the theme leaves two template snippets in _static/)
    print(f"site: {pages} pages in {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
