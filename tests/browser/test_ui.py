"""The explorers in a real browser: JupyterLab + headless Chromium, chapters 1 and 2, run and clicked.

For each chapter: open it, run all cells, find the explorer, move one slider with the
keyboard (as a user would after clicking it), and check that the output-size text and
the figure change. Screenshots before and after go to build/ui/ for a person to look at.
Run with ``make test-ui``; needs Debian's Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

RUN_TIMEOUT_S = 600  # running a whole chapter on a slow, shared CPU
UPDATE_TIMEOUT_S = 60  # one slider move: kernel round trip and a redraw

CASES = [
    # chapter, explorer title, slider label, text before, text after (substrings)
    (
        "01_bilinear_kernel.ipynb",
        "Bilinear kernel explorer",
        "upsampling factor",
        "factor 2: 32x32 -> 64x64",
        "factor 3: 32x32 -> 96x96",
    ),
    (
        "02_transposed_conv.ipynb",
        "Transposed convolution explorer",
        "stride",
        "output size = (2 - 1) x 1 - 2 x 0 + 1 x (2 - 1) + 0 + 1 = 3",
        "output size = (2 - 1) x 2 - 2 x 0 + 1 x (2 - 1) + 0 + 1 = 4",
    ),
]


# The notebook on screen (tabs restored from an earlier visit stay in the DOM, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _kernel_idle(page) -> bool:
    return page.evaluate(
        """(panel) => {
            const ind = document.querySelector(panel + ' .jp-Notebook-ExecutionIndicator');
            return ind !== null && ind.getAttribute('data-status') === 'idle';
        }""",
        PANEL,
    )


def _busy_cells(page) -> int:
    """Cells still queued or running: their prompt shows [*]."""
    return page.evaluate(
        """(panel) => Array.from(document.querySelectorAll(panel + ' .jp-InputArea-prompt'))
                      .filter(p => p.textContent.includes('*')).length""",
        PANEL,
    )


def _errors(page) -> list:
    """Text of error outputs (tracebacks) in the notebook."""
    return page.evaluate(
        """(panel) => Array.from(document.querySelectorAll(
                 panel + ' .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
                 .map(e => e.textContent).filter(t => /Error|Traceback/.test(t))""",
        PANEL,
    )


def _unrun_cells(page) -> int:
    """Code cells without an execution count (not run yet, or skipped after an error)."""
    return page.evaluate(
        r"""(panel) => Array.from(document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputArea-prompt'))
                       .filter(p => !/\[\d+\]/.test(p.textContent)).length""",
        PANEL,
    )


def _stop_kernels(lab) -> None:
    """Shut down the kernels this test started (through JupyterLab's REST API), freeing the CPU."""
    request = urllib.request.Request(f"{lab.base_url}/api/sessions?token={lab.token}")
    with urllib.request.urlopen(request, timeout=10) as r:
        sessions = json.load(r)
    for session in sessions:
        url = f"{lab.base_url}/api/sessions/{session['id']}?token={lab.token}"
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30).close()


def _run_all(page, lab, notebook: str) -> float:
    page.goto(lab.url(notebook))
    page.wait_for_selector(PANEL + " .jp-Cell", timeout=120_000)
    # The indicator can read "idle" for a moment before the kernel is connected: wait for it twice.
    for _ in range(2):
        time.sleep(1.0)
        _wait_for(lambda: _kernel_idle(page), 180, f"the kernel of {notebook} to start\n{lab.log_tail()}")
    start = time.monotonic()
    for attempt in range(3):  # a click that lands while the kernel is still connecting can be lost
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        try:
            _wait_for(lambda: _busy_cells(page) > 0 or not _kernel_idle(page), 20, "the cells to start running")
            break
        except AssertionError:
            if attempt == 2:
                raise
    _wait_for(
        lambda: _busy_cells(page) == 0 and _kernel_idle(page) and (_unrun_cells(page) == 0 or _errors(page)),
        RUN_TIMEOUT_S,
        f"{notebook} to finish",
        interval=1.0,
    )
    return time.monotonic() - start


def _explorer_state(explorer):
    text = explorer.locator(".fcnlib-explorer-text").first.inner_text()
    images = explorer.locator(".jp-OutputArea-output img")
    src = images.first.get_attribute("src") if images.count() else None
    return text, src


@pytest.mark.parametrize("notebook, title, slider_label, before, after", CASES, ids=["chapter1", "chapter2"])
def test_explorer_responds_in_the_browser(
    lab, browser, screenshots: Path, notebook, title, slider_label, before, after
):
    assert (lab.root / notebook).exists(), f"notebooks/{notebook} is missing"
    page = browser.new_page()
    stem = notebook.split(".")[0]
    try:
        started = time.monotonic()
        run_s = _run_all(page, lab, notebook)
        errors = _errors(page)
        assert not errors, f"{notebook} raised:\n" + "\n".join(e[-1500:] for e in errors)

        explorer = page.locator(".fcnlib-explorer", has_text=title).first
        explorer.wait_for(state="visible", timeout=30_000)
        explorer.scroll_into_view_if_needed()
        _wait_for(lambda: _explorer_state(explorer)[1], 60, "the explorer's figure")
        text0, src0 = _explorer_state(explorer)
        assert before in text0, text0
        explorer.screenshot(path=str(screenshots / f"{stem}_explorer_before.png"))

        # Move the slider one step with the keyboard, as after clicking its handle.
        slider = explorer.locator(".widget-slider", has_text=slider_label).first
        readout = slider.locator(".widget-readout").first
        value0 = readout.inner_text().strip()
        slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
        page.keyboard.press("ArrowRight")
        _wait_for(lambda: readout.inner_text().strip() != value0, 10, f"the {slider_label!r} slider to move")

        moved = time.monotonic()
        _wait_for(lambda: after in _explorer_state(explorer)[0], UPDATE_TIMEOUT_S, f"the text to show {after!r}")
        _wait_for(lambda: _explorer_state(explorer)[1] not in (None, src0), UPDATE_TIMEOUT_S, "the figure to change")
        update_s = time.monotonic() - moved
        text1, src1 = _explorer_state(explorer)
        assert text1 != text0 and after in text1
        assert src1 != src0 and src1.startswith("data:image/png")
        assert (
            len(page.locator(".fcnlib-explorer", has_text=title).first.locator(".jp-OutputArea-output img").all()) == 1
        ), "the figure was added instead of replaced"
        explorer.screenshot(path=str(screenshots / f"{stem}_explorer_after.png"))
        page.screenshot(path=str(screenshots / f"{stem}_page.png"))
        with open(screenshots / "timings.txt", "a") as f:
            f.write(
                f"{notebook}: run all {run_s:.1f} s, slider update seen in the browser after "
                f"{update_s:.2f} s, whole test {time.monotonic() - started:.1f} s\n"
            )
    except BaseException:
        page.screenshot(path=str(screenshots / f"{stem}_failure.png"), full_page=True)
        raise
    finally:
        page.close()
        _stop_kernels(lab)


def _outputs(page):
    """The first code cell's outputs: ``(mime type, visible, text, img src)`` each."""
    return page.evaluate(
        """(panel) => Array.from(document.querySelectorAll(panel + ' .jp-CodeCell .jp-Cell-outputArea > .jp-OutputArea-child')).map(c => {
               const out = c.querySelector(':scope > .jp-OutputArea-output');
               const img = c.querySelector(':scope > .jp-OutputArea-output > img, :scope > .jp-OutputArea-output img');
               return [out ? out.getAttribute('data-mime-type') : null, c.offsetParent !== null,
                       c.innerText, img ? img.getAttribute('src') : null];
           })""",
        PANEL,
    )


def test_a_saved_explorer_shows_its_picture_after_reopening(lab, browser, screenshots: Path):
    """jupyterlab#4127: run an explorer, save (JupyterLab then trusts the notebook), reopen it with a new kernel:
    the widget's model is gone ("model not found"), but its picture and sentence show, each once. While live,
    only the widget's own picture shows."""
    name = "explorer_reopen.ipynb"
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "explorer",
        "metadata": {},
        "outputs": [],
        "source": "from fcnlib import widgets\nwidgets.checkerboard_explorer()",
    }
    notebook = {
        "cells": [cell],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab.root / name).write_text(json.dumps(notebook))
    page = browser.new_page()
    try:
        _run_all(page, lab, name)
        explorer = page.locator(".fcnlib-explorer").first
        explorer.wait_for(state="visible", timeout=60_000)
        _wait_for(lambda: _explorer_state(explorer)[1], 60, "the explorer's figure")
        live = _outputs(page)
        assert [o[0] for o in live][1:] == ["text/plain", "image/png"], live
        assert [o[1] for o in live] == [True, False, False], f"the static copy shows while live: {live}"
        slider = explorer.locator(".widget-slider", has_text="kernel_size").first  # 3 -> 4: the copy follows
        slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
        page.keyboard.press("ArrowRight")
        _wait_for(lambda: "kernel 4" in _outputs(page)[1][2], UPDATE_TIMEOUT_S, "the static sentence to follow")
        page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()  # File > Save, as a learner does
        page.locator('.lm-Menu-item[data-command="docmanager:save"]').click()
        saved = lambda: json.loads((lab.root / name).read_text())["cells"][0]["outputs"]  # noqa: E731
        _wait_for(lambda: "kernel 4" in json.dumps(saved()[1:2]), 30, "the notebook to be saved")
        page.screenshot(path=str(screenshots / "explorer_reopen_live.png"))
    finally:
        page.close()
        _stop_kernels(lab)
    page = browser.new_page()
    try:
        page.goto(lab.url(name).replace("/workspaces/", "/workspaces/again-"))
        page.wait_for_selector(PANEL + " .jp-Cell", timeout=120_000)
        _wait_for(lambda: "model not found" in page.inner_text(PANEL), 120, "JupyterLab to give up on the widget")
        shown = _outputs(page)
        page.screenshot(path=str(screenshots / "explorer_reopen_after.png"))
        assert [o[1] for o in shown] == [True, True, True], shown
        assert "Checkerboard artifacts explorer: transposed conv, kernel 4, stride 2" in shown[1][2]
        assert shown[2][3] is not None and shown[2][3].startswith("data:image/png"), shown
    finally:
        page.close()
        _stop_kernels(lab)
