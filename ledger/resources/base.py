"""What every call returns: Stripe's JSON with attribute access.

`StripeObject` wraps the exact JSON Stripe would send; `obj.amount` and `obj["amount"]` both read
it, and `to_dict()` returns a deep copy of it. No Mapping methods (`items`, `keys`, `values`) are
defined, so that Stripe fields with those names (`subscription.items`) stay reachable as
attributes, as in stripe-python.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ListObject", "ResponseInfo", "StripeObject", "wrap"]


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """What the HTTP layer would put in headers: the request id and whether it was replayed."""

    request_id: str
    idempotent_replayed: bool = False
    http_status: int = 200


class StripeObject:
    """A Stripe object: attribute and item access over its JSON."""

    __slots__ = ("_data", "last_response")

    def __init__(self, data: dict[str, Any], last_response: ResponseInfo | None = None) -> None:
        self._data = data
        self.last_response = last_response

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return wrap(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StripeObject):
            return self._data == other._data
        if isinstance(other, dict):
            return self._data == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def get(self, key: str, default: Any = None) -> Any:
        return wrap(self._data[key]) if key in self._data else default

    def to_dict(self) -> dict[str, Any]:
        """Exactly Stripe's JSON for this object (a copy)."""
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        kind = self._data.get("object", "object")
        ident = self._data.get("id")
        return f"<{kind} {ident}>" if ident else f"<{kind}>"


class ListObject(StripeObject):
    """Stripe's list object; `auto_paging_iter()` walks every page."""

    __slots__ = ("_fetch_page", "_params")

    def __init__(
        self,
        data: dict[str, Any],
        last_response: ResponseInfo | None = None,
        fetch_page: Callable[[dict[str, Any]], ListObject] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(data, last_response)
        self._fetch_page = fetch_page
        self._params = dict(params or {})

    def __iter__(self) -> Iterator[Any]:
        return iter(wrap(item) for item in self._data["data"])

    def __len__(self) -> int:
        return len(self._data["data"])

    def auto_paging_iter(self) -> Iterator[Any]:
        """Every item of every page, fetching the next page as needed.

        Walks forward (older) from `starting_after`, or backward (newer) when the first page was
        asked for with `ending_before`, as stripe-python does.
        """
        page: ListObject = self
        backward = "ending_before" in self._params and "starting_after" not in self._params
        while True:
            items = page._data["data"]
            yield from (wrap(item) for item in (reversed(items) if backward else items))
            if not page._data["has_more"] or not items or page._fetch_page is None:
                return
            params = dict(self._params)
            if backward:
                params["ending_before"] = items[0]["id"]
            else:
                params.pop("ending_before", None)
                params["starting_after"] = items[-1]["id"]
            page = page._fetch_page(params)


def wrap(value: Any) -> Any:
    """Wrap nested JSON for attribute access; scalars pass through."""
    if isinstance(value, dict):
        if value.get("object") == "list":
            return ListObject(value)
        return StripeObject(value)
    if isinstance(value, list):
        return [wrap(item) for item in value]
    return value
