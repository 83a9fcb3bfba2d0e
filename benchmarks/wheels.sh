#!/usr/bin/env bash
# Download, into ./wheels/ (git-ignored), the wheels that `make gpu-check` needs on a GPU
# machine that has PyTorch but no internet and none of the test packages.
#
# Why this shape: a GPU machine (a cloud image, the device tool's H100) already holds torch,
# torchvision and numpy -- and therefore everything *they* depend on -- but not nbval,
# nbclient, ipykernel and friends. We resolve the test packages for the target Python and
# platform, walk their dependency graph without entering torch/torchvision/numpy, and
# download only what is reachable, so the folder stays small (about 20 MB instead of a few
# GB of CUDA libraries).
#
# Usage (on a machine with internet, from anywhere in the repository):
#     bash benchmarks/wheels.sh                  # Python 3.12, manylinux x86_64
#     PY_VERSION=3.11 bash benchmarks/wheels.sh  # another target Python
#     PYTHON=.venv/bin/python bash benchmarks/wheels.sh  # which pip runs (needs `packaging`)
#     WITH_SCIENTIFIC=1 bash benchmarks/wheels.sh  # also matplotlib, pandas, scipy, requests
# Then copy wheels/ into the repository on the GPU machine (or name it in the device tool's
# `carry`); benchmarks/gpu_check.py installs from it with
#     python -m pip install --no-index --find-links wheels <packages>
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PY_VERSION=${PY_VERSION:-3.12}
DEST=${WHEELS_DIR:-wheels}
# Test packages gpu_check.py needs (keep in step with REQUIRED_PACKAGES there).
PACKAGES=(nbval nbclient nbformat ipykernel ipywidgets jupyter_client pytest tqdm torchmetrics)
# fcnlib needs matplotlib, and d2l's torch module imports pandas, scipy and requests: GPU
# images (the device tool's among them) carry these, so they come only with WITH_SCIENTIFIC=1
# (about 70 MB more, 90 MB in all: scipy alone is 35 MB).
SCIENTIFIC=(matplotlib pandas scipy requests)
if [ "${WITH_SCIENTIFIC:-0}" = 1 ]; then PACKAGES+=("${SCIENTIFIC[@]}"); fi
# d2l pins numpy==1.23.5, which cannot install on Python 3.12: bring it without its pins.
NODEPS=("d2l==1.0.3")
# What the GPU machine already has: neither they nor what only they need are downloaded.
PRESENT=(torch torchvision numpy)

# pip matches manylinux tags exactly, so name the common ones.
TARGET=(--only-binary=:all: --python-version "$PY_VERSION" --implementation cp
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux_2_24_x86_64 --platform manylinux_2_26_x86_64
        --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64
        --platform manylinux1_x86_64 --platform any)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "resolving ${PACKAGES[*]} for Python $PY_VERSION manylinux x86_64 (metadata only; takes minutes)..."
"$PYTHON" -m pip install --quiet --disable-pip-version-check --dry-run --ignore-installed --target "$tmp/t" \
    "${TARGET[@]}" --report "$tmp/need.json" "${PACKAGES[@]}"

# Walk the graph from the test packages, stopping at torch, torchvision and numpy: what is
# reachable only through them (CUDA libraries, sympy, ...) is already on the GPU machine.
# Small shared packages (typing-extensions, packaging) are kept, since the test packages
# may need newer versions than the machine has.
"$PYTHON" - "$tmp/need.json" "$PY_VERSION" "${PRESENT[*]}" "${PACKAGES[*]}" >"$tmp/pins.txt" <<'PY'
import json, re, sys
from packaging.markers import default_environment
from packaging.requirements import Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

report, py_version, present, roots = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
env = default_environment()
env.update(python_version=py_version, python_full_version=py_version + ".0", sys_platform="linux",
           platform_system="Linux", platform_machine="x86_64", os_name="posix",
           implementation_name="cpython", platform_python_implementation="CPython")
meta = {norm(item["metadata"]["name"]): item["metadata"] for item in json.load(open(report))["install"]}
stop = {norm(n) for n in present}
seen, todo = set(), [(norm(r), ()) for r in roots]
while todo:
    name, extras = todo.pop()
    if name in stop or (name, extras) in seen:
        continue
    seen.add((name, extras))
    for line in meta[name].get("requires_dist", []):
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate(dict(env, extra=e)) for e in ("",) + extras):
            todo.append((norm(req.name), tuple(sorted(req.extras))))
for name in sorted({n for n, _ in seen}):
    print(f"{name}=={meta[name]['version']}")
PY

echo "downloading $(wc -l <"$tmp/pins.txt") packages plus ${NODEPS[*]} (not torch, torchvision, numpy or what only they need)..."
mkdir -p "$DEST"
# shellcheck disable=SC2046
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps "${TARGET[@]}" -d "$DEST" \
    $(cat "$tmp/pins.txt") "${NODEPS[@]}"

echo "wheels in $DEST: $(ls "$DEST"/*.whl | wc -l) files, $(du -sh "$DEST" | cut -f1)"
