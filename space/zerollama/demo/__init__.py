"""Stand-in models for trying the server locally and for the tests: never on the real Space.

Only server.py reaches this package, and only when ZEROLLAMA_DEMO is set; nothing else in zerollama
imports it, and create-space does not upload it. Each stand-in is a store (one folder per catalog name),
the loader that reads it (None: the runtime's own) and the note the page shows visitors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.catalog import Catalog
from ..gpu.runtime import TransformersLoader
from ..store import ModelStore
from . import smollm2, tiny

REPO_ROOT = Path(__file__).resolve().parents[3]
CACHE_DIR = REPO_ROOT / ".zerollama"  # outside space/: a local build area, never uploaded
TINY_BUILD_DIR = CACHE_DIR / "demo-models"


@dataclass(frozen=True)
class StandIns:
    store: ModelStore
    loader: TransformersLoader | None
    note: str


# What the page tells visitors: the sizes are the catalog's, the speeds (and replies) the stand-in's.
NOTES = {"tiny": tiny.NOTE, "smollm2": smollm2.NOTE}


def stand_ins(mode: str, catalog: Catalog, model_dir: Path | None) -> StandIns:
    """ "tiny": random-weight models of the catalog's architectures (in `model_dir` when set, else a copy of
    the shared build); "smollm2": SmolLM2-135M-Instruct under every catalog name."""
    if mode == "smollm2":
        return StandIns(smollm2.smollm2_store(catalog, CACHE_DIR), smollm2.SharedGgufLoader(), NOTES[mode])
    return StandIns(tiny.tiny_store(catalog, model_dir, TINY_BUILD_DIR), None, NOTES[mode])
