"""Idempotency keys: one execution per (account, key); replays get the stored response.

The key row is inserted at the start of the command's own transaction. A second request with the
same key blocks on that row until the first commits, then reads the stored response: two
concurrent requests execute once. If the first rolls back (a rejected request), the key is free
again, as with Stripe, which saves no result for requests that fail validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg

from ledger import limits
from ledger.errors import IdempotencyError

__all__ = ["Replay", "claim", "record_response"]


@dataclass(frozen=True, slots=True)
class Replay:
    """The response stored for a key, to be returned again."""

    http_status: int
    body: dict[str, Any]


def claim(
    cur: psycopg.Cursor[Any],
    account_id: str,
    key: str,
    operation: str,
    request_hash: str,
    now: datetime,
) -> Replay | None:
    """Claim `key` for this request, or return the response of the request that claimed it."""
    cur.execute(
        "INSERT INTO idempotency_keys (account_id, key, operation, request_hash, created_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (account_id, key, operation, request_hash, now),
    )
    if cur.fetchone() is not None:
        return None
    cur.execute(
        "SELECT operation, request_hash, http_status, response::text, created_at "
        "FROM idempotency_keys WHERE account_id = %s AND key = %s FOR UPDATE",
        (account_id, key),
    )
    row = cur.fetchone()
    assert row is not None, "a conflicting key row is never deleted"
    stored_operation, stored_hash, http_status, response, created_at = row
    if created_at <= now - timedelta(seconds=limits.IDEMPOTENCY_KEY_TTL_SECONDS):
        # Expired: the key starts a new life with this request.
        cur.execute(
            "UPDATE idempotency_keys SET operation = %s, request_hash = %s, created_at = %s, "
            "http_status = NULL, response = NULL WHERE account_id = %s AND key = %s",
            (operation, request_hash, now, account_id, key),
        )
        return None
    if stored_operation != operation:
        raise IdempotencyError(
            "Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{stored_operation}' vs '{operation}'). Try using a key other "
            f"than '{key}' if you meant to execute a different request.",
            code="idempotency_key_in_use",
        )
    if stored_hash != request_hash:
        raise IdempotencyError(
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            code="idempotency_key_in_use",
        )
    assert response is not None, "a claimed key commits together with its response"
    return Replay(http_status=http_status, body=orjson.loads(response))


def record_response(
    cur: psycopg.Cursor[Any], account_id: str, key: str, http_status: int, body: dict[str, Any]
) -> None:
    """Store the response for a claimed key, in the same transaction as the command."""
    cur.execute(
        "UPDATE idempotency_keys SET http_status = %s, response = %s::jsonb "
        "WHERE account_id = %s AND key = %s",
        (http_status, orjson.dumps(body).decode(), account_id, key),
    )
