#!/usr/bin/env bash
# A virtual environment with PyTorch for the side-by-side benchmarks (bench/cpu_side_by_side.py,
# bench/pytorch_reference.py); never used by the build or the tests. PyPI's Linux wheel links the
# CUDA libraries even when only the CPU is used; of those, the ones a CUDA toolkit at
# /usr/local/cuda lacks (or has in another version) are installed beside it, not the whole stack.
#   scripts/torch-venv.sh [DIR]   (default .torch-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.torch-venv}
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-deps torch
"$venv/bin/pip" install --quiet filelock typing-extensions sympy mpmath networkx jinja2 markupsafe fsspec numpy
metadata=$(ls -d "$venv"/lib/python3*/site-packages/torch-*.dist-info)/METADATA
needed=$(sed -n 's/^Requires-Dist: \(nvidia-\(cusparselt\|nvshmem\|nccl\)[^ ;]*\).*/\1/p' "$metadata" | tr -d ' ')
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --no-deps $needed nvidia-cufile
"$venv/bin/python" -c "import torch; print('torch', torch.__version__, 'in', '$venv')"
