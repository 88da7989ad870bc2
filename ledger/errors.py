"""Errors that mirror Stripe's: type, code, param, message, decline_code and HTTP status.

`to_dict()` is exactly the JSON body Stripe sends with the error. Every rejection of user input
raises one of these; anything else escaping the library is our bug.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AuthenticationError",
    "CardError",
    "IdempotencyError",
    "InvalidRequestError",
    "LedgerError",
    "PermissionError",
    "RateLimitError",
]

_DOC_URL = "https://stripe.com/docs/error-codes/"


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    type: ClassVar[str] = "api_error"
    default_http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        http_status: int | None = None,
        charge: str | None = None,
        payment_intent: dict[str, Any] | None = None,
        payment_method: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.http_status = http_status if http_status is not None else self.default_http_status
        self.charge = charge
        self.payment_intent = payment_intent
        self.payment_method = payment_method
        self.request_id = request_id
        # True when this is a stored error returned again for a reused idempotency key.
        self.idempotent_replayed = False

    def to_dict(self) -> dict[str, Any]:
        """Stripe's error JSON: `{"error": {...}}`, with only the keys Stripe sends."""
        body: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            body["code"] = self.code
            # Stripe's doc pages use hyphens: resource_missing -> .../error-codes/resource-missing
            body["doc_url"] = _DOC_URL + self.code.replace("_", "-")
        if self.param is not None:
            body["param"] = self.param
        if self.decline_code is not None:
            body["decline_code"] = self.decline_code
        if self.charge is not None:
            body["charge"] = self.charge
        if self.payment_intent is not None:
            body["payment_intent"] = self.payment_intent
        if self.payment_method is not None:
            body["payment_method"] = self.payment_method
        if self.request_id is not None:
            body["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{self.request_id}"
        return {"error": body}

    @classmethod
    def from_dict(cls, payload: dict[str, Any], http_status: int) -> LedgerError:
        """Rebuild a stored error (idempotent replays raise the original error again)."""
        body = payload["error"]
        error_class = _BY_TYPE.get(body["type"], APIError)
        if error_class is InvalidRequestError:
            # 401, 403 and 429 are sent as invalid_request_error; the status tells them apart.
            error_class = _BY_STATUS.get(http_status, InvalidRequestError)
        request_log_url = body.get("request_log_url")
        return error_class(
            body["message"],
            code=body.get("code"),
            param=body.get("param"),
            decline_code=body.get("decline_code"),
            http_status=http_status,
            charge=body.get("charge"),
            payment_intent=body.get("payment_intent"),
            payment_method=body.get("payment_method"),
            request_id=request_log_url.rsplit("/", 1)[-1] if request_log_url else None,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"param={self.param!r}, http_status={self.http_status})"
        )


class InvalidRequestError(LedgerError):
    """The request was malformed or named something that does not exist (400 or 404)."""

    type = "invalid_request_error"
    default_http_status = 400


class CardError(LedgerError):
    """The card was declined or could not be charged (402)."""

    type = "card_error"
    default_http_status = 402


class IdempotencyError(LedgerError):
    """An idempotency key was reused with different parameters (400)."""

    type = "idempotency_error"
    default_http_status = 400


class AuthenticationError(LedgerError):
    """No valid API key was given (401)."""

    type = "invalid_request_error"
    default_http_status = 401


class PermissionError(LedgerError):
    """The key may not act on this account or resource (403)."""

    type = "invalid_request_error"
    default_http_status = 403


class RateLimitError(LedgerError):
    """Too many requests, or too much contention on one object (429)."""

    type = "invalid_request_error"
    default_http_status = 429


class APIError(LedgerError):
    """Something went wrong on our side (500)."""

    type = "api_error"
    default_http_status = 500


_BY_TYPE: dict[str, type[LedgerError]] = {
    "invalid_request_error": InvalidRequestError,
    "card_error": CardError,
    "idempotency_error": IdempotencyError,
    "api_error": APIError,
}


_BY_STATUS: dict[int, type[LedgerError]] = {
    401: AuthenticationError,
    403: PermissionError,
    429: RateLimitError,
}


def resource_missing(kind: str, object_id: str, param: str = "id") -> InvalidRequestError:
    """Stripe's 404 for an id that does not exist in this account."""
    return InvalidRequestError(
        f"No such {kind}: '{object_id}'", code="resource_missing", param=param, http_status=404
    )
