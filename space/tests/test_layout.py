"""The package's shape: no import cycles, only server.py reaches the demo package (the Space runs without
it), and each API's endpoints are the handlers of its one route table."""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

from test_bad_input import in_process

from conftest import SPACE, server_process_env
from zerollama.api.ollama import OLLAMA_VERSION, OllamaApi
from zerollama.api.openai import OpenAIApi

PACKAGE = SPACE / "zerollama"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, absolute (`zerollama.demo.tiny`), relative ones resolved."""
    package = ".".join(path.relative_to(SPACE).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = f"{base}.{node.module}" if node.level and node.module else node.module or base
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(SPACE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_package_has_no_import_cycles():
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    edges = {name: {m for m in imported_modules(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges[name]):
            assert state.get(target) != "open", " -> ".join([*trail, name, target])
            if target not in state:
                visit(target, [*trail, name])
        state[name] = "done"

    for name in sorted(modules):
        if name not in state:
            visit(name, [])


def test_only_the_composition_root_imports_the_demo_package():
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "demo" not in path.relative_to(PACKAGE).parts
        and any(m == "zerollama.demo" or m.startswith("zerollama.demo.") for m in imported_modules(path))
    }
    assert importers == {"server.py"}


def test_only_the_composition_root_and_the_page_import_the_api_package():
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "api"
        and any(m == "zerollama.api" or m.startswith("zerollama.api.") for m in imported_modules(path))
    }
    assert importers == {"server.py", "ui.py"}


def test_the_space_starts_its_real_store_without_the_demo_package(tmp_path):
    space = tmp_path / "space"
    shutil.copytree(SPACE, space, ignore=shutil.ignore_patterns("tests", "__pycache__", ".*"))
    shutil.rmtree(space / "zerollama" / "demo")
    probe = (
        "import app\n"
        "from zerollama.core.catalog import load_catalog\n"
        "from zerollama.server import models_for\n"
        "from zerollama.settings import Settings\n"
        "store, loader, note = models_for(Settings.from_env().models, load_catalog())\n"
        "print(type(store).__name__, loader, repr(note))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=space, env=server_process_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ModelStore", "None", "''"]


def test_each_api_lists_its_endpoints_in_one_route_table(model_dir):
    """Every /api and /v1 route the server mounts is one handler of OllamaApi.routes or OpenAIApi.routes."""
    _, server = in_process(model_dir, lambda job: iter(()))
    tables = [api(server.service, server.registry, server.costs).routes() for api in (OllamaApi, OpenAIApi)]
    listed = {(route.path, method) for table in tables for route in table for method in route.methods}
    mounted = {
        (route.path, method)
        for router in server.routers()
        for route in router.routes
        for method in route.methods
        if route.path.startswith(("/api/", "/v1/")) and not route.path.startswith("/api/zerollama/")
    }
    assert mounted == listed
    assert {"/api/chat", "/api/generate", "/api/tags", "/api/pull", "/v1/chat/completions"} <= {p for p, _ in listed}
    assert all(route.handler.__self__.__class__ in (OllamaApi, OpenAIApi) for table in tables for route in table)


def test_a_handler_answers_on_its_own():
    """A handler is a method that needs only its API's parts and the request: here none at all."""
    response = asyncio.run(OllamaApi(None, None, None).version(None))  # type: ignore[arg-type]
    assert response.status_code == 200 and json.loads(response.body) == {"version": OLLAMA_VERSION}
