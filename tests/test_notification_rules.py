"""When the backend pushes what to whom (focus.domain.notifications): silent sync pushes reach the
person's other devices once per burst of edits and within Apple's background budget; visible
pushes respect the person's settings, consent, daily caps and quiet hours in their own time zone,
in their language. Pure: fixed moments, named zones, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focus.domain.consent import Consent, Purpose
from focus.domain.devices import Platform
from focus.domain.notifications import (
    SYNC_BUDGET_PER_HOUR,
    SYNC_COALESCING_WINDOW,
    BillingProblem,
    Defer,
    DeviceSync,
    Drop,
    DropReason,
    MessageKind,
    NotificationSettings,
    PersonContext,
    PushTarget,
    QuietHours,
    SendNow,
    SentPush,
    SessionFinished,
    StreakAtRisk,
    SyncChange,
    SyncScope,
    VisibleMessage,
    WeeklyReportReady,
    after_sync_sent,
    decide,
    language_of,
    localised,
    plan_sync,
    retry_delay,
    sync_push,
    visible_pushes,
)

PURE = settings(max_examples=200, derandomize=True, database=None, deadline=None)
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

MAC = PushTarget("mac", "token-mac", Platform.MACOS)
IPHONE = PushTarget("iphone", "token-iphone", Platform.IOS)
PIXEL = PushTarget("pixel", "token-pixel", Platform.ANDROID)
DEVICES = [MAC, IPHONE, PIXEL]


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock moment in ``zone``."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


# --- Silent sync ---------------------------------------------------------------------------------


class Devices:
    """The person's devices' sync state, with a worker that sends each pending push when due."""

    def __init__(self, targets: list[PushTarget]) -> None:
        self.targets = targets
        self.state = {t.device_id: DeviceSync() for t in targets}
        self.sent: list[tuple[str, datetime, str]] = []  # device, when, what

    def run_until(self, moment: datetime) -> None:
        for target in self.targets:
            pending = self.state[target.device_id].pending
            if pending is not None and pending.due_at <= moment:
                push = sync_push(target, pending)
                self.sent.append((target.device_id, pending.due_at, push.data["what"]))
                self.state[target.device_id] = after_sync_sent(
                    self.state[target.device_id], pending.due_at
                )

    def edit(self, by: str | None, at: datetime, what: SyncScope = SyncScope.BLOCKS) -> None:
        self.run_until(at)
        change = SyncChange(what=what, changed_at=at, changed_by=by)
        pairs = [(t, self.state[t.device_id]) for t in self.targets]
        for plan in plan_sync(pairs, change, at):
            self.state[plan.target.device_id] = plan.state

    def sends_to(self, device: str) -> list[datetime]:
        return [at for who, at, _ in self.sent if who == device]


def test_a_burst_of_edits_on_the_mac_sends_one_silent_push_to_each_other_device() -> None:
    person = Devices(DEVICES)
    for n in range(20):  # 20 edits in two minutes
        person.edit("mac", NOW + timedelta(seconds=6 * n), SyncScope.BLOCKS)
    person.run_until(NOW + timedelta(hours=1))

    assert person.sends_to("mac") == []
    assert person.sends_to("iphone") == [NOW + SYNC_COALESCING_WINDOW]
    assert person.sends_to("pixel") == [NOW + SYNC_COALESCING_WINDOW]


def test_a_sync_push_is_silent_collapsible_short_lived_and_says_what_changed() -> None:
    person = Devices([MAC, IPHONE])
    person.edit("mac", NOW, SyncScope.BLOCKS)
    person.edit("mac", NOW + timedelta(seconds=30), SyncScope.STRICTNESS)
    pending = person.state["iphone"].pending
    assert pending is not None

    push = sync_push(IPHONE, pending)

    assert push.silent and push.title is None and push.body is None
    assert push.data == {
        "kind": "sync",
        "what": "blocks,strictness",
        "changedAt": "2026-11-24T10:00:30Z",
    }
    assert push.collapse_key == "sync" and push.ttl_seconds == 3600


def test_a_change_made_by_the_server_reaches_every_device() -> None:
    person = Devices(DEVICES)
    person.edit(None, NOW, SyncScope.SESSIONS)
    person.run_until(NOW + timedelta(minutes=5))

    assert {who for who, _, what in person.sent if what == "sessions"} == {
        "mac",
        "iphone",
        "pixel",
    }


def test_a_change_delivered_again_after_its_push_went_out_sends_nothing_more() -> None:
    """Triggers run at least once: a redelivered event must not wake the devices again."""
    person = Devices([MAC, IPHONE])
    person.edit("mac", NOW, SyncScope.BLOCKS)
    person.run_until(NOW + timedelta(minutes=5))

    person.edit("mac", NOW, SyncScope.BLOCKS)  # the same change, an event delivered twice
    person.run_until(NOW + timedelta(hours=1))

    assert person.sends_to("iphone") == [NOW + SYNC_COALESCING_WINDOW]


def test_a_late_change_of_another_kind_still_reaches_the_devices() -> None:
    """Redeliveries are recognised per kind of change: a session started before a block edit,
    whose event arrives after the edit's push went out, is still news."""
    person = Devices([MAC, IPHONE])
    person.edit("mac", NOW, SyncScope.BLOCKS)
    person.run_until(NOW + timedelta(minutes=5))

    person.edit("mac", NOW - timedelta(seconds=30), SyncScope.SESSIONS)
    person.run_until(NOW + timedelta(hours=1))

    assert [what for who, _, what in person.sent if who == "iphone"] == ["blocks", "sessions"]


def test_an_iphone_gets_at_most_three_background_pushes_an_hour() -> None:
    person = Devices([MAC, IPHONE])
    for n in range(12):  # an edit every five minutes for an hour
        person.edit("mac", NOW + timedelta(minutes=5 * n))
    person.run_until(NOW + timedelta(hours=3))

    sends = person.sends_to("iphone")
    assert sends[:3] == [NOW + timedelta(minutes=m) for m in (2, 7, 12)]
    # The fourth waits until the first is an hour old; the last edit is still delivered.
    assert sends[3] == NOW + timedelta(minutes=62)
    assert sends[-1] >= NOW + timedelta(minutes=55)
    assert all(
        sum(1 for s in sends if start <= s < start + timedelta(hours=1)) <= 3 for start in sends
    )


@PURE
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=4 * 3600), min_size=1, max_size=40),
    platform=st.sampled_from(Platform),
)
def test_every_edit_is_delivered_after_it_happened_within_the_hourly_budget(
    offsets: list[int], platform: Platform
) -> None:
    other = PushTarget("other", "token-other", platform)
    person = Devices([MAC, other])
    edits = sorted(NOW + timedelta(seconds=s) for s in offsets)
    for at in edits:
        person.edit("mac", at)
    person.run_until(NOW + timedelta(days=1))

    sends = person.sends_to("other")
    budget = SYNC_BUDGET_PER_HOUR[platform]
    assert all(any(sent >= edit for sent in sends) for edit in edits)  # none is lost
    assert sends[0] >= edits[0] + SYNC_COALESCING_WINDOW
    assert len(sends) <= len(edits)
    assert all(
        sum(1 for s in sends if start <= s < start + timedelta(hours=1)) <= budget
        for start in sends
    )


@PURE
@given(offsets=st.lists(st.integers(min_value=0, max_value=119), min_size=1, max_size=50))
def test_edits_within_one_coalescing_window_make_one_push(offsets: list[int]) -> None:
    person = Devices([MAC, IPHONE])
    for at in sorted(NOW + timedelta(seconds=s) for s in offsets):
        person.edit("mac", at)
    person.run_until(NOW + timedelta(hours=1))

    assert len(person.sends_to("iphone")) == 1


# --- Visible: the person's context ---------------------------------------------------------------


def consent(granted: bool) -> dict[Purpose, Consent]:
    return {
        Purpose.PRODUCT_MESSAGES: Consent(
            purpose=Purpose.PRODUCT_MESSAGES,
            granted=granted,
            policy_version="2026-01",
            updated_at=NOW - timedelta(days=30),
            source="app",
        )
    }


def person(
    zone: str = "Europe/Berlin",
    *,
    locale: str = "en-GB",
    granted: bool | None = True,
    prefs: NotificationSettings | None = None,
    sent: tuple[SentPush, ...] = (),
) -> PersonContext:
    return PersonContext(
        timezone=zone,
        locale=locale,
        settings=prefs or NotificationSettings(),
        consents={} if granted is None else consent(granted),
        sent=sent,
    )


def finished(at: datetime, by: str | None = "mac") -> SessionFinished:
    return SessionFinished(session_id="s1", focused_minutes=45, ended_at=at, ended_by=by)


def streak(day: date, days: int = 6, met: bool = False) -> StreakAtRisk:
    return StreakAtRisk(day=day, streak_days=days, goal_met_today=met)


# --- Quiet hours ---------------------------------------------------------------------------------


def test_a_weekly_report_ready_at_night_waits_for_the_morning_across_midnight() -> None:
    ready = local("Asia/Tokyo", 2026, 11, 23, 23, 30)

    decision = decide(
        WeeklyReportReady(week_start=date(2026, 11, 16), ready_at=ready),
        person("Asia/Tokyo"),
        ready,
    )

    assert decision == Defer(local("Asia/Tokyo", 2026, 11, 24, 8, 0).astimezone(UTC))


def test_a_session_that_ends_in_quiet_hours_is_not_announced_in_the_morning() -> None:
    late = local("Europe/Berlin", 2026, 11, 23, 23, 15)
    early = local("Europe/Berlin", 2026, 11, 24, 7, 30)

    assert decide(finished(late), person(), late) == Drop(DropReason.QUIET_HOURS)
    # Half an hour before quiet hours end, it is still worth showing then.
    assert decide(finished(early), person(), early) == Defer(
        local("Europe/Berlin", 2026, 11, 24, 8, 0).astimezone(UTC)
    )


def test_a_billing_problem_at_night_is_shown_when_quiet_hours_end() -> None:
    night = local("America/New_York", 2026, 11, 24, 2, 0)

    assert decide(BillingProblem(occurred_at=night), person("America/New_York"), night) == Defer(
        local("America/New_York", 2026, 11, 24, 8, 0).astimezone(UTC)
    )


@pytest.mark.parametrize(
    ("zone", "night", "morning_utc"),
    [
        # Berlin springs forward (02:00 -> 03:00): the night is an hour shorter.
        ("Europe/Berlin", (2026, 3, 28, 23, 0), datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # ... and falls back (03:00 -> 02:00): an hour longer.
        ("Europe/Berlin", (2026, 10, 24, 23, 0), datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
        ("America/New_York", (2026, 3, 8, 1, 30), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        ("America/New_York", (2026, 11, 1, 1, 30), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        # Sydney springs forward in October; India has no DST and a half-hour offset.
        ("Australia/Sydney", (2026, 10, 4, 2, 30), datetime(2026, 10, 3, 21, 0, tzinfo=UTC)),
        ("Asia/Kolkata", (2026, 11, 23, 22, 0), datetime(2026, 11, 24, 2, 30, tzinfo=UTC)),
    ],
)
def test_quiet_hours_end_at_eight_local_time_across_dst_changes(
    zone: str, night: tuple[int, int, int, int, int], morning_utc: datetime
) -> None:
    at = local(zone, *night)
    ready = WeeklyReportReady(week_start=date(2026, 1, 5), ready_at=at)

    assert decide(ready, person(zone), at) == Defer(morning_utc)
    assert morning_utc.astimezone(ZoneInfo(zone)).hour == 8


def test_quiet_hours_ending_at_a_midnight_the_clocks_skip_end_at_the_jump() -> None:
    # Santiago springs forward at midnight: 2026-09-06 00:00 never happens (23:59 -> 01:00).
    prefs = NotificationSettings(quiet_hours=QuietHours(start_hour=21, end_hour=0))
    at = local("America/Santiago", 2026, 9, 5, 22, 0)
    bill = BillingProblem(occurred_at=at)

    assert decide(bill, person("America/Santiago", prefs=prefs), at) == Defer(
        datetime(2026, 9, 6, 4, 0, tzinfo=UTC)  # 01:00 -03, the first moment of the new day
    )


def test_the_persons_own_quiet_hours_apply_and_equal_hours_mean_none() -> None:
    at = local("Europe/Berlin", 2026, 11, 24, 13, 0)
    siesta = NotificationSettings(quiet_hours=QuietHours(start_hour=13, end_hour=15))
    never_quiet = NotificationSettings(quiet_hours=QuietHours(start_hour=0, end_hour=0))
    midnight = local("Europe/Berlin", 2026, 11, 24, 0, 30)

    assert decide(BillingProblem(occurred_at=at), person(prefs=siesta), at) == Defer(
        local("Europe/Berlin", 2026, 11, 24, 15, 0).astimezone(UTC)
    )
    assert decide(BillingProblem(occurred_at=midnight), person(prefs=never_quiet), midnight) == (
        SendNow()
    )


@PURE
@given(
    zone=st.sampled_from(
        ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
    ),
    minutes=st.integers(min_value=0, max_value=366 * 24 * 60),
)
def test_a_deferred_push_lands_at_the_end_of_quiet_hours_never_inside(
    zone: str, minutes: int
) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    decision = decide(BillingProblem(occurred_at=at), person(zone), at)

    hour = at.astimezone(ZoneInfo(zone)).hour
    if 8 <= hour < 22:
        assert decision == SendNow()
    else:
        assert isinstance(decision, Defer)
        assert timedelta(0) < decision.until - at <= timedelta(hours=11)
        assert decide(BillingProblem(occurred_at=at), person(zone), decision.until) == SendNow()


# --- Streak at risk ------------------------------------------------------------------------------


def test_streak_at_risk_waits_for_the_evening_in_the_persons_time_zone() -> None:
    day = date(2026, 11, 24)
    morning = local("America/Los_Angeles", 2026, 11, 24, 9, 0)

    assert decide(streak(day), person("America/Los_Angeles"), morning) == Defer(
        local("America/Los_Angeles", 2026, 11, 24, 20, 0).astimezone(UTC)
    )
    evening = local("America/Los_Angeles", 2026, 11, 24, 20, 10)
    assert decide(streak(day), person("America/Los_Angeles"), evening) == SendNow()
    too_late = local("America/Los_Angeles", 2026, 11, 24, 21, 0)
    assert decide(streak(day), person("America/Los_Angeles"), too_late) == Drop(DropReason.TOO_LATE)


def test_streak_at_risk_is_sent_once_per_local_day() -> None:
    day = date(2026, 11, 24)
    evening = local("Europe/Paris", 2026, 11, 24, 20, 30)
    earlier = SentPush(kind=MessageKind.STREAK_AT_RISK, sent_at=evening - timedelta(minutes=20))
    yesterday = SentPush(kind=MessageKind.STREAK_AT_RISK, sent_at=evening - timedelta(days=1))

    assert decide(streak(day), person("Europe/Paris", sent=(earlier,)), evening) == Drop(
        DropReason.DAILY_CAP
    )
    assert decide(streak(day), person("Europe/Paris", sent=(yesterday,)), evening) == SendNow()


def test_streak_at_risk_only_when_there_is_a_streak_and_the_goal_is_not_met() -> None:
    day = date(2026, 11, 24)
    evening = local("Europe/Madrid", 2026, 11, 24, 20, 5)

    assert decide(streak(day, days=0), person("Europe/Madrid"), evening) == Drop(
        DropReason.NOT_NEEDED
    )
    assert decide(streak(day, met=True), person("Europe/Madrid"), evening) == Drop(
        DropReason.NOT_NEEDED
    )


def test_streak_at_risk_is_dropped_when_the_evening_falls_in_the_persons_quiet_hours() -> None:
    early_nights = NotificationSettings(quiet_hours=QuietHours(start_hour=19, end_hour=7))
    evening = local("Europe/Berlin", 2026, 11, 24, 20, 15)

    assert decide(streak(date(2026, 11, 24)), person(prefs=early_nights), evening) == Drop(
        DropReason.QUIET_HOURS
    )


# --- Caps, settings, consent ---------------------------------------------------------------------


def test_each_kind_has_a_daily_cap_counted_in_local_days() -> None:
    # 00:30 in Tokyo is still the previous day in UTC: the cap counts Tokyo's days.
    zone = "Asia/Tokyo"
    prefs = NotificationSettings(quiet_hours=QuietHours(start_hour=0, end_hour=0))
    at = local(zone, 2026, 11, 24, 12, 0)
    eight = tuple(
        SentPush(kind=MessageKind.SESSION_FINISHED, sent_at=local(zone, 2026, 11, 24, h, 30))
        for h in range(0, 8)
    )
    billed = (SentPush(kind=MessageKind.BILLING_PROBLEM, sent_at=local(zone, 2026, 11, 24, 9)),)

    assert decide(finished(at), person(zone, prefs=prefs, sent=eight), at) == Drop(
        DropReason.DAILY_CAP
    )
    assert decide(finished(at), person(zone, prefs=prefs, sent=eight[1:]), at) == SendNow()
    assert decide(BillingProblem(occurred_at=at), person(zone, sent=billed), at) == Drop(
        DropReason.DAILY_CAP
    )
    tomorrow = at + timedelta(days=1)
    assert decide(BillingProblem(occurred_at=tomorrow), person(zone, sent=billed), tomorrow) == (
        SendNow()
    )


MIDDAY = local("Europe/Berlin", 2026, 11, 24, 12, 0)
EVERY_KIND: list[VisibleMessage] = [
    finished(MIDDAY),
    WeeklyReportReady(week_start=date(2026, 11, 16), ready_at=MIDDAY),
    BillingProblem(occurred_at=MIDDAY),
]


@pytest.mark.parametrize("message", EVERY_KIND, ids=lambda m: m.kind.value)
def test_a_kind_the_person_turned_off_is_never_sent(message: VisibleMessage) -> None:
    off = NotificationSettings(**{message.kind.value: False})

    assert decide(message, person(prefs=off), MIDDAY) == Drop(DropReason.SETTING_OFF)
    assert decide(message, person(), MIDDAY) == SendNow()


def test_withdrawn_or_missing_consent_stops_marketing_like_pushes_only() -> None:
    report = WeeklyReportReady(week_start=date(2026, 11, 16), ready_at=MIDDAY)
    evening = local("Europe/Berlin", 2026, 11, 24, 20, 0)

    for withdrawn in (person(granted=False), person(granted=None)):
        assert decide(report, withdrawn, MIDDAY) == Drop(DropReason.NO_CONSENT)
        assert decide(streak(date(2026, 11, 24)), withdrawn, evening) == Drop(DropReason.NO_CONSENT)
        # Service messages: the person's own session, their contract.
        assert decide(finished(MIDDAY), withdrawn, MIDDAY) == SendNow()
        assert decide(BillingProblem(occurred_at=MIDDAY), withdrawn, MIDDAY) == SendNow()


def test_a_decision_needs_a_moment_with_its_offset() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(finished(MIDDAY), person(), datetime(2026, 11, 24, 12, 0))


# --- Building the pushes, localised --------------------------------------------------------------


def test_a_finished_session_is_shown_on_the_devices_that_did_not_end_it() -> None:
    pushes = visible_pushes(finished(MIDDAY, by="mac"), person(locale="de-DE"), DEVICES, MIDDAY)

    assert [p.token for p in pushes] == ["token-iphone", "token-pixel"]
    assert all(not p.silent and p.collapse_key == "session_finished" for p in pushes)
    assert pushes[0].title == "Fokus-Sitzung beendet"
    assert pushes[0].body == "Gut gemacht: 45 Min. Fokus."
    assert pushes[0].data == {"kind": "session_finished", "sessionId": "s1"}
    assert pushes[0].ttl_seconds == 3600


def test_a_deferred_push_lives_only_as_long_as_it_is_useful() -> None:
    report = WeeklyReportReady(week_start=date(2026, 11, 16), ready_at=MIDDAY)

    (push,) = visible_pushes(report, person(), [IPHONE], MIDDAY + timedelta(hours=20))

    assert push.ttl_seconds == 28 * 3600  # two days after it was ready
    assert push.data == {"kind": "weekly_report", "weekStart": "2026-11-16"}


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        ("en-US", "Your streak is at risk", "Meet today's goal to keep your 6-day streak."),
        (
            "de-AT",
            "Deine Serie ist in Gefahr",
            "Erreiche heute dein Ziel, damit deine Serie von 6 Tagen weiterläuft.",
        ),
        (
            "fr_CA",
            "Ta série est en danger",
            "Atteins ton objectif du jour pour garder ta série de 6 jours.",
        ),
        (
            "es-419",
            "Tu racha está en peligro",
            "Cumple tu objetivo de hoy para mantener tu racha de 6 días.",
        ),
        # No texts in Portuguese or Japanese yet: English.
        ("pt-BR", "Your streak is at risk", "Meet today's goal to keep your 6-day streak."),
        ("ja", "Your streak is at risk", "Meet today's goal to keep your 6-day streak."),
    ],
)
def test_texts_are_in_the_persons_language_with_english_as_the_fallback(
    locale: str, title: str, body: str
) -> None:
    assert localised(streak(date(2026, 11, 24)), locale) == (title, body)


def test_every_kind_has_a_text_in_every_language_and_singular_days_read_right() -> None:
    for locale in ("en", "de", "fr", "es"):
        assert language_of(locale).value == locale
        for message in [*EVERY_KIND, streak(date(2026, 11, 24))]:
            title, body = localised(message, locale)
            assert title and body and "{" not in body
    assert localised(streak(date(2026, 11, 24), days=1), "en")[1].endswith("1-day streak.")
    assert localised(streak(date(2026, 11, 24), days=1), "de")[1].endswith("1 Tag weiterläuft.")
    assert localised(streak(date(2026, 11, 24), days=1), "fr")[1].endswith("de 1 jour.")
    assert localised(streak(date(2026, 11, 24), days=1), "es")[1].endswith("de 1 día.")


# --- Retrying a send -----------------------------------------------------------------------------


def test_a_throttled_send_waits_at_least_its_retry_after_plus_at_most_a_fifth() -> None:
    assert retry_delay(30, 1, 0.0) == timedelta(seconds=30)
    assert retry_delay(30, 5, 0.999) < timedelta(seconds=36)
    assert retry_delay(0, 1, 0.5) == timedelta(0)


@PURE
@given(st.integers(min_value=1, max_value=100), st.floats(min_value=0, max_value=0.999))
def test_a_failed_send_backs_off_with_jitter_within_five_minutes(
    attempt: int, jitter: float
) -> None:
    wait = retry_delay(None, attempt, jitter)
    ceiling = min(300, 10 * 2 ** (attempt - 1))
    assert timedelta(seconds=1) <= wait <= timedelta(seconds=max(1, ceiling))


def test_jitter_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        retry_delay(None, 1, 1.0)
