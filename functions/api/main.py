"""The mobile API: callables the app invokes through the Firebase client SDKs."""

from __future__ import annotations

from focus.domain.launch import ActiveSession, LaunchRequest, LaunchResponse, ProfileView
from focus.domain.profiles import new_profile
from focus.platform.callables import Call, mobile_callable
from focus.platform.repositories import hours_saved, profiles, sessions
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
    community = hours_saved.summary()
    return LaunchResponse(
        profile=ProfileView(
            display_name=profile.display_name,
            created_at=profile.created_at,
            settings=profile.settings,
            completed_sessions=profile.stats.completed_sessions,
            focused_minutes=profile.stats.focused_minutes,
        ),
        profile_created=created,
        active_sessions=[
            ActiveSession(id=sid, planned_start=s.planned_start, planned_end=s.planned_end)
            for sid, s in sessions.active(call.caller.uid)
        ],
        community_hours_saved=community.total_hours if community else 0.0,
        server_time=call.now,
    )
