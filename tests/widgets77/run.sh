#!/bin/sh
# The explorers' unit tests under ipywidgets 7.7, the version Google Colab ships
# (the project's own venv has ipywidgets 8). Creates a separate virtual environment once.
#
#   tests/widgets77/run.sh [PYTHON] [VENV] [pytest args]     e.g. tests/widgets77/run.sh python3.13 /tmp/venv-widgets77
#
# Installing torch from PyPI there downloads its CUDA build (several GB) on Linux.
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${1:-python3}
[ $# -gt 0 ] && shift
VENV=${1:-$REPO/build/venv-widgets77}
[ $# -gt 0 ] && shift
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    torch torchvision "ipywidgets==7.7.*" matplotlib pillow tqdm pytest
"$VENV/bin/python" -c "import ipywidgets, sys; v = ipywidgets.__version__; print('ipywidgets', v, 'on Python', sys.version.split()[0]); assert v.startswith('7.7'), v"
cd "$REPO"
# fcnlib from this checkout, without installing it into the venv (nothing is written to the repository).
PYTHONPATH="$REPO" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
    "$VENV/bin/python" -m pytest tests/test_widgets.py tests/test_explain.py -q -p no:cacheprovider "$@"
