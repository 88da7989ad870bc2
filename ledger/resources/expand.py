"""Stripe's `expand[]`: replace ids by the objects they name, along dotted paths.

Which fields expand comes from Stripe's spec (`_spec/expandable.json`). A path walks into a list
through its `data` (`data.customer` on a list, `refunds.data.balance_transaction`). Fields that
Stripe only includes on request (customer `sources`, charge `refunds`…) are registered as
includables by the services that own them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from typing import Any, Protocol

from ledger import limits
from ledger.domain.rules import reject, reject_if

__all__ = ["Includable", "Resolver", "expand", "register_includable", "validate_expand"]

JSON = dict[str, Any]


class Resolver(Protocol):
    """Reads objects of the request's account for expansion."""

    def load_json(self, object_id: str) -> JSON | None:
        """The object's JSON (the deleted stub if deleted), or None."""

    def related_list(self, object_names: Sequence[str], field: str, value: str, url: str) -> JSON:
        """A list object of the live objects of those types whose `field` equals `value`."""


Includable = Callable[[JSON, Resolver], Any]

_INCLUDABLES: dict[tuple[str, str], Includable] = {}


@cache
def _expandable() -> dict[str, dict[str, list[str]]]:
    text = resources.files("ledger._spec").joinpath("expandable.json").read_text()
    table: dict[str, dict[str, list[str]]] = json.loads(text)
    return table


def register_includable(object_name: str, field: str, compute: Includable) -> None:
    """Let `expand=[field]` on `object_name` include `compute(object)`."""
    _INCLUDABLES[(object_name, field)] = compute


def validate_expand(value: Any) -> list[str]:
    """`expand` must be a list of dotted paths of at most four levels."""
    reject_if(
        not isinstance(value, list) or not all(isinstance(p, str) for p in value),
        "Invalid array",
        param="expand",
    )
    for path in value:
        reject_if(
            not path or any(not part for part in path.split(".")),
            f"Invalid expand path: '{path}'",
            param="expand",
        )
        reject_if(
            len(path.split(".")) > limits.EXPAND_DEPTH_MAX,
            f"You cannot expand more than {limits.EXPAND_DEPTH_MAX} levels of a property. "
            f"Property: {path}",
            param="expand",
        )
    return list(value)


def expand(body: JSON, paths: Sequence[str], resolver: Resolver) -> JSON:
    """A copy of `body` with every path of `paths` expanded (ids replaced by objects)."""
    if not paths or body.get("deleted") is True:
        # A deleted object's stub has nothing to expand, as with Stripe.
        return body
    result = copy.deepcopy(body)
    for path in paths:
        _expand_path(result, path.split("."), path, resolver)
    return result


def _expand_path(node: JSON, segments: list[str], full_path: str, resolver: Resolver) -> None:
    if node.get("object") == "list" and "data" in node:
        reject_if(
            segments[0] != "data",
            f"This property cannot be expanded ({full_path}).",
            param="expand",
        )
        for item in node["data"]:
            if isinstance(item, dict) and segments[1:]:
                _expand_path(item, segments[1:], full_path, resolver)
        return
    table = _expandable().get(str(node.get("object")), {})
    for cut in range(len(segments), 0, -1):
        field_path = ".".join(segments[:cut])
        if field_path not in table:
            continue
        container = node
        for part in segments[: cut - 1]:
            container = container.get(part) or {}
        leaf = segments[cut - 1]
        value = container.get(leaf)
        if isinstance(value, str):
            loaded = resolver.load_json(value)
            if loaded is not None:
                container[leaf] = value = copy.deepcopy(loaded)
        if segments[cut:] and isinstance(value, dict):
            _expand_path(value, segments[cut:], full_path, resolver)
        return
    includable = _INCLUDABLES.get((str(node.get("object")), segments[0]))
    if includable is not None:
        node[segments[0]] = value = includable(node, resolver)
        if segments[1:] and isinstance(value, dict):
            _expand_path(value, segments[1:], full_path, resolver)
        return
    reject(f"This property cannot be expanded ({full_path}).", param="expand")
