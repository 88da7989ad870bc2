"""Every projection, applied in order to the events of a command, or replayed from the log."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from ledger.projections import money, objects
from ledger.projections.objects import ProjectionCache
from ledger.store.events import RecordedEvent

__all__ = [
    "PROJECTIONS",
    "PROJECTIONS_VERSION",
    "Projection",
    "Replayer",
    "apply_all",
    "projection_tables",
    "replay",
    "replay_keyed_tables",
]

# Bump whenever a change to the projection code changes what the projections hold: a ledger
# opened on a database projected by another version rebuilds its projections from the log.
PROJECTIONS_VERSION = 3

Apply = Callable[[psycopg.Cursor[Any], Sequence[RecordedEvent], ProjectionCache], None]


class Replayer(Protocol):
    """Writes a projection from the whole log, fed batch after batch in stream order."""

    def feed(self, cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent]) -> None: ...

    def finish(self, cur: psycopg.Cursor[Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class Projection:
    """A read model: the tables it owns and how it applies events to them.

    `replayer(platform_account_id)` makes a bulk writer for rebuilds and audits; without one,
    replay calls `apply` batch by batch. `replay_keyed` names the tables whose replay needs
    their unique indexes (upserts, lookups); the audit's shadow copies of the others have none.
    """

    name: str
    tables: tuple[str, ...]
    apply: Apply
    replayer: Callable[[str], Replayer] | None = None
    replay_keyed: tuple[str, ...] = ()


PROJECTIONS: tuple[Projection, ...] = (
    Projection("objects", objects.TABLES, objects.apply_events, objects.ObjectsReplay),
    Projection("money", money.TABLES, money.apply_money, money.MoneyReplay, ("balances",)),
)


def apply_all(
    cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent], cache: ProjectionCache
) -> None:
    """Apply `events` to every projection, in the caller's transaction.

    In one pipeline: the projections' writes go to the server together, not one round trip each.
    """
    with cur.connection.pipeline():
        for projection in PROJECTIONS:
            projection.apply(cur, events, cache)


class _ApplyReplayer:
    """Replay through `apply`, for a projection without a bulk writer of its own."""

    def __init__(self, apply: Apply, platform_account_id: str) -> None:
        self._apply = apply
        self._platform_account_id = platform_account_id

    def feed(self, cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent]) -> None:
        self._apply(cur, events, ProjectionCache(self._platform_account_id))

    def finish(self, cur: psycopg.Cursor[Any]) -> None:
        pass


def replay(
    cur: psycopg.Cursor[Any],
    batches: Iterable[Sequence[RecordedEvent]],
    platform_account_id: str,
    on_batch: Callable[[Sequence[RecordedEvent]], None] | None = None,
) -> int:
    """Write every projection from `batches` (the log in stream order); the events replayed.

    A projection sees each stream's events in version order, but streams one after another,
    not interleaved as they were committed: projections must not depend on the order of events
    of different streams (the objects projection evolves each object by its own stream; the
    money projection keys postings by position and sums balances).
    """
    replayers: list[Replayer] = [
        projection.replayer(platform_account_id)
        if projection.replayer is not None
        else _ApplyReplayer(projection.apply, platform_account_id)
        for projection in PROJECTIONS
    ]
    replayed = 0
    for batch in batches:
        for replayer in replayers:
            replayer.feed(cur, batch)
        replayed += len(batch)
        if on_batch is not None:
            on_batch(batch)
    for replayer in replayers:
        replayer.finish(cur)
    return replayed


def projection_tables() -> tuple[str, ...]:
    """Every table a rebuild empties and refills."""
    return tuple(table for projection in PROJECTIONS for table in projection.tables)


def replay_keyed_tables() -> frozenset[str]:
    """The tables whose replay needs their unique indexes."""
    return frozenset(
        table
        for projection in PROJECTIONS
        for table in (projection.tables if projection.replayer is None else projection.replay_keyed)
    )
