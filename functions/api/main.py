"""The mobile API: callables the app invokes through the Firebase client SDKs."""

from __future__ import annotations

from datetime import datetime

from firebase_functions import https_fn
from flask import Request, Response

from focus.adapters import messaging
from focus.contracts.community import CommunityComparisonRequest, CommunityComparisonResponse
from focus.contracts.emergency import UseEmergencyPassRequest, UseEmergencyPassResponse
from focus.contracts.insights import (
    GetInsightsRequest,
    GetInsightsResponse,
    InsightView,
    RateInsightRequest,
    RateInsightResponse,
)
from focus.contracts.launch import (
    ActiveSession,
    EmergencyPassStatus,
    LaunchRequest,
    LaunchResponse,
    ProfileView,
)
from focus.contracts.notifications import RegisterPushTokenRequest, RegisterPushTokenResponse
from focus.contracts.privacy import (
    DeleteAccountRequest,
    DeleteAccountResponse,
    GetExportRequest,
    GetExportResponse,
    RequestExportRequest,
    RequestExportResponse,
    SetConsentRequest,
    SetConsentResponse,
)
from focus.contracts.reports import DayResult, UploadDailyReportsRequest, UploadDailyReportsResponse
from focus.contracts.subscriptions import EntitlementsView, GetEntitlementsRequest
from focus.domain import community as community_domain
from focus.domain import emergency as emergency_domain
from focus.domain import reports as reports_domain
from focus.domain.consent import Consent
from focus.domain.errors import Reason
from focus.domain.profiles import new_profile
from focus.domain.wires import Task
from focus.entrypoints.callables import Call, mobile_callable
from focus.entrypoints.runtime import start_codebase
from focus.entrypoints.web import signed_in_web_endpoint
from focus.services import (
    community,
    consents,
    days,
    emergency,
    hours_saved,
    insights,
    profiles,
    push_tokens,
    sessions,
    subscriptions,
)
from focus.services.privacy import erasure, export

# Callables are short and I/O bound: one instance serves many concurrent requests.
start_codebase("api", cpu=1, memory=512, concurrency=80, max_instances=100)


@mobile_callable(LaunchRequest, warm_instances=1)
def launch(call: Call, request: LaunchRequest) -> LaunchResponse:
    """Everything the app shows on open, in one round trip; creates the profile on first launch."""
    profile, created = profiles.open_app(
        call.caller.uid,
        lambda: new_profile(now=call.now, timezone=request.timezone, locale=request.locale),
        now=call.now,
        client=call.client,
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


@mobile_callable(
    UseEmergencyPassRequest,
    mutating=True,
    per_minute=10,
    errors=(Reason.EMERGENCY_PASS_USED, Reason.PROFILE_MISSING),
)
def useEmergencyPass(call: Call, _: UseEmergencyPassRequest) -> UseEmergencyPassResponse:
    """End every active session, limit and lock; once per rolling week, whatever the device."""
    used = emergency.use_pass(call.caller.uid, call.now, call.client)
    return UseEmergencyPassResponse(
        sessions_ended=used.sessions_ended,
        blocks_suspended=used.blocks_suspended,
        suspended_until=used.suspended_until,
        next_available_at=used.next_available_at,
    )


@mobile_callable(
    UploadDailyReportsRequest,
    mutating=True,
    per_minute=30,
    warm_instances=1,
    errors=(
        Reason.DAY_OUT_OF_RANGE,
        Reason.AS_OF_IN_FUTURE,
        Reason.AS_OF_BEFORE_DAY,
        Reason.PROFILE_MISSING,
        Reason.DEVICE_NOT_REGISTERED,
    ),
)
def uploadDailyReports(
    call: Call, request: UploadDailyReportsRequest
) -> UploadDailyReportsResponse:
    """Merge a registered device's daily totals (late, repeated and multi-device uploads are
    expected); what they imply (streaks, weeks, community) is derived once per call, shortly after."""
    reports_domain.check_upload_windows(request.reports, call.now)
    results = days.upload(
        call.caller.uid, request.device_id, request.reports, call.now, call.client
    )
    return UploadDailyReportsResponse(
        days=[
            DayResult(day=r.day, changed=r.changed, revision=r.revision, score=r.score)
            for r in results
        ]
    )


@mobile_callable(CommunityComparisonRequest, per_minute=30)
def getCommunityComparison(
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


@mobile_callable(
    RegisterPushTokenRequest,
    mutating=True,
    per_minute=10,
    errors=(Reason.DEVICE_NOT_REGISTERED,),
)
def registerPushToken(call: Call, request: RegisterPushTokenRequest) -> RegisterPushTokenResponse:
    """Register or refresh a registered device's push token (on every launch and whenever FCM
    rotates it); a token arriving from another device is taken from that one. Server-only."""
    refreshed_at = push_tokens.register(
        call.caller.uid,
        request.device_id,
        request.token,
        request.platform,
        call.client,
        call.now,
    )
    return RegisterPushTokenResponse(registered=True, refreshed_at=refreshed_at)


def start_erasure(uid: str, now: datetime, via: str) -> DeleteAccountResponse:
    """Start the erasure, or say truthfully how far it is (``erasure.request`` is idempotent and
    requeues the work if it is missing or stalled)."""
    requested = erasure.request(uid, now, via)
    return DeleteAccountResponse(
        erasure_id=requested.erasure_id, started=requested.started, state=requested.state
    )


@mobile_callable(DeleteAccountRequest, mutating=True, per_minute=5, serves_erased=True)
def deleteAccount(call: Call, _: DeleteAccountRequest) -> DeleteAccountResponse:
    """Erase the account and everything it holds (in the background, within minutes); then sign
    out. Asking again answers how far the erasure is (see "Deleting the account")."""
    return start_erasure(call.caller.uid, call.now, via="app")


@mobile_callable(GetEntitlementsRequest)
def getEntitlements(call: Call, _: GetEntitlementsRequest) -> EntitlementsView:
    """What the person has bought (Pro, until when, from which store) and the purchase account
    token the app passes to every store at purchase (docs/subscriptions.md)."""
    uid = call.caller.uid
    return EntitlementsView.of(subscriptions.current(uid), subscriptions.account_token(uid))


@mobile_callable(GetInsightsRequest, per_minute=60)
def getInsights(call: Call, request: GetInsightsRequest) -> GetInsightsResponse:
    """The person's weekly AI insights, latest first, paged (docs/insights.md). Only people who
    granted AI processing have any; withdrawing it deletes them all."""
    page, next_before = insights.history(call.caller.uid, request.limit, request.before)
    return GetInsightsResponse(insights=[InsightView.of(s) for s in page], next=next_before)


@mobile_callable(
    RateInsightRequest, mutating=True, per_minute=30, errors=(Reason.INSIGHT_NOT_FOUND,)
)
def rateInsight(call: Call, request: RateInsightRequest) -> RateInsightResponse:
    """Thumbs up or down on a week's insight (the latest rating counts): the evaluation signal."""
    rated = insights.rate(call.caller.uid, request.week, request.rating, call.now, call.client)
    assert rated.rating is not None and rated.rated_at is not None
    return RateInsightResponse(week=rated.week, rating=rated.rating, rated_at=rated.rated_at)


@signed_in_web_endpoint(methods=["POST"])
def deleteAccountWeb(uid: str, now: datetime) -> dict[str, object]:
    """The web path to erasure (Google Play requires one): POST with a Firebase ID token."""
    return start_erasure(uid, now, via="web").to_wire()


@mobile_callable(RequestExportRequest, mutating=True, per_minute=5)
def requestExport(call: Call, _: RequestExportRequest) -> RequestExportResponse:
    """Start building a JSON bundle of everything stored about the person (kept 7 days)."""
    export_id = export.request(call.caller.uid, call.now)
    messaging.enqueue(
        Task.BUILD_EXPORT,
        {"userId": call.caller.uid, "exportId": export_id},
        at=call.now,
        task_id=messaging.task_id("export", call.caller.uid, export_id),
    )
    return RequestExportResponse(export_id=export_id, expires_at=call.now + export.RETENTION)


@mobile_callable(
    GetExportRequest,
    per_minute=60,  # a chunk (<= 900 KB) a second: its rate-limit document, 1 write/s at most
    errors=(Reason.EXPORT_NOT_FOUND, Reason.NO_SUCH_CHUNK),
)
def getExport(call: Call, request: GetExportRequest) -> GetExportResponse:
    """One chunk of a ready export (``state`` is ``building`` until it is ready)."""
    state, chunks, data = export.read(call.caller.uid, request.export_id, request.chunk)
    return GetExportResponse(
        export_id=request.export_id, state=state, chunks=chunks, chunk=request.chunk, data=data
    )


@mobile_callable(SetConsentRequest, mutating=True, per_minute=30)
def setConsent(call: Call, request: SetConsentRequest) -> SetConsentResponse:
    """Grant or withdraw consent for one purpose; every change is kept in the history."""
    consent = Consent(
        purpose=request.purpose,
        granted=request.granted,
        policy_version=request.policy_version,
        updated_at=call.now,
        source="app",
    )
    consents.change(call.caller.uid, consent)
    return SetConsentResponse(
        purpose=consent.purpose,
        granted=consent.granted,
        policy_version=consent.policy_version,
        updated_at=consent.updated_at,
    )


@https_fn.on_request()
def health(_: Request) -> Response:
    """The uptime check's target (infra/terraform/alerts.tf): 200 once this codebase serves
    requests and reads Firestore with its own identity (one document read, no personal data)."""
    hours_saved.summary()
    return Response('{"status":"ok"}', status=200, mimetype="application/json")
