"""The `ledger` command: migrate, rebuild, audit, demo, serve."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from ledger import db
from ledger.client import Ledger
from ledger.clock import FrozenClock
from ledger.demo import run_demo

__all__ = ["main"]


def _open(args: argparse.Namespace) -> Ledger:
    return Ledger.open(args.database_url)


def _migrate(args: argparse.Namespace) -> int:
    url = db.resolve_url(args.database_url)
    db.migrate(url)
    print(f"migrated {_redacted(url)} to head")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    with _open(args) as led:
        started = time.perf_counter()
        report = led.rebuild()
        seconds = time.perf_counter() - started
    print(f"rebuilt every projection from {report.events_replayed} events in {seconds:.2f} s")
    return 0


def _audit(args: argparse.Namespace) -> int:
    bar = _ProgressBar(sys.stderr)
    with _open(args) as led:
        started = time.perf_counter()
        report = led.audit(progress=bar.update)
        seconds = time.perf_counter() - started
    bar.close()
    rate = report.events_replayed / seconds if seconds else 0
    print(f"replayed {report.events_replayed} events in {seconds:.2f} s ({rate:,.0f} events/s)")
    print(f"checked: {', '.join(report.checks)}")
    for finding in report.discrepancies:
        where = " ".join(filter(None, (finding.account_id, finding.object_id)))
        print(f"DISCREPANCY {finding.check}: {finding.detail}" + (f" [{where}]" if where else ""))
    print("audit ok" if report.ok else f"audit FAILED: {len(report.discrepancies)} discrepancies")
    return 0 if report.ok else 1


class _ProgressBar:
    """A one-line progress bar on a terminal, for logs long enough to need one."""

    _WIDTH = 40
    _SHOWN_FROM_EVENTS = 50_000

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False

    def update(self, done: int, total: int) -> None:
        if total < self._SHOWN_FROM_EVENTS or not self._stream.isatty():
            return
        filled = self._WIDTH * done // max(total, 1)
        self._stream.write(f"\r[{'#' * filled}{'.' * (self._WIDTH - filled)}] {done}/{total}")
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._stream.write("\n")


def _demo(args: argparse.Namespace) -> int:
    # The demo moves time forward, so it runs on a clock of its own that starts now.
    with Ledger.open(args.database_url, clock=FrozenClock(datetime.now(UTC))) as led:
        run_demo(led, print)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ledger.server import serve  # the HTTP stack is loaded only to serve

    return serve(args.database_url, host=args.host, port=args.port, api_keys=args.api_key)


def _redacted(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="An event-sourced payments ledger with Stripe's API, on PostgreSQL.",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server under "
        "$LEDGER_HOME or ./.ledger)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=_migrate)
    commands.add_parser("rebuild", help="rebuild every projection from the log").set_defaults(
        run=_rebuild
    )
    commands.add_parser(
        "audit", help="replay the log, compare with the projections, check invariants"
    ).set_defaults(run=_audit)
    commands.add_parser("demo", help="run a scripted demonstration").set_defaults(run=_demo)
    serve = commands.add_parser("serve", help="serve Stripe's HTTP API for the Stripe SDKs")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=12111, help="port to listen on (12111)")
    serve.add_argument(
        "--database-url", default=argparse.SUPPRESS, help="as the global --database-url"
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="a secret key clients must send (repeatable; default: $LEDGER_API_KEYS, "
        "comma-separated, else one generated and printed)",
    )
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
