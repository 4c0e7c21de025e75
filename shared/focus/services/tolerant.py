"""Reading stored documents tolerantly, and isolating one bad item from a job's others.

Devices write most documents, and a modified app (or a raw REST call with the person's own token)
can write values no model accepts: a break that is not a time, a timezone that is not an IANA
name. Such a document must not stop what does not depend on the bad field:

* ``read`` validates a stored document and, when it is malformed, drops the offending values
  (a field falls back to its default, a list loses the bad item) until it validates, logging one
  structured ``malformed document read tolerantly`` line. Use it where a default is a safe
  reading (the profile's settings when the app opens or the emergency pass is used); keep strict
  validation where guessing would change a result (what a session counts).
* ``Isolation`` runs each item of a job (a session of the sweep, a task's session) so that an
  exception in one item is logged, counted and skipped: a document that no model accepts is a
  *poison* item (``poison item skipped``), anything else a *failed* item (``item failed``, with
  its stack). Neither stops the job's other items.

Logs never carry user ids: the owner of an item appears as its pseudonym (``logs``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from focus.adapters import logs

M = TypeVar("M", bound=BaseModel)

# Exceptions that mean "this stored data cannot be read": retrying never helps.
POISON_ERRORS: tuple[type[Exception], ...] = (ValidationError, ValueError, TypeError, KeyError)
MAX_REPAIRS = 20


def _fields(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"path": ".".join(str(p) for p in e["loc"]), "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False)
    ][:10]


def _drop(data: Any, loc: tuple[int | str, ...]) -> bool:
    """Remove the value at ``loc`` (a list item, or a map field); False if there is none."""
    if not loc:
        return False
    target = data
    for key in loc[:-1]:
        in_map = isinstance(target, dict) and key in target
        in_list = isinstance(target, list) and isinstance(key, int) and 0 <= key < len(target)
        if not (in_map or in_list):
            return False
        target = target[key]
    last = loc[-1]
    if isinstance(target, dict) and last in target:
        del target[last]
        return True
    if isinstance(target, list) and isinstance(last, int) and 0 <= last < len(target):
        del target[last]
        return True
    return False


def _repair_target(error: ErrorDetails) -> tuple[int | str, ...]:
    """What to drop for one validation error: a bad list item goes whole (its other fields mean
    nothing alone); a missing field takes its container with it (which then gets its default)."""
    loc: tuple[int | str, ...] = tuple(error["loc"])
    for index, part in enumerate(loc):
        if isinstance(part, int):
            return loc[: index + 1]
    if error["type"] == "missing":
        return loc[:-1] if len(loc) > 1 else ()
    return loc


def read(model: type[M], data: Any, *, kind: str, uid: str | None = None) -> M:
    """``data`` as ``model``; a malformed document is read with its bad values dropped.

    Raises the original ``ValidationError`` when dropping values cannot make it valid (e.g. a
    required field without a default is missing)."""
    try:
        return model.model_validate(data)
    except ValidationError as first:
        original = first
    repaired = copy.deepcopy(data)
    dropped: list[str] = []
    for _ in range(MAX_REPAIRS):
        try:
            result = model.model_validate(repaired)
        except ValidationError as exc:
            target = _repair_target(exc.errors(include_url=False)[0])
            if not _drop(repaired, target):
                raise original from None
            dropped.append(".".join(str(p) for p in target))
            continue
        logs.get_logger().warning(
            "malformed document read tolerantly",
            kind=kind,
            owner=logs.pseudonymous_user_id(uid) if uid else None,
            dropped=dropped,
            fields=_fields(original),
        )
        return result
    raise original


@dataclass
class Isolation:
    """Per-item failure isolation for one run of ``job``: ``with run.item(...)`` around each."""

    job: str
    poison: int = 0
    failed: int = 0

    @contextmanager
    def item(
        self,
        kind: str,
        uid: str | None = None,
        item_id: str | None = None,
        *,
        retry_others: bool = False,
    ) -> Iterator[None]:
        """Run one item: poison is logged, counted and swallowed; any other exception too, unless
        ``retry_others`` (a task whose platform retries it) asks for it to be raised."""
        where = {
            "job": self.job,
            "kind": kind,
            "owner": logs.pseudonymous_user_id(uid) if uid else None,
            "item": item_id,
        }
        try:
            yield
        except POISON_ERRORS as exc:
            self.poison += 1
            fields = _fields(exc) if isinstance(exc, ValidationError) else []
            logs.get_logger().error(
                "poison item skipped", errorType=type(exc).__name__, fields=fields, **where
            )
        except Exception as exc:  # isolating every other failure is the point
            if retry_others:
                raise
            self.failed += 1
            logs.get_logger().exception("item failed", errorType=type(exc).__name__, **where)

    def counts(self) -> dict[str, int]:
        return {"poison": self.poison, "failed": self.failed}
