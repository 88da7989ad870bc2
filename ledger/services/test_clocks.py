"""`led.test_helpers.test_clocks`: create, retrieve, list, delete, advance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ledger.clock import to_unix
from ledger.domain import customer as customer_domain
from ledger.domain import test_clock as domain
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Call, Service, stripe_operation
from ledger.services.due import run_due
from ledger.services.queries import Filter, object_list
from ledger.services.runner import JSON, Command, UnitOfWork

__all__ = ["TestClocksService"]

_KIND = "test_clock"
_OBJECT = "test_helpers.test_clock"


class TestClocksService(Service):
    """Stripe's test clocks, which own the time of the customers attached to them."""

    @stripe_operation("POST /v1/test_helpers/test_clocks")
    def create(self, **params: Any) -> StripeObject:
        """Create a test clock at `frozen_time`."""
        operation = "POST /v1/test_helpers/test_clocks"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            clock_id = uow.new_id("clock")
            uow.append(
                clock_id,
                domain.decide_create(
                    clock_id,
                    to_unix(uow.ctx.now),
                    call.params["frozen_time"],
                    call.params.get("name"),
                ),
            )
            return uow.get(clock_id, _OBJECT, _KIND).data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/test_helpers/test_clocks/{test_clock}")
    def retrieve(self, test_clock: str, **params: Any) -> StripeObject:
        """Retrieve a test clock."""
        call = self._begin("GET /v1/test_helpers/test_clocks/{test_clock}", params)
        return self._retrieve(call, test_clock, _OBJECT, _KIND)

    @stripe_operation("GET /v1/test_helpers/test_clocks")
    def list(self, **params: Any) -> ListObject:
        """List test clocks, newest first."""
        original = dict(params)
        call = self._begin("GET /v1/test_helpers/test_clocks", params)
        query = object_list(
            _OBJECT,
            _KIND,
            "/v1/test_helpers/test_clocks",
            call.params,
            extra=(Filter("NOT deleted"),),
        )
        return self._list(call, query, original, lambda p: self.list(**p))

    @stripe_operation("DELETE /v1/test_helpers/test_clocks/{test_clock}")
    def delete(self, test_clock: str, **params: Any) -> StripeObject:
        """Delete a test clock and, as Stripe does, every customer attached to it."""
        operation = f"DELETE /v1/test_helpers/test_clocks/{test_clock}"
        call = self._begin("DELETE /v1/test_helpers/test_clocks/{test_clock}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(test_clock, _OBJECT, _KIND)
            rows = uow.cur.execute(
                "SELECT id FROM objects WHERE account_id = %s AND object = 'customer' "
                "AND NOT deleted AND data->>'test_clock' = %s ORDER BY seq",
                (uow.ctx.account_id, test_clock),
            ).fetchall()
            for (customer_id,) in rows:
                customer = uow.get(customer_id, "customer", "customer")
                uow.append(customer_id, customer_domain.decide_delete(customer))
            uow.append(test_clock, domain.decide_delete(state))
            return {"id": test_clock, "object": _OBJECT, "deleted": True}

        return self._execute(call, operation, command)

    @stripe_operation("POST /v1/test_helpers/test_clocks/{test_clock}/advance")
    def advance(self, test_clock: str, **params: Any) -> StripeObject:
        """Move the clock to `frozen_time`, running everything due for its objects on the way.

        Stripe answers `advancing` and finishes in the background; this ledger runs the work
        before answering, so the clock it returns is already `ready` at its new time.
        """
        path = "POST /v1/test_helpers/test_clocks/{test_clock}/advance"
        call = self._begin(path, params)
        frozen_time = call.params["frozen_time"]

        def start(uow: UnitOfWork) -> JSON:
            state = uow.get(test_clock, _OBJECT, _KIND)
            uow.append(test_clock, domain.decide_advance(state, frozen_time))
            return uow.get(test_clock, _OBJECT, _KIND).data

        operation = f"POST /v1/test_helpers/test_clocks/{test_clock}/advance"
        self._execute(call, operation, start)
        # The rest is the ledger's own work, not a replayable request: no idempotency key.
        internal = Call(replace(call.ctx, idempotency_key=None), {}, call.expand)
        try:
            run_due(self._engine, datetime.fromtimestamp(frozen_time, UTC), test_clock=test_clock)
        except Exception:
            self._execute(internal, f"{operation}#failed", self._settle(test_clock, None))
            raise
        return self._execute(internal, f"{operation}#ready", self._settle(test_clock, frozen_time))

    @staticmethod
    def _settle(test_clock: str, frozen_time: int | None) -> Command:
        """Finish an advance: ready at `frozen_time`, or internal_failure when None."""

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(test_clock, _OBJECT, _KIND)
            if frozen_time is None:
                uow.append(test_clock, domain.decide_fail_advance(state))
            else:
                uow.append(test_clock, domain.decide_finish_advance(state, frozen_time))
            return uow.get(test_clock, _OBJECT, _KIND).data

        return command
