"""`led.payouts`: create, retrieve, update, list, cancel, reverse; and the payouts time makes.

A payout is created in the paying account's namespace (the platform, or `stripe_account`). Its
amount leaves the available balance in the same command, after `require_available` has locked
that balance and found it covers the payout (in the payout's `source_type` too), so concurrent
payouts can never take the balance below zero.

Two due jobs: `payout_progress` moves payouts along (submitted, paid, failed) when their step
falls due; `payout_schedule` makes the automatic payouts of accounts whose
`settings.payouts.schedule` is daily, weekly or monthly, each time the schedule fires.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

import orjson
import psycopg

from ledger.clock import to_unix
from ledger.domain import payout as domain
from ledger.domain.aggregate import State
from ledger.domain.rules import reject
from ledger.errors import InvalidRequestError
from ledger.money import currency
from ledger.projections.objects import load_states
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.external_accounts import default_external_account, find_external_account
from ledger.services.funds import require_available
from ledger.services.queries import created_filters, object_list
from ledger.services.runner import JSON, Command, UnitOfWork

__all__ = ["PayoutsService"]

_KIND: Final = "payout"
_TRACE_ID_DIGITS: Final = 15  # an ACH trace number
# The most balance transactions one automatic payout pays out; the rest wait for the next run.
AUTOMATIC_PAYOUT_TRANSACTIONS_MAX: Final = 10_000
_SECONDS_PER_DAY: Final = 86_400


def _trace_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(_TRACE_ID_DIGITS))


def _context(uow: UnitOfWork) -> domain.PayoutContext:
    return domain.PayoutContext(
        account_id=uow.ctx.account_id,
        payout_id=uow.new_id("po"),
        balance_transaction_id=uow.new_id("txn"),
        created=to_unix(uow.ctx.now),
        trace_id=_trace_id(),
    )


def _available_by_source(uow: UnitOfWork, account_id: str, code: str, source_type: str) -> int:
    """The available balance of one source type (card, bank_account…), with this command's
    own appends."""
    row = uow.cur.execute(
        "SELECT coalesce(sum(amount), 0) FROM balances WHERE account_id = %s AND currency = %s "
        "AND bucket = 'available' AND source_type = %s",
        (account_id, code, source_type),
    ).fetchone()
    return int(row[0]) if row else 0


def _require_funds(uow: UnitOfWork, code: str, amount: int, source_type: str) -> None:
    """Lock the balance; refuse unless its available part, and that of `source_type`, cover
    `amount` (payouts never take the available balance below zero)."""
    account_id = uow.ctx.account_id
    message = domain.insufficient_funds_message(source_type)
    require_available(uow, account_id, code, amount, message=message)
    if _available_by_source(uow, account_id, code, source_type) < amount:
        raise InvalidRequestError(message, code="balance_insufficient")


def _destination(uow: UnitOfWork, params: JSON, code: str) -> State:
    """The external account named by `destination`, or the account's default in `code`."""
    account_id = uow.ctx.account_id
    named = params.get("destination")
    if named is not None:
        return find_external_account(uow, named, account_id, "destination")
    found = default_external_account(uow, account_id, code)
    if found is None:
        reject(
            f"This account has no external account in {code}: add a bank account or debit card "
            f"in {code} (`/v1/accounts/{account_id}/external_accounts`) or name one with "
            "`destination`.",
            param="destination",
        )
    return found


class PayoutsService(Service):
    """Stripe's Payouts API."""

    @stripe_operation("POST /v1/payouts")
    def create(self, **params: Any) -> StripeObject:
        """Pay `amount` out of the available balance to `destination` (default: the account's
        default external account in `currency`)."""
        operation = "POST /v1/payouts"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            code = currency(p["currency"]).code
            if p["amount"] < 1:
                reject("Invalid positive integer", code="parameter_invalid_integer", param="amount")
            method = domain.Method(p.get("method", domain.Method.standard))
            destination = _destination(uow, p, code)
            domain.check_destination(destination, code, method)
            source_type = p.get("source_type", "card")
            _require_funds(uow, code, p["amount"], source_type)
            new = domain.NewPayout(
                amount=p["amount"],
                currency=code,
                method=method,
                source_type=source_type,
                description=p.get("description"),
                statement_descriptor=p.get("statement_descriptor"),
                metadata=p.get("metadata", {}),
            )
            ctx = _context(uow)
            for stream_id, events in domain.decide_create(new, destination, ctx):
                uow.append(stream_id, events)
            return uow.get(ctx.payout_id, "payout", _KIND).data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/payouts/{payout}")
    def retrieve(self, payout: str, **params: Any) -> StripeObject:
        """Retrieve a payout."""
        call = self._begin("GET /v1/payouts/{payout}", params)
        return self._retrieve(call, payout, "payout", _KIND)

    @stripe_operation("POST /v1/payouts/{payout}")
    def update(self, payout: str, **params: Any) -> StripeObject:
        """Update a payout's metadata."""
        call = self._begin("POST /v1/payouts/{payout}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(payout, "payout", _KIND, "payout")
            uow.append(payout, domain.decide_update(state, call.params))
            return uow.get(payout, "payout", _KIND).data

        return self._execute(call, f"POST /v1/payouts/{payout}", command)

    @stripe_operation("POST /v1/payouts/{payout}/cancel")
    def cancel(self, payout: str, **params: Any) -> StripeObject:
        """Cancel a pending manual payout: the money comes back to the available balance."""
        call = self._begin("POST /v1/payouts/{payout}/cancel", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(payout, "payout", _KIND, "payout")
            appends = domain.decide_cancel(
                state, uow.ctx.account_id, uow.new_id("txn"), to_unix(uow.ctx.now)
            )
            for stream_id, events in appends:
                uow.append(stream_id, events)
            return uow.get(payout, "payout", _KIND).data

        return self._execute(call, f"POST /v1/payouts/{payout}/cancel", command)

    @stripe_operation("POST /v1/payouts/{payout}/reverse")
    def reverse(self, payout: str, **params: Any) -> StripeObject:
        """Reverse a paid payout of a connected account to a US bank account; returns the
        reversing payout (amount -X), whose money comes back when it arrives."""
        call = self._begin("POST /v1/payouts/{payout}/reverse", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(payout, "payout", _KIND, "payout")
            ctx = _context(uow)
            connected = uow.ctx.account_id != uow.platform_account_id
            metadata = call.params.get("metadata", {})
            for stream_id, events in domain.decide_reverse(
                state, ctx, metadata, connected=connected
            ):
                uow.append(stream_id, events)
            return uow.get(ctx.payout_id, "payout", _KIND).data

        return self._execute(call, f"POST /v1/payouts/{payout}/reverse", command)

    @stripe_operation("GET /v1/payouts")
    def list(self, **params: Any) -> ListObject:
        """List payouts, newest first; filters `status`, `destination`, `arrival_date`,
        `created`."""
        original = dict(params)
        call = self._begin("GET /v1/payouts", params)
        arrival = created_filters(
            call.params.get("arrival_date"), "(data->>'arrival_date')::bigint"
        )
        query = object_list(
            "payout",
            _KIND,
            "/v1/payouts",
            call.params,
            fields=("status", "destination"),
            extra=arrival,
        )
        return self._list(call, query, original, lambda p: self.list(**p))


# -- time moves payouts along ----------------------------------------------------------------


def _find_progressing(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    if test_clock is not None:
        return []  # payouts follow the ledger's clock, not a test clock's
    rows = conn.execute(
        "SELECT (internal->>'due_at')::bigint, account_id, id FROM objects "
        "WHERE object = 'payout' AND internal->>'due_at' IS NOT NULL "
        "AND (internal->>'due_at')::bigint <= %s "
        "ORDER BY (internal->>'due_at')::bigint, id LIMIT %s",
        (due_by, limit),
    ).fetchall()
    return [
        DueItem(due_at, "payout_progress", account_id, payout_id)
        for due_at, account_id, payout_id in rows
    ]


def _progress(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        state = uow.find(item.object_id).state
        now = to_unix(uow.ctx.now)
        if state is None or state.internal.get("due_at") is None or state.internal["due_at"] > now:
            return {}  # moved on by an earlier run
        destination = uow.find(state.data["destination"]).state
        appends = domain.decide_progress(
            state, now, uow.ctx.account_id, uow.new_id("txn"), destination
        )
        for stream_id, events in appends:
            uow.append(stream_id, events)
        return {}

    return command


register_due_job(DueJob("payout_progress", _find_progressing, _progress))


# -- automatic payouts -----------------------------------------------------------------------


def _find_scheduled(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    """The next run of every account whose payout schedule is not manual, if it is due."""
    if test_clock is not None:
        return []
    rows = conn.execute(
        "SELECT a.id, a.created, a.data::text, (s.data->>'last_run')::bigint FROM objects a "
        "LEFT JOIN objects s ON s.account_id = a.id AND s.id = %s "
        "WHERE a.object = 'account' AND NOT a.deleted "
        "AND a.data #>> '{settings,payouts,schedule,interval}' IN ('daily', 'weekly', 'monthly')",
        (domain.SCHEDULE_STREAM_ID,),
    ).fetchall()
    items = []
    for account_id, created, data, last_run in rows:
        schedule = domain.schedule_of(orjson.loads(data))
        if schedule is None:
            continue
        due_at = domain.next_run_after(schedule, int(last_run if last_run is not None else created))
        if due_at <= due_by:
            items.append(
                DueItem(due_at, "payout_schedule", str(account_id), domain.SCHEDULE_STREAM_ID)
            )
    return sorted(items)[:limit]


def _sweepable(uow: UnitOfWork, code: str, cutoff: int) -> dict[str, list[State]]:
    """The available balance transactions in `code` that no payout took yet and that are old
    enough (`cutoff`), by source type, oldest first."""
    rows = uow.cur.execute(
        "SELECT id FROM objects WHERE account_id = %s AND object = 'balance_transaction' "
        "AND data->>'currency' = %s AND data->>'status' = 'available' "
        "AND internal->>'payout' IS NULL AND created <= %s ORDER BY created, seq LIMIT %s",
        (uow.ctx.account_id, code, cutoff, AUTOMATIC_PAYOUT_TRANSACTIONS_MAX),
    ).fetchall()
    account_id = uow.ctx.account_id
    load_states(uow.cur, uow.cache, [(account_id, str(txn_id)) for (txn_id,) in rows])
    by_source: dict[str, list[State]] = {}
    for (txn_id,) in rows:
        state = uow.get(str(txn_id), "balance_transaction", "balance transaction")
        by_source.setdefault(state.internal.get("source_type", "card"), []).append(state)
    return by_source


def _currencies_with_default(uow: UnitOfWork) -> list[str]:
    rows = uow.cur.execute(
        "SELECT DISTINCT data->>'currency' FROM objects WHERE account_id = %s "
        "AND object IN ('bank_account', 'card') AND NOT deleted "
        "AND (data->>'default_for_currency')::boolean ORDER BY 1",
        (uow.ctx.account_id,),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _automatic_payouts(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        account_id = uow.ctx.account_id
        at = to_unix(uow.ctx.now)
        cursor = uow.find(domain.SCHEDULE_STREAM_ID).state
        if cursor is not None and cursor.data["last_run"] >= at:
            return {}  # this run happened already
        account = uow.find(account_id, account_id=uow.platform_account_id).state
        schedule = None if account is None else domain.schedule_of(account.data)
        if schedule is not None:
            cutoff = at - schedule.delay_days * _SECONDS_PER_DAY
            codes = _currencies_with_default(uow)
            # Every balance lock before the first append's stream locks.
            for code in codes:
                uow.lock_balance(account_id, code)
            for code in codes:
                _pay_out_currency(uow, code, cutoff)
        uow.append(domain.SCHEDULE_STREAM_ID, domain.decide_schedule_ran(cursor, at))
        return {}

    return command


def _pay_out_currency(uow: UnitOfWork, code: str, cutoff: int) -> None:
    """One automatic payout per source type of what is available in `code` and old enough."""
    destination = default_external_account(uow, uow.ctx.account_id, code)
    assert destination is not None
    if destination.data["status"] == "errored":
        return  # Stripe stops scheduled payouts to an account a payout failed on
    assert (uow.ctx.account_id, code) in uow.locked_balances
    for source_type, transactions in sorted(_sweepable(uow, code, cutoff).items()):
        amount = sum(int(t.data["net"]) for t in transactions)
        if amount <= 0:
            continue
        if _available_by_source(uow, uow.ctx.account_id, code, source_type) < amount:
            continue  # never below zero: what is owed elsewhere waits for the next run
        if uow.available_balance(uow.ctx.account_id, code) < amount:
            continue
        new = domain.NewPayout(
            amount=amount,
            currency=code,
            source_type=source_type,
            description=domain.AUTOMATIC_DESCRIPTION,
            automatic=True,
        )
        ctx = _context(uow)
        for stream_id, events in domain.decide_create(new, destination, ctx, transactions):
            uow.append(stream_id, events)


register_due_job(DueJob("payout_schedule", _find_scheduled, _automatic_payouts))
