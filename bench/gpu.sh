#!/usr/bin/env bash
# Runs bench/gpu.py on a CUDA machine without network: installs the wheels bench/gpu-wheels.sh put in
# .whl/ (when present) into a scratch folder first on the path, then runs the benchmark with any arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/zerollama-site .whl/*.whl
  export PYTHONPATH="/tmp/zerollama-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
exec python3 bench/gpu.py "$@"
