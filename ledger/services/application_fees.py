"""`led.application_fees`."""

from __future__ import annotations

from ledger.services.base import Service

__all__ = ["ApplicationFeesService"]


class ApplicationFeesService(Service):
    """Stripe's ApplicationFees API."""
