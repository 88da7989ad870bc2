"""Test clocks: a frozen time of their own for the customers attached to them.

`ready → advancing → ready` (or `internal_failure`), then deleted. Advancing runs, in time
order, everything that falls due for the clock's customers up to the new frozen time.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, register
from ledger.domain.events import DomainEvent
from ledger.domain.rules import reject, reject_if

__all__ = [
    "TRANSITIONS",
    "Status",
    "TestClockAdvanced",
    "TestClockAdvancing",
    "TestClockCreated",
    "TestClockDeleted",
    "TestClockFailed",
    "decide_advance",
    "decide_create",
    "decide_delete",
    "decide_fail_advance",
    "decide_finish_advance",
]

# Stripe deletes a test clock 30 days after it was created.
LIFETIME_SECONDS: Final = 30 * 24 * 60 * 60


class Status(StrEnum):
    ready = "ready"
    advancing = "advancing"
    internal_failure = "internal_failure"


TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.ready: frozenset({Status.advancing}),
    Status.advancing: frozenset({Status.ready, Status.internal_failure}),
    Status.internal_failure: frozenset(),
}


class TestClockCreated(DomainEvent):
    event_type = "test_helpers.test_clock.created"
    test_clock: JSON


class TestClockAdvancing(DomainEvent):
    event_type = "test_helpers.test_clock.advancing"
    frozen_time: int


class TestClockAdvanced(DomainEvent):
    event_type = "test_helpers.test_clock.ready"
    frozen_time: int


class TestClockFailed(DomainEvent):
    event_type = "test_helpers.test_clock.internal_failure"


class TestClockDeleted(DomainEvent):
    event_type = "test_helpers.test_clock.deleted"


def decide_create(
    clock_id: str, created: int, frozen_time: int, name: str | None
) -> list[DomainEvent]:
    """A new clock, ready, at `frozen_time`."""
    return [
        TestClockCreated(
            test_clock={
                "id": clock_id,
                "object": "test_helpers.test_clock",
                "created": created,
                "deletes_after": created + LIFETIME_SECONDS,
                "frozen_time": frozen_time,
                "livemode": False,
                "name": name,
                "status": Status.ready.value,
            }
        )
    ]


def decide_advance(state: State, frozen_time: int) -> list[DomainEvent]:
    """Start advancing to `frozen_time`, which must be later than the clock's time."""
    clock = state.data
    if Status(clock["status"]) is not Status.ready:
        reject(
            f"Test clock {clock['id']} cannot be advanced because its status is "
            f"{clock['status']}; it must be ready.",
            code="test_clock_status_invalid",
            param="frozen_time",
        )
    reject_if(
        frozen_time <= clock["frozen_time"],
        "The frozen time must be after the current frozen time of the test clock "
        f"({clock['frozen_time']}).",
        code="parameter_invalid_integer",
        param="frozen_time",
    )
    return [TestClockAdvancing(frozen_time=frozen_time)]


def decide_finish_advance(state: State, frozen_time: int) -> list[DomainEvent]:
    """Everything due was run: the clock is ready at its new time."""
    assert Status(state.data["status"]) is Status.advancing
    return [TestClockAdvanced(frozen_time=frozen_time)]


def decide_fail_advance(state: State) -> list[DomainEvent]:
    """Running the due work failed: the clock cannot be used any more, as with Stripe."""
    assert Status(state.data["status"]) is Status.advancing
    return [TestClockFailed()]


def decide_delete(state: State) -> list[DomainEvent]:
    assert not state.deleted
    return [TestClockDeleted()]


def _moved(state: State, status: Status, **changes: object) -> State:
    assert status in TRANSITIONS[Status(state.data["status"])], (state.data["status"], status)
    return State(data=state.data | {"status": status.value} | changes, internal=state.internal)


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case TestClockCreated(test_clock=clock):
            assert state is None
            return State(data=clock)
        case TestClockAdvancing():
            assert state is not None
            return _moved(state, Status.advancing)
        case TestClockAdvanced(frozen_time=frozen_time):
            assert state is not None
            return _moved(state, Status.ready, frozen_time=frozen_time)
        case TestClockFailed():
            assert state is not None
            return _moved(state, Status.internal_failure)
        case TestClockDeleted():
            assert state is not None and not state.deleted
            return State(data=state.data, internal=state.internal, deleted=True)
    raise AssertionError(f"test clock cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    return [StripeEventSpec(event.event_type, after.data)]


TEST_CLOCK = register(Aggregate("test_helpers.test_clock", "clock", evolve, stripe_events))
