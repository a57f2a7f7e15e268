"""The model catalog (space/models.json), shared with the TypeScript pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).resolve().parents[2] / "models.json"


def display_name(name: str) -> str:
    """A name as Ollama shows it (/api/tags, /api/ps): always with its tag, `phi3` as `phi3:latest`."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def normalise_name(name: str) -> str:
    """Ollama treats `name`, `name:latest`, `library/name` and `registry.ollama.ai/library/name` (and any
    letter case) as the same model."""
    trimmed = name.strip().lower()
    if trimmed.startswith("registry.ollama.ai/"):
        trimmed = trimmed.removeprefix("registry.ollama.ai/")
    return display_name(trimmed.removeprefix("library/"))


@dataclass(frozen=True)
class CatalogModel:
    name: str
    aliases: tuple[str, ...]
    repo: str
    family: str
    architecture: str
    parameter_size: str
    parameters: int
    bf16_bytes: int
    context_length: int
    capabilities: tuple[str, ...]
    license: str
    gated: bool | str
    purpose: str
    recommended_use: str
    curated: bool
    display_order: int
    excluded_reason: str | None
    default_options: dict[str, Any] = field(default_factory=dict)

    @property
    def supports_vision(self) -> bool:
        return "vision" in self.capabilities

    @property
    def display_name(self) -> str:
        """The name every listing shows (`phi3:latest` for the catalog's `phi3`)."""
        return display_name(self.name)

    @property
    def folder_name(self) -> str:
        """File-system safe form of the name (':' is not allowed everywhere)."""
        return self.name.replace(":", "--")


@dataclass(frozen=True)
class Catalog:
    default_models: tuple[str, ...]
    models: tuple[CatalogModel, ...]

    def find(self, name: str) -> CatalogModel | None:
        wanted = normalise_name(name)
        for model in self.models:
            if any(normalise_name(n) == wanted for n in (model.name, *model.aliases)):
                return model
        return None

    def is_default(self, model: CatalogModel) -> bool:
        return model.name in self.default_models


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    raw = json.loads(path.read_text(encoding="utf-8"))
    models = tuple(
        CatalogModel(
            name=m["name"],
            aliases=tuple(m.get("aliases", [])),
            repo=m["repo"],
            family=m["family"],
            architecture=m["architecture"],
            parameter_size=m["parameter_size"],
            parameters=int(m["parameters"]),
            bf16_bytes=int(m["bf16_bytes"]),
            context_length=int(m["context_length"]),
            capabilities=tuple(m["capabilities"]),
            license=m["license"],
            gated=m["gated"],
            purpose=m["purpose"],
            recommended_use=m["recommended_use"],
            curated=bool(m["curated"]),
            display_order=int(m["display_order"]),
            excluded_reason=m.get("excluded_reason"),
            default_options=dict(m.get("default_options", {})),
        )
        for m in raw["models"]
    )
    return Catalog(default_models=tuple(raw["default_models"]), models=models)
