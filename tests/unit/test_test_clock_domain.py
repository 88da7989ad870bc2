"""Test clocks: every status in the table, and every move allowed or refused by it."""

import itertools

import pytest

from ledger.domain import test_clock as domain
from ledger.domain.aggregate import State
from ledger.domain.test_clock import TRANSITIONS, Status
from ledger.errors import InvalidRequestError

T0 = 1_732_104_000


def clock(status: Status, frozen_time: int = T0) -> State:
    (created,) = domain.decide_create("clock_1", T0, frozen_time, None)
    state = domain.evolve(None, created)
    return State(data=state.data | {"status": status.value})


def test_every_status_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert all(targets <= set(Status) for targets in TRANSITIONS.values())


@pytest.mark.parametrize(("start", "end"), list(itertools.product(Status, Status)))
def test_moves_follow_the_table(start: Status, end: Status) -> None:
    moved = domain._moved
    if end in TRANSITIONS[start]:
        assert moved(clock(start), end).data["status"] == end.value
    else:
        with pytest.raises(AssertionError):
            moved(clock(start), end)


@pytest.mark.parametrize("status", list(Status))
def test_only_a_ready_clock_advances(status: Status) -> None:
    if status is Status.ready:
        (event,) = domain.decide_advance(clock(status), T0 + 60)
        assert domain.evolve(clock(status), event).data["status"] == "advancing"
    else:
        with pytest.raises(InvalidRequestError) as error:
            domain.decide_advance(clock(status), T0 + 60)
        assert error.value.param == "frozen_time"


def test_advance_then_ready_moves_frozen_time() -> None:
    state = clock(Status.ready)
    for event in (*domain.decide_advance(state, T0 + 60),):
        state = domain.evolve(state, event)
    for event in domain.decide_finish_advance(state, T0 + 60):
        state = domain.evolve(state, event)
    assert (state.data["status"], state.data["frozen_time"]) == ("ready", T0 + 60)


def test_a_failed_advance_is_internal_failure_for_good() -> None:
    state = domain.evolve(
        clock(Status.ready), domain.decide_advance(clock(Status.ready), T0 + 1)[0]
    )
    state = domain.evolve(state, domain.decide_fail_advance(state)[0])
    assert state.data["status"] == "internal_failure"
    assert TRANSITIONS[Status.internal_failure] == frozenset()
