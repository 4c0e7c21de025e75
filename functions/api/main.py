"""The mobile API: callables the app invokes through the Firebase client SDKs."""

from __future__ import annotations

from focus.contracts.community import CommunityComparisonRequest, CommunityComparisonResponse
from focus.contracts.emergency import UseEmergencyPassRequest, UseEmergencyPassResponse
from focus.contracts.launch import (
    ActiveSession,
    EmergencyPassStatus,
    LaunchRequest,
    LaunchResponse,
    ProfileView,
)
from focus.contracts.reports import DayResult, UploadDailyReportsRequest, UploadDailyReportsResponse
from focus.domain import community as community_domain
from focus.domain import emergency as emergency_domain
from focus.domain import reports as reports_domain
from focus.domain.profiles import new_profile
from focus.platform.callables import Call, mobile_callable
from focus.platform.repositories import community, days, emergency, hours_saved, profiles, sessions
from focus.platform.runtime import start_codebase

# Callables are short and I/O bound: one instance serves many concurrent requests.
start_codebase("api", cpu=1, memory=512, concurrency=80, max_instances=100)


@mobile_callable(LaunchRequest)
def launch(call: Call, request: LaunchRequest) -> LaunchResponse:
    """Everything the app shows on open, in one round trip; creates the profile on first launch."""
    profile, created = profiles.get_or_create(
        call.caller.uid,
        lambda: new_profile(now=call.now, timezone=request.timezone, locale=request.locale),
    )
    community_total = hours_saved.summary()
    next_pass = emergency_domain.next_available_at(profile.emergency_pass, call.now)
    return LaunchResponse(
        profile=ProfileView(
            display_name=profile.display_name,
            created_at=profile.created_at,
            settings=profile.settings,
            completed_sessions=profile.stats.completed_sessions,
            focused_minutes=profile.stats.focused_minutes,
            current_streak=profile.streak.current,
            longest_streak=profile.streak.longest,
            pro=profile.is_pro(call.now),
        ),
        profile_created=created,
        active_sessions=[
            ActiveSession(
                id=sid,
                strictness=s.strictness.value,
                planned_start=s.planned_start,
                planned_end=s.planned_end,
            )
            for sid, s in sessions.active(call.caller.uid)
        ],
        emergency_pass=EmergencyPassStatus(
            available=next_pass is None, next_available_at=next_pass
        ),
        community_hours_saved=community_total.total_hours if community_total else 0.0,
        server_time=call.now,
    )


@mobile_callable(UseEmergencyPassRequest)
def useEmergencyPass(call: Call, _: UseEmergencyPassRequest) -> UseEmergencyPassResponse:  # noqa: N802
    """End every active session, limit and lock; once per rolling week, whatever the device."""
    used = emergency.use_pass(call.caller.uid, call.now)
    return UseEmergencyPassResponse(
        sessions_ended=used.sessions_ended,
        blocks_suspended=used.blocks_suspended,
        suspended_until=used.suspended_until,
        next_available_at=used.next_available_at,
    )


@mobile_callable(UploadDailyReportsRequest)
def uploadDailyReports(  # noqa: N802
    call: Call, request: UploadDailyReportsRequest
) -> UploadDailyReportsResponse:
    """Merge a device's daily totals (late, repeated and multi-device uploads are expected)."""
    for report in request.reports:
        reports_domain.check_upload_window(report, call.now)
    results = days.upload(call.caller.uid, request.device_id, request.reports)
    return UploadDailyReportsResponse(
        days=[
            DayResult(day=r.day, changed=r.changed, revision=r.revision, score=r.score)
            for r in results
        ]
    )


@mobile_callable(CommunityComparisonRequest)
def getCommunityComparison(  # noqa: N802
    call: Call, request: CommunityComparisonRequest
) -> CommunityComparisonResponse:
    """How the person's screen time on a day compares with everyone's (from the daily summary)."""
    day, summary = community.comparison(call.caller.uid, request.day)
    minutes = day.totals.screen_time_minutes if day else None
    return CommunityComparisonResponse(
        day=request.day,
        screen_time_minutes=minutes,
        share_using_more=(
            community_domain.share_using_more(summary, minutes)
            if summary is not None and minutes is not None
            else None
        ),
        people=summary.people if summary else 0,
        as_of=summary.updated_at if summary else None,
    )
