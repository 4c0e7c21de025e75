"""A person's streak-at-risk push with its body written by a model: the nudge (``writeNudge``,
enqueued by the campaign batch, ``focus.services.campaigns``, for people who granted AI
processing).

The push itself is the campaign's: decided, recorded in the outbox and sent the same way
(``campaigns.decide``, ``campaigns.record``, ``outbox.deliver``), under the same entry id (one
streak push per person and day, whoever wrote it). Only its body changes: the model's, when
consent, the budgets (``model_budget.spend``), an answer within ``TIMEOUT_S`` and the checks
(``focus.domain.nudges.check``) all allow it; the template's otherwise. A nudge never costs the
person their reminder: whatever goes wrong with the model, the template goes out.

Idempotent: the entry is looked up first, so a redelivered task neither sends nor asks the model
again; two deliveries racing both past that look-up record one entry (the second ``create``
fails) and send one push.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from focus.adapters import clients, logs, model, paths, store, tracing
from focus.domain import campaigns as campaign_rules
from focus.domain import nudges as domain
from focus.domain.campaigns import Campaign
from focus.domain.consent import Purpose
from focus.domain.insights import Refusal
from focus.domain.notifications import Defer, DropReason, StreakAtRisk
from focus.domain.nudges import Nudge
from focus.domain.outbox import visible_entry_id
from focus.domain.profiles import Settings
from focus.services import campaigns, consents, model_budget, outbox, profiles

# The evening's push should not wait on a slow model: the template is as good as a late nudge.
TIMEOUT_S = 8


@tracing.traced("nudges.write")
def write(data: dict[str, Any], now: datetime) -> None:
    """Write and send the person's streak-at-risk push of ``day`` (the task's payload: userId,
    day, readyAt), the model's nudge as its body where allowed."""
    uid = str(data["userId"])
    day = date.fromisoformat(data["day"])
    ready_at = datetime.fromisoformat(data["readyAt"])
    logs.bind_user(uid)
    log = logs.get_logger()
    db = clients.firestore()
    profile_snapshot = store.get(db.document(paths.user(uid)))
    if not profile_snapshot.exists:
        log.info("nudge not sent", because="no_profile")  # erased since the batch
        return
    profile = profile_snapshot.to_dict() or {}
    person = profiles.read(uid, profile)
    # Decided again from the profile as it is now: the goal may have been met since the batch.
    message = campaign_rules.message_for(
        Campaign.STREAK_AT_RISK, day, ready_at, person.streak.current, person.streak.last_day
    )
    if not domain.wanted(message):
        log.info("nudge not sent", because=DropReason.NOT_NEEDED.value)
        return
    entry_id = visible_entry_id(message)
    if store.get(db.document(paths.outbox_entry(uid, entry_id))).exists:
        log.info("nudge already recorded", entry=entry_id)  # a redelivered task
        return
    owed = campaigns.decide(uid, profile, message, now)
    if isinstance(owed, str):
        log.info("nudge not sent", because=owed)
        return
    nudge, why = _written(uid, message, person.settings, now)
    claimed = campaigns.record(replace(owed, message=domain.with_note(message, nudge)), now)
    log.info(
        "nudge written",
        source="model" if nudge is not None else "template",
        because=why,
        deferred=isinstance(owed.decision, Defer),
    )
    if claimed is not None:
        outbox.deliver([claimed])


def _written(
    uid: str, message: StreakAtRisk, settings: Settings, now: datetime
) -> tuple[Nudge | None, str]:
    """The model's nudge for ``message``, checked, and ``"model"``; or None (the template) and
    why: no consent, the budget spent, the model failed, refused or answered something the
    checks refuse."""
    if not consents.require(uid, Purpose.AI_PROCESSING):
        return None, "no_consent"  # withdrawn since the batch
    if not model_budget.spend(uid, now):
        return None, "budget_spent"
    figures = domain.figures_of(message, settings)
    try:
        answer = model.generate(
            domain.prompt_for(figures), domain.answer_schema(), timeout_s=TIMEOUT_S
        )
    except model.ModelUnavailable as exc:
        return None, f"unavailable:{exc.reason}"
    except model.ModelRefused as exc:
        return None, f"refused:{exc.reason}"
    except Exception as exc:
        # A rejected request (a bug or a misconfiguration), or any other failure of the call:
        # not this person's evening. The template goes out; the error is logged for whoever
        # fixes it, rather than failing the task and losing the reminder.
        logs.get_logger().exception("nudge model call failed", error=type(exc).__name__)
        return None, "failed"
    checked = domain.check(answer.text, figures)
    if isinstance(checked, Refusal):
        return None, f"answer_refused:{checked.value}"
    return checked, "model"
