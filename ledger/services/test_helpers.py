"""`led.test_helpers`: Stripe's test-mode helpers (test clocks, and more as they are added)."""

from __future__ import annotations

from ledger.services.runner import Engine
from ledger.services.test_clocks import TestClocksService

__all__ = ["TestHelpersService"]


class TestHelpersService:
    """Stripe's `/v1/test_helpers/...` namespace."""

    def __init__(self, engine: Engine) -> None:
        self.test_clocks = TestClocksService(engine)
