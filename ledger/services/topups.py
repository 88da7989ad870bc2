"""`led.topups`."""

from __future__ import annotations

from ledger.services.base import Service

__all__ = ["TopupsService"]


class TopupsService(Service):
    """Stripe's Topups API."""
