"""Stripe-style prefixed random identifiers (`cus_…`, `pi_…`, `evt_…`)."""

import hashlib
import secrets
import string

_ALPHABET = string.digits + string.ascii_letters

# Stripe's own lengths: customers are short, most other objects are 24 characters.
_BODY_LENGTH: dict[str, int] = {"cus": 14, "acct": 16, "req": 14}
_BODY_LENGTH_DEFAULT = 24
# Random bytes per id: enough that every character of the longest body is uniform
# (62**24 < 2**143, and 8 bytes more make the modulo bias negligible).
_RANDOM_BYTES = 26


# Two base-62 digits at a time (least significant first, as one digit at a time would give):
# half the big-integer divisions; replays derive an event id for every event.
_PAIRS = [_ALPHABET[index % 62] + _ALPHABET[index // 62] for index in range(62 * 62)]


def _base62(number: int, length: int) -> str:
    chars = []
    for _ in range(length // 2):
        number, index = divmod(number, 62 * 62)
        chars.append(_PAIRS[index])
    if length % 2:
        chars.append(_ALPHABET[number % 62])
    return "".join(chars)


def new_id(prefix: str) -> str:
    """A fresh random id with Stripe's prefix and typical length."""
    length = _BODY_LENGTH.get(prefix, _BODY_LENGTH_DEFAULT)
    # One call for the system's randomness, not one per character.
    number = int.from_bytes(secrets.token_bytes(_RANDOM_BYTES), "big")
    return f"{prefix}_" + _base62(number, length)


def random_string(length: int) -> str:
    """`length` random base-62 characters (secrets' randomness, drawn in one call)."""
    number = int.from_bytes(secrets.token_bytes(length * 6 // 8 + 8), "big")
    return _base62(number, length)


def derived_id(prefix: str, *parts: object) -> str:
    """A deterministic id from `parts`, so a rebuild reproduces the same id."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=18).digest()
    return f"{prefix}_" + _base62(
        int.from_bytes(digest, "big"), _BODY_LENGTH.get(prefix, _BODY_LENGTH_DEFAULT)
    )


def prefix_of(object_id: str) -> str:
    """The prefix of an id (`"cus"` for `"cus_123"`), or `""` if it has none."""
    head, sep, _ = object_id.partition("_")
    return head if sep else ""
