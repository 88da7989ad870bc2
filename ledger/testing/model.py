"""A small reference model of an account's Stripe balance under card payments.

Rules it encodes (Stripe's documented behaviour, and the ledger's written choices):
- a captured card payment of A costs fee(A) = A * 2.9% rounded half up, + 30¢; its net is
  pending until 00:00 UTC of its day plus two business days (at once for bypass-pending cards);
- a refund takes its amount from the available balance; Stripe keeps its fee;
- a dispute takes the disputed amount plus the 15.00 dispute fee from the available balance;
  winning it gives both back; losing it keeps both;
- uncaptured authorizations, declines and cancellations move no money;
- money between accounts (transfers and their reversals) and out of them (payouts) moves with
  `moved`: at once into or out of the available balance, or pending until a given time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["ModelBalance", "ReferenceModel"]

_SECONDS_PER_DAY = 86_400
_SATURDAY = 5


@dataclass
class ModelBalance:
    """Available and pending, in minor units, of one currency."""

    available: int = 0
    pending: int = 0


@dataclass
class ReferenceModel:
    """Expected balances of one account, driven by the same steps as the engine."""

    percent_bps: int = 290
    fixed_fee: int = 30
    dispute_fee: int = 1500
    delay_business_days: int = 2
    balances: dict[str, ModelBalance] = field(default_factory=dict)
    # (available_on, currency, net) of funds still pending.
    pending_funds: list[tuple[int, str, int]] = field(default_factory=list)

    def fee(self, amount: int) -> int:
        """Stripe's card fee, computed here without the engine's helpers."""
        scaled = amount * self.percent_bps  # in 1/10000 of the minor unit
        whole, remainder = divmod(scaled, 10_000)
        return whole + (1 if remainder * 2 >= 10_000 else 0) + self.fixed_fee

    def available_on(self, at: datetime) -> int:
        """00:00 UTC of `at`'s day, plus the business-day delay."""
        day = datetime(at.year, at.month, at.day, tzinfo=UTC)
        remaining = self.delay_business_days
        while remaining:
            day += timedelta(days=1)
            if day.weekday() < _SATURDAY:
                remaining -= 1
        return int(day.timestamp())

    def _balance(self, currency: str) -> ModelBalance:
        return self.balances.setdefault(currency, ModelBalance())

    def captured(
        self, amount: int, currency: str, at: datetime, bypass_pending: bool = False
    ) -> None:
        """A card payment of `amount` was captured at `at`."""
        net = amount - self.fee(amount)
        if bypass_pending:
            self._balance(currency).available += net
            return
        self._balance(currency).pending += net
        self.pending_funds.append((self.available_on(at), currency, net))

    def refunded(self, amount: int, currency: str) -> None:
        """`amount` of a captured payment was refunded."""
        self._balance(currency).available -= amount

    def dispute_opened(self, amount: int, currency: str) -> None:
        """A payment of `amount` was disputed."""
        self._balance(currency).available -= amount + self.dispute_fee

    def dispute_won(self, amount: int, currency: str) -> None:
        """A dispute of `amount` was won: the amount and the fee come back."""
        self._balance(currency).available += amount + self.dispute_fee

    def moved(self, amount: int, currency: str, *, available_on: int, now: int) -> None:
        """`amount` (signed) entered the balance: available if `available_on` <= `now`, else
        pending until `available_on`."""
        balance = self._balance(currency)
        if available_on <= now:
            balance.available += amount
            return
        balance.pending += amount
        self.pending_funds.append((available_on, currency, amount))

    def available(self, currency: str) -> int:
        """The available balance in `currency`."""
        return self._balance(currency).available

    def advance_to(self, at: datetime) -> None:
        """Time moved to `at`: pending funds that fell due are available."""
        now = int(at.timestamp())
        still_pending = []
        for available_on, currency, net in self.pending_funds:
            if available_on <= now:
                balance = self._balance(currency)
                balance.pending -= net
                balance.available += net
            else:
                still_pending.append((available_on, currency, net))
        self.pending_funds = still_pending

    def expected(self) -> dict[str, tuple[int, int]]:
        """(available, pending) per currency that has seen any money."""
        return {
            currency: (b.available, b.pending)
            for currency, b in self.balances.items()
            if b.available or b.pending or any(c == currency for _, c, _ in self.pending_funds)
        }
