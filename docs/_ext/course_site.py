"""The course website's own pieces (a Sphinx extension loaded by docs/conf.py).

- Chapter pages: the notebook's Colab badge (an image on Google's host) becomes a plain link; each explorer's
  stored picture gets a line saying that its controls move in JupyterLab or Colab; the header's Colab button
  takes its address from ``tools.repo.colab_url``; the "show source" button points at the page's real file
  (notebooks/ or docs/); links to repository files outside the site (``../README.md``) go to GitHub.
- Directives: ``chapter-map`` (landing page), ``module-map`` (fcnlib page), and the generated parts of the
  fcnlib and command-line pages (``<!-- api -->``, ``<!-- cli -->``), rebuilt on every build.
- Two languages: the English site and the Chinese one in zh/ are two builds of these settings
  (``course_language``: ``en`` or ``zh``, ``course_other_pages``: the other build's pages, set by tools/site.py).
  Every page starts with a link to the same page in the other language, or to the other language's landing
  page where there is none; a Chinese page's links to English chapters go to the English site's pages.
- MathJax 3 is copied out of the sphinx-mathjax-offline package into ``_static/mathjax`` (only what the
  pages use: TeX input, CHTML output with its web fonts, the menu), so no page loads it from a CDN.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import pkgutil
import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

from tools import repo

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GITHUB = f"https://github.com/{repo.REPOSITORY}"
EXPLORER_CALL = re.compile(r"\b\w+_explorer\(")  # fcnlib.widgets' explorers: widgets.bilinear_explorer() etc.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The words the site adds to a page, by language (course_language).
WORDS = {
    "en": {
        "explorer": "The sliders of this explorer run in JupyterLab or Colab: open the chapter there to move them.",
        "picture": " The picture above is the explorer as the notebook stores it.",
        "widget": "This widget runs in JupyterLab or Colab: open the chapter there to use it.",
        "colab": "Open in Colab",
        "other": "中文",  # the switch, in the language it leads to
        "other_missing": "中文版（本页尚未翻译）",
    },
    "zh": {
        "explorer": "这个探索器的滑块要在 JupyterLab 或 Colab 中才能拖动：请在那里打开本章。",
        "picture": "上图是笔记本中存储的探索器画面。",
        "widget": "这个控件要在 JupyterLab 或 Colab 中才能使用：请在那里打开本章。",
        "colab": "在 Colab 中打开",
        "other": "English",
        "other_missing": "English (this page is not in English)",
    },
}
OTHER = {"en": "zh", "zh": "en"}
ENGLISH_PAGE = re.compile(r"^notebooks/(\d\d_[\w-]+)\.ipynb$|^notebooks/(glossary)\.md$|^README\.(md)$")
# fcnlib's modules from the lowest layer up (a module imports only those before it; tests/test_layout.py).
LAYERS = ["profiles", "shapes", "upsampling", "weights", "model", "metrics", "data", "training", "inference"]
LAYERS += ["experiments", "viz", "widgets", "checks", "__main__"]
STEMMER_FILES = ["base-stemmer.js", "english-stemmer.js"]  # Sphinx's minified snowball stemmers
MATHJAX_PARTS = ["tex-chtml.js", "input/tex/extensions", "output/chtml/fonts", "ui"]


def repo_path(env, docname: str) -> str:
    """The repository file a page comes from: docs/NAME.md or notebooks/NAME.ipynb (or .md); on the Chinese site
    notebooks/zh/NAME.ipynb (or .md), and README.zh.md for the landing page."""
    source = Path(env.doc2path(docname))
    if env.config.course_language == "zh":
        return "README.zh.md" if docname == "index" else f"notebooks/zh/{source.name}"
    folder = "docs" if (DOCS / source.name).exists() else "notebooks"
    return f"{folder}/{source.name}"


def _words(env) -> dict[str, str]:
    return WORDS[env.config.course_language]


def github_url(path: str) -> str:
    return f"{GITHUB}/blob/{repo.BRANCH}/{path}"


def _is_colab_badge(node: nodes.Node) -> bool:
    return isinstance(node, nodes.image) and "colab-badge" in node.get("uri", "")


def _cells(doctree: nodes.document, element: str):
    return [n for n in doctree.findall(nodes.container) if n.get("nb_element") == element]


def _mime_types(cell: nodes.Element) -> set[str]:
    types = set()
    for node in cell.findall(nodes.Element):
        if node.get("mime_type"):
            types.add(node["mime_type"])
    return types


def rewrite_chapter(app: Sphinx, doctree: nodes.document) -> None:
    """doctree-read: the Colab badge as a text link, and a note under every explorer's stored picture."""
    words = _words(app.env)
    for image in list(doctree.findall(_is_colab_badge)):
        link = image.parent
        link.replace(image, nodes.Text(words["colab"]))
        link["classes"].append("colab-link")
    for cell in _cells(doctree, "cell_code"):
        source = "".join(n.astext() for n in _cells(cell, "cell_code_source"))
        types = _mime_types(cell)  # (MyST-NB keeps a bundle's choices until it writes the page)
        if EXPLORER_CALL.search(source):
            text = words["explorer"] + (words["picture"] if "image/png" in types else "")
        elif WIDGET_VIEW in types:  # another widget (chapter 7's upload button)
            text = words["widget"]
        else:
            continue
        cell += nodes.paragraph("", text, classes=["explorer-note"])


class LinkOutsideFiles(SphinxPostTransform):
    """A Markdown link to a repository file that is not a page of the site (``../README.md``) goes to that file
    on GitHub (before MyST would warn and drop the link). On the Chinese site, a link to an English chapter, the
    English glossary or README.md goes to its page on the English site, and one to README.zh.md to the landing
    page."""

    default_priority = 8  # MyST resolves its links at 9

    def run(self, **kwargs) -> None:
        pages = {repo_path(self.env, d) for d in self.env.found_docs}
        chinese = self.env.config.course_language == "zh"
        for node in list(self.document.findall(pending_xref)):
            target = node.get("reftarget", "")
            if node.get("reftype") != "myst" or "://" in target or target.startswith("#"):
                continue
            folder = posixpath.dirname(repo_path(self.env, node.get("refdoc", self.env.docname)))
            path = posixpath.normpath(posixpath.join(folder, target.split("#")[0]))
            anchor = "#" + target.split("#", 1)[1] if "#" in target else ""
            english = ENGLISH_PAGE.match(path)
            if chinese and path == "README.zh.md" and node.get("refdoc") != "index":
                uri = _relative("index.html", node.get("refdoc", self.env.docname))
            elif chinese and english:  # (the Chinese site is build/site/zh/: the English one is one folder up)
                page = {"md": "index"}.get(english.group(3), english.group(1) or english.group(2) or "index")
                uri = _relative(f"../{page}.html", node.get("refdoc", self.env.docname)) + anchor
            elif path not in pages and not path.startswith("..") and (ROOT / path).is_file():
                uri = github_url(path)
            else:
                continue
            node.replace_self(nodes.reference("", "", *node.children, refuri=uri, internal=False))


def _relative(target: str, docname: str) -> str:
    """``target`` (a path from the site's top folder) as a link from the page ``docname``."""
    return posixpath.relpath(target, posixpath.dirname(docname) or ".")


def language_switch(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """html-page-context: a link at the top of every page to the same page in the other language (the other
    language's landing page where it has no such page)."""
    if "body" not in context or doctree is None:
        return
    language, other = app.config.course_language, [p for p in app.config.course_other_pages.split(",") if p]
    words, folder = WORDS[language], "zh/" if language == "en" else "../"
    found = pagename in other
    target = _relative(f"{folder}{pagename if found else 'index'}.html", pagename)
    label = words["other" if found else "other_missing"]
    lang = OTHER[language]
    switch = f'<p class="language-switch"><a href="{target}" hreflang="{lang}" lang="{lang}">{label}</a></p>\n'
    context["body"] = switch + context["body"]


def page_buttons(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """html-page-context, before the theme's buttons: "show source" points at the page's real file."""
    if doctree is not None and pagename in app.env.found_docs:
        context["doc_path"] = posixpath.dirname(repo_path(app.env, pagename))


def colab_button(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """html-page-context, after the theme's buttons: the Colab button opens tools.repo.colab_url(chapter)."""
    path = repo_path(app.env, pagename) if pagename in app.env.found_docs else None
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = repo.colab_url(path.removeprefix("notebooks/"))
            elif button.get("label") == "source-file-button" and path:  # README.zh.md is the Chinese landing page
                button["url"] = github_url(path) + "?plain=1"


class ChapterMap(Directive):
    """One line per chapter, ``NN: what it does``: the chapter's title (a link), the line, and Colab."""

    has_content = True

    def run(self):
        env = self.state.document.settings.env
        items = nodes.bullet_list(classes=["chapter-map"])
        for line in self.content:
            number, _, text = line.partition(":")
            docs = sorted(d for d in env.found_docs if d.startswith(f"{number.strip()}_"))
            if not docs:
                raise self.error(f"chapter-map: no chapter notebooks/{number.strip()}_*.ipynb for {line!r}")
            ref = pending_xref("", nodes.inline("", docs[0]), refdomain="std", reftype="doc", reftarget=f"/{docs[0]}")
            ref.attributes.update(refexplicit=False, refdoc=env.docname, refwarn=True)
            colab = nodes.reference("", "Open in Colab", refuri=repo.colab_url(f"{docs[0]}.ipynb"))
            colab["classes"].append("colab-link")
            para = nodes.paragraph("", "", nodes.strong("", "", ref), nodes.Text(f": {text.strip()} "), colab)
            items += nodes.list_item("", para)
        return [items]


def _modules() -> list[str]:
    """fcnlib's public modules, lowest layer first (a package's modules after it)."""
    import fcnlib

    modules = pkgutil.walk_packages(fcnlib.__path__, "fcnlib.")
    names = [m.name for m in modules if "._" not in m.name and m.name != "fcnlib.__main__"]  # __main__: cli page

    def layer(name: str) -> tuple[int, str]:
        top = name.split(".")[1]
        return (LAYERS.index(top) if top in LAYERS else len(LAYERS), name)

    return sorted(names, key=layer)


def _first_sentence(module) -> str:
    doc = " ".join((module.__doc__ or "").split()).replace("``", "")
    doc = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc)  # :func:`name` -> name
    return re.split(r"(?<=\.)\s", doc, maxsplit=1)[0]


class ModuleMap(Directive):
    """fcnlib's modules from the lowest layer up, each with the first sentence of its docstring."""

    def run(self):
        items = nodes.definition_list(classes=["module-map"])
        for name in _modules():
            module = importlib.import_module(name)
            ref = pending_xref("", nodes.literal("", name), refdomain="py", reftype="mod", reftarget=name)
            ref.attributes.update(refexplicit=True, refwarn=False, refdoc=self.state.document.settings.env.docname)
            term = nodes.term("", "", ref)
            items += nodes.definition_list_item(
                "", term, nodes.definition("", nodes.paragraph("", _first_sentence(module)))
            )
        return [items]


def api_markdown() -> str:
    """One section per module of fcnlib with autodoc's account of its public names (a package: its docstring;
    its names are documented in its modules)."""
    parts = []
    for name in _modules():
        module = importlib.import_module(name)
        members = "" if module.__file__.endswith("__init__.py") else "   :members:\n"
        parts.append(f"## `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n{members}```\n")
    return "\n".join(parts)


def cli_markdown() -> str:
    """``python -m fcnlib --help`` and each subcommand's ``--help``, as argparse prints them (88 columns)."""
    from fcnlib.__main__ import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    with _columns(88):
        parts = [f"## `{parser.prog} --help`\n\n```text\n{parser.format_help()}```\n"]
        for command in sub.choices.values():
            parts.append(f"## `{command.prog}`\n\n```text\n$ {command.prog} --help\n{command.format_help()}```\n")
    return "\n".join(parts)


@contextlib.contextmanager
def _columns(width: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


GENERATED = {"<!-- api -->": api_markdown, "<!-- cli -->": cli_markdown}


def fill_generated(app: Sphinx, docname: str, source: list[str]) -> None:
    """source-read: replace the markers in docs pages with their generated Markdown."""
    for marker, make in GENERATED.items():
        if marker in source[0]:
            source[0] = source[0].replace(marker, make())


def reread_when_fcnlib_changes(app: Sphinx, env, added, changed, removed) -> list[str]:
    """env-get-outdated: the pages with generated parts are read again when a file of fcnlib has changed."""
    digest = hashlib.sha1()
    for path in sorted((ROOT / "fcnlib").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    if getattr(env, "course_site_fcnlib", None) == digest.hexdigest():
        return []
    env.course_site_fcnlib = digest.hexdigest()
    return [d for d in env.found_docs if any(m in Path(env.doc2path(d)).read_text() for m in GENERATED)]


def copy_mathjax(app: Sphinx, exception) -> None:
    """build-finished: MathJax 3.2 (TeX input, CHTML output, its fonts, the menu) into _static/mathjax."""
    if exception is not None or app.builder.format != "html":
        return
    package = Path(importlib.import_module("sphinx-mathjax-offline").__file__).parent / "static" / "mathjax"
    dest = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, target = package / part, dest / part
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        elif not target.exists() or target.stat().st_size != src.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def chinese_search(app: Sphinx, config) -> None:
    """config-inited: on the Chinese site, Sphinx's Chinese search with its JavaScript stemmer named right.
    Sphinx 9.0's SearchChinese stems Latin words with the English stemmer, ships english-stemmer.js, but its
    language_data.js sets ``window.Stemmer = ChineseStemmer``, which nothing defines: a console error on every page.
    Here language_data.js holds the English stemmer and names it."""
    import sphinx.search
    from sphinx.search.zh import SearchChinese

    if not str(config.language).startswith("zh"):
        return
    code = [(sphinx.search._MINIFIED_JS_PATH / name).read_text(encoding="utf-8") for name in STEMMER_FILES]

    class ChineseSearch(SearchChinese):
        js_stemmer_rawcode = ""  # (no stemmer file to copy: the code is inlined below)
        js_stemmer_code = "\n".join(code + ["window.Stemmer = EnglishStemmer;"])

    sphinx.search.languages["zh"] = ChineseSearch


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", chinese_search)
    app.add_config_value("course_language", "en", "env", str)
    app.add_config_value("course_other_pages", "", "html", str)
    app.connect("html-page-context", language_switch)
    app.connect("doctree-read", rewrite_chapter)
    app.add_post_transform(LinkOutsideFiles)
    app.connect("html-page-context", page_buttons, priority=400)
    app.connect("html-page-context", colab_button, priority=600)
    app.connect("source-read", fill_generated)
    app.connect("env-get-outdated", reread_when_fcnlib_changes)
    app.connect("build-finished", copy_mathjax)
    app.add_directive("chapter-map", ChapterMap)
    app.add_directive("module-map", ModuleMap)
    # A change to this file (or to conf.py) re-reads every page on the next build, as a fresh build would.
    digest = hashlib.sha1(Path(__file__).read_bytes() + (DOCS / "conf.py").read_bytes()).hexdigest()
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": int(digest[:8], 16)}
