"""The package's shape: only server.py reaches the demo package, and the Space runs without it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SPACE, server_process_env

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
