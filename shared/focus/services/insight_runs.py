"""The weekly insights of everyone who consented, written by Vertex AI batch prediction (about half
the online price; docs/insights.md, "Flow").

A run is one UTC day (``insightRuns/{day}``); each step is safe to run twice:

1. ``plan`` (job ``plan_weekly_insights``, daily): pages through the people who granted AI
   processing and enqueues one ``prepareInsights`` task per page (named by run and page).
2. ``prepare`` (task): for each person whose last complete week has no insight yet, builds the
   week's figures; an identical set of figures already answered is served from the cache; else
   the week is claimed ``pending`` under a random key and its prompt becomes one line of the
   part's input file in Cloud Storage. The lines beyond the day's model budget get the fallback
   at once. The part's document maps each key to its person and figures: the files hold no uid.
3. ``follow`` (job ``follow_insight_batches``, every 30 minutes): submits the run's parts as one
   batch prediction job once they are all prepared; once the job has finished, enqueues one
   ``applyInsightResults`` task per output file, or, when it failed, one per part to write the
   fallback; once everything is applied, fills the weeks no line answered with the fallback and
   deletes the run's files.
4. ``apply`` (task): checks each answer (``insights.check``) and stores it over the week's claim,
   or the fallback; a key whose person withdrew consent or was erased is found in no part and is
   dropped (``insights.forget`` removes them from their parts). Applied keys are removed from
   their part at once.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from focus.adapters import clients, logs, messaging, model_batch, objects, paths, store, tracing
from focus.adapters.model import model_name
from focus.domain.consent import Purpose
from focus.domain.insight_fallback import fallback
from focus.domain.insight_features import WeekFeatures, features_key
from focus.domain.insight_history import last_complete_week, needs_planning
from focus.domain.insight_labels import InsightSource
from focus.domain.insights import Insight, answer_schema, check, prompt_for
from focus.domain.wires import Task
from focus.services import consents, insight_cache, insights, model_budget, tolerant

PAGE = 200  # people per prepareInsights task: a part's document stays well under 1 MiB
KEPT_FOR = timedelta(days=14)
# A part whose task died for good does not hold the run back longer than this: its people are
# planned again the next day (their claims expire, insight_history.PENDING_FOR).
WAIT_FOR_PARTS = timedelta(hours=6)
RESUBMIT_AFTER = timedelta(hours=1)
APPLY_ATTEMPTS = 5  # functions/insights/main.py applyInsightResults: the queue's max_attempts
GAVE_UP = "gaveUp"  # a dead letter's reason: its last attempt failed too (scripts/dead-letters)  # a "submitting" run whose follower died before recording

CONSENTED = store.QuerySpec(
    "people who granted a purpose (all users)",
    paths.CONSENTS,
    filters=(("purpose", "=="), ("granted", "==")),
    order_by=(("__name__", "ASCENDING"),),
    collection_group=True,
)
OPEN_RUNS = store.QuerySpec("insight runs not done", paths.INSIGHT_RUNS, filters=(("state", "in"),))
PARTS_OF_RUN = store.QuerySpec("parts of an insight run", paths.INSIGHT_PARTS)

PLANNING, SUBMITTING, SUBMITTED, APPLYING, DONE = (
    "planning",
    "submitting",
    "submitted",
    "applying",
    "done",
)


def _db() -> Any:
    return clients.firestore()


def _run_ref(run: str) -> Any:
    return _db().document(paths.insight_run(run))


def _part_ref(run: str, part: int | str) -> Any:
    return _db().document(paths.insight_part(run, part if isinstance(part, str) else f"{part:06d}"))


def _run_prefix(run: str) -> str:
    return f"{objects.bucket_uri()}/insights/{run}/"


# --- 1. Planning -------------------------------------------------------------------------------


@tracing.traced("insight_runs.plan")
def plan(now: datetime) -> int:
    """Enqueue today's run's parts (a rerun enqueues the same task names: nothing twice); how
    many parts."""
    run = now.date().isoformat()
    ref = _run_ref(run)
    snapshot = store.get(ref)
    state = snapshot.to_dict() or {}
    if state.get("parts") is not None:
        return 0  # planned already
    if not snapshot.exists:
        # Task names carry the run's own id: a rerun of the same run reuses them (Cloud Tasks
        # drops the duplicates), a run of another day or after a reset never collides.
        state = {"state": PLANNING, "createdAt": now, "nonce": uuid.uuid4().hex}
        store.set_now(ref, state | {"expireAt": now + KEPT_FOR})
    parts, after = 0, None
    while True:
        page = store.query(
            CONSENTED,
            None,
            [Purpose.AI_PROCESSING.value, True],
            limit=PAGE,
            start_after=after,
        )
        uids = [s.reference.parent.parent.id for s in page]
        if uids:
            messaging.enqueue(
                Task.PREPARE_INSIGHTS,
                {"run": run, "part": parts, "uids": uids, "plannedAt": now.isoformat()},
                at=now,
                task_id=messaging.task_id("insights", run, state["nonce"], str(parts)),
            )
            parts += 1
        if len(page) < PAGE:
            break
        after = page[-1]
    store.update_now(ref, {"parts": parts, "plannedAt": now})
    logs.get_logger().info("insight run planned", run=run, parts=parts)
    return parts


# --- 2. Preparing a part -----------------------------------------------------------------------


def key_prefix(run: str, part: int) -> str:
    """Every batch key of a part starts so: the part first, so that applying an answer finds its
    person in the part's one document; then the run (a claim left by an earlier delivery of the
    same part's task is taken up again, not left pending)."""
    return f"{part:06d}-{run.replace('-', '')}-"


def _person_line(
    uid: str, run: str, part: int, planned_at: datetime, now: datetime, keys: dict[str, Any]
) -> str | None:
    """The person's batch line, or None when they need none (no consent, an insight or a live
    claim already, or an answer from the cache, stored here). The week is the last one complete
    when the run was planned: every part of a run means the same weeks, however late it runs."""
    if not consents.require(uid, Purpose.AI_PROCESSING):
        return None
    person = insights.profile(uid)
    if person is None:
        return None
    week = last_complete_week(planned_at, person.settings)
    prefix = key_prefix(run, part)
    current = insights.stored(uid, week)
    redelivered = current is not None and (current.batch_key or "").startswith(prefix)
    if not redelivered and not needs_planning(current, now):
        return None
    features = insights.week_features(uid, week, person)
    fingerprint = features_key(features)
    cached = insight_cache.get(fingerprint, model_name())
    if cached is not None:
        insights.store_ready(
            uid,
            features,
            cached,
            InsightSource.CACHE,
            model=model_name(),
            features_key=fingerprint,
            now=now,
        )
        return None
    key = insights.claim(uid, week, prefix, now)
    if key is None:
        return None
    keys[key] = {"uid": uid, "features": features.model_dump(mode="json")}
    return model_batch.request_line(key, prompt_for(features), answer_schema())


@tracing.traced("insight_runs.prepare")
def prepare(data: dict[str, Any], now: datetime) -> int:
    """Write one part's input file and its key map; how many lines (0 when done before)."""
    run, part = str(data["run"]), int(data["part"])
    planned_at = datetime.fromisoformat(str(data["plannedAt"]))
    ref = _part_ref(run, part)
    if store.get(ref).exists:
        return 0  # a redelivered task
    isolation = tolerant.Isolation("prepareInsights")
    keys: dict[str, Any] = {}
    lines: list[str] = []
    for uid in data["uids"]:
        with isolation.item("person", uid):
            line = _person_line(uid, run, part, planned_at, now, keys)
            if line is not None:
                lines.append(line)
    granted = model_budget.spend(None, now, len(lines)) if lines else 0
    for key in list(keys)[granted:]:  # over the day's budget: the template, today
        _store_fallback(key, keys.pop(key), now)
    lines = lines[:granted]
    input_uri = f"{_run_prefix(run)}input/part-{part:06d}.jsonl" if lines else None
    if input_uri is not None:
        objects.write_lines(input_uri, lines)
    store.set_now(
        ref,
        {
            "people": keys,
            "uids": sorted({entry["uid"] for entry in keys.values()}),
            "lines": len(lines),
            "inputUri": input_uri,
            "expireAt": now + KEPT_FOR,
        },
    )
    logs.get_logger().info(
        "insight part prepared", run=run, part=part, lines=len(lines), **isolation.counts()
    )
    return len(lines)


# --- 3. Following the run ----------------------------------------------------------------------


@tracing.traced("insight_runs.follow")
def follow(now: datetime) -> None:
    """Move every open run one step on (each run its own item)."""
    isolation = tolerant.Isolation("follow_insight_batches")
    for snapshot in store.query(OPEN_RUNS, None, [[PLANNING, SUBMITTING, SUBMITTED, APPLYING]]):
        with isolation.item("run", item_id=snapshot.id):
            _follow_run(snapshot.id, snapshot.to_dict() or {}, now)


def _follow_run(run: str, state: dict[str, Any], now: datetime) -> None:
    step = state.get("state")
    if step in (PLANNING, SUBMITTING):
        _submit(run, state, now)
    elif step == SUBMITTED:
        _collect(run, state, now)
    elif step == APPLYING and _all_applied(state):
        _finish(run, now)


def _parts(run: str) -> list[Any]:
    return store.query(PARTS_OF_RUN, _run_ref(run))


def _submit(run: str, state: dict[str, Any], now: datetime) -> None:
    planned_at = state.get("plannedAt")
    if planned_at is None:
        return  # plan has not finished paging
    if state["state"] == SUBMITTING and now - state["submittingAt"] < RESUBMIT_AFTER:
        return
    parts = _parts(run)
    if len(parts) < state["parts"] and now - planned_at < WAIT_FOR_PARTS:
        return
    inputs = [p.get("inputUri") for p in parts if p.get("inputUri")]
    if not inputs:
        store.update_now(_run_ref(run), {"state": APPLYING, "outputs": [], "applied": {}})
        return
    store.update_now(_run_ref(run), {"state": SUBMITTING, "submittingAt": now})
    job = model_batch.submit(f"insights-{run}", inputs, f"{_run_prefix(run)}output/")
    store.update_now(_run_ref(run), {"state": SUBMITTED, "job": job.name, "submittedAt": now})
    logs.get_logger().info("insight batch submitted", run=run, job=job.name, files=len(inputs))


def _collect(run: str, state: dict[str, Any], now: datetime) -> None:
    job = model_batch.job(state["job"])
    if not job.finished:
        return
    answered = (model_batch.BatchState.SUCCEEDED, model_batch.BatchState.PARTIALLY_SUCCEEDED)
    if job.state in answered:
        # Lines a partly succeeded job left unanswered get the fallback when the run is done.
        work = [{"run": run, "output": uri} for uri in model_batch.output_uris(job)]
    else:
        logs.get_logger().error(
            "insight batch failed", run=run, job=job.name, state=job.state.value, error=job.error
        )
        work = [{"run": run, "part": p.id} for p in _parts(run)]
    nonce = state["nonce"]
    names = [messaging.task_id("insight-results", run, nonce, str(sorted(w.items()))) for w in work]
    store.update_now(
        _run_ref(run),
        {"state": APPLYING, "outputs": names, "applied": {}, "jobState": job.state.value},
    )
    for name, payload in zip(names, work, strict=True):
        messaging.enqueue(
            Task.APPLY_INSIGHT_RESULTS, payload | {"name": name}, at=now, task_id=name
        )


def _all_applied(state: dict[str, Any]) -> bool:
    return set(state.get("outputs", [])) <= set(state.get("applied", {}))


def _finish(run: str, now: datetime) -> None:
    """Weeks no answer reached get the fallback; then the run's files go."""
    isolation = tolerant.Isolation("follow_insight_batches")
    for part in _parts(run):
        for key, entry in (part.get("people") or {}).items():
            with isolation.item("week", entry.get("uid")):
                _store_fallback(key, entry, now)
                store.update_now(part.reference, {f"people.{key}": _delete_field()})
    deleted = objects.delete_prefix(_run_prefix(run))
    store.update_now(_run_ref(run), {"state": DONE, "doneAt": now})
    logs.get_logger().info("insight run done", run=run, filesDeleted=deleted)


def _delete_field() -> Any:
    from google.cloud import firestore as gcf

    return gcf.DELETE_FIELD


# --- 4. Applying answers -----------------------------------------------------------------------


def _store_fallback(key: str, entry: dict[str, Any], now: datetime) -> None:
    features = WeekFeatures.model_validate(entry["features"])
    insights.store_ready(
        entry["uid"],
        features,
        fallback(features),
        InsightSource.FALLBACK,
        model=None,
        features_key=features_key(features),
        now=now,
        batch_key=key,
    )


def _chosen(result: model_batch.BatchResult, features: WeekFeatures) -> tuple[Insight, bool]:
    """The checked answer (True), or the fallback (False)."""
    if result.answer is not None and result.answer.text is not None:
        checked = check(result.answer.text, features)
        if isinstance(checked, Insight):
            return checked, True
        logs.get_logger().warning("insight answer refused", refusal=checked.value)
    return fallback(features), False


@tracing.traced("insight_runs.apply")
def apply(data: dict[str, Any], now: datetime, attempt: int = 1) -> int:
    """Store the answers of one output file (or the fallback for one part); how many stored.

    A failure goes back to the queue; on the queue's last attempt (``APPLY_ATTEMPTS``) the task
    is dead-lettered (replayable: ``scripts/dead-letters replay applyInsightResults``) and
    counted as applied, so the run still finishes and its unanswered weeks get the template."""
    run, name = str(data["run"]), str(data["name"])
    if name in (store.get(_run_ref(run)).to_dict() or {}).get("applied", {}):
        return 0
    try:
        return _apply(run, name, data, now)
    except Exception as exc:
        if attempt < APPLY_ATTEMPTS:
            raise
        messaging.dead_letter(
            Task.APPLY_INSIGHT_RESULTS,
            json.dumps(data).encode(),
            kind="task",
            reason=GAVE_UP,
            error=f"{type(exc).__name__}: {exc}"[:500],
            function=Task.APPLY_INSIGHT_RESULTS.value,
        )
        store.update_now(_run_ref(run), {f"applied.{name}": now})
        return 0


def _apply(run: str, name: str, data: dict[str, Any], now: datetime) -> int:
    isolation = tolerant.Isolation("applyInsightResults")
    stored = 0
    if "part" in data:
        part = _part_ref(run, str(data["part"]))
        for key, entry in ((store.get(part).to_dict() or {}).get("people") or {}).items():
            with isolation.item("week", entry["uid"]):
                _store_fallback(key, entry, now)
                store.update_now(part, {f"people.{key}": _delete_field()})
                stored += 1
    else:
        stored = _apply_output(run, str(data["output"]), now, isolation)
    store.update_now(_run_ref(run), {f"applied.{name}": now})
    logs.get_logger().info("insight results applied", run=run, stored=stored, **isolation.counts())
    return stored


def _apply_output(run: str, uri: str, now: datetime, isolation: tolerant.Isolation) -> int:
    people: dict[str, dict[str, Any]] = {}  # by part id: the part's key map, read once
    stored = 0
    for result in model_batch.results_of(uri):
        part_id = result.key.split("-", 1)[0]
        with isolation.item("line", item_id=part_id):
            if part_id not in people:
                people[part_id] = store.get(_part_ref(run, part_id)).get("people") or {}
            entry = people[part_id].get(result.key)
            if entry is None:
                continue  # consent withdrawn or account erased since: dropped
            features = WeekFeatures.model_validate(entry["features"])
            insight, from_model = _chosen(result, features)
            fingerprint = features_key(features)
            if insights.store_ready(
                entry["uid"],
                features,
                insight,
                InsightSource.MODEL if from_model else InsightSource.FALLBACK,
                model=model_name() if from_model else None,
                features_key=fingerprint,
                now=now,
                batch_key=result.key,
            ):
                stored += 1
            if from_model:
                insight_cache.put(fingerprint, model_name(), insight, now)
            store.update_now(_part_ref(run, part_id), {f"people.{result.key}": _delete_field()})
    return stored
