"""`led.payouts`."""

from __future__ import annotations

from ledger.services.base import Service

__all__ = ["PayoutsService"]


class PayoutsService(Service):
    """Stripe's Payouts API."""
