"""Offline deploy check: build each codebase's upload as `firebase deploy` would, then discover it.

`firebase deploy --dry-run` needs a login, so nothing offline tells us whether a codebase deploys.
This reproduces the two deploy steps that can go wrong in our code and that run offline:

1. Packaging. The CLI uploads the codebase's `source` folder minus its `ignore` globs (plus a few
   names it always drops), following symlinks: that is how the shared `focus` package gets in. We
   copy the same files into a temp dir and check the result: main.py, requirements.txt and the
   focus package are there, no venv or bytecode is.
2. Build and discovery. The cloud build installs requirements.txt into a fresh environment, and the
   CLI asks the SDK which functions exist (GET /__/functions.yaml, served by
   firebase_functions.private.serving). We install the upload's requirements.txt into a clean venv
   and call those same SDK functions in it, cwd = the upload, with the environment the CLI gives
   discovery and nothing from this checkout on the path: an import that only works here fails.

Finally, like the CLI, no two codebases may claim the same function (same id in the same region).

Usage: deploy_check.py [--codebase NAME] [--keep]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tables import format_table

ROOT = Path(__file__).resolve().parents[2]
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
# What the CLI ignores when a codebase has no `ignore` list, and what it always adds to the list.
CLI_DEFAULT_IGNORE = ["node_modules", ".git"]
CLI_ALWAYS_IGNORED = ["firebase-debug.log", "firebase-debug.*.log", ".runtimeconfig.json"]
NEVER_UPLOADED = {"venv", ".venv", "__pycache__"}
SHARED_PACKAGE = "focus"
PIP_NOISE = "WARNING: Location '"  # "... is ignored: it is neither a file nor a directory."
# Runs in the clean venv with cwd = the upload: the code behind GET /__/functions.yaml.
DISCOVER = """
import json, sys, yaml
from firebase_functions.private import serving
manifest = yaml.safe_load(serving.functions_as_yaml(serving.get_functions()))
with open(sys.argv[1], "w") as out:
    json.dump(manifest, out)
"""
RESOURCES = [
    ("mem", "availableMemoryMb"),
    ("cpu", "cpu"),
    ("concurrency", "concurrency"),
    ("max", "maxInstances"),
    ("min", "minInstances"),
    ("timeout", "timeoutSeconds"),
]


@dataclass(frozen=True)
class Codebase:
    name: str
    source: Path
    ignore: list[str]
    python: str  # the interpreter matching `runtime`: python311 -> python3.11


@dataclass
class Result:
    codebase: str
    problems: list[str] = field(default_factory=list)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_codebases(only: str | None) -> list[Codebase]:
    codebases = []
    for entry in json.loads((ROOT / "firebase.json").read_text())["functions"]:
        runtime = entry.get("runtime", "")
        if not runtime.startswith("python3"):
            raise SystemExit(f"deploy-check: runtime {runtime!r} is not a Python runtime")
        codebases.append(
            Codebase(
                name=entry.get("codebase", "default"),
                source=ROOT / entry["source"],
                ignore=[*entry.get("ignore", CLI_DEFAULT_IGNORE), *CLI_ALWAYS_IGNORED],
                python=f"python3.{runtime.removeprefix('python3')}",
            )
        )
    if only is None:
        return codebases
    chosen = [c for c in codebases if c.name == only]
    if not chosen:
        names = ", ".join(c.name for c in codebases)
        raise SystemExit(f"deploy-check: no codebase {only!r} in firebase.json (has: {names})")
    return chosen


def upload_filter(source: Path, patterns: list[str]) -> Callable[[str, list[str]], set[str]]:
    """A copytree `ignore` callable close to the CLI's (minimatch, matchBase and dot options).

    A pattern without '/' matches a basename at any depth; one with '/' matches the path relative
    to `source` (the CLI tests those against the absolute path: keep ignore patterns slash-free).
    """

    def ignored(directory: str, names: list[str]) -> set[str]:
        relative_dir = Path(directory).relative_to(source)
        return {
            name
            for name in names
            for pattern in patterns
            if fnmatch.fnmatchcase(
                name if "/" not in pattern else (relative_dir / name).as_posix(), pattern
            )
        }

    return ignored


def inspect_upload(upload: Path) -> tuple[list[str], int, int]:
    """Problems with the upload's contents, its number of files and their total size in bytes."""
    files = [path for path in upload.rglob("*") if path.is_file()]
    problems = [
        f"upload lacks {name}"
        for name in ("main.py", "requirements.txt")
        if not (upload / name).is_file()
    ]
    if not (upload / SHARED_PACKAGE / "__init__.py").is_file():
        problems.append(f"upload lacks the shared package ({SHARED_PACKAGE}/__init__.py)")
    leaked = set()
    for path in files:
        parts = path.relative_to(upload).parts
        cut = next((i for i, part in enumerate(parts) if part in NEVER_UPLOADED), None)
        if cut is not None:
            leaked.add("/".join(parts[: cut + 1]) + "/")
        elif path.suffix == ".pyc":
            leaked.add("/".join(parts))
    if leaked:
        shown = ", ".join(sorted(leaked)[:5]) + (" ..." if len(leaked) > 5 else "")
        problems.append(f"upload contains what `ignore` should drop: {shown}")
    return problems, len(files), sum(path.stat().st_size for path in files)


def install(codebase: Codebase, upload: Path, venv: Path) -> str | None:
    """Create a clean venv and install the upload's requirements.txt; a problem, or None."""
    interpreter = shutil.which(codebase.python)
    if interpreter is None:
        return f"{codebase.python} (the codebase's runtime) is not installed"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(upload / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
    )
    for line in (pip.stdout + pip.stderr).splitlines():
        if line.strip() and not line.startswith(PIP_NOISE):
            print(f"  pip: {line}")
    return (
        None
        if pip.returncode == 0
        else f"pip install -r requirements.txt failed ({pip.returncode})"
    )


def discover(upload: Path, venv: Path, out: Path) -> tuple[dict[str, Any], str | None]:
    """The manifest the CLI would get from the SDK (empty on failure) and a problem, or None."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "FUNCTIONS_EMULATOR"}
        and not k.endswith("_EMULATOR_HOST")
    }
    env.update(GCLOUD_PROJECT=PROJECT, FUNCTIONS_CONTROL_API="true", PYTHONDONTWRITEBYTECODE="1")
    child = subprocess.run(
        [str(venv / "bin" / "python"), "-c", DISCOVER, str(out)],
        cwd=upload,
        env=env,
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        tail = "\n".join(f"    {line}" for line in child.stderr.strip().splitlines()[-15:])
        return {}, f"discovery (import main) failed:\n{tail}"
    manifest: dict[str, Any] = json.loads(out.read_text())
    return manifest, None


def settings(*mappings: Mapping[str, Any] | None) -> str:
    return " ".join(f"{k}={v}" for m in mappings if m for k, v in m.items())


def describe_trigger(endpoint: Mapping[str, Any]) -> tuple[str, str]:
    """(trigger kind, its settings) of one manifest endpoint."""
    if "httpsTrigger" in endpoint:
        return "https", settings(endpoint["httpsTrigger"])
    if "callableTrigger" in endpoint:
        return "callable", settings(endpoint["callableTrigger"])
    if "eventTrigger" in endpoint:
        trigger = endpoint["eventTrigger"]
        filters = settings(trigger.get("eventFilters"), trigger.get("eventFilterPathPatterns"))
        return f"event {trigger['eventType']}", f"{filters} retry={trigger.get('retry')}"
    if "taskQueueTrigger" in endpoint:
        trigger = endpoint["taskQueueTrigger"]
        return "task queue", settings(trigger.get("retryConfig"), trigger.get("rateLimits"))
    if "scheduleTrigger" in endpoint:
        trigger = endpoint["scheduleTrigger"]
        when = f"'{trigger['schedule']}' tz={trigger.get('timeZone')}"
        return "schedule", f"{when} {settings(trigger.get('retryConfig'))}".strip()
    if "blockingTrigger" in endpoint:
        trigger = endpoint["blockingTrigger"]
        return f"blocking {trigger['eventType']}", settings(trigger.get("options"))
    return "unknown", ""


def report(endpoints: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for function_id, endpoint in sorted(endpoints.items()):
        kind, details = describe_trigger(endpoint)
        resources = " ".join(
            f"{label}={endpoint[key]}" for label, key in RESOURCES if endpoint.get(key) is not None
        )
        rows.append([function_id, kind, details, ",".join(endpoint.get("region") or []), resources])
    return format_table(["function", "trigger", "settings", "region", "resources"], rows)


def check(codebase: Codebase, workdir: Path) -> Result:
    result = Result(codebase.name)
    upload, venv = workdir / codebase.name, workdir / f"{codebase.name}-venv"
    print(f"\n== {codebase.name} ({codebase.source.relative_to(ROOT)}, {codebase.python})")
    shutil.copytree(codebase.source, upload, ignore=upload_filter(codebase.source, codebase.ignore))
    problems, files, size = inspect_upload(upload)
    result.problems += problems
    print(f"upload: {files} files, {size / 1024:.1f} KB")
    if not (upload / "requirements.txt").is_file():
        return result
    started = time.perf_counter()
    problem = install(codebase, upload, venv)
    print(f"clean venv + pip install -r requirements.txt: {time.perf_counter() - started:.1f} s")
    if problem:
        result.problems.append(problem)
        return result
    manifest, problem = discover(upload, venv, workdir / f"{codebase.name}-functions.json")
    if problem:
        result.problems.append(problem)
        return result
    result.endpoints = manifest.get("endpoints") or {}
    if not result.endpoints:
        result.problems.append("exposes no functions")
        return result
    result.problems += [
        f"{function_id}: no trigger the CLI knows"
        for function_id, endpoint in result.endpoints.items()
        if describe_trigger(endpoint)[0] == "unknown"
    ]
    print(report(result.endpoints))
    apis = ", ".join(api["api"] for api in manifest.get("requiredAPIs") or [])
    if apis:
        print(f"required APIs: {apis}")
    return result


def clashes(results: list[Result]) -> list[str]:
    """Functions more than one codebase claims (the CLI keys them by region and id)."""
    claims: dict[tuple[str, str], list[str]] = {}
    for result in results:
        for function_id, endpoint in result.endpoints.items():
            for region in endpoint.get("region") or []:
                claims.setdefault((region, function_id), []).append(result.codebase)
    return [
        f"{region}/{function_id} is claimed by codebases {', '.join(names)}"
        for (region, function_id), names in sorted(claims.items())
        if len(names) > 1
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codebase", help="check only this codebase (firebase.json `codebase`)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir with uploads and venvs"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    codebases = load_codebases(args.codebase)
    workdir = Path(tempfile.mkdtemp(prefix="focus-deploy-check-"))
    try:
        results = [check(codebase, workdir) for codebase in codebases]
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir)

    problems = [f"{r.codebase}: {problem}" for r in results for problem in r.problems]
    problems += clashes(results)
    count = sum(len(r.endpoints) for r in results)
    if problems:
        print("\nproblems:", *(f"  {problem}" for problem in problems), sep="\n")
        print(f"deploy-check: FAILED, {len(problems)} problem(s) in {len(results)} codebase(s)")
        return 1
    print(f"\ndeploy-check: OK, {len(results)} codebase(s), {count} function(s), ids unique")
    return 0


if __name__ == "__main__":
    sys.exit(main())
