"""`led.accounts`: connected accounts (create, retrieve, update, list, delete) and capabilities.

Accounts are the platform's objects: each lives in the platform's books under its own id, and
the platform's own Account object is opened with the ledger (`open_platform_account`). A
connected account asking (`stripe_account=acct_…`) sees itself and no other account.

An account's bank accounts and cards live in the connected account's own books; they are read
when an account is returned (`external_accounts`, the `external_account` requirement and
`payouts_enabled` depend on them).

Also the due job that finishes the identity verifications Stripe's test mode does "shortly
after" (date of birth 1901-01-01, most tax ids): the next time due work runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson
import psycopg

from ledger import limits
from ledger.clock import to_unix
from ledger.domain import account as domain
from ledger.domain.aggregate import State
from ledger.domain.rules import reject
from ledger.errors import resource_missing
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Call, Service, stripe_operation
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.external_accounts import ExternalAccountsService
from ledger.services.queries import Filter, list_page, object_list
from ledger.services.runner import JSON, Engine, RequestContext, UnitOfWork, run_command

__all__ = ["AccountsService", "find_account", "open_platform_account"]

_KIND: Final = "account"
_CAPABILITY_KIND: Final = "capability"
_EXTERNAL_OBJECTS: Final = ("bank_account", "card")


def find_account(uow: UnitOfWork, account_id: str) -> State | None:
    """The live (not deleted) Account object `account_id` of the platform, or None.

    The state is the account as stored: read `external_accounts` and `payouts_enabled` through
    the service, which completes them.
    """
    state = uow.find(account_id, account_id=uow.platform_account_id).state
    if state is None or state.deleted or state.data.get("object") != "account":
        return None
    return state


def open_platform_account(engine: Engine) -> None:
    """Open the platform's own Account object unless it exists (idempotent, race-safe)."""
    platform = engine.platform_account_id
    with engine.pool.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM objects WHERE account_id = %s AND id = %s", (platform, platform)
        ).fetchone()
    if row is not None:
        return
    now = engine.clock.now()

    def command(uow: UnitOfWork) -> JSON:
        # A concurrent open may have won the race: then this retry finds its account.
        if uow.find(platform).state is None:
            uow.append(platform, domain.decide_open_platform(platform, to_unix(now)))
        return {}

    run_command(
        engine, RequestContext(platform, None, None, now), "open platform account", {}, [], command
    )


# -- reading accounts with their external accounts -------------------------------------------


def _external_accounts(
    conn: psycopg.Connection[Any], account_ids: Sequence[str]
) -> dict[str, JSON]:
    """Each account's embedded `external_accounts` list (first page of 10), in one query."""
    page = limits.LIST_LIMIT_DEFAULT
    rows = conn.execute(
        "SELECT account_id, data::text, total FROM ("
        " SELECT account_id, data, count(*) OVER (PARTITION BY account_id) AS total,"
        " row_number() OVER (PARTITION BY account_id ORDER BY created DESC, seq DESC) AS n"
        " FROM objects WHERE account_id = ANY(%s) AND object = ANY(%s) AND NOT deleted"
        " AND data->>'account' = account_id"
        ") page WHERE n <= %s ORDER BY account_id, n",
        (list(account_ids), list(_EXTERNAL_OBJECTS), page),
    ).fetchall()
    found: dict[str, list[JSON]] = {account_id: [] for account_id in account_ids}
    totals = dict.fromkeys(account_ids, 0)
    for account_id, data, total in rows:
        found[account_id].append(orjson.loads(data))
        totals[account_id] = int(total)
    return {
        account_id: {
            "object": "list",
            "data": items,
            "has_more": totals[account_id] > len(items),
            "total_count": totals[account_id],
            "url": f"/v1/accounts/{account_id}/external_accounts",
        }
        for account_id, items in found.items()
    }


def _present(conn: psycopg.Connection[Any], accounts: list[JSON]) -> list[JSON]:
    """The accounts as they read: completed with their external accounts."""
    if not accounts:
        return []
    lists = _external_accounts(conn, [account["id"] for account in accounts])
    return [domain.with_external_accounts(account, lists[account["id"]]) for account in accounts]


def _load(conn: psycopg.Connection[Any], platform: str, account_id: str) -> State | None:
    """The live Account object `account_id` of the platform, read on `conn`."""
    row = conn.execute(
        "SELECT data::text, internal::text FROM objects WHERE account_id = %s AND id = %s "
        "AND object = 'account' AND NOT deleted",
        (platform, account_id),
    ).fetchone()
    return None if row is None else State(orjson.loads(row[0]), orjson.loads(row[1]))


def _visible(ctx: RequestContext, platform: str, account_id: str) -> bool:
    """The platform sees every account; a connected account sees only itself."""
    return ctx.account_id in (platform, account_id)


class AccountsService(Service):
    """Stripe's Accounts API (Connect)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.external_accounts = ExternalAccountsService(engine)

    # -- helpers ---------------------------------------------------------------------------

    def _command_account(self, uow: UnitOfWork, account_id: str) -> State:
        """The account a command acts on, or Stripe's 404 if the caller cannot see it."""
        platform = uow.platform_account_id
        state = find_account(uow, account_id) if _visible(uow.ctx, platform, account_id) else None
        if state is None:
            raise resource_missing(_KIND, account_id)
        return state

    def _read_account(
        self, call: Call, account_id: str, shape: Callable[[psycopg.Connection[Any], State], JSON]
    ) -> StripeObject:
        platform = self._engine.platform_account_id

        def read(conn: psycopg.Connection[Any]) -> JSON:
            state = _load(conn, platform, account_id)
            if state is None or not _visible(call.ctx, platform, account_id):
                raise resource_missing(_KIND, account_id)
            return shape(conn, state)

        return self._read(call, read)

    def _new(self, uow: UnitOfWork, account_id: str) -> domain.NewAccount:
        return domain.NewAccount(account_id, uow.new_id("person"), to_unix(uow.ctx.now))

    # -- accounts --------------------------------------------------------------------------

    @stripe_operation("POST /v1/accounts")
    def create(self, **params: Any) -> StripeObject:
        """Create a connected account, described by `type` or by `controller` properties."""
        operation = "POST /v1/accounts"
        # The spec of this API version predates `controller`: the domain checks it.
        controller = params.pop("controller", None)
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            platform = uow.platform_account_id
            account_id = uow.new_id("acct")
            params = {key: value for key, value in call.params.items() if key != "controller"}
            events = domain.decide_create(
                params,
                controller,
                self._new(uow, account_id),
                platform=uow.ctx.account_id == platform,
            )
            uow.append(account_id, events, account_id=platform)
            state = find_account(uow, account_id)
            assert state is not None
            return _present(uow.cur.connection, [state.data])[0]

        if controller is not None:
            call.params["controller"] = controller  # part of the request (idempotency)
        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/accounts/{account}")
    def retrieve(self, account: str, **params: Any) -> StripeObject:
        """Retrieve a connected account (a connected account can retrieve itself)."""
        call = self._begin("GET /v1/accounts/{account}", params)
        return self._read_account(call, account, lambda conn, s: _present(conn, [s.data])[0])

    @stripe_operation("GET /v1/account")
    def retrieve_current(self, **params: Any) -> StripeObject:
        """The account of the request: the platform's own, or the `stripe_account` one."""
        call = self._begin("GET /v1/account", params)
        return self._read_account(
            call, call.ctx.account_id, lambda conn, s: _present(conn, [s.data])[0]
        )

    @stripe_operation("POST /v1/accounts/{account}")
    def update(self, account: str, **params: Any) -> StripeObject:
        """Update an account: profile, entity, settings, ToS acceptance, capabilities."""
        operation = "POST /v1/accounts/{account}"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            state = self._command_account(uow, account)
            events = domain.decide_update(state, call.params, self._new(uow, account))
            uow.append(account, events, account_id=uow.platform_account_id)
            updated = find_account(uow, account)
            assert updated is not None
            return _present(uow.cur.connection, [updated.data])[0]

        return self._execute(call, f"POST /v1/accounts/{account}", command)

    @stripe_operation("DELETE /v1/accounts/{account}")
    def delete(self, account: str, **params: Any) -> StripeObject:
        """Delete a connected account (test mode: any time); its id is then unusable."""
        call = self._begin("DELETE /v1/accounts/{account}", params)

        def command(uow: UnitOfWork) -> JSON:
            platform = uow.platform_account_id
            # Only the platform deletes: to a connected account, others' ids do not exist.
            state = find_account(uow, account) if uow.ctx.account_id == platform else None
            if state is None:
                raise resource_missing(_KIND, account)
            uow.append(account, domain.decide_delete(state, platform), account_id=platform)
            return {"id": account, "object": "account", "deleted": True}

        return self._execute(call, f"DELETE /v1/accounts/{account}", command)

    @stripe_operation("GET /v1/accounts")
    def list(self, **params: Any) -> ListObject:
        """List the platform's connected accounts, newest first (`created` filter)."""
        original = dict(params)
        call = self._begin("GET /v1/accounts", params)
        query = object_list(
            "account",
            _KIND,
            "/v1/accounts",
            call.params,
            # The platform's own Account object is not one of its connected accounts.
            extra=(Filter("NOT deleted"), Filter("id <> %s", (self._engine.platform_account_id,))),
        )

        def read(conn: psycopg.Connection[Any]) -> JSON:
            body = list_page(conn, query, call.ctx.account_id, call.params)
            return body | {"data": _present(conn, body["data"])}

        found = self._read(call, read)
        return ListObject(found.to_dict(), found.last_response, lambda p: self.list(**p), original)

    # -- capabilities ----------------------------------------------------------------------

    @stripe_operation("GET /v1/accounts/{account}/capabilities")
    def list_capabilities(self, account: str, **params: Any) -> ListObject:
        """The capabilities the account requested (or once did), most recent first."""
        call = self._begin("GET /v1/accounts/{account}/capabilities", params)

        def shape(conn: psycopg.Connection[Any], state: State) -> JSON:
            capabilities = [
                domain.capability_json(state, name)
                for name in sorted(state.internal["capabilities"])
            ]
            capabilities.sort(key=lambda c: c["requested_at"] or 0, reverse=True)
            return {
                "object": "list",
                "data": capabilities,
                "has_more": False,
                "url": f"/v1/accounts/{account}/capabilities",
            }

        found = self._read_account(call, account, shape)
        return ListObject(found.to_dict(), found.last_response)

    @stripe_operation("GET /v1/accounts/{account}/capabilities/{capability}")
    def retrieve_capability(self, account: str, capability: str, **params: Any) -> StripeObject:
        """One capability of the account (`unrequested` if it was never asked for)."""
        call = self._begin("GET /v1/accounts/{account}/capabilities/{capability}", params)

        def shape(conn: psycopg.Connection[Any], state: State) -> JSON:
            _check_capability_name(capability)
            return domain.capability_json(state, capability)

        return self._read_account(call, account, shape)

    @stripe_operation("POST /v1/accounts/{account}/capabilities/{capability}")
    def update_capability(self, account: str, capability: str, **params: Any) -> StripeObject:
        """Request (`requested=True`) or give up (`requested=False`) a capability."""
        operation = "POST /v1/accounts/{account}/capabilities/{capability}"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            state = self._command_account(uow, account)
            _check_capability_name(capability)
            if capability not in domain.SUPPORTED_CAPABILITIES:
                reject(
                    f"The ledger does not support the {capability} capability: it has the "
                    "card_payments and transfers only.",
                    code="parameter_unsupported",
                    param="capability",
                )
            change = {"capabilities": {capability: dict(call.params)}}
            events = domain.decide_update(state, change, self._new(uow, account))
            uow.append(account, events, account_id=uow.platform_account_id)
            updated = find_account(uow, account)
            assert updated is not None
            return domain.capability_json(updated, capability)

        return self._execute(
            call, f"POST /v1/accounts/{account}/capabilities/{capability}", command
        )


def _check_capability_name(name: str) -> None:
    if name not in domain.CAPABILITY_NAMES:
        raise resource_missing(_CAPABILITY_KIND, name, "capability")


# -- identity verification completes with due work -------------------------------------------


def _find_verifications(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    if test_clock is not None:
        return []  # accounts are on no test clock
    rows = conn.execute(
        "SELECT (internal->>'verification_due_at')::bigint, account_id, id FROM objects "
        "WHERE object = 'account' AND NOT deleted AND internal->>'verification_due_at' IS NOT NULL "
        "AND (internal->>'verification_due_at')::bigint <= %s "
        "ORDER BY (internal->>'verification_due_at')::bigint, id LIMIT %s",
        (due_by, limit),
    ).fetchall()
    return [
        DueItem(due_at, "account_verification", account_id, object_id)
        for due_at, account_id, object_id in rows
    ]


def _verify(item: DueItem) -> Callable[[UnitOfWork], JSON]:
    def command(uow: UnitOfWork) -> JSON:
        state = uow.find(item.object_id).state
        if state is None or state.deleted or state.internal["verification_due_at"] is None:
            return {}  # verified (or changed) since this item was found
        uow.append(item.object_id, domain.decide_verify(state, to_unix(uow.ctx.now)))
        return {}

    return command


register_due_job(DueJob("account_verification", _find_verifications, _verify))
