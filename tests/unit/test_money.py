"""Currencies, Stripe's charge limits, fee rounding and fund availability (`ledger.money`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from ledger import money
from ledger.errors import InvalidRequestError
from ledger.money import (
    AMOUNT_MAX,
    CURRENCIES,
    DEFAULT_PRICING,
    Pricing,
    available_on,
    check_charge_amount,
    currency,
    format_amount,
    from_usd_cents,
    round_half_up,
)

USD = CURRENCIES["usd"]
EUR = CURRENCIES["eur"]
GBP = CURRENCIES["gbp"]
JPY = CURRENCIES["jpy"]
KWD = CURRENCIES["kwd"]


def rejected(fn: Any, *args: Any, **kwargs: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        fn(*args, **kwargs)
    assert info.value.http_status == 400
    return info.value


# --- the currency table ------------------------------------------------------------------------

ZERO_DECIMAL = [
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
]
THREE_DECIMAL = ["bhd", "jod", "kwd", "omr", "tnd"]

# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts
DOCUMENTED_MINIMUMS = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}


def test_every_card_presentment_currency_is_listed() -> None:
    # Stripe's 134 card presentment currencies plus the five three-decimal ones.
    assert len(CURRENCIES) == 139
    for code, found in CURRENCIES.items():
        assert code == found.code
        assert len(code) == 3 and code.isalpha() and code.islower()
    for code in ("usd", "eur", "gbp", "jpy", "krw", "isk", "sle", "std", "inr", "brl"):
        assert code in CURRENCIES
    for retired in ("hrk", "sll", "mro", "eek", "ltl", "lvl", "vef", "svc", "usdc"):
        assert retired not in CURRENCIES


def test_exponents() -> None:
    assert USD.exponent == 2
    assert JPY.exponent == 0
    assert KWD.exponent == 3
    assert CURRENCIES["isk"].exponent == 2  # two-decimal in the API, whole krónur only
    assert CURRENCIES["huf"].exponent == 2
    for code, found in CURRENCIES.items():
        expected = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
        assert found.exponent == expected, code
        assert found.minor_units_per_major == {0: 1, 2: 100, 3: 1000}[expected]


@pytest.mark.parametrize(("code", "minimum"), sorted(DOCUMENTED_MINIMUMS.items()))
def test_documented_minimums(code: str, minimum: int) -> None:
    assert CURRENCIES[code].minimum_charge_amount == minimum
    assert CURRENCIES[code].minimum_documented


def test_undocumented_minimums_are_at_least_fifty_us_cents() -> None:
    undocumented = [c for c in CURRENCIES.values() if c.code not in DOCUMENTED_MINIMUMS]
    assert len(undocumented) == len(CURRENCIES) - len(DOCUMENTED_MINIMUMS)
    for found in undocumented:
        assert not found.minimum_documented
        in_usd = Fraction(found.minimum_charge_amount, found.minor_units_per_major)
        in_usd /= found.units_per_usd
        assert in_usd >= Fraction(55, 100), found.code  # 0.50 USD plus the 10% margin
        assert in_usd < Fraction(66, 100), found.code  # ...rounded up, not inflated


def test_three_decimal_minimums_end_in_zero() -> None:
    for code in THREE_DECIMAL:
        assert CURRENCIES[code].minimum_charge_amount % 10 == 0


# --- currency() --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["usd", "USD", "Usd"])
def test_currency_is_case_insensitive(code: str) -> None:
    assert currency(code) is USD


def test_unknown_currency_is_stripes_error() -> None:
    error = rejected(currency, "XYZ")
    assert error.code is None
    assert error.param == "currency"
    assert error.message.startswith(
        "Invalid currency: xyz. Stripe currently supports these currencies: usd, aed, afn, all, "
    )
    assert error.message.endswith(", zmw, usdc, btn, ghs, eek, lvl, svc, vef, ltl, sll, mro")
    listed = error.message.split(": ", 2)[2].split(", ")
    assert set(CURRENCIES) <= set(listed)
    assert error.to_dict() == {
        "error": {"type": "invalid_request_error", "message": error.message, "param": "currency"}
    }


def test_unknown_currency_names_the_param_given() -> None:
    assert rejected(currency, "abc", param="currency_options[abc]").param == "currency_options[abc]"


# --- format_amount -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        (50, "usd", "$0.50"),
        (99_999_999, "usd", "$999,999.99"),
        (5, "usd", "$0.05"),
        (50, "eur", "€0.50"),
        (30, "gbp", "£0.30"),
        (50, "jpy", "¥50"),
        (99_999_999, "jpy", "¥99,999,999"),
        (170, "kwd", "0.170"),
        (1_234_500, "kwd", "1,234.500"),
        (1000, "mxn", "$10.00"),
        (3800, "afn", "38.00"),
        (-250, "usd", "-$2.50"),
    ],
)
def test_format_amount(amount: int, code: str, text: str) -> None:
    assert format_amount(amount, CURRENCIES[code]) == text


# --- check_charge_amount -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "minimum", "message"),
    [
        ("usd", 50, "Amount must be at least $0.50 usd"),
        ("eur", 50, "Amount must be at least €0.50 eur"),
        ("gbp", 30, "Amount must be at least £0.30 gbp"),
        ("jpy", 50, "Amount must be at least ¥50 jpy"),
        ("cad", 50, "Amount must be at least $0.50 cad"),
        ("mxn", 1000, "Amount must be at least $10.00 mxn"),
        ("kwd", 170, "Amount must be at least 0.170 kwd"),
    ],
)
def test_minimum_charge_amount(code: str, minimum: int, message: str) -> None:
    found = CURRENCIES[code]
    check_charge_amount(minimum, found)
    error = rejected(check_charge_amount, minimum - 1, found)
    assert error.code == "amount_too_small"
    assert error.param == "amount"
    assert error.message == message


def test_usd_fifty_cents_is_accepted_and_forty_nine_refused() -> None:
    check_charge_amount(50, USD)
    assert rejected(check_charge_amount, 49, USD).message == "Amount must be at least $0.50 usd"


def test_maximum_charge_amount() -> None:
    assert AMOUNT_MAX == 99_999_999
    check_charge_amount(AMOUNT_MAX, USD)
    check_charge_amount(AMOUNT_MAX, JPY)
    error = rejected(check_charge_amount, AMOUNT_MAX + 1, USD)
    assert error.code == "amount_too_large"
    assert error.param == "amount"
    assert error.message == "Amount must be no more than $999,999.99"
    assert rejected(check_charge_amount, AMOUNT_MAX + 1, JPY).code == "amount_too_large"


def test_amount_errors_name_the_param_given() -> None:
    assert rejected(check_charge_amount, 1, USD, param="amount_capturable").param == (
        "amount_capturable"
    )


def test_isk_amounts_must_be_whole_kronur() -> None:
    isk = CURRENCIES["isk"]
    check_charge_amount(isk.minimum_charge_amount, isk)
    check_charge_amount(isk.minimum_charge_amount + 100, isk)
    error = rejected(check_charge_amount, isk.minimum_charge_amount + 50, isk)
    assert error.code == "invalid_charge_amount_no_decimal_compatible"
    assert error.param == "amount"
    assert error.message == (
        "Invalid amount. Currency ISK has become effectively zero-decimal and charged amounts "
        "must be evenly divisible by 100. See https://stripe.com/docs/currencies#special-cases "
        "for more information."
    )


@pytest.mark.parametrize("amount", [0, -50, True, Decimal(100)])
def test_malformed_amounts_are_our_bug(amount: Any) -> None:
    with pytest.raises(AssertionError):
        check_charge_amount(amount, USD)


# --- round_half_up -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [
        (0, 7, 0),
        (14, 10, 1),
        (15, 10, 2),  # 1.5 -> 2
        (25, 10, 3),  # 2.5 -> 3, not banker's 2
        (144, 10, 14),
        (145, 10, 15),
        (149, 10, 15),
        (14_500, 10_000, 1),  # 1.45 -> 1
        (145_000, 10_000, 15),  # 14.5 -> 15
        (10, 1, 10),
    ],
)
def test_round_half_up(numerator: int, denominator: int, rounded: int) -> None:
    assert round_half_up(numerator, denominator) == rounded


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 2), (1, 0), (1, -2)])
def test_round_half_up_refuses_negatives_and_zero(numerator: int, denominator: int) -> None:
    with pytest.raises(AssertionError):
        round_half_up(numerator, denominator)


# --- fees --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (1000, 59),  # 29 + 30
        (2000, 88),  # 58 + 30
        (1017, 59),  # 29.493 -> 29, + 30
        (50, 31),  # 1.45 -> 1, + 30
        (150, 34),  # 4.35 -> 4, + 30
        (500, 45),  # 14.5 exactly -> 15, + 30
        (1500, 74),  # 43.5 exactly -> 44, + 30
        (10_000, 320),  # $100.00 -> $3.20
        (99_999_999, 2_900_030),  # 2,899,999.971 -> 2,900,000, + 30
        (0, 30),
    ],
)
def test_us_card_fee_is_rounded_half_up(amount: int, fee: int) -> None:
    assert DEFAULT_PRICING.card_fee(amount, USD) == fee


def test_fee_details_are_stripes_fee_objects() -> None:
    assert DEFAULT_PRICING.fee_details(1000, USD) == [
        {
            "amount": 59,
            "application": None,
            "currency": "usd",
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }
    ]


def test_default_pricing() -> None:
    assert DEFAULT_PRICING.card_percent_bps == 290
    assert DEFAULT_PRICING.available_delay_business_days == 2
    assert DEFAULT_PRICING.card_fixed_fee(USD) == 30
    assert DEFAULT_PRICING.card_fixed_fee(EUR) == 25
    assert DEFAULT_PRICING.card_fixed_fee(GBP) == 20
    assert DEFAULT_PRICING.card_fixed_fee(JPY) == 0
    assert DEFAULT_PRICING.dispute_fee(USD) == 1500
    assert DEFAULT_PRICING.dispute_fee(EUR) == 2000


def test_fees_stripe_does_not_state_are_converted_from_usd() -> None:
    krw = CURRENCIES["krw"]
    assert "krw" not in DEFAULT_PRICING.card_fixed_amount
    assert DEFAULT_PRICING.card_fixed_fee(krw) == from_usd_cents(30, krw) == 419  # 0.30 * 1395
    assert DEFAULT_PRICING.dispute_fee(krw) == from_usd_cents(1500, krw) == 20925
    assert DEFAULT_PRICING.card_fixed_fee(KWD) == from_usd_cents(30, KWD) == 92  # 92.1 fils
    assert from_usd_cents(0, krw) == 0


def test_pricing_is_configurable() -> None:
    pricing = Pricing(card_percent_bps=150, card_fixed_amount={"usd": 0}, dispute_fee_amount={})
    assert pricing.card_fee(1000, USD) == 15
    assert pricing.card_fee(1010, USD) == 15  # 15.15
    assert pricing.card_fee(1034, USD) == 16  # 15.51
    assert pricing.dispute_fee(USD) == 1500  # nothing configured: $15.00
    assert pricing.fee_details(1000, USD)[0]["amount"] == 15


def test_money_module_never_converts_to_binary_fractions() -> None:
    source = Path(money.__file__).read_text(encoding="utf-8")
    assert "flo" + "at(" not in source


# --- available_on ------------------------------------------------------------------------------


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def unix(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * 86_400


@pytest.mark.parametrize(
    ("created", "available"),
    [
        (utc(2024, 11, 18, 9, 30), dt.date(2024, 11, 20)),  # Monday -> Wednesday
        (utc(2024, 11, 20, 23, 59, 59), dt.date(2024, 11, 22)),  # Wednesday -> Friday
        (utc(2024, 11, 21, 0, 0), dt.date(2024, 11, 25)),  # Thursday -> Monday
        (utc(2024, 11, 22, 15, 0), dt.date(2024, 11, 26)),  # Friday -> Tuesday
        (utc(2024, 11, 23, 12, 0), dt.date(2024, 11, 26)),  # Saturday -> Tuesday
        (utc(2024, 11, 24, 12, 0), dt.date(2024, 11, 26)),  # Sunday -> Tuesday
        (utc(2024, 12, 31, 8, 0), dt.date(2025, 1, 2)),  # across the year (no holidays)
    ],
)
def test_available_on_skips_weekends(created: dt.datetime, available: dt.date) -> None:
    assert available_on(created, 2) == unix(available)


def test_available_on_counts_from_the_utc_day() -> None:
    # Friday 23:30 in New York is Saturday 04:30 UTC: Saturday's rule applies.
    new_york = dt.timezone(dt.timedelta(hours=-5))
    created = dt.datetime(2024, 11, 22, 23, 30, tzinfo=new_york)
    assert available_on(created, 2) == unix(dt.date(2024, 11, 26))


def test_available_on_other_delays() -> None:
    friday = utc(2024, 11, 22, 15, 0)
    assert available_on(friday, 0) == unix(dt.date(2024, 11, 22))  # start of the same day
    assert available_on(friday, 1) == unix(dt.date(2024, 11, 25))
    assert available_on(friday, 5) == unix(dt.date(2024, 11, 29))
    assert available_on(friday, 7) == unix(dt.date(2024, 12, 3))
    result = available_on(friday, 2)
    assert type(result) is int and result % 86_400 == 0


def test_available_on_needs_an_aware_datetime() -> None:
    with pytest.raises(AssertionError):
        available_on(dt.datetime(2024, 11, 22, 15, 0), 2)
    with pytest.raises(AssertionError):
        available_on(utc(2024, 11, 22), -1)
