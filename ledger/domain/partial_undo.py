"""An amount undone in parts: a transfer's reversals (`trr_…`), a fee's refunds (`fr_…`).

The parent object counts what its parts undid (`amount_reversed`), says when they undid all of
it (`reversed`), and embeds its newest parts as Stripe's list of 10; `internal` keeps them all,
newest first. A part's metadata is all an update may change, and the parent's copy follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ledger.domain.aggregate import JSON, State
from ledger.domain.rules import apply_metadata, check_partial_amount
from ledger.money import currency, format_amount

__all__ = ["PARTS_SHOWN_MAX", "PartialUndo", "updated_part"]

# The parent's JSON embeds its newest parts, as Stripe's list of 10 does.
PARTS_SHOWN_MAX: Final = 10


@dataclass(frozen=True, slots=True)
class PartialUndo:
    """Where a parent keeps its parts, and Stripe's refusals of a new part."""

    parts: str  # the embedded list, and the `internal` key of every part: "reversals"
    amount_undone: str  # the sum of the parts' amounts: "amount_reversed"
    undone: str  # whether the parts undid the whole amount: "reversed"
    url: str  # the list's URL, `{id}` for the parent's id: "/v1/transfers/{id}/reversals"
    exhausted: str  # the refusal when nothing is left, `{id}` for the parent's id
    too_large: str  # the refusal of too much, `{wanted}` and `{left}` as amounts of money

    def remaining(self, parent: JSON) -> int:
        """What is left to undo."""
        return int(parent["amount"]) - int(parent[self.amount_undone])

    def check_amount(self, parent: JSON, requested: int | None) -> int:
        """Stripe's refusals for undoing `requested` (None: all that is left); the amount."""
        money = currency(parent["currency"])
        return check_partial_amount(
            requested,
            self.remaining(parent),
            exhausted=self.exhausted.format(id=parent["id"]),
            too_large=lambda wanted, left: self.too_large.format(
                wanted=format_amount(wanted, money), left=format_amount(left, money)
            ),
        )

    def list_json(self, parent_id: str, parts: list[JSON]) -> JSON:
        """The embedded list of `parts` (newest first)."""
        return {
            "object": "list",
            "data": parts[:PARTS_SHOWN_MAX],
            "has_more": len(parts) > PARTS_SHOWN_MAX,
            "total_count": len(parts),
            "url": self.url.format(id=parent_id),
        }

    def added(self, parent: State, part: JSON) -> State:
        """The parent after `part` undid `part["amount"]` more of it."""
        undone = int(parent.data[self.amount_undone]) + int(part["amount"])
        assert undone <= int(parent.data["amount"]), parent.data["id"]
        changes = {self.amount_undone: undone, self.undone: undone == int(parent.data["amount"])}
        return self._with_parts(parent, [part, *parent.internal[self.parts]], changes)

    def replaced(self, parent: State, part: JSON) -> State:
        """The parent after an update of `part` (its embedded copy follows)."""
        parts = [part if item["id"] == part["id"] else item for item in parent.internal[self.parts]]
        return self._with_parts(parent, parts, {})

    def _with_parts(self, parent: State, parts: list[JSON], changes: JSON) -> State:
        data = parent.data | changes | {self.parts: self.list_json(parent.data["id"], parts)}
        return State(data=data, internal=parent.internal | {self.parts: parts})


def updated_part(part: JSON, params: Mapping[str, object]) -> JSON | None:
    """`part` after an update of its metadata; None when the update changes nothing."""
    if "metadata" not in params:
        return None
    update = params["metadata"]
    assert isinstance(update, dict | str)
    metadata = apply_metadata(part["metadata"] or {}, update)
    return None if metadata == part["metadata"] else part | {"metadata": metadata}
