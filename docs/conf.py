"""Sphinx settings of the course website (built by ``make site``, i.e. ``python -m tools.site``).

Sphinx with MyST-NB and sphinx-book-theme: the chapters are rendered from their stored, tested outputs
(execution off). Everything a page needs is served by the site itself (MathJax from the sphinx-mathjax-offline
package, the theme's fonts and icons), so it reads offline and behind firewalls. The addresses of the
repository and of Colab come from tools/repo.py; docs/_ext/course_site.py holds the site's own pieces.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "docs" / "_ext")]

from tools import repo  # noqa: E402

project = "FCN notebooks"
author = "the fcn-notebooks authors"
copyright = "the fcn-notebooks authors, MIT licence"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.githubpages"]
extensions += ["course_site"]

root_doc = "index"
suppress_warnings = ["myst.header"]  # a glossary of ### terms under its # title is fine
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# --- the chapters: stored outputs as they are ---
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no require.js or widget manager from a CDN: explorers show their stored picture
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3

# --- math from the site itself (MathJax 3 copied out of sphinx-mathjax-offline by course_site) ---
mathjax_path = "mathjax/tex-chtml.js"

# --- fcnlib's API page ---
autodoc_member_order = "bysource"
toc_object_entries = False  # the page's table of contents lists modules, not every function
autodoc_typehints = "description"

# --- HTML ---
html_theme = "sphinx_book_theme"
html_title = "FCN notebooks"
html_baseurl = repo.site_url()
html_static_path = [str(ROOT / "docs" / "_static")]
html_css_files = ["course.css"]
html_sourcelink_suffix = ""  # _sources/NN_name.ipynb is the notebook itself: the download button's file
html_last_updated_fmt = None
html_context = {"default_mode": "auto"}  # light or dark as the reader's system prefers; a header button switches
html_theme_options = {
    "repository_url": f"https://github.com/{repo.REPOSITORY}",
    "repository_branch": repo.BRANCH,
    "path_to_docs": "notebooks",  # per page: course_site points docs/ pages at docs/
    "use_repository_button": True,
    "use_source_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": repo.colab_url("").split("/github/")[0]},  # course_site sets each address
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
