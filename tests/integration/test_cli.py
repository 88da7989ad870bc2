"""The `ledger` command: migrate, rebuild and demo against a real database."""

import re

import pytest

from ledger.cli import main
from tests.conftest import _admin, with_database


def test_migrate_creates_the_schema_on_an_empty_database(server_url: str) -> None:
    name = "ledger_cli_migrate"
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    try:
        assert main(["--database-url", url, "migrate"]) == 0
        assert main(["--database-url", url, "migrate"]) == 0  # idempotent
        with _admin(url) as conn:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
        assert {
            "events",
            "objects",
            "stripe_events",
            "idempotency_keys",
            "projection_checkpoints",
            "ledger_settings",
        } <= tables
    finally:
        with _admin(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_demo_then_rebuild(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", database_url, "demo"]) == 0
    demo = capsys.readouterr().out
    assert "replayed: True" in demo
    assert "idempotency_error" in demo
    assert "email_invalid" in demo
    assert "declined -> card_declined (insufficient_funds)" in demo
    assert "captured $65.00" in demo
    assert "evidence submitted -> won" in demo
    # 2000 + 4599 + 12500 + 990 + 6500 + 5000 in charges, less fees, a refund of 1000;
    # the won dispute gave its amount and fee back.
    assert "balance now: available $294.92, pending $0.00" in demo
    # The marketplace: $100 + $45 destination charges with 10% platform fees, $10 reversed:
    # the seller is paid out all of it, $145 - $14.50 - $10 = $120.50.
    assert "transfers active" in demo
    assert "seller payout" in demo and "$120.50, pending" in demo
    assert re.search(r"five days later po_\w+ is paid", demo)
    assert re.search(r"platform payout po_\w+: this run.s earnings", demo)
    assert re.search(r"audit: replayed \d+ events .*: ok", demo)

    assert main(["--database-url", database_url, "rebuild"]) == 0
    assert "rebuilt every projection from" in capsys.readouterr().out
