"""Rejections raised by pure domain code, and the shared rules of Stripe's request conventions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from ledger import limits
from ledger.errors import InvalidRequestError

__all__ = [
    "apply_metadata",
    "check_email",
    "check_partial_amount",
    "check_positive_amount",
    "reject",
    "reject_if",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def reject(
    message: str, *, code: str | None = None, param: str | None = None, http_status: int = 400
) -> NoReturn:
    """Refuse a request with Stripe's invalid_request_error."""
    raise InvalidRequestError(message, code=code, param=param, http_status=http_status)


def reject_if(
    condition: bool,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    http_status: int = 400,
) -> None:
    """Refuse the request when `condition` holds."""
    if condition:
        reject(message, code=code, param=param, http_status=http_status)


def check_email(email: str, param: str = "email") -> None:
    """Stripe refuses addresses that are not of the form local@domain.tld."""
    reject_if(
        len(email) > 512 or not _EMAIL.match(email),
        f"Invalid email address: {email}",
        code="email_invalid",
        param=param,
    )


def check_positive_amount(amount: int, param: str = "amount") -> None:
    """Amounts are whole numbers of minor units, at least 1."""
    reject_if(amount < 1, "Invalid positive integer", code="parameter_invalid_integer", param=param)


def check_partial_amount(
    requested: int | None,
    left: int,
    *,
    too_large: Callable[[int, int], str],
    too_large_code: str | None = None,
    exhausted: str | None = None,
) -> int:
    """The amount to undo (refund, reverse) of what is `left`: `requested`, or all that is left.

    Stripe's refusals, in its order and with the caller's messages: `exhausted` when nothing is
    left (None: the caller refuses that case itself), an amount below 1, and an amount above
    what is left (`too_large(wanted, left)`, with `too_large_code`).
    """
    if exhausted is not None and left == 0:
        # Stripe names the amount only when the request gave one.
        reject(exhausted, param="amount" if requested is not None else None)
    wanted = left if requested is None else requested
    check_positive_amount(wanted)
    if wanted > left:
        reject(too_large(wanted, left), code=too_large_code, param="amount")
    return wanted


def apply_metadata(current: dict[str, str], update: dict[str, Any] | str) -> dict[str, str]:
    """Merge a metadata update into `current` by Stripe's rules.

    `""` for the whole map unsets every key; `""` for one key unsets that key; other keys are
    set or replaced. The result must respect the limits on keys and lengths.
    """
    if update == "":
        return {}
    assert isinstance(update, dict)
    merged = dict(current)
    for key, value in update.items():
        reject_if(
            not key,
            "Metadata keys must not be empty.",
            code="parameter_invalid_empty",
            param="metadata",
        )
        reject_if(
            len(key) > limits.METADATA_KEY_LENGTH_MAX,
            f"Metadata keys must be at most {limits.METADATA_KEY_LENGTH_MAX} characters "
            f"long (got '{key[:60]}').",
            code="parameter_invalid_string_too_long",
            param=f"metadata[{key}]",
        )
        if value is None or value == "":
            merged.pop(key, None)
            continue
        value = str(value)
        reject_if(
            len(value) > limits.METADATA_VALUE_LENGTH_MAX,
            f"Metadata values can have up to {limits.METADATA_VALUE_LENGTH_MAX} characters, "
            f"but you passed in a value that is {len(value)} characters.",
            code="parameter_invalid_string_too_long",
            param=f"metadata[{key}]",
        )
        merged[key] = value
    reject_if(
        len(merged) > limits.METADATA_KEYS_MAX,
        f"You can have up to {limits.METADATA_KEYS_MAX} metadata keys (had {len(merged)}).",
        param="metadata",
    )
    return merged
