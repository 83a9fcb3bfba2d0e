"""Where the project lives. A fork changes REPOSITORY (and BRANCH) in fcnlib/profiles.py and nowhere else:
``python -m tools.notebook_setup`` rewrites every notebook's Colab badge and install cell
from these values, and a test checks that they agree."""

from __future__ import annotations

__all__ = ["REPOSITORY", "BRANCH", "colab_url", "colab_badge_markdown", "colab_install_command", "site_url"]

from fcnlib.profiles import BRANCH, REPOSITORY  # the one place (fcnlib also needs it on Colab)


def colab_url(notebook: str) -> str:
    """The "Open in Colab" address of a chapter, e.g. ``colab_url("01_bilinear_kernel.ipynb")``."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def colab_badge_markdown(notebook: str) -> str:
    """Markdown for the "Open in Colab" badge of a chapter."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"


def colab_install_command() -> str:
    """The pip requirement that installs fcnlib from the repository (only fcnlib: never torch or numpy)."""
    return f"fcnlib @ git+https://github.com/{REPOSITORY}@{BRANCH}"


def site_url() -> str:
    """The course website's address on GitHub Pages (``make site`` builds it; .github/workflows/site.yml
    publishes it from main)."""
    owner, name = REPOSITORY.split("/")
    return f"https://{owner}.github.io/{name}/"
