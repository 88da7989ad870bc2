"""Connect charges: what a captured destination or direct charge moves, and its undoing.

A charge with `transfer_data[destination]` sends its funds to that connected account when it is
captured, in the same command (confirmation with automatic capture, capture of a PaymentIntent,
the legacy charge's creation or capture): a transfer (`source_transaction` = the charge, funds
pending until the charge's funds are available) of `transfer_data[amount]` (capped at the
captured amount) or of the whole captured amount, and, with `application_fee_amount`, an
application fee taken back out of the connected account's payment. The charge then shows
`transfer` and `application_fee`.

A direct charge is made by the platform in a connected account (`stripe_account`): the charge,
its Stripe fee and its refunds are the connected account's. With `application_fee_amount`, the
capture takes the fee out of the charge's own balance transaction (`ledger.domain.charge`) and
the same command books the platform's ApplicationFee (`charge` = the connected account's charge,
no `originating_transaction`).

A refund of such a charge may reverse the transfer (`reverse_transfer`) and refund the fee
(`refund_application_fee`), each in proportion to the amount refunded and cumulatively, so that
refunding the whole charge undoes all of both. Without them the platform (the connected account,
for a direct charge) bears the refund alone.

Sources: https://docs.stripe.com/connect/destination-charges,
https://docs.stripe.com/connect/direct-charges,
https://docs.stripe.com/api/refunds/create (reverse_transfer, refund_application_fee).
"""

from __future__ import annotations

from typing import Final

from ledger.clock import to_unix
from ledger.domain import application_fee as fee_domain
from ledger.domain import charge as charge_domain
from ledger.domain import transfer as transfer_domain
from ledger.domain.aggregate import JSON, State
from ledger.domain.application_fee import DirectCharge
from ledger.domain.rules import reject
from ledger.errors import InvalidRequestError
from ledger.ids import derived_id
from ledger.services.application_fees import refund_application_fee
from ledger.services.runner import UnitOfWork
from ledger.services.transfers import book_transfer, destination_account, reverse_transfer

__all__ = [
    "MESSAGE_CHARGE_FEE_WITHOUT_DESTINATION",
    "MESSAGE_FEE_WITHOUT_DESTINATION",
    "book_connect_charge",
    "check_connect_params",
    "check_connect_terms",
    "connected_account",
    "direct_charge",
    "lock_for_capture",
    "platform_application",
    "undo_for_refund",
]

MESSAGE_FEE_WITHOUT_DESTINATION: Final = (
    "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct "
    "payment (using an OAuth key or Stripe-Account header) or destination payment (using "
    "`transfer_data[destination]`)."
)
# The Charges API's wording (Stripe's says `application_fee`, its parameter before 2019-02-19).
MESSAGE_CHARGE_FEE_WITHOUT_DESTINATION: Final = (
    "Can only apply an application_fee_amount when the request is made on behalf of another "
    "account (using an OAuth key, the Stripe-Account header, or the destination parameter)."
)


def platform_application(platform_account_id: str) -> str:
    """The platform's Connect application (`ca_…`): one per platform, derived from its id."""
    return derived_id("ca", platform_account_id)


def direct_charge(uow: UnitOfWork) -> DirectCharge | None:
    """For a payment the platform makes in a connected account: its application, its fee's id.

    None for the platform's own payments.
    """
    if uow.ctx.account_id == uow.platform_account_id:
        return None
    return DirectCharge(
        application=platform_application(uow.platform_account_id),
        application_fee_id=uow.new_id("fee"),
    )


def connected_account(uow: UnitOfWork, account_id: str, *, param: str) -> State:
    """A connected account of the platform, or Stripe's refusal naming `param`."""
    platform = uow.platform_account_id
    state = None
    if uow.ctx.account_id == platform and account_id != platform:
        state = uow.find(account_id, account_id=platform).state
    if state is None or state.deleted or state.data.get("object") != "account":
        raise InvalidRequestError(
            f"No such account: '{account_id}'", code="resource_missing", param=param
        )
    return state


def check_connect_params(
    uow: UnitOfWork,
    params: JSON,
    payment: JSON,
    *,
    fee_message: str = MESSAGE_FEE_WITHOUT_DESTINATION,
) -> None:
    """Stripe's refusals for the Connect params of a payment being created or changed.

    The accounts `params` name must exist (and a destination must be able to receive
    transfers); `payment` is the payment as it will be, whose application fee needs a
    destination unless it is a direct charge (made in a connected account).
    """
    transfer_data = params.get("transfer_data") or {}
    if transfer_data.get("destination"):
        destination_account(uow, transfer_data["destination"], param="transfer_data[destination]")
    if params.get("on_behalf_of"):
        connected_account(uow, params["on_behalf_of"], param="on_behalf_of")
    direct = uow.ctx.account_id != uow.platform_account_id
    if (
        payment.get("application_fee_amount") is not None
        and not payment.get("transfer_data")
        and not direct
    ):
        reject(fee_message, param="application_fee_amount")


def check_connect_terms(uow: UnitOfWork, payment: JSON) -> None:
    """At confirmation: the accounts the payment names can still take it."""
    check_connect_params(uow, payment, payment)


def lock_for_capture(uow: UnitOfWork, payment: JSON) -> None:
    """Take the platform's balance lock a destination charge's transfer needs.

    Called before the command's first flush, as every debit's lock is.
    """
    if payment.get("transfer_data"):
        uow.lock_balance(uow.platform_account_id, payment["currency"])


def book_connect_charge(uow: UnitOfWork, charge_id: str) -> None:
    """Queue what a charge just captured (and flushed) owes: a transfer, an application fee.

    A destination charge's transfer and fee, or a direct charge's fee; nothing for others.
    """
    charge = uow.get(charge_id, "charge", "charge")
    if charge.data["transfer_data"] is not None:
        _book_destination_charge(uow, charge)
    elif charge.data["application_fee"] is not None:
        _book_direct_fee(uow, charge)


def _book_direct_fee(uow: UnitOfWork, charge: State) -> None:
    """The platform's side of a direct charge's application fee.

    The charge's balance transaction already itemised the fee and posted it to the fee's
    in-transit account; this books the platform's `application_fee` transaction against it.
    """
    data = charge.data
    platform = uow.platform_account_id
    assert uow.ctx.account_id != platform and data["captured"], data["id"]
    assert uow.find(data["application_fee"], account_id=platform).state is None, data["id"]
    txn = uow.get(data["balance_transaction"], "balance_transaction", "balance transaction")
    (detail,) = [d for d in txn.data["fee_details"] if d["type"] == "application_fee"]
    ctx = fee_domain.FeeContext(
        platform_account_id=platform,
        account_id=uow.ctx.account_id,
        fee_id=data["application_fee"],
        balance_transaction_id=uow.new_id("txn"),
        application=data["application"],
        created=to_unix(uow.ctx.now),
        available_on=int(txn.data["available_on"]),
    )
    # A direct charge has no charge of the platform behind it: no originating_transaction.
    appends = fee_domain.decide_create(
        ctx,
        amount=int(detail["amount"]),
        money=data["currency"],
        charge=data["id"],
        originating_transaction=None,
    )
    for account, stream, events in appends:
        uow.append(stream, events, account_id=account)


def _book_destination_charge(uow: UnitOfWork, charge: State) -> None:
    """Queue the transfer and the application fee of a destination charge just captured."""
    data = charge.data
    charge_id = data["id"]
    split = fee_domain.destination_split(data)
    if split.transfer_amount == 0:
        return  # `transfer_data[amount]` of 0: nothing to send
    destination = destination_account(
        uow, data["transfer_data"]["destination"], param="transfer_data[destination]"
    )
    platform = uow.platform_account_id
    money = data["currency"]
    txn = uow.get(data["balance_transaction"], "balance_transaction", "balance transaction")
    available_on = int(txn.data["available_on"])
    application = platform_application(platform)
    fee_id = uow.new_id("fee") if split.application_fee_amount else None
    terms = transfer_domain.DestinationCharge(
        application=application,
        application_fee_id=fee_id,
        application_fee_amount=split.application_fee_amount,
    )
    transfer_id = book_transfer(
        uow,
        {"amount": split.transfer_amount, "currency": money},
        destination.data["id"],
        source_charge=charge,
        available_on=available_on,
        destination_charge=terms,
    )
    if fee_id is not None:
        payment = uow.get(transfer_id, "transfer", "transfer").data["destination_payment"]
        ctx = fee_domain.FeeContext(
            platform_account_id=platform,
            account_id=destination.data["id"],
            fee_id=fee_id,
            balance_transaction_id=uow.new_id("txn"),
            application=application,
            created=to_unix(uow.ctx.now),
            available_on=available_on,
        )
        appends = fee_domain.decide_create(
            ctx,
            amount=split.application_fee_amount,
            money=money,
            charge=payment,
            originating_transaction=charge_id,
        )
        for account, stream, events in appends:
            uow.append(stream, events, account_id=account)
    uow.append(
        charge_id,
        [charge_domain.ChargeDestinationBooked(transfer=transfer_id, application_fee=fee_id)],
    )


def undo_for_refund(
    uow: UnitOfWork, charge: State, amount: int, params: JSON, refund: str
) -> str | None:
    """Reverse the transfer and refund the fee of a destination or direct charge, as asked.

    Each in proportion to the `amount` refunded, cumulatively over the refunds that asked for
    it. Returns the transfer reversal's id, if one was made (a share can round to nothing).
    """
    data = charge.data
    captured = int(data["amount_captured"])
    reversal_id = None
    if params.get("reverse_transfer") and data.get("transfer"):
        transfer = uow.get(data["transfer"], "transfer", "transfer")
        share = fee_domain.cumulative_share(
            charge_domain.refunded_with(charge, "reverse_transfer"),
            amount,
            captured,
            int(transfer.data["amount"]),
        )
        share = min(share, transfer_domain.reversal_remaining(transfer.data))
        if share > 0:
            # A destination charge's connected account may go below zero (as Stripe allows).
            reversal_id = reverse_transfer(
                uow, transfer, share, {}, source_refund=refund, allow_negative=True
            )
    if params.get("refund_application_fee") and data.get("application_fee"):
        # The fee is in the platform's books, also when a direct charge's account refunds.
        fee = uow.get(
            data["application_fee"],
            "application_fee",
            "application fee",
            account_id=uow.platform_account_id,
        )
        share = fee_domain.cumulative_share(
            charge_domain.refunded_with(charge, "refund_application_fee"),
            amount,
            captured,
            int(fee.data["amount"]),
        )
        share = min(share, fee_domain.refund_remaining(fee.data))
        if share > 0:
            refund_application_fee(uow, fee, share, {})
    return reversal_id
