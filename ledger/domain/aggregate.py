"""How an aggregate plugs into the projections: evolve its Stripe JSON, and name its Stripe events.

Aggregate state is the object's Stripe JSON (plus optional internal fields the domain needs but
Stripe does not show). `evolve` is pure and total over the aggregate's own events; the objects
projection and the command path both use it, so live state and rebuilt state cannot diverge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.events import DomainEvent

__all__ = [
    "Aggregate",
    "State",
    "StripeEventSpec",
    "aggregate_for_stream",
    "diff_previous",
    "register",
]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class State:
    """An object's Stripe JSON, what the domain keeps beside it, and whether it was deleted."""

    data: JSON
    internal: JSON = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class StripeEventSpec:
    """A Stripe Event to publish: its type, the object snapshot, and what changed."""

    type: str
    object: JSON
    previous_attributes: JSON | None = None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """The pure functions the projections need for one kind of object."""

    object_name: str
    prefix: str
    evolve: Callable[[State | None, DomainEvent], State]
    stripe_events: Callable[[State | None, State, DomainEvent], list[StripeEventSpec]]


_BY_PREFIX: dict[str, Aggregate] = {}


def register(aggregate: Aggregate) -> Aggregate:
    """Make `aggregate` known to the projections by its id prefix."""
    assert aggregate.prefix not in _BY_PREFIX, f"duplicate prefix {aggregate.prefix}"
    _BY_PREFIX[aggregate.prefix] = aggregate
    return aggregate


def aggregate_for_stream(stream_id: str) -> Aggregate:
    """The aggregate whose stream this is, by its id prefix."""
    return _BY_PREFIX[stream_id.partition("_")[0]]


def diff_previous(before: Mapping[str, Any], after: Mapping[str, Any]) -> JSON:
    """Stripe's `previous_attributes`: the old values of what changed.

    Nested hashes (metadata, address…) list only their changed keys, with `null` for a key that
    did not exist before; other values are given whole.
    """
    previous: JSON = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and old.get("object") is None:
            previous[key] = diff_previous(old, new) | dict.fromkeys(new.keys() - old.keys())
        else:
            previous[key] = old
    return previous
