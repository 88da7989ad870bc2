"""`led.accounts.external_accounts`: bank accounts and debit cards that payouts go to.

An external account lives in its owner's namespace: the account in the path
(`/v1/accounts/{account}/external_accounts`), which is the platform itself or one of its
connected accounts. The caller is the platform, or that account itself (`stripe_account`).
Commands write with `account_id=<owner>`; reads look in the owner's namespace.

Changing which external account is the default for a currency takes a lock per (owner,
currency), so two concurrent creations cannot both become the first, default one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import psycopg

from ledger import limits
from ledger.domain import external_account as domain
from ledger.domain.aggregate import State
from ledger.domain.cards import TOKENS
from ledger.domain.rules import reject, reject_if
from ledger.errors import InvalidRequestError, LedgerError, resource_missing
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Call, Service, stripe_operation
from ledger.services.queries import Filter, ListQuery, fetch_object
from ledger.services.runner import JSON, UnitOfWork

__all__ = [
    "ExternalAccountsService",
    "default_external_account",
    "find_external_account",
]

_KIND: Final = "external account"
_PATH: Final = "/v1/accounts/{account}/external_accounts"
# `object` filters the list (bank_account or card); it is newer than the spec the params are
# checked against, so it is taken off before validation and checked here.
_OBJECT_FILTER: Final = "object"
_DEFAULT_CURRENCY: Final = "usd"
# The advisory-lock key space of "who is the default" per owner and currency.
_DEFAULT_LOCK: Final = "external_accounts.default"


def _no_access(account: str) -> InvalidRequestError:
    # As the Accounts API answers for an account the caller cannot see.
    return resource_missing("account", account, "account")


def _account_state(cur_or_conn: Any, platform: str, account: str) -> JSON | None:
    """The Account object `account` (in the platform's namespace), or None."""
    found = fetch_object(cur_or_conn, platform, account)
    if found is None or found[1] or found[0].get("object") != "account":
        return None
    return found[0]


def _check_owner(caller: str, platform: str, account: str, account_json: JSON | None) -> None:
    """The caller may act for `account`: it is that account, or the platform and `account` is
    the platform or one of its Account objects."""
    if account == caller:
        return
    if caller != platform:
        raise _no_access(account)
    if account != platform and account_json is None:
        raise _no_access(account)


def _owner_in_command(uow: UnitOfWork, account: str) -> str:
    """Check the caller may act for `account`; return `account`'s default currency."""
    platform = uow.platform_account_id
    loaded = uow.find(account, account_id=platform).state
    account_json = (
        loaded.data
        if loaded is not None and not loaded.deleted and loaded.data.get("object") == "account"
        else None
    )
    _check_owner(uow.ctx.account_id, platform, account, account_json)
    currency = account_json.get("default_currency") if account_json else None
    return str(currency or _DEFAULT_CURRENCY)


def find_external_account(uow: UnitOfWork, object_id: str, owner: str, param: str) -> State:
    """A live external account of `owner`, or Stripe's 404 naming `param`."""
    state = uow.find(object_id, account_id=owner).state
    if (
        state is None
        or state.deleted
        or state.data.get("object") not in domain.OBJECTS
        or state.data.get("account") != owner
    ):
        raise resource_missing(_KIND, object_id, param)
    return state


def _ids_in_currency(uow: UnitOfWork, owner: str, currency: str, *, default: bool) -> list[str]:
    rows = uow.cur.execute(
        "SELECT id FROM objects WHERE account_id = %s AND object = ANY(%s) AND NOT deleted "
        "AND data->>'account' = %s AND data->>'currency' = %s "
        "AND (NOT %s OR (data->>'default_for_currency')::boolean) ORDER BY seq LIMIT %s",
        (owner, list(domain.OBJECTS), owner, currency, default, limits.LIST_LIMIT_MAX + 1),
    ).fetchall()
    return [str(row[0]) for row in rows]


def default_external_account(uow: UnitOfWork, owner: str, currency: str) -> State | None:
    """The external account of `owner` that is the default for `currency`, if any."""
    found = _ids_in_currency(uow, owner, currency, default=True)
    assert len(found) <= 1, f"{owner} has several defaults in {currency}: {found}"
    return find_external_account(uow, found[0], owner, "id") if found else None


def _lock_default(uow: UnitOfWork, owner: str, currency: str) -> None:
    uow.lock_streams([(owner, f"{_DEFAULT_LOCK}/{currency}")])


def _source(params: JSON) -> domain.BankDetails | domain.DebitCard:
    """The bank account or debit card that `external_account` or `bank_account` gives."""
    token = params.get("external_account")
    bank = params.get("bank_account")
    if token is not None and bank is not None:
        reject(
            "You may only specify one of these parameters: bank_account, external_account.",
            code="parameters_exclusive",
            param="bank_account",
        )
    if token is None and bank is None:
        reject(
            "Missing required param: external_account.",
            code="parameter_missing",
            param="external_account",
        )
    if isinstance(bank, dict):
        return domain.bank_details_from_hash(bank, "bank_account")
    param = "external_account" if token is not None else "bank_account"
    value = str(token if token is not None else bank)
    if value.startswith("btok_"):
        return domain.bank_details_from_token(value, param)
    reject_if(
        param == "bank_account",
        "A bank_account token must be a bank account token (btok_…).",
        param=param,
    )
    return domain.debit_card_from_token(value, param, TOKENS)


class ExternalAccountsService(Service):
    """Stripe's external accounts API (`/v1/accounts/{account}/external_accounts`)."""

    @stripe_operation("POST /v1/accounts/{account}/external_accounts")
    def create(self, account: str, **params: Any) -> StripeObject:
        """Add a bank account or debit card (a test token or `bank_account[…]`) to `account`."""
        call = self._begin("POST /v1/accounts/{account}/external_accounts", params)

        def command(uow: UnitOfWork) -> JSON:
            _owner_in_command(uow, account)
            source = _source(call.params)  # in the command, so the error has a request id
            external_account_id = uow.new_id(
                "ba" if isinstance(source, domain.BankDetails) else "card"
            )
            _lock_default(uow, account, domain.COUNTRY_CURRENCY)
            new = domain.NewExternalAccount(
                external_account_id=external_account_id,
                account=account,
                created=int(uow.ctx.now.timestamp()),
                source=source,
                default_for_currency=call.params.get("default_for_currency", False),
                metadata=call.params.get("metadata", {}),
            )
            current = default_external_account(uow, account, domain.COUNTRY_CURRENCY)
            for stream_id, events in domain.decide_create(new, current):
                uow.append(stream_id, events, account_id=account)
            return find_external_account(uow, external_account_id, account, "id").data

        return self._execute(call, f"POST {_PATH.format(account=account)}", command)

    @stripe_operation("GET /v1/accounts/{account}/external_accounts/{id}")
    def retrieve(self, account: str, id: str, **params: Any) -> StripeObject:
        """Retrieve an external account of `account`."""
        call = self._begin("GET /v1/accounts/{account}/external_accounts/{id}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            self._check_owner_read(conn, call, account)
            found = fetch_object(conn, account, id)
            if (
                found is None
                or found[1]
                or found[0].get("object") not in domain.OBJECTS
                or found[0].get("account") != account
            ):
                raise resource_missing(_KIND, id)
            return found[0]

        return self._read(call, read)

    @stripe_operation("POST /v1/accounts/{account}/external_accounts/{id}")
    def update(self, account: str, id: str, **params: Any) -> StripeObject:
        """Update holder details, card expiry, metadata, or make it the default for its currency."""
        call = self._begin("POST /v1/accounts/{account}/external_accounts/{id}", params)

        def command(uow: UnitOfWork) -> JSON:
            _owner_in_command(uow, account)
            state = find_external_account(uow, id, account, "id")
            currency = state.data["currency"]
            _lock_default(uow, account, currency)
            current = default_external_account(uow, account, currency)
            appends = domain.decide_update(
                state,
                call.params,
                current,
                now_year=uow.ctx.now.year,
                years_ahead_max=limits.EXP_YEARS_AHEAD_MAX,
            )
            for stream_id, events in appends:
                uow.append(stream_id, events, account_id=account)
            return find_external_account(uow, id, account, "id").data

        return self._execute(call, f"POST {_PATH.format(account=account)}/{id}", command)

    @stripe_operation("DELETE /v1/accounts/{account}/external_accounts/{id}")
    def delete(self, account: str, id: str, **params: Any) -> StripeObject:
        """Delete an external account; the default for a currency only as Stripe allows."""
        call = self._begin("DELETE /v1/accounts/{account}/external_accounts/{id}", params)

        def command(uow: UnitOfWork) -> JSON:
            default_currency = _owner_in_command(uow, account)
            state = find_external_account(uow, id, account, "id")
            currency = state.data["currency"]
            _lock_default(uow, account, currency)
            others = [
                other
                for other in _ids_in_currency(uow, account, currency, default=False)
                if other != id
            ]
            domain.check_deletable(state, len(others), default_currency)
            uow.append(id, domain.decide_delete(state), account_id=account)
            return domain.deleted_json(state)

        return self._execute(call, f"DELETE {_PATH.format(account=account)}/{id}", command)

    @stripe_operation("GET /v1/accounts/{account}/external_accounts")
    def list(self, account: str, **params: Any) -> ListObject:
        """List the external accounts of `account`, newest first; `object` filters by kind."""
        original = dict(params)
        wanted = params.pop(_OBJECT_FILTER, None)
        call = self._begin("GET /v1/accounts/{account}/external_accounts", params)
        try:
            if wanted is not None and wanted not in domain.OBJECTS:
                reject("Invalid object: must be one of bank_account or card", param=_OBJECT_FILTER)
            with self._engine.pool.connection() as conn:
                self._check_owner_read(conn, call, account)
        except LedgerError as error:
            error.request_id = call.ctx.request_id
            raise
        kinds = list(domain.OBJECTS) if wanted is None else [wanted]
        query = ListQuery(
            "objects",
            _KIND,
            _PATH.format(account=account),
            scope=(
                Filter("object = ANY(%s)", (kinds,)),
                Filter("data->>'account' = %s", (account,)),
                Filter("NOT deleted"),
            ),
        )
        # The list is read in the owner's namespace.
        owned = replace(call, ctx=replace(call.ctx, account_id=account))
        return self._list(owned, query, original, lambda p: self.list(account, **p))

    def _check_owner_read(self, conn: psycopg.Connection[Any], call: Call, account: str) -> None:
        platform = self._engine.platform_account_id
        _check_owner(
            call.ctx.account_id, platform, account, _account_state(conn, platform, account)
        )
