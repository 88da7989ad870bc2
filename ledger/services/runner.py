"""Run one command: one transaction that loads, decides, appends, projects and answers.

A command is a function of a UnitOfWork that loads the objects it needs, appends the events its
domain decided, and returns the response body. The runner wraps it in one transaction with the
idempotency claim, re-runs it whole when another writer took a stream version first, and stores
the response for the idempotency key. Nothing is half-written: any exception rolls back.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from ledger import limits
from ledger.clock import Clock
from ledger.domain.aggregate import State, aggregate_for_stream
from ledger.domain.events import DomainEvent
from ledger.errors import LedgerError, RateLimitError, resource_missing
from ledger.ids import new_id
from ledger.money import DEFAULT_PRICING, Pricing
from ledger.processor import Processor, SimulatedProcessor
from ledger.projections.objects import Loaded, ProjectionCache, load_states
from ledger.projections.registry import PROJECTIONS
from ledger.resources.expand import expand
from ledger.store import idempotency
from ledger.store.events import ConcurrencyConflict, NewEvent, RecordedEvent, append

__all__ = ["Engine", "Failed", "RequestContext", "UnitOfWork", "run_command"]

JSON = dict[str, Any]

# pg_advisory_xact_lock(space, hash) key space of the per-stream append locks.
_STREAM_LOCK_SPACE = 0x1ED6E6
# ... and of the per-(account, currency) balance locks of debits.
_BALANCE_LOCK_SPACE = 0x1ED6E7


@dataclass(frozen=True, slots=True)
class Engine:
    """What every service shares: the pool, the clock, the platform account, the processor."""

    pool: ConnectionPool[Any]
    clock: Clock
    platform_account_id: str
    pricing: Pricing = DEFAULT_PRICING
    processor: Processor = field(default_factory=SimulatedProcessor)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asks, when, and under which request id and idempotency key."""

    account_id: str
    request_id: str | None  # None for work the ledger does by itself (time falling due)
    idempotency_key: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class Failed:
    """A command outcome that commits its events and then fails (a card decline)."""

    error: LedgerError


def apply_all(
    cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent], cache: ProjectionCache
) -> None:
    """Apply `events` to every projection, queued in the command's pipeline.

    `registry.apply_all` without its own pipeline block: nested in the command's (see
    _pipelined_transaction), that block's end would wait for the writes. Queued, they reach
    the server with the COMMIT, or with the command's next read. In pipeline mode a
    projection's `apply` may run statements only: no COPY, no named cursor.
    """
    for projection in PROJECTIONS:
        projection.apply(cur, events, cache)


@dataclass
class UnitOfWork:
    """The command's view of the store inside its transaction.

    Objects and appends are in the request's account unless `account_id` names another: a
    transfer writes to the platform and to the connected account in one transaction.

    Appends are queued and written by one `flush` when the command ends; `find` and `get` answer
    with the queued events already applied, so a command reads back what it appended without a
    round trip. Whatever reads the database itself (`cur`, `available_balance`, expansion)
    flushes first, so it sees the command's own appends too.
    """

    cursor: psycopg.Cursor[Any]
    ctx: RequestContext
    cache: ProjectionCache
    pricing: Pricing = DEFAULT_PRICING
    pending: list[tuple[str, str, DomainEvent]] = field(default_factory=list)
    locked: set[tuple[str, str]] = field(default_factory=set)
    locked_balances: set[tuple[str, str]] = field(default_factory=set)
    # Ids this command minted (`new_id`): their streams are known to be empty, no load needed.
    minted: set[str] = field(default_factory=set)
    # Streams this transaction created: no other transaction can see them, so no lock.
    created: set[tuple[str, str]] = field(default_factory=set)
    # Each stream's queued events, and its state with the first n of them applied.
    queued: dict[tuple[str, str], list[DomainEvent]] = field(default_factory=dict)
    views: dict[tuple[str, str], tuple[Loaded, int]] = field(default_factory=dict)

    @property
    def platform_account_id(self) -> str:
        return self.cache.platform_account_id

    @property
    def cur(self) -> psycopg.Cursor[Any]:
        """The transaction's cursor, for reads the unit of work does not offer: flushed first."""
        self.flush()
        return self.cursor

    def new_id(self, prefix: str) -> str:
        """A fresh id for an object this command creates (its stream is not loaded)."""
        object_id = new_id(prefix)
        self.minted.add(object_id)
        return object_id

    def _load(self, keys: Iterable[tuple[str, str]]) -> None:
        """Load the states of `keys` not held yet, in one query; minted ids need none."""
        missing = []
        for key in keys:
            if key in self.cache.loaded:
                continue
            if key[1] in self.minted:
                self.cache.loaded[key] = Loaded(None, 0, 0)
            else:
                missing.append(key)
        load_states(self.cursor, self.cache, missing)

    def find(self, object_id: str, account_id: str | None = None) -> Loaded:
        """The object with this id in the account (state None if there is none).

        With this command's queued events applied: `stream_version` counts them too.
        """
        key = (account_id or self.ctx.account_id, object_id)
        queued = self.queued.get(key)
        if not queued:
            self._load([key])
            return self.cache.loaded[key]
        view = self.views.get(key)
        if view is None:
            # The base states of every stream with queued events, in the same query.
            self._load([key, *self.queued])
            loaded, applied = self.cache.loaded[key], 0
        else:
            loaded, applied = view
        if applied < len(queued):
            evolve = aggregate_for_stream(object_id).evolve
            state = loaded.state
            for event in queued[applied:]:
                state = evolve(state, event)
            loaded = Loaded(state, loaded.stream_version + len(queued) - applied, loaded.seq)
            self.views[key] = (loaded, len(queued))
        return loaded

    def get(
        self,
        object_id: str,
        object_name: str,
        kind: str,
        param: str = "id",
        *,
        account_id: str | None = None,
    ) -> State:
        """A live object of type `object_name`, or Stripe's 404 naming `kind` and `param`."""
        state = self.find(object_id, account_id).state
        if state is None or state.deleted or state.data.get("object") != object_name:
            raise resource_missing(kind, object_id, param)
        return state

    def append(
        self, stream_id: str, events: list[DomainEvent], *, account_id: str | None = None
    ) -> None:
        """Queue `events` on `stream_id`; they follow the version this command loaded."""
        account = account_id or self.ctx.account_id
        self.pending.extend((account, stream_id, event) for event in events)
        self.queued.setdefault((account, stream_id), []).extend(events)

    def lock_streams(self, streams: Iterable[tuple[str, str]]) -> None:
        """Hold the append lock of each (account, stream) until commit, in sorted order."""
        wanted = sorted(set(streams) - self.locked)
        if not wanted:
            return
        self.cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(a || '/' || s)) "
            "FROM unnest(%s::text[], %s::text[]) AS k(a, s)",
            (_STREAM_LOCK_SPACE, [a for a, _ in wanted], [s for _, s in wanted]),
        )
        self.locked.update(wanted)

    def lock_balance(self, account_id: str, currency: str) -> None:
        """Hold the lock on the account's balance in `currency` until commit.

        Every command that takes money out of a balance takes it before its first flush and
        before reading the balance: debits of one balance then happen one after another, so a
        check of the available balance stays true until the command commits, and the log's
        order of debits is the order in which they were checked.
        """
        key = (account_id, currency)
        if key in self.locked_balances:
            return
        self.cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s || '/' || %s))",
            (_BALANCE_LOCK_SPACE, account_id, currency),
        )
        self.locked_balances.add(key)

    def available_balance(self, account_id: str, currency: str) -> int:
        """The account's available balance in `currency`, with this command's own appends."""
        row = self.cur.execute(
            "SELECT coalesce(sum(amount), 0) FROM balances "
            "WHERE account_id = %s AND currency = %s AND bucket = 'available'",
            (account_id, currency),
        ).fetchone()
        return int(row[0]) if row else 0

    def flush(self) -> None:
        """Append the queued events and apply them to the projections, in this transaction."""
        if not self.pending:
            return
        # One query loads every stream this command appends to without having read it, for
        # their versions (none for the ids it minted).
        self._load(self.queued)
        versions: dict[tuple[str, str], int] = {}
        by_account: dict[str, list[NewEvent]] = {}
        for account, stream_id, event in self.pending:
            key = (account, stream_id)
            version = versions.get(key)
            if version is None:
                version = self.cache.loaded[key].stream_version
            versions[key] = version + 1
            by_account.setdefault(account, []).append(NewEvent(stream_id, version + 1, event))
        # Appends to existing streams wait for a retry that holds the stream's lock (see
        # run_command); a new stream's first version can only race another creator of its id,
        # and a stream this transaction created is seen by no one else until it commits.
        self.lock_streams(
            key
            for key in self.queued
            if self.cache.loaded[key].stream_version > 0 and key not in self.created
        )
        self.created.update(key for key in self.queued if self.cache.loaded[key].state is None)
        metadata = {"request_id": self.ctx.request_id, "idempotency_key": self.ctx.idempotency_key}
        recorded: list[RecordedEvent] = []
        for account, new_events in by_account.items():
            recorded += append(self.cursor, account, new_events, metadata, self.ctx.now)
        self.pending, self.queued, self.views = [], {}, {}
        apply_all(self.cursor, recorded, self.cache)

    def load_json(self, object_id: str) -> JSON | None:
        """An object's JSON for expansion: the deleted stub if it was deleted."""
        state = self.find(object_id).state
        if state is None:
            from ledger.services.queries import fetch_referenced

            found = fetch_referenced(
                self.cur.connection, self.ctx.account_id, self.platform_account_id, object_id
            )
            if found is None:
                return None
            data, deleted = found
            return {"id": object_id, "object": data["object"], "deleted": True} if deleted else data
        if state.deleted:
            return {"id": object_id, "object": state.data["object"], "deleted": True}
        return state.data

    def related_list(self, object_names: Sequence[str], field: str, value: str, url: str) -> JSON:
        """Stripe's embedded list of related objects (see services.base.related_list)."""
        from ledger.services.base import related_list

        return related_list(
            self.cur.connection, self.ctx.account_id, object_names, field, value, url
        )


Command = Callable[[UnitOfWork], "JSON | Failed"]


@dataclass(slots=True)
class _Contended:
    """What a command's earlier attempts lost races on: its retry locks these first."""

    streams: set[tuple[str, str]] = field(default_factory=set)
    balances: set[tuple[str, str]] = field(default_factory=set)


def request_hash(operation: str, params: JSON) -> str:
    """A stable digest of what was asked, to tell a replay from a different request."""
    canonical = orjson.dumps(
        {"operation": operation, "params": params},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def run_command(
    engine: Engine,
    ctx: RequestContext,
    operation: str,
    params: JSON,
    expand_paths: list[str],
    command: Command,
) -> tuple[int, JSON, bool]:
    """Run `command` once, durably; return (http status, body, replayed).

    A Failed outcome is committed and its error raised after the commit.
    """
    # Only a request with an idempotency key is compared with an earlier one.
    digest = (
        request_hash(operation, params | {"expand": expand_paths})
        if ctx.idempotency_key is not None
        else ""
    )
    contended = _Contended()
    for attempt in range(limits.COMMAND_RETRIES_MAX):
        try:
            return _attempt(engine, ctx, operation, digest, expand_paths, command, contended)
        except (ConcurrencyConflict, pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
            # Lost a race for a stream version: back off a little, then decide again on
            # fresh state.
            time.sleep(random.uniform(0, limits.COMMAND_RETRY_BACKOFF_SECONDS * (attempt + 1)))
    raise RateLimitError(
        "This object cannot be accessed right now because another API request or Stripe "
        "process is currently accessing it. If you see this error intermittently, retry the "
        "request. If you see this error frequently and are making multiple concurrent requests "
        "to a single object, make your requests serially or at a lower rate.",
        code="lock_timeout",
    )


# What psycopg would send for the pool's connections (see db._configure), sent by hand here.
_BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"


@contextmanager
def _pipelined_transaction(conn: psycopg.Connection[Any]) -> Iterator[psycopg.Cursor[Any]]:
    """One transaction in pipeline mode: BEGIN and COMMIT cost no round trip of their own.

    psycopg waits for the server after its own BEGIN and COMMIT even in a pipeline; sent as
    plain statements in autocommit mode, BEGIN travels with the command's first query and
    COMMIT with its last writes, so a command that only appends waits twice: once for the
    positions of its events, once for the commit. Errors of queued statements surface at the
    next result read or at the commit; either way the transaction is rolled back.
    """
    conn.autocommit = True
    try:
        with conn.pipeline(), conn.cursor() as cur:
            cur.execute(_BEGIN)
            yield cur
            cur.execute("COMMIT")
    except BaseException:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise
    finally:
        if not conn.closed:
            conn.autocommit = False


def _attempt(
    engine: Engine,
    ctx: RequestContext,
    operation: str,
    digest: str,
    expand_paths: list[str],
    command: Command,
    contended: _Contended,
) -> tuple[int, JSON, bool]:
    with engine.pool.connection() as conn, _pipelined_transaction(conn) as cur:
        key = ctx.idempotency_key
        if key is not None:
            replay = idempotency.claim(cur, ctx.account_id, key, operation, digest, ctx.now)
            if replay is not None:
                if replay.http_status >= 400:
                    replayed = LedgerError.from_dict(replay.body, replay.http_status)
                    replayed.idempotent_replayed = True
                    raise replayed
                return replay.http_status, replay.body, True
        uow = UnitOfWork(cur, ctx, ProjectionCache(engine.platform_account_id), engine.pricing)
        # A retry locks the streams it lost a race on before reading them: it then reads their
        # latest version and no one can append to them before it commits, so under contention
        # writers queue instead of losing the race until the retries run out.
        # Balances first: every command takes its balance locks before its stream locks.
        for account_id, currency in sorted(contended.balances):
            uow.lock_balance(account_id, currency)
        uow.lock_streams(contended.streams)
        try:
            outcome = command(uow)
            uow.flush()
        except ConcurrencyConflict:
            # Not the ids it minted: the retry mints others.
            contended.streams.update(key for key in uow.queued if key[1] not in uow.minted)
            contended.balances.update(uow.locked_balances)
            raise
        if isinstance(outcome, Failed):
            # Stamp the request id first: a replay must show the original request's log url.
            outcome.error.request_id = outcome.error.request_id or ctx.request_id
            status, body = outcome.error.http_status, outcome.error.to_dict()
        else:
            status, body = 200, expand(outcome, expand_paths, uow)
        if key is not None:
            idempotency.record_response(cur, ctx.account_id, key, status, body)
    if isinstance(outcome, Failed):
        raise outcome.error
    return status, body, False
