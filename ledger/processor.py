"""The processor port: ask the card network to authorize a payment.

Services call the processor *before* deciding, and the domain records its answer in events
(charge outcome, network transaction id, 3D Secure result), so a replay of the log never calls
it again. `SimulatedProcessor` answers as Stripe's test mode does for its documented test cards
(`ledger.domain.cards`); a production deployment could put a real acquirer behind the same port.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from ledger.domain.cards import AUTHENTICATION_REQUIRED, CardOutcome, TestCard

__all__ = [
    "Authorization",
    "AuthorizationRequest",
    "AuthorizationStatus",
    "Processor",
    "SimulatedProcessor",
]

AuthorizationStatus = Literal["approved", "declined", "requires_action"]

# The 3D Secure version the simulated issuers speak, and the ECI of an authenticated Visa payment.
THREE_D_SECURE_VERSION: Final = "2.2.0"
_AUTHENTICATED_ECI: Final = "05"
_NETWORK_TRANSACTION_ID_DIGITS: Final = 15


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """One authorization attempt: which card, how much, and in what circumstances."""

    card: TestCard
    amount: int
    currency: str
    capture: bool
    # The customer is not present (a saved card charged later): 3D Secure cannot be run.
    off_session: bool = False
    # The cardholder has just completed 3D Secure for this payment.
    authenticated: bool = False
    # The merchant asked for 3D Secure (`payment_method_options[card][request_three_d_secure]`
    # `any` or `challenge`): every card that supports it is challenged.
    three_d_secure_requested: bool = False
    # The card was set up for off-session use (only `required_unless_set_up` cards care).
    set_up_for_off_session: bool = False

    def __post_init__(self) -> None:
        assert self.amount >= 1, self.amount
        assert self.currency == self.currency.lower() and len(self.currency) == 3


@dataclass(frozen=True, slots=True)
class Authorization:
    """The network's answer.

    `approved`: `outcome` is the charge's outcome and `network_transaction_id` is set.
    `declined`: `decline` says why (code, decline code, message) and `outcome` records it.
    `requires_action`: the issuer wants 3D Secure first; nothing was authorized.
    `three_d_secure` is the authentication result when the payment went through 3D Secure.
    """

    status: AuthorizationStatus
    outcome: dict[str, Any] | None = None
    decline: CardOutcome | None = None
    network_transaction_id: str | None = None
    three_d_secure: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        assert (self.status == "declined") == (self.decline is not None)
        assert (self.status == "requires_action") == (self.outcome is None)
        assert (self.status == "approved") == (self.network_transaction_id is not None)
        assert self.decline is None or self.decline.error_code is not None

    @property
    def approved(self) -> bool:
        """The amount is authorized on the card."""
        return self.status == "approved"

    @property
    def declined(self) -> bool:
        """The network or Radar refused the payment."""
        return self.status == "declined"

    @property
    def requires_action(self) -> bool:
        """The cardholder must authenticate (3D Secure) before the card can be charged."""
        return self.status == "requires_action"

    @classmethod
    def refused(
        cls, decline: CardOutcome, three_d_secure: dict[str, Any] | None = None
    ) -> Authorization:
        """A decline for the reasons `decline` gives."""
        return cls("declined", decline.charge_outcome(), decline, None, three_d_secure)


class Processor(Protocol):
    """Anything that can authorize a card payment."""

    def authorize(self, request: AuthorizationRequest) -> Authorization:
        """Authorize `request.amount` on `request.card`, or say why not."""
        ...


def _three_d_secure_result() -> dict[str, Any]:
    """`payment_method_details.card.three_d_secure` after a successful challenge."""
    return {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": _AUTHENTICATED_ECI,
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": THREE_D_SECURE_VERSION,
    }


def _network_transaction_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(_NETWORK_TRANSACTION_ID_DIGITS))


class SimulatedProcessor:
    """Stripe's test mode: each documented test card behaves as Stripe documents it."""

    def authorize(self, request: AuthorizationRequest) -> Authorization:
        card = request.card
        outcome = card.outcome
        if not request.authenticated and self._needs_authentication(request):
            if request.off_session:
                # No cardholder to challenge: the issuer declines (docs.stripe.com/testing#3ds).
                return Authorization.refused(AUTHENTICATION_REQUIRED)
            return Authorization("requires_action")
        three_d_secure = _three_d_secure_result() if request.authenticated else None
        if outcome.error_code is not None:
            return Authorization.refused(outcome, three_d_secure)
        return Authorization(
            "approved",
            outcome.charge_outcome(),
            None,
            _network_transaction_id(),
            three_d_secure,
        )

    @staticmethod
    def _needs_authentication(request: AuthorizationRequest) -> bool:
        card = request.card
        if request.three_d_secure_requested and card.three_d_secure_supported:
            return True
        match card.outcome.authentication:
            case "required":
                return True
            case "required_unless_set_up":
                return not (request.off_session and request.set_up_for_off_session)
            case "required_on_session":
                return not request.off_session
        return False

    def __repr__(self) -> str:
        return "SimulatedProcessor()"
