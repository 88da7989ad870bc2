"""The objects projection: each object's current Stripe JSON, and the Stripe Events it emitted.

Applied inside the command's transaction (so a read after a write sees it), and replayed from
the whole log by `rebuild` and the audit (`ObjectsReplay`); both take the same step per event.
Aggregates say how each domain event changes their JSON and which Stripe events it yields; this
module only loads, evolves and writes, in as few statements as it can.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg

from ledger import limits
from ledger.clock import to_unix
from ledger.domain.aggregate import State, StripeEventSpec, aggregate_for_stream
from ledger.ids import derived_id
from ledger.projections.bulk import copy_rows
from ledger.store.batch import execute_values
from ledger.store.events import RecordedEvent

__all__ = [
    "API_VERSION",
    "OBJECT_COLUMNS",
    "STRIPE_EVENT_COLUMNS",
    "TABLES",
    "Loaded",
    "ObjectsReplay",
    "ProjectionCache",
    "apply_events",
    "evolve_recorded",
    "load_states",
    "object_row",
]

API_VERSION = "2024-11-20.acacia"
TABLES = ("objects", "stripe_events")

# One domain event may yield several Stripe events; each gets its own list-order slot.
STRIPE_EVENTS_PER_DOMAIN_EVENT_MAX = 1000

Key = tuple[str, str]  # (account_id, object id)


@dataclass(slots=True)
class Loaded:
    """An object's state as the projection holds it, with its stream version and list order."""

    state: State | None
    stream_version: int
    seq: int


@dataclass(slots=True)
class ProjectionCache:
    """States read or written in this transaction, so nothing is loaded twice."""

    platform_account_id: str
    loaded: dict[Key, Loaded] = field(default_factory=dict)


_LOAD = """
SELECT o.account_id, o.id, o.data::text, o.internal::text, o.deleted, o.stream_version, o.seq
FROM objects o
JOIN unnest(%s::text[], %s::text[]) AS k(account_id, id)
  ON o.account_id = k.account_id AND o.id = k.id
"""

OBJECT_COLUMNS = (
    "account_id",
    "id",
    "object",
    "created",
    "seq",
    "stream_version",
    "deleted",
    "data",
    "internal",
)
STRIPE_EVENT_COLUMNS = ("account_id", "id", "type", "created", "seq", "data")

_OBJECTS = (
    f"INSERT INTO objects ({', '.join(OBJECT_COLUMNS)})",
    "(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)",
    "ON CONFLICT (account_id, id) DO UPDATE SET stream_version = EXCLUDED.stream_version, "
    "deleted = EXCLUDED.deleted, data = EXCLUDED.data, internal = EXCLUDED.internal",
)
_STRIPE_EVENTS = (
    f"INSERT INTO stripe_events ({', '.join(STRIPE_EVENT_COLUMNS)})",
    "(%s, %s, %s, %s, %s, %s::jsonb)",
    "",
)


def load_states(cur: psycopg.Cursor[Any], cache: ProjectionCache, keys: Iterable[Key]) -> None:
    """Load into `cache` every object of `keys` it does not hold yet, in one query."""
    missing = [key for key in dict.fromkeys(keys) if key not in cache.loaded]
    if not missing:
        return
    cur.execute(_LOAD, ([a for a, _ in missing], [i for _, i in missing]))
    for account_id, object_id, data, internal, deleted, version, seq in cur.fetchall():
        state = State(orjson.loads(data), orjson.loads(internal), deleted)
        cache.loaded[(account_id, object_id)] = Loaded(state, version, seq)
    for key in missing:
        cache.loaded.setdefault(key, Loaded(None, 0, 0))


def stripe_event_json(
    recorded: RecordedEvent, index: int, spec: StripeEventSpec, platform_account_id: str
) -> dict[str, Any]:
    """Stripe's Event object for the `index`-th Stripe event a domain event yields."""
    data: dict[str, Any] = {"object": spec.object}
    if spec.previous_attributes is not None:
        data["previous_attributes"] = spec.previous_attributes
    event: dict[str, Any] = {
        "id": derived_id("evt", recorded.position, index),
        "object": "event",
        "api_version": API_VERSION,
        "created": to_unix(recorded.occurred_at),
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {
            "id": recorded.metadata.get("request_id"),
            "idempotency_key": recorded.metadata.get("idempotency_key"),
        },
        "type": spec.type,
    }
    if recorded.account_id != platform_account_id:
        event["account"] = recorded.account_id
    return event


def evolve_recorded(
    recorded: RecordedEvent,
    loaded: Loaded,
    platform_account_id: str,
    stripe_rows: list[tuple[Any, ...]],
) -> Loaded:
    """`loaded` after `recorded`; the rows of the Stripe events it yields go to `stripe_rows`.

    The one step both the command path and replay take, so their rows cannot differ.
    """
    assert recorded.stream_version == loaded.stream_version + 1, (
        f"{recorded.stream_id}: version {recorded.stream_version} after {loaded.stream_version}"
    )
    aggregate = aggregate_for_stream(recorded.stream_id)
    before = loaded.state
    after = aggregate.evolve(before, recorded.event)
    for index, spec in enumerate(aggregate.stripe_events(before, after, recorded.event)):
        event = stripe_event_json(recorded, index, spec, platform_account_id)
        assert index < STRIPE_EVENTS_PER_DOMAIN_EVENT_MAX
        stripe_rows.append(
            (
                recorded.account_id,
                event["id"],
                event["type"],
                event["created"],
                recorded.position * STRIPE_EVENTS_PER_DOMAIN_EVENT_MAX + index,
                orjson.dumps(event).decode(),
            )
        )
    seq = recorded.position if before is None else loaded.seq
    return Loaded(after, recorded.stream_version, seq)


def object_row(key: Key, state: State, loaded: Loaded) -> tuple[Any, ...]:
    """The `objects` row (OBJECT_COLUMNS order) of an object's projected state."""
    account_id, object_id = key
    return (
        account_id,
        object_id,
        state.data["object"],
        # Objects whose Stripe JSON has no `created` (external accounts) keep it in internal.
        state.data.get("created", state.internal.get("created")),
        loaded.seq,
        loaded.stream_version,
        state.deleted,
        orjson.dumps(state.data).decode(),
        orjson.dumps(state.internal).decode(),
    )


def apply_events(
    cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent], cache: ProjectionCache
) -> None:
    """Evolve every touched object by `events` and write objects and Stripe events."""
    load_states(cur, cache, ((e.account_id, e.stream_id) for e in events))
    dirty: dict[Key, Loaded] = {}
    stripe_rows: list[tuple[Any, ...]] = []
    for recorded in events:
        key = (recorded.account_id, recorded.stream_id)
        loaded = evolve_recorded(
            recorded, cache.loaded[key], cache.platform_account_id, stripe_rows
        )
        cache.loaded[key] = dirty[key] = loaded
    object_rows = [
        object_row(key, loaded.state, loaded)
        for key, loaded in dirty.items()
        if loaded.state is not None
    ]
    execute_values(cur, *_OBJECTS, object_rows)
    execute_values(cur, *_STRIPE_EVENTS, stripe_rows)


class ObjectsReplay:
    """Replays the objects projection from a log read stream by stream (`iter_visible`).

    Only the state of the stream being replayed is held: each object's row is written once,
    when its stream ends, and Stripe events as they are derived, every `REPLAY_COPY_ROWS` rows.
    """

    def __init__(self, platform_account_id: str) -> None:
        self._platform_account_id = platform_account_id
        self._account_id = ""
        self._stream_id = ""
        self._loaded = Loaded(None, 0, 0)
        self._object_rows: list[tuple[Any, ...]] = []
        self._stripe_rows: list[tuple[Any, ...]] = []

    def feed(self, cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent]) -> None:
        """Replay `events`, which continue where the previous batch ended."""
        object_rows, stripe_rows = self._object_rows, self._stripe_rows
        account_id, stream_id, loaded = self._account_id, self._stream_id, self._loaded
        platform_account_id = self._platform_account_id
        for recorded in events:
            if recorded.stream_id != stream_id or recorded.account_id != account_id:
                if loaded.state is not None:
                    object_rows.append(object_row((account_id, stream_id), loaded.state, loaded))
                account_id, stream_id = recorded.account_id, recorded.stream_id
                loaded = Loaded(None, 0, 0)
            loaded = evolve_recorded(recorded, loaded, platform_account_id, stripe_rows)
        self._account_id, self._stream_id, self._loaded = account_id, stream_id, loaded
        if len(stripe_rows) + len(object_rows) >= limits.REPLAY_COPY_ROWS:
            self._write(cur)

    def finish(self, cur: psycopg.Cursor[Any]) -> None:
        """Write what is held, the last stream's object included."""
        loaded = self._loaded
        if loaded.state is not None:
            key = (self._account_id, self._stream_id)
            self._object_rows.append(object_row(key, loaded.state, loaded))
        self._loaded = Loaded(None, 0, 0)
        self._write(cur)

    def _write(self, cur: psycopg.Cursor[Any]) -> None:
        if self._stripe_rows:
            copy_rows(cur, "stripe_events", STRIPE_EVENT_COLUMNS, self._stripe_rows)
        if self._object_rows:
            copy_rows(cur, "objects", OBJECT_COLUMNS, self._object_rows)
        self._stripe_rows, self._object_rows = [], []
