"""ledger: an event-sourced payments ledger with Stripe's money model, on PostgreSQL."""

from ledger import errors
from ledger.client import Ledger
from ledger.clock import Clock, FrozenClock, SystemClock
from ledger.errors import (
    APIError,
    AuthenticationError,
    CardError,
    IdempotencyError,
    InvalidRequestError,
    LedgerError,
    PermissionError,
    RateLimitError,
)
from ledger.projections.objects import API_VERSION
from ledger.resources.base import ListObject, StripeObject
from ledger.store.events import LogPosition, RecordedEvent

__all__ = [
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
]
__version__ = "0.1.0"
