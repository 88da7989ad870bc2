"""3D Secure, simulated: what the cardholder does on the issuer's challenge page.

`led.test_helpers.complete_payment_intent_authentication` (this service, behind the
`led.test_helpers` namespace) plays the cardholder's side of 3D Secure for a
PaymentIntent in `requires_action`: the challenge is passed (the payment then proceeds, or, with
`confirmation_method: manual`, awaits confirmation again) or failed (the intent goes back to
`requires_payment_method` with `payment_intent_authentication_failure`). Stripe has no API for
this; its test pages have the cardholder click "Complete" or "Fail" on a challenge page.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import payment_intent as domain
from ledger.domain.payment_method import card_for
from ledger.domain.rules import reject
from ledger.resources.base import StripeObject
from ledger.services.base import Call, Service
from ledger.services.payment_intents import load_intent, record_attempt
from ledger.services.runner import JSON, UnitOfWork

__all__ = ["AuthenticationTestHelper"]


class AuthenticationTestHelper(Service):
    """The cardholder's side of 3D Secure (Stripe's test-mode challenge page)."""

    def complete_payment_intent_authentication(
        self, intent: str, *, succeed: bool = True, **params: Any
    ) -> StripeObject:
        """Pass (or fail, `succeed=False`) the 3D Secure challenge of a PaymentIntent.

        Returns the PaymentIntent. A card declined after authentication leaves it in
        `requires_payment_method` with `last_payment_error`; nothing is raised, as there is no
        API request whose answer the decline would be.
        """
        if not isinstance(succeed, bool):
            reject(f"Invalid boolean: {succeed!r}", param="succeed")
        # The request options and `expand` are those of retrieving the intent.
        base = self._begin("GET /v1/payment_intents/{intent}", params)
        if base.params:
            name = sorted(base.params)[0]
            reject(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        call = Call(base.ctx, {"succeed": succeed}, base.expand)
        operation = f"POST /v1/test_helpers/payment_intents/{intent}/authenticate"

        def command(uow: UnitOfWork) -> JSON:
            state = load_intent(uow, intent)
            domain.check_action(state, domain.Action.authenticate)
            payment_method = uow.get(
                state.data["payment_method"], "payment_method", "PaymentMethod", "payment_method"
            )
            if not succeed:
                uow.append(intent, domain.decide_authentication_failed(state, payment_method.data))
                return load_intent(uow, intent).data
            if state.data["confirmation_method"] == "manual":
                uow.append(intent, domain.decide_authenticated(state))
                return load_intent(uow, intent).data
            plan = domain.plan_after_authentication(state)
            authorization = self._engine.processor.authorize(
                plan.request(state, card_for(payment_method))
            )
            after, _declined = record_attempt(
                self._engine, uow, state, plan, authorization, payment_method
            )
            return after

        return self._execute(call, operation, command)
