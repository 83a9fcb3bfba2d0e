#!/bin/sh
# Every chapter under nbval, and the explorers' unit tests, in an environment like Google
# Colab's: Python 3.13, torch 2.11, torchvision 0.26 and ipywidgets 7.7 (the project's own
# .venv has ipywidgets 8). Like tests/widgets77/run.sh, it creates a separate virtual
# environment once and leaves .venv and the notebooks alone (nbval never writes them).
#
#   tests/colab/run.sh [PYTHON] [VENV] [CHAPTER...]     e.g. tests/colab/run.sh python3.13 build/venv-colab 01 02
#
# PYTHON (used only to create VENV) defaults to the first working python3.13 on PATH or in
# pyenv, VENV to build/venv-colab, the chapters to every notebooks/NN_*.ipynb.
#
# On every run: fcnlib is pip-installed as Colab's set-up cell installs it (not editable, with
# its dependencies, which the pinned packages already satisfy, so nothing is upgraded) from a
# copy of this checkout's working tree; kernel_check.py proves that the kernel the notebooks
# name ("python3") is VENV's, with these versions; the explorers' unit tests run; then each
# chapter runs in its own pytest (nice it yourself if the machine is shared) and a table of
# passed cells and seconds per chapter ends the output. Datasets and chapter 4's checkpoint go
# to a fresh build/colab/data, as in a new Colab session; logs to build/colab/NN.log. Exit
# status 1 when a test fails.
#
# Installing torch from PyPI downloads its CUDA build (several GB) on Linux. When Colab moves
# on, set COLAB_TORCH, COLAB_TORCHVISION or COLAB_IPYWIDGETS (pip requirements).
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$PYTHON" ]; then
    for p in python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do
        if "$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then PYTHON=$p; break; fi
    done
    [ -n "$PYTHON" ] || { echo "no working python3.13 found; pass one: tests/colab/run.sh /path/to/python3.13" >&2; exit 2; }
fi
VENV=${1:-$REPO/build/venv-colab}
case $VENV in /*) ;; *) VENV=$(pwd)/$VENV ;; esac
[ $# -gt 0 ] && shift
TORCH=${COLAB_TORCH:-torch==2.11.*}
TORCHVISION=${COLAB_TORCHVISION:-torchvision==0.26.*}
IPYWIDGETS=${COLAB_IPYWIDGETS:-ipywidgets==7.7.*}
WORK=$REPO/build/colab
PIP="$VENV/bin/python -m pip --disable-pip-version-check"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
$PIP install --quiet "$TORCH" "$TORCHVISION" "$IPYWIDGETS" matplotlib pillow tqdm \
    pytest nbval nbclient nbformat ipykernel

# fcnlib the way Colab's set-up cell installs it (pip, with dependencies, not editable), from a
# snapshot of the working tree so that no build files land in the checkout.
SNAP=$(mktemp -d)
trap 'rm -rf "$SNAP"' EXIT
(cd "$REPO" && tar cf - --exclude=__pycache__ --exclude='*.egg-info' pyproject.toml README.md fcnlib) | (cd "$SNAP" && tar xf -)
$PIP install --quiet "$SNAP"
$PIP check
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (Colab-like)" >/dev/null


cd "$REPO"
mkdir -p "$WORK"
rm -rf "$WORK/data"
export FCNLIB_DATA="$WORK/data" JUPYTER_PREFER_ENV_PATH=1
# The kernel the chapters name ("python3"), started in notebooks/ as nbval starts it: this
# venv's Python, the versions asked for, fcnlib from the installed copy.
"$VENV/bin/python" tests/colab/kernel_check.py notebooks "$TORCH" "$TORCHVISION" "$IPYWIDGETS"
failed=0

echo "== the explorers' unit tests (tests/test_widgets.py, tests/test_explain.py), on the installed fcnlib"
"$VENV/bin/pytest" tests/test_widgets.py tests/test_explain.py -q -p no:cacheprovider || failed=1

if [ $# -gt 0 ]; then
    chapters=""
    for c in "$@"; do chapters="$chapters $(ls notebooks/"$c"*.ipynb)"; done
else
    chapters=$(ls notebooks/[0-9][0-9]_*.ipynb)
fi
summary=""
for nb in $chapters; do
    name=$(basename "$nb" .ipynb)
    log="$WORK/${name%%_*}.log"
    echo "== $nb (log: $log)"
    start=$(date +%s)
    if "$VENV/bin/pytest" "$nb" --nbval-lax --nbval-current-env \
            --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=900 \
            -q -p no:cacheprovider >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        failed=1
        cat "$log"
    fi
    seconds=$(( $(date +%s) - start ))
    line=$(tail -n 1 "$log")
    echo "$line"
    summary="$summary$(printf '%-28s %-7s %5ss   %s' "$name" "$result" "$seconds" "$line")
"
done
echo "== chapters under nbval (Python 3.13 / ipywidgets 7.7 venv $VENV)"
printf '%s' "$summary"
exit $failed
