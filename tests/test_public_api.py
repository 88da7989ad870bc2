"""The public surface of `ledger`: changing it must be a deliberate edit of this file."""

from __future__ import annotations

import builtins
import inspect
import re

import pytest

import ledger
from ledger import errors
from ledger.client import Ledger
from ledger.services.customers import CustomersService
from ledger.services.events import EventsService

EXPECTED_ALL = {
    "API_VERSION",
    "APIError",
    "AuthenticationError",
    "CardError",
    "Clock",
    "FrozenClock",
    "IdempotencyError",
    "InvalidRequestError",
    "Ledger",
    "LedgerError",
    "ListObject",
    "LogPosition",
    "PermissionError",
    "RateLimitError",
    "RecordedEvent",
    "StripeObject",
    "SystemClock",
    "errors",
}

# Stripe's error `type` values (its spec's enum: api_error, card_error, idempotency_error,
# invalid_request_error). 401, 403 and 429 are sent as invalid_request_error; clients tell them
# apart by HTTP status, as stripe-python does.
ERROR_TYPES = {
    "APIError": ("api_error", 500),
    "AuthenticationError": ("invalid_request_error", 401),
    "CardError": ("card_error", 402),
    "IdempotencyError": ("idempotency_error", 400),
    "InvalidRequestError": ("invalid_request_error", 400),
    "LedgerError": ("api_error", 500),
    "PermissionError": ("invalid_request_error", 403),
    "RateLimitError": ("invalid_request_error", 429),
}


def _isort_style(name: str) -> tuple[int, list[int | str]]:
    """Ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest; natural within each."""
    group = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    natural: list[int | str] = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
    return group, natural


def test_all_is_sorted() -> None:
    # The order ruff's RUF022 (enabled through "RUF") enforces, so the lint and this test agree.
    assert ledger.__all__ == sorted(ledger.__all__, key=_isort_style)
    assert ledger.__all__[0] == "API_VERSION"
    assert ledger.__all__[-1] == "errors"


def test_all_has_no_duplicates() -> None:
    assert len(ledger.__all__) == len(set(ledger.__all__))


def test_all_is_the_expected_surface() -> None:
    assert set(ledger.__all__) == EXPECTED_ALL


@pytest.mark.parametrize("name", sorted(EXPECTED_ALL))
def test_every_public_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from ledger import {name}", namespace)
    assert namespace[name] is getattr(ledger, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from ledger import *", namespace)
    assert set(namespace) - {"__builtins__"} == EXPECTED_ALL


def test_version() -> None:
    assert ledger.__version__ == "0.1.0"


def test_api_version_is_a_stripe_version_string() -> None:
    assert isinstance(ledger.API_VERSION, str)
    assert ledger.API_VERSION[:4].isdigit()


def test_ledger_has_its_lifecycle_methods() -> None:
    for name in ("open", "rebuild", "close", "read_all", "__enter__", "__exit__"):
        assert callable(getattr(Ledger, name)), name
    assert isinstance(inspect.getattr_static(Ledger, "open"), classmethod)
    assert list(inspect.signature(Ledger.open).parameters) == [
        "url",
        "clock",
        "pricing",
        "processor",
        "migrate",
        "pool_size",
    ]


def test_ledger_exposes_customers_and_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build a Ledger over a stand-in pool, without a database."""
    import ledger.client as client_module

    monkeypatch.setattr(client_module, "_platform_account_id", lambda pool: "acct_TEST")
    pool = object()
    led = Ledger(pool, ledger.FrozenClock(), "postgresql://nowhere/db")  # type: ignore[arg-type]
    assert isinstance(led.customers, CustomersService)
    assert isinstance(led.events, EventsService)
    assert led.platform_account_id == "acct_TEST"
    assert isinstance(led.clock, ledger.FrozenClock)
    assert led.url == "postgresql://nowhere/db"
    assert repr(led) == "Ledger(account='acct_TEST')"


def test_errors_module_exposes_the_eight_classes() -> None:
    assert set(errors.__all__) == set(ERROR_TYPES)
    for name, (type_, status) in ERROR_TYPES.items():
        cls = getattr(errors, name)
        assert getattr(ledger, name) is cls
        assert issubclass(cls, errors.LedgerError)
        assert issubclass(cls, Exception)
        assert cls.type == type_, name
        assert cls("m").http_status == status, name


def test_permission_error_is_ours_not_the_builtin() -> None:
    assert ledger.PermissionError is not builtins.PermissionError
    assert not issubclass(ledger.PermissionError, OSError)
