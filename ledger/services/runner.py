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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from ledger import limits
from ledger.clock import Clock
from ledger.domain.aggregate import State
from ledger.domain.events import DomainEvent
from ledger.errors import LedgerError, RateLimitError, resource_missing
from ledger.money import DEFAULT_PRICING, Pricing
from ledger.processor import Processor, SimulatedProcessor
from ledger.projections.objects import Loaded, ProjectionCache, load_states
from ledger.projections.registry import apply_all
from ledger.resources.expand import expand
from ledger.store import idempotency
from ledger.store.events import ConcurrencyConflict, NewEvent, append

__all__ = ["Engine", "Failed", "RequestContext", "UnitOfWork", "run_command"]

JSON = dict[str, Any]

# pg_advisory_xact_lock(space, hash) key space of the per-stream append locks.
_STREAM_LOCK_SPACE = 0x1ED6E6


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


@dataclass
class UnitOfWork:
    """The command's view of the store inside its transaction."""

    cur: psycopg.Cursor[Any]
    ctx: RequestContext
    cache: ProjectionCache
    pricing: Pricing = DEFAULT_PRICING
    pending: list[tuple[str, DomainEvent]] = field(default_factory=list)
    locked: set[str] = field(default_factory=set)

    def find(self, object_id: str) -> Loaded:
        """The object with this id in the request's account (state None if there is none)."""
        key = (self.ctx.account_id, object_id)
        load_states(self.cur, self.cache, [key])
        return self.cache.loaded[key]

    def get(self, object_id: str, object_name: str, kind: str, param: str = "id") -> State:
        """A live object of type `object_name`, or Stripe's 404 naming `kind` and `param`."""
        state = self.find(object_id).state
        if state is None or state.deleted or state.data.get("object") != object_name:
            raise resource_missing(kind, object_id, param)
        return state

    def append(self, stream_id: str, events: list[DomainEvent]) -> None:
        """Queue `events` on `stream_id`; they follow the version this command loaded."""
        self.pending.extend((stream_id, event) for event in events)

    def lock_streams(self, stream_ids: Iterable[str]) -> None:
        """Hold the append lock of each stream until commit, taken in sorted order."""
        wanted = sorted(set(stream_ids) - self.locked)
        if not wanted:
            return
        self.cur.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s || '/' || s)) FROM unnest(%s::text[]) s",
            (_STREAM_LOCK_SPACE, self.ctx.account_id, wanted),
        )
        self.locked.update(wanted)

    def flush(self) -> None:
        """Append the queued events and apply them to the projections, in this transaction."""
        if not self.pending:
            return
        # One query loads every stream this command appends to without having read it (most
        # often objects it has just created), for their versions.
        account_id = self.ctx.account_id
        load_states(self.cur, self.cache, ((account_id, stream) for stream, _ in self.pending))
        versions: dict[str, int] = {}
        new_events = []
        for stream_id, event in self.pending:
            version = versions.get(stream_id)
            if version is None:
                version = self.cache.loaded[(account_id, stream_id)].stream_version
            versions[stream_id] = version + 1
            new_events.append(NewEvent(stream_id, version + 1, event))
        # Appends to existing streams wait for a retry that holds the stream's lock (see
        # run_command); a new stream's first version can only race another creator of its id.
        self.lock_streams(new.stream_id for new in new_events if new.stream_version > 1)
        metadata = {"request_id": self.ctx.request_id, "idempotency_key": self.ctx.idempotency_key}
        recorded = append(self.cur, account_id, new_events, metadata, self.ctx.now)
        self.pending = []
        apply_all(self.cur, recorded, self.cache)

    def load_json(self, object_id: str) -> JSON | None:
        """An object's JSON for expansion: the deleted stub if it was deleted."""
        state = self.find(object_id).state
        if state is None:
            return None
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
    digest = request_hash(operation, params | {"expand": expand_paths})
    contended: set[str] = set()
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


def _attempt(
    engine: Engine,
    ctx: RequestContext,
    operation: str,
    digest: str,
    expand_paths: list[str],
    command: Command,
    contended: set[str],
) -> tuple[int, JSON, bool]:
    with engine.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
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
        uow.lock_streams(contended)
        try:
            outcome = command(uow)
            uow.flush()
        except ConcurrencyConflict:
            contended.update(stream_id for stream_id, _ in uow.pending)
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
