"""Which Python the chapters run on under tests/colab/run.sh, checked from inside a kernel.

    python kernel_check.py NOTEBOOK_DIR [REQUIREMENT ...]     e.g. kernel_check.py notebooks "torch==2.11.*"

Starts the kernel every chapter names ("python3") in NOTEBOOK_DIR, as nbval does, runs one
cell there and checks that it is this virtual environment's Python, that fcnlib comes from
the installed copy (site-packages, as on Colab) and that torch, torchvision and ipywidgets
match the requirements given. Prints one line with the versions; exits 1 on a mismatch.
"""

import json
import sys

import nbformat
from nbclient import NotebookClient
from packaging.requirements import Requirement

CODE = """\
import json, sys
from importlib.metadata import version
import fcnlib, ipywidgets, torch, torchvision
print(json.dumps({"executable": sys.executable, "python": sys.version.split()[0], "torch": torch.__version__,
                  "torchvision": torchvision.__version__, "ipywidgets": ipywidgets.__version__,
                  "nbval": version("nbval"), "fcnlib": fcnlib.__file__}))
"""


def main(argv):
    folder, specs = argv[0], argv[1:]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)])
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
    k = json.loads(nb.cells[0].outputs[0]["text"])
    print(
        f"kernel python3: Python {k['python']} ({k['executable']}) | torch {k['torch']} | "
        f"torchvision {k['torchvision']} | ipywidgets {k['ipywidgets']} | nbval {k['nbval']} | fcnlib {k['fcnlib']}"
    )
    problems = []
    if not k["executable"].startswith(sys.prefix):
        problems.append(f"the kernel runs {k['executable']}, not this environment's Python ({sys.prefix})")
    if "site-packages" not in k["fcnlib"]:
        problems.append(f"the kernel imports fcnlib from {k['fcnlib']}, not the installed copy")
    for spec in specs:
        req = Requirement(spec)
        have = k[req.name].split("+")[0]
        if not req.specifier.contains(have):
            problems.append(f"{req.name} {k[req.name]} does not match {spec}")
    for p in problems:
        print("kernel check:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
