"""`ledger serve` against localstripe, through the official Stripe SDK, side by side.

    python -m benchmarks.http_flow [--flows 100] [--runs 3]

Both servers run on 127.0.0.1 in child processes: `ledger serve` on a fresh database of its own
(durable: every flow is committed to PostgreSQL), localstripe in memory. One flow is what a
checkout does: create a customer, create a card PaymentMethod, create and confirm a
PaymentIntent, refund part of it. Runs alternate between the two servers so both see the same
machine load; the figures are medians.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import stripe

from ledger import db

_START_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def _process(command: list[str], port: int) -> Iterator[None]:
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
        yield
    finally:
        child.terminate()
        child.wait(timeout=30)


@contextmanager
def _database() -> Iterator[str]:
    server = db.resolve_url(None)
    name = f"ledger_http_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = server.partition("?")
    base, _, _ = head.rpartition("/")
    query = server[len(head) :]
    try:
        yield f"{base}/{name}{query}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _flow(client: stripe.StripeClient) -> Callable[[], None]:
    def run() -> None:
        customer = client.customers.create(params={"email": "a@example.com"})
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        method = client.payment_methods.create(params={"type": "card", "card": card})
        intent = client.payment_intents.create(
            params={
                "amount": 2000,
                "currency": "usd",
                "customer": customer.id,
                "payment_method": method.id,
                "payment_method_types": ["card"],
                "confirm": True,
            }
        )
        assert intent.status == "succeeded", intent.status
        charge = intent.get("latest_charge") or intent["charges"]["data"][0]["id"]
        charge_id = charge if isinstance(charge, str) else charge.id
        client.refunds.create(params={"charge": charge_id, "amount": 500})

    return run


def _rate(run: Callable[[], None], flows: int) -> float:
    started = time.perf_counter()
    for _ in range(flows):
        run()
    return flows / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_flow")
    parser.add_argument("--flows", type=int, default=100, help="flows per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per server")
    args = parser.parse_args()
    ours_port, theirs_port = _free_port(), _free_port()
    key = "sk_test_" + secrets.token_hex(12)
    ledger_cmd = [
        sys.executable,
        "-m",
        "ledger",
        "--database-url",
        "{url}",
        "serve",
        "--port",
        str(ours_port),
        "--api-key",
        key,
    ]
    with (
        _database() as url,
        _process([part.replace("{url}", url) for part in ledger_cmd], ours_port),
        _process(
            [
                os.path.join(os.path.dirname(sys.executable), "localstripe"),
                "--port",
                str(theirs_port),
            ],
            theirs_port,
        ),
    ):
        ours = _flow(
            stripe.StripeClient(key, base_addresses={"api": f"http://127.0.0.1:{ours_port}"})
        )
        theirs = _flow(
            stripe.StripeClient(
                "sk_test_x", base_addresses={"api": f"http://127.0.0.1:{theirs_port}"}
            )
        )
        ours(), theirs()  # warm up both
        rates: dict[str, list[float]] = {"ledger serve": [], "localstripe": []}
        for _ in range(args.runs):
            rates["ledger serve"].append(_rate(ours, args.flows))
            rates["localstripe"].append(_rate(theirs, args.flows))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name:<13} {medians[name]:7.1f} flows/s (runs: {runs})")
    ratio = medians["ledger serve"] / medians["localstripe"]
    print(f"ratio ledger serve / localstripe: {ratio:.2f}x (target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
