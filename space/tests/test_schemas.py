"""space/models.json and space/costs.json against their JSON Schemas (space/schemas/), and the bad documents
of test/fixtures/schema-cases.json against the same schemas: each must be refused. The TypeScript suite
(test/unit/schemas.test.ts) checks the same files and cases with ajv."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import REPO, SPACE
from zerollama.core.options import FLOAT_OPTIONS, INT_OPTIONS

FILES = ("models", "costs")
CASES = json.loads((REPO / "test" / "fixtures" / "schema-cases.json").read_text(encoding="utf-8"))["cases"]


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = read(SPACE / "schemas" / f"{name}.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def changed(document: Any, case: dict[str, Any]) -> Any:
    """`document` with the case's one change: `value` set at `path`, or the field at `path` deleted."""
    result = copy.deepcopy(document)
    *parents, last = case["path"]
    target = result
    for key in parents:
        target = target[key]
    if case.get("delete"):
        del target[last]
    else:
        target[last] = case["value"]
    return result


@pytest.mark.parametrize("name", FILES)
def test_the_data_files_match_their_schemas(name: str) -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(read(SPACE / f"{name}.json"))
    ]
    assert errors == []


@pytest.mark.parametrize("case", CASES, ids=[f"{case['file']}: {case['why']}" for case in CASES])
def test_a_bad_document_is_refused(case: dict[str, Any]) -> None:
    document = read(SPACE / f"{case['file']}.json")
    assert validator(case["file"]).is_valid(document)
    assert not validator(case["file"]).is_valid(changed(document, case)), case["why"]


def test_the_catalog_schema_names_the_options_the_server_parses() -> None:
    """The option names a model may set are the ones core/options.py knows (its integer and float options)."""
    schema = read(SPACE / "schemas" / "models.schema.json")
    names = schema["$defs"]["model"]["properties"]["default_options"]["propertyNames"]["enum"]
    assert sorted(names) == sorted(INT_OPTIONS | FLOAT_OPTIONS)
