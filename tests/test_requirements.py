"""Each codebase installs exactly what its code needs, from the one lock (requirements/lock.txt).

Pure: reads the committed files and the code, resolves nothing and starts no emulator.
``scripts/lock`` writes the files; docs/architecture.md, "Dependencies", says how to change one.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import lock  # noqa: E402

CODEBASES = lock.codebases()


def test_every_committed_requirements_file_is_what_the_lock_generates() -> None:
    assert lock.check() == [], "run scripts/lock"


@pytest.mark.parametrize("codebase", CODEBASES)
def test_a_codebase_lists_no_dependency_its_code_never_imports(codebase: str) -> None:
    imported = {distribution_of(name) for name in imported_by(codebase)}
    unused = sorted(set(lock.direct(codebase)) - imported)
    assert unused == [], f"requirements/{codebase}.in lists what functions/{codebase} never imports"


@pytest.mark.parametrize("codebase", CODEBASES)
def test_a_codebase_installs_everything_its_code_imports(codebase: str) -> None:
    installed = set(requirements_txt(codebase))
    missing = sorted(
        f"{name} ({distribution_of(name)})"
        for name in imported_by(codebase)
        if distribution_of(name) not in installed
    )
    assert missing == [], f"functions/{codebase} imports what its requirements.txt lacks"


@pytest.mark.parametrize("codebase", CODEBASES)
def test_a_codebase_lists_the_shared_package_s_own_dependencies(codebase: str) -> None:
    pyproject = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())
    own = {canonicalize_name(Requirement(r).name) for r in pyproject["project"]["dependencies"]}
    assert own <= set(lock.direct(codebase))


def test_imports_made_on_first_use_count_only_where_the_code_reaches_them() -> None:
    # clients.publisher() imports the Pub/Sub client when first called: only the jobs codebase
    # (events, dead letters), webhooks (a Play notification it cannot read goes to the dead
    # letters) and insights (an insight batch's output it gave up on) publish, so only they need
    # the client, though all vendor the module.
    publishing = {c for c in CODEBASES if "google.cloud.pubsub_v1" in imported_by(c)}
    assert publishing == {"jobs", "webhooks", "insights"}


def test_every_dependency_pin_lives_in_one_place() -> None:
    # The shared package names its dependencies without versions; the dev venv installs the lock.
    pyproject = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())
    assert [r for r in pyproject["project"]["dependencies"] if Requirement(r).specifier] == []
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements/lock.txt" in dev
    assert [line for line in dev if line and not line.startswith(("#", "-r ", "-e "))] == []


# -- what a codebase's code imports ---------------------------------------------------------------


def requirements_txt(codebase: str) -> dict[str, str]:
    text = (ROOT / "functions" / codebase / "requirements.txt").read_text()
    return {name: pin.version for name, pin in lock.parse_lock(text).items()}


@functools.cache
def distribution_of(module: str) -> str:
    """The installed distribution that provides ``module`` (its longest importable prefix)."""
    modules = _modules_of(module.split(".")[0])
    parts = module.split(".")
    for cut in range(len(parts), 0, -1):
        found = modules.get(".".join(parts[:cut]))
        if found:
            return found
    raise AssertionError(f"no installed distribution provides {module}")


@functools.cache
def _modules_of(top_level: str) -> dict[str, str]:
    """Module -> distribution, for the distributions that install into ``top_level``."""
    modules: dict[str, str] = {}
    for name in _installed().get(top_level, []):
        for file in importlib.metadata.distribution(name).files or ():
            # A package (top_level/...) or a single-module distribution (top_level.py).
            in_package = file.parts[0] == top_level or file.parts == (f"{top_level}.py",)
            if in_package and file.suffix in (".py", ".so"):
                dotted = ".".join((*file.parts[:-1], file.name.split(".")[0]))
                modules[dotted.removesuffix(".__init__")] = canonicalize_name(name)
    return modules


@functools.cache
def _installed() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


@functools.cache
def imported_by(codebase: str) -> frozenset[str]:
    """Every module outside the standard library and the ``focus`` package that code the codebase
    can run imports: functions/<codebase>/main.py, every ``focus`` module it loads, and the body of
    every ``focus`` function or class it refers to, transitively. Imports inside functions (made on
    first use) count only where such a body is reached; ``if TYPE_CHECKING:`` imports never run."""
    reach = _Reach()
    main = _parsed(f"main@{codebase}", ROOT / "functions" / codebase / "main.py")
    reach.visit(main, main.tree, whole=True)
    while reach.queue:
        module, node = reach.queue.pop()
        reach.visit(module, node, whole=not isinstance(node, ast.Module))
    return frozenset(reach.imports)


@functools.cache
def _parsed(name: str, path: Path) -> _Module:
    return _Module(name, path)


class _Module:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.names: dict[str, str] = {}  # local name -> what it refers to, dotted
        self.defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = {}
        for statement in self.tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.defs[statement.name] = statement
        for node in ast.walk(self.tree):
            for local, target in self.imported(node):
                self.names[local] = target

    def imported(self, node: ast.AST) -> list[tuple[str, str]]:
        """(local name, dotted target) for an import statement."""
        if isinstance(node, ast.Import):
            return [
                # ``import google.auth`` binds ``google`` but imports google.auth: a namespace
                # package (``google``) belongs to no one distribution.
                (a.asname, a.name) if a.asname else (a.name.split(".")[0], a.name)
                for a in node.names
            ]
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = self.package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            return [(a.asname or a.name, f"{base}.{a.name}") for a in node.names]
        return []


class _Reach:
    def __init__(self) -> None:
        self.modules: dict[str, _Module | None] = {}
        self.seen: set[tuple[str, int]] = set()
        self.queue: list[tuple[_Module, ast.AST]] = []
        self.imports: set[str] = set()

    def module(self, name: str) -> _Module | None:
        if name not in self.modules:
            base = ROOT / "shared" / Path(*name.split("."))
            path = next(
                (p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None
            )
            self.modules[name] = _parsed(name, path) if name.startswith("focus") and path else None
        return self.modules[name]

    def enqueue(self, module: _Module, node: ast.AST) -> None:
        if (module.name, id(node)) not in self.seen:
            self.seen.add((module.name, id(node)))
            self.queue.append((module, node))

    def load(self, dotted: str) -> None:
        """``import dotted``: runs each ``focus`` package and module on the way."""
        parts = dotted.split(".")
        for cut in range(1, len(parts) + 1):
            module = self.module(".".join(parts[:cut]))
            if module is not None:
                self.enqueue(module, module.tree)

    def refer(self, dotted: str) -> None:
        """A ``focus`` name used: the module it is in runs, and so may the function or class."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            module = self.module(".".join(parts[:cut]))
            if module is None:
                continue
            self.load(module.name)
            rest = parts[cut:]
            if rest and rest[0] in module.defs:
                self.enqueue(module, module.defs[rest[0]])
            elif rest and rest[0] in module.names:  # re-exported
                self.refer(".".join([module.names[rest[0]], *rest[1:]]))
            return

    def visit(self, module: _Module, node: ast.AST, *, whole: bool) -> None:
        """Follow ``node``: a whole function or class body, or (``whole=False``) what a module
        runs when loaded: its statements, decorators and class bodies, but no function body."""
        for child in _walk(node, whole=whole):
            for _, target in module.imported(child):
                if target.split(".")[0] == "focus":
                    self.load(target.rpartition(".")[0])
                    self.refer(target)
                elif target.split(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                    self.imports.add(target)
            dotted = _dotted(module, child)
            if dotted is not None and dotted.split(".")[0] == "focus":
                self.refer(dotted)
            elif isinstance(child, ast.Name) and child.id in module.defs:
                self.enqueue(module, module.defs[child.id])


def _walk(node: ast.AST, *, whole: bool) -> list[ast.AST]:
    found: list[ast.AST] = []
    pending = [node]
    while pending:
        current = pending.pop()
        found.append(current)
        if isinstance(current, ast.If) and "TYPE_CHECKING" in ast.unparse(current.test):
            pending.extend(current.orelse)
        elif (
            not whole
            and current is not node
            and isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef)
        ):
            pending.extend([*current.decorator_list, *current.args.defaults])
        else:
            pending.extend(ast.iter_child_nodes(current))
    return found


def _dotted(module: _Module, node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id in module.names:
        return module.names[node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(module, node.value)
        return f"{base}.{node.attr}" if base else None
    return None
