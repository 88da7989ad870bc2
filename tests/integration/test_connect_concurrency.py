"""Eight workers race payouts, refunds, transfers and reversals on one platform and its seller.

Each request is sent twice at once with one idempotency key. Afterwards: every balance equals
what the successful requests add up to (no lost update), each key took effect once (nothing paid
twice), no payout ever took more than was available at its time, and the audit is clean.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from ledger import Ledger
from ledger.errors import LedgerError
from tests.support.accounts import verified_account
from tests.support.connect import available, fund_platform

WORKERS = 8
OPERATIONS = 96
SEED = 20261123


@dataclass
class Tally:
    """What the successful requests moved, by kind; and each key's distinct responses."""

    moved: Counter[str] = field(default_factory=Counter)
    responses: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, key: str, object_id: str, amount: int) -> None:
        with self.lock:
            first = key not in self.responses
            self.responses.setdefault(key, set()).add(object_id)
            if first:
                self.moved[kind] += amount


@pytest.mark.timeout(600)
def test_racing_money_out_never_overdraws_loses_or_pays_twice(led: Ledger) -> None:
    rng = random.Random(SEED)
    led.accounts.external_accounts.create(
        led.platform_account_id, external_account="btok_us_verified"
    )
    seller = verified_account(led)
    led.accounts.external_accounts.create(seller, external_account="btok_us_verified")
    charges = []
    start = 0
    for _ in range(4):
        net = fund_platform(led, amount=20_000)
        start += net
        charges.append(led.charges.list(limit=1).data[0].id)
    # Reversals race on these; new transfers race beside them.
    transfers = [
        led.transfers.create(amount=4000, currency="usd", destination=seller).id for _ in range(3)
    ]
    start_platform = available(led)
    start_seller = available(led, stripe_account=seller)
    assert (start_platform, start_seller) == (start - 12_000, 12_000)

    tally = Tally()

    # Each step is (key, operation, amount, target): both sends of a key ask the same thing.
    def payout(key: str, amount: int, _: int) -> tuple[str, str, int]:
        return (
            "payout",
            led.payouts.create(amount=amount, currency="usd", idempotency_key=key).id,
            amount,
        )

    def seller_payout(key: str, amount: int, _: int) -> tuple[str, str, int]:
        made = led.payouts.create(
            amount=amount, currency="usd", idempotency_key=key, stripe_account=seller
        )
        return "seller_payout", made.id, amount

    def refund(key: str, amount: int, target: int) -> tuple[str, str, int]:
        charge = charges[target % len(charges)]
        made = led.refunds.create(charge=charge, amount=amount, idempotency_key=key)
        return "refund", made.id, amount

    def transfer(key: str, amount: int, _: int) -> tuple[str, str, int]:
        made = led.transfers.create(
            amount=amount, currency="usd", destination=seller, idempotency_key=key
        )
        return "transfer", made.id, amount

    def reversal(key: str, amount: int, target: int) -> tuple[str, str, int]:
        transfer_id = transfers[target % len(transfers)]
        made = led.transfers.create_reversal(transfer_id, amount=amount, idempotency_key=key)
        return "reversal", made.id, amount

    kinds: list[Callable[[str, int, int], tuple[str, str, int]]] = [
        payout,
        seller_payout,
        refund,
        transfer,
        reversal,
    ]
    plan = [
        (f"race-{n}", rng.choice(kinds), rng.randint(100, 4000), rng.randrange(12))
        for n in range(OPERATIONS)
    ]
    refused: Counter[str] = Counter()

    def run(step: tuple[str, Callable[[str, int, int], tuple[str, str, int]], int, int]) -> None:
        key, operation, amount, target = step
        try:
            kind, object_id, moved = operation(key, amount, target)
        except LedgerError as error:
            assert error.code in (
                "balance_insufficient",
                "amount_too_large",
                "charge_already_refunded",
                None,
            ), error
            refused[error.code or "other"] += 1
            return
        tally.record(kind, key, object_id, moved)

    twice = [step for step in plan for _ in range(2)]  # every request sent twice, one key
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(run, twice))

    # Nothing paid twice: both sends of a key got the same object.
    assert all(len(ids) == 1 for ids in tally.responses.values()), tally.responses
    platform_payouts = {key for key, operation, _, _ in plan if operation is payout}
    made = {next(iter(ids)) for key, ids in tally.responses.items() if key in platform_payouts}
    assert {p.id for p in led.payouts.list(limit=100).auto_paging_iter()} == made
    moved = tally.moved
    assert all(
        moved[kind] for kind in ("payout", "seller_payout", "refund", "transfer", "reversal")
    ), (moved, refused)

    # No lost update: the balances are exactly what the successful requests add up to.
    assert available(led) == (
        start_platform - moved["payout"] - moved["refund"] - moved["transfer"] + moved["reversal"]
    )
    assert available(led, stripe_account=seller) == (
        start_seller + moved["transfer"] - moved["reversal"] - moved["seller_payout"]
    )
    assert available(led, stripe_account=seller) >= 0
    for transfer_id in transfers:
        found = led.transfers.retrieve(transfer_id)
        reversed_total = sum(
            r.amount for r in led.transfers.list_reversals(transfer_id).auto_paging_iter()
        )
        assert found.amount_reversed == reversed_total <= found.amount

    report = led.audit()
    assert report.ok, report.discrepancies
    assert "payouts_within_available" in report.checks
