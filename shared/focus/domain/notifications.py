"""Push notifications: what the backend sends to a device, before any vendor's format, and when.

A ``Push`` is one message to one device token. Silent sync pushes wake the app to apply a change
made on another device (data only, no alert); visible pushes show a title and body. The adapter
(``focus.adapters.push``) turns a ``Push`` into an FCM HTTP v1 message with the APNs and Android
headers its kind needs (docs/notifications.md).

Everything here is pure: every moment is an argument (timezone-aware), every time zone is named
(``zoneinfo``), so the machine's clock and zone never matter.

- **Silent sync** (``plan_sync``): to the person's devices other than the one that made the
  change, coalesced (the edits of one sitting travel in one push per device), within a per-device
  hourly budget (Apple throttles more than about 2-3 background pushes an hour).
- **Visible** (``decide``): per kind, the person's notification settings, consent, a daily cap,
  the person's quiet hours and how long the message stays useful decide: send now, defer (ask
  again then, with fresh facts) or drop. ``visible_pushes`` then builds the localised pushes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from focus.domain.consent import Consent, Purpose, allows
from focus.domain.devices import Platform
from focus.domain.model import Contract, Document, utc_text


class MessageKind(StrEnum):
    """Every kind of message the backend sends; each has its own policy (caps, quiet hours)."""

    SYNC = "sync"  # silent: blocks, strictness or sessions changed on another device
    SESSION_FINISHED = "session_finished"
    STREAK_AT_RISK = "streak_at_risk"
    WEEKLY_REPORT = "weekly_report"
    BILLING_PROBLEM = "billing_problem"


class Push(Contract):
    """One message to one device token. ``silent`` pushes carry ``data`` only; visible ones carry
    ``title`` and ``body`` (already localised). ``collapse_key`` lets the platform replace an
    undelivered message of the same key with the newer one; ``ttl_seconds`` bounds how long the
    platform keeps trying to deliver it."""

    token: str = Field(min_length=1, max_length=4096)
    platform: Platform
    kind: MessageKind
    silent: bool
    data: dict[str, str] = Field(default_factory=dict)
    title: str | None = None
    body: str | None = None
    collapse_key: str = Field(min_length=1, max_length=64)
    ttl_seconds: int = Field(ge=0, le=28 * 24 * 3600)


MAX_TTL = timedelta(days=28)  # FCM's limit


@dataclass(frozen=True)
class PushTarget:
    """One of the person's devices that has a push token."""

    device_id: str
    token: str
    platform: Platform


def _aware(now: datetime) -> datetime:
    # A naive moment would be read in the machine's zone: refuse it rather than guess.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("moments must be timezone-aware")
    return now


# --- Silent sync ---------------------------------------------------------------------------------


class SyncScope(StrEnum):
    """What the app must re-read."""

    BLOCKS = "blocks"
    STRICTNESS = "strictness"
    SESSIONS = "sessions"


# A push goes out this long after the first edit it carries: the edits of one sitting (people
# change a schedule in a minute or two) travel together, and the device reads their final state.
SYNC_COALESCING_WINDOW = timedelta(minutes=2)
# Background pushes per device per rolling hour. Apple delivers "low priority" background pushes
# at its discretion and throttles more than about 2-3 an hour; staying at 3 keeps each one likely
# delivered instead of silently dropped. Android has no such throttle, but normal-priority data
# messages wait for Doze maintenance windows anyway: 6 an hour bounds battery and quota use.
SYNC_BUDGET_PER_HOUR: Mapping[Platform, int] = {
    Platform.IOS: 3,
    Platform.MACOS: 3,
    Platform.ANDROID: 6,
}
# The app re-reads everything when it starts or reconnects; a sync push older than an hour would
# spend the device's background budget on a state it reads anyway.
SYNC_TTL = timedelta(hours=1)
SYNC_COLLAPSE_KEY = "sync"
_HOUR = timedelta(hours=1)


class SyncChange(Document):
    """A change the person's other devices must apply. ``changed_by`` is the device that made it
    (it has it already); None for a change the server made (all devices need it)."""

    what: SyncScope
    changed_at: datetime
    changed_by: str | None = None


class PendingSync(Document):
    """The one sync push waiting to go to a device: due at ``due_at``, carrying every scope
    changed since the last push and the latest change's moment."""

    due_at: datetime
    what: list[SyncScope] = Field(min_length=1)
    changed_at: datetime


class DeviceSync(Document):
    """Per device, what coalescing and the budget need: sends in the last hour, the pending push,
    and per scope the latest change folded in (a change of that scope no later than it is a
    redelivery: nothing new; per scope, so a late change of another scope still counts)."""

    recent_sends: list[datetime] = Field(default_factory=list)
    pending: PendingSync | None = None
    latest_changes: dict[SyncScope, datetime] = Field(default_factory=dict)


@dataclass(frozen=True)
class SyncPlan:
    """For one device: its state after the change. ``schedule`` is True when the change created
    the pending push (send it at ``state.pending.due_at``); False when it joined one already
    scheduled (nothing more to send)."""

    target: PushTarget
    state: DeviceSync
    schedule: bool


def sync_targets(devices: Sequence[PushTarget], changed_by: str | None) -> list[PushTarget]:
    """The devices a change must reach: all of the person's devices but the one that made it."""
    return [device for device in devices if device.device_id != changed_by]


def next_budget_slot(
    recent_sends: Sequence[datetime], platform: Platform, now: datetime
) -> datetime:
    """The first moment from ``now`` at which one more push keeps every rolling hour within the
    platform's budget (no push is sent between now and then: at most one is ever pending)."""
    budget = SYNC_BUDGET_PER_HOUR[platform]
    in_last_hour = sorted(sent for sent in recent_sends if sent > now - _HOUR)
    if len(in_last_hour) < budget:
        return now
    # Once the oldest send that would make one too many is an hour old, there is room again.
    return in_last_hour[len(in_last_hour) - budget] + _HOUR


def coalesce(
    state: DeviceSync,
    change: SyncChange,
    platform: Platform,
    now: datetime,
    window: timedelta = SYNC_COALESCING_WINDOW,
) -> tuple[DeviceSync, bool]:
    """The device's state with ``change`` folded in, and whether a new push must be scheduled.

    A change joins the pending push if there is one; otherwise it starts one, due a coalescing
    window from now or when the hourly budget has room again, whichever is later."""
    now = _aware(now)
    pending = state.pending
    seen = state.latest_changes.get(change.what)
    if seen is not None and change.changed_at <= seen:
        return state, False  # a change already folded in, delivered again
    latest = {**state.latest_changes, change.what: change.changed_at}
    if pending is not None:
        joined = pending.model_copy(
            update={
                "what": sorted({*pending.what, change.what}),
                "changed_at": max(pending.changed_at, change.changed_at),
            }
        )
        return state.model_copy(update={"pending": joined, "latest_changes": latest}), False
    due = max(now + window, next_budget_slot(state.recent_sends, platform, now))
    started = PendingSync(due_at=due, what=[change.what], changed_at=change.changed_at)
    return state.model_copy(update={"pending": started, "latest_changes": latest}), True


def plan_sync(
    devices: Sequence[tuple[PushTarget, DeviceSync]],
    change: SyncChange,
    now: datetime,
    window: timedelta = SYNC_COALESCING_WINDOW,
) -> list[SyncPlan]:
    """What ``change`` means for each of the person's devices (the one that made it excluded).
    ``window``: the coalescing window (the local emulator suite shortens it so tests need not
    wait two minutes; production always uses ``SYNC_COALESCING_WINDOW``)."""
    plans = []
    for target, state in devices:
        if target.device_id == change.changed_by:
            continue
        coalesced, schedule = coalesce(state, change, target.platform, now, window)
        plans.append(SyncPlan(target=target, state=coalesced, schedule=schedule))
    return plans


def after_sync_sent(state: DeviceSync, sent_at: datetime) -> DeviceSync:
    """The device's state once its pending push went out: no pending push, the send counted
    (sends older than an hour forgotten: the budget looks back one hour only)."""
    sent_at = _aware(sent_at)
    recent = [sent for sent in state.recent_sends if sent > sent_at - _HOUR]
    return DeviceSync(
        recent_sends=[*recent, sent_at], pending=None, latest_changes=state.latest_changes
    )


def sync_push(target: PushTarget, pending: PendingSync) -> Push:
    """The silent push for a device's pending sync: data only, collapsible, short-lived."""
    return Push(
        token=target.token,
        platform=target.platform,
        kind=MessageKind.SYNC,
        silent=True,
        data={
            "kind": MessageKind.SYNC.value,
            "what": ",".join(scope.value for scope in pending.what),
            "changedAt": utc_text(pending.changed_at),
        },
        collapse_key=SYNC_COLLAPSE_KEY,
        ttl_seconds=int(SYNC_TTL.total_seconds()),
    )


# --- Visible messages ----------------------------------------------------------------------------


class SessionFinished(Document):
    """A focus session ended; ``ended_by`` is the device that ended it (its screen shows it)."""

    kind: Literal[MessageKind.SESSION_FINISHED] = MessageKind.SESSION_FINISHED
    session_id: str = Field(min_length=1, max_length=128)
    focused_minutes: int = Field(ge=0, le=1440)
    ended_at: datetime
    ended_by: str | None = None


# A nudge's body (``focus.domain.nudges``): one line on a lock screen, in every language.
MAX_NOTE = 110


class StreakAtRisk(Document):
    """On the person's local ``day``, today's goal is not met yet and a streak would end.
    ``note``: the body a model wrote for the person (a nudge, checked), shown instead of the
    template's; None for the template."""

    kind: Literal[MessageKind.STREAK_AT_RISK] = MessageKind.STREAK_AT_RISK
    day: date
    streak_days: int = Field(ge=0)
    goal_met_today: bool
    note: str | None = Field(default=None, min_length=1, max_length=MAX_NOTE)


class WeeklyReportReady(Document):
    kind: Literal[MessageKind.WEEKLY_REPORT] = MessageKind.WEEKLY_REPORT
    week_start: date
    ready_at: datetime


class BillingProblem(Document):
    """A renewal failed (published by the subscriptions issue)."""

    kind: Literal[MessageKind.BILLING_PROBLEM] = MessageKind.BILLING_PROBLEM
    occurred_at: datetime


VisibleMessage = Annotated[
    SessionFinished | StreakAtRisk | WeeklyReportReady | BillingProblem,
    Field(discriminator="kind"),
]


@dataclass(frozen=True)
class Policy:
    """How one visible kind is sent. ``purpose``: the consent it needs (None: a service message
    about the person's own action or contract). ``daily_cap``: per person and local calendar
    day. ``useful_for``: after the event, how long it is worth showing: a push due in quiet hours
    is deferred to their end if it is still useful then, dropped otherwise."""

    purpose: Purpose | None
    daily_cap: int
    useful_for: timedelta
    collapse_key: str


POLICIES: Mapping[MessageKind, Policy] = {
    # Service: the outcome of the person's own action. Late is useless: by morning they know.
    MessageKind.SESSION_FINISHED: Policy(None, 8, timedelta(hours=1), "session_finished"),
    # Marketing-like (it asks the person to come back): needs consent. Only in the evening window
    # (STREAK_EVENING); useless after it, so never deferred past it.
    MessageKind.STREAK_AT_RISK: Policy(
        Purpose.PRODUCT_MESSAGES, 1, timedelta(hours=1), "streak_at_risk"
    ),
    # Marketing-like: needs consent. Still worth reading the next morning.
    MessageKind.WEEKLY_REPORT: Policy(
        Purpose.PRODUCT_MESSAGES, 1, timedelta(days=2), "weekly_report"
    ),
    # Service: about the person's contract (paid access at stake). Worth it for days.
    MessageKind.BILLING_PROBLEM: Policy(None, 1, timedelta(days=3), "billing_problem"),
}

# Streak at risk: 20:00-21:00 in the person's own time zone, late enough for the day's picture to
# be clear, early enough to still meet the goal.
STREAK_EVENING = (time(20), time(21))


class QuietHours(Document):
    """Local hours without visible pushes, from ``start_hour`` to ``end_hour`` (across midnight
    when start > end). Equal hours: no quiet hours."""

    start_hour: int = Field(default=22, ge=0, le=23)
    end_hour: int = Field(default=8, ge=0, le=23)

    def contains(self, local: datetime) -> bool:
        start, end, hour = self.start_hour, self.end_hour, local.hour
        if start == end:
            return False
        return start <= hour < end if start < end else hour >= start or hour < end

    def until(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours around ``now`` end (UTC), or None when ``now`` is not in them.

        Wall-clock arithmetic in the person's zone: an end hour the clocks skip ends them at the
        jump; an end hour that happens twice ends them the first time."""
        local = _aware(now).astimezone(zone)
        if not self.contains(local):
            return None
        end = local.replace(hour=self.end_hour, minute=0, second=0, microsecond=0, fold=0)
        if end <= local:  # same tzinfo: compares wall-clock times
            end += timedelta(days=1)
        return end.astimezone(UTC)


class NotificationSettings(Document):
    """The person's choices: each visible kind on or off, and their quiet hours."""

    session_finished: bool = True
    streak_at_risk: bool = True
    weekly_report: bool = True
    billing_problem: bool = True
    quiet_hours: QuietHours = Field(default_factory=QuietHours)

    def wants(self, kind: MessageKind) -> bool:
        return {
            MessageKind.SESSION_FINISHED: self.session_finished,
            MessageKind.STREAK_AT_RISK: self.streak_at_risk,
            MessageKind.WEEKLY_REPORT: self.weekly_report,
            MessageKind.BILLING_PROBLEM: self.billing_problem,
        }.get(kind, True)


class SentPush(Document):
    """A visible push sent to the person (to all their devices at once): what the caps count."""

    kind: MessageKind
    sent_at: datetime


@dataclass(frozen=True)
class PersonContext:
    """Everything about the person a decision needs, read beforehand."""

    timezone: str  # IANA
    locale: str  # BCP 47, from the profile's settings
    settings: NotificationSettings
    consents: Mapping[Purpose, Consent]
    sent: Sequence[SentPush] = ()


class DropReason(StrEnum):
    SETTING_OFF = "setting_off"
    NO_CONSENT = "no_consent"
    NOT_NEEDED = "not_needed"  # streak at risk: no streak, or today's goal already met
    TOO_LATE = "too_late"
    DAILY_CAP = "daily_cap"
    QUIET_HOURS = "quiet_hours"  # due in quiet hours and no longer useful when they end


@dataclass(frozen=True)
class SendNow:
    pass


@dataclass(frozen=True)
class Defer:
    """Not yet: decide again at ``until`` with fresh facts (settings, consent, caps may change)."""

    until: datetime


@dataclass(frozen=True)
class Drop:
    reason: DropReason


Decision = SendNow | Defer | Drop


def send_window(message: VisibleMessage, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From when and until when (excluded) ``message`` may be shown, in UTC."""
    if isinstance(message, StreakAtRisk):
        opens, closes = STREAK_EVENING
        return (
            datetime.combine(message.day, opens, zone).astimezone(UTC),
            datetime.combine(message.day, closes, zone).astimezone(UTC),
        )
    if isinstance(message, SessionFinished):
        since = message.ended_at
    elif isinstance(message, WeeklyReportReady):
        since = message.ready_at
    else:
        since = message.occurred_at
    since = _aware(since).astimezone(UTC)
    return since, since + POLICIES[message.kind].useful_for


def sent_today(person: PersonContext, kind: MessageKind, now: datetime) -> int:
    """Pushes of ``kind`` sent on the person's local calendar date of ``now``."""
    zone = ZoneInfo(person.timezone)
    today = now.astimezone(zone).date()
    return sum(
        1
        for sent in person.sent
        if sent.kind == kind and sent.sent_at.astimezone(zone).date() == today
    )


def decide(message: VisibleMessage, person: PersonContext, now: datetime) -> Decision:
    """Whether to show ``message`` to the person now, later (ask again then) or never."""
    now = _aware(now)
    policy = POLICIES[message.kind]
    if not person.settings.wants(message.kind):
        return Drop(DropReason.SETTING_OFF)
    if policy.purpose is not None and not allows(person.consents.get(policy.purpose)):
        return Drop(DropReason.NO_CONSENT)
    if isinstance(message, StreakAtRisk) and (message.streak_days == 0 or message.goal_met_today):
        return Drop(DropReason.NOT_NEEDED)
    zone = ZoneInfo(person.timezone)
    opens, closes = send_window(message, zone)
    if now >= closes:
        return Drop(DropReason.TOO_LATE)
    if now < opens:
        return Defer(opens)
    if sent_today(person, message.kind, now) >= policy.daily_cap:
        return Drop(DropReason.DAILY_CAP)
    quiet_until = person.settings.quiet_hours.until(now, zone)
    if quiet_until is not None:
        return Defer(quiet_until) if quiet_until < closes else Drop(DropReason.QUIET_HOURS)
    return SendNow()


# --- Localised texts -----------------------------------------------------------------------------


class Language(StrEnum):
    EN = "en"
    DE = "de"
    FR = "fr"
    ES = "es"


FALLBACK_LANGUAGE = Language.EN


def language_of(locale: str) -> Language:
    """The language we write to a locale (``de-AT`` -> de, ``fr_CA`` -> fr); English otherwise."""
    primary = locale.replace("_", "-").split("-")[0].lower()
    try:
        return Language(primary)
    except ValueError:
        return FALLBACK_LANGUAGE


@dataclass(frozen=True)
class Text:
    """A title and a body; ``body_one`` is the body for a count the language calls singular."""

    title: str
    body: str
    body_one: str | None = None


# fr: a non-breaking space before ":" as French typography wants.
TEXTS: Mapping[Language, Mapping[MessageKind, Text]] = {
    Language.EN: {
        MessageKind.SESSION_FINISHED: Text(
            "Focus session finished", "Well done: {minutes} min of focus."
        ),
        MessageKind.STREAK_AT_RISK: Text(
            "Your streak is at risk",
            "Meet today's goal to keep your {days}-day streak.",
            "Meet today's goal to keep your 1-day streak.",
        ),
        MessageKind.WEEKLY_REPORT: Text("Your weekly report is ready", "See how your week went."),
        MessageKind.BILLING_PROBLEM: Text(
            "Payment problem",
            "We couldn't renew your subscription. Please check your payment details.",
        ),
    },
    Language.DE: {
        MessageKind.SESSION_FINISHED: Text(
            "Fokus-Sitzung beendet", "Gut gemacht: {minutes} Min. Fokus."
        ),
        MessageKind.STREAK_AT_RISK: Text(
            "Deine Serie ist in Gefahr",
            "Erreiche heute dein Ziel, damit deine Serie von {days} Tagen weiterläuft.",
            "Erreiche heute dein Ziel, damit deine Serie von 1 Tag weiterläuft.",
        ),
        MessageKind.WEEKLY_REPORT: Text(
            "Dein Wochenbericht ist da", "Sieh dir an, wie deine Woche lief."
        ),
        MessageKind.BILLING_PROBLEM: Text(
            "Problem mit der Zahlung",
            "Wir konnten dein Abo nicht verlängern. Bitte prüfe deine Zahlungsdaten.",
        ),
    },
    Language.FR: {
        MessageKind.SESSION_FINISHED: Text(
            "Session de concentration terminée", "Bravo\u00a0: {minutes} min de concentration."
        ),
        MessageKind.STREAK_AT_RISK: Text(
            "Ta série est en danger",
            "Atteins ton objectif du jour pour garder ta série de {days} jours.",
            "Atteins ton objectif du jour pour garder ta série de {days} jour.",
        ),
        MessageKind.WEEKLY_REPORT: Text(
            "Ton bilan de la semaine est prêt", "Découvre comment s'est passée ta semaine."
        ),
        MessageKind.BILLING_PROBLEM: Text(
            "Problème de paiement",
            "Nous n'avons pas pu renouveler ton abonnement. Vérifie tes informations de paiement.",
        ),
    },
    Language.ES: {
        MessageKind.SESSION_FINISHED: Text(
            "Sesión de concentración terminada", "¡Bien hecho! {minutes} min de concentración."
        ),
        MessageKind.STREAK_AT_RISK: Text(
            "Tu racha está en peligro",
            "Cumple tu objetivo de hoy para mantener tu racha de {days} días.",
            "Cumple tu objetivo de hoy para mantener tu racha de 1 día.",
        ),
        MessageKind.WEEKLY_REPORT: Text(
            "Tu informe semanal está listo", "Mira cómo te fue la semana."
        ),
        MessageKind.BILLING_PROBLEM: Text(
            "Problema con el pago",
            "No pudimos renovar tu suscripción. Revisa tus datos de pago.",
        ),
    },
}


def _singular(language: Language, count: int) -> bool:
    # CLDR plural rules for integers: French counts 0 and 1 as singular, the others only 1.
    return count in (0, 1) if language is Language.FR else count == 1


def localised(message: VisibleMessage, locale: str) -> tuple[str, str]:
    """The title and body of ``message`` in the person's language (English as the fallback)."""
    language = language_of(locale)
    text = TEXTS[language][message.kind]
    if isinstance(message, StreakAtRisk):
        if message.note is not None:
            return text.title, message.note
        one = text.body_one is not None and _singular(language, message.streak_days)
        body = (text.body_one if one and text.body_one else text.body).format(
            days=message.streak_days
        )
        return text.title, body
    if isinstance(message, SessionFinished):
        return text.title, text.body.format(minutes=message.focused_minutes)
    return text.title, text.body


def still_worth_showing(kind: MessageKind, since: datetime, now: datetime) -> bool:
    """Whether a message about an event at ``since`` can still be shown at ``now`` (within its
    policy's ``useful_for``): an older one (a session counted late, by a sweep) is not even
    recorded."""
    return _aware(now) - since < POLICIES[kind].useful_for


def visible_targets(devices: Sequence[PushTarget], message: VisibleMessage) -> list[PushTarget]:
    """The devices to show ``message`` on: all, but a session's end not on the device that
    ended it (its own screen shows it)."""
    if isinstance(message, SessionFinished):
        return [device for device in devices if device.device_id != message.ended_by]
    return list(devices)


def _data(message: VisibleMessage) -> dict[str, str]:
    # What the app needs to open the right screen when the notification is tapped.
    data = {"kind": message.kind.value}
    if isinstance(message, SessionFinished):
        data["sessionId"] = message.session_id
    elif isinstance(message, WeeklyReportReady):
        data["weekStart"] = message.week_start.isoformat()
    elif isinstance(message, StreakAtRisk):
        data["day"] = message.day.isoformat()
    return data


def visible_pushes(
    message: VisibleMessage,
    person: PersonContext,
    devices: Sequence[PushTarget],
    now: datetime,
) -> list[Push]:
    """The pushes for a message ``decide`` said to send now: one per target device, localised,
    living only as long as the message stays useful."""
    title, body = localised(message, person.locale)
    _opens, closes = send_window(message, ZoneInfo(person.timezone))
    ttl = min(max(closes - _aware(now), timedelta(0)), MAX_TTL)
    return [
        Push(
            token=device.token,
            platform=device.platform,
            kind=message.kind,
            silent=False,
            data=_data(message),
            title=title,
            body=body,
            collapse_key=POLICIES[message.kind].collapse_key,
            ttl_seconds=int(ttl.total_seconds()),
        )
        for device in visible_targets(devices, message)
    ]


# --- Retrying a send -----------------------------------------------------------------------------

# After a transient failure (5xx, timeout) without a Retry-After: exponential from 10 s, at most
# 5 minutes, with full jitter so the many workers a campaign runs do not come back in step.
RETRY_BASE = timedelta(seconds=10)
RETRY_CAP = timedelta(minutes=5)


def retry_delay(retry_after_seconds: int | None, attempt: int, jitter: float) -> timedelta:
    """How long to wait before sending again after attempt ``attempt`` (1 for the first) failed.

    A ``Retry-After`` is honoured: never sooner, plus up to 20% jitter (everyone throttled at the
    same moment would otherwise return at the same moment and be throttled again). Without one,
    full jitter over an exponential backoff. ``jitter`` is a number in [0, 1) the caller draws."""
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")
    if retry_after_seconds is not None:
        seconds = max(0, retry_after_seconds)
        return timedelta(seconds=seconds * (1 + 0.2 * jitter))
    doublings = min(max(0, attempt - 1), 16)
    ceiling = min(RETRY_CAP.total_seconds(), RETRY_BASE.total_seconds() * 2**doublings)
    return timedelta(seconds=max(1.0, ceiling * jitter))
