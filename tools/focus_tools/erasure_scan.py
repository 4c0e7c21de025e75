"""The erasure verification scan: find any trace of a person anywhere in Firestore and Auth.

It walks every collection and document (subcollections included, and documents that exist only
as parents) and reports each one whose path or any field value contains one of the person's
identifiers (uid, email, ...). An auditor runs it with ``scripts/erasure-scan``; the erasure
tests run it after every erasure. It reads the whole database, so in production run it against
a point-in-time export, not the live database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from focus.adapters import clients


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from _values(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _values(inner)
    elif value is not None:
        yield str(value)


def _walk(collections: Any) -> Iterator[Any]:
    for collection in collections:
        for ref in collection.list_documents():
            yield ref
            yield from _walk(ref.collections())


def scan(identifiers: list[str]) -> list[str]:
    """Paths of documents that still hold any identifier; ``auth:<uid>`` if the account exists."""
    from firebase_admin import auth

    needles = [i for i in identifiers if i]
    findings = []
    for ref in _walk(clients.firestore().collections()):
        snapshot = ref.get()
        haystack = [ref.path, *(_values(snapshot.to_dict()) if snapshot.exists else [])]
        if any(needle in text for needle in needles for text in haystack):
            findings.append(ref.path)
    for identifier in needles:
        try:
            auth.get_user(identifier, app=clients.firebase_app())
            findings.append(f"auth:{identifier}")
        except (auth.UserNotFoundError, ValueError):
            pass
    return findings
