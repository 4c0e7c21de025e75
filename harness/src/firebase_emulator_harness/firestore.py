"""Firestore through the emulator's REST API, as a given identity.

``Firestore.as_user(user)`` sends the user's real ID token, so the emulator evaluates the security
rules exactly as for a mobile client; ``Firestore.as_owner()`` uses the emulator's admin token and
bypasses them (arrange and inspect state as the backend sees it); ``Firestore.unauthenticated()``
sends no token at all. Paths are slash-separated document or collection paths (``users/u1``).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, NotRequired, TypeAlias, TypedDict

import requests

from firebase_emulator_harness.errors import EmulatorError, PermissionDenied
from firebase_emulator_harness.http import OWNER, TIMEOUT_S, session
from firebase_emulator_harness.values import (
    Document,
    DocumentData,
    FirestoreValue,
    JsonObject,
    JsonValue,
    Reference,
    decode_fields,
    encode,
    encode_fields,
    json_object,
)

if TYPE_CHECKING:
    from firebase_emulator_harness.auth import User

Operator: TypeAlias = Literal[
    "==", "!=", "<", "<=", ">", ">=", "array-contains", "array-contains-any", "in", "not-in"
]
Direction: TypeAlias = Literal["asc", "desc"]

_OPERATORS: dict[Operator, str] = {
    "==": "EQUAL",
    "!=": "NOT_EQUAL",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
    "array-contains": "ARRAY_CONTAINS",
    "array-contains-any": "ARRAY_CONTAINS_ANY",
    "in": "IN",
    "not-in": "NOT_IN",
}


def _split(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        raise ValueError("empty Firestore path")
    return parts


def _field_path(dotted: str) -> str:
    """A dotted field path, each segment quoted unless it is a simple identifier."""
    segments = []
    for segment in dotted.split("."):
        simple = segment.replace("_", "a").isalnum() and not segment[0].isdigit()
        segments.append(segment if simple else "`" + segment.replace("`", "\\`") + "`")
    return ".".join(segments)


class Firestore:
    """One identity's view of the Firestore emulator."""

    def __init__(self, base_url: str, project: str, headers: dict[str, str] | None) -> None:
        self.base_url = base_url
        self.project = project
        self.headers = headers or {}
        self.root = f"{base_url}/v1/projects/{project}/databases/(default)/documents"

    # -- helpers -------------------------------------------------------------------------------
    def _check(self, response: requests.Response, what: str) -> JsonObject:
        if response.status_code == 403:
            raise PermissionDenied(f"{what}: {response.text}", status=403, body=response.text)
        if response.status_code >= 400:
            raise EmulatorError(
                f"{what}: {response.status_code} {response.text}", status=response.status_code
            )
        return json_object(response.json(), what) if response.content else {}

    def _document_path(self, path: str) -> str:
        parts = _split(path)
        if len(parts) % 2:
            raise ValueError(f"{path!r} is a collection path, expected a document path")
        return "/".join(parts)

    def reference(self, path: str) -> Reference:
        """A reference value pointing at the document ``path``, to store in a field."""
        return Reference(
            f"projects/{self.project}/databases/(default)/documents/{self._document_path(path)}"
        )

    # -- documents -----------------------------------------------------------------------------
    def get(self, path: str) -> Document | None:
        """The document's data, or None if it does not exist."""
        response = session().get(
            f"{self.root}/{self._document_path(path)}", headers=self.headers, timeout=TIMEOUT_S
        )
        if response.status_code == 404:
            return None
        document = self._check(response, f"get {path}")
        return decode_fields(json_object(document.get("fields") or {}, path))

    def create(self, path: str, data: DocumentData) -> None:
        """Create a document; fails if it already exists."""
        parts = _split(self._document_path(path))
        parent, collection, doc_id = "/".join(parts[:-2]), parts[-2], parts[-1]
        url = f"{self.root}/{parent}/{collection}" if parent else f"{self.root}/{collection}"
        response = session().post(
            url,
            params={"documentId": doc_id},
            json={"fields": encode_fields(data)},
            headers=self.headers,
            timeout=TIMEOUT_S,
        )
        self._check(response, f"create {path}")

    def set(self, path: str, data: DocumentData) -> None:
        """Create or replace a whole document."""
        response = session().patch(
            f"{self.root}/{self._document_path(path)}",
            json={"fields": encode_fields(data)},
            headers=self.headers,
            timeout=TIMEOUT_S,
        )
        self._check(response, f"set {path}")

    def update(self, path: str, changes: DocumentData) -> None:
        """Change only the given fields (dotted keys reach into maps); the document must exist."""
        nested: dict[str, FirestoreValue] = {}  # {"a.b": 1} -> {"a": {"b": 1}}
        for dotted, value in changes.items():
            target = nested
            *parents, leaf = dotted.split(".")
            for name in parents:
                inner = target.setdefault(name, {})
                if not isinstance(inner, dict):
                    raise ValueError(f"{dotted!r} reaches into {name!r}, which is also changed")
                target = inner
            target[leaf] = value
        fields = encode_fields(nested)
        params: list[tuple[str, str]] = [("updateMask.fieldPaths", _field_path(k)) for k in changes]
        params.append(("currentDocument.exists", "true"))
        response = session().patch(
            f"{self.root}/{self._document_path(path)}",
            params=params,
            json={"fields": fields},
            headers=self.headers,
            timeout=TIMEOUT_S,
        )
        self._check(response, f"update {path}")

    def delete(self, path: str) -> None:
        response = session().delete(
            f"{self.root}/{self._document_path(path)}", headers=self.headers, timeout=TIMEOUT_S
        )
        self._check(response, f"delete {path}")

    # -- queries -------------------------------------------------------------------------------
    def query(
        self,
        collection: str,
        *,
        where: Sequence[tuple[str, Operator, FirestoreValue]] | None = None,
        order_by: Sequence[tuple[str, Direction]] | None = None,
        limit: int | None = None,
        all_descendants: bool = False,
    ) -> list[tuple[str, Document]]:
        """Run a structured query on ``collection``: ``[(document path, data), ...]``.

        ``where`` holds ``(field, op, value)`` with ops ``== != < <= > >= in not-in
        array-contains array-contains-any``; ``order_by`` holds ``(field, "asc"|"desc")``;
        ``all_descendants`` makes it a collection-group query on the collection id.
        """
        parts = _split(collection)
        if len(parts) % 2 == 0:
            raise ValueError(f"{collection!r} is a document path, expected a collection path")
        parent = "/".join(parts[:-1])
        structured: JsonObject = {
            "from": [{"collectionId": parts[-1], "allDescendants": all_descendants}]
        }
        filters: list[JsonValue] = [
            {
                "fieldFilter": {
                    "field": {"fieldPath": _field_path(f)},
                    "op": _OPERATORS[op],
                    "value": encode(v),
                }
            }
            for f, op, v in where or ()
        ]
        if len(filters) == 1:
            structured["where"] = filters[0]
        elif filters:
            structured["where"] = {"compositeFilter": {"op": "AND", "filters": filters}}
        if order_by:
            structured["orderBy"] = [
                {
                    "field": {"fieldPath": _field_path(f)},
                    "direction": "DESCENDING" if d == "desc" else "ASCENDING",
                }
                for f, d in order_by
            ]
        if limit is not None:
            structured["limit"] = limit
        url = f"{self.root}/{parent}:runQuery" if parent else f"{self.root}:runQuery"
        response = session().post(
            url, json={"structuredQuery": structured}, headers=self.headers, timeout=TIMEOUT_S
        )
        if response.status_code == 403:
            raise PermissionDenied(f"query {collection}: {response.text}", status=403)
        if response.status_code >= 400:
            raise EmulatorError(f"query {collection}: {response.text}", status=response.status_code)
        rows: list[JsonObject] = response.json()
        results = []
        for row in rows:
            if found := row.get("document"):
                document = json_object(found, f"query {collection}")
                path = str(document["name"]).split("/documents/", 1)[1]
                fields = json_object(document.get("fields") or {}, path)
                results.append((path, decode_fields(fields)))
        return results


class FirestoreEmulator:
    """Administration of the Firestore emulator and the identities to act as."""

    def __init__(self, base_url: str, project: str) -> None:
        self.base_url = base_url
        self.project = project

    def as_user(self, user: User) -> Firestore:
        """Act as ``user`` (a ``User``): every request is checked by the security rules."""
        return Firestore(self.base_url, self.project, user.bearer)

    def unauthenticated(self) -> Firestore:
        """Act with no sign-in at all: ``request.auth`` is null in the rules."""
        return Firestore(self.base_url, self.project, None)

    def as_owner(self) -> Firestore:
        """Act as the backend (Admin SDK): rules are bypassed."""
        return Firestore(self.base_url, self.project, OWNER)

    def clear(self, *, timeout: float = 60.0) -> None:
        """Delete every document in the project's default database.

        The emulator answers 409 while a transaction is open (a trigger from the previous test
        may still be running one), so a conflict is retried until ``timeout``. A test that leaves
        many contended transactions behind (each retried with backoff after the emulator's lock
        timeouts) can keep one open for well over 10 s; the bound only limits a failing wait.
        """
        deadline = time.monotonic() + timeout
        while True:
            response = session().delete(
                f"{self.base_url}/emulator/v1/projects/{self.project}/databases/(default)/documents",
                timeout=TIMEOUT_S,
            )
            if response.status_code != 409 or time.monotonic() > deadline:
                response.raise_for_status()
                return
            time.sleep(0.1)

    def load_rules(self, source: str) -> None:
        """Replace the security rules the emulator enforces (the source text of a rules file)."""
        response = session().put(
            f"{self.base_url}/emulator/v1/projects/{self.project}:securityRules",
            json={"rules": {"files": [{"name": "firestore.rules", "content": source}]}},
            timeout=TIMEOUT_S,
        )
        if response.status_code != 200:
            raise EmulatorError(f"rules rejected: {response.text}", status=response.status_code)

    def rule_coverage(self) -> RuleCoverageReport:
        """The emulator's rule-coverage report: which rule expressions ran, with which values."""
        response = session().get(
            f"{self.base_url}/emulator/v1/projects/{self.project}:ruleCoverage", timeout=TIMEOUT_S
        )
        response.raise_for_status()
        report: RuleCoverageReport = response.json()
        return report

    def uncovered_expressions(self) -> list[str]:
        """Every rule expression never evaluated since the rules were loaded, as
        ``"line:column  source text"``: empty when the tests exercised every expression.

        Coverage accumulates from the moment rules are loaded, so call this at the end of a
        session that loaded them once (or accumulate ``outcomes`` across reloads)."""
        return uncovered_expressions(self.rule_coverage())

    def one_sided_conditions(self) -> list[str]:
        """The conditions the rules evaluated since they were loaded that only ever passed or only
        ever failed (see the module function of that name)."""
        report = self.rule_coverage()
        return one_sided_conditions(report, outcomes(report))

    def rule_coverage_html(self) -> str:
        response = session().get(
            f"{self.base_url}/emulator/v1/projects/{self.project}:ruleCoverage.html",
            timeout=TIMEOUT_S,
        )
        response.raise_for_status()
        return response.text


class SourcePosition(TypedDict):
    line: int
    column: int
    currentOffset: int  # byte offsets into the rules source
    endOffset: int  # inclusive


class EvaluatedValue(TypedDict):
    value: JsonObject  # a Firestore REST value: {"boolValue": true}, ...
    count: int


class Expression(TypedDict):
    """One expression of the rules and, if it was evaluated, what it came to."""

    sourcePosition: SourcePosition
    values: NotRequired[list[EvaluatedValue]]
    children: NotRequired[list[Expression]]


class RulesFile(TypedDict):
    name: str
    content: str


class RulesSource(TypedDict):
    files: list[RulesFile]


class RuleCoverageReport(TypedDict):
    """The Firestore emulator's rule-coverage report (``...:ruleCoverage``)."""

    rules: RulesSource
    report: list[Expression]


Span = tuple[int, int]


def _expressions(report: RuleCoverageReport) -> Iterator[tuple[Expression, bool]]:
    """Every expression node of a rule-coverage report with whether it was evaluated, parents
    before their children."""

    def walk(node: Expression) -> Iterator[tuple[Expression, bool]]:
        yield node, "values" in node
        for child in node.get("children", []):
            yield from walk(child)

    for expression in report["report"]:
        yield from walk(expression)


def _span(node: Expression) -> Span:
    position = node["sourcePosition"]
    return int(position["currentOffset"]), int(position["endOffset"])


def outcomes(report: RuleCoverageReport) -> dict[Span, set[str]]:
    """What each evaluated expression of a rule-coverage report came to: ``"true"``, ``"false"``
    or ``"other"`` (any other value, or an error, which denies like false), by byte span. Merge
    them over several reports of the same rules source to accumulate across reloads."""
    seen: dict[Span, set[str]] = {}
    for node, evaluated in _expressions(report):
        if evaluated:
            kinds = seen.setdefault(_span(node), set())
            for value in node.get("values", []):
                flag = value["value"].get("boolValue")
                kinds.add("other" if flag is None else str(flag).lower())
    return seen


def one_sided_conditions(report: RuleCoverageReport, seen: dict[Span, set[str]]) -> list[str]:
    """The conditions (expressions that came to true or false, literals aside) ``seen`` only ever
    pass or only ever fail, as ``"line:column  passed only|failed only  source text"``: a condition never
    seen failing was never shown to deny anything."""
    source = report["rules"]["files"][0]["content"].encode()
    found: list[str] = []
    listed: set[Span] = set()
    for node, _ in _expressions(report):
        kinds = seen.get(_span(node), set())
        if ("true" in kinds or "false" in kinds) and _span(node) not in listed:
            listed.add(_span(node))
            passed, failed = "true" in kinds, bool(kinds - {"true"})
            if passed != failed:
                position = node["sourcePosition"]
                text = source[position["currentOffset"] : position["endOffset"] + 1].decode(
                    errors="replace"
                )
                if text.strip() in ("true", "false"):
                    continue  # a literal (`allow read: if true`) cannot go both ways
                how = "passed only" if passed else "failed only"
                found.append(
                    f"{position['line']}:{position['column']}  {how}  {' '.join(text.split())}"
                )
    return found


def uncovered_expressions(
    report: RuleCoverageReport, also_covered: Collection[Span] = ()
) -> list[str]:
    """The expressions of a rule-coverage report never evaluated (neither in the report nor in
    ``also_covered``), as ``"line:column  source text"``; only the outermost miss of a subtree is
    listed, its children were not evaluated either."""
    source = report["rules"]["files"][0]["content"].encode()
    missing: list[str] = []

    def walk(node: Expression) -> None:
        position = node["sourcePosition"]
        if "values" not in node and _span(node) not in also_covered:
            # Offsets are byte positions; the end offset is inclusive.
            text = source[position["currentOffset"] : position["endOffset"] + 1].decode(
                errors="replace"
            )
            missing.append(f"{position['line']}:{position['column']}  {' '.join(text.split())}")
            return
        for child in node.get("children", []):
            walk(child)

    for expression in report["report"]:
        walk(expression)
    return missing
