"""Static checks of the Docker runtime (space/Dockerfile): no Docker engine here, so parse it and run its
entrypoint against a fake `ollama` to see exactly which models it pulls."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

SPACE = Path(__file__).resolve().parent.parent
DOCKERFILE = SPACE / "Dockerfile"
ENTRYPOINT = SPACE / "docker" / "entrypoint.sh"
SPACE_README = SPACE / "docker" / "space-readme.md"
APP_PORT = 7860  # HF Docker Space default app_port


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in joined]


def arguments(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def env_values() -> dict[str, str]:
    values = {}
    for args in arguments("ENV"):
        values.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return values


def default_models() -> list[str]:
    return json.loads((SPACE / "models.json").read_text())["default_models"]


def test_official_ollama_image_pinned_by_digest() -> None:
    froms = arguments("FROM")
    assert len(froms) == 1
    assert re.fullmatch(r"ollama/ollama(:[\w.-]+)?@sha256:[0-9a-f]{64}", froms[0]), froms[0]


def test_listens_on_the_space_app_port() -> None:
    assert arguments("EXPOSE") == [str(APP_PORT)]
    assert env_values()["OLLAMA_HOST"] == f"0.0.0.0:{APP_PORT}"
    front_matter = SPACE_README.read_text().split("---")[1]
    assert re.search(r"^sdk: docker$", front_matter, re.MULTILINE)
    assert re.search(rf"^app_port: {APP_PORT}$", front_matter, re.MULTILINE)


def test_runs_as_uid_1000_with_writable_model_store() -> None:
    assert any(re.search(r"useradd .*--uid 1000 user\b", args) for args in arguments("RUN"))
    assert arguments("USER")[-1] == "user"
    order = [instruction for instruction, _ in instructions()]
    assert "RUN" not in order[order.index("USER") :], "no RUN as the Space user after switching (apt needs root)"
    env = env_values()
    assert env["HOME"] == "/home/user"
    assert env["OLLAMA_MODELS"].startswith(env["HOME"] + "/")
    assert all("--chown=user" in args for args in arguments("COPY"))


def test_entrypoint_and_catalog_are_copied_where_the_image_expects_them() -> None:
    workdir = arguments("WORKDIR")[-1]
    copies = {args.split()[-2]: args.split()[-1] for args in arguments("COPY")}
    assert all((SPACE / source).is_file() for source in copies), "COPY sources must exist in the Space repo"
    destinations = {source: str(Path(workdir) / target) for source, target in copies.items()}
    assert json.loads(arguments("ENTRYPOINT")[-1]) == [destinations["docker/entrypoint.sh"]]
    assert env_values()["ZEROLLAMA_MODELS_FILE"] == destinations["models.json"]
    assert arguments("CMD")[-1] == "[]"
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR


def run_entrypoint(tmp_path: Path, extra_env: dict[str, str] | None = None, failing: str = "") -> list[str]:
    """Run the real entrypoint with a fake `ollama` that logs each call; return the pulled models."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (apt-get install jq); the image installs it")
    log = tmp_path / "calls.log"
    fake = tmp_path / "bin" / "ollama"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'case "$1" in\n'
        "  serve) sleep 1 ;;\n"
        f'  pull) [ "$2" != "{failing}" ] ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "ZEROLLAMA_MODELS_FILE": str(SPACE / "models.json"),
        **(extra_env or {}),
    }
    result = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert "serve" in calls and "list" in calls  # serve runs in the background: no order between the two
    return [call.split()[1] for call in calls if call.startswith("pull ")]


def test_entrypoint_pulls_exactly_the_catalog_default_models(tmp_path: Path) -> None:
    assert run_entrypoint(tmp_path) == default_models()


def test_entrypoint_keeps_going_when_one_pull_fails(tmp_path: Path) -> None:
    first = default_models()[0]
    assert run_entrypoint(tmp_path, failing=first) == default_models()


def test_space_variable_replaces_the_model_list(tmp_path: Path) -> None:
    pulled = run_entrypoint(tmp_path, {"ZEROLLAMA_PULL_MODELS": "mistral:7b gemma2:9b"})
    assert pulled == ["mistral:7b", "gemma2:9b"]
