#!/usr/bin/env bash
# Downloads, into .whl/ (git-ignored), the wheels bench/gpu.py needs beyond a CUDA machine's own PyTorch
# image (no network there): the Space's pinned transformers and xgrammar (space/requirements.txt), and the
# versions of xgrammar's own needs that this checkout's .venv resolved. Python 3.12, x86-64 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
pinned() { grep -E "^$1==" space/requirements.txt; }
resolved() { .venv/bin/python -m pip freeze | grep -i -E "^$1=="; }
wanted=("$(pinned transformers)" "$(pinned xgrammar)")
for name in apache-tvm-ffi pydantic pydantic_core annotated-types typing-inspection; do
  wanted+=("$(resolved "$name")")
done
rm -rf .whl && mkdir -p .whl
echo "downloading ${wanted[*]} into .whl/"
.venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl "${wanted[@]}"
du -sh .whl
