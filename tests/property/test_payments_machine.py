"""Random money flows against the engine and an independent reference model.

After every step: the engine's balance equals the model's, every posting sums to zero, and a
rebuild of every projection from the log equals the live projections. The steps cover payments
with each kind of test card and capture method, captures (partial too), cancellations, partial
refunds, dispute outcomes, time passing (funds becoming available, authorizations expiring) and
requests retried with the same idempotency key. With Connect: connected sellers, transfers
from the available balance and from a charge's funds, reversals of both, and payouts (and their
cancellation) on the platform and the sellers; every seller's balance is checked against its own
model too, and the in-transit accounts against zero.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import CardError, FrozenClock, InvalidRequestError, Ledger
from ledger.projections.registry import projection_tables
from ledger.testing import ReferenceModel
from tests.conftest import _admin, with_database
from tests.support.connect import connected_account

STEPS_MIN = 2000  # the bound: at least this many steps per CI run
EXAMPLES = 60
STEPS_PER_EXAMPLE = 50
START = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
KEY_LIFETIME = timedelta(hours=24)

# Test cards by what they do to money.
PLAIN_CARDS = ("pm_card_visa", "pm_card_mastercard", "pm_card_amex")
DECLINED_CARDS = (
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedExpiredCard",
)
BYPASS_PENDING_CARD = "pm_card_bypassPending"
DISPUTE_CARD = "pm_card_createDispute"
CARDS = (*PLAIN_CARDS, *DECLINED_CARDS, BYPASS_PENDING_CARD, DISPUTE_CARD)
SELLERS_MAX = 2


@dataclass
class Payment:
    """What the test knows of one PaymentIntent it made."""

    intent_id: str
    amount: int
    card: str
    captured: int = 0
    refunded: int = 0
    transferred: int = 0
    available_on: int = 0  # when the captured funds become available
    dispute_id: str | None = None
    dispute_settled: bool = False


@dataclass
class Payout:
    """What the test knows of one payout it made."""

    payout_id: str
    account: str | None  # None: the platform
    amount: int
    canceled: bool = False


@dataclass
class Transfer:
    """What the test knows of one transfer it made."""

    transfer_id: str
    seller: str
    amount: int
    available_on: int
    reversed: int = 0


class Counter:
    steps = 0


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: conn.execute(f"SELECT t::text FROM {table} t ORDER BY 1").fetchall()
        for table in projection_tables()
    }


class PaymentsMachine(RuleBasedStateMachine):
    def __init__(self, new_database: Callable[[], str]) -> None:
        super().__init__()
        self.url = new_database()
        self.clock = FrozenClock(START)
        self.led = Ledger.open(self.url, clock=self.clock, migrate=False, pool_size=2)
        self.conn = psycopg.connect(self.url, autocommit=True)
        self.model = ReferenceModel()
        self.payments: list[Payment] = []
        self.sellers: dict[str, ReferenceModel] = {}
        self.transfers: list[Transfer] = []
        self.payouts: list[Payout] = []
        # (when, params, response) of requests made with an idempotency key
        self.requests: list[tuple[datetime, dict[str, Any], dict[str, Any]]] = []

    def teardown(self) -> None:
        self.conn.close()
        self.led.close()

    # -- helpers -----------------------------------------------------------------------------

    def _event_count(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def _intent(self, payment: Payment) -> Any:
        return self.led.payment_intents.retrieve(payment.intent_id, expand=["latest_charge"])

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def _book_capture(self, payment: Payment, amount: int) -> None:
        payment.captured = amount
        bypass = payment.card == BYPASS_PENDING_CARD
        payment.available_on = self._now() if bypass else self.model.available_on(self.clock.now())
        self.model.captured(amount, "usd", self.clock.now(), bypass_pending=bypass)
        if payment.card == DISPUTE_CARD:
            # Stripe opens the test dispute just after the payment: the ledger's due work.
            self.led.run_due()
            disputes = self.led.disputes.list(payment_intent=payment.intent_id).data
            assert len(disputes) == 1, "a dispute card's payment is disputed once captured"
            payment.dispute_id = disputes[0].id
            self.model.dispute_opened(disputes[0].amount, "usd")

    # -- steps -------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        Counter.steps += 1
        # Payouts need a bank account; the platform's payout schedule is manual.
        self.led.accounts.external_accounts.create(
            self.led.platform_account_id, external_account="btok_us_verified"
        )

    @rule(
        amount=st.integers(min_value=50, max_value=500_000),
        card=st.sampled_from(CARDS),
        capture_method=st.sampled_from(["automatic", "automatic_async", "manual"]),
        with_key=st.booleans(),
    )
    def pay(self, amount: int, card: str, capture_method: str, with_key: bool) -> None:
        Counter.steps += 1
        params: dict[str, Any] = {
            "amount": amount,
            "currency": "usd",
            "payment_method": card,
            "payment_method_types": ["card"],
            "confirm": True,
            "capture_method": capture_method,
        }
        if with_key:
            params["idempotency_key"] = secrets.token_hex(8)
        try:
            intent = self.led.payment_intents.create(**params)
        except CardError as error:
            assert card in DECLINED_CARDS, f"{card} was declined: {error}"
            assert error.payment_intent is not None
            assert error.payment_intent["status"] == "requires_payment_method"
            return
        assert card not in DECLINED_CARDS
        payment = Payment(intent.id, amount, card)
        self.payments.append(payment)
        if capture_method == "manual":
            assert intent.status == "requires_capture"
            assert intent.amount_capturable == amount
        else:
            assert intent.status == "succeeded"
            assert intent.amount_received == amount
            self._book_capture(payment, amount)
        if with_key:
            self.requests.append((self.clock.now(), params, intent.to_dict()))

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def capture(self, data: st.DataObject, share: int) -> None:
        Counter.steps += 1
        payment = data.draw(st.sampled_from(self.payments))
        amount = max(1, payment.amount * share // 100)
        status = self._intent(payment).status
        if status != "requires_capture":
            with pytest.raises(InvalidRequestError) as error:
                self.led.payment_intents.capture(payment.intent_id, amount_to_capture=amount)
            assert error.value.code == "payment_intent_unexpected_state"
            return
        intent = self.led.payment_intents.capture(payment.intent_id, amount_to_capture=amount)
        assert intent.status == "succeeded"
        assert intent.amount_received == amount
        self._book_capture(payment, amount)

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        Counter.steps += 1
        payment = data.draw(st.sampled_from(self.payments))
        status = self._intent(payment).status
        if status in ("succeeded", "canceled"):
            with pytest.raises(InvalidRequestError) as error:
                self.led.payment_intents.cancel(payment.intent_id)
            assert error.value.code == "payment_intent_unexpected_state"
            return
        assert self.led.payment_intents.cancel(payment.intent_id).status == "canceled"

    @precondition(lambda self: any(p.captured for p in self.payments))
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def refund(self, data: st.DataObject, share: int) -> None:
        Counter.steps += 1
        payment = data.draw(st.sampled_from([p for p in self.payments if p.captured]))
        refundable = payment.captured - payment.refunded
        amount = max(1, payment.captured * share // 100)
        if payment.dispute_id is not None:
            with pytest.raises(InvalidRequestError) as error:
                self.led.refunds.create(payment_intent=payment.intent_id, amount=amount)
            assert error.value.code == "charge_disputed"
            return
        if refundable == 0 or amount > refundable:
            with pytest.raises(InvalidRequestError) as error:
                self.led.refunds.create(payment_intent=payment.intent_id, amount=amount)
            assert error.value.code in ("charge_already_refunded", "amount_too_large")
            return
        refund = self.led.refunds.create(payment_intent=payment.intent_id, amount=amount)
        assert refund.status == "succeeded"
        payment.refunded += amount
        self.model.refunded(amount, "usd")

    @precondition(lambda self: any(p.dispute_id and not p.dispute_settled for p in self.payments))
    @rule(data=st.data(), win=st.booleans())
    def settle_dispute(self, data: st.DataObject, win: bool) -> None:
        Counter.steps += 1
        payment = data.draw(
            st.sampled_from([p for p in self.payments if p.dispute_id and not p.dispute_settled])
        )
        assert payment.dispute_id is not None
        dispute = self.led.disputes.retrieve(payment.dispute_id)
        if dispute.status not in ("needs_response", "under_review"):
            return  # the deadline passed while time moved on: it was lost
        text = "winning_evidence" if win else "losing_evidence"
        settled = self.led.disputes.update(
            payment.dispute_id, evidence={"uncategorized_text": text}
        )
        assert settled.status == ("won" if win else "lost")
        payment.dispute_settled = True
        if win:
            self.model.dispute_won(settled.amount, "usd")

    @rule(hours=st.integers(min_value=1, max_value=24 * 9))
    def time_passes(self, hours: int) -> None:
        Counter.steps += 1
        self.clock.advance(timedelta(hours=hours))
        self.led.run_due()
        self.model.advance_to(self.clock.now())
        for seller in self.sellers.values():
            seller.advance_to(self.clock.now())
        for payment in self.payments:
            if payment.dispute_id and not payment.dispute_settled:
                dispute = self.led.disputes.retrieve(payment.dispute_id)
                if dispute.status == "lost":  # the response deadline passed
                    payment.dispute_settled = True

    @precondition(lambda self: len(self.sellers) < SELLERS_MAX)
    @rule()
    def connect_seller(self) -> None:
        Counter.steps += 1
        # Manual payouts: automatic ones would move money on their own schedule.
        seller = connected_account(
            self.led, settings={"payouts": {"schedule": {"interval": "manual"}}}
        )
        self.led.accounts.external_accounts.create(seller, external_account="btok_us_verified")
        self.sellers[seller] = ReferenceModel()

    @precondition(lambda self: self.sellers)
    @rule(data=st.data(), amount=st.integers(min_value=1, max_value=200_000))
    def transfer(self, data: st.DataObject, amount: int) -> None:
        Counter.steps += 1
        seller = data.draw(st.sampled_from(sorted(self.sellers)))
        params = {"amount": amount, "currency": "usd", "destination": seller}
        if amount > self.model.available("usd"):
            with pytest.raises(InvalidRequestError) as error:
                self.led.transfers.create(**params)
            assert error.value.code == "balance_insufficient"
            return
        transfer = self.led.transfers.create(**params)
        self._book_transfer(transfer.id, seller, amount, self._now())

    @precondition(lambda self: self.sellers and any(p.captured for p in self.payments))
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=110))
    def transfer_from_charge(self, data: st.DataObject, share: int) -> None:
        Counter.steps += 1
        seller = data.draw(st.sampled_from(sorted(self.sellers)))
        payment = data.draw(st.sampled_from([p for p in self.payments if p.captured]))
        amount = max(1, payment.captured * share // 100)
        charge = self._intent(payment).latest_charge.id
        params = {
            "amount": amount,
            "currency": "usd",
            "destination": seller,
            "source_transaction": charge,
        }
        if amount > payment.captured - payment.refunded - payment.transferred:
            with pytest.raises(InvalidRequestError) as error:
                self.led.transfers.create(**params)
            assert error.value.code == "amount_too_large"
            return
        transfer = self.led.transfers.create(**params)
        payment.transferred += amount
        self._book_transfer(transfer.id, seller, amount, max(self._now(), payment.available_on))

    def _book_transfer(self, transfer_id: str, seller: str, amount: int, funds_on: int) -> None:
        now = self._now()
        self.model.moved(-amount, "usd", available_on=funds_on, now=now)
        self.sellers[seller].moved(amount, "usd", available_on=funds_on, now=now)
        self.transfers.append(Transfer(transfer_id, seller, amount, funds_on))

    @precondition(lambda self: any(t.reversed < t.amount for t in self.transfers))
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def reverse(self, data: st.DataObject, share: int) -> None:
        Counter.steps += 1
        transfer = data.draw(st.sampled_from([t for t in self.transfers if t.reversed < t.amount]))
        amount = max(1, (transfer.amount - transfer.reversed) * share // 100)
        now = self._now()
        seller = self.sellers[transfer.seller]
        pending_transfer = transfer.available_on > now
        if not pending_transfer and amount > seller.available("usd"):
            with pytest.raises(InvalidRequestError) as error:
                self.led.transfers.create_reversal(transfer.transfer_id, amount=amount)
            assert error.value.code == "balance_insufficient"
            return
        reversal = self.led.transfers.create_reversal(transfer.transfer_id, amount=amount)
        assert reversal.amount == amount
        transfer.reversed += amount
        self.model.moved(amount, "usd", available_on=transfer.available_on, now=now)
        seller.moved(-amount, "usd", available_on=transfer.available_on, now=now)

    @rule(data=st.data(), amount=st.integers(min_value=1, max_value=100_000))
    def payout(self, data: st.DataObject, amount: int) -> None:
        Counter.steps += 1
        account = data.draw(st.sampled_from([None, *sorted(self.sellers)]))
        model = self.model if account is None else self.sellers[account]
        scope = {} if account is None else {"stripe_account": account}
        if amount > model.available("usd"):
            with pytest.raises(InvalidRequestError) as error:
                self.led.payouts.create(amount=amount, currency="usd", **scope)
            assert error.value.code == "balance_insufficient"
            return
        payout = self.led.payouts.create(amount=amount, currency="usd", **scope)
        assert payout.status == "pending"
        model.moved(-amount, "usd", available_on=self._now(), now=self._now())
        self.payouts.append(Payout(payout.id, account, amount))

    @precondition(lambda self: any(not p.canceled for p in self.payouts))
    @rule(data=st.data())
    def cancel_payout(self, data: st.DataObject) -> None:
        Counter.steps += 1
        payout = data.draw(st.sampled_from([p for p in self.payouts if not p.canceled]))
        scope = {} if payout.account is None else {"stripe_account": payout.account}
        status = self.led.payouts.retrieve(payout.payout_id, **scope).status
        if status != "pending":
            with pytest.raises(InvalidRequestError):
                self.led.payouts.cancel(payout.payout_id, **scope)
            return
        assert self.led.payouts.cancel(payout.payout_id, **scope).status == "canceled"
        payout.canceled = True
        model = self.model if payout.account is None else self.sellers[payout.account]
        model.moved(payout.amount, "usd", available_on=self._now(), now=self._now())

    def _live_requests(self) -> list[tuple[datetime, dict[str, Any], dict[str, Any]]]:
        """Requests whose idempotency key is still kept (24 hours)."""
        since = self.clock.now() - KEY_LIFETIME
        return [request for request in self.requests if request[0] > since]

    @precondition(lambda self: self._live_requests())
    @rule(data=st.data())
    def retry_same_key(self, data: st.DataObject) -> None:
        Counter.steps += 1
        _, params, response = data.draw(st.sampled_from(self._live_requests()))
        before = self._event_count()
        again = self.led.payment_intents.create(**params)
        assert again.last_response is not None and again.last_response.idempotent_replayed
        assert again.to_dict() == response
        assert self._event_count() == before

    # -- after every step --------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        balance = self.led.balance.retrieve()
        available = {b.currency: b.amount for b in balance.available}
        pending = {b.currency: b.amount for b in balance.pending}
        expected = self.model.expected().get("usd", (0, 0))
        assert (available.get("usd", 0), pending.get("usd", 0)) == expected

    @invariant()
    def seller_balances_match_their_models(self) -> None:
        for seller, model in self.sellers.items():
            balance = self.led.balance.retrieve(stripe_account=seller)
            available = {b.currency: b.amount for b in balance.available}
            pending = {b.currency: b.amount for b in balance.pending}
            expected = model.expected().get("usd", (0, 0))
            assert (available.get("usd", 0), pending.get("usd", 0)) == expected, seller

    @invariant()
    def money_in_transit_arrives(self) -> None:
        unsettled = self.conn.execute(
            "SELECT ledger_account, sum(amount) FROM postings WHERE book = 'connect' "
            "GROUP BY ledger_account HAVING sum(amount) <> 0"
        ).fetchall()
        assert unsettled == []

    @invariant()
    def postings_sum_to_zero(self) -> None:
        unbalanced = self.conn.execute(
            "SELECT position, currency, sum(amount) FROM postings "
            "GROUP BY position, currency HAVING sum(amount) <> 0"
        ).fetchall()
        assert unbalanced == []

    @invariant()
    def rebuild_equals_live(self) -> None:
        live = snapshot(self.conn)
        self.led.rebuild()
        assert snapshot(self.conn) == live


@pytest.fixture
def new_database(server_url: str, template_database: str) -> Iterator[Callable[[], str]]:
    created: list[str] = []

    def make() -> str:
        name = f"ledger_p_{secrets.token_hex(6)}"
        with _admin(server_url) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        created.append(name)
        return with_database(server_url, name)

    yield make
    with _admin(server_url) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_random_money_flows_match_the_model(new_database: Callable[[], str]) -> None:
    Counter.steps = 0
    run_state_machine_as_test(
        lambda: PaymentsMachine(new_database),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS_PER_EXAMPLE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert Counter.steps >= STEPS_MIN, f"only {Counter.steps} steps ran"
