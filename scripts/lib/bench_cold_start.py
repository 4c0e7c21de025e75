"""Cold-start benchmark: a fresh process per sample that loads a codebase and serves its first
request, beside the Python SDK's floor and the Node incumbent. Figures only.

A new function instance pays, before it answers anyone, for starting the runtime, loading the
function's source (our code, the SDK, the clients it imports) and serving the first request (what
that request imports or builds on first use). An absolute figure on a shared 2-core machine says
little; the ratios measured side by side in one run are the figures to watch. Per codebase:

  ours            functions/<codebase>/main.py as deployed (cwd = the codebase folder, its venv);
  ours@REF        with --baseline REF: the same codebase and shared/focus as committed at REF
                  (`git archive`, into a temp folder; same venv): before/after in one run;
  python floor    a main.py with no project code: the firebase_functions trigger modules the
                  codebase's main.py loads (found by parsing it and the local modules it imports),
                  `firebase_admin.initialize_app()`, and one trivial function per trigger kind;
  python stack    the floor plus the libraries the stack prescribes (pydantic, structlog and the
                  Google Cloud clients; docs/architecture.md) that the codebase has loaded once
                  its main.py is imported, still no project code: what any codebase on this
                  stack pays, so ours/stack is our own code's share;
  node incumbent  the same in Node: firebase-functions v2 + firebase-admin `initializeApp()`, one
                  trivial function per trigger kind; installed from npm (pinned below) into
                  .local/bench-node/ (ignored by git) on first use.

Each sample is what the platform does on a cold instance, minus the container: the SDK's own
server entry loads the source and builds the app, exactly as its CLI does, then a real HTTP
server listens on a free loopback port and one request is sent to it with the standard library
client (http.client / node:http). Python: `functions_framework.create_app(target, source)` (what
`functions-framework --target` runs; served by werkzeug here, gunicorn in production); Node:
`@google-cloud/functions-framework`'s options, loader and `getServer` (what its CLI runs; the
production server itself). The request timed, by the codebase's first function kind:

  callable  (api, webhooks)    POST / {"data": {}} with no Authorization header. Ours refuses the
            envelope (INVALID_ARGUMENT, HTTP 400: jsonschema, the span and the request line run;
            nothing is read from Firestore); the floor and Node refuse the missing sign-in
            (UNAUTHENTICATED, HTTP 401) in a one-line handler;
  schedule  (jobs, insights)   GET /, the worker's start-up probe (handlers.background answers it
            without running the job; the floor's and Node's handlers do nothing);
  firestore (triggers)         no request: a Firestore event needs an encoded document from the
            emulator; the figure is load + server listening.

Per sample: wall = spawn to exit (the child exits as soon as the answer is read), load = the
child's own time to build the app (source import included), request = the first request's round
trip in the child, peak RSS = the child's ru_maxrss from os.wait4. Rounds interleave every
variant (rotating the order) so drift in machine load spreads evenly; one unrecorded warm-up round
fills the page cache and the bytecode cache (a temp PYTHONPYCACHEPREFIX: nothing is written into
the checkout). Every child gets the emulator's environment (GCLOUD_PROJECT, FUNCTIONS_EMULATOR).

Usage: bench_cold_start.py [--runs N] [--codebases api,jobs] [--baseline REF]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tables import format_table  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
SDK = "firebase_functions"
NODE_DIR = ROOT / ".local" / "bench-node"
# The Node incumbent, pinned. firebase-admin 14 needs Node 22; the machine has Node 20.
NODE_PACKAGES = {
    "@google-cloud/functions-framework": "5.0.5",
    "firebase-admin": "13.9.0",
    "firebase-functions": "7.4.0",
}
CALLABLE_BODY = '{"data": {}}'
# The libraries the stack prescribes, by the module a codebase imports them as.
STACK_LIBRARIES = (
    "pydantic",
    "structlog",
    "google.cloud.firestore",
    "google.cloud.pubsub_v1",
    "google.cloud.tasks_v2",
)


@dataclass(frozen=True)
class Probe:
    """Which function of a codebase the sample serves, and the first request it gets."""

    kind: str  # "callable", "schedule" or "firestore"
    target: str  # our function's name
    signature: str  # the functions framework's signature type
    method: str | None  # None: no request, load + listen only
    body: str | None = None


PROBES = {
    "api": Probe("callable", "launch", "http", "POST", CALLABLE_BODY),
    "webhooks": Probe("callable", "restorePurchases", "http", "POST", CALLABLE_BODY),
    "jobs": Probe("schedule", "roll_up_hours_saved", "http", "GET"),
    "insights": Probe("schedule", "plan_weekly_insights", "http", "GET"),
    "triggers": Probe("firestore", "on_session_written", "cloudevent", None),
}
# One trivial function per trigger kind, in each stack; `probe_<kind>` is what gets the request.
PYTHON_KINDS = {
    "https_fn": """
@https_fn.on_call()
def probe_callable(request: https_fn.CallableRequest) -> dict:
    if request.auth is None:
        raise https_fn.HttpsError(https_fn.FunctionsErrorCode.UNAUTHENTICATED, "Sign in.")
    return {}
""",
    "firestore_fn": """
@firestore_fn.on_document_written(document="users/{uid}/sessions/{sessionId}")
def probe_firestore(event) -> None:
    pass
""",
    "tasks_fn": """
@tasks_fn.on_task_dispatched()
def probe_task(request) -> None:
    pass
""",
    "scheduler_fn": """
@scheduler_fn.on_schedule(schedule="every 5 minutes")
def probe_schedule(event) -> None:
    pass
""",
    "pubsub_fn": """
@pubsub_fn.on_message_published(topic="probe")
def probe_pubsub(event) -> None:
    pass
""",
}
NODE_KINDS = {
    "https_fn": """const {onCall, HttpsError} = require("firebase-functions/v2/https");
exports.probe_callable = onCall((request) => {
  if (!request.auth) throw new HttpsError("unauthenticated", "Sign in.");
  return {};
});""",
    "firestore_fn": """const {onDocumentWritten} = require("firebase-functions/v2/firestore");
exports.probe_firestore = onDocumentWritten("users/{uid}/sessions/{sessionId}", () => {});""",
    "tasks_fn": """const {onTaskDispatched} = require("firebase-functions/v2/tasks");
exports.probe_task = onTaskDispatched(() => {});""",
    "scheduler_fn": """const {onSchedule} = require("firebase-functions/v2/scheduler");
exports.probe_schedule = onSchedule("every 5 minutes", () => {});""",
    "pubsub_fn": """const {onMessagePublished} = require("firebase-functions/v2/pubsub");
exports.probe_pubsub = onMessagePublished("probe", () => {});""",
}
PYTHON_CHILD = """import time
started = time.perf_counter()
import http.client, os, sys, threading
import functions_framework
from werkzeug.serving import make_server
app = functions_framework.create_app(target={target!r}, source="main.py", signature_type={signature!r})
server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
loaded = time.perf_counter()
status = "-"
if {method!r} is not None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    connection.request({method!r}, "/", body={body!r}, headers={{"Content-Type": "application/json"}})
    status = connection.getresponse().status
answered = time.perf_counter()
print("bench", (loaded - started) * 1000, (answered - loaded) * 1000, status, flush=True)
os._exit(0)
"""
NODE_CHILD = """const started = performance.now();
const http = require("node:http");
const path = require("node:path");
const framework = path.dirname(require.resolve("@google-cloud/functions-framework"));
const {parseOptions} = require(path.join(framework, "options.js"));
const {getUserFunction} = require(path.join(framework, "loader.js"));
const {getServer} = require(path.join(framework, "server.js"));
const [source, target, signature, method, body] = process.argv.slice(2);
(async () => {
  const options = parseOptions(["node", "functions-framework", `--target=${target}`,
    `--source=${source}`, `--signature-type=${signature}`, "--port=0"]);
  const loaded = await getUserFunction(options.sourceLocation, options.target, options.signatureType);
  const server = getServer(loaded.userFunction, {...options, signatureType: loaded.signatureType});
  server.listen(0, "127.0.0.1", () => {
    const ready = performance.now();
    const done = (status) => {
      const answered = performance.now();
      console.log("bench", ready - started, answered - ready, status);
      process.exit(0);
    };
    if (method === "-") return done("-");
    const request = http.request({host: "127.0.0.1", port: server.address().port, method, path: "/",
      headers: {"Content-Type": "application/json"}}, (response) => {
      response.resume();
      response.on("end", () => done(response.statusCode));
    });
    request.end(body === "-" ? undefined : body);
  });
})();
"""


@dataclass(frozen=True)
class Variant:
    codebase: str
    name: str  # "ours", "ours@REF", "python floor", "python stack" or "node incumbent"
    argv: tuple[str, ...]
    cwd: Path


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    load_ms: float
    request_ms: float
    status: str
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


def trigger_kinds(folder: Path) -> list[str]:
    """The SDK trigger modules (https_fn, tasks_fn, ...) the codebase loads."""
    loaded = {module.removeprefix(f"{SDK}.") for module in sdk_modules(folder)}
    return [kind for kind in PYTHON_KINDS if kind in loaded]


def floor_target(probe: Probe) -> str:
    return {"callable": "probe_callable", "schedule": "probe_schedule"}.get(
        probe.kind, "probe_firestore"
    )


def python_floor_source(folder: Path) -> str:
    modules = sdk_modules(folder)
    lines = ["import firebase_admin", *(f"import {module}" for module in modules)]
    lines += [f"from {SDK} import {kind}" for kind in trigger_kinds(folder)]
    lines.append("firebase_admin.initialize_app()")
    return "\n".join(lines) + "\n" + "".join(PYTHON_KINDS[k] for k in trigger_kinds(folder))


def stack_libraries(folder: Path, env: dict[str, str]) -> list[str]:
    """The prescribed libraries a fresh `import main` of the codebase has loaded."""
    code = f"import sys, main\nprint(' '.join(m for m in {STACK_LIBRARIES!r} if m in sys.modules))"
    python = str(folder / "venv" / "bin" / "python")
    found = subprocess.run(
        [python, "-c", code], cwd=folder, env=env, check=True, capture_output=True, text=True
    )
    return found.stdout.split()


def python_stack_source(folder: Path, env: dict[str, str]) -> str:
    imports = "".join(f"import {module}\n" for module in stack_libraries(folder, env))
    return imports + python_floor_source(folder)


def node_source(folder: Path) -> str:
    lines = ['const {initializeApp} = require("firebase-admin/app");', "initializeApp();"]
    return "\n".join(lines + [NODE_KINDS[k] for k in trigger_kinds(folder)]) + "\n"


def install_node() -> Path:
    """The Node incumbent's packages in .local/bench-node (npm install when the pins change)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench: node is not on PATH (the Node incumbent needs it)")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "focus-bench-node-incumbent", "private": True}
    text = json.dumps({**manifest, "dependencies": NODE_PACKAGES}, indent=2) + "\n"
    package = NODE_DIR / "package.json"
    if not (NODE_DIR / "node_modules").is_dir() or package.read_text() != text:
        package.write_text(text)
        print(f"bench: npm install into {NODE_DIR} ...", file=sys.stderr)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    (NODE_DIR / "run.js").write_text(NODE_CHILD)
    return Path(node)


def baseline_tree(ref: str, into: Path) -> Path:
    """functions/ and shared/ as committed at `ref` (the codebases' focus symlinks included)."""
    archive = subprocess.run(
        ["git", "archive", ref, "functions", "shared"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def variants(
    codebase: str,
    folder: Path,
    scratch: Path,
    node: Path,
    baseline: tuple[str, Path] | None,
    env: dict[str, str],
) -> list[Variant]:
    probe = PROBES[codebase]
    python = str(folder / "venv" / "bin" / "python")

    def python_child(target: str) -> tuple[str, ...]:
        code = PYTHON_CHILD.format(
            target=target, signature=probe.signature, method=probe.method, body=probe.body
        )
        return (python, "-c", code)

    floor = scratch / f"floor-{codebase}"
    floor.mkdir()
    (floor / "main.py").write_text(python_floor_source(folder))
    stack = scratch / f"stack-{codebase}"
    stack.mkdir()
    (stack / "main.py").write_text(python_stack_source(folder, env))
    node_file = NODE_DIR / f"incumbent-{codebase}.js"
    node_file.write_text(node_source(folder))
    signature = "cloudevent" if probe.signature == "cloudevent" else "http"
    found = [
        Variant(codebase, "ours", python_child(probe.target), folder),
        Variant(codebase, "python floor", python_child(floor_target(probe)), floor),
        Variant(codebase, "python stack", python_child(floor_target(probe)), stack),
        Variant(
            codebase,
            "node incumbent",
            (
                str(node),
                str(NODE_DIR / "run.js"),
                str(node_file),
                floor_target(probe),
                signature,
                probe.method or "-",
                probe.body or "-",
            ),
            NODE_DIR,
        ),
    ]
    if baseline is not None:
        ref, tree = baseline
        found.insert(
            1,
            Variant(
                codebase, f"ours@{ref}", python_child(probe.target), tree / folder.relative_to(ROOT)
            ),
        )
    return found


def run_once(variant: Variant, env: dict[str, str]) -> Sample:
    started = time.perf_counter()
    with subprocess.Popen(
        variant.argv,
        cwd=variant.cwd,
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
    figures = next((line.split() for line in output.splitlines() if line.startswith("bench ")), [])
    if child.returncode != 0 or len(figures) != 4:
        raise SystemExit(f"bench: {variant.codebase} {variant.name} failed:\n{output}")
    _, load_ms, request_ms, answer = figures
    return Sample(wall_ms, float(load_ms), float(request_ms), answer, usage.ru_maxrss / 1024)


def p90(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="recorded runs per variant (default 7)")
    parser.add_argument("--codebases", default=",".join(PROBES), help="comma-separated subset")
    parser.add_argument("--baseline", help="also time each codebase as committed at this git ref")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    wanted = args.codebases.split(",")
    if unknown := set(wanted) - set(PROBES):
        parser.error(f"unknown codebases: {sorted(unknown)}")

    config = json.loads((ROOT / "firebase.json").read_text())
    node = install_node()
    with tempfile.TemporaryDirectory(prefix="focus-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        baseline = None
        if args.baseline:
            baseline = (args.baseline, baseline_tree(args.baseline, scratch / "baseline"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NODE"))}
        env.update(
            GCLOUD_PROJECT=PROJECT,
            FUNCTIONS_EMULATOR="true",
            PYTHONPYCACHEPREFIX=str(scratch / "pycache"),
            NODE_ENV="production",  # as Cloud Run sets it for Node functions
        )
        jobs: list[Variant] = []
        for entry in config["functions"]:
            folder = ROOT / entry["source"]
            if entry["codebase"] not in wanted:
                continue
            if not (folder / "venv" / "bin" / "python").exists():
                raise SystemExit(f"bench: {folder}/venv is missing: run scripts/setup first")
            jobs += variants(entry["codebase"], folder, scratch, node, baseline, env)

        samples: dict[Variant, list[Sample]] = {job: [] for job in jobs}
        for job in jobs:  # warm-up round, not recorded
            run_once(job, env)
        for round_index in range(args.runs):
            shift = round_index % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                samples[job].append(run_once(job, env))

    print(
        f"cold start = spawn, load, listen, first request answered; {args.runs} runs per variant "
        f"after 1 warm-up round, interleaved; ms; python {sys.version.split()[0]}, node "
        f"{subprocess.run([str(node), '-v'], capture_output=True, text=True).stdout.strip()}\n"
    )
    rows = []
    for job, runs in samples.items():
        walls = [s.wall_ms for s in runs]
        rows.append(
            [
                job.codebase,
                job.name,
                PROBES[job.codebase].kind,
                f"{statistics.median(walls):.0f}",
                f"{p90(walls):.0f}",
                f"{statistics.median(s.load_ms for s in runs):.0f}",
                f"{statistics.median(s.request_ms for s in runs):.0f}",
                "/".join(sorted({s.status for s in runs})),
                f"{statistics.median(s.rss_mb for s in runs):.0f}",
            ]
        )
    print(
        format_table(
            [
                "codebase",
                "variant",
                "request",
                "wall p50",
                "wall p90",
                "load",
                "1st request",
                "HTTP",
                "peak RSS MB",
            ],
            rows,
            align="lllrrrrlr",
        )
    )

    def wall(codebase: str, name: str) -> float:
        return statistics.median(
            s.wall_ms
            for job, runs in samples.items()
            if (job.codebase, job.name) == (codebase, name)
            for s in runs
        )

    summary = []
    for codebase in dict.fromkeys(job.codebase for job in jobs):
        ours, floor, stack, incumbent = (
            wall(codebase, n) for n in ("ours", "python floor", "python stack", "node incumbent")
        )
        row = [
            codebase,
            f"{ours / floor:.2f}",
            f"{stack / floor:.2f}",
            f"{ours / stack:.2f}",
            f"{ours / incumbent:.2f}",
            f"{floor / incumbent:.2f}",
        ]
        if baseline is not None:
            before = wall(codebase, f"ours@{baseline[0]}")
            row += [f"{before / floor:.2f}", f"{ours / before:.2f}"]
        summary.append(row)
    headers = ["codebase", "ours/floor", "stack/floor", "ours/stack", "ours/node", "floor/node"]
    if baseline is not None:
        headers += [f"ours@{baseline[0]}/floor", f"ours/ours@{baseline[0]}"]
    print("\nratios of median wall times (the figures to compare across runs)")
    print(format_table(headers, summary, align="l" + "r" * (len(headers) - 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
