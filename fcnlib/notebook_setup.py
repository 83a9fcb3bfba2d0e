"""The first cells every chapter shares: title with Colab badge, and the set-up cell.

The set-up cell installs fcnlib from the repository on Colab and does nothing anywhere
else. Both cells are generated from :mod:`fcnlib._repo`, so a fork changes one line there
and runs ``python -m fcnlib.notebook_setup notebooks`` (``make notebooks-sync``); the
test suite checks that every chapter agrees with these functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ._repo import colab_badge_markdown, colab_install_command

SETUP_MARKER = "# fcn-notebooks setup"


def setup_cell_source() -> str:
    """Source of the set-up cell: on Colab, install fcnlib (and nothing else); elsewhere, no-op."""
    return (
        f"{SETUP_MARKER}: on Colab this installs fcnlib from the repository; elsewhere it does nothing.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    %pip install --quiet \"{colab_install_command()}\"\n"
    )


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


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "notebooks")
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        print(("updated " if sync_notebook(path) else "unchanged ") + str(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
