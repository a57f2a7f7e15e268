"""settings.py: every ZEROLLAMA_* variable parsed in one place, and the README's table lists exactly those."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SPACE
from zerollama.settings import Settings, variables

PACKAGE = SPACE / "zerollama"


def readme_settings_table() -> str:
    readme = (SPACE / "README.md").read_text(encoding="utf-8")
    return readme.split("## Settings", 1)[1].split("\n## ", 1)[0]


def test_the_readme_table_lists_every_variable_the_server_reads():
    documented = set(re.findall(r"`(ZEROLLAMA_[A-Z0-9_]+)`", readme_settings_table()))
    assert documented == {variable.name for variable in variables()}


def test_no_other_module_reads_a_zerollama_variable_from_the_environment():
    reads = re.compile(r"(environ|getenv)\b[^\n]*ZEROLLAMA_")
    readers = [p.name for p in PACKAGE.rglob("*.py") if p.name != "settings.py" and reads.search(p.read_text())]
    assert readers == []


def test_unset_or_blank_variables_keep_their_defaults_and_set_ones_are_typed():
    assert Settings.from_env({"ZEROLLAMA_MAX_QUEUE": " "}) == Settings()
    settings = Settings.from_env(
        {
            "ZEROLLAMA_DEMO": "1",
            "ZEROLLAMA_PRELOAD": "no",
            "ZEROLLAMA_PACKED_MODELS": "phi3, qwen2.5:7b,",
            "ZEROLLAMA_MODEL_DIR": "/models",
            "ZEROLLAMA_MAX_CONCURRENCY": "3",
            "ZEROLLAMA_MONITORING": "true",
            "ZEROLLAMA_TIER": "team",
        }
    )
    assert settings.models.demo == "tiny" and settings.models.preload is False
    assert settings.models.packed_models == ("phi3", "qwen2.5:7b") and settings.models.model_dir == Path("/models")
    assert settings.gpu.max_concurrency == 3 and settings.http.monitoring is True
    assert settings.costs.tier.name == "team"


def test_a_timeout_must_be_a_positive_number_of_seconds():
    with pytest.raises(ValueError, match="ZEROLLAMA_BODY_TIMEOUT_SECONDS must be a positive number"):
        Settings.from_env({"ZEROLLAMA_BODY_TIMEOUT_SECONDS": "0"})
