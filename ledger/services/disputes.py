"""`led.disputes`: retrieve, update (evidence, metadata, submit), close, list.

Disputes are opened by the ledger, not by a request: the due job `dispute_open` opens one on
every captured charge whose test card asks for it (`pm_card_createDispute…`), at the moment of
the capture, the next time due work runs (`led.run_due()`, or advancing the customer's test
clock). Stripe, too, opens a test card's dispute a moment after the payment, not in the
payment's own request. The due job `dispute_deadline` closes, at `evidence_details.due_by`,
every dispute that still needs a response.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from ledger.clock import to_unix
from ledger.domain import dispute as domain
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.queries import object_list
from ledger.services.runner import JSON, Command, UnitOfWork

__all__ = ["DisputesService"]

_KIND: Final = "dispute"


def _context(uow: UnitOfWork, dispute_id: str = "") -> domain.DisputeContext:
    return domain.DisputeContext(
        account_id=uow.ctx.account_id,
        now=to_unix(uow.ctx.now),
        pricing=uow.pricing,
        balance_transaction_id=uow.new_id("txn"),
        dispute_id=dispute_id,
    )


class DisputesService(Service):
    """Stripe's Disputes API, for card disputes."""

    @stripe_operation("GET /v1/disputes/{dispute}")
    def retrieve(self, dispute: str, **params: Any) -> StripeObject:
        """Retrieve a dispute."""
        call = self._begin("GET /v1/disputes/{dispute}", params)
        return self._retrieve(call, dispute, "dispute", _KIND)

    @stripe_operation("POST /v1/disputes/{dispute}")
    def update(self, dispute: str, **params: Any) -> StripeObject:
        """Stage or submit evidence (`submit`, true by default), or change metadata."""
        call = self._begin("POST /v1/disputes/{dispute}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(dispute, "dispute", _KIND)
            appends = domain.decide_update(state, call.params, _context(uow))
            for stream_id, events in appends:
                uow.append(stream_id, events)
            return uow.get(dispute, "dispute", _KIND).data

        return self._execute(call, f"POST /v1/disputes/{dispute}", command)

    @stripe_operation("POST /v1/disputes/{dispute}/close")
    def close(self, dispute: str, **params: Any) -> StripeObject:
        """Accept the dispute: a chargeback is lost, an inquiry closed. Irreversible."""
        call = self._begin("POST /v1/disputes/{dispute}/close", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(dispute, "dispute", _KIND)
            uow.append(dispute, domain.decide_close(state))
            return uow.get(dispute, "dispute", _KIND).data

        return self._execute(call, f"POST /v1/disputes/{dispute}/close", command)

    @stripe_operation("GET /v1/disputes")
    def list(self, **params: Any) -> ListObject:
        """List disputes, newest first; filters `charge`, `payment_intent`, `created`."""
        original = dict(params)
        call = self._begin("GET /v1/disputes", params)
        query = object_list(
            "dispute", _KIND, "/v1/disputes", call.params, fields=("charge", "payment_intent")
        )
        return self._list(call, query, original, lambda p: self.list(**p))


# -- a test card's dispute opens -------------------------------------------------------------


def _find_disputes_to_open(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    # Due at the capture (the charge's balance transaction); a charge follows its customer's
    # test clock, if it has one. A fully refunded charge can no longer be disputed.
    rows = conn.execute(
        "SELECT (bt.data->>'created')::bigint, ch.account_id, ch.id FROM objects ch "
        "JOIN objects bt ON bt.account_id = ch.account_id "
        "AND bt.id = ch.data->>'balance_transaction' "
        "LEFT JOIN objects cu ON cu.account_id = ch.account_id AND cu.id = ch.data->>'customer' "
        "WHERE ch.object = 'charge' AND ch.internal->>'dispute_due' = 'true' "
        "AND ch.data->>'disputed' = 'false' AND ch.data->>'refunded' = 'false' "
        "AND (bt.data->>'created')::bigint <= %s "
        "AND cu.data->>'test_clock' IS NOT DISTINCT FROM %s "
        "ORDER BY (bt.data->>'created')::bigint, ch.id LIMIT %s",
        (due_by, test_clock, limit),
    ).fetchall()
    return [
        DueItem(due_at, "dispute_open", account_id, charge_id)
        for due_at, account_id, charge_id in rows
    ]


def _open_dispute(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        charge = uow.find(item.object_id).state
        if charge is None or not charge.internal.get("dispute_due"):
            return {}  # opened by an earlier run
        if charge.data["disputed"] or charge.data["refunded"]:
            return {}
        # A dispute takes its amount and fee out of the balance (it may go below zero).
        uow.lock_balance(uow.ctx.account_id, charge.data["currency"])
        for stream_id, events in domain.decide_open(charge, _context(uow, uow.new_id("du"))):
            uow.append(stream_id, events)
        return {}

    return command


register_due_job(DueJob("dispute_open", _find_disputes_to_open, _open_dispute))


# -- the response deadline passes ------------------------------------------------------------


def _find_deadlines(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    rows = conn.execute(
        "SELECT (d.data->'evidence_details'->>'due_by')::bigint, d.account_id, d.id "
        "FROM objects d "
        "JOIN objects ch ON ch.account_id = d.account_id AND ch.id = d.data->>'charge' "
        "LEFT JOIN objects cu ON cu.account_id = ch.account_id AND cu.id = ch.data->>'customer' "
        "WHERE d.object = 'dispute' "
        "AND d.data->>'status' IN ('needs_response', 'warning_needs_response') "
        "AND (d.data->'evidence_details'->>'due_by')::bigint <= %s "
        "AND cu.data->>'test_clock' IS NOT DISTINCT FROM %s "
        "ORDER BY (d.data->'evidence_details'->>'due_by')::bigint, d.id LIMIT %s",
        (due_by, test_clock, limit),
    ).fetchall()
    return [
        DueItem(due_at, "dispute_deadline", account_id, dispute_id)
        for due_at, account_id, dispute_id in rows
    ]


def _pass_deadline(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        state = uow.find(item.object_id).state
        if state is None or state.data["status"] not in domain.RESPONDABLE:
            return {}  # answered or closed meanwhile
        uow.append(item.object_id, domain.decide_deadline(state, to_unix(uow.ctx.now)))
        return {}

    return command


register_due_job(DueJob("dispute_deadline", _find_deadlines, _pass_deadline))
