"""The audit: a clean log passes; each kind of tampering is found; the CLI exits non-zero."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import orjson
import psycopg
import pytest

from ledger import FrozenClock, Ledger
from ledger.cli import main
from ledger.domain.balance_transaction import new_balance_transaction
from ledger.domain.postings import BOOK_BANK, BOOK_CONNECT, PAYOUTS
from ledger.money import DEFAULT_PRICING, available_on, currency
from ledger.services.runner import JSON, RequestContext, UnitOfWork, run_command


def record_balance_transaction(
    led: Ledger, txn_id: str, amount: int, account_id: str | None = None
) -> None:
    """Book a card payment's balance transaction directly, as the payment path does."""
    now = led.clock.now()
    account = account_id or led.platform_account_id

    def command(uow: UnitOfWork) -> JSON:
        uow.append(
            txn_id,
            [
                new_balance_transaction(
                    txn_id=txn_id,
                    account_id=account,
                    type="charge",
                    amount=amount,
                    currency="usd",
                    fee_details=DEFAULT_PRICING.fee_details(amount, currency("usd")),
                    created=int(now.timestamp()),
                    available_on=available_on(now, 2),
                    source=f"ch_{txn_id}",
                )
            ],
        )
        return {}

    run_command(
        led._engine, RequestContext(account, "req_test", None, now), "test", {}, [], command
    )


def workload(led: Ledger, clock: FrozenClock) -> None:
    customer = led.customers.create(email="a@example.com", metadata={"k": "v"})
    led.customers.update(customer.id, name="A", metadata={"k": ""})
    record_balance_transaction(led, "txn_1", 1000)
    record_balance_transaction(led, "txn_2", 2500, account_id="acct_seller1")
    clock.advance(timedelta(days=4))
    led.run_due()
    record_balance_transaction(led, "txn_3", 700)
    led.customers.delete(customer.id)


def test_a_clean_log_passes(led: Ledger, clock: FrozenClock) -> None:
    workload(led, clock)
    report = led.audit()
    assert report.ok, report.discrepancies
    assert report.events_replayed == len(led.read_all(limit=10_000))
    assert "postings_balanced" in report.checks


def test_a_tampered_projection_row_is_found(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    workload(led, clock)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE objects SET data = jsonb_set(data, '{name}', '\"B\"') WHERE object = 'customer'"
        )
    report = led.audit()
    assert not report.ok
    assert {d.check for d in report.discrepancies} == {"replay"}
    assert all(d.detail.startswith("objects:") for d in report.discrepancies)


def test_a_tampered_balance_is_found_twice(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    workload(led, clock)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE balances SET amount = amount + 1 WHERE bucket = 'available' AND amount <> 0"
        )
    checks = {d.check for d in led.audit().discrepancies}
    assert checks == {"replay", "balances_match_transactions"}


def test_unbalanced_postings_are_found(led: Ledger, database_url: str) -> None:
    record_balance_transaction(led, "txn_1", 1000)
    # Write an event past the domain's own assertion, as a bug or a forged row would.
    bad = new_balance_transaction(
        txn_id="txn_bad",
        account_id=led.platform_account_id,
        type="charge",
        amount=500,
        currency="usd",
        fee_details=[],
        created=1_732_104_000,
        available_on=1_732_104_000,
        source="ch_bad",
    ).payload()
    bad["postings"][1]["amount"] = -400
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, "
            "data, metadata, occurred_at) VALUES (%s, 'txn_bad', 1, "
            "'balance_transaction.created', 1, %s::jsonb, '{}'::jsonb, now())",
            (led.platform_account_id, orjson.dumps(bad).decode()),
        )
    led.rebuild()  # the projections now agree with the (bad) log: only the invariant fails
    findings = led.audit().discrepancies
    assert {d.check for d in findings} == {"postings_balanced"}
    assert any(d.object_id == "txn_bad" for d in findings)


def test_audit_reads_one_snapshot_while_commands_run(led: Ledger) -> None:
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            led.customers.create(email=f"w{n}@example.com")
            record_balance_transaction(led, f"txn_w{n}", 100 + n)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reports = [led.audit() for _ in range(5)]
    finally:
        stop.set()
        writer.join()
    assert all(report.ok for report in reports), [r.discrepancies for r in reports]


def test_cli_audit_exit_status(
    led: Ledger, clock: FrozenClock, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workload(led, clock)
    assert main(["--database-url", database_url, "audit"]) == 0
    assert "audit ok" in capsys.readouterr().out
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM postings WHERE leg = 0")
    assert main(["--database-url", database_url, "audit"]) == 1
    out = capsys.readouterr().out
    assert "DISCREPANCY replay: postings" in out
    assert "audit FAILED" in out


def _forge(led: Ledger, database_url: str, txn_id: str, **fields: Any) -> None:
    """Write a balance transaction event past the services, as a bug or a forged row would."""
    params: dict[str, Any] = {
        "txn_id": txn_id,
        "account_id": led.platform_account_id,
        "currency": "usd",
        "fee_details": [],
        "created": 1_732_104_000,
        "available_on": 1_732_104_000,
        "source": None,
    } | fields
    event = new_balance_transaction(**params).payload()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, "
            "data, metadata, occurred_at) VALUES (%s, %s, 1, "
            "'balance_transaction.created', 1, %s::jsonb, '{}'::jsonb, now())",
            (led.platform_account_id, txn_id, orjson.dumps(event).decode()),
        )
    led.rebuild()  # the projections agree with the log: only the invariants can fail


def test_money_that_left_for_another_account_and_never_arrived_is_found(
    led: Ledger, database_url: str
) -> None:
    record_balance_transaction(led, "txn_1", 1000)
    _forge(
        led,
        database_url,
        "txn_half_transfer",
        type="transfer",
        amount=-500,
        counterparty=(BOOK_CONNECT, "tr_forged"),
    )
    findings = led.audit().discrepancies
    assert {d.check for d in findings} == {"in_transit_settled"}
    assert findings[0].object_id == "tr_forged"


def test_a_payout_beyond_the_available_balance_is_found(led: Ledger, database_url: str) -> None:
    record_balance_transaction(led, "txn_1", 1000)
    _forge(
        led,
        database_url,
        "txn_overdrawn",
        type="payout",
        amount=-1500,
        counterparty=(BOOK_BANK, PAYOUTS),
    )
    findings = led.audit().discrepancies
    assert {d.check for d in findings} == {"payouts_within_available"}
    assert findings[0].object_id == "txn_overdrawn"
