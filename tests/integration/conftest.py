"""Every integration test checks every object the ledger returns against Stripe's schema."""

import pytest

from tests.support.stripe_schema import validate_every_response


@pytest.fixture(autouse=True)
def every_response_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a call returns (object, deleted stub, every list item) passes check.py."""
    validate_every_response(monkeypatch)
