"""API keys: where they come from, how a request presents one, and Stripe's 401 answers."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Final

from ledger.errors import AuthenticationError

__all__ = [
    "API_KEYS_ENV",
    "authenticate",
    "configured_keys",
    "generate_test_key",
    "mask_key",
    "presented_key",
]

API_KEYS_ENV: Final = "LEDGER_API_KEYS"
_KEY_PREFIX = re.compile(r"^(?:sk|rk|pk)_(?:test|live)_")
_GENERATED_KEY_CHARS: Final = 32
_NO_KEY: Final = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def configured_keys(
    flags: Iterable[str] | None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The keys from `--api-key` flags, else from `$LEDGER_API_KEYS` (comma-separated)."""
    keys = [key.strip() for key in flags or () if key.strip()]
    if keys:
        return keys
    value = (os.environ if environ is None else environ).get(API_KEYS_ENV, "")
    return [key.strip() for key in value.split(",") if key.strip()]


def generate_test_key() -> str:
    """A fresh secret test key, `sk_test_` and 32 random letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "sk_test_" + "".join(secrets.choice(alphabet) for _ in range(_GENERATED_KEY_CHARS))


def mask_key(key: str) -> str:
    """A key as Stripe shows it in errors: its prefix and last four characters."""
    match = _KEY_PREFIX.match(key)
    prefix = match.group(0) if match else ""
    rest = key[len(prefix) :]
    shown = rest[-4:] if len(rest) > 4 else ""
    return prefix + "*" * (len(rest) - len(shown)) + shown


def presented_key(authorization: str | None) -> str | None:
    """The key in an `Authorization` header: Bearer, or HTTP basic with the key as user name."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def authenticate(authorization: str | None, keys: Iterable[str]) -> None:
    """Raise Stripe's 401 unless the header presents one of `keys`."""
    key = presented_key(authorization)
    if key is None:
        raise AuthenticationError(_NO_KEY)
    # Compare with every key in constant time, so timing says nothing about which nearly matched.
    matched = False
    for known in keys:
        matched |= hmac.compare_digest(key.encode(), known.encode())
    if not matched:
        raise AuthenticationError(f"Invalid API Key provided: {mask_key(key)}")
