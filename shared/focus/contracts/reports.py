"""``uploadDailyReports``: a device's daily totals, in batches, idempotent."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from focus.domain.model import Contract
from focus.domain.reports import DailyReportUpload

MAX_BATCH = 31


class UploadDailyReportsRequest(Contract):
    device_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    reports: list[DailyReportUpload] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _one_report_per_day(self) -> UploadDailyReportsRequest:
        days = [report.day for report in self.reports]
        if len(set(days)) != len(days):
            raise PydanticCustomError("duplicate_day", "each day appears at most once in a batch")
        return self


class DayResult(Contract):
    day: str
    changed: bool
    revision: int
    score: int


class UploadDailyReportsResponse(Contract):
    days: list[DayResult]
