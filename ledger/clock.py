"""The Clock port: every command reads `now` from one, never from the system directly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FrozenClock", "SystemClock", "to_unix"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FrozenClock:
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, at: datetime | None = None) -> None:
        at = at or datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        self._now = at.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never backwards) and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a FrozenClock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, at: datetime) -> None:
        """Jump to `at`, which must not be in this clock's past."""
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        with self._lock:
            if at < self._now:
                raise ValueError("a FrozenClock only moves forward")
            self._now = at

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"


def to_unix(at: datetime) -> int:
    """Unix seconds, as Stripe's `created` fields carry them."""
    return int(at.timestamp())
