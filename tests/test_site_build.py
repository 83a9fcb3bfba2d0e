"""The website's build step and publishing, without a browser (tests/browser/test_site.py reads the pages)."""

import os
from pathlib import Path

import yaml

from tools import repo
from tools import site as site_tool

ROOT = Path(__file__).resolve().parents[1]


def test_mirror_copies_what_changed_and_removes_what_is_gone(tmp_path):
    src, dest = tmp_path / "repo", tmp_path / "mirror"
    (src / "figures").mkdir(parents=True)
    files = {"a.md": src / "a.md", "figures/p.png": src / "figures" / "p.png"}
    files["a.md"].write_text("# A")
    files["figures/p.png"].write_bytes(b"\x89PNG")
    (dest / "old").mkdir(parents=True)
    (dest / "old" / "gone.ipynb").write_text("{}")
    assert site_tool.mirror(files, dest) == (["a.md", "figures/p.png"], ["old/gone.ipynb"])
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["a.md", "figures", "figures/p.png"]
    # an unchanged file is left alone (Sphinx then has nothing to redo), a changed one is copied
    os.utime(dest / "a.md", (1_000_000, 1_000_000))
    files["figures/p.png"].write_bytes(b"\x89PNG new")
    assert site_tool.mirror(files, dest) == (["figures/p.png"], [])
    assert (dest / "a.md").stat().st_mtime == 1_000_000
    assert (dest / "figures" / "p.png").read_bytes() == b"\x89PNG new"


def test_the_site_has_the_chapters_in_order_the_docs_pages_and_the_glossary_when_there():
    files = site_tool.site_sources()
    chapters = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [name for name in files if name.endswith(".ipynb")] == chapters
    assert {"index.md", "fcnlib.md", "cli.md", "figures/overview.png"} <= set(files)
    assert ("glossary.md" in files) == (ROOT / "notebooks" / "glossary.md").exists()


def test_the_chinese_landing_page_is_readme_zh_with_the_chinese_chapters_in_its_menu():
    readme = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    page = site_tool.zh_landing(readme)
    assert "[English](README.md)" in readme and "[English](README.md)" not in page  # the switch replaces it
    assert page.startswith(readme.split("\n")[0]) and "make lab" in page
    for english in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        chinese = (ROOT / "notebooks" / "zh" / english.name).exists()
        # a Chinese chapter is a page of the Chinese site; an English one stays a repository path (course_site
        # points it at the English site's page)
        assert f"]({'' if chinese else 'notebooks/'}{english.name})" in page, english.name
    assert "](notebooks/zh/" not in page
    menu = page.split("```{toctree}")[1:]
    assert len(menu) == 2 and "[0-9]*" in menu[0] and "glossary" in menu[1]


def test_the_chinese_site_has_the_chinese_chapters_glossary_and_landing_page():
    files = site_tool.zh_sources()
    chapters = sorted(p.name for p in (ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))
    assert chapters and [name for name in files if name.endswith(".ipynb")] == chapters
    assert files["glossary.md"] == ROOT / "notebooks" / "zh" / "glossary.md"
    assert files["index.md"].read_text(encoding="utf-8") == site_tool.zh_landing(
        (ROOT / "README.zh.md").read_text(encoding="utf-8")
    )
    pages = site_tool._pages(files).split(",")
    assert pages == sorted(["index", "glossary"] + [c.removesuffix(".ipynb") for c in chapters])
    assert "01_bilinear_kernel" in site_tool._pages(site_tool.site_sources()).split(",")


def test_the_site_address_follows_the_repository_constant(monkeypatch):
    assert repo.site_url() == "https://fcn-notebooks.github.io/fcn-notebooks/"
    monkeypatch.setattr(repo, "REPOSITORY", "someone/fork")
    assert repo.site_url() == "https://someone.github.io/fork/"


def test_readme_gives_the_address_and_the_workflow_publishes_make_site_from_main():
    assert repo.site_url() in (ROOT / "README.md").read_text()
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True
    build = workflow["jobs"]["build"]["steps"]
    assert any(step.get("run") == "make site" for step in build)
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "build/site"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages")
