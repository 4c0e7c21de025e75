"""Stripe's webhook events: verified with Stripe's library, read through typed views.

``verified_event`` checks the ``Stripe-Signature`` header against the endpoint's signing secret
with ``stripe.WebhookSignature.verify_header`` (HMAC-SHA256 over ``<t>.<body>``, timestamps older
than ``TOLERANCE_S`` refused, as Stripe recommends against replays): any failure is
``Unauthenticated`` (401) before anything is read. A signed body that is not a Stripe event is
``InvalidArgument`` (400).

The views below hold only the fields we read, in both shapes Stripe has sent: a webhook endpoint
keeps the API version it was created with, and API 2025-03-31 ("basil") moved what we read
(``current_period_end`` from the subscription to its items; an invoice's subscription to
``parent.subscription_details``; a line's price to ``pricing.price_details``; and it dropped the
charge's ``invoice`` and the invoice's ``charge``/``payment_intent``: ``invoice_payment.paid``
links a payment to its invoice instead). An expandable field is an id, or the object when
expanded (``Ref``).
"""

from __future__ import annotations

import builtins
import os
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from focus.adapters.environment import is_emulated, project_id
from focus.adapters.iam import SECRET, Need
from focus.domain.errors import InvalidArgument, Reason, Unauthenticated

WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET"  # the endpoint's signing secret, whsec_...
TOLERANCE_S = 300  # Stripe's default: a signature older than five minutes is a replay
# IAM (focus_tools.permissions): reading the signing secret is reading its Secret Manager secret.
NEEDS = {
    "_webhook_secret": (
        Need(
            "secretmanager.versions.access",
            SECRET,
            WEBHOOK_SECRET,
            why="verify the signatures of Stripe's webhook events",
        ),
    ),
}


class MissingWebhookSecret(RuntimeError):
    """``STRIPE_WEBHOOK_SECRET`` is not set outside the emulators: no event can be verified
    (answered 500, so Stripe redelivers once the secret is set)."""


class View(BaseModel):
    """A Stripe object as we read it: the fields we use, everything else ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Expanded(View):
    id: str


Ref = str | Expanded  # an expandable field: the id, or the object when expanded


def ref_id(ref: str | View | None) -> str | None:
    if ref is None or isinstance(ref, str):
        return ref
    value = getattr(ref, "id", None)
    return value if isinstance(value, str) else None


def moment(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# --- Subscriptions ----------------------------------------------------------------------------


class Price(View):
    id: str


class SubscriptionItem(View):
    price: Price | None = None
    current_period_end: int | None = None  # API 2025-03-31 and later


class SubscriptionItems(View):
    data: list[SubscriptionItem] = Field(default_factory=list)


class Subscription(View):
    """``customer.subscription.*``: the subscription itself."""

    id: str
    status: str
    metadata: dict[str, str] = Field(default_factory=dict)
    items: SubscriptionItems = Field(default_factory=SubscriptionItems)
    current_period_end: int | None = None  # before API 2025-03-31

    @property
    def period_end(self) -> datetime | None:
        ends = [i.current_period_end for i in self.items.data if i.current_period_end is not None]
        if ends:
            return moment(max(ends))
        return moment(self.current_period_end) if self.current_period_end is not None else None

    @property
    def price_id(self) -> str | None:
        first = self.items.data[0] if self.items.data else None
        return first.price.id if first is not None and first.price is not None else None


# --- Checkout ---------------------------------------------------------------------------------


class CheckoutSession(View):
    """``checkout.session.completed``."""

    id: str
    mode: str
    payment_status: str  # paid, unpaid (a delayed payment method), no_payment_required (trial)
    client_reference_id: str | None = None
    subscription: Ref | None = None


# --- Invoices ---------------------------------------------------------------------------------


class SubscriptionDetails(View):
    subscription: Ref | None = None  # API 2025-03-31 and later (under ``parent``)
    metadata: dict[str, str] | None = None  # the subscription's metadata when invoiced


class InvoiceParent(View):
    subscription_details: SubscriptionDetails | None = None


class LinePeriod(View):
    end: int


class PriceDetails(View):
    price: Ref | None = None


class LinePricing(View):
    price_details: PriceDetails | None = None


class InvoiceLine(View):
    period: LinePeriod | None = None
    price: Price | None = None  # before API 2025-03-31
    pricing: LinePricing | None = None  # API 2025-03-31 and later


class InvoiceLines(View):
    data: list[InvoiceLine] = Field(default_factory=list)


class PaymentOf(View):
    """What paid an invoice: a payment intent, or a charge made without one."""

    payment_intent: Ref | None = None
    charge: Ref | None = None

    @property
    def ids(self) -> list[str]:
        return [i for i in (ref_id(self.payment_intent), ref_id(self.charge)) if i]


class InvoicePayment(View):
    """``invoice_payment.paid`` (API 2025-03-31 and later): which payment paid which invoice."""

    invoice: Ref
    payment: PaymentOf


class InvoicePayments(View):
    data: list[InvoicePayment] = Field(default_factory=list)


class Invoice(View):
    """``invoice.paid``, ``invoice.payment_failed``."""

    id: str
    billing_reason: str | None = None  # subscription_create, subscription_cycle, ...
    parent: InvoiceParent | None = None  # API 2025-03-31 and later
    subscription: Ref | None = None  # before API 2025-03-31
    subscription_details: SubscriptionDetails | None = None  # before API 2025-03-31
    lines: InvoiceLines = Field(default_factory=InvoiceLines)
    charge: Ref | None = None  # before API 2025-03-31
    payment_intent: Ref | None = None  # before API 2025-03-31
    payments: InvoicePayments | None = None  # API 2025-03-31 and later, when included

    @property
    def _details(self) -> SubscriptionDetails | None:
        if self.parent is not None and self.parent.subscription_details is not None:
            return self.parent.subscription_details
        return self.subscription_details

    @property
    def subscription_id(self) -> str | None:
        details = self._details
        return ref_id(self.subscription) or (ref_id(details.subscription) if details else None)

    @property
    def metadata(self) -> dict[str, str]:
        details = self._details
        return (details.metadata if details else None) or {}

    @property
    def period_end(self) -> datetime | None:
        """The end of the service period the invoice bills (its latest line)."""
        ends = [line.period.end for line in self.lines.data if line.period is not None]
        return moment(max(ends)) if ends else None

    @property
    def price_id(self) -> str | None:
        for line in self.lines.data:
            if line.pricing is not None and line.pricing.price_details is not None:
                return ref_id(line.pricing.price_details.price)
            if line.price is not None:
                return line.price.id
        return None

    @property
    def payment_ids(self) -> list[str]:
        """The payments (intents, charges) the invoice names: before API 2025-03-31 its own
        fields; later, its ``payments`` when included."""
        found = [i for i in (ref_id(self.payment_intent), ref_id(self.charge)) if i]
        for paid in self.payments.data if self.payments is not None else []:
            found += paid.payment.ids
        return found


# --- Charges and disputes ---------------------------------------------------------------------


class Charge(View):
    """``charge.refunded``."""

    id: str
    refunded: bool  # fully refunded (a partial refund leaves it false)
    payment_intent: Ref | None = None
    invoice: str | Invoice | None = None  # before API 2025-03-31; expanded, names the subscription

    @property
    def payment_ids(self) -> list[str]:
        return [i for i in (self.id, ref_id(self.payment_intent)) if i]


class Dispute(View):
    """``charge.dispute.created``."""

    id: str
    charge: str | Charge
    payment_intent: Ref | None = None

    @property
    def payment_ids(self) -> list[str]:
        return [i for i in (ref_id(self.charge), ref_id(self.payment_intent)) if i]


# --- The event --------------------------------------------------------------------------------

V = TypeVar("V", bound=View)


class EventData(View):
    object: dict[str, Any]


class Event(View):
    """A Stripe event (a snapshot event, ``object: "event"``)."""

    object: Literal["event"]
    id: str = Field(min_length=1)
    type: str
    created: int  # Stripe's time of the change, in seconds
    livemode: bool = False
    data: EventData

    @property
    def occurred_at(self) -> datetime:
        return moment(self.created)

    def object_as(self, view: builtins.type[V]) -> V:
        """The event's object read as ``view``; a shape we cannot read is refused (400)."""
        try:
            return view.model_validate(self.data.object)
        except ValidationError as exc:
            raise _unreadable(f"{self.type}: {view.__name__}", exc) from exc


def verified_event(body: bytes, signature: str | None) -> Event:
    """The event ``body`` holds, once its signature header proves Stripe sent it just now."""
    import stripe  # only the webhooks codebase verifies Stripe events

    try:
        stripe.WebhookSignature.verify_header(body, signature, _webhook_secret(), TOLERANCE_S)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise Unauthenticated(
            "Not a Stripe event: the Stripe-Signature header is missing, stale or does not match."
        ) from exc
    try:
        return Event.model_validate_json(body)
    except ValidationError as exc:
        raise _unreadable("the event", exc) from exc


def _unreadable(what: str, exc: ValidationError) -> InvalidArgument:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return InvalidArgument.at(
        where, f"Cannot read {what}: {first['msg']}", reason=Reason.SCHEMA_VIOLATION
    )


def _webhook_secret() -> str:
    # In production the signing secret is a Secret Manager secret exposed as this variable. On
    # the emulators (and demo projects) it is the value scripts/setup writes to
    # functions/webhooks/.secret.local, which tests sign with.
    value = os.environ.get(WEBHOOK_SECRET)
    if value:
        return value
    project = project_id()
    if is_emulated() or project.startswith("demo-"):
        return f"whsec_emulator_{project}"
    raise MissingWebhookSecret(
        f"{WEBHOOK_SECRET} is not set for project {project}: set the secret "
        "(npx firebase functions:secrets:set STRIPE_WEBHOOK_SECRET) to the endpoint's signing secret"
    )
