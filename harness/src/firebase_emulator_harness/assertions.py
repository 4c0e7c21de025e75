"""Allowed/denied assertions for security-rules tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from firebase_emulator_harness.errors import PermissionDenied

T = TypeVar("T")


def assert_allowed(operation: Callable[[], T]) -> T:
    """Run a Firestore operation made as a user; fail if the rules deny it. Returns its result."""
    try:
        return operation()
    except PermissionDenied as exc:
        raise AssertionError(
            f"expected the rules to allow this, but they denied it: {exc}"
        ) from None


def assert_denied(operation: Callable[[], object]) -> PermissionDenied:
    """Run a Firestore operation made as a user; fail unless the rules deny it."""
    try:
        result = operation()
    except PermissionDenied as exc:
        return exc
    raise AssertionError(
        f"expected the rules to deny this, but it was allowed (result: {result!r})"
    )
