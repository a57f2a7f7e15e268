"""Settings `spaces` reads when it is imported, so they are set before that import (space/app.py).

On ZeroGPU `spaces` packs the weights placed on `cuda` at launch and, by default, deletes the Hugging Face
cache files they were memory-mapped from. zerollama keeps them (for the default set about 36 GB more disk,
well under a Space's disk limit) so every model stays re-readable from the cache: `/api/show`, `/api/pull`
and a changed ZEROLLAMA_PACKED_MODELS after a restart never meet dangling files. Packed models never need
re-reading (they are never unloaded), so setting ZEROGPU_MMAP_AUTOPRUNE_PATTERN to prune anyway is safe.
"""

from __future__ import annotations

import os

# Matched against absolute paths, this pattern matches none: nothing is pruned.
KEEP_ALL_PATTERN = "/zerollama-keeps-the-hf-cache/*"


def keep_hf_cache() -> None:
    os.environ.setdefault("ZEROGPU_MMAP_AUTOPRUNE_PATTERN", KEEP_ALL_PATTERN)
