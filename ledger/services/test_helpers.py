"""`led.test_helpers`: Stripe's test helpers, a namespace of services."""

from __future__ import annotations

from typing import Any

from ledger.resources.base import StripeObject
from ledger.services.authentication import AuthenticationTestHelper
from ledger.services.base import stripe_operation
from ledger.services.runner import Engine
from ledger.services.test_clocks import TestClocksService

__all__ = ["TestHelpersService"]


class TestHelpersService:
    """`led.test_helpers`: test clocks, and the cardholder's side of 3D Secure."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, engine: Engine) -> None:
        self.test_clocks = TestClocksService(engine)
        self._authentication = AuthenticationTestHelper(engine)

    @stripe_operation("POST /v1/test_helpers/payment_intents/{intent}/authenticate", extension=True)
    def complete_payment_intent_authentication(
        self, intent: str, *, succeed: bool = True, **params: Any
    ) -> StripeObject:
        """Pass (or fail, `succeed=False`) the 3D Secure challenge of a PaymentIntent."""
        return self._authentication.complete_payment_intent_authentication(
            intent, succeed=succeed, **params
        )
