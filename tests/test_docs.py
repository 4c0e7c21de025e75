"""The documentation says what the code does: docs/data-model.md's client access matches
firestore.rules.

The rules are parsed just enough for this: every ``match`` block's path (wildcard names dropped)
and the operations its ``allow`` statements grant. The data model lists those per path in its
"Client access" table, and sections headed "(no client access)" must name only paths the rules
keep closed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_MODEL = (ROOT / "docs" / "data-model.md").read_text()
RULES = (ROOT / "firestore.rules").read_text()

OPERATIONS = {"get", "list", "create", "update", "delete"}
SHORTHANDS = {"read": {"get", "list"}, "write": {"create", "update", "delete"}}
ROOT_MATCH = "/databases/{database}/documents"

RULES_TOKENS = re.compile(
    r"match\s+(?P<match>/\S+)\s*\{"
    r"|allow\s+(?P<operations>[a-z,\s]+?)\s*:\s*if\s+(?P<condition>[^;]*);"
    r"|(?P<open>\{)|(?P<close>\})"
)


def operations(words: str) -> set[str]:
    """``read, create`` -> {get, list, create}: the rules' operation names, shorthands expanded."""
    granted: set[str] = set()
    for word in (w.strip() for w in words.split(",")):
        granted |= SHORTHANDS.get(word, {word})
    assert granted <= OPERATIONS, f"unknown operation in {words!r}"
    return granted


def pattern(path: str) -> str:
    """A path with its wildcards unnamed: ``users/{uid}/days/{day}`` -> ``users/{}/days/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path.strip("/"))


def rules_access(rules: str) -> dict[str, set[str]]:
    """What the rules allow, per path pattern. Every grant must be the owner's alone."""
    access: dict[str, set[str]] = {}
    stack: list[str | None] = []  # the match paths of the open blocks (None: a function body)
    for token in RULES_TOKENS.finditer(re.sub(r"//[^\n]*", "", rules)):
        if token["match"]:
            stack.append(token["match"])
        elif token["open"]:
            stack.append(None)
        elif token["close"]:
            stack.pop()
        else:
            path = "".join(part for part in stack if part).removeprefix(ROOT_MATCH)
            assert path.startswith("/users/{uid}") and token["condition"].startswith(
                "isOwner(uid)"
            ), f"{path}: allow {token['operations']} is not for the owner only"
            access.setdefault(pattern(path), set()).update(operations(token["operations"]))
    assert not stack, "unbalanced braces in firestore.rules"
    return access


def section(markdown: str, heading: str) -> str:
    """The text under a heading, up to the next heading."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#|\Z)", markdown, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match[1]


def documented_access(markdown: str) -> dict[str, set[str]]:
    """The data model's "Client access" table, per path pattern."""
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|$", section(markdown, "Client access"), re.M)
    assert rows, "the Client access table has no rows"
    return {pattern(path): operations(words) for path, words in rows}


def documented_closed(markdown: str) -> set[str]:
    """The paths named in the first column of tables under "(no client access)" headings."""
    closed: set[str] = set()
    for heading in re.findall(r"^#+ (.*\(no client access\))$", markdown, re.M):
        for first_cell in re.findall(r"^\| ([^|]+) \|", section(markdown, heading), re.M):
            closed |= {p for p in re.findall(r"`([^`]+)`", first_cell) if "/" in p}
    return closed


def opens(rule: str, path: str) -> bool:
    """Whether a rules path pattern applies to a documented path (wildcards match anything)."""
    rule_parts, path_parts = rule.split("/"), pattern(path).split("/")
    return len(rule_parts) == len(path_parts) and all(
        "{}" in (r, p) or r == p for r, p in zip(rule_parts, path_parts, strict=True)
    )


def closed_but_open(markdown: str, rules: str) -> list[str]:
    """Paths the document says clients cannot reach but the rules open."""
    allowed = rules_access(rules)
    return sorted(p for p in documented_closed(markdown) if any(opens(r, p) for r in allowed))


def test_the_client_access_table_is_what_the_rules_allow_the_owner() -> None:
    assert documented_access(DATA_MODEL) == rules_access(RULES)


def test_what_the_data_model_calls_no_client_access_the_rules_keep_closed() -> None:
    closed = documented_closed(DATA_MODEL)

    assert {"hoursSavedShards/{0..999}", "migrations/{name}", "config/clients"} <= closed
    assert closed_but_open(DATA_MODEL, RULES) == []


# The checks catch drift: each edit makes the document disagree with the rules.
DRIFTS = {
    # What docs/data-model.md said before: consents and exports under "no client access".
    "owner-readable paths called closed": (
        "### Consents and exports (owner-readable, never client-written)",
        "### Consents and exports (no client access)",
    ),
    "an operation left out": (
        "| `users/{uid}/sessions/{sessionId}` | read, create, update |",
        "| `users/{uid}/sessions/{sessionId}` | read, create |",
    ),
    "a collection left out": ("| `users/{uid}/weeks/{week}` | read |\n", ""),
}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_the_checks_catch_a_drifted_document(drift: str) -> None:
    text, replacement = DRIFTS[drift]
    assert text in DATA_MODEL, f"docs/data-model.md no longer contains {text!r}"
    drifted = DATA_MODEL.replace(text, replacement)

    disagrees = documented_access(drifted) != rules_access(RULES)

    assert disagrees or closed_but_open(drifted, RULES)


def test_the_rules_parser_sees_each_grant_and_only_owner_grants() -> None:
    access = rules_access(RULES)
    stranger = RULES.replace(
        "allow read: if isOwner(uid);\n        match /history/",
        "allow read: if signedIn();\n        match /history/",
    )

    assert stranger != RULES
    assert access["users/{}"] == {"get", "update"}
    assert access["users/{}/consents/{}/history/{}"] == {"get", "list"}
    with pytest.raises(AssertionError, match="not for the owner only"):
        rules_access(stranger)
