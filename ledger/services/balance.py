"""`led.balance` and `led.balance_transactions`: projections of the postings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from ledger.domain import balance_transaction as domain
from ledger.domain.aggregate import State
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.queries import Filter, object_list
from ledger.services.runner import JSON, Command, UnitOfWork

__all__ = ["BalanceService", "BalanceTransactionsService", "balance_json"]

_DEFAULT_CURRENCY = "usd"


def balance_json(conn: psycopg.Connection[Any], account_id: str) -> JSON:
    """Stripe's Balance object of `account_id`, summed from the balance projection."""
    rows = conn.execute(
        "SELECT currency, bucket, source_type, sum(amount) FROM balances WHERE account_id = %s "
        "GROUP BY currency, bucket, source_type ORDER BY currency, bucket, source_type",
        (account_id,),
    ).fetchall()
    amounts: defaultdict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    currencies: list[str] = []
    for currency, bucket_name, source_type, total in rows:
        amounts[(currency, bucket_name)][source_type] = int(total)
        if currency not in currencies:
            currencies.append(currency)
    if not currencies:
        currencies = [_DEFAULT_CURRENCY]

    def bucket(name: str) -> list[JSON]:
        entries = []
        for currency in currencies:
            by_source = amounts.get((currency, name), {})
            source_types = {"card": 0} | by_source
            entries.append(
                {
                    "amount": sum(by_source.values()),
                    "currency": currency,
                    "source_types": source_types,
                }
            )
        return entries

    return {
        "object": "balance",
        "available": bucket("available"),
        "livemode": False,
        "pending": bucket("pending"),
    }


class BalanceService(Service):
    """Stripe's Balance API."""

    @stripe_operation("GET /v1/balance")
    def retrieve(self, **params: Any) -> StripeObject:
        """The account's available and pending balance, per currency and source type."""
        call = self._begin("GET /v1/balance", params)
        return self._read(call, lambda conn: balance_json(conn, call.ctx.account_id))


class BalanceTransactionsService(Service):
    """Stripe's BalanceTransactions API: retrieve and list."""

    @stripe_operation("GET /v1/balance_transactions/{id}")
    def retrieve(self, id: str, **params: Any) -> StripeObject:
        """Retrieve a balance transaction."""
        call = self._begin("GET /v1/balance_transactions/{id}", params)
        return self._retrieve(call, id, "balance_transaction", "balance transaction")

    @stripe_operation("GET /v1/balance_transactions")
    def list(self, **params: Any) -> ListObject:
        """List balance transactions; filters type, source, currency, payout, created."""
        original = dict(params)
        call = self._begin("GET /v1/balance_transactions", params)
        wanted = dict(call.params)
        if "currency" in wanted:
            wanted["currency"] = wanted["currency"].lower()
        payout = call.params.get("payout")
        query = object_list(
            "balance_transaction",
            "balance transaction",
            "/v1/balance_transactions",
            wanted,
            fields=("type", "source", "currency"),
            extra=() if payout is None else (Filter("internal->>'payout' = %s", (payout,)),),
        )
        return self._list(call, query, original, lambda p: self.list(**p))


# -- funds become available ------------------------------------------------------------------


def _find_pending_funds(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    if test_clock is not None:
        return []  # funds follow the ledger's clock, not a test clock's
    rows = conn.execute(
        "SELECT (data->>'available_on')::bigint, account_id, id FROM objects "
        "WHERE object = 'balance_transaction' AND data->>'status' = 'pending' "
        "AND (data->>'available_on')::bigint <= %s "
        "ORDER BY (data->>'available_on')::bigint, id LIMIT %s",
        (due_by, limit),
    ).fetchall()
    return [
        DueItem(due_at, "funds_available", account_id, txn_id)
        for due_at, account_id, txn_id in rows
    ]


def _make_available(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        state: State | None = uow.find(item.object_id).state
        if state is None or state.data["status"] != "pending":
            return {}
        if state.data["net"] < 0:
            # Funds that leave as they become available (a transfer of a charge's funds) are a
            # debit of the available balance: serialized with the others (see funds.py).
            uow.lock_balance(uow.ctx.account_id, state.data["currency"])
        uow.append(item.object_id, domain.decide_available(state, uow.ctx.account_id))
        return {}

    return command


register_due_job(DueJob("funds_available", _find_pending_funds, _make_available))
