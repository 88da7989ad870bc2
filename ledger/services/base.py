"""What every service shares: request options, validation, commands, reads and lists."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import orjson
import psycopg
from psycopg_pool import ConnectionPool

from ledger import limits
from ledger.errors import InvalidRequestError, LedgerError, PermissionError, resource_missing
from ledger.ids import new_id
from ledger.params import validate_params
from ledger.resources.base import ListObject, ResponseInfo, StripeObject
from ledger.resources.expand import expand, validate_expand
from ledger.services.queries import ListQuery, fetch_object, fetch_referenced, list_page
from ledger.services.runner import Command, Engine, RequestContext, run_command

__all__ = [
    "FORM_ENCODED",
    "REQUEST_OPTIONS",
    "Call",
    "Declaration",
    "ReadResolver",
    "Service",
    "declared_operation",
    "stripe_operation",
]

JSON = dict[str, Any]
_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
_OPTIONS = ("idempotency_key", "stripe_account")
# A private option the HTTP server adds: the params are form-decoded strings, to be coerced as
# Stripe coerces them (`validate_params(..., from_form=True)`).
FORM_ENCODED: Final = "_form_encoded"
# Keywords of every service method that are not Stripe params.
REQUEST_OPTIONS: Final = frozenset((*_OPTIONS, FORM_ENCODED))

_OPERATION_ATTRIBUTE: Final = "__stripe_operation__"
_OPERATION_KEY = re.compile(r"^(GET|POST|DELETE) /v1/\S+$")
_Method = TypeVar("_Method", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Declaration:
    """What `@stripe_operation` says of a service method."""

    key: str  # "POST /v1/customers/{customer}"
    extension: bool  # the ledger's own operation (a test helper), not in Stripe's spec


def stripe_operation(key: str, *, extension: bool = False) -> Callable[[_Method], _Method]:
    """Declare that the decorated service method implements Stripe's operation `key`.

    `key` names the operation as `ledger/_spec/params.json` does: `"POST /v1/customers/{customer}"`.
    The method takes the path parameters positionally, in path order, and the operation's params
    and request options as keywords. The HTTP server's routes are generated from these
    declarations, so a method that declares one is served without further code.

    `extension=True` declares an operation Stripe's API does not have (a test helper such as
    completing 3D Secure), served under Stripe's URL conventions; the method checks its params,
    except that the server turns form strings into keyword-only `bool` and `int` arguments.
    """
    assert _OPERATION_KEY.match(key), f"not an operation key: {key!r}"
    declaration = Declaration(key, extension)

    def declare(method: _Method) -> _Method:
        setattr(method, _OPERATION_ATTRIBUTE, declaration)
        return method

    return declare


def declared_operation(method: Callable[..., Any]) -> Declaration | None:
    """What a service method declared with `@stripe_operation`, or None."""
    declaration = getattr(method, _OPERATION_ATTRIBUTE, None)
    return declaration if isinstance(declaration, Declaration) else None


@dataclass(frozen=True, slots=True)
class Call:
    """One call: its context, its validated params (without options) and expand paths."""

    ctx: RequestContext
    params: JSON
    expand: list[str]

    @property
    def request_id(self) -> str:
        assert self.ctx.request_id is not None, "API calls always have a request id"
        return self.ctx.request_id


class ReadResolver:
    """Expansion on the read path: loads from the projections on one connection."""

    def __init__(
        self, conn: psycopg.Connection[Any], account_id: str, platform_account_id: str
    ) -> None:
        self.conn = conn
        self.account_id = account_id
        self.platform_account_id = platform_account_id

    def load_json(self, object_id: str) -> JSON | None:
        found = fetch_referenced(self.conn, self.account_id, self.platform_account_id, object_id)
        if found is None:
            return None
        data, deleted = found
        return {"id": object_id, "object": data["object"], "deleted": True} if deleted else data

    def related_list(self, object_names: Sequence[str], field: str, value: str, url: str) -> JSON:
        return related_list(self.conn, self.account_id, object_names, field, value, url)


def related_list(
    conn: psycopg.Connection[Any],
    account_id: str,
    object_names: Sequence[str],
    field: str,
    value: str,
    url: str,
) -> JSON:
    """Stripe's embedded list (first page of 10) of objects whose `field` is `value`."""
    rows = conn.execute(
        "SELECT data::text FROM objects WHERE account_id = %s AND object = ANY(%s) "
        "AND NOT deleted AND data->>%s = %s ORDER BY created DESC, seq DESC LIMIT %s",
        (account_id, list(object_names), field, value, limits.LIST_LIMIT_DEFAULT + 1),
    ).fetchall()
    count = conn.execute(
        "SELECT count(*) FROM objects WHERE account_id = %s AND object = ANY(%s) "
        "AND NOT deleted AND data->>%s = %s",
        (account_id, list(object_names), field, value),
    ).fetchone()
    data = [orjson.loads(row[0]) for row in rows[: limits.LIST_LIMIT_DEFAULT]]
    return {
        "object": "list",
        "data": data,
        "has_more": len(rows) > limits.LIST_LIMIT_DEFAULT,
        "total_count": count[0] if count else 0,
        "url": url,
    }


@contextmanager
def _reading(pool: ConnectionPool[Any]) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection for reads only, in autocommit mode.

    Under READ COMMITTED every statement reads its own snapshot, in a transaction or not; as
    each its own transaction, reads cost no BEGIN, and no ROLLBACK when the pool takes the
    connection back.
    """
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            if not conn.closed:
                conn.autocommit = False


class Service:
    """Base of the Stripe-shaped services (`led.customers`, `led.events`, …)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- calls ---------------------------------------------------------------------------

    def _begin(self, operation: str, params: dict[str, Any]) -> Call:
        """Split the request options off, validate the rest against Stripe's spec."""
        request_id = new_id("req")
        try:
            from_form = params.pop(FORM_ENCODED, False) is True
            idempotency_key = params.pop("idempotency_key", None)
            account_id = self._account(params.pop("stripe_account", None))
            if idempotency_key is not None:
                if not isinstance(idempotency_key, str) or not idempotency_key:
                    raise InvalidRequestError("Invalid idempotency key.", param="idempotency_key")
                if len(idempotency_key) > limits.IDEMPOTENCY_KEY_LENGTH_MAX:
                    raise InvalidRequestError(
                        "Keys for idempotent requests can only be "
                        f"{limits.IDEMPOTENCY_KEY_LENGTH_MAX} characters long.",
                        param="idempotency_key",
                    )
            clean = validate_params(operation, params, from_form=from_form)
            expand_paths = validate_expand(clean.pop("expand", []))
        except LedgerError as error:
            error.request_id = request_id
            raise
        ctx = RequestContext(account_id, request_id, idempotency_key, self._engine.clock.now())
        return Call(ctx, clean, expand_paths)

    def _account(self, stripe_account: Any) -> str:
        """The account a request acts as: the platform, or one of its live connected accounts."""
        platform = self._engine.platform_account_id
        if stripe_account is None or stripe_account == platform:
            return platform
        if (
            not isinstance(stripe_account, str)
            or not _ACCOUNT_ID.match(stripe_account)
            or not self._is_connected_account(stripe_account)
        ):
            raise PermissionError(
                "The provided key does not have access to account "
                f"'{stripe_account}' (or that account does not exist). Application access "
                "may have been revoked.",
                code="account_invalid",
                param="stripe_account",
            )
        return stripe_account

    def _is_connected_account(self, account_id: str) -> bool:
        """Whether the platform has this live (not deleted) connected account: one indexed read."""
        with _reading(self._engine.pool) as conn:
            row = conn.execute(
                "SELECT 1 FROM objects WHERE account_id = %s AND id = %s AND object = 'account' "
                "AND NOT deleted",
                (self._engine.platform_account_id, account_id),
            ).fetchone()
        return row is not None

    def _execute(self, call: Call, operation: str, command: Command) -> StripeObject:
        """Run a command durably and wrap its response."""
        try:
            status, body, replayed = run_command(
                self._engine, call.ctx, operation, call.params, call.expand, command
            )
        except LedgerError as error:
            error.request_id = error.request_id or call.ctx.request_id
            raise
        return StripeObject(body, ResponseInfo(call.request_id, replayed, status))

    def _resolver(self, conn: psycopg.Connection[Any], call: Call) -> ReadResolver:
        return ReadResolver(conn, call.ctx.account_id, self._engine.platform_account_id)

    def _read(self, call: Call, read: Callable[[psycopg.Connection[Any]], JSON]) -> StripeObject:
        """Run a read and expand its result on one connection."""
        try:
            with _reading(self._engine.pool) as conn:
                body = read(conn)
                body = expand(
                    body,
                    call.expand,
                    self._resolver(conn, call),
                )
        except LedgerError as error:
            error.request_id = call.ctx.request_id
            raise
        return StripeObject(body, ResponseInfo(call.request_id))

    def _retrieve(
        self, call: Call, object_id: str, object_name: str, kind: str, *, deleted_stub: bool = False
    ) -> StripeObject:
        """One object by id, Stripe's 404 if it is not of this kind in this account."""

        def read(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, object_id)
            if found is None or found[0].get("object") != object_name:
                raise resource_missing(kind, object_id)
            data, deleted = found
            if deleted:
                if not deleted_stub:
                    raise resource_missing(kind, object_id)
                return {"id": object_id, "object": object_name, "deleted": True}
            return data

        return self._read(call, read)

    def _list(
        self,
        call: Call,
        query: ListQuery,
        page_params: JSON,
        next_page: Callable[[JSON], ListObject],
    ) -> ListObject:
        """One page of a list, with what `auto_paging_iter` needs for the next."""
        try:
            with _reading(self._engine.pool) as conn:
                body = list_page(conn, query, call.ctx.account_id, call.params)
                body = expand(
                    body,
                    call.expand,
                    self._resolver(conn, call),
                )
        except LedgerError as error:
            error.request_id = call.ctx.request_id
            raise
        return ListObject(body, ResponseInfo(call.request_id), next_page, page_params)
