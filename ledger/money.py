"""Currencies, integer minor units, Stripe's charge limits, card fees and fund availability.

Every amount is an `int` in the currency's minor unit (cents for usd, yen for jpy, fils for kwd).
No inexact binary arithmetic touches money here: conversions use `fractions.Fraction` and end in
`round_half_up`, which works on integers only.

Sources (each table below names the one it comes from):

- Supported currencies, zero- and three-decimal currencies, special cases, minimum and maximum
  charge amounts: https://docs.stripe.com/currencies
  (#presentment-currencies, #zero-decimal, #three-decimal, #special-cases,
  #minimum-and-maximum-charge-amounts).
- ISK amounts must be multiples of 100:
  https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds
- US card pricing (2.9% + 30¢, $15.00 dispute fee): https://stripe.com/pricing
- EEA fixed fees in local currencies and the €20 dispute fee (from 2023-04-10):
  https://support.stripe.com/questions/pricing-updates-for-businesses-based-in-the-european-economic-area-(eea)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

from ledger.domain.rules import reject, reject_if

__all__ = [
    "AMOUNT_MAX",
    "CURRENCIES",
    "DEFAULT_PRICING",
    "Currency",
    "Pricing",
    "available_on",
    "check_charge_amount",
    "currency",
    "format_amount",
    "from_usd_cents",
    "round_half_up",
]

# "The amount value supports up to eight digits (e.g., a value of 99999999 for a USD charge of
# $999,999.99)" -- https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts and the
# `amount` parameter of PaymentIntents/Charges. The limit counts digits of the integer, so it is
# the same number for every currency (¥99,999,999; 99,999.999 KWD). The pages consulted name no
# currency with a different maximum.
AMOUNT_MAX: Final = 99_999_999

# Margin added to 0.50 USD before converting it, for currencies whose minimum Stripe does not
# document: exchange rates move, and a minimum set too low would accept charges Stripe refuses.
_UNDOCUMENTED_MINIMUM_MARGIN: Final = Fraction(11, 10)
_MINIMUM_CHARGE_USD_CENTS: Final = 50
_MINOR_UNITS_PER_MAJOR: Final[Mapping[int, int]] = MappingProxyType({0: 1, 2: 100, 3: 1000})


def round_half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded to the nearest integer, halves rounded up.

    Integers only. Fees and conversions are never negative here, so the sign convention for
    negative halves never arises: a negative numerator is our bug.
    """
    assert type(numerator) is int and type(denominator) is int
    assert numerator >= 0, numerator
    assert denominator > 0, denominator
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency Stripe accepts for card payments, with the rules that bound a charge in it."""

    code: str
    # Digits after the decimal point in API amounts: 0 for zero-decimal currencies, 3 for
    # bhd jod kwd omr tnd, 2 for the rest (isk, huf and twd included: see _AMOUNT_MULTIPLE).
    exponent: int
    # The smallest charge, in minor units.
    minimum_charge_amount: int
    # Approximate units of this currency per 1 USD, late 2024. Used only to derive minimums and
    # fees Stripe does not publish for this currency; never to move money.
    units_per_usd: Fraction
    # True when `minimum_charge_amount` is Stripe's documented figure; False when it is derived
    # from 0.50 USD (see _derived_minimum_charge_amount).
    minimum_documented: bool = False
    # Charged amounts must be a multiple of this (100 for isk).
    amount_multiple: int = 1
    # Prefix used in Stripe's amount messages ("$0.50 usd"); "" prints the bare number.
    symbol: str = ""

    def __post_init__(self) -> None:
        assert self.code == self.code.lower() and len(self.code) == 3, self.code
        assert self.exponent in (0, 2, 3), self.exponent
        assert self.minimum_charge_amount >= 1
        assert self.minimum_charge_amount % self.amount_multiple == 0
        assert self.units_per_usd > 0

    @property
    def minor_units_per_major(self) -> int:
        """100 for usd, 1 for jpy, 1000 for kwd."""
        return _MINOR_UNITS_PER_MAJOR[self.exponent]


def _ceil_two_significant(value: Fraction) -> Fraction:
    """`value` rounded up to two significant figures (0.2068 -> 0.21, 49225 -> 50000)."""
    assert value > 0
    scale = Fraction(1)
    while value / scale >= 100:
        scale *= 10
    while value / scale < 10:
        scale /= 10
    return math.ceil(value / scale) * scale


def _derived_minimum_charge_amount(exponent: int, units_per_usd: Fraction) -> int:
    """0.50 USD in this currency plus 10%, rounded up to two significant figures, in minor units.

    Stripe states the minimum as "$0.50 US or equivalent in charge currency" and lists exact
    figures for a few currencies only. For the others we round the equivalent *up* so that the
    ledger never accepts a charge Stripe would refuse; it may refuse a few that Stripe accepts.
    """
    major = Fraction(_MINIMUM_CHARGE_USD_CENTS, 100) * units_per_usd * _UNDOCUMENTED_MINIMUM_MARGIN
    minor = _ceil_two_significant(major) * _MINOR_UNITS_PER_MAJOR[exponent]
    assert minor.denominator == 1, (exponent, units_per_usd)
    return int(minor)


# Zero-decimal currencies: https://docs.stripe.com/currencies#zero-decimal
_ZERO_DECIMAL: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
# Three-decimal currencies: https://docs.stripe.com/currencies#three-decimal. Stripe also asks
# that their last digit be 0 (5.124 KWD must be sent as 5120 or 5130); the error it returns when
# that is not so is not documented, so the ledger does not enforce it (see README).
_THREE_DECIMAL: Final = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Special cases, https://docs.stripe.com/currencies#special-cases and
# https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds: ISK stays
# two-decimal in the API but charged amounts must be divisible by 100. HUF and TWD are two-decimal
# for charges and zero-decimal only for payouts, which this module does not cover.
_AMOUNT_MULTIPLE: Final[Mapping[str, int]] = MappingProxyType({"isk": 100})

# Symbols in Stripe's amount messages. Confirmed from Stripe's own error text: "$0.50 usd",
# "€0.50 eur", "£0.30 gbp", "¥50 jpy", "$0.50 cad", "$10.00 mxn". The other dollar currencies
# with a documented minimum are assumed to print "$" as cad and mxn do; every other currency
# prints the bare number ("38.00 afn"), which is unconfirmed (see README).
_SYMBOLS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "usd": "$",
        "eur": "€",
        "gbp": "£",
        "jpy": "¥",
        "cad": "$",
        "mxn": "$",
        "aud": "$",
        "hkd": "$",
        "nzd": "$",
        "sgd": "$",
    }
)


def _c(
    code: str, exponent: int, minimum: int, units_per_usd: str, *, documented: bool = False
) -> Currency:
    expected_exponent = 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2
    assert exponent == expected_exponent, code
    rate = Fraction(units_per_usd)
    if not documented:
        assert minimum == _derived_minimum_charge_amount(exponent, rate), code
    return Currency(
        code=code,
        exponent=exponent,
        minimum_charge_amount=minimum,
        units_per_usd=rate,
        minimum_documented=documented,
        amount_multiple=_AMOUNT_MULTIPLE.get(code, 1),
        symbol=_SYMBOLS.get(code, ""),
    )


# Every presentment currency Stripe lists for card payments at https://docs.stripe.com/currencies
# (134 codes, "more than 135" in Stripe's words) plus the five three-decimal currencies.
# Columns: code, exponent, minimum charge amount in minor units, approximate units per USD
# (mid-market, November 2024). `documented=True` marks the minimums from Stripe's table at
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts (usd 0.50, aed 2.00,
# aud 0.50, bgn 1.00, brl 0.50, cad 0.50, chf 0.50, czk 15.00, dkk 2.50, eur 0.50, gbp 0.30,
# hkd 4.00, huf 175.00, inr 0.50, jpy 50, mxn 10, myr 2, nok 3.00, nzd 0.50, pln 2.00,
# ron 2.00, sek 3.00, sgd 0.50, thb 10); the others are derived from 0.50 USD by
# _derived_minimum_charge_amount, which `_c` re-checks.
# Left out although Stripe's error message still names them: hrk (replaced by eur in 2023),
# sll (replaced by sle), mro, eek, lvl, ltl, svc, vef (retired), usdc, btn, ghs (not card
# presentment currencies in the docs consulted).
_TABLE: Final = (
    _c("aed", 2, 200, "3.6725", documented=True),
    _c("afn", 2, 3800, "68.0"),
    _c("all", 2, 5200, "93.0"),
    _c("amd", 2, 22000, "388"),
    _c("ang", 2, 99, "1.79"),
    _c("aoa", 2, 51000, "912"),
    _c("ars", 2, 55000, "1000"),
    _c("aud", 2, 50, "1.54", documented=True),
    _c("awg", 2, 99, "1.79"),
    _c("azn", 2, 94, "1.70"),
    _c("bam", 2, 110, "1.85"),
    _c("bbd", 2, 110, "2.00"),
    _c("bdt", 2, 6600, "119.5"),
    _c("bgn", 2, 100, "1.85", documented=True),
    _c("bhd", 3, 210, "0.376"),
    _c("bif", 0, 1700, "2950"),
    _c("bmd", 2, 55, "1.00"),
    _c("bnd", 2, 74, "1.34"),
    _c("bob", 2, 390, "6.91"),
    _c("brl", 2, 50, "5.80", documented=True),
    _c("bsd", 2, 55, "1.00"),
    _c("bwp", 2, 750, "13.6"),
    _c("byn", 2, 180, "3.27"),
    _c("bzd", 2, 110, "2.00"),
    _c("cad", 2, 50, "1.40", documented=True),
    _c("cdf", 2, 160000, "2850"),
    _c("chf", 2, 50, "0.88", documented=True),
    _c("clp", 0, 540, "970"),
    _c("cny", 2, 400, "7.24"),
    _c("cop", 2, 250000, "4400"),
    _c("crc", 2, 28000, "508"),
    _c("cve", 2, 5800, "104.5"),
    _c("czk", 2, 1500, "23.9", documented=True),
    _c("djf", 0, 98, "178"),
    _c("dkk", 2, 250, "7.06", documented=True),
    _c("dop", 2, 3400, "60.3"),
    _c("dzd", 2, 7400, "133.5"),
    _c("egp", 2, 2800, "49.5"),
    _c("etb", 2, 6800, "122"),
    _c("eur", 2, 50, "0.947", documented=True),
    _c("fjd", 2, 130, "2.27"),
    _c("fkp", 2, 44, "0.79"),
    _c("gbp", 2, 30, "0.79", documented=True),
    _c("gel", 2, 160, "2.73"),
    _c("gip", 2, 44, "0.79"),
    _c("gmd", 2, 4000, "71"),
    _c("gnf", 0, 4800, "8620"),
    _c("gtq", 2, 430, "7.72"),
    _c("gyd", 2, 12000, "209"),
    _c("hkd", 2, 400, "7.78", documented=True),
    _c("hnl", 2, 1400, "25.2"),
    _c("htg", 2, 7300, "131"),
    _c("huf", 2, 17500, "390", documented=True),
    _c("idr", 2, 880000, "15850"),
    _c("ils", 2, 210, "3.74"),
    _c("inr", 2, 50, "84.4", documented=True),
    _c("isk", 2, 7600, "138"),
    _c("jmd", 2, 8700, "158"),
    _c("jod", 3, 390, "0.709"),
    _c("jpy", 0, 50, "154", documented=True),
    _c("kes", 2, 7200, "129.5"),
    _c("kgs", 2, 4800, "86.6"),
    _c("khr", 2, 230000, "4040"),
    _c("kmf", 0, 260, "466"),
    _c("krw", 0, 770, "1395"),
    _c("kwd", 3, 170, "0.307"),
    _c("kyd", 2, 46, "0.833"),
    _c("kzt", 2, 28000, "497"),
    _c("lak", 2, 1300000, "21950"),
    _c("lbp", 2, 5000000, "89500"),
    _c("lkr", 2, 17000, "291"),
    _c("lrd", 2, 11000, "182"),
    _c("lsl", 2, 1000, "18.1"),
    _c("mad", 2, 550, "10.0"),
    _c("mdl", 2, 1100, "18.2"),
    _c("mga", 0, 2600, "4680"),
    _c("mkd", 2, 3300, "58.3"),
    _c("mmk", 2, 120000, "2100"),
    _c("mnt", 2, 190000, "3398"),
    _c("mop", 2, 450, "8.01"),
    _c("mur", 2, 2600, "46.6"),
    _c("mvr", 2, 850, "15.4"),
    _c("mwk", 2, 96000, "1735"),
    _c("mxn", 2, 1000, "20.4", documented=True),
    _c("myr", 2, 200, "4.47", documented=True),
    _c("mzn", 2, 3600, "63.9"),
    _c("nad", 2, 1000, "18.1"),
    _c("ngn", 2, 93000, "1690"),
    _c("nio", 2, 2100, "36.8"),
    _c("nok", 2, 300, "11.0", documented=True),
    _c("npr", 2, 7500, "135"),
    _c("nzd", 2, 50, "1.70", documented=True),
    _c("omr", 3, 220, "0.385"),
    _c("pab", 2, 55, "1.00"),
    _c("pen", 2, 210, "3.80"),
    _c("pgk", 2, 220, "3.97"),
    _c("php", 2, 3300, "58.9"),
    _c("pkr", 2, 16000, "278"),
    _c("pln", 2, 200, "4.08", documented=True),
    _c("pyg", 0, 4300, "7800"),
    _c("qar", 2, 210, "3.64"),
    _c("ron", 2, 200, "4.71", documented=True),
    _c("rsd", 2, 6000, "108"),
    _c("rub", 2, 5500, "100"),
    _c("rwf", 0, 760, "1370"),
    _c("sar", 2, 210, "3.75"),
    _c("sbd", 2, 470, "8.38"),
    _c("scr", 2, 760, "13.7"),
    _c("sek", 2, 300, "10.9", documented=True),
    _c("sgd", 2, 50, "1.34", documented=True),
    _c("shp", 2, 44, "0.79"),
    _c("sle", 2, 1300, "22.6"),
    _c("sos", 2, 32000, "571"),
    _c("srd", 2, 2000, "35.4"),
    _c("std", 2, 1300000, "22281"),
    _c("szl", 2, 1000, "18.1"),
    _c("thb", 2, 1000, "34.6", documented=True),
    _c("tjs", 2, 590, "10.7"),
    _c("tnd", 3, 1800, "3.15"),
    _c("top", 2, 140, "2.37"),
    _c("try", 2, 1900, "34.5"),
    _c("ttd", 2, 380, "6.78"),
    _c("twd", 2, 1800, "32.5"),
    _c("tzs", 2, 150000, "2650"),
    _c("uah", 2, 2300, "41.3"),
    _c("ugx", 0, 2100, "3680"),
    _c("usd", 2, 50, "1", documented=True),
    _c("uyu", 2, 2400, "42.9"),
    _c("uzs", 2, 710000, "12850"),
    _c("vnd", 0, 14000, "25400"),
    _c("vuv", 0, 66, "119"),
    _c("wst", 2, 160, "2.76"),
    _c("xaf", 0, 350, "621"),
    _c("xcd", 2, 150, "2.70"),
    _c("xof", 0, 350, "621"),
    _c("xpf", 0, 63, "113"),
    _c("yer", 2, 14000, "250"),
    _c("zar", 2, 1000, "18.1"),
    _c("zmw", 2, 1600, "27.4"),
)

CURRENCIES: Final[Mapping[str, Currency]] = MappingProxyType({c.code: c for c in _TABLE})

# The list Stripe prints after "Invalid currency: xyz." -- copied verbatim from the live API's
# answer to an unknown currency (request of 2024-10-06, quoted in public code). Its order (usd
# first, then alphabetical, then retired codes) and its retired codes are Stripe's; it is kept
# as Stripe sends it even where it names codes CURRENCIES leaves out.
_STRIPE_LISTED_CURRENCIES: Final = (
    "usd, aed, afn, all, amd, ang, aoa, ars, aud, awg, azn, bam, bbd, bdt, bgn, bhd, bif, bmd, "
    "bnd, bob, brl, bsd, bwp, byn, bzd, cad, cdf, chf, clp, cny, cop, crc, cve, czk, djf, dkk, "
    "dop, dzd, egp, etb, eur, fjd, fkp, gbp, gel, gip, gmd, gnf, gtq, gyd, hkd, hnl, hrk, htg, "
    "huf, idr, ils, inr, isk, jmd, jod, jpy, kes, kgs, khr, kmf, krw, kwd, kyd, kzt, lak, lbp, "
    "lkr, lrd, lsl, mad, mdl, mga, mkd, mmk, mnt, mop, mur, mvr, mwk, mxn, myr, mzn, nad, ngn, "
    "nio, nok, npr, nzd, omr, pab, pen, pgk, php, pkr, pln, pyg, qar, ron, rsd, rub, rwf, sar, "
    "sbd, scr, sek, sgd, shp, sle, sos, srd, std, szl, thb, tjs, tnd, top, try, ttd, twd, tzs, "
    "uah, ugx, uyu, uzs, vnd, vuv, wst, xaf, xcd, xof, xpf, yer, zar, zmw, usdc, btn, ghs, eek, "
    "lvl, svc, vef, ltl, sll, mro"
)


def currency(code: str, param: str = "currency") -> Currency:
    """The currency named by `code`, in any case; Stripe's invalid_request_error otherwise.

    Stripe's answer carries no `code` (only type, message and param), so neither does ours.
    """
    normalized = code.lower()
    found = CURRENCIES.get(normalized)
    if found is None:
        reject(
            f"Invalid currency: {normalized}. "
            f"Stripe currently supports these currencies: {_STRIPE_LISTED_CURRENCIES}",
            param=param,
        )
    return found


def format_amount(amount: int, currency: Currency) -> str:
    """`amount` (minor units) as Stripe prints it in messages: "$0.50", "¥50", "$999,999.99"."""
    assert type(amount) is int
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), currency.minor_units_per_major)
    digits = f"{major:,}"
    if currency.exponent:
        digits += f".{minor:0{currency.exponent}d}"
    return f"{sign}{currency.symbol}{digits}"


def check_charge_amount(amount: int, currency: Currency, param: str = "amount") -> None:
    """Refuse a charge amount outside Stripe's limits for `currency`, with Stripe's errors.

    Messages: "Amount must be at least $0.50 usd" (amount_too_small) and "Amount must be no
    more than $999,999.99" (amount_too_large), then ISK's multiple-of-100 rule. Type and sign
    are checked where params are parsed; here they are asserted.
    """
    assert type(amount) is int, type(amount)
    assert amount >= 1, amount
    minimum = currency.minimum_charge_amount
    reject_if(
        amount < minimum,
        f"Amount must be at least {format_amount(minimum, currency)} {currency.code}",
        code="amount_too_small",
        param=param,
    )
    reject_if(
        amount > AMOUNT_MAX,
        f"Amount must be no more than {format_amount(AMOUNT_MAX, currency)}",
        code="amount_too_large",
        param=param,
    )
    multiple = currency.amount_multiple
    reject_if(
        amount % multiple != 0,
        f"Invalid amount. Currency {currency.code.upper()} has become effectively zero-decimal "
        f"and charged amounts must be evenly divisible by {multiple}. "
        "See https://stripe.com/docs/currencies#special-cases for more information.",
        code="invalid_charge_amount_no_decimal_compatible",
        param=param,
    )


def from_usd_cents(usd_cents: int, currency: Currency) -> int:
    """`usd_cents` converted at the table's approximate rate, in `currency`'s minor units.

    Only for prices Stripe states in USD and nowhere else (a fixed fee, a dispute fee); the
    result is an estimate, rounded half up.
    """
    assert usd_cents >= 0
    value = Fraction(usd_cents, 100) * currency.units_per_usd * currency.minor_units_per_major
    return round_half_up(value.numerator, value.denominator)


# The fixed part of the card fee, per settlement currency, in minor units.
# usd: US pricing, 2.9% + 30¢ (https://stripe.com/pricing).
# eur bgn czk dkk huf chf pln ron sek: "the fixed fees of €0.25 in local currencies" for EEA
#   accounts -- BGN 0.50, 6.50Kč, 1.80kr, 85Ft, 0.30CHF, 1zł, 1LEU, 1.80kr -- from
#   https://support.stripe.com/questions/pricing-updates-for-businesses-based-in-the-european-economic-area-(eea)
# gbp 20p, aud 30, cad 30, sgd 50, jpy 0 (Japan has no fixed fee): Stripe's country pricing
#   pages as summarised by third parties -- not confirmed from Stripe (see README).
# Any other currency: 30¢ converted with `from_usd_cents` (an estimate; see README).
# Only the fixed part follows the currency: the percentage stays `card_percent_bps`.
_CARD_FIXED_AMOUNT: Final[Mapping[str, int]] = MappingProxyType(
    {
        "usd": 30,
        "eur": 25,
        "bgn": 50,
        "czk": 650,
        "dkk": 180,
        "huf": 8500,
        "chf": 30,
        "pln": 100,
        "ron": 100,
        "sek": 180,
        "gbp": 20,
        "aud": 30,
        "cad": 30,
        "sgd": 50,
        "jpy": 0,
    }
)
_CARD_FIXED_USD_CENTS: Final = 30

# Dispute fee per settlement currency, in minor units.
# usd $15.00 (https://stripe.com/pricing); eur €20.00 for EEA accounts since 2023-04-10 (the
# support page above); gbp £20.00 (third-party summaries, unconfirmed). Any other currency:
# $15.00 converted with `from_usd_cents` (an estimate).
_DISPUTE_FEE_AMOUNT: Final[Mapping[str, int]] = MappingProxyType(
    {"usd": 1500, "eur": 2000, "gbp": 2000}
)
_DISPUTE_FEE_USD_CENTS: Final = 1500

_BPS_PER_UNIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class Pricing:
    """What Stripe charges the account; the default is Stripe's US card price, 2.9% + 30¢."""

    card_percent_bps: int = 290
    card_fixed_amount: Mapping[str, int] = field(
        default_factory=lambda: _CARD_FIXED_AMOUNT, hash=False
    )
    dispute_fee_amount: Mapping[str, int] = field(
        default_factory=lambda: _DISPUTE_FEE_AMOUNT, hash=False
    )
    available_delay_business_days: int = 2

    def __post_init__(self) -> None:
        assert 0 <= self.card_percent_bps <= _BPS_PER_UNIT
        assert all(amount >= 0 for amount in self.card_fixed_amount.values())
        assert all(amount >= 0 for amount in self.dispute_fee_amount.values())
        assert self.available_delay_business_days >= 0

    def card_fixed_fee(self, currency: Currency) -> int:
        """The fixed part of the card fee in `currency`."""
        fixed = self.card_fixed_amount.get(currency.code)
        return fixed if fixed is not None else from_usd_cents(_CARD_FIXED_USD_CENTS, currency)

    def card_fee(self, amount: int, currency: Currency) -> int:
        """Stripe's fee on a card charge of `amount`: percentage rounded half up, plus fixed."""
        assert type(amount) is int and amount >= 0
        percent = round_half_up(amount * self.card_percent_bps, _BPS_PER_UNIT)
        return percent + self.card_fixed_fee(currency)

    def fee_details(self, amount: int, currency: Currency) -> list[dict[str, Any]]:
        """The balance transaction's `fee_details` for a card charge of `amount`."""
        return [
            {
                "amount": self.card_fee(amount, currency),
                "application": None,
                "currency": currency.code,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]

    def dispute_fee(self, currency: Currency) -> int:
        """The fee Stripe withdraws when a charge in `currency` is disputed."""
        fee = self.dispute_fee_amount.get(currency.code)
        return fee if fee is not None else from_usd_cents(_DISPUTE_FEE_USD_CENTS, currency)


DEFAULT_PRICING: Final = Pricing()

_EPOCH_DAY: Final = dt.date(1970, 1, 1)
_SECONDS_PER_DAY: Final = 86_400
_SATURDAY: Final = 5  # date.weekday(): Monday is 0, Saturday 5, Sunday 6


def available_on(created: dt.datetime, delay_business_days: int) -> int:
    """When funds from a charge at `created` become available, as unix seconds.

    The rule: take the UTC calendar day of `created`, step forward one day at a time, counting
    only Monday to Friday, until `delay_business_days` have been counted; the answer is 00:00 UTC
    of that day. With the default delay of 2, a charge on Monday is available on Wednesday, on
    Thursday -> Monday, on Friday, Saturday or Sunday -> Tuesday. A delay of 0 gives the start of
    the charge's own day. Bank holidays are not modelled.
    """
    assert created.tzinfo is not None, "created must be timezone-aware"
    assert type(delay_business_days) is int and delay_business_days >= 0
    day = created.astimezone(dt.UTC).date()
    remaining = delay_business_days
    while remaining:
        day += dt.timedelta(days=1)
        if day.weekday() < _SATURDAY:
            remaining -= 1
    return (day - _EPOCH_DAY).days * _SECONDS_PER_DAY
