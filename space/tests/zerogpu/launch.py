"""Starts space/app.py under the real `spaces` package in ZeroGPU mode, on a machine without a GPU.

Only what needs a GPU is replaced, before `spaces` is imported:
- the CPU build of torch lacks `torch.version.cuda` and `torch._C._cuda_init`, and its
  `torch.cuda._is_in_bad_fork` is a lambda that `spaces` cannot send to its start-up probe process;
- `spaces.zero.torch.init` (CUDA start in a worker) does nothing, and `spaces.zero.torch.move` (the copy
  of the packed weights to the GPU in each new worker) reads the packs back into CPU tensors instead;
- with ZEROLLAMA_EMULATED_GPU_MODEL set, the driver's GPU model name (which picks the node's
  `duration_factor` from `spaces/zero/configs.json`).
Everything else is `spaces`' own: scheduling, token forwarding, duration factor, fork, pickling, packing at
launch (blob pruning included), the generator and cancel protocol.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import torch

SPACE = Path(__file__).resolve().parents[2]


def _never_in_bad_fork() -> bool:
    return False


def _no_cuda_init() -> None:
    raise RuntimeError("emulated ZeroGPU: no CUDA on this machine")


def _pack_to_cpu(pack: Any, callback: Any) -> None:
    """The inverse of spaces' pack_tensors: batches, then big tensors, each at its page-aligned offset."""
    raw = torch.frombuffer(bytearray(Path(pack.path()).read_bytes()), dtype=torch.uint8)
    offset = 0
    for meta, size, aligned in [item for batch in pack.batches for item in batch] + list(pack.big_tensors):
        storage = raw[offset : offset + size].clone().untyped_storage()
        tensor = torch.empty(0, dtype=meta.dtype).set_(storage, 0, meta.shape, meta.stride())
        for fake in pack.fakes[meta]:
            fake.data = tensor
        callback(size)
        offset += aligned


def _move_to_cpu(callback: Any = None) -> None:
    from spaces.zero.torch import patching

    callback = callback or (lambda _bytes: None)
    started = time.monotonic()
    # A real copy takes seconds (36 GB: 7-20 s); tests that need a cold start that long ask for it.
    time.sleep(float(os.environ.get("ZEROLLAMA_EMULATED_COPY_SECONDS", "0")))
    for fake, original in list(patching.cuda_aliases.items()):
        if original is not None:
            fake.data = original
    for pack in patching.tensor_packs:
        _pack_to_cpu(pack, callback)
    print(f"emulated ZeroGPU: worker {os.getpid()} copied the packs in {time.monotonic() - started:.3f}s", flush=True)


def install() -> None:
    from zerollama.zerogpu_env import keep_hf_cache

    keep_hf_cache()  # what app.py does before its own `import spaces`
    torch.version.cuda = torch.version.cuda or "12.8"
    if not hasattr(torch._C, "_cuda_init"):
        torch._C._cuda_init = _no_cuda_init
    torch.cuda._is_in_bad_fork = _never_in_bad_fork

    import spaces  # noqa: F401 - the real package, in ZeroGPU mode (SPACES_ZERO_GPU=true)
    from spaces.zero import config
    from spaces.zero import torch as zero_torch

    zero_torch.init = lambda _uuid: None
    zero_torch.move = _move_to_cpu
    if model := os.environ.get("ZEROLLAMA_EMULATED_GPU_MODEL"):
        config._read_gpu_information = lambda: f"Model: {model}\n"
        config.get_config.cache_clear()


if __name__ == "__main__":
    sys.path.insert(0, str(SPACE))
    install()
    os.chdir(SPACE)
    runpy.run_path(str(SPACE / "app.py"), run_name="__main__")
