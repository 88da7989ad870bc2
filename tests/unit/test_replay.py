"""The pure parts of replay: derived ids that never change, decoding, and the bulk replayers."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import limits
from ledger.domain.customer import (
    CustomerCreated,
    CustomerDeleted,
    CustomerUpdated,
    blank_customer,
)
from ledger.domain.events import DomainEvent, decode
from ledger.ids import _base62, derived_id
from ledger.projections import objects as objects_module
from ledger.projections.objects import OBJECT_COLUMNS, STRIPE_EVENT_COLUMNS, ObjectsReplay
from ledger.store.events import RecordedEvent

PLATFORM = "acct_1Platform"
NO_CURSOR: Any = None  # COPY is replaced by Collect, or not reached
AT = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


def test_derived_ids_are_the_ones_already_stored() -> None:
    # Stripe event ids in existing databases were derived with these values: a rebuild must
    # reproduce them, so the algorithm may get faster but never different.
    assert derived_id("evt", 1, 0) == "evt_OndlgbV7qRGTuRPl4kR4Pomf"
    assert derived_id("evt", 123456789, 3) == "evt_27I1Nmk4kHybG0V7Hwau0KMM"
    assert derived_id("cus", "x", 7) == "cus_x6ACZRjjPzm1nV"
    assert derived_id("acct", 42) == "acct_DFuAuhK208kYpqHu"
    assert derived_id("txn", "ch_1", "refund", 2) == "txn_povKcatZwBVsuJYj4pA8bEzT"


def _base62_one_digit_at_a_time(number: int, length: int) -> str:
    alphabet = string.digits + string.ascii_letters
    chars = []
    for _ in range(length):
        number, index = divmod(number, 62)
        chars.append(alphabet[index])
    return "".join(chars)


def test_base62_two_digits_at_a_time_matches_one_at_a_time() -> None:
    rng = random.Random(6)
    for _ in range(2000):
        number = rng.getrandbits(rng.choice((6, 64, 144, 208)))
        length = rng.randrange(0, 30)
        assert _base62(number, length) == _base62_one_digit_at_a_time(number, length)


def test_decoding_an_event_newer_than_the_code_is_refused() -> None:
    with pytest.raises(AssertionError, match="newer than the code"):
        decode("customer.updated", 2, {"changes": {}})


def test_decoding_validates_like_model_validate() -> None:
    data = {"changes": {"name": "Jenny", "metadata": {"a": "1"}}}
    assert decode("customer.updated", 1, data) == CustomerUpdated.model_validate(data)
    with pytest.raises(ValueError):
        decode("customer.updated", 1, {"changes": "not an object"})


def recorded(position: int, stream_id: str, version: int, event: DomainEvent) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        transaction_id=position,
        account_id=PLATFORM,
        stream_id=stream_id,
        stream_version=version,
        type=event.event_type,
        schema_version=event.schema_version,
        event=event,
        metadata={"request_id": f"req_{position}", "idempotency_key": None},
        occurred_at=AT,
        recorded_at=AT,
    )


class Collect:
    """Stands in for COPY: keeps the rows each table is given."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {"objects": [], "stripe_events": []}

    def __call__(self, cur: Any, table: str, columns: tuple[str, ...], rows: Any) -> None:
        self.rows[table] += [dict(zip(columns, row, strict=True)) for row in rows]


def stream(customer_id: str, first_position: int, updates: int) -> list[RecordedEvent]:
    events: list[DomainEvent] = [CustomerCreated(customer=blank_customer(customer_id, 1, "ABC"))]
    events += [CustomerUpdated(changes={"name": f"n{n}"}) for n in range(updates)]
    return [
        recorded(first_position + n, customer_id, n + 1, event) for n, event in enumerate(events)
    ]


def test_objects_replay_writes_each_object_once_when_its_stream_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "REPLAY_COPY_ROWS", 4)
    target = Collect()
    monkeypatch.setattr(objects_module, "copy_rows", target)
    log = stream("cus_A", 1, 3) + stream("cus_B", 10, 0) + stream("cus_C", 20, 2)
    log.append(recorded(30, "cus_C", 4, CustomerDeleted()))
    replay, cur = ObjectsReplay(PLATFORM), NO_CURSOR

    # Batches that cut streams anywhere; rows are written only once 4 are held.
    replay.feed(cur, log[:2])
    assert target.rows == {"objects": [], "stripe_events": []}
    replay.feed(cur, log[2:5])
    assert [row["id"] for row in target.rows["objects"]] == ["cus_A"]
    replay.feed(cur, log[5:])
    replay.finish(cur)

    objects = {row["id"]: row for row in target.rows["objects"]}
    assert list(objects) == ["cus_A", "cus_B", "cus_C"]
    assert [(o["seq"], o["stream_version"], o["deleted"]) for o in objects.values()] == [
        (1, 4, False),
        (10, 1, False),
        (20, 4, True),
    ]
    assert '"name":"n2"' in objects["cus_A"]["data"]
    stripe_events = target.rows["stripe_events"]
    assert [e["seq"] for e in stripe_events] == [e.position * 1000 for e in log]
    assert set(OBJECT_COLUMNS) == set(target.rows["objects"][0])
    assert set(STRIPE_EVENT_COLUMNS) == set(stripe_events[0])


def test_objects_replay_refuses_a_stream_that_does_not_start_at_version_1() -> None:
    replay, cur = ObjectsReplay(PLATFORM), NO_CURSOR
    replay.feed(cur, stream("cus_A", 1, 1))
    with pytest.raises(AssertionError, match="cus_B: version 2 after 0"):
        event = CustomerUpdated(changes={"name": "x"})
        replay.feed(cur, [recorded(5, "cus_B", 2, event)])
