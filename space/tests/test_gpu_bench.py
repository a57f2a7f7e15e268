"""bench/gpu.py, the script a GPU machine runs (no GPU here): its --small mode runs every part of it on the
CPU, so the script cannot rot between the rare runs on a lent GPU. Its figures are not checked, only that
each part ran and that the engine's two steps agree."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def test_the_gpu_benchmark_runs_every_part_on_its_small_model():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "bench/gpu.py", "--small", "--tokens", "4", "--repetitions", "1", "--batch", "2"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for line in ("single stream, median of 1", "engine, CUDA graph", "batch of 2", "graph checks failed: 0"):
        assert line in out, out
    assert "greedy output of the graph step equals the eager step's" in out
