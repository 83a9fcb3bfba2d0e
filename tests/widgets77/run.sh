#!/bin/sh
# The explorers' unit tests under ipywidgets 7.7, the version Google Colab ships
# (the project's own venv has ipywidgets 8). Creates a separate virtual environment once.
#
#   tests/widgets77/run.sh [PYTHON] [VENV] [pytest args]     e.g. tests/widgets77/run.sh python3.13 /tmp/venv-widgets77
#
# PYTHON defaults to the first working python3.13 on PATH or in pyenv, else python3.
#
# Installing torch from PyPI there downloads its CUDA build (several GB) on Linux.
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$PYTHON" ]; then  # the first python3.13 that runs (a pyenv shim may exist but fail), else python3
    for p in python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 python3; do
        if "$p" -c 'import sys' 2>/dev/null; then PYTHON=$p; break; fi
    done
fi
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
    "$VENV/bin/python" -m pytest tests/test_widgets.py tests/test_explain.py tests/test_photo_upload.py -q -p no:cacheprovider "$@"
