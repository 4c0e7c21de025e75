"""Dated API versions and the changes between them, in the manner of Stripe's API versioning.

A client pins the version it was built against (``apiVersion`` in every request). The code keeps
only the newest ("head") request and response models; each ``VersionChange`` below translates a
request from the version before it up to its own version, and a response from its own version
back down, plus the same edits on the JSON Schemas published for mobile engineers. Their
descriptions are the changelog (docs/api.md).

A request dated between two versions is served as the closest earlier one; one dated before the
first supported version (or after its sunset) is refused with FAILED_PRECONDITION.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from focus.domain.errors import FailedPrecondition, Reason

JSON = dict[str, Any]


@dataclass(frozen=True)
class Version:
    date: str
    sunset: str | None = None  # after this date the version is refused

    @property
    def deprecated(self) -> bool:
        return self.sunset is not None


VERSIONS: tuple[Version, ...] = (
    Version("2026-06-01", sunset="2027-06-01"),
    Version("2026-11-29"),
)
HEAD = VERSIONS[-1].date


class VersionChange:
    """One breaking change, introduced in ``version``, to one callable's request or response."""

    version: str
    callable: str
    description: str

    def request_up(self, payload: JSON) -> JSON:
        return payload

    def response_down(self, data: JSON) -> JSON:
        return data

    def request_schema_down(self, schema: JSON) -> JSON:
        return schema

    def response_schema_down(self, schema: JSON) -> JSON:
        return schema


class ReportsInMinutes(VersionChange):
    version = "2026-11-29"
    callable = "uploadDailyReports"
    description = (
        "Daily reports are sent in minutes: `screenTimeSeconds` and `focusedSeconds` became "
        "`screenTimeMinutes` and `focusedMinutes` (whole minutes, rounded down)."
    )
    renamed = (("screenTimeSeconds", "screenTimeMinutes"), ("focusedSeconds", "focusedMinutes"))

    def request_up(self, payload: JSON) -> JSON:
        reports = payload.get("reports")
        if not isinstance(reports, list):
            return payload  # validation of the head model will name the problem
        upgraded = []
        for report in reports:
            if isinstance(report, dict):
                report = dict(report)
                for old, new in self.renamed:
                    if old in report:
                        value = report.pop(old)
                        is_number = isinstance(value, int) and not isinstance(value, bool)
                        report[new] = value // 60 if is_number else value
            upgraded.append(report)
        return {**payload, "reports": upgraded}

    def request_schema_down(self, schema: JSON) -> JSON:
        report = schema["$defs"]["DailyReportUpload"]
        for old, new in self.renamed:
            report["properties"][old] = {
                "type": "integer",
                "minimum": 0,
                "maximum": 24 * 60 * 60,
            }
            del report["properties"][new]
            report["required"] = [old if name == new else name for name in report["required"]]
        return schema


class LaunchGroupsPassAndStreak(VersionChange):
    version = "2026-11-29"
    callable = "launch"
    description = (
        "The launch answer groups the emergency pass and splits the streak: "
        "`emergencyPassAvailable` became `emergencyPass {available, nextAvailableAt}`; "
        "`profile.streak` became `profile.currentStreak` and `profile.longestStreak`."
    )

    def response_down(self, data: JSON) -> JSON:
        data = copy.deepcopy(data)
        data["emergencyPassAvailable"] = data.pop("emergencyPass")["available"]
        profile = data["profile"]
        profile["streak"] = profile.pop("currentStreak")
        del profile["longestStreak"]
        return data

    def response_schema_down(self, schema: JSON) -> JSON:
        props = schema["properties"]
        del props["emergencyPass"]
        props["emergencyPassAvailable"] = {"type": "boolean"}
        schema["required"] = [
            "emergencyPassAvailable" if r == "emergencyPass" else r for r in schema["required"]
        ]
        schema["$defs"].pop("EmergencyPassStatus", None)
        profile = schema["$defs"]["ProfileView"]
        profile["properties"]["streak"] = profile["properties"].pop("currentStreak")
        del profile["properties"]["longestStreak"]
        profile["required"] = [
            "streak" if r == "currentStreak" else r
            for r in profile["required"]
            if r != "longestStreak"
        ]
        return schema


CHANGES: tuple[VersionChange, ...] = (ReportsInMinutes(), LaunchGroupsPassAndStreak())


def resolve(requested: str, today: date) -> Version:
    """The version a request dated ``requested`` is served as."""
    candidates = [v for v in VERSIONS if v.date <= requested]
    if not candidates:
        raise FailedPrecondition(
            f"API version {requested} is not supported; the oldest is {VERSIONS[0].date}.",
            reason=Reason.UNSUPPORTED_API_VERSION,
            details={"oldestSupported": VERSIONS[0].date},
        )
    version = candidates[-1]
    if version.sunset is not None and today.isoformat() >= version.sunset:
        raise FailedPrecondition(
            f"API version {version.date} was retired on {version.sunset}; update the app.",
            reason=Reason.UNSUPPORTED_API_VERSION,
            details={"oldestSupported": _oldest_live(today)},
        )
    return version


def _oldest_live(today: date) -> str:
    return next(v.date for v in VERSIONS if v.sunset is None or today.isoformat() < v.sunset)


def _changes(callable_name: str, version: str) -> list[VersionChange]:
    """The changes a client on ``version`` has not seen, oldest first."""
    return sorted(
        (c for c in CHANGES if c.callable == callable_name and c.version > version),
        key=lambda c: c.version,
    )


def request_to_head(callable_name: str, version: str, payload: JSON) -> JSON:
    for change in _changes(callable_name, version):
        payload = change.request_up(payload)
    return payload


def response_from_head(callable_name: str, version: str, data: JSON) -> JSON:
    for change in reversed(_changes(callable_name, version)):
        data = change.response_down(data)
    return data


def request_schema(callable_name: str, version: str, head_schema: JSON) -> JSON:
    schema = copy.deepcopy(head_schema)
    for change in reversed(_changes(callable_name, version)):
        schema = change.request_schema_down(schema)
    return schema


def response_schema(callable_name: str, version: str, head_schema: JSON) -> JSON:
    schema = copy.deepcopy(head_schema)
    for change in reversed(_changes(callable_name, version)):
        schema = change.response_schema_down(schema)
    return schema
