"""`led.charges`: retrieve, update, list, capture, and the legacy `POST /v1/charges`.

Also the due job that lets uncaptured authorizations expire after seven days: the charge is
released (shown as refunded, `charge.expired`) and its PaymentIntent, if any, is canceled with
`cancellation_reason: automatic`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import psycopg

from ledger.domain import charge as domain
from ledger.domain import payment_intent as intent_domain
from ledger.domain.aggregate import JSON, State
from ledger.domain.application_fee import check_destination_terms
from ledger.domain.cards import AUTHENTICATION_REQUIRED, TOKENS, TestCard, resolve_card_number
from ledger.domain.payment_method import card_for
from ledger.domain.rules import apply_metadata, check_email, reject, reject_if
from ledger.errors import CardError, resource_missing
from ledger.money import check_charge_amount, currency
from ledger.processor import Authorization, AuthorizationRequest
from ledger.resources.base import ListObject, StripeObject
from ledger.resources.expand import Resolver, register_includable
from ledger.services.base import Service, stripe_operation
from ledger.services.destination_charges import (
    MESSAGE_CHARGE_FEE_WITHOUT_DESTINATION,
    book_connect_charge,
    check_connect_params,
    direct_charge,
    lock_for_capture,
)
from ledger.services.due import DueItem, DueJob, register_due_job
from ledger.services.payment_methods import resolve_payment_method
from ledger.services.queries import fetch_object, object_list
from ledger.services.runner import Command, Failed, UnitOfWork

__all__ = ["ChargesService"]

_KIND: Final = "charge"
_PARAM: Final = "charge"
# Legacy parameters the ledger does not model: refused plainly, never ignored.
_UNSUPPORTED: Final = ("application_fee", "card", "destination")
# Stripe's `brand` spelling on card objects (sources), unlike PaymentMethods' lowercase ids.
_CARD_SOURCE_BRANDS: Final = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "MasterCard",
    "unionpay": "UnionPay",
    "visa": "Visa",
    "unknown": "Unknown",
}
MESSAGE_NO_ACTIVE_CARD: Final = "Cannot charge a customer that has no active card"
MESSAGE_NO_SOURCE: Final = "Must provide source or customer."
# Stripe's Charges API cannot run 3D Secure: cards that demand it are declined.
_AUTHENTICATION_DECLINE: Final = replace(AUTHENTICATION_REQUIRED, error_code="card_declined")


def _blank_address_details() -> JSON:
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return {"address": dict.fromkeys(keys), "email": None, "name": None, "phone": None}


def _card_source(card: TestCard, card_id: str, customer: str | None) -> JSON:
    """The `card` object a token stands for, as a legacy charge shows it in `source`."""
    return {
        "id": card_id,
        "object": "card",
        "address_city": None,
        "address_country": None,
        "address_line1": None,
        "address_line1_check": None,
        "address_line2": None,
        "address_state": None,
        "address_zip": None,
        "address_zip_check": None,
        "brand": _CARD_SOURCE_BRANDS[card.brand],
        "country": card.country,
        "customer": customer,
        "cvc_check": card.outcome.cvc_check,
        "dynamic_last4": None,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "fingerprint": card.fingerprint,
        "funding": card.funding,
        "last4": card.last4,
        "metadata": {},
        "name": None,
        "tokenization_method": None,
        "wallet": None,
    }


class _Source:
    """What a legacy charge is paid with: the card, and how the charge names it."""

    def __init__(
        self,
        card: TestCard,
        payment_method: str,
        payment_method_card: JSON,
        billing_details: JSON,
        source: JSON | None,
    ) -> None:
        self.card = card
        self.payment_method = payment_method
        self.payment_method_card = payment_method_card
        self.billing_details = billing_details
        self.source = source


def _not_linked(customer: str | None, value: str) -> None:
    reject(
        f"Customer {customer} does not have a linked source with ID {value}.",
        code="missing",
        param="source",
        http_status=404,
    )


def _resolve_source(uow: UnitOfWork, value: str, customer: str | None) -> _Source:
    """A token (`tok_visa`), a PaymentMethod (`pm_…`, `pm_card_visa`) or a saved card.

    With a customer, the source must be one of the customer's.
    """
    if value.startswith("tok_"):
        if customer is not None:
            _not_linked(customer, value)
        card = TOKENS.get(value)
        if card is None:
            raise resource_missing("token", value, "source")
        card_id = uow.new_id("card")
        # A token carries the CVC it was made with, so the check runs.
        checks = {"address_line1_check": None, "address_postal_code_check": None}
        return _Source(
            card,
            card_id,
            {"checks": checks | {"cvc_check": "unchecked"}},
            _blank_address_details(),
            _card_source(card, card_id, None),
        )
    if value.startswith("pm_"):
        payment_method = resolve_payment_method(uow, value, param="source")
        if payment_method.data["customer"] != customer:
            _not_linked(customer, value)
        return _Source(
            card_for(payment_method),
            payment_method.data["id"],
            payment_method.data["card"],
            payment_method.data["billing_details"],
            None,
        )
    saved = uow.get(value, "card", "source", "source")
    number = saved.internal.get("card_number")
    if number is None or saved.data.get("customer") != customer:
        _not_linked(customer, value)
    card = resolve_card_number(str(number))
    return _Source(
        card,
        value,
        {
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": saved.data.get("cvc_check"),
            }
        },
        _blank_address_details(),
        saved.data,
    )


def _refuse_unsupported(params: JSON) -> None:
    for name in _UNSUPPORTED:
        if name in params:
            reject(
                f"The ledger does not support the '{name}' parameter of charges.",
                code="parameter_unsupported",
                param=name,
            )


def _check_connect_params(params: JSON) -> None:
    """Connect parameters name connected accounts and stay within the amount."""
    transfer_data = params.get("transfer_data")
    if transfer_data is not None:
        reject_if(
            not transfer_data["destination"].startswith("acct_"),
            "Invalid transfer_data[destination]: must be a connected account id (acct_…)",
            param="transfer_data[destination]",
        )
        reject_if(
            transfer_data.get("amount", 0) > params["amount"],
            f"The transfer_data[amount] ({transfer_data.get('amount')}) must be less than or "
            f"equal to the amount of the payment ({params['amount']}).",
            param="transfer_data[amount]",
        )
    on_behalf_of = params.get("on_behalf_of")
    reject_if(
        on_behalf_of is not None and not on_behalf_of.startswith("acct_"),
        f"Invalid on_behalf_of: '{on_behalf_of}' is not a connected account id (acct_…)",
        param="on_behalf_of",
    )
    if params.get("receipt_email"):
        check_email(params["receipt_email"], "receipt_email")


def _load_charge(uow: UnitOfWork, charge: str) -> State:
    return uow.get(charge, "charge", _KIND, _PARAM)


class ChargesService(Service):
    """Stripe's Charges API (cards)."""

    @stripe_operation("POST /v1/charges")
    def create(self, **params: Any) -> StripeObject:
        """Charge a card with the legacy Charges API (`source="tok_visa"` or a customer's card).

        A decline records a failed charge and raises CardError.
        """
        operation = "POST /v1/charges"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON | Failed:
            p = call.params
            _refuse_unsupported(p)
            for name in ("amount", "currency"):
                if name not in p:
                    reject(f"Missing required param: {name}.", code="parameter_missing", param=name)
            money = currency(p["currency"])
            check_charge_amount(p["amount"], money)
            customer = p.get("customer")
            owner = (
                None if customer is None else uow.get(customer, "customer", "customer", "customer")
            )
            source_id = p.get("source")
            if source_id is None:
                if owner is None:
                    reject(MESSAGE_NO_SOURCE)
                source_id = owner.data.get("default_source")
                if source_id is None:
                    raise CardError(MESSAGE_NO_ACTIVE_CARD, code="missing", param="card")
            fee = p.get("application_fee_amount")
            reject_if(
                fee is not None and not 0 <= fee <= p["amount"],
                f"The application_fee_amount ({fee}) must be between 0 and the amount "
                f"({p['amount']}).",
                param="application_fee_amount",
            )
            _check_connect_params(p)
            check_connect_params(uow, p, p, fee_message=MESSAGE_CHARGE_FEE_WITHOUT_DESTINATION)
            transfer_data = p.get("transfer_data")
            check_destination_terms(
                fee, None if transfer_data is None else transfer_data.get("amount")
            )
            source = _resolve_source(uow, source_id, customer)
            capture = p.get("capture", True)
            authorization = self._engine.processor.authorize(
                AuthorizationRequest(
                    card=source.card,
                    amount=p["amount"],
                    currency=money.code,
                    capture=capture,
                    off_session=False,
                )
            )
            if authorization.requires_action:
                authorization = Authorization.refused(_AUTHENTICATION_DECLINE)
            charge_id = uow.new_id("ch")
            txn_id = uow.new_id("txn") if authorization.approved and capture else None
            # A destination charge's transfers are grouped by the charge, as Stripe groups them.
            transfer_group = p.get("transfer_group") or (
                None if transfer_data is None else f"group_{charge_id}"
            )
            attempt = domain.ChargeAttempt(
                charge_id=charge_id,
                created=int(uow.ctx.now.timestamp()),
                amount=p["amount"],
                currency=money.code,
                card=source.card,
                authorization=authorization,
                capture=capture,
                payment_method=source.payment_method,
                payment_method_card=source.payment_method_card,
                billing_details=source.billing_details,
                customer=customer,
                description=p.get("description") or None,
                metadata=apply_metadata({}, p.get("metadata", {})),
                receipt_email=p.get("receipt_email"),
                shipping=domain.shipping_json(p.get("shipping")),
                statement_descriptor=p.get("statement_descriptor"),
                statement_descriptor_suffix=p.get("statement_descriptor_suffix"),
                transfer_data=(
                    None
                    if transfer_data is None
                    else {
                        "amount": transfer_data.get("amount"),
                        "destination": transfer_data["destination"],
                    }
                ),
                transfer_group=transfer_group,
                application_fee_amount=fee,
                on_behalf_of=p.get("on_behalf_of"),
                source=source.source,
                radar_session=(p.get("radar_options") or {}).get("session"),
                balance_transaction=txn_id,
                direct=direct_charge(uow),
            )
            events = domain.decide_create(attempt)
            if txn_id is not None:
                lock_for_capture(uow, p | {"currency": money.code})
            uow.append(charge_id, events)
            if txn_id is not None:
                created = events[0]
                assert isinstance(created, domain.ChargeCreated)
                uow.append(
                    txn_id,
                    [
                        domain.charge_balance_transaction(
                            txn_id=txn_id,
                            account_id=uow.ctx.account_id,
                            charge=created.charge,
                            amount=p["amount"],
                            at=uow.ctx.now,
                            pricing=self._engine.pricing,
                            bypass_pending=source.card.outcome.bypass_pending,
                        )
                    ],
                )
            if txn_id is not None:
                book_connect_charge(uow, charge_id)
            charge = _load_charge(uow, charge_id).data
            if authorization.decline is not None:
                return Failed(authorization.decline.card_error(charge=charge_id))
            return charge

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/charges/{charge}")
    def retrieve(self, charge: str, **params: Any) -> StripeObject:
        """Retrieve a charge."""
        call = self._begin("GET /v1/charges/{charge}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, charge)
            if found is None or found[0].get("object") != "charge":
                raise resource_missing(_KIND, charge, _PARAM)
            return found[0]

        return self._read(call, read)

    @stripe_operation("POST /v1/charges/{charge}")
    def update(self, charge: str, **params: Any) -> StripeObject:
        """Update a charge's description, metadata, receipt_email, shipping, fraud_details…"""
        call = self._begin("POST /v1/charges/{charge}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = _load_charge(uow, charge)
            if call.params.get("customer"):
                uow.get(call.params["customer"], "customer", "customer", "customer")
            uow.append(charge, domain.decide_update(state, call.params))
            return _load_charge(uow, charge).data

        return self._execute(call, f"POST /v1/charges/{charge}", command)

    @stripe_operation("POST /v1/charges/{charge}/capture")
    def capture(self, charge: str, **params: Any) -> StripeObject:
        """Capture an uncaptured legacy charge, in full or in part (`amount`)."""
        call = self._begin("POST /v1/charges/{charge}/capture", params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            _refuse_unsupported(p)
            state = _load_charge(uow, charge)
            data = state.data
            if data["payment_intent"] is not None:
                reject(
                    f"This charge belongs to PaymentIntent {data['payment_intent']}: capture the "
                    "PaymentIntent instead.",
                    param=_PARAM,
                )
            domain.check_capturable(state, int(uow.ctx.now.timestamp()))
            amount: int = data["amount"]
            if "amount" in p:
                amount = p["amount"]
            reject_if(
                amount > data["amount"],
                f"The amount to capture ({amount}) must be less than or equal to the amount of "
                f"the charge ({data['amount']}).",
                code="amount_too_large",
                param="amount",
            )
            check_charge_amount(amount, currency(data["currency"]))
            changes: JSON = {}
            if "application_fee_amount" in p:
                fee = p["application_fee_amount"]
                reject_if(
                    not 0 <= fee <= amount,
                    f"The application_fee_amount ({fee}) must be between 0 and the amount "
                    f"captured ({amount}).",
                    param="application_fee_amount",
                )
                changes["application_fee_amount"] = fee
            if p.get("receipt_email"):
                check_email(p["receipt_email"], "receipt_email")
            for key in ("receipt_email", "statement_descriptor", "statement_descriptor_suffix"):
                if key in p:
                    changes[key] = p[key]
            if "transfer_group" in p:
                changes["transfer_group"] = p["transfer_group"]
            if "transfer_data" in p and p["transfer_data"].get("amount") is not None:
                reject_if(
                    data["transfer_data"] is None,
                    "This charge has no transfer_data to update.",
                    param="transfer_data[amount]",
                )
                changes["transfer_data"] = data["transfer_data"] | {
                    "amount": p["transfer_data"]["amount"]
                }
            if changes.keys() & {"statement_descriptor", "statement_descriptor_suffix"}:
                merged = data | changes
                changes["calculated_statement_descriptor"] = domain.calculated_statement_descriptor(
                    merged["statement_descriptor"], merged["statement_descriptor_suffix"]
                )
            merged = data | changes
            check_connect_params(
                uow, {}, merged, fee_message=MESSAGE_CHARGE_FEE_WITHOUT_DESTINATION
            )
            check_destination_terms(
                merged["application_fee_amount"],
                None if merged["transfer_data"] is None else merged["transfer_data"].get("amount"),
            )
            lock_for_capture(uow, data)
            changes |= domain.direct_capture_changes(data | changes, amount, direct_charge(uow))
            txn_id = uow.new_id("txn")
            uow.append(charge, domain.decide_capture(state, amount, txn_id, changes))
            uow.append(
                txn_id,
                [
                    domain.charge_balance_transaction(
                        txn_id=txn_id,
                        account_id=uow.ctx.account_id,
                        charge=data | changes,
                        amount=amount,
                        at=uow.ctx.now,
                        pricing=self._engine.pricing,
                        bypass_pending=bool(state.internal.get("bypass_pending")),
                    )
                ],
            )
            book_connect_charge(uow, charge)
            return _load_charge(uow, charge).data

        return self._execute(call, f"POST /v1/charges/{charge}/capture", command)

    @stripe_operation("GET /v1/charges")
    def list(self, **params: Any) -> ListObject:
        """List charges, newest first; filters customer, payment_intent, created, transfer_group."""
        original = dict(params)
        call = self._begin("GET /v1/charges", params)
        query = object_list(
            "charge",
            _KIND,
            "/v1/charges",
            call.params,
            fields=("customer", "payment_intent", "transfer_group"),
        )
        return self._list(call, query, original, lambda p: self.list(**p))


def _refunds(charge: JSON, resolver: Resolver) -> JSON:
    # Since API version 2022-11-15 a charge's refunds are only included on request.
    return resolver.related_list(
        ("refund",), "charge", charge["id"], f"/v1/charges/{charge['id']}/refunds"
    )


register_includable("charge", "refunds", _refunds)


# -- uncaptured authorizations expire --------------------------------------------------------


def _find_expiring_authorizations(
    conn: psycopg.Connection[Any], due_by: int, test_clock: str | None, limit: int
) -> list[DueItem]:
    # A charge follows its customer's test clock, if it has one; otherwise the ledger's clock.
    rows = conn.execute(
        "SELECT (ch.internal->>'expires_at')::bigint, ch.account_id, ch.id FROM objects ch "
        "LEFT JOIN objects cu ON cu.account_id = ch.account_id AND cu.id = ch.data->>'customer' "
        "WHERE ch.object = 'charge' AND ch.internal->>'expires_at' IS NOT NULL "
        "AND (ch.internal->>'expires_at')::bigint <= %s "
        "AND cu.data->>'test_clock' IS NOT DISTINCT FROM %s "
        "ORDER BY (ch.internal->>'expires_at')::bigint, ch.id LIMIT %s",
        (due_by, test_clock, limit),
    ).fetchall()
    return [
        DueItem(due_at, "authorization_expiry", account_id, charge_id)
        for due_at, account_id, charge_id in rows
    ]


def _expire_authorization(item: DueItem) -> Command:
    def command(uow: UnitOfWork) -> JSON:
        charge = uow.find(item.object_id).state
        if charge is None or charge.internal.get("expires_at") is None:
            return {}  # captured or released meanwhile
        intent_id = charge.data["payment_intent"]
        if intent_id is None:
            uow.append(charge.data["id"], domain.decide_release(charge, expired=True))
            return {}
        intent = uow.get(intent_id, "payment_intent", "payment_intent", "intent")
        if intent.data["status"] not in intent_domain.ACTIONS[intent_domain.Action.expire]:
            return {}
        assert intent.data["latest_charge"] == charge.data["id"]
        for stream_id, events in intent_domain.decide_expire(intent, charge, uow.ctx.now):
            uow.append(stream_id, events)
        return {}

    return command


register_due_job(
    DueJob("authorization_expiry", _find_expiring_authorizations, _expire_authorization)
)
