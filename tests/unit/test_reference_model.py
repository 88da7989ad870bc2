"""The reference model agrees with hand-computed figures (it is the oracle, so it is checked)."""

from datetime import UTC, datetime

from ledger.testing import ReferenceModel

WEDNESDAY = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
FRIDAY = datetime(2024, 11, 22, 23, 59, tzinfo=UTC)


def test_fee_is_2_9_percent_half_up_plus_30() -> None:
    model = ReferenceModel()
    assert model.fee(1000) == 29 + 30
    assert model.fee(500) == 15 + 30  # 14.5 rounds up
    assert model.fee(499) == 14 + 30  # 14.471
    assert model.fee(50) == 1 + 30  # 1.45


def test_funds_are_pending_two_business_days() -> None:
    model = ReferenceModel()
    assert model.available_on(WEDNESDAY) == int(datetime(2024, 11, 22, tzinfo=UTC).timestamp())
    assert model.available_on(FRIDAY) == int(datetime(2024, 11, 26, tzinfo=UTC).timestamp())


def test_a_day_of_payments() -> None:
    model = ReferenceModel()
    model.captured(1000, "usd", WEDNESDAY)
    model.captured(2000, "usd", WEDNESDAY, bypass_pending=True)
    assert model.expected() == {"usd": (2000 - 88, 941)}
    model.refunded(300, "usd")
    model.dispute_opened(2000, "usd")
    assert model.expected() == {"usd": (1912 - 300 - 3500, 941)}
    model.advance_to(datetime(2024, 11, 22, tzinfo=UTC))
    assert model.expected() == {"usd": (1912 - 300 - 3500 + 941, 0)}
    model.dispute_won(2000, "usd")
    assert model.expected() == {"usd": (1912 - 300 + 941, 0)}
