"""`led.application_fees`: application fees (retrieve, list) and their refunds.

Application fees are created by destination and direct charges
(`ledger.services.destination_charges`) and live in the platform's books: a connected account
asking sees none (`resource_missing`). A fee refund gives money back to the connected account
and takes it from the platform's available balance, which may go below zero (as a refund may).
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from ledger.clock import to_unix
from ledger.domain import application_fee as domain
from ledger.domain.aggregate import State
from ledger.domain.rules import reject
from ledger.errors import resource_missing
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Call, Service, stripe_operation
from ledger.services.queries import Filter, fetch_object, object_list
from ledger.services.runner import JSON, UnitOfWork

__all__ = ["ApplicationFeesService", "refund_application_fee", "refund_fee_for_reversal"]

_KIND: Final = "application fee"  # "No such application fee: 'fee_…'"
_REFUND_KIND: Final = "fee refund"


def refund_application_fee(uow: UnitOfWork, fee: State, amount: int, params: JSON) -> str:
    """Queue a refund of `amount` of `fee` to its connected account; return the refund's id.

    The platform's balance is debited (and locked: take it before the command's first flush).
    The platform asks, or the connected account refunds a direct charge with
    `refund_application_fee`.
    """
    assert uow.ctx.account_id in (uow.platform_account_id, fee.data["account"])
    uow.lock_balance(uow.platform_account_id, fee.data["currency"])
    ctx = domain.FeeRefundContext(
        platform_account_id=uow.platform_account_id,
        refund_id=uow.new_id("fr"),
        platform_txn_id=uow.new_id("txn"),
        account_txn_id=uow.new_id("txn"),
        created=to_unix(uow.ctx.now),
    )
    for account, stream, events in domain.decide_refund(fee, amount, params, ctx):
        uow.append(stream, events, account_id=account)
    return ctx.refund_id


def refund_fee_for_reversal(uow: UnitOfWork, transfer: State, amount: int) -> None:
    """Refund a destination charge's application fee in proportion to a reversal of `amount`.

    Cumulative over the transfer's reversals, so that reversing it all refunds the whole fee.
    """
    fee_id = transfer.internal.get("application_fee")
    assert fee_id is not None
    fee = uow.get(str(fee_id), "application_fee", "application fee")
    share = domain.cumulative_share(
        int(transfer.data["amount_reversed"]),
        amount,
        int(transfer.data["amount"]),
        int(fee.data["amount"]),
    )
    share = min(share, domain.refund_remaining(fee.data))
    if share > 0:
        refund_application_fee(uow, fee, share, {})


def _load_fee(uow: UnitOfWork, fee: str) -> State:
    return uow.get(fee, "application_fee", _KIND)


class ApplicationFeesService(Service):
    """Stripe's ApplicationFees API, with application fee refunds."""

    @stripe_operation("GET /v1/application_fees/{id}")
    def retrieve(self, id: str, **params: Any) -> StripeObject:
        """Retrieve an application fee."""
        call = self._begin("GET /v1/application_fees/{id}", params)
        return self._retrieve(call, id, "application_fee", _KIND)

    @stripe_operation("GET /v1/application_fees")
    def list(self, **params: Any) -> ListObject:
        """List application fees, newest first; filters `charge`, `created`."""
        original = dict(params)
        call = self._begin("GET /v1/application_fees", params)
        query = object_list(
            "application_fee", _KIND, "/v1/application_fees", call.params, fields=("charge",)
        )
        return self._list(call, query, original, lambda p: self.list(**p))

    # -- refunds --------------------------------------------------------------------------

    @stripe_operation("POST /v1/application_fees/{id}/refunds")
    def create_refund(self, id: str, **params: Any) -> StripeObject:
        """Refund all or part (`amount`) of an application fee to its connected account."""
        call = self._begin("POST /v1/application_fees/{id}/refunds", params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            state = _load_fee(uow, id)
            amount = domain.check_refundable(state, p.get("amount"))
            refund_id = refund_application_fee(uow, state, amount, p)
            return uow.get(refund_id, "fee_refund", _REFUND_KIND).data

        return self._execute(call, f"POST /v1/application_fees/{id}/refunds", command)

    @stripe_operation("POST /v1/application_fees/{id}/refund")
    def refund(self, id: str, **params: Any) -> StripeObject:
        """Refund an application fee (the legacy endpoint): returns the application fee."""
        call = self._begin("POST /v1/application_fees/{id}/refund", params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            if "directive" in p:
                # Undocumented; refused rather than ignored.
                reject(
                    "The ledger does not support the 'directive' parameter of fee refunds.",
                    code="parameter_unsupported",
                    param="directive",
                )
            state = _load_fee(uow, id)
            amount = domain.check_refundable(state, p.get("amount"))
            refund_application_fee(uow, state, amount, {})
            return _load_fee(uow, id).data

        return self._execute(call, f"POST /v1/application_fees/{id}/refund", command)

    @stripe_operation("GET /v1/application_fees/{fee}/refunds/{id}")
    def retrieve_refund(self, fee: str, id: str, **params: Any) -> StripeObject:
        """Retrieve one refund of an application fee."""
        call = self._begin("GET /v1/application_fees/{fee}/refunds/{id}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, id)
            if (
                found is None
                or found[0].get("object") != "fee_refund"
                or found[0].get("fee") != fee
            ):
                raise resource_missing(_REFUND_KIND, id)
            return found[0]

        return self._read(call, read)

    @stripe_operation("POST /v1/application_fees/{fee}/refunds/{id}")
    def update_refund(self, fee: str, id: str, **params: Any) -> StripeObject:
        """Update a fee refund's metadata."""
        call = self._begin("POST /v1/application_fees/{fee}/refunds/{id}", params)

        def command(uow: UnitOfWork) -> JSON:
            _load_fee(uow, fee)
            state = uow.get(id, "fee_refund", _REFUND_KIND)
            if state.data["fee"] != fee:
                raise resource_missing(_REFUND_KIND, id)
            events = domain.decide_refund_update(state, call.params)
            uow.append(id, events)
            uow.append(fee, list(events))
            return uow.get(id, "fee_refund", _REFUND_KIND).data

        return self._execute(call, f"POST /v1/application_fees/{fee}/refunds/{id}", command)

    @stripe_operation("GET /v1/application_fees/{id}/refunds")
    def list_refunds(self, id: str, **params: Any) -> ListObject:
        """List an application fee's refunds, newest first."""
        original = dict(params)
        call = self._begin("GET /v1/application_fees/{id}/refunds", params)

        def fee(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, id)
            if found is None or found[0].get("object") != "application_fee":
                raise resource_missing(_KIND, id)
            return found[0]

        self._read(Call(call.ctx, {}, []), fee)  # Stripe's 404 for a fee that is not there
        query = object_list(
            "fee_refund",
            _REFUND_KIND,
            f"/v1/application_fees/{id}/refunds",
            call.params,
            extra=(Filter("data->>'fee' = %s", (id,)),),
        )
        return self._list(call, query, original, lambda p: self.list_refunds(id, **p))
