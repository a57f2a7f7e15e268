"""Model weights on disk: where each catalog model lives, downloading (/api/pull) and deleting.

Two sources, looked up in this order:
- ZEROLLAMA_MODEL_DIR: a folder with one sub-folder per catalog model, named CatalogModel.folder_name
  (`qwen2.5:7b` -> `qwen2.5--7b`), each a transformers checkpoint. Tests and the local demo use it.
- the Hugging Face cache (HF_HOME / HF_HUB_CACHE), filled by /api/pull from the catalog's repo.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download, scan_cache_dir, snapshot_download
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError
from tqdm.auto import tqdm

from .core.catalog import CatalogModel

# What transformers needs; skips duplicates such as Mistral's consolidated.safetensors and Llama's original/.
ALLOW_PATTERNS = [
    "*.json",
    "*.safetensors",
    "tokenizer.model",
    "*.jinja",
    "*.tiktoken",
]
IGNORE_PATTERNS = ["original/*", "consolidated*", "*.pth", "*.bin", "*.gguf", "*.msgpack", "*.h5"]


def wanted_file(path: str) -> bool:
    return any(fnmatch(path, p) for p in ALLOW_PATTERNS) and not any(fnmatch(path, p) for p in IGNORE_PATTERNS)


@dataclass(frozen=True)
class StoredModel:
    path: Path
    size: int
    modified_at: datetime
    digest: str


STAND_IN_MARKER = "zerollama-stand-in.json"


@dataclass(frozen=True)
class StandIn:
    """What really answers under a catalog name when a folder says so (a demo's marker file): shown in
    /api/tags and /api/show details instead of the catalog model's."""

    model: str
    source: str
    family: str
    parameter_size: str
    parameter_count: int
    quantization_level: str
    format: str = "gguf"


def stand_in_for(folder: Path) -> StandIn | None:
    marker = folder / STAND_IN_MARKER
    return StandIn(**json.loads(marker.read_text())) if marker.is_file() else None


@dataclass(frozen=True)
class PullProgress:
    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


WEIGHT_SUFFIXES = (".safetensors", ".gguf")  # a transformers checkpoint, or the SmolLM2 demo's GGUF link


def weights_present(folder: Path) -> bool:
    """config.json and at least one weight file, and no link that points nowhere: on ZeroGPU `spaces` may
    have unlinked the cache blobs of packed weights, leaving the snapshot's symlinks dangling."""
    entries = list(folder.rglob("*"))
    if any(e.is_symlink() and not e.exists() for e in entries):
        return False
    return (folder / "config.json").is_file() and any(e.suffix in WEIGHT_SUFFIXES and e.is_file() for e in entries)


def _folder_facts(path: Path, identity: str) -> StoredModel:
    files = [f for f in path.rglob("*") if f.is_file()]
    size = sum(f.stat().st_size for f in files)
    mtime = max((f.stat().st_mtime for f in files), default=path.stat().st_mtime)
    digest = hashlib.sha256(identity.encode()).hexdigest()
    return StoredModel(path=path, size=size, modified_at=datetime.fromtimestamp(mtime, UTC), digest=digest)


class ModelStore:
    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir
        self._lock = threading.Lock()

    def _local_folder(self, model: CatalogModel) -> Path | None:
        if self.model_dir is None:
            return None
        folder = self.model_dir / model.folder_name
        return folder if (folder / "config.json").is_file() else None

    def find(self, model: CatalogModel) -> StoredModel | None:
        """The model's weights on disk, or None when it has not been pulled."""
        folder = self._local_folder(model)
        if folder is not None:
            return _folder_facts(folder, f"dir:{folder.resolve()}") if weights_present(folder) else None
        try:
            snapshot = Path(
                snapshot_download(
                    model.repo, local_files_only=True, allow_patterns=ALLOW_PATTERNS, ignore_patterns=IGNORE_PATTERNS
                )
            )
        except (LocalEntryNotFoundError, FileNotFoundError, OSError):
            return None
        if not weights_present(snapshot):
            return None
        return _folder_facts(snapshot, f"{model.repo}@{snapshot.name}")

    def pull(self, model: CatalogModel) -> Iterator[PullProgress]:
        """Downloads the model's files from the Hub into the cache, reporting bytes as Ollama does."""
        yield PullProgress("pulling manifest")
        if self._local_folder(model) is not None:
            yield PullProgress("success")
            return
        try:
            info = HfApi().model_info(model.repo, files_metadata=True)
        except GatedRepoError as error:
            raise PermissionError(
                f"{model.repo} is gated: accept its terms on huggingface.co and give the Space an HF_TOKEN"
            ) from error
        except RepositoryNotFoundError as error:
            raise FileNotFoundError(f"pull model manifest: {model.repo} does not exist") from error
        files = [s for s in info.siblings or [] if wanted_file(s.rfilename)]
        for sibling in files:
            total = sibling.size or 0
            digest = sibling.lfs.sha256 if sibling.lfs else hashlib.sha256(sibling.blob_id.encode()).hexdigest()
            yield from self._download_file(model, sibling.rfilename, digest, total)
        yield PullProgress("verifying sha256 digest")
        yield PullProgress("writing manifest")
        yield PullProgress("success")

    def _download_file(self, model: CatalogModel, filename: str, digest: str, total: int) -> Iterator[PullProgress]:
        received = [0]
        done = threading.Event()
        failure: list[BaseException] = []

        class Counter(tqdm):  # hf_hub_download reports each chunk through its progress bar
            def __init__(self, *args, **kwargs):
                kwargs["disable"] = True
                super().__init__(*args, **kwargs)

            def update(self, n=1):
                received[0] += n or 0

        def download() -> None:
            try:
                # The default revision records refs/main, which find() reads back offline.
                hf_hub_download(model.repo, filename, tqdm_class=Counter)
            except BaseException as error:  # noqa: BLE001 - handed to the consumer below
                failure.append(error)
            finally:
                done.set()

        status = f"pulling {digest[:12]}"
        thread = threading.Thread(target=download, name=f"pull-{filename}", daemon=True)
        thread.start()
        while not done.wait(0.25):
            yield PullProgress(status, f"sha256:{digest}", total, min(received[0], total) or None)
        if failure:
            raise failure[0]
        yield PullProgress(status, f"sha256:{digest}", total, total or None)

    def delete(self, model: CatalogModel) -> bool:
        """Removes the model's files; False when there was nothing to remove."""
        with self._lock:
            removed = False
            folder = self._local_folder(model)
            if folder is not None:
                shutil.rmtree(folder)
                removed = True
            try:
                cache = scan_cache_dir()
            except Exception:  # noqa: BLE001 - no cache folder yet means nothing cached
                return removed
            for repo in cache.repos:
                if repo.repo_id == model.repo and repo.repo_type == "model":
                    hashes = [revision.commit_hash for revision in repo.revisions]
                    cache.delete_revisions(*hashes).execute()
                    removed = True
            return removed
