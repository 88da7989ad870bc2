"""`led.transfers`."""

from __future__ import annotations

from ledger.services.base import Service

__all__ = ["TransfersService"]


class TransfersService(Service):
    """Stripe's Transfers API."""
