"""`led.accounts`: connected accounts (create, retrieve, update, list, delete)."""

from __future__ import annotations

from ledger.services.base import Service
from ledger.services.external_accounts import ExternalAccountsService
from ledger.services.runner import Engine

__all__ = ["AccountsService"]


class AccountsService(Service):
    """Stripe's Accounts API."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.external_accounts = ExternalAccountsService(engine)
