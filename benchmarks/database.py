"""The server the benchmarks run on, fresh databases on it, and what machine this is."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ledger import db

__all__ = [
    "Machine",
    "Server",
    "conninfo",
    "machine",
    "open_server",
    "with_database",
]

DATABASE_PREFIX = "ledger_bench_"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (libpq URL, query such as ?host= kept)."""
    parts = urlsplit(db.to_libpq_url(url))
    return urlunsplit(parts._replace(path="/" + name))


def conninfo(url: str) -> dict[str, Any]:
    """The libpq parameters of `url` (host may be a socket directory)."""
    return dict(conninfo_to_dict(db.to_libpq_url(url)))


@dataclass
class Server:
    """A PostgreSQL server on which fresh databases are created and dropped."""

    url: str
    embedded: bool
    created: list[str]

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def create_database(
        self, label: str, *, migrate: bool = True, template: str | None = None
    ) -> str:
        """A new database (migrated to the ledger's schema unless told not to); its URL."""
        name = f"{DATABASE_PREFIX}{label}_{secrets.token_hex(3)}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)
        url = with_database(self.url, name)
        if migrate:
            db.migrate(url)
        return url

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop_database(with_database(self.url, name))

    def version(self) -> str:
        with self.admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def settings(self) -> dict[str, str]:
        """The server settings that move the write figures most."""
        names = ("fsync", "synchronous_commit", "shared_buffers", "max_connections")
        with self.admin() as conn:
            rows = conn.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(names),)
            ).fetchall()
        return {name: f"{setting}{unit or ''}" for name, setting, unit in rows}


@contextmanager
def open_server(url: str | None = None) -> Iterator[Server]:
    """`url`, else `$DATABASE_URL`, else a private embedded PostgreSQL in a temporary home.

    Every database created through the server is dropped on exit.
    """
    chosen = url or os.environ.get("DATABASE_URL")
    home: Path | None = None
    if chosen:
        server = Server(db.to_libpq_url(chosen), embedded=False, created=[])
    else:
        home = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        server = Server(db.embedded_url(home), embedded=True, created=[])
    try:
        yield server
    finally:
        try:
            server.drop_all()
        finally:
            if home is not None:
                _stop_embedded(home)
                shutil.rmtree(home, ignore_errors=True)


def _stop_embedded(home: Path) -> None:
    try:
        import pgserver

        pgserver.get_server(home / "pgdata").cleanup()  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - best effort: the server also stops at exit
        pass


@dataclass(frozen=True, slots=True)
class Machine:
    """What the figures were measured on."""

    cpus: int
    memory: str
    cpu_model: str
    postgres: str
    python: str
    server: str

    def describe(self) -> str:
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), {self.memory} RAM, PostgreSQL {self.postgres}"
            f" ({self.server}), Python {self.python}"
        )


def machine(server: Server) -> Machine:
    """nproc, memory, CPU model, PostgreSQL and Python versions."""
    return Machine(
        cpus=os.cpu_count() or 0,
        memory=_memory_total(),
        cpu_model=_cpu_model(),
        postgres=server.version(),
        python=platform.python_version(),
        server="embedded pgserver" if server.embedded else "DATABASE_URL",
    )


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"
