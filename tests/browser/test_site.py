"""The course website (``make site``) in a real browser: Chromium reads build/site/ from 127.0.0.1.

The site is built (or brought up to date: Sphinx redoes only what changed) once per session. Every page, the
Chinese edition's in zh/ too, is visited at desktop size and at phone size; each visit records console errors, requests that would leave
127.0.0.1 (aborted, so nothing reaches the network), local files that failed, images that did not load,
and the page's links, and the tests below check those records and what a learner sees on the chapters.
"""

from __future__ import annotations

import argparse
import functools
import re
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest
from loopback import LoopbackServer, serving

from tools import repo
from tools import site as site_tool

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ZH_CHAPTERS = sorted((ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1"}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in pytest's output
        pass


@dataclass
class Visit:
    """What one page did in the browser."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    left_localhost: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    overflow_px: int = 0


@pytest.fixture(scope="session")
def built_site() -> Path:
    seconds = site_tool.build()
    print(f"\nsite built or brought up to date in {seconds:.1f} s")
    return site_tool.OUT


@pytest.fixture(scope="session")
def site_url(built_site: Path):
    handler = functools.partial(QuietHandler, directory=str(built_site))
    with serving(LoopbackServer(handler)) as srv:
        yield srv.url("/")


@pytest.fixture(scope="session")
def pages(built_site: Path) -> list[str]:
    """Every page, English then Chinese (zh/...) (the theme's template snippets in _static/ are not pages)."""
    return sorted(p.name for p in built_site.glob("*.html")) + sorted(
        f"zh/{p.name}" for p in (built_site / "zh").glob("*.html")
    )


def _watch(page, visit: Visit) -> None:
    def route(r):
        if urlsplit(r.request.url).hostname in LOCAL_HOSTS or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            visit.left_localhost.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.console_errors.append(str(e)))
    page.on("response", lambda r: visit.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def _open(browser, url: str, viewport: dict, wait_until: str = "networkidle") -> tuple:
    page = browser.new_page()
    page.set_viewport_size(viewport)
    visit = Visit(url)
    _watch(page, visit)
    page.goto(url, wait_until=wait_until)
    page.evaluate("document.fonts.ready")
    page.evaluate("window.MathJax?.startup?.promise ? MathJax.startup.promise.then(() => true) : true")  # typeset
    return page, visit


def _visit_all(browser, site_url: str, pages: list[str], viewport: dict, wait_until: str) -> dict[str, Visit]:
    visits = {}
    for name in pages:
        page, visit = _open(browser, site_url + name, viewport, wait_until)
        try:
            page.evaluate("Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
            visit.broken_images = page.evaluate(
                "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
            )
            visit.links = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
            visit.overflow_px = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        finally:
            page.close()
        visits[name] = visit
    return visits


@pytest.fixture(scope="session")
def desktop_visits(browser, site_url, pages) -> dict[str, Visit]:
    return _visit_all(browser, site_url, pages, DESKTOP, "networkidle")  # every request the page makes


@pytest.fixture(scope="session")
def phone_visits(browser, site_url, pages) -> dict[str, Visit]:
    return _visit_all(browser, site_url, pages, PHONE, "load")  # the layout


def _chapter_page(path: Path) -> str:
    return path.with_suffix(".html").name


def test_the_site_has_every_chapter_and_page(pages):
    wanted = {"index.html", "fcnlib.html", "cli.html", "search.html"} | {_chapter_page(p) for p in CHAPTERS}
    assert wanted <= set(pages), f"missing pages: {sorted(wanted - set(pages))}"
    # the glossary is a page exactly when the repository has one
    assert ("glossary.html" in pages) == (ROOT / "notebooks" / "glossary.md").exists()


def test_the_landing_page_maps_the_chapters(built_site):
    """The picture, one line per chapter with its page and its Colab link, and the README's two commands."""
    index = (built_site / "index.html").read_text(encoding="utf-8")
    assert 'src="_images/overview.png"' in index
    for path in CHAPTERS:
        assert f'href="{_chapter_page(path)}"' in index and f'href="{repo.colab_url(path.name)}"' in index, path.name
    text = re.sub(r"<[^>]+>", "", index)
    assert "make lab" in text and "make test" in text


def test_every_page_loads_offline_without_errors(desktop_visits):
    problems = {
        name: {k: v for k, v in vars(visit).items() if k in ("console_errors", "left_localhost", "failed") and v}
        for name, visit in desktop_visits.items()
    }
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, f"pages with console errors, requests off 127.0.0.1 or failed files: {problems}"


def test_every_image_loads(desktop_visits):
    broken = {name: v.broken_images for name, v in desktop_visits.items() if v.broken_images}
    assert not broken, f"images with naturalWidth 0: {broken}"
    assert sum(1 for v in desktop_visits.values() for _ in v.links) > 0


@functools.cache
def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', path.read_text(encoding="utf-8")))


def test_every_internal_link_resolves(desktop_visits, site_url, built_site):
    broken, checked = [], 0
    for name, visit in desktop_visits.items():
        for link in visit.links:
            if not link.startswith(site_url):
                continue
            parts = urlsplit(link)
            target = built_site / unquote(parts.path.removeprefix("/"))
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.is_file():
                broken.append(f"{name} -> {link} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target):
                broken.append(f"{name} -> {link} (no id {parts.fragment!r})")
    assert checked > 100, f"only {checked} internal links found"
    assert not broken, "\n".join(broken)


def test_a_phone_shows_every_page_without_horizontal_scrolling(phone_visits):
    wide = {name: v.overflow_px for name, v in phone_visits.items() if v.overflow_px > 0}
    assert not wide, f"pages wider than a 390-pixel phone screen (pixels too wide): {wide}"
    problems = {name: v.console_errors + v.left_localhost for name, v in phone_visits.items()}
    assert not any(problems.values()), problems


def _check_buttons(page, built_site: Path, path: Path) -> None:
    """Colab (header button and the page's own link), .ipynb download, source on GitHub, previous and next."""
    colab = page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "links => links.map(a => a.getAttribute('href'))"
    )
    assert len(colab) >= 2 and set(colab) == {repo.colab_url(path.name)}, colab
    download = page.get_attribute(".dropdown-download-buttons a[href$='.ipynb']", "href")
    assert (built_site / urlsplit(urljoin(page.url, download)).path.lstrip("/")).read_bytes() == path.read_bytes()
    source = f"https://github.com/{repo.REPOSITORY}/blob/{repo.BRANCH}/notebooks/{path.name}"
    assert page.locator(f"a[href^='{source}']").count() >= 1, f"no link to {source}"
    assert page.locator(".bd-toc-nav a, nav.page-toc a").count() >= 3  # the page's table of contents
    index = CHAPTERS.index(path)
    if index + 1 < len(CHAPTERS):
        assert page.get_attribute("a.right-next", "href") == _chapter_page(CHAPTERS[index + 1])
    assert page.get_attribute("a.left-prev", "href") == (_chapter_page(CHAPTERS[index - 1]) if index else "index.html")


def _widget(cell) -> bool:
    """A code cell that stored a widget (an explorer, or chapter 7's upload button)."""
    return any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.get("outputs", []))


def _check_solutions_and_explorers(page, path: Path) -> None:
    """Folded solutions stay folded; each explorer shows its stored picture and the line about the sliders."""
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    summaries = re.findall(r"<details>\s*<summary>(.*?)</summary>", markdown)
    explorers = sum(
        1 for c in nb.cells if c.cell_type == "code" and (re.search(r"\b\w+_explorer\(", c.source) or _widget(c))
    )
    shown = page.eval_on_selector_all("details > summary", "ss => ss.map(s => s.textContent.trim())")
    assert shown == summaries and any(s.startswith("Solution") for s in shown), shown
    folded = page.eval_on_selector_all(
        "details",
        """ds => ds.map(d => !d.open && d.querySelector('summary').checkVisibility()
                && Array.from(d.children).slice(1).every(c => !c.checkVisibility()))""",
    )
    assert all(folded), f"solutions open or visible: {[s for s, f in zip(shown, folded) if not f]}"
    notes = page.locator("p.explorer-note")
    assert notes.count() == explorers
    for i in range(explorers):
        text = notes.nth(i).inner_text()
        assert "JupyterLab" in text and "Colab" in text
        if "explorer" not in text:  # another widget (an upload button): no picture to show
            continue
        cell = notes.nth(i).locator("xpath=ancestor::div[contains(@class, 'cell')][1]")
        assert cell.locator("img").evaluate("i => i.complete && i.naturalWidth > 0"), "explorer picture missing"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_page(browser, site_url, built_site, path):
    page, visit = _open(browser, site_url + _chapter_page(path), DESKTOP)
    try:
        _check_buttons(page, built_site, path)
        _check_solutions_and_explorers(page, path)
    finally:
        page.close()


def test_search_finds_transposed_convolution_in_chapter_2(browser, site_url):
    page, visit = _open(browser, site_url + "search.html?q=transposed", DESKTOP)
    try:
        deadline = time.monotonic() + 30
        while page.locator("#search-results li").count() == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        found = page.eval_on_selector_all("#search-results li a", "links => links.map(a => a.getAttribute('href'))")
        assert any(h.split("?")[0].split("#")[0] == "02_transposed_conv.html" for h in found), found
        assert not visit.left_localhost and not visit.console_errors
    finally:
        page.close()


def test_math_is_rendered_by_mathjax_from_the_site(browser, site_url):
    page, visit = _open(browser, site_url + "01_bilinear_kernel.html", DESKTOP)
    try:
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=30_000)
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("MathJax.startup.promise")
        spans = page.locator("span.math, div.math").count()
        rendered = page.locator("span.math mjx-container, div.math mjx-container").count()
        assert spans >= 5 and rendered == spans, (spans, rendered)
        raw = page.eval_on_selector_all(
            "span.math, div.math", "ms => ms.filter(m => /[$\\\\]/.test(m.innerText)).length"
        )
        assert raw == 0, f"{raw} formulas still show TeX source"
        fonts = [u for u in page.evaluate("performance.getEntriesByType('resource').map(e => e.name)") if ".woff" in u]
        assert fonts and all(urlsplit(u).hostname == "127.0.0.1" for u in fonts), fonts
        assert not visit.left_localhost, visit.left_localhost
    finally:
        page.close()


def _choose_mode(page, mode: str) -> None:
    """Pick light, dark or auto with the header's theme button (a menu, or a button that cycles)."""
    button = page.locator(".article-header-buttons .theme-switch-button")
    item = page.locator(f".article-header-buttons .theme-change-button[data-mode='{mode}']")
    for _ in range(3):
        if page.evaluate("document.documentElement.dataset.mode") == mode:
            return
        button.click()
        if item.count() and item.is_visible():
            item.click()
    assert page.evaluate("document.documentElement.dataset.mode") == mode


def test_light_and_dark_themes(browser, site_url):
    page, visit = _open(browser, site_url + "01_bilinear_kernel.html", DESKTOP)
    background = "getComputedStyle(document.body).backgroundColor"
    try:
        colours = {}
        for mode in ("dark", "light", "auto"):  # auto last: the choice is remembered for later pages
            _choose_mode(page, mode)
            colours[mode] = (page.evaluate("document.documentElement.dataset.theme"), page.evaluate(background))
        assert colours["dark"][0] == "dark" and colours["light"][0] == "light", colours
        assert colours["dark"][1] != colours["light"][1], colours
        assert not visit.console_errors, visit.console_errors
    finally:
        page.close()


def test_reference_pages_are_generated_from_fcnlib(browser, site_url, built_site):
    """The fcnlib page documents every module's public names; the command-line page shows argparse's help."""
    import fcnlib
    from fcnlib.__main__ import build_parser

    api = (built_site / "fcnlib.html").read_text(encoding="utf-8")
    for name in fcnlib.__all__:  # each public name, documented in the module that defines it
        home = getattr(fcnlib, name).__module__
        assert f'id="{home}.{name}"' in api, f"{name} ({home}) is not on the fcnlib page"
    assert f'id="module-{fcnlib.data.voc.__name__}"' in api
    page, visit = _open(browser, site_url + "cli.html", DESKTOP)
    try:
        text = " ".join(page.locator("article").inner_text().split())
    finally:
        page.close()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        for action in command._actions:
            for option in [] if action.help == argparse.SUPPRESS else action.option_strings:
                assert option in text, f"{name} {option} missing from the command-line page"
        assert f"usage: python -m fcnlib {name}" in text


# --- the Chinese edition (build/site/zh/) and the language switch ---


def _switch(path: Path) -> list[str]:
    return re.findall(r'<p class="language-switch"><a href="([^"]+)"', path.read_text(encoding="utf-8"))


def test_the_chinese_site_has_its_chapters_glossary_and_landing_page(pages, built_site):
    wanted = {"zh/index.html", "zh/search.html"} | {f"zh/{_chapter_page(p)}" for p in ZH_CHAPTERS}
    wanted |= {"zh/glossary.html"} if (ROOT / "notebooks" / "zh" / "glossary.md").exists() else set()
    assert ZH_CHAPTERS and wanted <= set(pages), f"missing: {sorted(wanted - set(pages))}"
    assert not {f"zh/{_chapter_page(p)}" for p in CHAPTERS} - {f"zh/{_chapter_page(p)}" for p in ZH_CHAPTERS} & set(
        pages
    ), "a Chinese page for a chapter that has no Chinese notebook"
    index = (built_site / "zh" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in index and "make lab" in re.sub(r"<[^>]+>", "", index)
    for path in CHAPTERS:  # the Chinese chapter where there is one, else the English page; Colab opens the same
        chinese = (ROOT / "notebooks" / "zh" / path.name).exists()
        assert f'href="{"" if chinese else "../"}{_chapter_page(path)}"' in index, path.name
        assert f'href="{repo.colab_url(("zh/" if chinese else "") + path.name)}"' in index, path.name


def test_every_page_links_to_the_same_page_in_the_other_language(built_site, pages):
    """The link at the top of each page: the same page in the other language, else that language's landing page."""
    chinese = {p.removeprefix("zh/") for p in pages if p.startswith("zh/")}
    checked = 0
    for name in pages:
        if name.removeprefix("zh/") in ("search.html", "genindex.html", "py-modindex.html"):
            continue  # Sphinx's generated pages have no page of their own to switch to
        if name.startswith("zh/"):
            expected = "../" + name.removeprefix("zh/")
        else:
            expected = "zh/" + (name if name in chinese else "index.html")
        assert _switch(built_site / name) == [expected], name
        assert (built_site / name).parent.joinpath(expected).resolve().is_file(), name
        checked += 1
    assert checked >= len(CHAPTERS) + len(ZH_CHAPTERS) + 4


def test_the_switch_works_both_ways_in_the_browser(browser, site_url):
    trips = [
        (_chapter_page(ZH_CHAPTERS[0]), "zh/" + _chapter_page(ZH_CHAPTERS[0]), _chapter_page(ZH_CHAPTERS[0])),
        ("index.html", "zh/index.html", "index.html"),
    ]
    untranslated = [p for p in CHAPTERS if not (ROOT / "notebooks" / "zh" / p.name).exists()]
    trips += [(_chapter_page(untranslated[0]), "zh/index.html", "index.html")] if untranslated else []  # none left
    for start, arrive, back in trips:
        page, visit = _open(browser, site_url + start, DESKTOP)
        try:
            page.click("p.language-switch a")
            page.wait_for_load_state("load")
            assert page.url == site_url + arrive, (start, page.url)
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            page.click("p.language-switch a")
            page.wait_for_load_state("load")
            assert page.url == site_url + back and page.evaluate("document.documentElement.lang") == "en"
            assert not visit.console_errors and not visit.left_localhost, vars(visit)
        finally:
            page.close()


@pytest.mark.parametrize("path", ZH_CHAPTERS, ids=lambda p: p.name)
def test_chinese_chapter_page(browser, site_url, built_site, path):
    """Chinese text; Colab, download and source open the Chinese notebook; previous and next stay in Chinese;
    glossary links land on the Chinese glossary's headings; folded solutions and explorer notes as in English."""
    page, visit = _open(browser, site_url + "zh/" + _chapter_page(path), DESKTOP)
    try:
        assert len(CJK.findall(page.locator("article").inner_text())) > 500
        colab = page.eval_on_selector_all(
            "a[href*='colab.research.google.com']", "links => links.map(a => a.getAttribute('href'))"
        )
        assert len(colab) >= 2 and set(colab) == {repo.colab_url("zh/" + path.name)}, colab
        download = page.get_attribute(".dropdown-download-buttons a[href$='.ipynb']", "href")
        assert (built_site / urlsplit(urljoin(page.url, download)).path.lstrip("/")).read_bytes() == path.read_bytes()
        source = f"https://github.com/{repo.REPOSITORY}/blob/{repo.BRANCH}/notebooks/zh/{path.name}"
        assert page.locator(f"a[href^='{source}']").count() >= 1, f"no link to {source}"
        index = ZH_CHAPTERS.index(path)
        previous = _chapter_page(ZH_CHAPTERS[index - 1]) if index else "index.html"
        assert page.get_attribute("a.left-prev", "href") == previous
        terms = page.eval_on_selector_all("article a[href^='glossary.html#']", "as => as.map(a => a.hash.slice(1))")
        glossary = (built_site / "zh" / "glossary.html").read_text(encoding="utf-8")
        assert terms and all(f'id="{unquote(t)}"' in glossary for t in terms), terms
        nb = nbformat.read(path, as_version=4)
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        shown = page.eval_on_selector_all("details > summary", "ss => ss.map(s => s.textContent.trim())")
        assert shown == re.findall(r"<details>\s*<summary>(.*?)</summary>", markdown)
        assert page.eval_on_selector_all("details", "ds => ds.every(d => !d.open)")
        notes = page.locator("p.explorer-note").all_inner_texts()
        widgets = [c for c in nb.cells if c.cell_type == "code" and (re.search(r"_explorer\(", c.source) or _widget(c))]
        assert len(notes) == len(widgets)  # explorers, and chapter 7's upload button
        assert all("JupyterLab" in n and "Colab" in n and CJK.search(n) for n in notes), notes
    finally:
        page.close()


def test_a_chinese_chapter_renders_its_math_offline(browser, site_url):
    most_math = max(ZH_CHAPTERS, key=lambda p: p.read_text(encoding="utf-8").count("$"))  # the chapter with most maths
    page, visit = _open(browser, site_url + "zh/" + _chapter_page(most_math), DESKTOP)
    try:
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=30_000)
        page.evaluate("MathJax.startup.promise")
        spans = page.locator("span.math, div.math").count()
        rendered = page.locator("span.math mjx-container, div.math mjx-container").count()
        assert spans >= 5 and rendered == spans, (spans, rendered)
        resources = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert any("/zh/_static/mathjax/" in u for u in resources), "MathJax not from the Chinese site's own copy"
        assert all(urlsplit(u).hostname == "127.0.0.1" for u in resources)
        assert not visit.console_errors and not visit.left_localhost and not visit.failed, vars(visit)
    finally:
        page.close()
