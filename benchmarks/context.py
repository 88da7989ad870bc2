"""What every benchmark is handed: the server, the options, fresh databases, worker threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from benchmarks.database import Server, with_database
from benchmarks.harness import Options

__all__ = ["Context", "WorkerOutcome", "run_workers"]


@dataclass
class Context:
    """The server, the options, and databases created for the run (dropped at the end)."""

    server: Server
    options: Options
    _template: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh_database(self, label: str) -> str:
        """A new database migrated to the ledger's schema (cloned from a migrated template)."""
        with self._lock:
            if self._template is None:
                template_url = self.server.create_database("template")
                self._template = urlsplit(template_url).path.lstrip("/")
            template = self._template
        url = self.server.create_database(label, migrate=False, template=template)
        return url

    def blank_database(self, label: str) -> str:
        """A new empty database (for the peer library, which makes its own tables)."""
        return self.server.create_database(label, migrate=False)

    def database_url(self, name: str) -> str:
        return with_database(self.server.url, name)


@dataclass(frozen=True, slots=True)
class WorkerOutcome:
    """What a group of workers did: timed successes and failures, and all successes."""

    successes: int
    failures: int
    seconds: float
    successes_total: int  # including the untimed warm-up calls
    failures_total: int


def run_workers(
    workers: int,
    operations: int,
    operation: Callable[[int, int], Any],
    *,
    warmup: int = 2,
    expected_errors: tuple[type[BaseException], ...] = (),
) -> WorkerOutcome:
    """Run `operations` calls of `operation(worker, i)` spread over `workers` threads.

    Each worker first makes `warmup` untimed calls with i = -1, -2, … (so pools hold their
    connections); the clock starts when every worker is ready and stops when the last one
    finishes. Exceptions of `expected_errors` count as failures; any other is re-raised.
    """
    per_worker = [
        operations // workers + (1 if w < operations % workers else 0) for w in range(workers)
    ]
    ready = threading.Barrier(workers + 1)
    done = threading.Barrier(workers + 1)
    counts = [[0, 0, 0, 0] for _ in range(workers)]  # timed ok, timed failed, warm ok, warm failed
    unexpected: list[BaseException] = []

    def call(w: int, i: int, slot: int) -> None:
        try:
            operation(w, i)
            counts[w][slot] += 1
        except expected_errors:
            counts[w][slot + 1] += 1

    def work(w: int) -> None:
        try:
            for i in range(warmup):
                call(w, -1 - i, 2)
        except BaseException as exc:  # re-raised by the caller once every thread is done
            unexpected.append(exc)
        ready.wait()
        try:
            if not unexpected:
                for i in range(per_worker[w]):
                    call(w, i, 0)
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            done.wait()

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(workers)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    done.wait()
    seconds = time.perf_counter() - started
    for thread in threads:
        thread.join()
    if unexpected:
        raise unexpected[0]
    ok, failed, warm_ok, warm_failed = (sum(c[k] for c in counts) for k in range(4))
    return WorkerOutcome(ok, failed, seconds, ok + warm_ok, failed + warm_failed)
