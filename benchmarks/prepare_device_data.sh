#!/usr/bin/env bash
# Gather what the one GPU call needs but the device cannot fetch (it has no internet, and ../shared does not
# travel) into .device-data/, a folder git ignores through .git/info/exclude (never committed):
#   .device-data/hit-uav/        the 240 HIT-UAV frames (CC BY 4.0) for the GPU training run
#   .device-data/whl/            the pyiqa wheel (pure Python; its NIQE needs nothing the device image lacks)
#   .device-data/weights/        niqe_modelparameters.mat (+ hmtir.lock.json), from `hmtir download pyiqa-niqe`
#                                (BasicSR 1.4.2's sdist on PyPI, checksum-verified, member converted)
# Then:  run(command="BUDGET_S=270 TRAIN_MINUTES=2.5 bash benchmarks/run_gpu_suite.sh",
#            carry=[".device-data"], timeout_s=570)
# Needs ../shared and the package registry (pip), both reachable here; about 21 MB in all.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
dest=.device-data
grep -qx "/$dest/" .git/info/exclude 2>/dev/null || echo "/$dest/" >>.git/info/exclude
mkdir -p "$dest/whl" "$dest/weights"
shared="${HMTIR_SHARED:-../shared}/data/hit-uav"
[ -d "$shared" ] || { echo "no training frames at $shared" >&2; exit 1; }
rm -rf "$dest/hit-uav.tmp" && cp -r "$shared" "$dest/hit-uav.tmp" && rm -rf "$dest/hit-uav" && mv "$dest/hit-uav.tmp" "$dest/hit-uav"
pyiqa_version="$("$PY" -c 'from importlib.metadata import version; print(version("pyiqa"))')"
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$dest/whl" "pyiqa==$pyiqa_version"
"$PY" -c "from hmtir.cli import main; main()" download pyiqa-niqe --dir "$dest/weights" --no-progress
du -sh "$dest"/*
