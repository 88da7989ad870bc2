"""Accounts never see each other's objects: for every resource, an object made as one account
(the platform or a connected account) is `resource_missing` (404) to every other account, and
never in their lists.

Table-driven: a resource is one `Resource` row in `RESOURCES` (how to make one of its objects
as an account, how to retrieve and list them). Add a row for each new resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ledger import InvalidRequestError, Ledger
from tests.support.accounts import connected_account, verified_account
from tests.support.payments import confirmed, counts

Scope = dict[str, Any]  # {} for the platform, {"stripe_account": "acct_…"} for a connected one
VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def _service(name: str) -> Callable[[Ledger], Any]:
    return lambda led: getattr(led, name)


def _intent(led: Ledger, scope: Scope) -> str:
    return str(confirmed(led, **scope).id)


def _charge(led: Ledger, scope: Scope) -> str:
    return str(confirmed(led, **scope).latest_charge)


def _refund(led: Ledger, scope: Scope) -> str:
    return str(led.refunds.create(charge=_charge(led, scope), amount=500, **scope).id)


def _dispute(led: Ledger, scope: Scope) -> str:
    charge = str(confirmed(led, "pm_card_createDispute", **scope).latest_charge)
    led.run_due()  # opens the test card's dispute
    (dispute,) = [d for d in led.disputes.list(**scope).auto_paging_iter() if d.charge == charge]
    return str(dispute.id)


def _balance_transaction(led: Ledger, scope: Scope) -> str:
    return str(led.charges.retrieve(_charge(led, scope), **scope).balance_transaction)


def _event(led: Ledger, scope: Scope) -> str:
    led.customers.create(**scope)
    return str(led.events.list(limit=1, type="customer.created", **scope).data[0].id)


def _account(led: Ledger, scope: Scope) -> str:
    # Connected accounts are the platform's objects: only the platform makes them.
    assert not scope
    return connected_account(led)


def _owner(led: Ledger, scope: Scope) -> str:
    return str(scope.get("stripe_account", led.platform_account_id))


def _payout(led: Ledger, scope: Scope) -> str:
    confirmed(led, "pm_card_bypassPending", **scope)
    led.accounts.external_accounts.create(_owner(led, scope), external_account="btok_us_verified")
    return str(led.payouts.create(amount=500, currency="usd", **scope).id)


def _topup(led: Ledger, scope: Scope) -> str:
    return str(led.topups.create(amount=1000, currency="usd", **scope).id)


def _transfer(led: Ledger, scope: Scope) -> str:
    # Only the platform transfers, to its connected accounts.
    assert not scope
    confirmed(led, "pm_card_bypassPending")
    seller = verified_account(led)
    return str(led.transfers.create(amount=500, currency="usd", destination=seller).id)


def _application_fee(led: Ledger, scope: Scope) -> str:
    # A destination charge's fee is the platform's.
    assert not scope
    seller = verified_account(led)
    intent = confirmed(led, transfer_data={"destination": seller}, application_fee_amount=200)
    return str(led.charges.retrieve(str(intent.latest_charge)).application_fee)


@dataclass(frozen=True)
class Resource:
    """How to make, retrieve and list one kind of object as a given account."""

    name: str
    make: Callable[[Ledger, Scope], str]  # an object made as that account: its id
    service: Callable[[Ledger], Any]  # the service with `retrieve(id)` and `list()`
    param: str = "id"  # what Stripe's 404 names
    # Who can make one: connected accounts cannot make connected accounts.
    connected_accounts_make: bool = True

    def retrieve(self, led: Ledger, object_id: str, scope: Scope) -> Any:
        return self.service(led).retrieve(object_id, **scope)

    def listed(self, led: Ledger, scope: Scope) -> list[str]:
        return [o.id for o in self.service(led).list(limit=100, **scope).auto_paging_iter()]


RESOURCES = [
    Resource("customers", lambda led, s: str(led.customers.create(**s).id), _service("customers")),
    Resource(
        "payment_methods",
        lambda led, s: str(led.payment_methods.create(type="card", card=VISA, **s).id),
        _service("payment_methods"),
        param="payment_method",
    ),
    Resource("payment_intents", _intent, _service("payment_intents"), param="intent"),
    Resource("charges", _charge, _service("charges"), param="charge"),
    Resource("refunds", _refund, _service("refunds")),
    Resource("disputes", _dispute, _service("disputes")),
    Resource("balance_transactions", _balance_transaction, _service("balance_transactions")),
    Resource("events", _event, _service("events")),
    Resource("accounts", _account, _service("accounts"), connected_accounts_make=False),
    Resource("payouts", _payout, _service("payouts")),
    Resource("topups", _topup, _service("topups")),
    Resource(
        "transfers",
        _transfer,
        _service("transfers"),
        connected_accounts_make=False,
    ),
    Resource(
        "application_fees",
        _application_fee,
        _service("application_fees"),
        connected_accounts_make=False,
    ),
]

# (who makes the object, who looks for it): the platform, and two connected accounts A and B.
PAIRS = [("platform", "A"), ("A", "platform"), ("A", "B")]


@pytest.fixture
def scopes(led: Ledger) -> dict[str, Scope]:
    return {
        "platform": {},
        "A": {"stripe_account": connected_account(led)},
        "B": {"stripe_account": connected_account(led)},
    }


def _cases() -> list[Any]:
    return [
        pytest.param(resource, owner, viewer, id=f"{resource.name}-{owner}-to-{viewer}")
        for resource in RESOURCES
        for owner, viewer in PAIRS
        if owner == "platform" or resource.connected_accounts_make
    ]


@pytest.mark.parametrize(("resource", "owner", "viewer"), _cases())
def test_an_object_is_invisible_to_other_accounts(
    led: Ledger,
    database_url: str,
    scopes: dict[str, Scope],
    resource: Resource,
    owner: str,
    viewer: str,
) -> None:
    object_id = resource.make(led, scopes[owner])
    assert resource.retrieve(led, object_id, scopes[owner]).id == object_id
    assert object_id in resource.listed(led, scopes[owner])

    before = counts(database_url)
    with pytest.raises(InvalidRequestError) as caught:
        resource.retrieve(led, object_id, scopes[viewer])
    error = caught.value
    assert (error.code, error.param, error.http_status) == ("resource_missing", resource.param, 404)
    assert f"'{object_id}'" in error.message
    assert object_id not in resource.listed(led, scopes[viewer])
    assert counts(database_url) == before


def test_a_connected_account_cannot_see_another_connected_account(
    led: Ledger, scopes: dict[str, Scope]
) -> None:
    """The Accounts row from the other side: A and B are both the platform's objects."""
    accounts = next(r for r in RESOURCES if r.name == "accounts")
    b = scopes["B"]["stripe_account"]
    with pytest.raises(InvalidRequestError) as caught:
        accounts.retrieve(led, b, scopes["A"])
    assert (caught.value.code, caught.value.http_status) == ("resource_missing", 404)
    assert accounts.listed(led, scopes["A"]) == []
    assert sorted(accounts.listed(led, scopes["platform"])) == sorted(
        [scopes["A"]["stripe_account"], b]
    )


def test_balances_are_each_accounts_own(led: Ledger, scopes: dict[str, Scope]) -> None:
    def usd(scope: Scope) -> tuple[int, int]:
        balance = led.balance.retrieve(**scope)
        available = sum(b.amount for b in balance.available if b.currency == "usd")
        pending = sum(b.amount for b in balance.pending if b.currency == "usd")
        return available, pending

    confirmed(led, "pm_card_bypassPending", **scopes["A"])
    confirmed(led, **scopes["B"])
    assert usd(scopes["A"]) == (1912, 0)
    assert usd(scopes["B"]) == (0, 1912)
    assert usd(scopes["platform"]) == (0, 0)
