"""Idempotency keys on real PostgreSQL: one execution per (account, key) for 24 hours."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import (
    FrozenClock,
    IdempotencyError,
    InvalidRequestError,
    Ledger,
    StripeObject,
    limits,
)
from tests.support.accounts import connected_account

# Account objects are left out of the counts: the platform's own is opened with the ledger, and
# connected accounts are made for the tests.
NOT_ACCOUNTS = {
    "events": "stream_id NOT LIKE 'acct\\_%'",
    "objects": "object <> 'account'",
    "stripe_events": "type NOT IN ('account.updated', 'capability.updated')",
    "idempotency_keys": "true",
}


def counts(url: str) -> dict[str, int]:
    """Rows in every table a request can write (besides Account objects)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            table: (conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone() or (0,))[
                0
            ]
            for table, where in NOT_ACCOUNTS.items()
        }


def stored_keys(url: str) -> list[tuple[str, str, str, int | None]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            (account_id, key, operation, http_status)
            for account_id, key, operation, http_status in conn.execute(
                "SELECT account_id, key, operation, http_status FROM idempotency_keys "
                "ORDER BY account_id, key"
            )
        ]


def replayed(obj: StripeObject) -> bool:
    assert obj.last_response is not None
    return obj.last_response.idempotent_replayed


def test_same_key_same_params_replays_without_appending(led: Ledger, database_url: str) -> None:
    params: dict[str, Any] = {"email": "jenny@example.com", "metadata": {"order": "6735"}}
    first = led.customers.create(**params, idempotency_key="key-1")
    after_first = counts(database_url)
    assert after_first == {"events": 1, "objects": 1, "stripe_events": 1, "idempotency_keys": 1}

    second = led.customers.create(**params, idempotency_key="key-1")
    third = led.customers.create(
        metadata={"order": "6735"}, email="jenny@example.com", idempotency_key="key-1"
    )

    assert not replayed(first)
    assert replayed(second) and replayed(third)
    assert second.to_dict() == third.to_dict() == first.to_dict()
    assert second.last_response and first.last_response
    assert second.last_response.request_id != first.last_response.request_id
    assert counts(database_url) == after_first
    # Without a key the same request runs again.
    again = led.customers.create(**params)
    assert again.id != first.id and not replayed(again)


def test_same_key_different_params_is_an_idempotency_error(led: Ledger, database_url: str) -> None:
    first = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    before = counts(database_url)
    for different in (
        {"email": "other@example.com"},
        {"email": "jenny@example.com", "name": "Jenny"},
        {"email": "jenny@example.com", "expand": ["test_clock"]},
    ):
        with pytest.raises(IdempotencyError) as raised:
            led.customers.create(**different, idempotency_key="key-1")
        error = raised.value
        assert error.type == "idempotency_error"
        assert error.http_status == 400
        body = error.to_dict()["error"]
        assert body["type"] == "idempotency_error"
        assert body["message"].startswith(
            "Keys for idempotent requests can only be used with the same parameters"
        )
        assert "key-1" in body["message"]
    assert counts(database_url) == before
    # The stored response is intact.
    replay = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert replayed(replay) and replay.to_dict() == first.to_dict()


def test_same_key_on_another_endpoint_is_an_idempotency_error(
    led: Ledger, database_url: str
) -> None:
    customer = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    before = counts(database_url)
    with pytest.raises(IdempotencyError) as raised:
        led.customers.update(customer.id, email="jenny@example.com", idempotency_key="key-1")
    assert raised.value.http_status == 400
    assert raised.value.to_dict()["error"]["type"] == "idempotency_error"
    assert "same endpoint" in raised.value.message
    with pytest.raises(IdempotencyError):
        led.customers.delete(customer.id, idempotency_key="key-1")
    assert counts(database_url) == before
    assert not led.customers.retrieve(customer.id).get("deleted", False)

    # A key first used on one customer's update is refused on another customer's update.
    other = led.customers.create(email="other@example.com")
    led.customers.update(customer.id, name="Jenny", idempotency_key="key-2")
    with pytest.raises(IdempotencyError):
        led.customers.update(other.id, name="Jenny", idempotency_key="key-2")
    assert led.customers.retrieve(other.id).name is None


def test_key_longer_than_255_characters_is_refused(led: Ledger, database_url: str) -> None:
    too_long = "k" * (limits.IDEMPOTENCY_KEY_LENGTH_MAX + 1)
    with pytest.raises(InvalidRequestError) as raised:
        led.customers.create(email="jenny@example.com", idempotency_key=too_long)
    error = raised.value
    assert error.param == "idempotency_key"
    assert error.http_status == 400
    assert error.to_dict()["error"]["type"] == "invalid_request_error"
    assert counts(database_url)["events"] == 0

    longest = "k" * limits.IDEMPOTENCY_KEY_LENGTH_MAX
    first = led.customers.create(email="jenny@example.com", idempotency_key=longest)
    second = led.customers.create(email="jenny@example.com", idempotency_key=longest)
    assert replayed(second) and second.to_dict() == first.to_dict()

    with pytest.raises(InvalidRequestError) as empty:
        led.customers.create(email="jenny@example.com", idempotency_key="")
    assert empty.value.param == "idempotency_key"


def test_keys_are_scoped_per_account(led: Ledger, database_url: str) -> None:
    other = connected_account(led)
    platform = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    connected = led.customers.create(
        email="jenny@example.com", idempotency_key="key-1", stripe_account=other
    )
    assert not replayed(connected)
    assert connected.id != platform.id
    assert counts(database_url)["events"] == 2

    connected_again = led.customers.create(
        email="jenny@example.com", idempotency_key="key-1", stripe_account=other
    )
    platform_again = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert replayed(connected_again) and connected_again.to_dict() == connected.to_dict()
    assert replayed(platform_again) and platform_again.to_dict() == platform.to_dict()
    assert counts(database_url)["events"] == 2
    assert [(a, k) for a, k, _, _ in stored_keys(database_url)] == sorted(
        [(led.platform_account_id, "key-1"), (other, "key-1")]
    )
    # Different params on one account do not disturb the other account's key.
    with pytest.raises(IdempotencyError):
        led.customers.create(email="x@example.com", idempotency_key="key-1", stripe_account=other)


def test_key_expires_after_24_hours(led: Ledger, database_url: str, clock: FrozenClock) -> None:
    first = led.customers.create(email="jenny@example.com", idempotency_key="key-1")

    clock.advance(timedelta(hours=23, minutes=59))
    still = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert replayed(still) and still.to_dict() == first.to_dict()
    assert counts(database_url)["events"] == 1

    clock.advance(timedelta(hours=1, minutes=1))  # 25 h after the first request
    renewed = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert not replayed(renewed)
    assert renewed.id != first.id
    assert renewed.created == first.created + 25 * 3600
    assert counts(database_url)["events"] == 2

    # The key now holds the new response, for another 24 hours.
    replay = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert replayed(replay) and replay.to_dict() == renewed.to_dict()

    # Once expired, a key may even be used for another request.
    clock.advance(timedelta(hours=25))
    updated = led.customers.update(first.id, name="Jenny", idempotency_key="key-1")
    assert not replayed(updated) and updated.name == "Jenny"
    assert stored_keys(database_url) == [
        (led.platform_account_id, "key-1", f"POST /v1/customers/{first.id}", 200)
    ]


def test_failed_request_stores_nothing(led: Ledger, database_url: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        led.customers.create(email="not-an-email", idempotency_key="key-1")
    assert raised.value.param == "email"
    assert raised.value.code == "email_invalid"
    assert counts(database_url) == {
        "events": 0,
        "objects": 0,
        "stripe_events": 0,
        "idempotency_keys": 0,
    }
    # The same failure again is not a replay: it is re-evaluated and fails the same way.
    with pytest.raises(InvalidRequestError):
        led.customers.create(email="not-an-email", idempotency_key="key-1")

    fixed = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert not replayed(fixed)
    assert fixed.email == "jenny@example.com"
    again = led.customers.create(email="jenny@example.com", idempotency_key="key-1")
    assert replayed(again) and again.to_dict() == fixed.to_dict()
    assert counts(database_url)["events"] == 1

    # A request refused inside its command (no such customer) frees the key as well.
    with pytest.raises(InvalidRequestError) as missing:
        led.customers.update("cus_missing", name="Jenny", idempotency_key="key-2")
    assert missing.value.http_status == 404
    updated = led.customers.update(fixed.id, name="Jenny", idempotency_key="key-2")
    assert not replayed(updated) and updated.name == "Jenny"


def test_concurrent_requests_with_one_key_execute_once(led: Ledger, database_url: str) -> None:
    threads = 8
    start = threading.Barrier(threads)

    def create(_: int) -> StripeObject:
        start.wait()
        return led.customers.create(
            email="jenny@example.com", metadata={"n": "1"}, idempotency_key="key-1"
        )

    with ThreadPoolExecutor(threads) as pool:
        responses = list(pool.map(create, range(threads)))

    bodies = [response.to_dict() for response in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sorted(replayed(response) for response in responses) == [False] + [True] * 7
    assert counts(database_url) == {
        "events": 1,
        "objects": 1,
        "stripe_events": 1,
        "idempotency_keys": 1,
    }
    assert led.customers.list().to_dict()["data"] == [bodies[0]]
