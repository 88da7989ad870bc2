"""Test clocks: lifecycle, Stripe's statuses and events, and due work scoped to a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, InvalidRequestError, Ledger
from ledger.services import due
from ledger.services.due import DueItem, DueJob
from ledger.services.runner import JSON, Command, UnitOfWork
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid

START = 1_732_104_000  # the FrozenClock fixture's time


def test_create_retrieve_list(led: Ledger) -> None:
    clock = led.test_helpers.test_clocks.create(frozen_time=START - 3600, name="billing")
    assert_valid(clock)
    assert clock.to_dict() == {
        "id": clock.id,
        "object": "test_helpers.test_clock",
        "created": START,
        "deletes_after": START + 30 * 86400,
        "frozen_time": START - 3600,
        "livemode": False,
        "name": "billing",
        "status": "ready",
    }
    assert clock.id.startswith("clock_")
    assert led.test_helpers.test_clocks.retrieve(clock.id) == clock
    other = led.test_helpers.test_clocks.create(frozen_time=START)
    listed = led.test_helpers.test_clocks.list()
    assert [c.id for c in listed.data] == [other.id, clock.id]
    for item in listed.data:
        assert_valid(item)


def test_advance_moves_frozen_time_and_records_events(led: Ledger) -> None:
    clock = led.test_helpers.test_clocks.create(frozen_time=START)
    advanced = led.test_helpers.test_clocks.advance(clock.id, frozen_time=START + 86400)
    assert_valid(advanced)
    assert advanced.status == "ready"
    assert advanced.frozen_time == START + 86400
    types = [e.type for e in led.events.list(type="test_helpers.test_clock.*").data]
    assert types == [
        "test_helpers.test_clock.ready",
        "test_helpers.test_clock.advancing",
        "test_helpers.test_clock.created",
    ]
    for event in led.events.list().data:
        assert_valid(event)


@pytest.mark.parametrize("frozen_time", [START, START - 1])
def test_advance_only_moves_forward(led: Ledger, frozen_time: int) -> None:
    clock = led.test_helpers.test_clocks.create(frozen_time=START)
    before = len(led.read_all(limit=10_000))
    with pytest.raises(InvalidRequestError) as error:
        led.test_helpers.test_clocks.advance(clock.id, frozen_time=frozen_time)
    assert error.value.param == "frozen_time"
    assert error.value.http_status == 400
    assert len(led.read_all(limit=10_000)) == before


def test_missing_clock_is_resource_missing(led: Ledger) -> None:
    with pytest.raises(InvalidRequestError) as error:
        led.test_helpers.test_clocks.advance("clock_nope", frozen_time=START + 1)
    assert (error.value.code, error.value.param, error.value.http_status) == (
        "resource_missing",
        "id",
        404,
    )
    with pytest.raises(InvalidRequestError) as error:
        led.test_helpers.test_clocks.create()
    assert (error.value.code, error.value.param) == ("parameter_missing", "frozen_time")


def test_delete_deletes_the_clock_and_its_customers(led: Ledger) -> None:
    clock = led.test_helpers.test_clocks.create(frozen_time=START)
    attached = led.customers.create(email="a@example.com", test_clock=clock.id)
    free = led.customers.create(email="b@example.com")
    assert attached.test_clock == clock.id
    deleted = led.test_helpers.test_clocks.delete(clock.id)
    assert deleted.to_dict() == {
        "id": clock.id,
        "object": "test_helpers.test_clock",
        "deleted": True,
    }
    assert led.customers.retrieve(attached.id).get("deleted") is True
    assert led.customers.retrieve(free.id).get("deleted") is None
    with pytest.raises(InvalidRequestError):
        led.test_helpers.test_clocks.retrieve(clock.id)
    assert led.test_helpers.test_clocks.list().data == []


def test_clocks_are_isolated_per_account(led: Ledger) -> None:
    other = connected_account(led)
    clock = led.test_helpers.test_clocks.create(frozen_time=START, stripe_account=other)
    with pytest.raises(InvalidRequestError) as error:
        led.test_helpers.test_clocks.retrieve(clock.id)
    assert error.value.http_status == 404


# -- due work -------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Items a fake due job offers, (object id, due time, test clock), and the runs it saw."""

    marks: list[tuple[str, int, str | None]] = field(default_factory=list)
    runs: list[tuple[str, int, str | None]] = field(default_factory=list)


@pytest.fixture
def recorded_job(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Register a due job over the recorder's marks that records each run."""
    recorder = Recorder()
    runs, marks = recorder.runs, recorder.marks

    def find(
        conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
    ) -> list[DueItem]:
        done = {object_id for object_id, _, _ in runs}
        return [
            DueItem(at, "recorded", "acct_x", object_id)
            for object_id, at, clock in marks
            if at <= due_by and clock == test_clock and object_id not in done
        ][:limit]

    def command(item: DueItem) -> Command:
        def run(uow: UnitOfWork) -> JSON:
            clock = next(c for o, _, c in marks if o == item.object_id)
            runs.append((item.object_id, int(uow.ctx.now.timestamp()), clock))
            return {}

        return run

    monkeypatch.setitem(due._JOBS, "recorded", DueJob("recorded", find, command))
    return recorder


def test_run_due_runs_items_in_time_order_at_their_own_time(
    led: Ledger, clock: FrozenClock, recorded_job: Recorder
) -> None:
    recorded_job.marks.extend(
        [
            ("b", START + 200, None),
            ("a", START + 100, None),
            ("c", START + 10_000, None),
            ("t", START + 50, "clock_1"),
        ]
    )
    clock.advance(timedelta(seconds=500))
    assert led.run_due() == 2
    assert recorded_job.runs == [("a", START + 100, None), ("b", START + 200, None)]
    assert led.run_due() == 0


def test_advancing_a_test_clock_runs_only_its_own_items(
    led: Ledger, recorded_job: Recorder
) -> None:
    test_clock = led.test_helpers.test_clocks.create(frozen_time=START)
    recorded_job.marks.extend(
        [
            ("mine", START + 100, test_clock.id),
            ("theirs", START + 100, "clock_other"),
            ("ledger", START + 100, None),
        ]
    )
    led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=START + 1000)
    assert recorded_job.runs == [("mine", START + 100, test_clock.id)]


def test_a_failure_while_advancing_leaves_internal_failure(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_clock = led.test_helpers.test_clocks.create(frozen_time=START)

    def broken(conn: Any, due_by: int, clock: str | None, limit: int) -> list[DueItem]:
        raise RuntimeError("boom")

    monkeypatch.setitem(due._JOBS, "broken", DueJob("broken", broken, lambda item: None))  # type: ignore[arg-type,return-value]
    with pytest.raises(RuntimeError):
        led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=START + 10)
    assert led.test_helpers.test_clocks.retrieve(test_clock.id).status == "internal_failure"
    with pytest.raises(InvalidRequestError):
        led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=START + 20)


def test_a_customer_on_a_test_clock_is_created_at_its_frozen_time(led: Ledger) -> None:
    clock = led.test_helpers.test_clocks.create(frozen_time=START - 86_400)
    customer = led.customers.create(email="a@example.com", test_clock=clock.id)
    assert customer.created == START - 86_400
    assert led.customers.create(email="b@example.com").created == START
