"""The peer: the `eventsourcing` library (pip `eventsourcing[postgres]`) on the same server.

Its aggregate carries the same customer JSON our customer events carry, so rows are of a size.
The library is imported lazily: without the `bench` extra these rows say so instead of failing.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from benchmarks.context import Context, run_workers
from benchmarks.database import conninfo
from benchmarks.fixtures import customer_created
from benchmarks.harness import Case, Sample, Unavailable

__all__ = [
    "PeerFixture",
    "peer_command",
    "peer_command_workers",
    "peer_fixture",
    "peer_log_fixture",
    "peer_read_log",
    "peer_save_batch",
    "peer_save_one",
]

SECTION_SIZE = 1_000
BATCH_AGGREGATES = 100
SEED_AGGREGATES = 10


@functools.cache
def _classes() -> tuple[Any, Any]:
    """(application class, aggregate class), defined once eventsourcing is importable."""
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError as exc:
        raise Unavailable("n/a (pip install -e '.[bench]')") from exc

    class BenchCustomer(Aggregate):
        @event("Created")
        def __init__(self, customer: dict[str, Any]) -> None:
            self.customer = customer

        @event("Updated")
        def update(self, changes: dict[str, Any]) -> None:
            self.customer = self.customer | changes

    class BenchApp(Application[uuid.UUID]):
        log_section_size = SECTION_SIZE

    return BenchApp, BenchCustomer


@dataclass(frozen=True, slots=True)
class PeerFixture:
    """An empty database for the peer (it creates its own tables)."""

    url: str
    events: int = 0


def _env(url: str, pool_size: int) -> dict[str, str]:
    info = conninfo(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info["dbname"]),
        "POSTGRES_HOST": str(info.get("host") or "localhost"),
        "POSTGRES_PORT": str(info.get("port") or "5432"),
        "POSTGRES_USER": str(info.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(info.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        "CREATE_TABLE": "y",
    }


def _app(url: str, pool_size: int = 1) -> Any:
    app_class, _ = _classes()
    return app_class(env=_env(url, pool_size))


def _customer(i: int) -> Any:
    _, aggregate_class = _classes()
    return aggregate_class(customer=customer_created(f"cus_peer{i}").customer)


def peer_fixture(ctx: Context, case: Case) -> PeerFixture:
    _classes()  # n/a before creating anything when the library is missing
    return PeerFixture(ctx.blank_database(case.benchmark.name[:20]))


def peer_save_one(ctx: Context, case: Case, fx: PeerFixture) -> Sample:
    """`app.save(aggregate)` of new aggregates with one event each, one transaction each."""
    count = case.operations(ctx.options)
    app = _app(fx.url)
    try:
        aggregates = [_customer(i) for i in range(count)]
        started = time.perf_counter()
        for aggregate in aggregates:
            app.save(aggregate)
        seconds = time.perf_counter() - started
    finally:
        app.close()
    return Sample(count, seconds)


def peer_save_batch(ctx: Context, case: Case, fx: PeerFixture) -> Sample:
    """`app.save(*aggregates)` of 100 new one-event aggregates per transaction."""
    batches = max(1, case.operations(ctx.options) * 10 // BATCH_AGGREGATES)
    app = _app(fx.url)
    try:
        started = time.perf_counter()
        for b in range(batches):
            app.save(*(_customer(b * BATCH_AGGREGATES + i) for i in range(BATCH_AGGREGATES)))
        seconds = time.perf_counter() - started
    finally:
        app.close()
    return Sample(batches * BATCH_AGGREGATES, seconds)


def _seed(app: Any, count: int) -> list[uuid.UUID]:
    """`count` saved aggregates (untimed), 100 per transaction."""
    ids: list[uuid.UUID] = []
    for start in range(0, count, BATCH_AGGREGATES):
        batch = [_customer(i) for i in range(start, min(count, start + BATCH_AGGREGATES))]
        app.save(*batch)
        ids += [aggregate.id for aggregate in batch]
    return ids


def _command(app: Any, aggregate_id: uuid.UUID, n: int) -> None:
    aggregate = app.repository.get(aggregate_id)
    aggregate.update({"metadata": {"n": str(n)}})
    app.save(aggregate)


def peer_command(ctx: Context, case: Case, fx: PeerFixture) -> Sample:
    """A command: `repository.get` an aggregate, trigger one event, `save`; sequential.

    Every command gets a different aggregate holding one event, the library's best case.
    """
    count = case.operations(ctx.options)
    app = _app(fx.url)
    try:
        ids = _seed(app, count)
        started = time.perf_counter()
        for n, aggregate_id in enumerate(ids):
            _command(app, aggregate_id, n)
        seconds = time.perf_counter() - started
    finally:
        app.close()
    return Sample(count, seconds)


def peer_command_workers(ctx: Context, case: Case, fx: PeerFixture) -> Sample:
    """The same command from {workers} threads sharing one application (a pool of {workers})."""
    workers = ctx.options.workers
    count = case.operations(ctx.options)
    app = _app(fx.url, pool_size=workers)
    try:
        warmup = 2
        ids = _seed(app, count + workers * warmup)
        per_worker = [ids[w::workers] for w in range(workers)]

        def command(w: int, i: int) -> None:
            mine = per_worker[w]
            _command(app, mine[warmup + i if i >= 0 else -1 - i], i)

        outcome = run_workers(workers, count, command, warmup=warmup)
    finally:
        app.close()
    return Sample(outcome.successes, outcome.seconds)


def peer_log_fixture(ctx: Context, case: Case) -> PeerFixture:
    """A peer database whose notification log holds `case.size` events.

    A few aggregates are saved through the library; their stored rows are then copied under new
    aggregate ids with SQL (the state column holds no id), which is much faster than saving.
    """
    assert case.size is not None
    fx = peer_fixture(ctx, case)
    app = _app(fx.url)
    try:
        _seed(app, SEED_AGGREGATES)
        table = app.recorder.events_table_name
    finally:
        app.close()
    with psycopg.connect(fx.url, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "SELECT gen_random_uuid(), 1, s.topic, s.state "
            f"FROM (SELECT topic, state FROM {table} LIMIT 1) AS s, generate_series(1, %s)",
            (case.size - SEED_AGGREGATES,),
        )
        conn.execute(f"VACUUM ANALYZE {table}")
    return PeerFixture(fx.url, case.size)


def peer_read_log(ctx: Context, case: Case, fx: PeerFixture) -> Sample:
    """The whole notification log, 1,000 per section, each notification decoded to an event."""
    app = _app(fx.url)
    count = 0
    try:
        started = time.perf_counter()
        to_event = app.mapper.to_domain_event
        start = 1
        while notifications := app.notification_log.select(start, SECTION_SIZE):
            for notification in notifications:
                to_event(notification)
            count += len(notifications)
            start = notifications[-1].id + 1
        seconds = time.perf_counter() - started
    finally:
        app.close()
    assert count == fx.events, f"read {count} of {fx.events}"
    return Sample(count, seconds)
