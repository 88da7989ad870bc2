"""Taking money out of a balance: the lock, the check, and Stripe's refusal.

Debits that must be covered (payouts, transfers, reversals taken back from a connected account)
call `require_available`; debits that may take a balance below zero (refunds, disputes) call
`uow.lock_balance` alone, so that every debit of one balance is serialized either way and the
audit can replay the log in order and find each covered debit covered at its time.
"""

from __future__ import annotations

from typing import Final

from ledger.errors import InvalidRequestError
from ledger.services.runner import UnitOfWork

__all__ = ["MESSAGE_INSUFFICIENT_FUNDS", "require_available"]

# Stripe's message for a transfer or payout that the available balance does not cover.
MESSAGE_INSUFFICIENT_FUNDS: Final = (
    "You have insufficient available funds in your Stripe account. Try adding funds directly "
    "to your available balance by creating Charges using the 4000000000000077 test card. See: "
    "https://stripe.com/docs/testing#available-balance"
)


def require_available(
    uow: UnitOfWork,
    account_id: str,
    currency: str,
    amount: int,
    *,
    message: str = MESSAGE_INSUFFICIENT_FUNDS,
    param: str | None = None,
) -> int:
    """Lock the balance and refuse with `balance_insufficient` unless available ≥ `amount`.

    Returns the available balance before the debit. The lock is held until the command commits.
    """
    uow.lock_balance(account_id, currency)
    available = uow.available_balance(account_id, currency)
    if available < amount:
        raise InvalidRequestError(message, code="balance_insufficient", param=param)
    return available
