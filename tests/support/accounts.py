"""Connected accounts for tests: `stripe_account=` must name one the platform has."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import Ledger

CAPABILITIES = {"card_payments": {"requested": True}, "transfers": {"requested": True}}
NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC

# Everything a US individual's custom account needs, with Stripe's test values that verify at
# once (https://docs.stripe.com/connect/testing): its capabilities are active.
VERIFIED_INDIVIDUAL: dict[str, Any] = {
    "business_type": "individual",
    "business_profile": {"mcc": "5734", "url": "https://shop.example"},
    "individual": {
        "first_name": "Jenny",
        "last_name": "Rosen",
        "email": "jenny@example.com",
        "phone": "+15555550100",
        "dob": {"day": 1, "month": 1, "year": 1902},
        "address": {
            "line1": "address_full_match",
            "city": "San Francisco",
            "postal_code": "94103",
            "state": "CA",
        },
        "ssn_last_4": "0000",
    },
    "tos_acceptance": {"date": NOW, "ip": "203.0.113.7"},
}


def connected_account(led: Ledger, **params: Any) -> str:
    """A new custom connected account (card_payments and transfers requested, not verified)."""
    params = {"type": "custom", "country": "US", "capabilities": CAPABILITIES} | params
    return str(led.accounts.create(**params).id)


def verified_account(led: Ledger, **params: Any) -> str:
    """A new custom connected account whose card_payments and transfers are active."""
    return connected_account(led, **(VERIFIED_INDIVIDUAL | params))


@pytest.fixture
def connected(led: Ledger) -> str:
    """A connected account of the platform, to act as with `stripe_account=`."""
    return connected_account(led)
