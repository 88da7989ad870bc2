"""`led.transfers`: move money from the platform to a connected account, and reverse it.

A transfer from the available balance must be covered by it (the balance is locked while the
command checks and books). A transfer tied to a charge (`source_transaction`) moves that
charge's funds, pending or not, up to what the charge has left to transfer. A reversal takes
the money back from the connected account, which must have it available, unless the transfer
came from a destination charge (then the account may go below zero, as Stripe allows).
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from ledger.clock import to_unix
from ledger.domain import charge as charge_domain
from ledger.domain import transfer as domain
from ledger.domain.aggregate import State
from ledger.domain.rules import reject, reject_if
from ledger.errors import InvalidRequestError, resource_missing
from ledger.money import currency, format_amount
from ledger.resources.base import ListObject, StripeObject
from ledger.services.application_fees import refund_fee_for_reversal
from ledger.services.base import Service, stripe_operation
from ledger.services.funds import require_available
from ledger.services.queries import Filter, fetch_object, object_list
from ledger.services.runner import JSON, UnitOfWork

__all__ = ["TransfersService", "book_transfer", "destination_account", "reverse_transfer"]

_KIND: Final = "transfer"
_REVERSAL_KIND: Final = "transfer reversal"
# The capabilities Stripe accepts for receiving transfers.
_TRANSFER_CAPABILITIES: Final = ("transfers", "crypto_transfers", "legacy_payments")
MESSAGE_CAPABILITY: Final = (
    "Your destination account needs to have at least one of the following capabilities "
    "enabled: transfers, crypto_transfers, legacy_payments"
)


def destination_account(uow: UnitOfWork, account_id: str, *, param: str) -> State:
    """The connected account that money can be transferred to, or Stripe's refusal.

    Connected accounts are the platform's objects: a connected account asking has none.
    """
    platform = uow.platform_account_id
    state = None
    if uow.ctx.account_id == platform and account_id != platform:
        state = uow.find(account_id, account_id=platform).state
    if state is None or state.deleted or state.data.get("object") != "account":
        raise InvalidRequestError(
            f"No such destination: '{account_id}'", code="resource_missing", param=param
        )
    capabilities = state.data.get("capabilities") or {}
    if not any(capabilities.get(name) == "active" for name in _TRANSFER_CAPABILITIES):
        reject(MESSAGE_CAPABILITY, code="insufficient_capabilities_for_transfer", param=param)
    return state


def _source_charge(uow: UnitOfWork, charge_id: str, money: str, amount: int) -> State:
    """The charge a transfer takes its funds from, checked as Stripe checks it."""
    charge = uow.get(charge_id, "charge", "charge", "source_transaction")
    data = charge.data
    reject_if(
        data["status"] != "succeeded" or not data["captured"],
        f"The source_transaction {charge_id} has not succeeded: only funds of a captured, "
        "successful charge can be transferred.",
        param="source_transaction",
    )
    reject_if(
        data["currency"] != money,
        f"The currency of source_transaction {charge_id} ({data['currency']}) must match the "
        f"transfer currency ({money}).",
        param="currency",
    )
    left = (
        int(data["amount_captured"])
        - int(data["amount_refunded"])
        + (int(data["amount"]) - int(data["amount_captured"]))  # released, counted as refunded
        - charge_domain.transferred_amount(charge)
    )
    if amount > left:
        money_info = currency(money)
        reject(
            f"Insufficient funds on source_transaction {charge_id}: the transfer "
            f"({format_amount(amount, money_info)}) is greater than what the charge has left to "
            f"transfer ({format_amount(max(left, 0), money_info)}).",
            code="amount_too_large",
            param="amount",
        )
    return charge


def book_transfer(
    uow: UnitOfWork,
    params: JSON,
    destination: str,
    *,
    source_charge: State | None,
    available_on: int | None = None,
    destination_charge: domain.DestinationCharge | None = None,
) -> str:
    """Queue a transfer of `params["amount"]` to `destination`; return its id.

    With `source_charge` the funds are that charge's: pending until its balance transaction's
    `available_on` (or `available_on` if given). Otherwise the platform's available balance must
    cover the amount. `destination_charge`: the transfer is a destination charge's (with the
    application fee taken out of its payment).
    """
    platform = uow.platform_account_id
    amount = int(params["amount"])
    money = str(params["currency"])
    now = to_unix(uow.ctx.now)
    if source_charge is None:
        require_available(uow, platform, money, amount, param="amount")
        funds_on = now
    else:
        # Not checked against the balance, but a debit all the same: serialized with the others.
        uow.lock_balance(platform, money)
        if available_on is not None:
            funds_on = available_on
        else:
            txn_id = source_charge.data["balance_transaction"]
            txn = uow.get(txn_id, "balance_transaction", "balance transaction")
            funds_on = max(now, int(txn.data["available_on"]))
    ctx = domain.TransferContext(
        platform_account_id=platform,
        destination_account_id=destination,
        transfer_id=uow.new_id("tr"),
        platform_txn_id=uow.new_id("txn"),
        payment_id=uow.new_id("py"),
        payment_txn_id=uow.new_id("txn"),
        created=now,
        available_on=funds_on,
        destination_charge=destination_charge,
    )
    charge_json = None if source_charge is None else source_charge.data
    for account, stream, events in domain.decide_create(params, ctx, source_charge=charge_json):
        uow.append(stream, events, account_id=account)
    if source_charge is not None:
        uow.append(
            source_charge.data["id"],
            [charge_domain.ChargeTransferred(transfer=ctx.transfer_id, amount=amount)],
        )
    return ctx.transfer_id


def reverse_transfer(
    uow: UnitOfWork,
    transfer: State,
    amount: int | None,
    params: JSON,
    *,
    source_refund: str | None = None,
    allow_negative: bool = False,
) -> str:
    """Queue a reversal of `amount` (None: all that is left) of `transfer`; return its id.

    The connected account must have the amount available, unless `allow_negative` (a transfer
    of a destination charge) or the transfer's funds are still pending (then the reversal is
    pending too and takes back those very funds).
    """
    wanted = domain.check_reversible(transfer, amount)
    data = transfer.data
    now = to_unix(uow.ctx.now)
    connected = str(data["destination"])
    pending = int(transfer.internal["available_on"]) > now
    if allow_negative or pending:
        uow.lock_balance(connected, data["currency"])
    else:
        require_available(
            uow,
            connected,
            data["currency"],
            wanted,
            message=(
                f"Insufficient funds in the destination account to reverse transfer {data['id']}: "
                "a transfer can be reversed only if the destination account has enough "
                "available balance to cover the reversal."
            ),
            param="amount",
        )
    ctx = domain.ReversalContext(
        platform_account_id=uow.platform_account_id,
        reversal_id=uow.new_id("trr"),
        platform_txn_id=uow.new_id("txn"),
        payment_refund_id=uow.new_id("pyr"),
        payment_refund_txn_id=uow.new_id("txn"),
        created=now,
        source_refund=source_refund,
        description=params.get("description"),
    )
    for account, stream, events in domain.decide_reverse(transfer, wanted, params, ctx):
        uow.append(stream, events, account_id=account)
    return ctx.reversal_id


class TransfersService(Service):
    """Stripe's Transfers API, with transfer reversals."""

    @stripe_operation("POST /v1/transfers")
    def create(self, **params: Any) -> StripeObject:
        """Send `amount` to the connected account `destination`."""
        operation = "POST /v1/transfers"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            p = dict(call.params)
            if "amount" not in p:
                reject("Missing required param: amount.", code="parameter_missing", param="amount")
            reject_if(
                p["amount"] < 1,
                "Invalid positive integer",
                code="parameter_invalid_integer",
                param="amount",
            )
            p["currency"] = currency(p["currency"]).code
            destination = destination_account(uow, p["destination"], param="destination")
            source = None
            if p.get("source_transaction"):
                source = _source_charge(uow, p["source_transaction"], p["currency"], p["amount"])
            transfer_id = book_transfer(uow, p, destination.data["id"], source_charge=source)
            return uow.get(transfer_id, "transfer", _KIND).data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/transfers/{transfer}")
    def retrieve(self, transfer: str, **params: Any) -> StripeObject:
        """Retrieve a transfer."""
        call = self._begin("GET /v1/transfers/{transfer}", params)
        return self._retrieve(call, transfer, "transfer", _KIND)

    @stripe_operation("POST /v1/transfers/{transfer}")
    def update(self, transfer: str, **params: Any) -> StripeObject:
        """Update a transfer's description or metadata."""
        call = self._begin("POST /v1/transfers/{transfer}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(transfer, "transfer", _KIND)
            uow.append(transfer, domain.decide_update(state, call.params))
            return uow.get(transfer, "transfer", _KIND).data

        return self._execute(call, f"POST /v1/transfers/{transfer}", command)

    @stripe_operation("GET /v1/transfers")
    def list(self, **params: Any) -> ListObject:
        """List transfers, newest first; filters `destination`, `transfer_group`, `created`."""
        original = dict(params)
        call = self._begin("GET /v1/transfers", params)
        query = object_list(
            "transfer",
            _KIND,
            "/v1/transfers",
            call.params,
            fields=("destination", "transfer_group"),
        )
        return self._list(call, query, original, lambda p: self.list(**p))

    # -- reversals ------------------------------------------------------------------------

    @stripe_operation("POST /v1/transfers/{id}/reversals")
    def create_reversal(self, id: str, **params: Any) -> StripeObject:
        """Reverse all or part (`amount`) of a transfer."""
        call = self._begin("POST /v1/transfers/{id}/reversals", params)

        def command(uow: UnitOfWork) -> JSON:
            p = call.params
            state = uow.get(id, "transfer", _KIND)
            reject_if(
                bool(p.get("refund_application_fee")) and not state.internal.get("application_fee"),
                f"Transfer {id} has no application fee to refund: refund_application_fee can "
                "only be used on the transfer of a destination charge with an application fee.",
                param="refund_application_fee",
            )
            allow_negative = bool(state.internal.get("destination_charge"))
            reversal_id = reverse_transfer(
                uow, state, p.get("amount"), p, allow_negative=allow_negative
            )
            if p.get("refund_application_fee"):
                reversed_amount = p.get("amount") or domain.reversal_remaining(state.data)
                refund_fee_for_reversal(uow, state, reversed_amount)
            return uow.get(reversal_id, "transfer_reversal", _REVERSAL_KIND).data

        return self._execute(call, f"POST /v1/transfers/{id}/reversals", command)

    @stripe_operation("GET /v1/transfers/{transfer}/reversals/{id}")
    def retrieve_reversal(self, transfer: str, id: str, **params: Any) -> StripeObject:
        """Retrieve one reversal of a transfer."""
        call = self._begin("GET /v1/transfers/{transfer}/reversals/{id}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, id)
            if (
                found is None
                or found[0].get("object") != "transfer_reversal"
                or found[0].get("transfer") != transfer
            ):
                raise resource_missing(_REVERSAL_KIND, id)
            return found[0]

        return self._read(call, read)

    @stripe_operation("POST /v1/transfers/{transfer}/reversals/{id}")
    def update_reversal(self, transfer: str, id: str, **params: Any) -> StripeObject:
        """Update a reversal's metadata."""
        call = self._begin("POST /v1/transfers/{transfer}/reversals/{id}", params)

        def command(uow: UnitOfWork) -> JSON:
            uow.get(transfer, "transfer", _KIND, "transfer")
            state = uow.get(id, "transfer_reversal", _REVERSAL_KIND)
            if state.data["transfer"] != transfer:
                raise resource_missing(_REVERSAL_KIND, id)
            events = domain.decide_reversal_update(state, call.params)
            uow.append(id, events)
            uow.append(transfer, list(events))
            return uow.get(id, "transfer_reversal", _REVERSAL_KIND).data

        return self._execute(call, f"POST /v1/transfers/{transfer}/reversals/{id}", command)

    @stripe_operation("GET /v1/transfers/{id}/reversals")
    def list_reversals(self, id: str, **params: Any) -> ListObject:
        """List a transfer's reversals, newest first."""
        original = dict(params)
        call = self._begin("GET /v1/transfers/{id}/reversals", params)

        def exists(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, id)
            if found is None or found[0].get("object") != "transfer":
                raise resource_missing(_KIND, id)
            return found[0]

        self._read(call, exists)  # a transfer this account does not have is a 404
        query = object_list(
            "transfer_reversal",
            _REVERSAL_KIND,
            f"/v1/transfers/{id}/reversals",
            call.params,
            extra=(Filter("data->>'transfer' = %s", (id,)),),
        )
        return self._list(call, query, original, lambda p: self.list_reversals(id, **p))
