"""The personal-data registry covers every collection the code and the rules know about."""

from __future__ import annotations

import re
from pathlib import Path

from focus.adapters import paths
from focus.services.privacy.registry import REGISTRY, Erasure, normalized

ROOT = Path(__file__).resolve().parents[1]


def rules_paths() -> set[str]:
    """Every document path the rules match, with variables written ``{}``."""
    prefix = "/databases/{database}/documents/"
    found, stack, depth = set(), [], 0
    for line in (ROOT / "firestore.rules").read_text().splitlines():
        code = line.split("//", 1)[0]
        if match := re.search(r"match\s+(/\S+)\s*\{", code):
            stack.append((match[1], depth))
            path = "".join(segment for segment, _ in stack)
            if path.startswith(prefix):
                found.add(normalized(path.removeprefix(prefix)))
        depth += code.count("{") - code.count("}")  # a {variable} adds and removes one
        while stack and depth <= stack[-1][1]:
            stack.pop()
    return found


def test_every_collection_in_the_rules_is_registered() -> None:
    registered = {normalized(entry.path) for entry in REGISTRY}
    assert rules_paths() - registered == set()
    assert len(rules_paths()) >= 9


def test_every_collection_the_code_names_is_registered() -> None:
    registered_ids = {entry.collection for entry in REGISTRY}
    named = {
        value
        for name, value in vars(paths).items()
        if name.isupper() and isinstance(value, str) and name != "HOURS_SAVED_SUMMARY"
    }
    assert named - registered_ids == set()


def test_personal_data_is_erased_and_anonymous_data_holds_none() -> None:
    for entry in REGISTRY:
        if entry.personal:
            assert entry.erasure is Erasure.DELETE, entry.path
        else:
            assert "{uid}" not in entry.path, entry.path
        assert entry.retention and entry.legal_basis and entry.purpose


def test_every_transient_collection_has_a_ttl() -> None:
    for entry in REGISTRY:
        if "(TTL)" in entry.retention:
            assert paths.TTL_FIELDS.get(entry.collection) == "expireAt", entry.path


def test_the_privacy_doc_lists_every_registered_path() -> None:
    text = (ROOT / "docs" / "privacy.md").read_text()
    missing = [entry.path for entry in REGISTRY if f"`{entry.path}`" not in text]
    assert missing == []
