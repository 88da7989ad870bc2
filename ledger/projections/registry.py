"""Every projection, applied in order to the events of a command or of a rebuild."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ledger.projections import money, objects
from ledger.projections.objects import ProjectionCache
from ledger.store.events import RecordedEvent

__all__ = ["PROJECTIONS", "PROJECTIONS_VERSION", "Projection", "apply_all", "projection_tables"]

# Bump whenever a change to the projection code changes what the projections hold: a ledger
# opened on a database projected by another version rebuilds its projections from the log.
PROJECTIONS_VERSION = 3

Apply = Callable[[psycopg.Cursor[Any], Sequence[RecordedEvent], ProjectionCache], None]


@dataclass(frozen=True, slots=True)
class Projection:
    """A read model: the tables it owns and how it applies events to them."""

    name: str
    tables: tuple[str, ...]
    apply: Apply


PROJECTIONS: tuple[Projection, ...] = (
    Projection("objects", objects.TABLES, objects.apply_events),
    Projection("money", money.TABLES, money.apply_money),
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


def projection_tables() -> tuple[str, ...]:
    """Every table a rebuild empties and refills."""
    return tuple(table for projection in PROJECTIONS for table in projection.tables)
