"""The `ledger` command: migrate, rebuild, demo."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from ledger import db
from ledger.client import Ledger
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


def _demo(args: argparse.Namespace) -> int:
    with _open(args) as led:
        run_demo(led, print)
    return 0


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
    commands.add_parser("demo", help="run a scripted demonstration").set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
