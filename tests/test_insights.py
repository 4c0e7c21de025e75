"""Weekly AI insights reach the people who granted AI processing, once a week each, written by a
batch prediction job and checked before they are stored; any failure gives the template; nobody
who withdrew consent or was erased gets one back; the budget caps the lines sent.

Each test drives the weekly run the way the jobs do (plan, then follow every 30 minutes) with a
fixed moment after a fixed week (``insight_weeks.ANCHOR``): nothing depends on today. The batch
goes to the local Vertex AI server and its files to the local Cloud Storage server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from conftest import envelope, launched_user
from insight_weeks import WEEKS, PersonWeek
from test_dead_letters import PubSubRest, listed_when_there

from firebase_emulator_harness import EmulatorSuite, StorageRemote, User, VertexRemote, wait_for
from focus.adapters import objects
from focus.domain.insight_fallback import fallback
from focus.services import insight_runs
from focus.services.privacy import tombstones

EVENING_WEEK = WEEKS[0]
OTHER_WEEK = WEEKS[1]


def planned_at(week: PersonWeek) -> datetime:
    """Noon UTC on the first day of the next week: the week is the person's last complete one."""
    return datetime.combine(week.first_day + timedelta(days=7), time(12), tzinfo=UTC)


def person(firebase: EmulatorSuite, week: PersonWeek, *, consent: bool = True) -> User:
    """Someone whose stored days and sessions are ``week`` (and the week before)."""
    user = launched_user(firebase)
    owner = firebase.firestore.as_owner()
    settings = week.settings()
    owner.update(
        f"users/{user.uid}",
        {
            "settings.locale": settings.locale,
            "settings.timezone": settings.timezone,
            "settings.dailyGoalMinutes": settings.daily_goal_minutes,
            "settings.weekStartsOn": settings.week_starts_on,
            "settings.dayStartHour": settings.day_start_hour,
        },
    )
    for day in [*week.previous_days(), *week.days()]:
        owner.set(f"users/{user.uid}/days/{day.day}", day.to_firestore())
    for n, session in enumerate(week.focus_sessions()):
        owner.set(f"users/{user.uid}/sessions/s{n}", session.to_firestore())
    if consent:
        set_ai_consent(firebase, user, granted=True)
    return user


def set_ai_consent(firebase: EmulatorSuite, user: User, *, granted: bool) -> None:
    payload = {"purpose": "aiProcessing", "granted": granted, "policyVersion": "2026-11"}
    firebase.functions.call("setConsent", envelope(payload), user=user).unwrap()


def model_answer(week: PersonWeek) -> str:
    """A valid answer for ``week``: what the checks accept (the template's own words)."""
    return fallback(week.features()).model_dump_json(by_alias=True)


def insight(firebase: EmulatorSuite, user: User, week: PersonWeek) -> dict[str, Any] | None:
    return firebase.firestore.as_owner().get(
        f"users/{user.uid}/insights/{week.first_day.isoformat()}"
    )


def run_id(at: datetime) -> str:
    return at.date().isoformat()


def plan_and_prepare(firebase: EmulatorSuite, at: datetime) -> dict[str, Any]:
    """Plan the run and wait until its parts are prepared (the emulator runs their tasks)."""
    insight_runs.plan(at)
    run = run_id(at)
    owner = firebase.firestore.as_owner()

    def prepared() -> dict[str, Any] | None:
        state = owner.get(f"insightRuns/{run}") or {}
        parts = owner.query(f"insightRuns/{run}/parts")  # [(path, data), ...]
        return state if state.get("parts") is not None and len(parts) == state["parts"] else None

    return wait_for(prepared, timeout=60, message=f"insight run {run} prepared")


def follow_until_done(firebase: EmulatorSuite, at: datetime) -> dict[str, Any]:
    """Follow the run every '30 minutes' until it is done."""
    run = run_id(at)
    owner = firebase.firestore.as_owner()
    moment = at

    def done() -> dict[str, Any] | None:
        nonlocal moment
        moment += timedelta(minutes=30)
        insight_runs.follow(moment)
        state = owner.get(f"insightRuns/{run}") or {}
        return state if state.get("state") == "done" else None

    return wait_for(done, timeout=90, interval=0.5, message=f"insight run {run} done")


def test_a_consenting_person_gets_the_models_checked_insight_for_their_last_week(
    firebase: EmulatorSuite, vertex: VertexRemote, cloud_storage: StorageRemote
) -> None:
    reader = person(firebase, EVENING_WEEK)
    unconsented = person(firebase, OTHER_WEEK, consent=False)
    vertex.answer(model_answer(EVENING_WEEK))
    at = planned_at(EVENING_WEEK)

    plan_and_prepare(firebase, at)
    follow_until_done(firebase, at)

    stored = insight(firebase, reader, EVENING_WEEK) or {}
    assert stored["state"] == "ready"
    assert stored["source"] == "model"
    assert stored["model"] == "gemini-2.5-flash-lite"
    assert stored["insight"]["headline"] == fallback(EVENING_WEEK.features()).headline
    assert insight(firebase, unconsented, OTHER_WEEK) is None
    [job] = vertex.batch_jobs()
    [line] = job.requests  # one line: the one person who consented
    assert reader.uid not in json.dumps(line.to_json())  # a random key, never the uid
    # The run's files are gone once its answers are applied.
    bucket = objects.bucket_uri().removeprefix("gs://")
    assert cloud_storage.objects(bucket, prefix=f"insights/{run_id(at)}/") == {}


def test_running_the_week_twice_generates_nothing_twice(
    firebase: EmulatorSuite, vertex: VertexRemote
) -> None:
    reader = person(firebase, EVENING_WEEK)
    vertex.answer(model_answer(EVENING_WEEK))
    at = planned_at(EVENING_WEEK)
    plan_and_prepare(firebase, at)
    follow_until_done(firebase, at)
    first = insight(firebase, reader, EVENING_WEEK)

    # The same day's job fired again, the next day's run, a redelivered part task.
    assert insight_runs.plan(at) == 0
    tomorrow = at + timedelta(days=1)
    plan_and_prepare(firebase, tomorrow)
    follow_until_done(firebase, tomorrow)
    status = firebase.functions.dispatch_task(
        "prepareInsights",
        {"run": run_id(tomorrow), "part": 0, "uids": [reader.uid], "plannedAt": at.isoformat()},
    )

    assert status == 200
    assert len(vertex.batch_jobs()) == 1
    assert insight(firebase, reader, EVENING_WEEK) == first


@pytest.mark.parametrize(
    "answer",
    [
        "not json at all",
        '{"headline": "Great week"}',
        '{"headline": "x", "body": "call +49 30 1234567"}',
    ],
)
def test_an_answer_the_checks_refuse_gives_the_template(
    firebase: EmulatorSuite, vertex: VertexRemote, answer: str
) -> None:
    reader = person(firebase, EVENING_WEEK)
    vertex.answer(answer)
    at = planned_at(EVENING_WEEK)

    plan_and_prepare(firebase, at)
    follow_until_done(firebase, at)

    stored = insight(firebase, reader, EVENING_WEEK) or {}
    assert stored["source"] == "fallback"
    assert stored["insight"] == fallback(EVENING_WEEK.features()).model_dump(
        by_alias=True, mode="json"
    )


def test_a_failed_batch_job_gives_everyone_in_it_the_template(
    firebase: EmulatorSuite, vertex: VertexRemote
) -> None:
    readers = [person(firebase, EVENING_WEEK), person(firebase, EVENING_WEEK)]
    vertex.fail_next_batch("quota exceeded")
    at = planned_at(EVENING_WEEK)

    plan_and_prepare(firebase, at)
    follow_until_done(firebase, at)

    for reader in readers:
        assert (insight(firebase, reader, EVENING_WEEK) or {})["source"] == "fallback"


def test_identical_figures_are_served_from_the_cache_without_a_model_line(
    firebase: EmulatorSuite, vertex: VertexRemote
) -> None:
    first = person(firebase, EVENING_WEEK)
    vertex.answer(model_answer(EVENING_WEEK))
    at = planned_at(EVENING_WEEK)
    plan_and_prepare(firebase, at)
    follow_until_done(firebase, at)

    twin = person(firebase, EVENING_WEEK)  # the very same week's figures, a day later
    tomorrow = at + timedelta(days=1)
    plan_and_prepare(firebase, tomorrow)
    follow_until_done(firebase, tomorrow)

    assert len(vertex.batch_jobs()) == 1
    stored = insight(firebase, twin, EVENING_WEEK) or {}
    assert stored["source"] == "cache"
    assert stored["insight"] == (insight(firebase, first, EVENING_WEEK) or {})["insight"]


def test_the_daily_budget_caps_the_lines_and_the_rest_get_the_template_at_once(
    firebase: EmulatorSuite, vertex: VertexRemote
) -> None:
    firebase.firestore.as_owner().set("config/insights", {"callsPerDay": 0})
    reader = person(firebase, EVENING_WEEK)
    at = planned_at(EVENING_WEEK)

    plan_and_prepare(firebase, at)
    follow_until_done(firebase, at)

    assert vertex.batch_jobs() == []
    assert (insight(firebase, reader, EVENING_WEEK) or {})["source"] == "fallback"


def test_withdrawing_consent_deletes_the_insights_and_drops_an_answer_on_its_way(
    firebase: EmulatorSuite, vertex: VertexRemote
) -> None:
    reader = person(firebase, EVENING_WEEK)
    vertex.answer(model_answer(EVENING_WEEK))
    at = planned_at(EVENING_WEEK)
    plan_and_prepare(firebase, at)
    assert (insight(firebase, reader, EVENING_WEEK) or {})["state"] == "pending"

    set_ai_consent(firebase, reader, granted=False)
    follow_until_done(firebase, at)

    assert firebase.firestore.as_owner().query(f"users/{reader.uid}/insights") == []
    parts = firebase.firestore.as_owner().query(f"insightRuns/{run_id(at)}/parts")
    assert all(reader.uid not in (part.get("uids") or []) for _, part in parts)
    # And no run plans them again.
    tomorrow = at + timedelta(days=1)
    plan_and_prepare(firebase, tomorrow)
    follow_until_done(firebase, tomorrow)
    assert insight(firebase, reader, EVENING_WEEK) is None


def test_the_app_pages_through_insights_and_rates_one(
    firebase: EmulatorSuite, vertex: VertexRemote
) -> None:
    reader = person(firebase, EVENING_WEEK)
    owner = firebase.firestore.as_owner()
    stored = {
        "state": "ready",
        "source": "fallback",
        "insight": fallback(EVENING_WEEK.features()).model_dump(by_alias=True, mode="json"),
        "createdAt": planned_at(EVENING_WEEK),
        "readyAt": planned_at(EVENING_WEEK),
    }
    weeks = ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16"]
    for week in weeks:
        owner.set(f"users/{reader.uid}/insights/{week}", stored | {"week": week})
    owner.set(
        f"users/{reader.uid}/insights/2026-11-23",
        {"week": "2026-11-23", "state": "pending", "createdAt": planned_at(EVENING_WEEK)},
    )

    def page(**payload: Any) -> dict[str, Any]:
        answer = firebase.functions.call("getInsights", envelope(payload), user=reader).unwrap()
        assert isinstance(answer, dict) and isinstance(answer["data"], dict)
        return answer["data"]

    first = page(limit=3)
    second = page(limit=3, before=first["next"])
    assert [i["week"] for i in first["insights"]] == weeks[::-1][:3]
    assert [i["week"] for i in second["insights"]] == weeks[:1]
    assert second["next"] is None

    rated = firebase.functions.call(
        "rateInsight", envelope({"week": "2026-11-16", "rating": "down"}), user=reader
    ).unwrap()
    assert isinstance(rated, dict) and rated["data"]["rating"] == "down"
    assert (owner.get(f"users/{reader.uid}/insights/2026-11-16") or {})["rating"] == "down"
    assert page(limit=1)["insights"][0]["rating"] == "down"

    pending = firebase.functions.call(
        "rateInsight", envelope({"week": "2026-11-23", "rating": "up"}), user=reader
    )
    assert pending.code == "NOT_FOUND"
    assert (pending.error or {}).get("details") == {
        "reason": "INSIGHT_NOT_FOUND",
        "week": "2026-11-23",
    }


def test_an_erased_person_gets_nothing_back_and_no_batch_file_or_link_remains(
    firebase: EmulatorSuite, vertex: VertexRemote, cloud_storage: StorageRemote
) -> None:
    erased_person = person(firebase, EVENING_WEEK)
    other = person(firebase, EVENING_WEEK)
    vertex.answer(model_answer(EVENING_WEEK))
    vertex.answer(model_answer(EVENING_WEEK))
    at = planned_at(EVENING_WEEK)
    plan_and_prepare(firebase, at)

    firebase.functions.call("deleteAccount", envelope(), user=erased_person).unwrap()
    wait_for(
        lambda: (
            (
                firebase.firestore.as_owner().get(
                    f"erasureAudit/{tombstones.erasure_id(erased_person.uid)}"
                )
                or {}
            ).get("state")
            == "erased"
        ),
        timeout=60,
        message="erasure finished",
    )
    follow_until_done(firebase, at)

    owner = firebase.firestore.as_owner()
    assert owner.query(f"users/{erased_person.uid}/insights") == []
    for _, part in owner.query(f"insightRuns/{run_id(at)}/parts"):
        assert erased_person.uid not in json.dumps(part, default=str)
    assert (insight(firebase, other, EVENING_WEEK) or {})["source"] == "model"
    bucket = objects.bucket_uri().removeprefix("gs://")
    assert cloud_storage.objects(bucket, prefix=f"insights/{run_id(at)}/") == {}


def test_an_output_that_cannot_be_applied_is_retried_then_dead_lettered_and_the_run_goes_on(
    firebase: EmulatorSuite,
) -> None:
    letters = PubSubRest(firebase, "applyInsightResults")
    letters.ensure()
    letters.drain()
    at = planned_at(EVENING_WEEK)
    plan_and_prepare(firebase, at)  # nobody consented: a run with no line
    lost = {"run": run_id(at), "name": "lost", "output": f"{objects.bucket_uri()}/gone.jsonl"}

    with pytest.raises(objects.ObjectNotFound):
        insight_runs.apply(lost, at, attempt=1)  # the queue retries it
    assert insight_runs.apply(lost, at, attempt=insight_runs.APPLY_ATTEMPTS) == 0

    [letter] = listed_when_there("applyInsightResults")
    assert letter["reason"] == "gaveUp"
    state = firebase.firestore.as_owner().get(f"insightRuns/{run_id(at)}") or {}
    assert "lost" in state["applied"]  # counted, so the run finishes with the template
