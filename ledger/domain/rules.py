"""Rejections raised by pure domain code, and the shared rules of Stripe's request conventions."""

from __future__ import annotations

import re
from typing import Any, NoReturn

from ledger import limits
from ledger.errors import InvalidRequestError

__all__ = ["apply_metadata", "check_email", "reject", "reject_if"]

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
