"""`led.accounts.external_accounts`: bank accounts and debit cards that payouts go to."""

from __future__ import annotations

from ledger.services.base import Service

__all__ = ["ExternalAccountsService"]


class ExternalAccountsService(Service):
    """Stripe's external accounts API (`/v1/accounts/{account}/external_accounts`)."""
