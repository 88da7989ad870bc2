"""`led.payment_intents`: create, retrieve, update, list, confirm, capture, cancel.

A confirmation asks the engine's processor for an authorization *before* deciding, then records
the answer: the intent's new status, its charge, and the charge's balance transaction, in one
transaction. A decline is committed and then raised as Stripe's CardError (HTTP 402).
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from ledger.domain import payment_intent as domain
from ledger.domain.aggregate import State
from ledger.domain.payment_method import card_for
from ledger.domain.rules import reject
from ledger.errors import resource_missing
from ledger.ids import derived_id, new_id, random_string
from ledger.processor import Authorization
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Service, stripe_operation
from ledger.services.destination_charges import (
    book_connect_charge,
    check_connect_params,
    check_connect_terms,
    direct_charge,
    lock_for_capture,
)
from ledger.services.payment_methods import attach_payment_method, resolve_payment_method
from ledger.services.queries import fetch_object, object_list
from ledger.services.runner import JSON, Engine, Failed, UnitOfWork

__all__ = ["PaymentIntentsService", "load_intent", "record_attempt"]

_KIND: Final = "payment_intent"  # "No such payment_intent: 'pi_…'"
_PARAM: Final = "intent"
_PAYMENT_METHOD_KIND: Final = "PaymentMethod"
_CLIENT_SECRET_LENGTH: Final = 25
# Parameters the ledger does not model yet: refused plainly, never ignored.
_UNSUPPORTED: Final = ("mandate", "mandate_data", "payment_method_data")


def _refuse_unsupported(params: JSON) -> None:
    for name in _UNSUPPORTED:
        if name in params:
            reject(
                f"The ledger does not support the '{name}' parameter of PaymentIntents yet.",
                code="parameter_unsupported",
                param=name,
            )


def _client_secret(payment_intent_id: str) -> str:
    return f"{payment_intent_id}_secret_{random_string(_CLIENT_SECRET_LENGTH)}"


def load_intent(uow: UnitOfWork, intent: str) -> State:
    """The PaymentIntent `intent` of the request's account, or Stripe's 404."""
    return uow.get(intent, "payment_intent", _KIND, _PARAM)


def _payment_method(uow: UnitOfWork, payment_method_id: str) -> State:
    return uow.get(payment_method_id, "payment_method", _PAYMENT_METHOD_KIND, "payment_method")


def record_attempt(
    engine: Engine,
    uow: UnitOfWork,
    state: State,
    plan: domain.ConfirmPlan,
    authorization: Authorization,
    payment_method: State,
) -> tuple[JSON, Failed | None]:
    """Append what the processor's answer means; the intent's JSON and the decline, if any."""
    intent_id = state.data["id"]
    if plan.capture:
        lock_for_capture(uow, state.data)
    ctx = domain.PaymentContext(
        account_id=uow.ctx.account_id,
        now=uow.ctx.now,
        pricing=engine.pricing,
        charge_id=uow.new_id("ch"),
        balance_transaction_id=uow.new_id("txn"),
        source_id=new_id("src"),
        card=card_for(payment_method),
        payment_method=payment_method.data,
        direct=direct_charge(uow),
    )
    attempt = domain.decide_attempt(state, plan, authorization, ctx)
    for stream_id, events in attempt.appends:
        uow.append(stream_id, events)
    after = load_intent(uow, intent_id).data
    if attempt.decline is not None:
        error = attempt.decline.card_error(
            charge=attempt.charge, payment_intent=after, payment_method=payment_method.data
        )
        return after, Failed(error)
    if after["status"] == domain.Status.succeeded:
        book_connect_charge(uow, after["latest_charge"])
    paid = after["status"] in (domain.Status.succeeded, domain.Status.requires_capture)
    if paid and after["setup_future_usage"] and after["customer"]:
        # A PaymentIntent with setup_future_usage saves its PaymentMethod to the customer once
        # the payment succeeds (https://docs.stripe.com/payments/save-during-payment).
        fresh = _payment_method(uow, payment_method.data["id"])
        attach_payment_method(uow, fresh, after["customer"])
    return after, None


class PaymentIntentsService(Service):
    """Stripe's PaymentIntents API, for card payments."""

    @stripe_operation("POST /v1/payment_intents")
    def create(self, **params: Any) -> StripeObject:
        """Create a PaymentIntent; with `confirm=True`, confirm it in the same request."""
        operation = "POST /v1/payment_intents"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON | Failed:
            p = call.params
            _refuse_unsupported(p)  # in the command, so the error has a request id
            if p.get("customer"):
                uow.get(p["customer"], "customer", "customer", "customer")
            payment_method = (
                resolve_payment_method(uow, p["payment_method"])
                if p.get("payment_method")
                else None
            )
            intent_id = uow.new_id("pi")
            direct = direct_charge(uow)
            events = domain.decide_create(
                intent_id,
                int(uow.ctx.now.timestamp()),
                _client_secret(intent_id),
                p,
                payment_method=None if payment_method is None else payment_method.data["id"],
                payment_method_configuration=derived_id("pmc", uow.ctx.account_id),
                application=None if direct is None else direct.application,
            )
            check_connect_params(uow, p, p)
            uow.append(intent_id, events)
            state = load_intent(uow, intent_id)
            if payment_method is not None:
                domain.check_payment_method(state, payment_method.data, customer=p.get("customer"))
            if not p.get("confirm"):
                return state.data
            return self._confirm(uow, state, p, payment_method)

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/payment_intents/{intent}")
    def retrieve(self, intent: str, **params: Any) -> StripeObject:
        """Retrieve a PaymentIntent."""
        call = self._begin("GET /v1/payment_intents/{intent}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, intent)
            if found is None or found[0].get("object") != "payment_intent":
                raise resource_missing(_KIND, intent, _PARAM)
            return found[0]

        return self._read(call, read)

    @stripe_operation("POST /v1/payment_intents/{intent}")
    def update(self, intent: str, **params: Any) -> StripeObject:
        """Update a PaymentIntent (payment fields only while it can still be confirmed)."""
        call = self._begin("POST /v1/payment_intents/{intent}", params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            _refuse_unsupported(p)
            state = load_intent(uow, intent)
            if p.get("customer"):
                uow.get(p["customer"], "customer", "customer", "customer")
            payment_method: State | None = None
            if "payment_method" in p:
                domain.check_action(state, domain.Action.update, field="payment_method")
                payment_method = resolve_payment_method(uow, p["payment_method"])
                customer = p.get("customer") or state.data["customer"]
                domain.check_payment_method(state, payment_method.data, customer=customer)
            events = domain.decide_update(
                state,
                p,
                payment_method=None if payment_method is None else payment_method.data["id"],
            )
            connect = {
                name: p[name] or None
                for name in ("application_fee_amount", "transfer_data")
                if name in p
            }
            check_connect_params(uow, p, state.data | connect)
            uow.append(intent, events)
            return load_intent(uow, intent).data

        return self._execute(call, f"POST /v1/payment_intents/{intent}", command)

    @stripe_operation("POST /v1/payment_intents/{intent}/confirm")
    def confirm(self, intent: str, **params: Any) -> StripeObject:
        """Confirm a PaymentIntent: authorize its payment method for its amount."""
        call = self._begin("POST /v1/payment_intents/{intent}/confirm", params)

        def command(uow: UnitOfWork) -> JSON | Failed:
            p = call.params
            _refuse_unsupported(p)
            state = load_intent(uow, intent)
            if (
                "payment_method" in p
                and state.data["status"] not in domain.ACTIONS[domain.Action.confirm]
            ):
                raise domain.unexpected_state(state, domain.Action.update, field="payment_method")
            payment_method = (
                resolve_payment_method(uow, p["payment_method"])
                if p.get("payment_method")
                else None
            )
            return self._confirm(uow, state, p, payment_method)

        return self._execute(call, f"POST /v1/payment_intents/{intent}/confirm", command)

    def _confirm(
        self, uow: UnitOfWork, state: State, params: JSON, payment_method: State | None
    ) -> JSON | Failed:
        plan = domain.plan_confirm(
            state,
            params,
            payment_method=None if payment_method is None else payment_method.data["id"],
        )
        if payment_method is None:
            payment_method = _payment_method(uow, plan.payment_method)
        domain.check_payment_method(state, payment_method.data, customer=state.data["customer"])
        check_connect_terms(uow, state.data)
        # Ask the network before deciding; the answer is recorded, so replays never ask again.
        authorization = self._engine.processor.authorize(
            plan.request(state, card_for(payment_method))
        )
        after, failed = record_attempt(
            self._engine, uow, state, plan, authorization, payment_method
        )
        return failed if failed is not None else after

    @stripe_operation("POST /v1/payment_intents/{intent}/capture")
    def capture(self, intent: str, **params: Any) -> StripeObject:
        """Capture all or part of an authorized PaymentIntent (`amount_to_capture`)."""
        call = self._begin("POST /v1/payment_intents/{intent}/capture", params)

        def command(uow: UnitOfWork) -> JSON:
            state = load_intent(uow, intent)
            domain.check_action(state, domain.Action.capture)
            charge = uow.get(state.data["latest_charge"], "charge", "charge")
            lock_for_capture(uow, state.data)
            appends = domain.decide_capture(
                state,
                charge,
                call.params,
                account_id=uow.ctx.account_id,
                now=uow.ctx.now,
                pricing=self._engine.pricing,
                balance_transaction_id=uow.new_id("txn"),
                direct=direct_charge(uow),
            )
            if "application_fee_amount" in call.params:
                fee = {"application_fee_amount": call.params["application_fee_amount"]}
                check_connect_params(uow, {}, state.data | fee)
            for stream_id, events in appends:
                uow.append(stream_id, events)
            book_connect_charge(uow, charge.data["id"])
            return load_intent(uow, intent).data

        return self._execute(call, f"POST /v1/payment_intents/{intent}/capture", command)

    @stripe_operation("POST /v1/payment_intents/{intent}/cancel")
    def cancel(self, intent: str, **params: Any) -> StripeObject:
        """Cancel a PaymentIntent; an uncaptured authorization is released."""
        call = self._begin("POST /v1/payment_intents/{intent}/cancel", params)

        def command(uow: UnitOfWork) -> JSON:
            state = load_intent(uow, intent)
            domain.check_action(state, domain.Action.cancel)
            charge = None
            if state.data["status"] == domain.Status.requires_capture:
                charge = uow.get(state.data["latest_charge"], "charge", "charge")
            appends = domain.decide_cancel(
                state, charge, call.params.get("cancellation_reason"), uow.ctx.now
            )
            for stream_id, events in appends:
                uow.append(stream_id, events)
            return load_intent(uow, intent).data

        return self._execute(call, f"POST /v1/payment_intents/{intent}/cancel", command)

    @stripe_operation("GET /v1/payment_intents")
    def list(self, **params: Any) -> ListObject:
        """List PaymentIntents, newest first; filters `customer`, `created`."""
        original = dict(params)
        call = self._begin("GET /v1/payment_intents", params)
        query = object_list(
            "payment_intent", _KIND, "/v1/payment_intents", call.params, fields=("customer",)
        )
        return self._list(call, query, original, lambda p: self.list(**p))
