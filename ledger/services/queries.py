"""Read side: fetch one projected object, and Stripe-style cursor pagination over a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from ledger import limits
from ledger.domain.rules import reject, reject_if
from ledger.errors import resource_missing

__all__ = [
    "Filter",
    "ListQuery",
    "created_filters",
    "fetch_object",
    "fetch_referenced",
    "list_page",
    "object_list",
]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Filter:
    """One SQL condition with its parameters (columns of the listed table)."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What to list: a table with (account_id, id, created, seq, data) and its conditions.

    `scope` says which rows are of the listed kind (a cursor must be one of them); `filters` are
    the user's filters, which narrow the page but not what a cursor may name.
    """

    table: str
    kind: str  # for "No such customer: 'x'" on a bad cursor
    url: str
    scope: tuple[Filter, ...] = ()
    filters: tuple[Filter, ...] = ()


def fetch_object(
    conn: psycopg.Connection[Any], account_id: str, object_id: str
) -> tuple[JSON, bool] | None:
    """An object's JSON and whether it is deleted, or None."""
    row = conn.execute(
        "SELECT data::text, deleted FROM objects WHERE account_id = %s AND id = %s",
        (account_id, object_id),
    ).fetchone()
    return None if row is None else (orjson.loads(row[0]), row[1])


def fetch_referenced(
    conn: psycopg.Connection[Any], account_id: str, platform_account_id: str, object_id: str
) -> tuple[JSON, bool] | None:
    """An object another object of `account_id` refers to, for expansion.

    References cross accounts only along Connect's links: the platform reaches its connected
    accounts' objects (a transfer's `destination_payment`), a connected account reaches the
    platform's (its payment's `source_transfer`). Ids are unguessable and expansion only follows
    ids the account's own objects hold, so this shows nothing an account could not be shown.
    """
    found = fetch_object(conn, account_id, object_id)
    if found is not None:
        return found
    if account_id != platform_account_id:
        return fetch_object(conn, platform_account_id, object_id)
    row = conn.execute(
        "SELECT data::text, deleted FROM objects WHERE id = %s LIMIT 1", (object_id,)
    ).fetchone()
    return None if row is None else (orjson.loads(row[0]), row[1])


_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def created_filters(value: Any, column: str = "created") -> tuple[Filter, ...]:
    """Stripe's `created` filter: an exact timestamp or a dict of gt/gte/lt/lte."""
    if value is None:
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        return (Filter(f"{column} = %s", (value,)),)
    assert isinstance(value, dict), "validated against the spec"
    return tuple(Filter(f"{column} {_OPERATORS[op]} %s", (bound,)) for op, bound in value.items())


def _cursor_position(
    conn: psycopg.Connection[Any], query: ListQuery, account_id: str, object_id: Any, param: str
) -> tuple[int, int]:
    row = conn.execute(
        f"SELECT created, seq FROM {query.table} WHERE account_id = %s AND id = %s"
        + "".join(f" AND {f.sql}" for f in query.scope),
        (account_id, object_id, *(p for f in query.scope for p in f.params)),
    ).fetchone()
    if row is None:
        raise resource_missing(query.kind, str(object_id), param)
    return int(row[0]), int(row[1])


def list_page(
    conn: psycopg.Connection[Any], query: ListQuery, account_id: str, params: JSON
) -> JSON:
    """One page of Stripe's list object, newest first, with `has_more`."""
    limit = params.get("limit", limits.LIST_LIMIT_DEFAULT)
    reject_if(
        not 1 <= limit <= limits.LIST_LIMIT_MAX,
        f"Invalid limit: must be between 1 and {limits.LIST_LIMIT_MAX}",
        code="parameter_invalid_integer",
        param="limit",
    )
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after is not None and ending_before is not None:
        reject(
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameters_exclusive",
            param="ending_before",
        )
    every = (*query.scope, *query.filters)
    conditions = ["account_id = %s", *(f.sql for f in every)]
    args: list[Any] = [account_id, *(p for f in every for p in f.params)]
    backward = ending_before is not None
    if starting_after is not None:
        conditions.append("(created, seq) < (%s, %s)")
        args.extend(_cursor_position(conn, query, account_id, starting_after, "starting_after"))
    elif ending_before is not None:
        conditions.append("(created, seq) > (%s, %s)")
        args.extend(_cursor_position(conn, query, account_id, ending_before, "ending_before"))
    order = "ASC" if backward else "DESC"
    rows = conn.execute(
        f"SELECT data::text FROM {query.table} WHERE {' AND '.join(conditions)} "
        f"ORDER BY created {order}, seq {order} LIMIT %s",
        (*args, limit + 1),
    ).fetchall()
    has_more = len(rows) > limit
    items: Sequence[Any] = [orjson.loads(row[0]) for row in rows[:limit]]
    if backward:
        items = list(reversed(items))
    return {"object": "list", "data": list(items), "has_more": has_more, "url": query.url}


def object_list(
    object_name: str,
    kind: str,
    url: str,
    params: JSON,
    fields: tuple[str, ...] = (),
    extra: tuple[Filter, ...] = (),
) -> ListQuery:
    """A list of objects of one type: the `created` filter, exact filters on the Stripe
    fields named in `fields` that `params` gives, and `extra` conditions."""
    filters = [*created_filters(params.get("created")), *extra]
    filters += [
        Filter(f"data->>'{name}' = %s", (params[name],)) for name in fields if name in params
    ]
    return ListQuery(
        "objects", kind, url, scope=(Filter("object = %s", (object_name,)),), filters=tuple(filters)
    )
