"""The published JSON Schemas (docs/api/) are usable by tools, as a mobile team would use them.

Every file is a valid JSON Schema 2020-12 document (checked against the meta-schema), every
``$ref`` in it resolves, and every ``pattern`` is an ECMA-262 regular expression (what JSON Schema
requires, and what JavaScript, Swift and Kotlin validators compile). ``scripts/api-codegen`` makes
Swift, Kotlin and TypeScript from them with the pinned quicktype, and the golden examples
(tests/contracts/<version>/<callable>.json) type-check against the TypeScript (``tsc --noEmit``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
import api_codegen  # noqa: E402 - scripts/lib is not a package

API = ROOT / "docs" / "api"
CONTRACTS = ROOT / "tests" / "contracts"
SCHEMA_FILES = sorted(API.rglob("*.json"))
DIALECT = "https://json-schema.org/draft/2020-12/schema"
Resolver = Any  # referencing.Resolver: not exported by the package


def name(path: Path) -> str:
    return str(path.relative_to(API))


def registry(files: list[Path]) -> Registry[Any]:
    """Every schema under the URI a tool reading it from disk gives it (and its ``$id``s)."""
    resources = [
        (f.as_uri(), DRAFT202012.create_resource(json.loads(f.read_text()))) for f in files
    ]
    return Registry().with_resources(resources).crawl()


def subschemas(resource: Resource[Any], resolver: Resolver) -> Iterator[tuple[Any, Resolver]]:
    """Each (sub)schema of a document with the resolver of its scope (``$id``s change the base)."""
    yield resource.contents, resolver
    for sub in resource.subresources():
        yield from subschemas(sub, resolver.in_subresource(sub))


def walk(path: Path, known: Registry[Any]) -> Iterator[tuple[Any, Resolver]]:
    resource = known[path.as_uri()]
    return subschemas(resource, known.resolver(base_uri=path.as_uri()).in_subresource(resource))


def unresolved_refs(path: Path, known: Registry[Any]) -> list[str]:
    problems = []
    for schema, resolver in walk(path, known):
        if not isinstance(schema, dict):
            continue
        for keyword in ("$ref", "$dynamicRef"):
            ref = schema.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                resolver.lookup(ref)
            except referencing.exceptions.Unresolvable as error:
                problems.append(f"{keyword} {ref!r}: {type(error).__name__}: {error}")
    return problems


# -- every file is a JSON Schema 2020-12 document whose refs resolve ----------------------------
def test_the_contract_has_an_envelope_and_versions_of_schemas() -> None:
    assert API / "envelope.schema.json" in SCHEMA_FILES
    versions = api_codegen.versions()
    assert len(versions) >= 2
    for version in versions:
        assert api_codegen.schema_files(version)[1:], version


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=name)
def test_each_schema_is_valid_against_the_2020_12_meta_schema(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema.get("$schema") == DIALECT
    assert validator_for(schema) is Draft202012Validator
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        pytest.fail(f"{name(path)} at {error.json_path}: {error.message}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=name)
def test_every_ref_in_each_schema_resolves(path: Path) -> None:
    assert unresolved_refs(path, registry(SCHEMA_FILES)) == []


def test_a_ref_to_nowhere_is_caught(tmp_path: Path) -> None:
    """The envelope as first published: "#/$defs/Platform" while $defs sat under the client."""
    broken = tmp_path / "envelope.schema.json"
    broken.write_text(json.dumps(BROKEN_ENVELOPE))
    Draft202012Validator.check_schema(BROKEN_ENVELOPE)  # valid JSON Schema, unusable all the same
    [problem] = unresolved_refs(broken, registry([broken]))
    assert "#/$defs/Platform" in problem and "PointerToNowhere" in problem


def test_every_pattern_is_an_ecma_262_regular_expression() -> None:
    patterns: dict[str, set[str]] = {}
    known = registry(SCHEMA_FILES)
    for path in SCHEMA_FILES:
        for schema, _ in walk(path, known):
            if isinstance(schema, dict):
                found = [schema.get("pattern"), *schema.get("patternProperties", {})]
                for pattern in found:
                    if isinstance(pattern, str):
                        patterns.setdefault(pattern, set()).add(name(path))
    assert patterns, "no patterns found: is the walk broken?"
    node = shutil.which("node")
    assert node, "node is missing (scripts/setup needs it too)"
    check = (
        'const bad = {}; for (const p of JSON.parse(require("fs").readFileSync(0, "utf8"))) {'
        ' try { new RegExp(p, "u"); } catch (e) { bad[p] = e.message; } }'
        " process.stdout.write(JSON.stringify(bad));"
    )
    result = subprocess.run(
        [node, "-e", check],
        input=json.dumps(sorted(patterns)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    bad = json.loads(result.stdout)
    assert bad == {}, {
        pattern: (error, sorted(patterns[pattern])) for pattern, error in bad.items()
    }


# -- code generation (scripts/api-codegen) ------------------------------------------------------
@pytest.fixture(scope="module")
def codegen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """scripts/api-codegen as a developer (and CI, through this test) runs it."""
    out = tmp_path_factory.mktemp("codegen")
    result = subprocess.run(
        [str(ROOT / "scripts" / "api-codegen"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"scripts/api-codegen failed:\n{result.stdout}\n{result.stderr}"
    return out, result.stdout


def test_quicktype_makes_swift_and_kotlin_models_for_every_version(
    codegen: tuple[Path, str],
) -> None:
    out, _ = codegen
    for version in api_codegen.versions():
        swift = (out / "swift" / version / "FocusAPI.swift").read_text()
        kotlin = (out / "kotlin" / version / "FocusAPI.kt").read_text()
        assert f"package focus.api.v{version.replace('-', '_')}" in kotlin
        for schema in api_codegen.schema_files(version):
            type_name = api_codegen.type_name(schema)
            assert f"struct {type_name}:" in swift, (version, type_name)
            assert f"class {type_name}" in kotlin, (version, type_name)


def test_the_golden_examples_type_check_against_the_generated_typescript(
    codegen: tuple[Path, str],
) -> None:
    out, stdout = codegen
    goldens = sorted(CONTRACTS.glob("*/*.json"))
    assert goldens
    for golden in goldens:
        module = out / "typescript" / golden.parent.name / "golden" / f"{golden.stem}.ts"
        assert module.is_file(), module
    assert f"tsc --noEmit: {len(goldens)} golden examples type-check" in stdout


def test_a_golden_example_that_breaks_its_schema_fails_the_type_check(
    codegen: tuple[Path, str], tmp_path: Path
) -> None:
    """Old field names in a head request, an unknown platform, a response of the wrong shape.
    (An unknown response field is fine: clients must ignore fields added later.)"""
    out, _ = codegen
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, contracts)
    head = api_codegen.versions()[-1]
    upload = contracts / head / "uploadDailyReports.json"
    example = json.loads(upload.read_text())
    report = example["request"]["payload"]["reports"][0]
    report["screenTimeSeconds"] = report.pop("screenTimeMinutes")
    example["request"]["client"]["platform"] = "windows"
    example["answer"]["data"]["days"] = "none"
    example["answer"]["data"]["addedLater"] = True
    upload.write_text(json.dumps(example))

    with pytest.raises(api_codegen.CodegenError) as caught:
        api_codegen.typecheck(copy, contracts=contracts)
    message = str(caught.value)
    assert f"{head}/golden/uploadDailyReports.ts" in message
    for token in ("screenTimeSeconds", '"windows"', "Type 'string' is not assignable"):
        assert token in message, message
    assert "addedLater" not in message


def test_a_schema_quicktype_cannot_read_fails_the_codegen(tmp_path: Path) -> None:
    api = tmp_path / "api"
    (api / "2026-01-01").mkdir(parents=True)
    (api / "envelope.schema.json").write_text(json.dumps(BROKEN_ENVELOPE))
    (api / "2026-01-01" / "ping.request.schema.json").write_text(
        json.dumps({"$schema": DIALECT, "type": "object", "additionalProperties": False})
    )
    with pytest.raises(
        api_codegen.CodegenError, match=r"quicktype failed for swift 2026-01-01"
    ) as caught:
        api_codegen.generate(tmp_path / "out", ["swift"], api=api, log=lambda _: None)
    assert "$defs" in str(caught.value)


BROKEN_ENVELOPE: dict[str, Any] = {
    "$schema": DIALECT,
    "type": "object",
    "properties": {
        "client": {
            "type": "object",
            "properties": {"platform": {"$ref": "#/$defs/Platform"}},
            "$defs": {"Platform": {"type": "string", "enum": ["ios", "android", "macos"]}},
        },
        "payload": {"type": "object"},
    },
}
