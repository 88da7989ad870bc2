"""Work that falls due with time: pending funds, expiring authorizations, dispute deadlines…

Each kind of work registers a `DueJob`: how to find the items due by a time, and the command that
carries one out. `run_due` runs every item due by `now`, oldest first, each as its own command
whose clock reads the moment the item fell due, so the events it records carry that time. Items
that belong to a test clock's customers run only when that test clock is advanced.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from ledger import limits
from ledger.clock import to_unix
from ledger.services.runner import Command, Engine, RequestContext, run_command

__all__ = ["DueItem", "DueJob", "register_due_job", "run_due"]


@dataclass(frozen=True, slots=True, order=True)
class DueItem:
    """One piece of work: what falls due, when, and in which account."""

    due_at: int
    job: str
    account_id: str
    object_id: str


@dataclass(frozen=True, slots=True)
class DueJob:
    """A kind of due work.

    `find(conn, due_by, test_clock, limit)` returns items due at or before `due_by` (unix
    seconds) among objects of `test_clock` (None: objects on no test clock), oldest first.
    `command(item)` is the command that carries one item out; it must be a no-op when the item
    is no longer due (another run got there first).
    """

    name: str
    find: Callable[[psycopg.Connection[Any], int, str | None, int], list[DueItem]]
    command: Callable[[DueItem], Command]


_JOBS: dict[str, DueJob] = {}


def register_due_job(job: DueJob) -> DueJob:
    """Make `job` part of every `run_due`."""
    assert job.name not in _JOBS, f"duplicate due job {job.name}"
    _JOBS[job.name] = job
    return job


def run_due(engine: Engine, now: datetime, test_clock: str | None = None) -> int:
    """Carry out, in time order, everything due by `now`; return how many items ran."""
    due_by = to_unix(now)
    ran = 0
    for _ in range(limits.DUE_ROUNDS_MAX):
        with engine.pool.connection() as conn:
            items = sorted(
                itertools.chain.from_iterable(
                    job.find(conn, due_by, test_clock, limits.DUE_BATCH_ITEMS)
                    for job in _JOBS.values()
                )
            )[: limits.DUE_BATCH_ITEMS]
        if not items:
            return ran
        for item in items:
            at = datetime.fromtimestamp(max(item.due_at, 0), UTC)
            ctx = RequestContext(item.account_id, None, None, at)
            run_command(
                engine,
                ctx,
                f"due {item.job}",
                {"object": item.object_id},
                [],
                _JOBS[item.job].command(item),
            )
            ran += 1
    raise AssertionError(f"due work did not settle after {limits.DUE_ROUNDS_MAX} rounds")
