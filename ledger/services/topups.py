"""`led.topups`: create, retrieve, update, list, cancel, and the ledger's own reversal helper.

A top-up is created `pending`; the due job below answers it the next time due work runs after
it was made (Stripe's test mode answers test top-ups within moments): it succeeds, and its
amount is available at once, or it fails with its test bank token's code.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from ledger.clock import to_unix
from ledger.domain import topup as domain
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.queries import created_filters, object_list
from ledger.services.runner import JSON, Command, UnitOfWork

__all__ = ["TopupsService"]

_KIND: Final = "topup"


class TopupsService(Service):
    """Stripe's Topups API."""

    @stripe_operation("POST /v1/topups")
    def create(self, **params: Any) -> StripeObject:
        """Top up the balance from a bank account (`source`: a test bank token, or none)."""
        operation = "POST /v1/topups"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            ctx = domain.TopupContext(topup_id=uow.new_id("tu"), created=to_unix(uow.ctx.now))
            uow.append(ctx.topup_id, domain.decide_create(call.params, ctx))
            return uow.get(ctx.topup_id, "topup", _KIND).data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/topups/{topup}")
    def retrieve(self, topup: str, **params: Any) -> StripeObject:
        """Retrieve a top-up."""
        call = self._begin("GET /v1/topups/{topup}", params)
        return self._retrieve(call, topup, "topup", _KIND)

    @stripe_operation("POST /v1/topups/{topup}")
    def update(self, topup: str, **params: Any) -> StripeObject:
        """Update a top-up's description or metadata."""
        call = self._begin("POST /v1/topups/{topup}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(topup, "topup", _KIND)
            uow.append(topup, domain.decide_update(state, call.params))
            return uow.get(topup, "topup", _KIND).data

        return self._execute(call, f"POST /v1/topups/{topup}", command)

    @stripe_operation("POST /v1/topups/{topup}/cancel")
    def cancel(self, topup: str, **params: Any) -> StripeObject:
        """Cancel a pending top-up."""
        call = self._begin("POST /v1/topups/{topup}/cancel", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(topup, "topup", _KIND)
            uow.append(topup, domain.decide_cancel(state))
            return uow.get(topup, "topup", _KIND).data

        return self._execute(call, f"POST /v1/topups/{topup}/cancel", command)

    @stripe_operation("GET /v1/topups")
    def list(self, **params: Any) -> ListObject:
        """List top-ups, newest first; filters `amount`, `created`, `status`."""
        original = dict(params)
        call = self._begin("GET /v1/topups", params)
        query = object_list(
            "topup",
            _KIND,
            "/v1/topups",
            call.params,
            fields=("status",),
            extra=created_filters(call.params.get("amount"), "(data->>'amount')::bigint"),
        )
        return self._list(call, query, original, lambda p: self.list(**p))

    @stripe_operation("POST /v1/test_helpers/topups/{topup}/reverse", extension=True)
    def reverse(self, topup: str, **params: Any) -> StripeObject:
        """Test helper (the ledger's own): the bank takes a succeeded top-up's debit back.

        A `topup_reversal` balance transaction withdraws the amount from the available balance,
        which may go negative, and the top-up becomes `reversed`.
        """
        # Like retrieving the top-up, it takes only `expand` and the request options.
        call = self._begin("GET /v1/topups/{topup}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(topup, "topup", _KIND)
            domain.check_reversible(state)
            # A debit of the balance: serialized with the others (see services.funds).
            uow.lock_balance(uow.ctx.account_id, state.data["currency"])
            appends = domain.decide_reverse(
                state, uow.ctx.account_id, uow.new_id("txn"), to_unix(uow.ctx.now)
            )
            for stream_id, events in appends:
                uow.append(stream_id, events)
            return uow.get(topup, "topup", _KIND).data

        return self._execute(call, f"POST /v1/test_helpers/topups/{topup}/reverse", command)


# -- pending top-ups are answered ------------------------------------------------------------


def _find_pending_topups(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    if test_clock is not None:
        return []  # top-ups belong to no customer, so to no test clock
    rows = conn.execute(
        "SELECT (internal->>'due_at')::bigint, account_id, id FROM objects "
        "WHERE object = 'topup' AND internal->>'due_at' IS NOT NULL "
        "AND (internal->>'due_at')::bigint <= %s "
        "ORDER BY (internal->>'due_at')::bigint, id LIMIT %s",
        (due_by, limit),
    ).fetchall()
    return [
        DueItem(due_at, "topup_settlement", account_id, topup_id)
        for due_at, account_id, topup_id in rows
    ]


def _settle_topup(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        state = uow.find(item.object_id).state
        if (
            state is None
            or state.data["status"] != domain.Status.pending
            or state.internal.get("due_at") is None
        ):
            return {}  # answered or canceled since it was found
        appends = domain.decide_settle(
            state, uow.ctx.account_id, uow.new_id("txn"), to_unix(uow.ctx.now)
        )
        for stream_id, events in appends:
            uow.append(stream_id, events)
        return {}

    return command


register_due_job(DueJob("topup_settlement", _find_pending_topups, _settle_topup))
