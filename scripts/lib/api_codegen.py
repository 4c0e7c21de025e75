"""Client code from the published mobile API contract (docs/api/), made with quicktype.

Per API version (its request and response schemas plus the envelope), into ``--out``:

    swift/<version>/FocusAPI.swift       Codable structs
    kotlin/<version>/FocusAPI.kt         kotlinx.serialization data classes, package focus.api.v<version>
    typescript/<version>/api.ts          plain types (date-times stay strings, as on the wire)
    typescript/<version>/golden/*.ts     each golden example (tests/contracts/<version>/*.json)
                                         typed with those types; ``tsc --noEmit`` checks them

Fails on any quicktype or tsc error, so a schema that the tools cannot read, or a golden example
that disagrees with its published schema, fails CI (tests/test_api_schema_tools.py runs this).
quicktype names each top-level type after the schema's ``title`` or else its file name:
``launch.request.schema.json`` becomes ``LaunchRequestSchema``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api"
CONTRACTS = ROOT / "tests" / "contracts"
DEFAULT_OUT = ROOT / ".local" / "codegen"
NODE_BIN = ROOT / "node_modules" / ".bin"
ENVELOPE = "envelope.schema.json"
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MARKER = ".api-codegen"  # marks an output directory this script may wipe and rewrite

# The answer's ``meta`` has no published schema: typed as docs/api.md describes it.
META_TYPE = "{ apiVersion: string; serverTime: string; deprecation?: unknown }"

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "exactOptionalPropertyTypes": True,
        "noEmit": True,
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "types": [],
        "skipLibCheck": True,
    },
    "include": ["*/**/*.ts"],
}


class CodegenError(Exception):
    """A tool failed or its output is not what the contract needs; the message says which."""


@dataclass(frozen=True)
class Target:
    """One quicktype output language, rendered once per API version."""

    name: str
    filename: str
    options: tuple[str, ...]

    def arguments(self, version: str) -> list[str]:
        package = "v" + version.replace("-", "_")
        return [option.replace("{package}", package) for option in self.options]


TARGETS = {
    target.name: target
    for target in (
        Target("swift", "FocusAPI.swift", ("--lang", "swift")),
        Target(
            "kotlin",
            "FocusAPI.kt",
            ("--lang", "kotlin", "--framework", "kotlinx", "--package", "focus.api.{package}"),
        ),
        # Plain types of the JSON on the wire (date-times are strings there, not Date objects),
        # one per schema object (no merging of look-alikes that could loosen the golden check).
        Target(
            "typescript",
            "api.ts",
            ("--lang", "typescript", "--just-types", "--no-date-times", "--no-combine-classes"),
        ),
    )
}


@dataclass(frozen=True)
class Run:
    """One quicktype run: what it made, what it said and how long it took."""

    target: Target
    version: str
    output: Path
    seconds: float
    messages: str


def versions(api: Path = API) -> list[str]:
    found = sorted(p.name for p in api.iterdir() if p.is_dir() and VERSION.match(p.name))
    if not found:
        raise CodegenError(f"no API version directories (YYYY-MM-DD) under {api}")
    return found


def schema_files(version: str, api: Path = API) -> list[Path]:
    """The envelope and every request and response schema of one version."""
    files = sorted((api / version).glob("*.schema.json"))
    if not files:
        raise CodegenError(f"no schemas under {api / version}")
    return [api / ENVELOPE, *files]


def type_name(schema_file: Path) -> str:
    """The name quicktype gives a top-level schema: its ``title``, else its file name."""
    schema = json.loads(schema_file.read_text())
    title = schema.get("title") if isinstance(schema, dict) else None
    base = title if isinstance(title, str) else schema_file.name.removesuffix(".json")
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", base) if word)


def tool(name: str) -> Path:
    path = NODE_BIN / name
    if not path.exists():
        raise CodegenError(f"{path} is missing: run scripts/setup (npm ci installs it)")
    return path


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def quicktype(target: Target, version: str, out: Path, api: Path = API) -> Run:
    output = out / target.name / version / target.filename
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(tool("quicktype")),
        "--src-lang",
        "schema",
        *target.arguments(version),
        "--out",
        str(output),
        *(_display(f) for f in schema_files(version, api)),
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    messages = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        raise CodegenError(
            f"quicktype failed for {target.name} {version} (exit {result.returncode}):\n"
            f"  {' '.join(command[1:])}\n{messages}"
        )
    return Run(target, version, output, seconds, messages)


def golden_module(version: str, golden_file: Path, api: Path, types: str) -> str:
    """A TypeScript module that assigns the golden example to the types of its version."""
    callable_name = golden_file.stem
    request_schema = api / version / f"{callable_name}.request.schema.json"
    response_schema = api / version / f"{callable_name}.response.schema.json"
    for schema in (request_schema, response_schema):
        if not schema.is_file():
            raise CodegenError(
                f"{_display(golden_file)} has no published schema {_display(schema)}"
            )
    envelope, request, response = (
        type_name(f) for f in (api / ENVELOPE, request_schema, response_schema)
    )
    for name in (envelope, request, response):
        if not re.search(rf"^export (interface|type) {name}\b", types, re.MULTILINE):
            raise CodegenError(f"the generated TypeScript for {version} has no type {name}")
    example = json.loads(golden_file.read_text())
    return "\n".join(
        [
            f"// Generated by scripts/api-codegen: {_display(golden_file)} typed with the",
            f"// TypeScript that quicktype made from docs/api/ for API version {version}.",
            f'import type {{ {", ".join(sorted({envelope, request, response}))} }} from "../api";',
            "",
            "type Golden = {",
            f'  request: Omit<{envelope}, "payload"> & {{ payload?: {request} }};',
            f"  answer: {{ data: {response}; meta: {META_TYPE} }};",
            "};",
            "",
            f"export const golden: Golden = {json.dumps(example, indent=2, ensure_ascii=False)};",
            "",
        ]
    )


def typecheck(out: Path, api: Path = API, contracts: Path = CONTRACTS) -> tuple[int, float]:
    """Write the golden examples as typed TypeScript and run ``tsc --noEmit`` over them."""
    root = out / "typescript"
    count = 0
    for version in versions(api):
        types_file = root / version / TARGETS["typescript"].filename
        types = types_file.read_text()
        for golden_file in sorted((contracts / version).glob("*.json")):
            module = root / version / "golden" / f"{golden_file.stem}.ts"
            module.parent.mkdir(parents=True, exist_ok=True)
            module.write_text(golden_module(version, golden_file, api, types))
            count += 1
    if count == 0:
        raise CodegenError(f"no golden examples under {contracts}/<version>/")
    (root / "tsconfig.json").write_text(json.dumps(TSCONFIG, indent=2) + "\n")
    command = [str(tool("tsc")), "--noEmit", "--pretty", "false", "-p", str(root / "tsconfig.json")]
    started = time.monotonic()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise CodegenError(
            "the golden examples do not type-check against the generated TypeScript "
            f"(tsc exit {result.returncode}, in {_display(root)}):\n"
            f"{(result.stdout + result.stderr).strip()}"
        )
    return count, seconds


def prepare(out: Path) -> None:
    """An empty output directory: a new one, or one this script made before (wiped)."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise CodegenError(f"{out} is not empty and was not made by scripts/api-codegen")
        for child in out.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by scripts/api-codegen; rewritten on every run\n")


def generate(
    out: Path,
    languages: Sequence[str] = tuple(TARGETS),
    api: Path = API,
    contracts: Path = CONTRACTS,
    log: Callable[[str], None] = print,
) -> None:
    started = time.monotonic()
    prepare(out)
    jobs = [(TARGETS[lang], version) for lang in languages for version in versions(api)]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = [pool.submit(quicktype, target, version, out, api) for target, version in jobs]
        errors: list[str] = []
        for future in futures:
            try:
                run = future.result()
            except CodegenError as error:
                errors.append(str(error))
                continue
            log(
                f"quicktype {run.target.name:<10} {run.version}  {run.seconds:4.1f} s  {_display(run.output)}"
            )
            for line in run.messages.splitlines():
                log(f"    {line}")
    if errors:
        raise CodegenError("\n\n".join(errors))
    if "typescript" in languages:
        count, seconds = typecheck(out, api, contracts)
        log(f"tsc --noEmit: {count} golden examples type-check  {seconds:4.1f} s")
    log(f"api-codegen: done in {time.monotonic() - started:.1f} s -> {_display(out)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate Swift, Kotlin and TypeScript models from docs/api/ with quicktype "
        "and type-check the golden examples (tests/contracts/) against the TypeScript."
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: .local/codegen)"
    )
    parser.add_argument(
        "--lang",
        action="append",
        choices=sorted(TARGETS),
        help="only these languages (repeatable; typescript includes the golden type-check)",
    )
    parser.add_argument("--api", type=Path, default=API, help=argparse.SUPPRESS)
    parser.add_argument("--contracts", type=Path, default=CONTRACTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        generate(
            args.out.resolve(),
            args.lang or tuple(TARGETS),
            args.api.resolve(),
            args.contracts.resolve(),
        )
    except CodegenError as error:
        print(f"api-codegen: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
