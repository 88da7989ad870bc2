"""`led.events`: Stripe's Event objects, derived from the domain log."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from ledger.domain.rules import reject_if
from ledger.errors import LedgerError, resource_missing
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.queries import Filter, ListQuery, created_filters
from ledger.services.runner import JSON

__all__ = ["EventsService"]

_TYPES_MAX = 20


class EventsService(Service):
    """Stripe's Events API: retrieve and list."""

    @stripe_operation("GET /v1/events/{id}")
    def retrieve(self, id: str, **params: Any) -> StripeObject:
        """Retrieve an event by id."""
        call = self._begin("GET /v1/events/{id}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            row = conn.execute(
                "SELECT data::text FROM stripe_events WHERE account_id = %s AND id = %s",
                (call.ctx.account_id, id),
            ).fetchone()
            if row is None:
                raise resource_missing("event", id)
            data: JSON = orjson.loads(row[0])
            return data

        return self._read(call, read)

    @stripe_operation("GET /v1/events")
    def list(self, **params: Any) -> ListObject:
        """List events, newest first; filters `type` (with `*`), `types`, `created`."""
        original = dict(params)
        call = self._begin("GET /v1/events", params)
        filters = list(created_filters(call.params.get("created")))
        event_type = call.params.get("type")
        types = call.params.get("types")
        try:
            reject_if(
                event_type is not None and types is not None,
                "You may only specify one of these parameters: type, types.",
                code="parameters_exclusive",
                param="types",
            )
            reject_if(
                types is not None and len(types) > _TYPES_MAX,
                f"You may pass at most {_TYPES_MAX} values in types.",
                param="types",
            )
        except LedgerError as error:
            error.request_id = call.ctx.request_id
            raise
        if event_type is not None:
            if "*" in event_type:
                pattern = event_type.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                filters.append(Filter("type LIKE %s", (pattern.replace("*", "%"),)))
            else:
                filters.append(Filter("type = %s", (event_type,)))
        if types is not None:
            filters.append(Filter("type = ANY(%s)", (list(types),)))
        if call.params.get("delivery_success") is False:
            # No webhook endpoint can fail a delivery here: every event counts as delivered.
            filters.append(Filter("false"))
        query = ListQuery("stripe_events", "event", "/v1/events", filters=tuple(filters))
        return self._list(call, query, original, lambda p: self.list(**p))
