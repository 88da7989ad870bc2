"""The objects projection: each object's current Stripe JSON, and the Stripe Events it emitted.

Applied inside the command's transaction (so a read after a write sees it) and by `rebuild`
from position 0. Aggregates say how each domain event changes their JSON and which Stripe events
it yields; this module only loads, evolves and writes, in as few statements as it can.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg

from ledger.clock import to_unix
from ledger.domain.aggregate import State, StripeEventSpec, aggregate_for_stream
from ledger.ids import derived_id
from ledger.store.batch import execute_values
from ledger.store.events import RecordedEvent

__all__ = ["API_VERSION", "TABLES", "Loaded", "ProjectionCache", "apply_events", "load_states"]

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

_OBJECTS = (
    "INSERT INTO objects (account_id, id, object, created, seq, stream_version, deleted, data, "
    "internal)",
    "(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)",
    "ON CONFLICT (account_id, id) DO UPDATE SET stream_version = EXCLUDED.stream_version, "
    "deleted = EXCLUDED.deleted, data = EXCLUDED.data, internal = EXCLUDED.internal",
)
_STRIPE_EVENTS = (
    "INSERT INTO stripe_events (account_id, id, type, created, seq, data)",
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


def apply_events(
    cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent], cache: ProjectionCache
) -> None:
    """Evolve every touched object by `events` and write objects and Stripe events."""
    load_states(cur, cache, ((e.account_id, e.stream_id) for e in events))
    dirty: dict[Key, Loaded] = {}
    stripe_rows: list[tuple[Any, ...]] = []
    for recorded in events:
        key = (recorded.account_id, recorded.stream_id)
        loaded = cache.loaded[key]
        assert recorded.stream_version == loaded.stream_version + 1, (
            f"{recorded.stream_id}: version {recorded.stream_version} after {loaded.stream_version}"
        )
        aggregate = aggregate_for_stream(recorded.stream_id)
        before = loaded.state
        after = aggregate.evolve(before, recorded.event)
        seq = recorded.position if before is None else loaded.seq
        loaded = Loaded(after, recorded.stream_version, seq)
        cache.loaded[key] = dirty[key] = loaded
        for index, spec in enumerate(aggregate.stripe_events(before, after, recorded.event)):
            event = stripe_event_json(recorded, index, spec, cache.platform_account_id)
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
    object_rows = [
        (
            account_id,
            object_id,
            loaded.state.data["object"],
            loaded.state.data["created"],
            loaded.seq,
            loaded.stream_version,
            loaded.state.deleted,
            orjson.dumps(loaded.state.data).decode(),
            orjson.dumps(loaded.state.internal).decode(),
        )
        for (account_id, object_id), loaded in dirty.items()
        if loaded.state is not None
    ]
    execute_values(cur, *_OBJECTS, object_rows)
    execute_values(cur, *_STRIPE_EVENTS, stripe_rows)
