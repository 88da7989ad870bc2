"""`led.refunds`: create, retrieve, update, cancel, list.

A refund is created against a charge, named directly (`charge`) or through its PaymentIntent
(`payment_intent`: the intent's latest charge). One command appends the refund, its balance
transaction and the charge's new `amount_refunded`.

Also the due job that settles refunds made on the refund test cards: a `pm_card_pendingRefund`
refund succeeds, and a `pm_card_refundFail` refund fails (the money comes back), the next time
due work runs after the refund was created.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

import psycopg

from ledger.clock import to_unix
from ledger.domain import refund as domain
from ledger.domain.aggregate import State
from ledger.domain.rules import reject
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.destination_charges import undo_for_refund
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.queries import object_list
from ledger.services.runner import JSON, Command, UnitOfWork

__all__ = ["RefundsService", "load_charge_dispute"]

_KIND: Final = "refund"
# Parameters of refunds to a customer's cash balance, or of payment methods that are not cards:
# refused plainly, never ignored.
_UNSUPPORTED: Final = ("currency", "customer", "instructions_email", "origin")
_REFERENCE_DIGITS: Final = 23  # an acquirer reference number
MESSAGE_NO_TARGET: Final = (
    "One of the following params should be provided for this request: payment_intent or charge."
)


def _refuse_unsupported(params: JSON) -> None:
    for name in _UNSUPPORTED:
        if name in params:
            reject(
                f"The ledger does not support the '{name}' parameter of refunds: only card "
                "refunds of a charge exist here.",
                code="parameter_unsupported",
                param=name,
            )


def _reference() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(_REFERENCE_DIGITS))


def load_charge_dispute(uow: UnitOfWork, charge: State) -> State | None:
    """The dispute opened on `charge`, if any."""
    dispute_id = charge.internal.get("dispute_id")
    if dispute_id is None:
        return None
    return uow.get(str(dispute_id), "dispute", "dispute")


def _target(uow: UnitOfWork, params: JSON) -> tuple[State, str]:
    """The charge to refund and the param that named it."""
    charge_id: str | None = params.get("charge")
    intent_id: str | None = params.get("payment_intent")
    if not charge_id and not intent_id:
        reject(MESSAGE_NO_TARGET)
    if intent_id:
        intent = uow.get(intent_id, "payment_intent", "payment_intent", "payment_intent")
        latest = intent.data.get("latest_charge")
        if latest is None:
            reject(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if not charge_id:
            return uow.get(latest, "charge", "charge", "charge"), "payment_intent"
    assert charge_id is not None
    charge = uow.get(charge_id, "charge", "charge", "charge")
    if intent_id and charge.data["payment_intent"] != intent_id:
        reject(
            f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.",
            param="charge",
        )
    return charge, "charge"


class RefundsService(Service):
    """Stripe's Refunds API, for card charges."""

    @stripe_operation("POST /v1/refunds")
    def create(self, **params: Any) -> StripeObject:
        """Refund all or part (`amount`) of a charge, named by `charge` or `payment_intent`."""
        operation = "POST /v1/refunds"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            _refuse_unsupported(p)  # in the command, so the error has a request id
            charge, param = _target(uow, p)
            # A refund takes its amount out of the balance (it may go below zero).
            uow.lock_balance(uow.ctx.account_id, charge.data["currency"])
            ctx = domain.RefundContext(
                account_id=uow.ctx.account_id,
                refund_id=uow.new_id("re"),
                balance_transaction_id=uow.new_id("txn"),
                created=to_unix(uow.ctx.now),
                reference=_reference(),
            )
            dispute = load_charge_dispute(uow, charge)
            # A destination charge's transfer and fee are undone first: the refund names its
            # transfer reversal.
            amount = domain.check_refundable(charge, dispute, p.get("amount"), param=param)
            domain.check_connect_options(charge.data, p)
            reversal = undo_for_refund(uow, charge, amount, p, ctx.refund_id)
            appends = domain.decide_create(
                charge, dispute, p, ctx, param=param, transfer_reversal=reversal
            )
            for stream_id, events in appends:
                uow.append(stream_id, events)
            return uow.get(ctx.refund_id, "refund", _KIND).data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/refunds/{refund}")
    def retrieve(self, refund: str, **params: Any) -> StripeObject:
        """Retrieve a refund."""
        call = self._begin("GET /v1/refunds/{refund}", params)
        return self._retrieve(call, refund, "refund", _KIND)

    @stripe_operation("POST /v1/refunds/{refund}")
    def update(self, refund: str, **params: Any) -> StripeObject:
        """Update a refund's metadata."""
        call = self._begin("POST /v1/refunds/{refund}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(refund, "refund", _KIND)
            uow.append(refund, domain.decide_update(state, call.params))
            return uow.get(refund, "refund", _KIND).data

        return self._execute(call, f"POST /v1/refunds/{refund}", command)

    @stripe_operation("POST /v1/refunds/{refund}/cancel")
    def cancel(self, refund: str, **params: Any) -> StripeObject:
        """Cancel a refund that requires action; card refunds never do, so this refuses them."""
        call = self._begin("POST /v1/refunds/{refund}/cancel", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(refund, "refund", _KIND)
            domain.check_cancelable(state)
            # Only refunds of payment methods without native refunds (bank transfers, vouchers)
            # enter requires_action; the ledger has card refunds only.
            raise AssertionError(f"{refund} is a card refund in status requires_action")

        return self._execute(call, f"POST /v1/refunds/{refund}/cancel", command)

    @stripe_operation("GET /v1/refunds")
    def list(self, **params: Any) -> ListObject:
        """List refunds, newest first; filters `charge`, `payment_intent`, `created`."""
        original = dict(params)
        call = self._begin("GET /v1/refunds", params)
        query = object_list(
            "refund", _KIND, "/v1/refunds", call.params, fields=("charge", "payment_intent")
        )
        return self._list(call, query, original, lambda p: self.list(**p))


# -- test-card refunds settle or fail --------------------------------------------------------


def _find_settling_refunds(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    # A refund follows its charge's customer's test clock, if it has one.
    rows = conn.execute(
        "SELECT (r.internal->>'due_at')::bigint, r.account_id, r.id FROM objects r "
        "JOIN objects ch ON ch.account_id = r.account_id AND ch.id = r.data->>'charge' "
        "LEFT JOIN objects cu ON cu.account_id = ch.account_id AND cu.id = ch.data->>'customer' "
        "WHERE r.object = 'refund' AND r.internal->>'due_at' IS NOT NULL "
        "AND (r.internal->>'due_at')::bigint <= %s "
        "AND cu.data->>'test_clock' IS NOT DISTINCT FROM %s "
        "ORDER BY (r.internal->>'due_at')::bigint, r.id LIMIT %s",
        (due_by, test_clock, limit),
    ).fetchall()
    return [
        DueItem(due_at, "refund_settlement", account_id, refund_id)
        for due_at, account_id, refund_id in rows
    ]


def _settle_refund(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        state = uow.find(item.object_id).state
        if state is None or state.internal.get("due_at") is None:
            return {}  # settled by an earlier run
        status = state.data["status"]
        if status == domain.Status.pending:
            uow.append(item.object_id, domain.decide_settle(state))
        elif status == domain.Status.succeeded:
            appends = domain.decide_fail(
                state, uow.ctx.account_id, uow.new_id("txn"), to_unix(uow.ctx.now)
            )
            for stream_id, events in appends:
                uow.append(stream_id, events)
        return {}

    return command


register_due_job(DueJob("refund_settlement", _find_settling_refunds, _settle_refund))
