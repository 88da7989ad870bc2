"""Charges (`ch_…`): one attempt to move money from a card, as Stripe records it.

A charge is created by a PaymentIntent's confirmation or by the legacy `POST /v1/charges`, with
the processor's answer already known: it is `succeeded` (authorized; captured at once or later)
or `failed` (declined, with the decline recorded). A captured charge carries the balance
transaction that put its net into the account's pending balance. An uncaptured authorization is
either captured (in full or in part: the rest is released), or released whole: canceled, or
expired after seven days. Both releases show as `amount_refunded`, as Stripe shows them.

State: the charge's Stripe JSON, and in `internal` what the test card will do next (open a
dispute, file an early fraud warning, refund slowly…), when the authorization expires, and the
network transaction id.

Refunds and disputes are added to this aggregate by their own events; `_refund_fields` is the
one place that derives `refunded` from `amount_refunded`.

A direct charge (made by the platform in a connected account) shows the platform's Connect
`application`; when it is captured with an `application_fee_amount` it takes the fee: the charge
names its `application_fee` and its balance transaction itemises the fee next to Stripe's, posted
to the fee's in-transit account (the platform books the other side).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.application_fee import DirectCharge, direct_fee_amount, fee_detail
from ledger.domain.balance_transaction import BalanceTransactionCreated, new_balance_transaction
from ledger.domain.cards import TestCard
from ledger.domain.events import DomainEvent
from ledger.domain.postings import BOOK_CONNECT
from ledger.domain.rules import apply_metadata, check_email, reject, reject_if
from ledger.money import Pricing, available_on, currency
from ledger.processor import Authorization

__all__ = [
    "AUTHORIZATION_VALIDITY_SECONDS",
    "CHARGE",
    "DEFAULT_STATEMENT_DESCRIPTOR",
    "ChargeAttempt",
    "ChargeAuthorizationReleased",
    "ChargeCaptured",
    "ChargeCreated",
    "ChargeDestinationBooked",
    "ChargeDisputed",
    "ChargeRefundFailed",
    "ChargeRefunded",
    "ChargeTransferred",
    "ChargeUpdated",
    "calculated_statement_descriptor",
    "charge_balance_transaction",
    "check_capturable",
    "decide_capture",
    "decide_create",
    "decide_release",
    "decide_update",
    "direct_capture_changes",
    "evolve",
    "refunded_with",
    "shipping_json",
    "stripe_events",
    "transferred_amount",
]

# "Uncaptured payments expire a set number of days after they are created (7 by default)"
# -- https://docs.stripe.com/api/charges/capture
AUTHORIZATION_VALIDITY_SECONDS: Final = 7 * 24 * 60 * 60

# The account's statement descriptor. Accounts are not modelled yet, so every account has this
# one (Stripe derives it from the account's business name); see the README.
DEFAULT_STATEMENT_DESCRIPTOR: Final = "LEDGER"
_STATEMENT_DESCRIPTOR_LENGTH_MAX: Final = 22
_RECEIPT_URL_PREFIX: Final = "https://pay.stripe.com/receipts/payment/"
_FRAUD_USER_REPORTS: Final = ("fraudulent", "safe")
_ADDRESS_KEYS: Final = ("city", "country", "line1", "line2", "postal_code", "state")

MESSAGE_CAPTURE_EXPIRED: Final = (
    "The charge cannot be captured as the authorization has expired. Auth and capture charges "
    "must be captured within seven days."
)


class ChargeCreated(DomainEvent):
    event_type = "charge.created"
    charge: JSON
    internal: JSON


class ChargeCaptured(DomainEvent):
    event_type = "charge.captured"
    amount: int
    balance_transaction: str
    # Fields the capture request set (application_fee_amount, receipt_email…).
    changes: JSON


class ChargeAuthorizationReleased(DomainEvent):
    """The whole uncaptured authorization went back to the cardholder."""

    event_type = "charge.authorization_released"
    amount: int
    expired: bool


class ChargeUpdated(DomainEvent):
    event_type = "charge.updated"
    changes: JSON


class ChargeRefunded(DomainEvent):
    """A refund of `amount` was made on the captured charge (`ledger.domain.refund`).

    A destination charge's refund may also reverse its transfer and refund its application fee
    (in proportion: the charge keeps the refunded amounts that asked for each).
    """

    event_type = "charge.refunded"
    refund: str
    amount: int
    reverse_transfer: bool = False
    refund_application_fee: bool = False


class ChargeRefundFailed(DomainEvent):
    """A refund of `amount` failed: it no longer counts in `amount_refunded`."""

    event_type = "charge.refund_failed"
    refund: str
    amount: int


class ChargeDisputed(DomainEvent):
    """The dispute the test card asked for was opened (`ledger.domain.dispute`)."""

    event_type = "charge.disputed"
    dispute: str


class ChargeTransferred(DomainEvent):
    """A transfer of `amount` was made from this charge's funds (`source_transaction`)."""

    event_type = "charge.transferred"
    transfer: str
    amount: int


class ChargeDestinationBooked(DomainEvent):
    """A captured destination charge made its transfer and took its application fee, if any."""

    event_type = "charge.destination_booked"
    transfer: str
    application_fee: str | None


def refunded_with(charge: State, option: str) -> int:
    """How much of the charge was refunded with `option` (`reverse_transfer`…) set."""
    assert option in ("reverse_transfer", "refund_application_fee")
    return int(charge.internal.get(f"refunded_{option}", 0))


def transferred_amount(charge: State) -> int:
    """How much transfers with this charge as `source_transaction` have moved so far."""
    return int(charge.internal.get("transferred_amount", 0))


@dataclass(frozen=True, slots=True)
class ChargeAttempt:
    """Everything a new charge records: the payment, the card, and the processor's answer."""

    charge_id: str
    created: int
    amount: int
    currency: str
    card: TestCard
    authorization: Authorization
    capture: bool
    payment_method: str
    # The PaymentMethod's `card` hash: its `checks` say which fields (cvc, address) were given.
    payment_method_card: JSON
    billing_details: JSON
    payment_intent: str | None = None
    customer: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] | None = None
    receipt_email: str | None = None
    shipping: JSON | None = None
    statement_descriptor: str | None = None
    statement_descriptor_suffix: str | None = None
    transfer_data: JSON | None = None
    transfer_group: str | None = None
    application_fee_amount: int | None = None
    on_behalf_of: str | None = None
    # Legacy charges made from a token or card show that card as `source`.
    source: JSON | None = None
    # The Radar session the payment was made in (`radar_options[session]`).
    radar_session: str | None = None
    # The id of the balance transaction to create, when the charge is captured now.
    balance_transaction: str | None = None
    # Set for a direct charge (made by the platform in a connected account).
    direct: DirectCharge | None = None

    def __post_init__(self) -> None:
        assert self.amount >= 1
        assert self.direct is None or self.transfer_data is None, "direct or destination"
        assert not self.authorization.requires_action, "a charge needs a final answer"
        succeeded_now = self.authorization.approved and self.capture
        assert (self.balance_transaction is not None) == succeeded_now


def calculated_statement_descriptor(descriptor: str | None, suffix: str | None) -> str:
    """What the cardholder's statement shows: the descriptor, or prefix* suffix."""
    full = descriptor or DEFAULT_STATEMENT_DESCRIPTOR
    if suffix:
        full = f"{DEFAULT_STATEMENT_DESCRIPTOR}* {suffix}"
    return full[:_STATEMENT_DESCRIPTOR_LENGTH_MAX]


def _receipt_url(charge_id: str) -> str:
    token = hashlib.blake2b(charge_id.encode(), digest_size=48).hexdigest()
    return _RECEIPT_URL_PREFIX + token


def shipping_json(value: Any) -> JSON | None:
    """Stripe's `shipping` hash from the request's, every field present ("" unsets)."""
    if value is None or value == "":
        return None
    address = value.get("address") or {}
    return {
        "address": {key: address.get(key) for key in _ADDRESS_KEYS},
        "carrier": value.get("carrier"),
        "name": value.get("name"),
        "phone": value.get("phone"),
        "tracking_number": value.get("tracking_number"),
    }


def _card_details(attempt: ChargeAttempt) -> JSON:
    checks = attempt.payment_method_card.get("checks") or {}
    details = attempt.card.to_charge_card_details(
        amount=attempt.amount,
        authorized=attempt.authorization.approved,
        cvc_provided=checks.get("cvc_check") is not None,
        address_line1_provided=checks.get("address_line1_check") is not None,
        address_postal_code_provided=checks.get("address_postal_code_check") is not None,
        three_d_secure=attempt.authorization.three_d_secure,
    )
    if not attempt.authorization.approved:
        details["overcapture"] = {"maximum_amount_capturable": 0, "status": "unavailable"}
    return details


def _blank_charge(attempt: ChargeAttempt) -> JSON:
    transfer_data = attempt.transfer_data
    return {
        "id": attempt.charge_id,
        "object": "charge",
        "amount": attempt.amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None if attempt.direct is None else attempt.direct.application,
        "application_fee": None,
        "application_fee_amount": attempt.application_fee_amount,
        "balance_transaction": None,
        "billing_details": attempt.billing_details,
        "calculated_statement_descriptor": calculated_statement_descriptor(
            attempt.statement_descriptor, attempt.statement_descriptor_suffix
        ),
        "captured": False,
        "created": attempt.created,
        "currency": attempt.currency,
        "customer": attempt.customer,
        "description": attempt.description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "invoice": None,
        "livemode": False,
        "metadata": dict(attempt.metadata or {}),
        "on_behalf_of": attempt.on_behalf_of,
        "outcome": attempt.authorization.outcome,
        "paid": False,
        "payment_intent": attempt.payment_intent,
        "payment_method": attempt.payment_method,
        "payment_method_details": {"card": _card_details(attempt), "type": "card"},
        "radar_options": {}
        if attempt.radar_session is None
        else {"session": attempt.radar_session},
        "receipt_email": attempt.receipt_email,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": attempt.shipping,
        "source": attempt.source,
        "source_transfer": None,
        "statement_descriptor": attempt.statement_descriptor,
        "statement_descriptor_suffix": attempt.statement_descriptor_suffix,
        "status": "failed",
        "transfer_data": (
            None
            if transfer_data is None
            else {
                "amount": transfer_data.get("amount"),
                "destination": transfer_data["destination"],
            }
        ),
        "transfer_group": attempt.transfer_group,
    }


def decide_create(attempt: ChargeAttempt) -> list[DomainEvent]:
    """Record a charge attempt: succeeded (authorized, maybe captured) or failed (declined)."""
    charge = _blank_charge(attempt)
    authorization = attempt.authorization
    outcome = attempt.card.outcome
    internal: JSON = {
        "card_number": attempt.card.number,
        "network_transaction_id": authorization.network_transaction_id,
        "expires_at": None,
        "bypass_pending": outcome.bypass_pending,
        "dispute": outcome.dispute,
        "dispute_inquiry": outcome.dispute_inquiry,
        "dispute_due": False,
        "early_fraud_warning": outcome.early_fraud_warning,
        "refund_behaviour": outcome.refund,
    }
    if authorization.approved:
        charge |= {"status": "succeeded", "paid": True, "receipt_url": _receipt_url(charge["id"])}
        if attempt.capture:
            charge |= {
                "captured": True,
                "amount_captured": attempt.amount,
                "balance_transaction": attempt.balance_transaction,
            }
            charge |= direct_capture_changes(charge, attempt.amount, attempt.direct)
            internal["dispute_due"] = outcome.dispute is not None
        else:
            internal["expires_at"] = attempt.created + AUTHORIZATION_VALIDITY_SECONDS
    else:
        decline = authorization.decline
        assert decline is not None
        charge |= {"failure_code": decline.error_code, "failure_message": decline.message}
    return [ChargeCreated(charge=charge, internal=internal)]


def charge_balance_transaction(
    *,
    txn_id: str,
    account_id: str,
    charge: JSON,
    amount: int,
    at: datetime,
    pricing: Pricing,
    bypass_pending: bool,
) -> BalanceTransactionCreated:
    """The balance transaction of `amount` captured on `charge` at `at`, with Stripe's fee.

    Funds are pending until `available_on` (N business days later), or available at once for
    the `bypassPending` test cards. A direct charge that takes an application fee (its
    `application_fee` is set) itemises the fee too and posts it to the fee's in-transit account.
    """
    money = currency(charge["currency"])
    created = int(at.timestamp())
    fee_details = pricing.fee_details(amount, money)
    fee_accounts: dict[str, tuple[str, str]] = {}
    if charge["application_fee"] is not None and charge["transfer_data"] is None:
        application_fee = direct_fee_amount(charge, amount)
        assert application_fee >= 1 and charge["application"] is not None, charge["id"]
        fee_details.append(fee_detail(application_fee, money.code, charge["application"]))
        fee_accounts["application_fee"] = (BOOK_CONNECT, charge["application_fee"])
    return new_balance_transaction(
        txn_id=txn_id,
        account_id=account_id,
        type="charge",
        amount=amount,
        currency=money.code,
        fee_details=fee_details,
        fee_accounts=fee_accounts,
        created=created,
        available_on=(
            created
            if bypass_pending
            else available_on(at.astimezone(UTC), pricing.available_delay_business_days)
        ),
        source=charge["id"],
        description=charge["description"],
    )


# -- capture, release, update ----------------------------------------------------------------


def direct_capture_changes(charge: JSON, amount: int, direct: DirectCharge | None) -> JSON:
    """What capturing `amount` of a direct charge sets: the application fee it takes, if any.

    `charge` is the charge as it will be captured (with the capture's own changes).
    """
    if direct is None or direct_fee_amount(charge, amount) == 0:
        return {}
    return {"application_fee": direct.application_fee_id}


def check_capturable(state: State, now: int) -> None:
    """Stripe's refusals for capturing a charge that is not an open authorization."""
    charge = state.data
    reject_if(
        charge["captured"],
        f"Charge {charge['id']} has already been captured.",
        code="charge_already_captured",
    )
    expires_at = state.internal.get("expires_at")
    reject_if(
        charge["status"] != "succeeded"
        or charge["refunded"]
        or (expires_at is not None and now >= expires_at),
        MESSAGE_CAPTURE_EXPIRED,
        code="charge_expired_for_capture",
    )


def decide_capture(
    state: State, amount: int, balance_transaction: str, changes: JSON | None = None
) -> list[DomainEvent]:
    """Capture `amount` of the authorization; the rest is released to the cardholder."""
    charge = state.data
    assert not charge["captured"] and charge["status"] == "succeeded"
    assert 1 <= amount <= charge["amount"]
    return [
        ChargeCaptured(
            amount=amount, balance_transaction=balance_transaction, changes=changes or {}
        )
    ]


def decide_release(state: State, *, expired: bool) -> list[DomainEvent]:
    """Release the whole uncaptured authorization (canceled, or expired after seven days)."""
    charge = state.data
    assert not charge["captured"] and charge["status"] == "succeeded" and not charge["refunded"]
    return [ChargeAuthorizationReleased(amount=charge["amount"], expired=expired)]


def decide_update(state: State, params: JSON) -> list[DomainEvent]:
    """Update the fields Stripe lets a charge change; nothing is recorded when nothing changes."""
    charge = state.data
    changes: JSON = {}
    if "description" in params:
        changes["description"] = params["description"] or None
    if "metadata" in params:
        changes["metadata"] = apply_metadata(charge["metadata"], params["metadata"])
    if "receipt_email" in params:
        email = params["receipt_email"] or None
        if email is not None:
            check_email(email, "receipt_email")
        changes["receipt_email"] = email
    if "shipping" in params:
        changes["shipping"] = shipping_json(params["shipping"])
    if "fraud_details" in params:
        report = params["fraud_details"].get("user_report")
        if report == "":
            changes["fraud_details"] = {
                key: value for key, value in charge["fraud_details"].items() if key != "user_report"
            }
        elif report is not None:
            reject_if(
                report not in _FRAUD_USER_REPORTS,
                "Invalid fraud_details[user_report]: must be one of fraudulent or safe",
                param="fraud_details[user_report]",
            )
            changes["fraud_details"] = charge["fraud_details"] | {"user_report": report}
    if params.get("transfer_group"):
        if charge["transfer_group"] not in (None, params["transfer_group"]):
            reject(
                "The transfer_group of a charge can only be set once.",
                param="transfer_group",
            )
        changes["transfer_group"] = params["transfer_group"]
    if params.get("customer"):
        if charge["customer"] not in (None, params["customer"]):
            reject(
                f"This charge already belongs to customer {charge['customer']}; its customer "
                "cannot be changed.",
                param="customer",
            )
        changes["customer"] = params["customer"]
    changes = {key: value for key, value in changes.items() if charge.get(key) != value}
    return [ChargeUpdated(changes=changes)] if changes else []


# -- evolve and Stripe events ----------------------------------------------------------------


def _refund_fields(charge: JSON, amount_refunded: int) -> JSON:
    """`amount_refunded` and `refunded` (true only once the whole amount is refunded)."""
    assert 0 <= amount_refunded <= charge["amount"], (charge["id"], amount_refunded)
    return {"amount_refunded": amount_refunded, "refunded": amount_refunded == charge["amount"]}


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case ChargeCreated(charge=charge, internal=internal):
            assert state is None
            assert charge["status"] in ("succeeded", "failed")
            assert charge["paid"] == (charge["status"] == "succeeded")
            assert (charge["balance_transaction"] is not None) == charge["captured"]
            return State(data=charge, internal=internal)
        case ChargeCaptured(amount=amount, balance_transaction=txn, changes=changes):
            assert state is not None
            charge = state.data
            assert charge["status"] == "succeeded" and not charge["captured"]
            assert not charge["refunded"] and 1 <= amount <= charge["amount"]
            released = charge["amount"] - amount
            data = (
                charge
                | changes
                | {"captured": True, "amount_captured": amount, "balance_transaction": txn}
                | _refund_fields(charge, charge["amount_refunded"] + released)
            )
            internal = state.internal | {
                "expires_at": None,
                "dispute_due": state.internal.get("dispute") is not None,
            }
            return State(data=data, internal=internal)
        case ChargeAuthorizationReleased(amount=amount):
            assert state is not None
            charge = state.data
            assert charge["status"] == "succeeded" and not charge["captured"]
            assert amount == charge["amount"] - charge["amount_refunded"]
            data = charge | _refund_fields(charge, charge["amount_refunded"] + amount)
            return State(data=data, internal=state.internal | {"expires_at": None})
        case ChargeUpdated(changes=changes):
            assert state is not None and set(changes) <= set(state.data)
            return State(data=state.data | changes, internal=state.internal)
        case ChargeRefunded(amount=amount):
            assert state is not None
            charge = state.data
            assert charge["status"] == "succeeded" and charge["captured"]
            assert 1 <= amount <= charge["amount"] - charge["amount_refunded"]
            data = charge | _refund_fields(charge, charge["amount_refunded"] + amount)
            internal = dict(state.internal)
            for option in ("reverse_transfer", "refund_application_fee"):
                if getattr(event, option):
                    internal[f"refunded_{option}"] = refunded_with(state, option) + amount
            return State(data=data, internal=internal)
        case ChargeRefundFailed(amount=amount):
            assert state is not None
            charge = state.data
            released = charge["amount"] - charge["amount_captured"]
            assert 1 <= amount <= charge["amount_refunded"] - released
            data = charge | _refund_fields(charge, charge["amount_refunded"] - amount)
            return State(data=data, internal=state.internal)
        case ChargeDisputed(dispute=dispute):
            assert state is not None
            assert state.data["captured"] and not state.data["disputed"]
            internal = state.internal | {"dispute_due": False, "dispute_id": dispute}
            return State(data=state.data | {"disputed": True}, internal=internal)
        case ChargeDestinationBooked(transfer=transfer, application_fee=fee):
            assert state is not None and state.data["captured"]
            assert state.data["transfer_data"] is not None and "transfer" not in state.data
            # Stripe shows `transfer` on destination charges only (it is not nullable).
            data = state.data | {"transfer": transfer, "application_fee": fee}
            return State(data=data, internal=state.internal)
        case ChargeTransferred(amount=amount):
            assert state is not None and state.data["captured"]
            internal = state.internal | {"transferred_amount": transferred_amount(state) + amount}
            return State(data=state.data, internal=internal)
    raise AssertionError(f"charge cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case ChargeCreated():
            kind = "charge.succeeded" if after.data["status"] == "succeeded" else "charge.failed"
            return [StripeEventSpec(kind, after.data)]
        case ChargeCaptured():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("charge.captured", after.data, previous)]
        case ChargeAuthorizationReleased(expired=expired):
            assert before is not None
            if expired:
                return [StripeEventSpec("charge.expired", after.data)]
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("charge.refunded", after.data, previous)]
        case ChargeUpdated():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("charge.updated", after.data, previous)]
        case ChargeRefunded():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("charge.refunded", after.data, previous)]
        case ChargeRefundFailed() | ChargeDisputed() | ChargeTransferred():
            # Stripe announces these with the refund's, dispute's and transfer's own events.
            return []
        case ChargeDestinationBooked():
            # The transfer's and the application fee's own events announce them.
            return []
    raise AssertionError(f"charge cannot apply {event.event_type}")


CHARGE = register(Aggregate("charge", "ch", evolve, stripe_events))
