"""The App Store's signed data, verified with Apple's own library (``app-store-server-library``).

Everything Apple sends is a JWS signed by a key whose certificate chains to an Apple root: the
notifications' ``signedPayload`` and, inside it, the transaction and renewal infos, and the
transactions StoreKit 2 hands the app. ``SignedDataVerifier`` checks the chain (to the roots
given), the signature, and that the data is for our app (bundle id; in Production also the App
Apple ID) and for the environment the verifier is for. What passes comes back as the plain values
of ``focus.domain.app_store_events``; what does not raises ``NotVerified``.

Settings (environment variables: not secret, per project, e.g. in
``functions/webhooks/.env.<project>``, which ``firebase deploy`` reads):

* ``FOCUS_APPLE_BUNDLE_ID`` and ``FOCUS_APPLE_APP_ID`` (the numeric App Apple ID): required
  outside the emulators, where a missing one fails every verification loudly (a 500: Apple
  retries for three days) instead of accepting or refusing the store's traffic by accident.
* ``FOCUS_APPLE_ENVIRONMENTS``: the environments accepted, ``Production,Sandbox`` unless set.
  Sandbox is accepted in production on purpose: App Review buys with sandbox accounts in the
  production build, against the production backend, and Apple sends sandbox notifications to
  the "Sandbox Server URL" of App Store Connect, which may be this same endpoint. Sandbox
  purchases cost nothing, so only the team's sandbox testers and TestFlight testers get Pro that
  way; each subscription records its ``environment``. A project that must refuse them sets
  ``Production``. ``Xcode`` and ``LocalTesting`` are never accepted: the library skips the
  signature check for them.

Root certificates: Apple's (Apple Root CA - G3 signs the App Store's data), base64 DER,
comma-separated, in the secret ``APPLE_ROOT_CERTIFICATES`` (Secret Manager; so a new Apple root
is a secret version, not a deploy). On the emulators ``FOCUS_APPLE_ROOTS_DIR`` names a folder
(scripts/lib/suite.py makes one) whose ``*.der`` / ``*.cer`` files are the roots, read at every
verification: tests write the root of a chain they generate there, one test after another.

Online checks (OCSP revocation of Apple's intermediate and leaf) are off: they would make every
notification wait on Apple's OCSP responder, and a failed check would be a retry anyway. The
chain is then checked as of the data's own ``signedDate``, as the library does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from focus.adapters.environment import is_emulated
from focus.adapters.iam import SECRET, Need
from focus.domain.app_store_events import (
    AUTO_RENEWABLE,
    AppStoreNotification,
    AppStoreRenewal,
    AppStoreTransaction,
    Revocation,
)

if TYPE_CHECKING:
    from appstoreserverlibrary.models.JWSRenewalInfoDecodedPayload import (
        JWSRenewalInfoDecodedPayload,
    )
    from appstoreserverlibrary.models.JWSTransactionDecodedPayload import (
        JWSTransactionDecodedPayload,
    )
    from appstoreserverlibrary.models.ResponseBodyV2DecodedPayload import (
        ResponseBodyV2DecodedPayload,
    )
    from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier

BUNDLE_ID_SETTING = "FOCUS_APPLE_BUNDLE_ID"
APP_ID_SETTING = "FOCUS_APPLE_APP_ID"
ENVIRONMENTS_SETTING = "FOCUS_APPLE_ENVIRONMENTS"
ROOTS_DIR_SETTING = "FOCUS_APPLE_ROOTS_DIR"
ROOTS_SECRET = "APPLE_ROOT_CERTIFICATES"
SECRETS = [ROOTS_SECRET]  # what the webhooks codebase must be given (start_codebase)

# IAM (focus_tools.permissions): reading the roots is reading their Secret Manager secret.
NEEDS = {
    "_secret_roots": (
        Need(
            "secretmanager.versions.access", SECRET, ROOTS_SECRET, why="Apple's root certificates"
        ),
    ),
}

PRODUCTION, SANDBOX = "Production", "Sandbox"  # Apple's names of the environments we accept
T = TypeVar("T")


class NotVerified(Exception):
    """Not the App Store's data for this app and an accepted environment: forged, altered, for
    another app or environment, or not a signed payload at all."""


class MisconfiguredAppStore(RuntimeError):
    """A setting or the roots are missing or unreadable: nothing can be verified (never taken
    as a refusal: the store retries while someone fixes it)."""


@dataclass(frozen=True)
class Settings:
    bundle_id: str
    app_apple_id: int
    environments: tuple[str, ...]


# The emulators' app: the tests sign for it (tests/test_app_store.py).
EMULATOR_SETTINGS = Settings("app.focus.emulator", 1000000001, (PRODUCTION, SANDBOX))


@functools.cache
def settings() -> Settings:
    """The app and environments verified for (see the module docstring)."""
    bundle_id = os.environ.get(BUNDLE_ID_SETTING, "").strip()
    app_id = os.environ.get(APP_ID_SETTING, "").strip()
    names = os.environ.get(ENVIRONMENTS_SETTING, "").strip()
    if is_emulated() and not (bundle_id or app_id or names):
        return EMULATOR_SETTINGS
    if not bundle_id or not app_id.isdigit():
        raise MisconfiguredAppStore(
            f"set {BUNDLE_ID_SETTING} and {APP_ID_SETTING} (the numeric App Apple ID)"
        )
    environments = tuple(n.strip() for n in names.split(",") if n.strip())
    if not set(environments) <= {PRODUCTION, SANDBOX}:
        raise MisconfiguredAppStore(f"{ENVIRONMENTS_SETTING}: only {PRODUCTION} and {SANDBOX}")
    return Settings(bundle_id, int(app_id), environments or (PRODUCTION, SANDBOX))


def verify_notification(signed_payload: str) -> AppStoreNotification:
    """An App Store Server Notification v2 ``signedPayload``, verified with the transaction and
    renewal infos signed inside it."""
    environment, verifier, payload = _verified(
        lambda v: v.verify_and_decode_notification(signed_payload)
    )
    signed_transaction = payload.data.signedTransactionInfo if payload.data else None
    signed_renewal = payload.data.signedRenewalInfo if payload.data else None
    transaction = renewal = None
    if signed_transaction:
        decoded = _checked(verifier.verify_and_decode_signed_transaction, signed_transaction)
        transaction = _transaction(decoded)
    if signed_renewal:
        renewal = _renewal(_checked(verifier.verify_and_decode_renewal_info, signed_renewal))
    return _notification(payload, environment, transaction, renewal)


def verify_transaction(signed_transaction: str) -> AppStoreTransaction:
    """A StoreKit 2 signed transaction (``Transaction.jwsRepresentation``), verified."""
    _, _, decoded = _verified(lambda v: v.verify_and_decode_signed_transaction(signed_transaction))
    return _transaction(decoded)


# --- Verification --------------------------------------------------------------------------------


def _verified(decode: Callable[[SignedDataVerifier], T]) -> tuple[str, SignedDataVerifier, T]:
    """``decode`` with the first accepted environment's verifier that accepts the data."""
    verifiers = _verifiers()
    from appstoreserverlibrary.signed_data_verifier import VerificationException, VerificationStatus

    # Refusals another accepted environment may not share: a sandbox notification carries no
    # App Apple ID, so the Production verifier refuses it as another app's before the Sandbox
    # one accepts it. Any other refusal (signature, chain) is the same for every environment.
    elsewhere = (VerificationStatus.INVALID_APP_IDENTIFIER, VerificationStatus.INVALID_ENVIRONMENT)
    refusals = []
    for environment, verifier in verifiers:
        try:
            return environment, verifier, decode(verifier)
        except VerificationException as exc:
            if exc.status not in elsewhere:
                raise NotVerified(exc.status.name) from exc
            refusals.append(f"{environment}: {exc.status.name}")
    raise NotVerified("; ".join(refusals))


def _checked(decode: Callable[[str], T], signed: str) -> T:
    from appstoreserverlibrary.signed_data_verifier import VerificationException

    try:
        return decode(signed)
    except VerificationException as exc:
        raise NotVerified(exc.status.name) from exc


def _verifiers() -> tuple[tuple[str, SignedDataVerifier], ...]:
    return _verifiers_for(_root_certificates(), settings())


@functools.lru_cache(maxsize=4)  # one set in production; a few as emulator tests add roots
def _verifiers_for(
    roots: tuple[bytes, ...], app: Settings
) -> tuple[tuple[str, SignedDataVerifier], ...]:
    # Apple's library (~0.1 s to import beyond what the Admin SDK loads) is imported on the first
    # verification, not at cold start: the Stripe and Play functions of this codebase never use it.
    from appstoreserverlibrary.models.Environment import Environment
    from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier

    return tuple(
        (
            name,
            SignedDataVerifier(
                list(roots), False, Environment(name), app.bundle_id, app.app_apple_id
            ),
        )
        for name in app.environments
    )


def _root_certificates() -> tuple[bytes, ...]:
    folder = os.environ.get(ROOTS_DIR_SETTING, "").strip()
    if folder:
        if not is_emulated():
            raise MisconfiguredAppStore(f"{ROOTS_DIR_SETTING} is for the emulators only")
        files = sorted(Path(folder).glob("*"))
        roots = tuple(f.read_bytes() for f in files if f.suffix.lower() in (".der", ".cer"))
    else:
        roots = _secret_roots(os.environ.get(ROOTS_SECRET, ""))
    if not roots:
        raise MisconfiguredAppStore(f"no Apple root certificates: set the secret {ROOTS_SECRET}")
    return roots


@functools.cache
def _secret_roots(value: str) -> tuple[bytes, ...]:
    try:
        return tuple(
            base64.b64decode(p.strip(), validate=True) for p in value.split(",") if p.strip()
        )
    except binascii.Error as exc:
        raise MisconfiguredAppStore(f"{ROOTS_SECRET}: not base64 DER certificates") from exc


# --- Apple's models, in our words ----------------------------------------------------------------


def _notification(
    payload: ResponseBodyV2DecodedPayload,
    environment: str,
    transaction: AppStoreTransaction | None,
    renewal: AppStoreRenewal | None,
) -> AppStoreNotification:
    if (
        not payload.notificationUUID
        or not payload.rawNotificationType
        or payload.signedDate is None
    ):
        raise NotVerified("a notification without its id, type or signing date")
    return AppStoreNotification(
        notification_id=payload.notificationUUID,
        type=payload.rawNotificationType,
        subtype=payload.rawSubtype,
        signed_at=_moment(payload.signedDate),
        environment=environment,
        transaction=transaction,
        renewal=renewal,
    )


def _transaction(decoded: JWSTransactionDecodedPayload) -> AppStoreTransaction:
    if (
        not decoded.transactionId
        or not decoded.originalTransactionId
        or decoded.signedDate is None
        or not decoded.rawEnvironment
    ):
        raise NotVerified("a transaction without its ids, signing date or environment")
    return AppStoreTransaction(
        transaction_id=decoded.transactionId,
        original_transaction_id=decoded.originalTransactionId,
        product_id=decoded.productId,
        account_token=decoded.appAccountToken.lower() if decoded.appAccountToken else None,
        subscription=decoded.rawType == AUTO_RENEWABLE,
        expires_at=_optional_moment(decoded.expiresDate),
        revoked_at=_optional_moment(decoded.revocationDate),
        revocation=_revocation(decoded),
        signed_at=_moment(decoded.signedDate),
        environment=decoded.rawEnvironment,
    )


def _revocation(decoded: JWSTransactionDecodedPayload) -> Revocation | None:
    # revocationType is the newer field; a refund always carries a revocationReason (0 or 1).
    if decoded.rawRevocationType == "FAMILY_REVOKE":
        return Revocation.FAMILY_SHARING
    if decoded.rawRevocationType or decoded.rawRevocationReason is not None:
        return Revocation.REFUND
    return None


def _renewal(decoded: JWSRenewalInfoDecodedPayload) -> AppStoreRenewal:
    token = decoded.appAccountToken
    return AppStoreRenewal(
        grace_period_expires_at=_optional_moment(decoded.gracePeriodExpiresDate),
        account_token=token.lower() if token else None,
    )


def _moment(milliseconds: int) -> datetime:
    """Apple's times are UNIX milliseconds."""
    return datetime.fromtimestamp(milliseconds // 1000, UTC) + timedelta(
        milliseconds=milliseconds % 1000
    )


def _optional_moment(milliseconds: int | None) -> datetime | None:
    return None if milliseconds is None else _moment(milliseconds)
