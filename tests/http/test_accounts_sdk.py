"""Accounts through the official `stripe` SDK over HTTP: create (by type or controller), retrieve
(the request's own account too), update, capabilities, list, delete, and `Stripe-Account`.

Every response is checked by the recorder (tests/http/conftest.py): headers, and Stripe's schema.
"""

from __future__ import annotations

import pytest
import stripe

from tests.support.accounts import CAPABILITIES, VERIFIED_INDIVIDUAL


def test_accounts_over_the_wire(client: stripe.StripeClient) -> None:
    created = client.accounts.create(
        params={"type": "custom", "country": "US", "capabilities": CAPABILITIES}
    )
    assert isinstance(created, stripe.Account) and created.type == "custom"
    monthly = {"payouts": {"schedule": {"interval": "monthly", "monthly_anchor": 15}}}
    updated = client.accounts.update(created.id, params=VERIFIED_INDIVIDUAL | {"settings": monthly})
    assert updated.capabilities is not None and updated.capabilities.transfers == "active"
    assert updated.charges_enabled
    capabilities = client.accounts.capabilities.list(created.id)
    assert sorted(c.id for c in capabilities.data) == ["card_payments", "transfers"]
    card = client.accounts.capabilities.update(
        created.id, "card_payments", params={"requested": False}
    )
    assert (card.status, card.requested) == ("unrequested", False)
    assert client.accounts.capabilities.retrieve(created.id, "transfers").status == "active"
    me = client.accounts.retrieve_current(options={"stripe_account": created.id})
    assert me.id == created.id
    assert created.id in [a.id for a in client.accounts.list().auto_paging_iter()]
    platform = client.accounts.retrieve_current()
    assert platform.id != created.id and platform.type == "standard"
    deleted = client.accounts.delete(created.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.PermissionError) as forbidden:
        client.customers.list(options={"stripe_account": created.id})
    assert forbidden.value.http_status == 403
    assert forbidden.value.json_body is not None
    assert forbidden.value.json_body["error"]["code"] == "account_invalid"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.accounts.retrieve(created.id)
    assert missing.value.http_status == 404


def test_controller_properties_over_the_wire(client: stripe.StripeClient) -> None:
    created = client.accounts.create(
        params={
            "controller": {
                "stripe_dashboard": {"type": "express"},
                "losses": {"payments": "application"},
                "fees": {"payer": "application"},
            },
            "capabilities": CAPABILITIES,
        }
    )
    assert created.type == "express"
    assert created.controller is not None and created.controller.get("fees") == {
        "payer": "application"
    }
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.accounts.create(
            params={"type": "custom", "controller": {"fees": {"payer": "account"}}}
        )
    assert refused.value.param == "controller"
