"""Domain events: frozen, past-tense, versioned facts. The log stores them; nothing edits them.

Each event class names its `event_type` and `schema_version`. When an event's shape must change,
bump `schema_version` and register an upcaster from the old version: stored events are upcast on
read, never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["DomainEvent", "decode", "event_class", "register_upcaster", "upcast"]

JSONDict = dict[str, Any]
Upcaster = Callable[[JSONDict], JSONDict]

_CLASSES: dict[str, type[DomainEvent]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class DomainEvent(BaseModel):
    """Base of every domain event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is not None:
            assert event_type not in _CLASSES, f"duplicate event type {event_type}"
            _CLASSES[event_type] = cls

    def payload(self) -> JSONDict:
        """The JSON the log stores for this event."""
        return self.model_dump(mode="json")


def event_class(event_type: str) -> type[DomainEvent]:
    """The class registered for `event_type`."""
    return _CLASSES[event_type]


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register `fn(data) -> data` that turns version `from_version` into `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        assert key not in _UPCASTERS, f"duplicate upcaster {key}"
        _UPCASTERS[key] = fn
        return fn

    return register


def upcast(event_type: str, schema_version: int, data: JSONDict) -> JSONDict:
    """Bring stored `data` of `schema_version` up to the class's current version."""
    target = _CLASSES[event_type].schema_version
    assert schema_version <= target, f"{event_type} v{schema_version} is newer than the code"
    while schema_version < target:
        data = _UPCASTERS[(event_type, schema_version)](data)
        schema_version += 1
    return data


def decode(event_type: str, schema_version: int, data: JSONDict) -> DomainEvent:
    """A stored event as its current class, upcast as needed."""
    cls = _CLASSES[event_type]
    if schema_version != cls.schema_version:
        data = upcast(event_type, schema_version, data)
    # What `model_validate` calls, without its per-call overhead (replays decode millions).
    event: DomainEvent = cls.__pydantic_validator__.validate_python(data)
    return event
