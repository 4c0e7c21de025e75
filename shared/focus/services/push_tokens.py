"""Push tokens: ``users/{uid}/pushTokens/{deviceId}``, one per registered device, server-only.

The app hands its FCM token to ``registerPushToken`` on every launch and whenever FCM rotates it;
nothing else reads a token but the server (firestore.rules open nothing: a token lets whoever
holds it be targeted, so neither other people nor the owner's other devices need it).

**One token, one device.** A token belongs to one app install. When it arrives for another device
id, or under another account (someone signed out and another person signed in on the same phone),
the other document holding it is deleted in the same transaction: pushes follow the install, and
a person never receives another account's notifications.

**Stale tokens go.** The app refreshes its token at least on every launch, so a token not
refreshed for ``STALE_AFTER`` belongs to an app that is gone or unused; the daily job
``prune_push_tokens`` deletes them (each its own item, ``focus.services.tolerant``). FCM's
``UNREGISTERED`` answer deletes a token at once (``forget``), unless the device registered a new
one meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from focus.adapters import clients, logs, paths, store, sweeps, tracing
from focus.contracts.envelope import ClientInfo
from focus.domain import sweep_shards
from focus.domain.devices import Platform
from focus.domain.errors import FailedPrecondition, Reason
from focus.services import tolerant

STALE_AFTER = timedelta(days=30)
PAGE = 300  # stale tokens read per query

# Who holds a token, whoever they are: one token, one device (collection-group index on token).
HOLDERS = store.QuerySpec(
    "push tokens holding a token", paths.PUSH_TOKENS, (("token", "=="),), collection_group=True
)
# Tokens not refreshed since a moment, in one sweep shard (collection-group index on
# sweepShard, refreshedAt).
STALE = sweeps.sharded("push tokens not refreshed since", paths.PUSH_TOKENS, ("refreshedAt", "<"))


@dataclass(frozen=True)
class StaleToken:
    uid: str
    device_id: str
    snapshot: Any  # the DocumentSnapshot read by the query (its update time guards the delete)


def _token_ref(uid: str, device_id: str) -> Any:
    return clients.firestore().document(paths.push_token(uid, device_id))


@tracing.traced("firestore.push_tokens.register")
def register(
    uid: str,
    device_id: str,
    token: str,
    platform: Platform | None,
    client: ClientInfo,
    now: datetime,
) -> datetime:
    """Store ``token`` for the person's registered device ``device_id`` (refreshing it when it is
    already stored) and take it from any other device holding it; the refresh time.

    The token's holders are found by a query before the transaction, not in it: a query in a
    transaction locks the whole collection group on the emulator (docs/adr/0012), and the query
    already returns this device's own document when it holds the token, so the transaction reads
    only the device. Another holder is deleted only if it is unchanged since it was found; if it
    changed, the holders are found again (``store.found_then_committed``).

    Raises FailedPrecondition ``DEVICE_NOT_REGISTERED`` before the device registered itself."""
    token_ref = _token_ref(uid, device_id)
    return store.found_then_committed(
        lambda: store.query(HOLDERS, None, [token]),
        lambda holders: _store(uid, device_id, token_ref, holders, token, platform, client, now),
        name="push_tokens.register",
    )


def _store(
    uid: str,
    device_id: str,
    token_ref: Any,
    holders: list[Any],
    token: str,
    platform: Platform | None,
    client: ClientInfo,
    now: datetime,
) -> datetime:
    from google.cloud import firestore as gcf

    db = clients.firestore()
    device_ref = db.document(paths.device(uid, device_id))
    own = next((h for h in holders if h.reference.path == token_ref.path), None)
    others = [h for h in holders if h.reference.path != token_ref.path]

    def run(tx: gcf.Transaction) -> datetime:
        if not store.get(device_ref, tx).exists:
            raise FailedPrecondition(
                "Register the device (users/{uid}/devices/{deviceId}) before its push token.",
                reason=Reason.DEVICE_NOT_REGISTERED,
            )
        out = store.writes(tx)
        for holder in others:
            unchanged = db.write_option(last_update_time=holder.update_time)
            out.delete(holder.reference, option=unchanged)
        # Merged: the device's sync-push state (``push_sync``) on this document stays.
        out.set(
            token_ref,
            {
                "token": token,
                "platform": (platform or Platform(client.platform.value)).value,
                "registeredAt": (own.to_dict() or {}).get("registeredAt", now) if own else now,
                "refreshedAt": now,
                "appVersion": client.app_version,
            }
            | sweep_shards.fields(uid),
            merge=True,
        )
        return now

    return store.transactional(run, name="push_tokens.register")


@tracing.traced("firestore.push_tokens.forget")
def forget(uid: str, device_id: str, token: str) -> bool:
    """Delete the device's token after FCM answered ``UNREGISTERED`` for ``token``, only if it is
    still that token (the app may have registered a fresh one meanwhile); whether it was deleted."""
    from google.cloud import firestore as gcf

    ref = _token_ref(uid, device_id)

    def run(tx: gcf.Transaction) -> bool:
        current = store.get(ref, tx)
        if not current.exists or (current.to_dict() or {}).get("token") != token:
            return False
        store.writes(tx).delete(ref)
        return True

    return store.transactional(run, name="push_tokens.forget")


@tracing.traced("firestore.push_tokens.stale")
def stale(before: datetime) -> Iterator[StaleToken]:
    """Every person's tokens last refreshed before ``before``, a page at a time (one read each);
    a ``pushTokens`` collection outside ``users/{uid}`` is not a person's and is passed over."""
    for uid, snapshot in sweeps.owned(STALE, [before], page=PAGE):
        yield StaleToken(uid, snapshot.id, snapshot)


@tracing.traced("firestore.push_tokens.prune")
def prune(now: datetime) -> int:
    """Delete every token not refreshed for ``STALE_AFTER``; how many were deleted.

    Each token is its own item: one that fails is logged and skipped, never the run. A delete
    holds only if the document is unchanged since it was read, so a token refreshed in between
    is kept (one write per stale token; a token goes stale once, so the daily volume is small)."""
    from google.api_core import exceptions

    run = tolerant.Isolation("prune_push_tokens")
    deleted = kept = 0
    for found in stale(now - STALE_AFTER):
        with run.item("pushToken", found.uid, found.device_id):
            try:
                store.delete_now(
                    found.snapshot.reference, last_update_time=found.snapshot.update_time
                )
                deleted += 1
            except exceptions.FailedPrecondition:
                kept += 1  # refreshed since the query read it
    logs.get_logger().info("push tokens pruned", deleted=deleted, kept=kept, **run.counts())
    return deleted
