"""Error reasons are one enum, ``focus.domain.errors.Reason``: the mobile apps switch on its values,
so no code spells one as a bare string, every raise pairs a reason with its own code, and every
reason is in the contract of some callable (docs/api.md lists them per callable).

Pure: reads the source and the callables' declarations, no emulator.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import api_contract_cli  # noqa: E402

from focus.domain import errors  # noqa: E402
from focus.domain.errors import DomainError, Reason  # noqa: E402
from focus.entrypoints import callables  # noqa: E402

if not callables.CALLABLES:
    api_contract_cli.load_api_codebase()

ENUM = ROOT / "shared" / "focus" / "domain" / "errors.py"
SOURCES = sorted(
    [
        *(ROOT / "shared" / "focus").rglob("*.py"),
        *(ROOT / "functions").glob("*/main.py"),
        *(ROOT / "tools" / "focus_tools").rglob("*.py"),
    ]
)
ERROR_CLASSES = {
    name: kind
    for name, kind in vars(errors).items()
    if isinstance(kind, type) and issubclass(kind, DomainError)
}


def parsed() -> Iterator[tuple[str, ast.AST]]:
    for path in SOURCES:
        if path != ENUM:
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), filename=str(path))


def reason_given(node: ast.AST) -> ast.expr | None:
    """The reason a call or dict literal sets: ``reason=...`` or ``{"reason": ...}``."""
    if isinstance(node, ast.Call):
        return next((k.value for k in node.keywords if k.arg == "reason"), None)
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        found = (v for k, v in pairs if isinstance(k, ast.Constant) and k.value == "reason")
        return next(found, None)
    return None


def member(node: ast.expr | None) -> Reason | None:
    """``Reason.X`` as the member it names."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Reason"
    ):
        return Reason[node.attr]
    return None


def test_no_reason_is_spelled_outside_the_enum() -> None:
    values = {reason.value for reason in Reason}
    spelled = [
        f"{where}:{node.lineno}: {node.value!r}"
        for where, tree in parsed()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in values
    ]
    literal = [
        f"{where}:{node.lineno}"
        for where, tree in parsed()
        for node in ast.walk(tree)
        if isinstance(reason_given(node), ast.Constant)
    ]

    assert spelled == [], "use the Reason member"
    assert literal == [], "a new reason is a new Reason member"


def test_every_raise_pairs_a_reason_with_its_code() -> None:
    mismatched = []
    for where, tree in parsed():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or (reason := member(reason_given(node))) is None:
                continue
            called = node.func.value if isinstance(node.func, ast.Attribute) else node.func
            kind = ERROR_CLASSES.get(called.id) if isinstance(called, ast.Name) else None
            if kind is not None and kind.code != reason.code:
                mismatched.append(f"{where}:{node.lineno}: {kind.__name__} with {reason}")

    assert mismatched == []


def test_every_reason_is_in_some_callables_contract() -> None:
    declared = {reason for spec in callables.CALLABLES.values() for reason in spec.errors}

    assert set(Reason) - declared == set()


def test_a_callable_declares_each_reason_with_its_own_code_only() -> None:
    spec = callables.CALLABLES["getExport"]

    assert "NOT_FOUND" in spec.codes
    assert spec.declares("NOT_FOUND", "EXPORT_NOT_FOUND")
    assert not spec.declares("FAILED_PRECONDITION", "EXPORT_NOT_FOUND")
    assert not spec.declares("FAILED_PRECONDITION", "PROFILE_MISSING")  # another callable's
    assert spec.declares("UNAUTHENTICATED", None)  # no sign-in: no details
    assert not spec.declares("NOT_FOUND", None)


def test_the_wire_values_are_unchanged() -> None:
    """The apps ship with these values; renaming one breaks every installed version."""
    assert {reason.value: reason.code for reason in Reason} == {
        "SCHEMA_VIOLATION": "INVALID_ARGUMENT",
        "INVALID_VALUE": "INVALID_ARGUMENT",
        "DAY_OUT_OF_RANGE": "INVALID_ARGUMENT",
        "AS_OF_IN_FUTURE": "INVALID_ARGUMENT",
        "AS_OF_BEFORE_DAY": "INVALID_ARGUMENT",
        "NO_SUCH_CHUNK": "INVALID_ARGUMENT",
        "IDEMPOTENCY_KEY_REQUIRED": "INVALID_ARGUMENT",
        "IDEMPOTENCY_KEY_REUSED": "INVALID_ARGUMENT",
        "UNSUPPORTED_API_VERSION": "FAILED_PRECONDITION",
        "UPGRADE_REQUIRED": "FAILED_PRECONDITION",
        "PROFILE_MISSING": "FAILED_PRECONDITION",
        "DEVICE_NOT_REGISTERED": "FAILED_PRECONDITION",
        "EMERGENCY_PASS_USED": "FAILED_PRECONDITION",
        "EXPORT_NOT_FOUND": "NOT_FOUND",
        "RATE_LIMITED": "RESOURCE_EXHAUSTED",
        "ACCOUNT_ERASED": "UNAUTHENTICATED",
        "SUBSCRIPTION_IN_USE": "FAILED_PRECONDITION",
        "INSIGHT_NOT_FOUND": "NOT_FOUND",
        "PURCHASE_NOT_VERIFIED": "FAILED_PRECONDITION",
        "REQUEST_IN_PROGRESS": "ABORTED",
        "CONTENTION": "ABORTED",
        "TEMPORARILY_UNAVAILABLE": "UNAVAILABLE",
    }
    assert all(reason.meaning for reason in Reason)


def test_a_stored_refusal_replays_with_its_reason_as_plain_text() -> None:
    """Idempotent retries replay the stored answer: the reason is stored as its value."""
    refusal = errors.FailedPrecondition("Used this week.", reason=Reason.EMERGENCY_PASS_USED)

    stored = refusal.to_answer()
    replayed = DomainError.from_answer(stored)

    assert type(stored["details"]["reason"]) is str
    assert (replayed.code, replayed.details) == (
        "FAILED_PRECONDITION",
        {"reason": "EMERGENCY_PASS_USED"},
    )
