"""Cold-start benchmark: how long a fresh Python process takes to load each codebase. Figures only.

A new function instance pays for importing main.py (our code, the SDK, the clients) before its
first request. Most of that is the SDK's, so an absolute figure says little about our own code.
Next to each codebase we measure the SDK's floor, a process that only imports the
firebase_functions modules the codebase uses (found by parsing main.py and the local modules it
imports, e.g. `focus`), and bare `python -c pass`. Ours / floor is the figure to watch: it grows
when our start-up gets heavier (an eager import, work at import time).

Every sample is a fresh process of the codebase's own venv python, cwd = the codebase folder, with
the emulator's environment (GCLOUD_PROJECT, FUNCTIONS_EMULATOR=true). Per sample we record:
  wall      perf_counter around the whole child: spawn, interpreter start-up, import, exit;
  import    the child's own perf_counter delta around the import statement alone;
  peak RSS  the child's ru_maxrss, from os.wait4.
Rounds interleave every variant of every codebase (rotating the order) so drift in machine load
spreads evenly. One unrecorded warm-up round fills the page cache and the bytecode cache, which
lives in a temp PYTHONPYCACHEPREFIX: nothing is written into the checkout, and every variant,
ours included, loads from bytecode.

Usage: bench_cold_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tables import format_table

ROOT = Path(__file__).resolve().parents[2]
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
SDK = "firebase_functions"
TIMED_IMPORT = """import time
started = time.perf_counter()
{statement}
print("import_ms", (time.perf_counter() - started) * 1000)
"""


@dataclass(frozen=True)
class Variant:
    codebase: str
    name: str  # "ours", "sdk floor" or "bare python"
    folder: Path
    statement: str | None  # the import to time; None runs `python -c pass`
    imports: str  # what the statement imports, for the report


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    import_ms: float | None
    rss_mb: float


def runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in `node` (functions included) except `if TYPE_CHECKING:`."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
        for statement in node.orelse:
            yield from runtime_imports(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from runtime_imports(child)


def local_module(folder: Path, name: str) -> Path | None:
    base = folder.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def sdk_modules(folder: Path) -> list[str]:
    """firebase_functions modules that `import main` loads, through local modules too (focus)."""
    found: set[str] = set()
    pending, seen = ["main"], set()
    while pending:
        name = pending.pop()
        path = local_module(folder, name)
        if name in seen or path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run too
        for node in runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
                pending += modules
            elif node.level == 0 and node.module == SDK:
                # from firebase_functions import https_fn: names are modules
                modules = [f"{SDK}.{alias.name}" for alias in node.names]
            elif node.level == 0 and node.module:
                # from focus.adapters import logs / from firebase_functions.core import Change
                modules = [node.module]
                pending += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue  # relative imports: the codebases use none
            found.update(module for module in modules if module.startswith(f"{SDK}."))
    return sorted(found)


def variants(codebase: str, folder: Path) -> list[Variant]:
    modules = sdk_modules(folder)
    if not modules:
        raise SystemExit(f"bench: found no {SDK} import behind {folder}/main.py")
    names = ",".join(module.removeprefix(f"{SDK}.") for module in modules)
    return [
        Variant(codebase, "ours", folder, "import main", "main"),
        Variant(
            codebase, "sdk floor", folder, "import " + ", ".join(modules), f"{SDK}.{{{names}}}"
        ),
        Variant(codebase, "bare python", folder, None, "nothing (-c pass)"),
    ]


def run_once(variant: Variant, env: dict[str, str]) -> Sample:
    code = "pass" if variant.statement is None else TIMED_IMPORT.format(statement=variant.statement)
    argv = [str(variant.folder / "venv" / "bin" / "python"), "-c", code]
    started = time.perf_counter()
    with subprocess.Popen(
        argv,
        cwd=variant.folder,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as child:
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)  # unlike wait(), reports this child's rusage
        wall_ms = (time.perf_counter() - started) * 1000
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"bench: {variant.codebase} {variant.name} failed:\n{output}")
    import_ms = next(
        (float(line.split()[1]) for line in output.splitlines() if line.startswith("import_ms ")),
        None,
    )
    return Sample(wall_ms, import_ms, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="recorded runs per variant (default 7)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    config = json.loads((ROOT / "firebase.json").read_text())
    jobs = []
    for entry in config["functions"]:
        folder = ROOT / entry["source"]
        if not (folder / "venv" / "bin" / "python").exists():
            raise SystemExit(f"bench: {folder}/venv is missing: run scripts/setup first")
        jobs += variants(entry["codebase"], folder)

    samples: dict[Variant, list[Sample]] = {job: [] for job in jobs}
    with tempfile.TemporaryDirectory(prefix="focus-bench-pycache-") as pycache:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(GCLOUD_PROJECT=PROJECT, FUNCTIONS_EMULATOR="true", PYTHONPYCACHEPREFIX=pycache)
        for job in jobs:  # warm-up round, not recorded
            run_once(job, env)
        for round_index in range(args.runs):
            shift = round_index % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                samples[job].append(run_once(job, env))

    print(
        f"cold start, {args.runs} runs per variant after 1 warm-up round, interleaved; "
        f"ms as median (min-max); python {sys.version.split()[0]}\n"
    )
    rows = []
    for job, runs in samples.items():
        imports = [s.import_ms for s in runs if s.import_ms is not None]
        rows.append(
            [
                job.codebase,
                job.name,
                job.imports,
                spread([s.wall_ms for s in runs]),
                spread(imports) if imports else "-",
                f"{statistics.median(s.rss_mb for s in runs):.0f}",
            ]
        )
    print(
        format_table(
            ["codebase", "variant", "imports", "wall ms", "import ms", "peak RSS MB"],
            rows,
            align="lllrrr",
        )
    )

    by_name = {(job.codebase, job.name): runs for job, runs in samples.items()}

    def wall(codebase: str, name: str) -> float:
        return statistics.median(s.wall_ms for s in by_name[codebase, name])

    def imported(codebase: str, name: str) -> float:
        return statistics.median(s.import_ms for s in by_name[codebase, name] if s.import_ms)

    summary = []
    for codebase in dict.fromkeys(job.codebase for job in jobs):
        ours, floor = wall(codebase, "ours"), wall(codebase, "sdk floor")
        ours_in, floor_in = imported(codebase, "ours"), imported(codebase, "sdk floor")
        summary.append(
            [
                codebase,
                f"{ours:.0f}",
                f"{floor:.0f}",
                f"{ours / floor:.2f}",
                f"{wall(codebase, 'bare python'):.0f}",
                f"{ours_in:.0f}",
                f"{floor_in:.0f}",
                f"{ours_in / floor_in:.2f}",
            ]
        )
    print("\nmedians: wall = whole process, import = in-process import only")
    print(
        format_table(
            [
                "codebase",
                "ours wall ms",
                "floor wall ms",
                "ratio",
                "bare python ms",
                "ours import ms",
                "floor import ms",
                "ratio",
            ],
            summary,
            align="lrrrrrrr",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
