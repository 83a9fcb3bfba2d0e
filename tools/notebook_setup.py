"""Keeping the chapters in shape: the cells they share, and their stored outputs.

The first cells every chapter shares are a title with a Colab badge and the set-up cell,
which installs fcnlib from the repository on Colab and does nothing anywhere else. Both
are generated from `tools/repo.py`, so a fork changes one line there and runs
``python -m tools.notebook_setup notebooks`` (``make notebooks-sync``); the test suite
checks that every chapter agrees with these functions.

``python -m tools.notebook_setup execute notebooks/04_training.ipynb ...``
(``make notebooks-execute``) runs chapters top to bottom in a fresh kernel, in the quick
profile on the CPU, and stores their outputs in place: what nbval compares and what a
reader sees on GitHub before running anything. Progress bars (tqdm's widgets) are stored
as the text of their final state, not as widgets whose state would have to travel along.

``python -m tools.notebook_setup readme-figure`` (``make readme-figure``) copies the stored picture of
chapter 5's code cell tagged ``readme-figure`` (a cell tag: learners never see it) to
``notebooks/figures/overview.png``, the README's picture.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

from tools.repo import colab_badge_markdown, colab_install_command

__all__ = [
    "SETUP_MARKER",
    "setup_cell_source",
    "badge_line",
    "sync_notebook",
    "freeze_progress_bars",
    "coalesce_streams",
    "execute",
    "main",
]

SETUP_MARKER = "# fcn-notebooks setup"


def setup_cell_source(language: str = "en") -> str:
    """Source of the set-up cell: on Colab, install fcnlib (and nothing else); elsewhere, no-op. For
    ``language="zh"`` (the Chinese chapters, notebooks/zh/) it also sets ``FCNLIB_LANG=zh``, so that the
    "Your turn" checks answer in Chinese: the one line of code in which the two editions differ."""
    if language == "en":
        return (
            f"{SETUP_MARKER}: on Colab this installs fcnlib from the repository; elsewhere it does nothing.\n"
            "import sys\n\n"
            'if "google.colab" in sys.modules:\n'
            f'    %pip install --quiet "{colab_install_command()}"'
        )  # exactly as `ruff format` leaves it, so linting the chapters never changes the cell
    if language == "zh":
        return (
            f"{SETUP_MARKER}: 在 Colab 上从仓库安装 fcnlib，在其他环境中不安装任何东西；练习的检查用中文给出反馈。\n"
            "import os\n"
            "import sys\n\n"
            'os.environ["FCNLIB_LANG"] = "zh"\n'
            'if "google.colab" in sys.modules:\n'
            f'    %pip install --quiet "{colab_install_command()}"'
        )
    raise ValueError(f"language must be 'en' or 'zh', got {language!r}")


def badge_line(notebook_name: str) -> str:
    """The badge line that opens every chapter's first markdown cell."""
    return colab_badge_markdown(notebook_name)


def sync_notebook(path: Path) -> bool:
    """Rewrite the badge and set-up cell of one notebook; return whether it changed."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    first = nb.cells[0]
    lines = first.source.splitlines()
    badge = badge_line(path.name)
    if lines and "colab-badge.svg" in lines[0]:
        if lines[0] != badge:
            lines[0] = badge
            changed = True
    else:
        lines.insert(0, badge)
        changed = True
    first.source = "\n".join(lines)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(SETUP_MARKER):
            if cell.source != setup_cell_source():
                cell.source = setup_cell_source()
                changed = True
            break
    else:
        raise ValueError(f"{path} has no set-up cell starting with {SETUP_MARKER!r}")
    if changed:
        nbformat.write(nb, str(path))
    return changed


def _bar_text(model_id: str, states: dict) -> str | None:
    """The final text of a tqdm widget (an HBox of prefix HTML, progress bar, suffix HTML)."""
    box = states.get(model_id, {}).get("state", {})
    children = [str(c).replace("IPY_MODEL_", "") for c in box.get("children", [])]
    if box.get("_model_name") != "HBoxModel" or len(children) != 3:
        return None
    prefix, bar, suffix = (states.get(c, {}).get("state", {}) for c in children)
    if "value" not in bar or not bar.get("max"):
        return None
    filled = int(round(10 * min(max(bar["value"] / bar["max"], 0.0), 1.0)))
    text = f"{prefix.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{suffix.get('value', '')}"
    return html.unescape(text).replace("\xa0", " ").strip()


def freeze_progress_bars(nb) -> int:
    """Replace every tqdm widget output by the text of its final state; drop the widget state.

    Returns how many outputs were replaced. Without this a stored notebook shows the bar's
    first state ("0%") or nothing, since the widget's later state lives in the kernel.
    """
    states = nb.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view is None:
                continue
            text = _bar_text(view.get("model_id", ""), states)
            if text is not None:
                output["data"] = {"text/plain": text}
                replaced += 1
    return replaced


def coalesce_streams(nb) -> int:
    """Join consecutive stdout (or stderr) outputs of a cell into one, as a reader sees them; return how many
    outputs were joined away. A busy machine makes the kernel flush a cell's prints in several pieces."""
    joined = 0
    for cell in nb.cells:
        outputs = []
        for output in cell.get("outputs", []):
            last = outputs[-1] if outputs else None
            if output.get("output_type") == "stream" and last and last.get("output_type") == "stream":
                if last.get("name") == output.get("name"):
                    last["text"] += output["text"]
                    joined += 1
                    continue
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return joined


def quiet_output_widgets() -> dict:
    """nbclient's ``widget_registry`` with an Output widget that keeps its outputs instead of echoing them to the kernel.

    nbclient's OutputWidget sends its state back on the shell channel while the client awaits the cell's
    ``execute_reply`` there; after an explorer's cell that reply can go unread (seen on two loaded CPU cores), and
    the run then waits, kernel idle, for its cell timeout. The stored widget state (``store_widget_state``) is
    nbclient's own copy and does not need the echo.
    """
    from nbclient.output_widget import OutputWidget

    class QuietOutputWidget(OutputWidget):
        def sync_state(self) -> None:  # no message on the shell channel while a reply is awaited
            pass

    return {"@jupyter-widgets/output": {"OutputModel": QuietOutputWidget}}


def execute(path: Path, timeout: int = 1800) -> float:
    """Run the notebook at ``path`` top to bottom in a fresh ``python3`` kernel; store its outputs.

    The kernel runs in the notebook's folder, in the quick profile on the CPU
    (``FCNLIB_PROFILE=quick``, ``FCNLIB_DEVICE=cpu``), so that stored outputs are what the
    tests reproduce. Returns the seconds it took.
    """
    import os
    import time

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    saved = {k: os.environ.get(k) for k in ("FCNLIB_PROFILE", "FCNLIB_DEVICE")}
    os.environ.update(FCNLIB_PROFILE="quick", FCNLIB_DEVICE="cpu")
    start = time.perf_counter()
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            store_widget_state=True,
            widget_registry=quiet_output_widgets(),
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - start
    freeze_progress_bars(nb)
    coalesce_streams(nb)
    nbformat.write(nb, str(path))
    return seconds


README_FIGURE_TAG = "readme-figure"
README_FIGURE = Path("notebooks/figures/overview.png")


def readme_figure(chapter: Path, out: Path = README_FIGURE) -> Path:
    """Write the stored PNG of ``chapter``'s one code cell tagged ``readme-figure`` to ``out`` (the README's picture).

    ValueError when no cell or more than one carries the tag, or the tagged cell has no stored PNG.
    """
    import base64

    import nbformat

    nb = nbformat.read(chapter, as_version=4)
    tagged = [c for c in nb.cells if c.cell_type == "code" and README_FIGURE_TAG in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(
            f"{chapter} has {len(tagged)} code cells tagged {README_FIGURE_TAG!r}; tag exactly one, the cell whose "
            "figure the README shows (JupyterLab: the cell's property inspector, Common Tools > Cell Tag)"
        )
    for output in tagged[0].get("outputs", []):
        if "image/png" in output.get("data", {}):
            out.write_bytes(base64.b64decode(output["data"]["image/png"]))
            return out
    raise ValueError(f"the cell tagged {README_FIGURE_TAG!r} in {chapter} has no stored PNG: execute the chapter first")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "readme-figure":
        chapter = Path(argv[1] if len(argv) > 1 else "notebooks/05_prediction.ipynb")
        print(f"wrote {readme_figure(chapter)} from {chapter}")
        return 0
    if argv and argv[0] == "execute":
        for name in argv[1:]:
            print(f"executed {name} in {execute(Path(name)):.0f} s", flush=True)
        return 0
    folder = Path(argv[0] if argv else "notebooks")
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        print(("updated " if sync_notebook(path) else "unchanged ") + str(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
