"""Disputes (`du_…`): a cardholder contests a captured charge with their bank.

A dispute is opened on a charge whose test card asks for one (`internal["dispute_due"]`, set by
the capture of a `pm_card_createDispute…` card). Two kinds, told apart by `status`:

- a chargeback (`needs_response`): the disputed amount and Stripe's dispute fee leave the
  available balance at once (an `adjustment` balance transaction, reporting category `dispute`)
  and the charge can no longer be refunded;
- an inquiry (`warning_needs_response`, the `createDisputeInquiry` card): no money moves and the
  charge stays refundable.

The merchant stages evidence and submits it (`submit`, true by default), or accepts the dispute
(`close`). Stripe's test values decide a submission: `winning_evidence` in
`evidence[uncategorized_text]` wins it (amount and fee come back: an `adjustment` with reporting
category `dispute_reversal`), `losing_evidence` loses it; other evidence leaves the dispute
`under_review`. A dispute still needing a response at `evidence_details.due_by` is lost (an
inquiry: `warning_closed`); the disputes service's due job does that.

Statuses and the moves between them are the explicit `TRANSITIONS` table; `RESPONDABLE` says
which statuses take evidence, a submission and `close`.

Sources: https://docs.stripe.com/api/disputes, https://docs.stripe.com/disputes/api,
https://docs.stripe.com/testing#disputes and #evidence, https://stripe.com/pricing (dispute fee),
https://support.stripe.com/questions/dispute-fees-faq ("if you win the dispute, Stripe will
refund this dispute fee to you").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ledger.domain import charge as charge_domain
from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.balance_transaction import BalanceTransactionCreated, new_balance_transaction
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, reject, reject_if
from ledger.money import Pricing, currency

__all__ = [
    "DISPUTE",
    "EVIDENCE_FIELDS",
    "FILE_EVIDENCE_FIELDS",
    "LOSING_EVIDENCE",
    "RESPONDABLE",
    "RESPONSE_DAYS",
    "TRANSITIONS",
    "WINNING_EVIDENCE",
    "Appends",
    "DisputeClosed",
    "DisputeContext",
    "DisputeCreated",
    "DisputeSubmitted",
    "DisputeUpdated",
    "DisputeWon",
    "Status",
    "check_closable",
    "decide_close",
    "decide_deadline",
    "decide_open",
    "decide_update",
    "due_by",
    "evolve",
    "stripe_events",
]

Appends = list[tuple[str, list[DomainEvent]]]


class Status(StrEnum):
    """A dispute's `status`."""

    warning_needs_response = "warning_needs_response"
    warning_under_review = "warning_under_review"
    warning_closed = "warning_closed"
    needs_response = "needs_response"
    under_review = "under_review"
    won = "won"
    lost = "lost"


S = Status

# Every move a dispute can make. Inquiries (warning_*) and chargebacks never turn into each
# other here: an inquiry that the issuer escalates to a chargeback is not modelled.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType(
    {
        S.warning_needs_response: frozenset({S.warning_under_review, S.warning_closed}),
        S.warning_under_review: frozenset({S.warning_closed}),
        S.warning_closed: frozenset(),  # terminal
        S.needs_response: frozenset({S.under_review, S.lost}),
        S.under_review: frozenset({S.won, S.lost}),
        S.won: frozenset(),  # terminal
        S.lost: frozenset(),  # terminal
    }
)

# Statuses in which the merchant can still respond: stage or submit evidence, or close.
RESPONDABLE: Final = frozenset({S.warning_needs_response, S.needs_response})
INQUIRY: Final = frozenset({S.warning_needs_response, S.warning_under_review, S.warning_closed})

# The evidence hash's fields, as the spec's `dispute_evidence` lists them.
EVIDENCE_FIELDS: Final = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)
# Fields that name an uploaded file (`file_…`): the Files API does not exist here yet.
FILE_EVIDENCE_FIELDS: Final = frozenset(
    {
        "cancellation_policy",
        "customer_communication",
        "customer_signature",
        "duplicate_charge_documentation",
        "receipt",
        "refund_policy",
        "service_documentation",
        "shipping_documentation",
        "uncategorized_file",
    }
)

# Stripe's test values for `evidence[uncategorized_text]` (https://docs.stripe.com/testing#evidence).
WINNING_EVIDENCE: Final = "winning_evidence"
LOSING_EVIDENCE: Final = "losing_evidence"

# The ledger's response window: `due_by` is the end (23:59:59 UTC) of the day seven days after
# the dispute opened. Stripe sets it per network and reason; its fixtures end a UTC day too.
RESPONSE_DAYS: Final = 7

# Visa's reason codes for the reasons the test cards give (https://docs.stripe.com/disputes/
# categories#network-code-map). The inquiry card's `general` shows 10.4, as in Stripe's fixture.
_NETWORK_REASON_CODES: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("visa", "fraudulent"): "10.4",
        ("visa", "general"): "10.4",
        ("visa", "product_not_received"): "13.1",
        ("mastercard", "fraudulent"): "4837",
        ("mastercard", "product_not_received"): "4855",
    }
)


class DisputeCreated(DomainEvent):
    event_type = "dispute.created"
    # For a chargeback, `balance_transactions` already holds the withdrawal.
    dispute: JSON


class DisputeUpdated(DomainEvent):
    """Evidence staged or metadata changed; nothing submitted."""

    event_type = "dispute.updated"
    changes: JSON


class DisputeSubmitted(DomainEvent):
    """Evidence submitted to the issuer: the dispute is under review."""

    event_type = "dispute.submitted"
    changes: JSON
    past_due: bool


class DisputeWon(DomainEvent):
    """The issuer decided for the merchant: the amount and the dispute fee come back."""

    event_type = "dispute.won"
    balance_transaction: JSON


class DisputeClosed(DomainEvent):
    """Lost (a chargeback) or warning_closed (an inquiry): accepted, expired, or decided."""

    event_type = "dispute.closed"
    status: str


# -- time --------------------------------------------------------------------------------------


def due_by(created: int) -> int:
    """The end (23:59:59 UTC) of the day `RESPONSE_DAYS` days after `created`."""
    day = datetime.fromtimestamp(created, UTC).date() + timedelta(days=RESPONSE_DAYS + 1)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) - 1


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisputeContext:
    """What opening or deciding a dispute needs: the account, the time, ids and pricing."""

    account_id: str
    now: int
    pricing: Pricing
    balance_transaction_id: str
    dispute_id: str = ""


def _blank_evidence() -> JSON:
    return dict.fromkeys(EVIDENCE_FIELDS) | {"enhanced_evidence": {}}


def decide_open(charge: State, ctx: DisputeContext) -> Appends:
    """Open the dispute a test card asked for on its captured charge; every stream's events."""
    data = charge.data
    reason = charge.internal.get("dispute")
    assert charge.internal.get("dispute_due") and reason is not None, data["id"]
    assert data["captured"] and not data["disputed"] and not data["refunded"], data["id"]
    assert ctx.dispute_id.startswith("du_")
    inquiry = bool(charge.internal.get("dispute_inquiry"))
    amount = int(data["amount"]) - int(data["amount_refunded"])
    money = currency(data["currency"])
    brand = data["payment_method_details"]["card"]["brand"]
    appends: Appends = []
    balance_transactions: list[JSON] = []
    if not inquiry:
        fee = ctx.pricing.dispute_fee(money)
        txn = new_balance_transaction(
            txn_id=ctx.balance_transaction_id,
            account_id=ctx.account_id,
            type="adjustment",
            amount=-amount,
            currency=money.code,
            fee_details=[_dispute_fee(fee, money.code)],
            created=ctx.now,
            available_on=ctx.now,
            source=ctx.dispute_id,
            description=f"Chargeback withdrawal for {data['id']}",
            reporting_category="dispute",
        )
        appends.append((ctx.balance_transaction_id, [txn]))
        balance_transactions.append(txn.balance_transaction)
    dispute: JSON = {
        "id": ctx.dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": balance_transactions,
        "charge": data["id"],
        "created": ctx.now,
        "currency": money.code,
        "enhanced_eligibility_types": [],
        "evidence": _blank_evidence(),
        "evidence_details": {
            "due_by": due_by(ctx.now),
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": inquiry,
        "livemode": False,
        "metadata": {},
        "payment_intent": data["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": brand,
                "case_type": "inquiry" if inquiry else "chargeback",
                "network_reason_code": _NETWORK_REASON_CODES.get((brand, reason)),
            },
            "type": "card",
        },
        "reason": reason,
        "status": str(S.warning_needs_response if inquiry else S.needs_response),
    }
    appends.append((ctx.dispute_id, [DisputeCreated(dispute=dispute)]))
    appends.append((data["id"], [charge_domain.ChargeDisputed(dispute=ctx.dispute_id)]))
    return appends


def _dispute_fee(amount: int, code: str) -> JSON:
    return {
        "amount": amount,
        "application": None,
        "currency": code,
        "description": "Dispute fee",
        "type": "stripe_fee",
    }


def _evidence(current: JSON, value: JSON) -> JSON:
    merged = dict(current)
    for key, item in value.items():
        if key in FILE_EVIDENCE_FIELDS and item != "":
            reject(
                f"The ledger does not support file evidence yet ('{key}' names an uploaded "
                "file, and the Files API does not exist here).",
                code="parameter_unsupported",
                param=f"evidence[{key}]",
            )
        merged[key] = None if item == "" else item
    return merged


def _has_evidence(evidence: JSON) -> bool:
    return any(evidence.get(key) is not None for key in EVIDENCE_FIELDS)


def _check_respondable(state: State, what: str, param: str) -> None:
    status = state.data["status"]
    reject_if(
        status not in RESPONDABLE,
        f"You cannot {what} dispute {state.data['id']} because it has a status of {status}. "
        "Only disputes with a status of needs_response or warning_needs_response accept "
        "evidence.",
        param=param,
    )


def decide_update(state: State, params: JSON, ctx: DisputeContext) -> Appends:
    """Stage or submit evidence, change metadata; a submission of Stripe's test values decides.

    `submit` defaults to true when `evidence` is given; a request with neither `evidence` nor
    `submit` only changes metadata (and never submits).
    """
    dispute = state.data
    dispute_id = dispute["id"]
    submit = bool(params.get("submit", "evidence" in params))
    if "evidence" in params:
        _check_respondable(state, "update the evidence of", "evidence")
    if submit:
        _check_respondable(state, "submit evidence for", "submit")
    changes: JSON = {}
    if "metadata" in params:
        changes["metadata"] = apply_metadata(dispute["metadata"], params["metadata"])
    if "evidence" in params:
        evidence = _evidence(dispute["evidence"], params["evidence"])
        changes["evidence"] = evidence
        changes["evidence_details"] = dispute["evidence_details"] | {
            "has_evidence": _has_evidence(evidence)
        }
    changes = {key: value for key, value in changes.items() if dispute[key] != value}
    if not submit:
        return [(dispute_id, [DisputeUpdated(changes=changes)])] if changes else []
    past_due = ctx.now > dispute["evidence_details"]["due_by"]
    events: list[DomainEvent] = [DisputeSubmitted(changes=changes, past_due=past_due)]
    appends: Appends = []
    text = (changes.get("evidence") or dispute["evidence"]).get("uncategorized_text")
    outcome = text.strip() if isinstance(text, str) else None
    if dispute["status"] == S.warning_needs_response:
        # An inquiry has no money at stake: either test value settles it.
        if outcome in (WINNING_EVIDENCE, LOSING_EVIDENCE):
            events.append(DisputeClosed(status=str(S.warning_closed)))
    elif outcome == WINNING_EVIDENCE:
        txn = _reinstatement(dispute, ctx)
        appends.append((ctx.balance_transaction_id, [txn]))
        events.append(DisputeWon(balance_transaction=txn.balance_transaction))
    elif outcome == LOSING_EVIDENCE:
        events.append(DisputeClosed(status=str(S.lost)))
    return [*appends, (dispute_id, events)]


def _reinstatement(dispute: JSON, ctx: DisputeContext) -> BalanceTransactionCreated:
    """The balance transaction that gives back what the withdrawal took: amount and fee."""
    (withdrawal,) = dispute["balance_transactions"]
    fee = -int(withdrawal["fee"])
    return new_balance_transaction(
        txn_id=ctx.balance_transaction_id,
        account_id=ctx.account_id,
        type="adjustment",
        amount=-int(withdrawal["amount"]),
        currency=dispute["currency"],
        fee_details=[_dispute_fee(fee, dispute["currency"])],
        created=ctx.now,
        available_on=ctx.now,
        source=dispute["id"],
        description=f"Chargeback reversal for {dispute['charge']}",
        reporting_category="dispute_reversal",
    )


def check_closable(state: State) -> None:
    """Only a dispute that still needs a response can be closed (accepted)."""
    status = state.data["status"]
    reject_if(
        status not in RESPONDABLE,
        f"You cannot close dispute {state.data['id']} because it has a status of {status}. "
        "Only disputes with a status of needs_response or warning_needs_response can be closed.",
        param="dispute",
    )


def _closed_status(state: State) -> Status:
    return S.warning_closed if state.data["status"] in INQUIRY else S.lost


def decide_close(state: State) -> list[DomainEvent]:
    """Accept the dispute: a chargeback is lost, an inquiry closed."""
    check_closable(state)
    return [DisputeClosed(status=str(_closed_status(state)))]


def decide_deadline(state: State, now: int) -> list[DomainEvent]:
    """`due_by` passed with no response: a chargeback is lost, an inquiry closed."""
    assert state.data["status"] in RESPONDABLE
    assert now >= state.data["evidence_details"]["due_by"]
    return [DisputeClosed(status=str(_closed_status(state)))]


# -- evolve and Stripe events ------------------------------------------------------------------


def _moved(state: State, to: Status) -> None:
    current = Status(state.data["status"])
    assert to in TRANSITIONS[current], f"{state.data['id']}: {current} -> {to}"


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case DisputeCreated(dispute=dispute):
            assert state is None
            assert dispute["status"] in RESPONDABLE
            assert dispute["is_charge_refundable"] == (dispute["status"] in INQUIRY)
            return State(data=dispute)
        case DisputeUpdated(changes=changes):
            assert state is not None and set(changes) <= set(state.data)
            return State(data=state.data | changes, internal=state.internal)
        case DisputeSubmitted(changes=changes, past_due=past_due):
            assert state is not None and set(changes) <= set(state.data)
            inquiry = state.data["status"] in INQUIRY
            to = S.warning_under_review if inquiry else S.under_review
            _moved(state, to)
            data = state.data | changes
            details = data["evidence_details"]
            data["evidence_details"] = details | {
                "past_due": past_due,
                "submission_count": details["submission_count"] + 1,
            }
            data["status"] = str(to)
            return State(data=data, internal=state.internal)
        case DisputeWon(balance_transaction=txn):
            assert state is not None
            _moved(state, S.won)
            data = state.data | {
                "status": str(S.won),
                "balance_transactions": [*state.data["balance_transactions"], txn],
            }
            return State(data=data, internal=state.internal)
        case DisputeClosed(status=status):
            assert state is not None
            _moved(state, Status(status))
            return State(data=state.data | {"status": status}, internal=state.internal)
    raise AssertionError(f"dispute cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case DisputeCreated():
            specs = [StripeEventSpec("charge.dispute.created", after.data)]
            if after.data["balance_transactions"]:
                specs.append(StripeEventSpec("charge.dispute.funds_withdrawn", after.data))
            return specs
        case DisputeUpdated() | DisputeSubmitted():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("charge.dispute.updated", after.data, previous)]
        case DisputeWon():
            return [
                StripeEventSpec("charge.dispute.funds_reinstated", after.data),
                StripeEventSpec("charge.dispute.closed", after.data),
            ]
        case DisputeClosed():
            return [StripeEventSpec("charge.dispute.closed", after.data)]
    raise AssertionError(f"dispute cannot apply {event.event_type}")


DISPUTE = register(Aggregate("dispute", "du", evolve, stripe_events))
