"""Function files stay thin adapters: a function in ``functions/*/main.py`` reads its event or
request, calls the service that does the work and returns its answer. Loops, time budgets,
branching rules and multi-step orchestration live in ``focus.services`` (their pure parts in
``focus.domain``), where every codebase shares them and tests reach them. Checked offline, on
the code as written.

Mapping a service's result into a response with a comprehension is reading, not a rule: allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import iac
import pytest

MAX_STATEMENTS = 4
MAIN_FILES = sorted((iac.ROOT / "functions").glob("*/main.py"))
# Statements that make a function more than an adapter: a loop, a branch, error handling, a
# resource held across steps, a function of its own.
NOT_AN_ADAPTER = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.Match,
    ast.Try,
    ast.TryStar,
    ast.With,
    ast.AsyncWith,
    ast.Raise,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)
# Reading a clock to measure elapsed time is how a time budget starts.
CLOCKS = {"time", "monotonic", "perf_counter", "sleep", "process_time"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _functions() -> Iterator[tuple[str, ast.FunctionDef]]:
    for path in MAIN_FILES:
        for node in _tree(path).body:
            if isinstance(node, ast.FunctionDef):
                yield f"{path.parent.name}.{node.name}", node


def _statements(function: ast.FunctionDef) -> list[ast.stmt]:
    """Every statement of ``function`` at any depth, without its docstring."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    found: list[ast.stmt] = []
    for statement in body:
        found += [n for n in ast.walk(statement) if isinstance(n, ast.stmt)]
    return found


def test_the_check_sees_every_codebase() -> None:
    assert {p.parent.name for p in MAIN_FILES} == {
        "api",
        "triggers",
        "jobs",
        "webhooks",
        "insights",
    }
    assert len(list(_functions())) > 20


def test_functions_have_no_loops_branches_or_orchestration() -> None:
    offenders = [
        f"{name}:{statement.lineno} {type(statement).__name__}"
        for name, function in _functions()
        for statement in _statements(function)
        if isinstance(statement, NOT_AN_ADAPTER)
    ]

    assert offenders == []


def test_functions_are_a_few_statements_long() -> None:
    long = {
        name: len(_statements(function))
        for name, function in _functions()
        if len(_statements(function)) > MAX_STATEMENTS
    }

    assert long == {}


@pytest.mark.parametrize("path", MAIN_FILES, ids=lambda p: p.parent.name)
def test_function_files_keep_no_time_budgets_or_rules_of_their_own(path: Path) -> None:
    """No clock is read to budget time, and the module holds nothing but imports, the codebase's
    start-up, type aliases and the functions: a limit, a budget or a rule is a named constant in
    a service or the domain."""
    tree = _tree(path)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    clocks = {
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in CLOCKS
    }
    others = [
        f"{path.parent.name}/main.py:{node.lineno} {ast.unparse(node).splitlines()[0]}"
        for node in tree.body
        if not (
            isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)
            or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # docstring
            or (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "start_codebase"
            )
            or (isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript))
        )
    ]

    assert "time" not in imported
    assert clocks == set()
    assert others == []
