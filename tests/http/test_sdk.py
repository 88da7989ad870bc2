"""The official `stripe` SDK (11.3.0, API 2024-11-20.acacia) drives `ledger serve` over HTTP.

Every response is checked by the recorder (tests/http/conftest.py): headers, and Stripe's schema.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from ledger import API_VERSION
from tests.http.conftest import Recorder, Server, new_key, response_header, sent_json


def test_the_sdk_targets_the_ledgers_api_version() -> None:
    assert stripe.VERSION == "11.3.0"
    assert stripe.api_version == API_VERSION


# -- customers ----------------------------------------------------------------------------------


def test_customers_crud(client: stripe.StripeClient, recorder: Recorder) -> None:
    created = client.customers.create(
        params={
            "email": "crud@example.com",
            "name": "Jo",
            "metadata": {"order": "6735", "keep": "yes"},
            "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
            "preferred_locales": ["en", "fr"],
            "balance": -250,
        }
    )
    assert isinstance(created, stripe.Customer)
    assert created.id.startswith("cus_")
    assert created.email == "crud@example.com"
    assert created.address is not None and created.address.city == "Springfield"
    assert created.preferred_locales == ["en", "fr"]
    assert created.balance == -250
    assert created.last_response.request_id.startswith("req_")

    fetched = client.customers.retrieve(created.id)
    assert sent_json(fetched) == sent_json(created)

    updated = client.customers.update(
        created.id, params={"name": "Ann", "metadata": {"order": ""}, "description": "vip"}
    )
    assert updated.name == "Ann"
    assert updated.metadata == {"keep": "yes"}  # "" unset the key
    assert updated.description == "vip"
    cleared = client.customers.update(created.id, params={"description": ""})
    assert cleared.description is None

    deleted = client.customers.delete(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    assert client.customers.retrieve(created.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.customers.update(created.id, params={"name": "Gone"})
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert recorder.exchanges[0].method == "POST"


def test_customers_list_filters_and_auto_pagination(
    client: stripe.StripeClient, account: str
) -> None:
    options: Any = {"stripe_account": account}
    ids = [
        client.customers.create(params={"email": f"p{i}@example.com"}, options=options).id
        for i in range(7)
    ]
    page = client.customers.list(params={"limit": 3}, options=options)
    assert page.object == "list" and page.url == "/v1/customers"
    assert [c.id for c in page.data] == ids[::-1][:3]
    assert page.has_more is True
    walked = [c.id for c in page.auto_paging_iter()]
    assert walked == ids[::-1]
    by_email = client.customers.list(params={"email": "p3@example.com"}, options=options)
    assert [c.id for c in by_email.data] == [ids[3]]
    before = client.customers.list(params={"ending_before": ids[2], "limit": 2}, options=options)
    assert [c.id for c in before.data] == [ids[4], ids[3]]
    created = client.customers.retrieve(ids[0], options=options).created
    since = client.customers.list(params={"created": {"gte": created}}, options=options)
    assert len(since.data) == 7


def test_expand(client: stripe.StripeClient) -> None:
    clock = client.test_helpers.test_clocks.create(params={"frozen_time": 1_732_000_000})
    customer = client.customers.create(
        params={"email": "x@example.com", "test_clock": clock.id, "expand": ["test_clock"]}
    )
    assert isinstance(customer.test_clock, stripe.test_helpers.TestClock)
    assert customer.test_clock.id == clock.id
    plain = client.customers.retrieve(customer.id)
    assert plain.test_clock == clock.id
    expanded = client.customers.retrieve(customer.id, params={"expand": ["test_clock"]})
    assert expanded.test_clock.frozen_time == 1_732_000_000
    listed = client.customers.list(params={"test_clock": clock.id, "expand": ["data.test_clock"]})
    assert listed.data[0].test_clock.id == clock.id
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.customers.retrieve(customer.id, params={"expand": ["nope"]})
    assert bad.value.http_status == 400
    client.test_helpers.test_clocks.delete(clock.id)


# -- events, balance, balance transactions -----------------------------------------------------


def test_events(client: stripe.StripeClient, account: str) -> None:
    options: Any = {"stripe_account": account}
    customer = client.customers.create(params={"email": "ev@example.com"}, options=options)
    client.customers.update(customer.id, params={"name": "Ev"}, options=options)
    events = client.events.list(params={"type": "customer.*"}, options=options)
    assert [e.type for e in events.data] == ["customer.updated", "customer.created"]
    updated = events.data[0]
    assert updated.data.object.id == customer.id
    assert updated.data.previous_attributes == {"name": None}
    again = client.events.retrieve(updated.id, options=options)
    assert sent_json(again) == sent_json(events)["data"][0]
    only = client.events.list(params={"types": ["customer.created"]}, options=options)
    assert [e.type for e in only.data] == ["customer.created"]
    assert client.events.list(params={"delivery_success": False}, options=options).data == []


def test_balance_and_balance_transactions(client: stripe.StripeClient, account: str) -> None:
    options: Any = {"stripe_account": account}
    empty = client.balance.retrieve(options=options)
    assert isinstance(empty, stripe.Balance)
    assert empty.available[0].amount == 0
    intent = client.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "confirm": True,
        },
        options=options,
    )
    assert intent.status == "succeeded"
    pending = client.balance.retrieve(options=options)
    assert pending.pending[0].amount == 2000 - 88  # 2.9% + 30¢
    txns = client.balance_transactions.list(params={"type": "charge"}, options=options)
    (txn,) = txns.data
    assert (txn.amount, txn.fee, txn.net) == (2000, 88, 1912)
    fetched = client.balance_transactions.retrieve(
        txn.id, params={"expand": ["source"]}, options=options
    )
    assert fetched.source.id == intent.latest_charge
    walked = list(client.balance_transactions.list(options=options).auto_paging_iter())
    assert [t.id for t in walked] == [txn.id]


# -- payment methods ----------------------------------------------------------------------------


def test_payment_methods_attach_update_list_detach(client: stripe.StripeClient) -> None:
    customer = client.customers.create(params={"email": "pm@example.com"})
    created = client.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            "billing_details": {"name": "Jo"},
        }
    )
    assert isinstance(created, stripe.PaymentMethod)
    assert created.card is not None and created.card.last4 == "4242"
    attached = client.payment_methods.attach(created.id, params={"customer": customer.id})
    assert attached.customer == customer.id
    from_test_id = client.payment_methods.attach(
        "pm_card_mastercard", params={"customer": customer.id}
    )
    assert from_test_id.card.brand == "mastercard"
    updated = client.payment_methods.update(created.id, params={"metadata": {"a": "b"}})
    assert updated.metadata == {"a": "b"}
    client.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": created.id}}
    )
    listed = client.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert {pm.id for pm in listed.data} == {created.id, from_test_id.id}
    detached = client.payment_methods.detach(created.id)
    assert detached.customer is None
    after = client.customers.retrieve(customer.id)
    assert after.invoice_settings.default_payment_method is None
    assert client.payment_methods.retrieve(created.id).customer is None


# -- test clocks --------------------------------------------------------------------------------


def test_test_clocks(client: stripe.StripeClient, account: str) -> None:
    options: Any = {"stripe_account": account}
    clock = client.test_helpers.test_clocks.create(
        params={"frozen_time": 1_732_000_000, "name": "monthly"}, options=options
    )
    assert clock.status == "ready" and clock.name == "monthly"
    customer = client.customers.create(params={"test_clock": clock.id}, options=options)
    advanced = client.test_helpers.test_clocks.advance(
        clock.id, params={"frozen_time": 1_732_086_400}, options=options
    )
    assert advanced.frozen_time == 1_732_086_400 and advanced.status == "ready"
    assert client.test_helpers.test_clocks.retrieve(clock.id, options=options).frozen_time == (
        1_732_086_400
    )
    listed = client.test_helpers.test_clocks.list(options=options)
    assert [c.id for c in listed.data] == [clock.id]
    with pytest.raises(stripe.InvalidRequestError) as backwards:
        client.test_helpers.test_clocks.advance(
            clock.id, params={"frozen_time": 1_700_000_000}, options=options
        )
    assert backwards.value.param == "frozen_time"
    deleted = client.test_helpers.test_clocks.delete(clock.id, options=options)
    assert deleted.deleted is True
    assert client.customers.retrieve(customer.id, options=options).deleted is True


# -- payments -----------------------------------------------------------------------------------


def _intent(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    return client.payment_intents.create(
        params={"amount": 1500, "currency": "usd", "payment_method_types": ["card"], **params}
    )


def test_payment_intent_create_confirm_capture(client: stripe.StripeClient) -> None:
    intent = _intent(client, capture_method="manual", metadata={"order": "1"})
    assert intent.status == "requires_payment_method"
    assert intent.client_secret is not None and intent.client_secret.startswith(intent.id)
    confirmed = client.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "requires_capture"
    captured = client.payment_intents.capture(
        intent.id, params={"amount_to_capture": 1000, "expand": ["latest_charge"]}
    )
    assert captured.status == "succeeded"
    assert captured.amount_received == 1000
    charge = captured.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.captured is True and charge.amount_captured == 1000
    assert client.charges.retrieve(charge.id).payment_intent == intent.id
    updated = client.payment_intents.update(intent.id, params={"description": "paid"})
    assert updated.description == "paid"
    listed = client.payment_intents.list(params={"limit": 100})
    assert intent.id in {pi.id for pi in listed.auto_paging_iter()}


def test_a_decline_is_a_card_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as declined:
        _intent(client, payment_method="pm_card_chargeDeclinedInsufficientFunds", confirm=True)
    error = declined.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error is not None and error.error.decline_code == "insufficient_funds"
    intent = error.error.payment_intent
    assert intent is not None and intent.status == "requires_payment_method"
    charge = client.charges.retrieve(error.error.charge)
    assert charge.status == "failed" and charge.outcome.type == "issuer_declined"


def test_cancel_releases_an_authorization(client: stripe.StripeClient) -> None:
    intent = _intent(client, capture_method="manual", payment_method="pm_card_visa", confirm=True)
    canceled = client.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    with pytest.raises(stripe.InvalidRequestError) as late:
        client.payment_intents.capture(intent.id)
    assert late.value.code == "payment_intent_unexpected_state"


def test_three_d_secure_through_the_test_helper(client: stripe.StripeClient) -> None:
    intent = _intent(client, payment_method="pm_card_threeDSecure2Required", confirm=True)
    assert intent.status == "requires_action"
    path = f"/v1/test_helpers/payment_intents/{intent.id}/authenticate"
    response = client.raw_request("post", path, succeed=False)
    failed = client.deserialize(response, api_mode="V1")
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    again = client.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_threeDSecure2Required"}
    )
    assert again.status == "requires_action"
    passed = client.deserialize(client.raw_request("post", path), api_mode="V1")
    assert passed.status == "succeeded"


def test_charges(client: stripe.StripeClient, account: str) -> None:
    options: Any = {"stripe_account": account}
    charge = client.charges.create(
        params={"amount": 999, "currency": "usd", "source": "tok_visa", "capture": False},
        options=options,
    )
    assert isinstance(charge, stripe.Charge)
    assert charge.captured is False and charge.status == "succeeded"
    captured = client.charges.capture(charge.id, options=options)
    assert captured.captured is True
    updated = client.charges.update(
        charge.id, params={"description": "legacy", "metadata": {"k": "v"}}, options=options
    )
    assert updated.description == "legacy"
    listed = client.charges.list(options=options)
    assert [c.id for c in listed.data] == [charge.id]
    with pytest.raises(stripe.CardError) as declined:
        client.charges.create(
            params={"amount": 999, "currency": "usd", "source": "tok_chargeDeclined"},
            options=options,
        )
    assert declined.value.code == "card_declined"


def _eventually(check: Any, seconds: float = 10.0) -> Any:
    """Poll `check()` until it returns something truthy: the server's due work runs apart."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "the server's due work did not run"
        time.sleep(0.05)
    return found


def test_refunds(client: stripe.StripeClient, account: str) -> None:
    options: Any = {"stripe_account": account}
    intent = client.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "confirm": True,
        },
        options=options,
    )
    refund = client.refunds.create(
        params={"payment_intent": intent.id, "amount": 500, "metadata": {"reason": "late"}},
        options=options,
    )
    assert isinstance(refund, stripe.Refund)
    assert (refund.amount, refund.charge) == (500, intent.latest_charge)
    assert refund.status in ("pending", "succeeded")
    updated = client.refunds.update(refund.id, params={"metadata": {"case": "9"}}, options=options)
    assert updated.metadata == {"reason": "late", "case": "9"}
    settled = _eventually(
        lambda: client.refunds.retrieve(refund.id, options=options).status == "succeeded"
    )
    assert settled
    rest = client.refunds.create(params={"charge": intent.latest_charge}, options=options)
    assert rest.amount == 1500
    listed = client.refunds.list(params={"payment_intent": intent.id}, options=options)
    assert [r.id for r in listed.data] == [rest.id, refund.id]
    charge = client.charges.retrieve(
        intent.latest_charge, params={"expand": ["refunds"]}, options=options
    )
    assert charge.refunded is True and charge.amount_refunded == 2000
    assert {r.id for r in charge.refunds.data} == {refund.id, rest.id}
    with pytest.raises(stripe.InvalidRequestError) as over:
        client.refunds.create(params={"charge": intent.latest_charge, "amount": 1}, options=options)
    assert over.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError):
        client.refunds.cancel(refund.id, options=options)


def test_disputes_open_in_the_background(client: stripe.StripeClient, account: str) -> None:
    options: Any = {"stripe_account": account}
    intent = client.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_createDispute",
            "payment_method_types": ["card"],
            "confirm": True,
        },
        options=options,
    )
    # No request opens it: the server's due work does, as Stripe's background processing does.
    disputes = _eventually(
        lambda: client.disputes.list(params={"payment_intent": intent.id}, options=options).data
    )
    (dispute,) = disputes
    assert isinstance(dispute, stripe.Dispute)
    assert (dispute.status, dispute.amount, dispute.charge) == (
        "needs_response",
        2000,
        intent.latest_charge,
    )
    staged = client.disputes.update(
        dispute.id,
        params={"evidence": {"product_description": "A mug"}, "submit": False},
        options=options,
    )
    assert staged.status == "needs_response"
    assert staged.evidence_details.has_evidence is True
    closed = client.disputes.close(dispute.id, options=options)
    assert closed.status == "lost"
    assert client.disputes.retrieve(dispute.id, options=options).status == "lost"
    types = [e.type for e in client.events.list(options=options).auto_paging_iter()]
    assert "charge.dispute.created" in types and "charge.dispute.closed" in types


# -- idempotency, errors, accounts --------------------------------------------------------------


def test_idempotency(client: stripe.StripeClient) -> None:
    key = new_key()
    first = client.customers.create(
        params={"email": "idem@example.com"}, options={"idempotency_key": key}
    )
    again = client.customers.create(
        params={"email": "idem@example.com"}, options={"idempotency_key": key}
    )
    assert again.id == first.id
    assert sent_json(again) == sent_json(first)
    assert response_header(first, "Idempotent-Replayed") is None
    assert response_header(again, "Idempotent-Replayed") == "true"
    assert response_header(again, "Idempotency-Key") == key
    assert again.last_response.request_id != first.last_response.request_id
    with pytest.raises(stripe.IdempotencyError) as reused:
        client.customers.create(
            params={"email": "other@example.com"}, options={"idempotency_key": key}
        )
    assert reused.value.http_status == 400
    assert "same parameters" in reused.value.user_message


def test_the_sdks_automatic_keys_make_its_retries_safe(
    client: stripe.StripeClient, recorder: Recorder
) -> None:
    params = {"email": "auto@example.com"}
    first = client.customers.create(params=params)
    automatic = recorder.exchanges[-1].request_headers["Idempotency-Key"]  # a uuid4 per POST
    assert response_header(first, "Idempotency-Key") == automatic
    retried = client.customers.create(params=params, options={"idempotency_key": automatic})
    assert retried.id == first.id
    assert response_header(retried, "Idempotent-Replayed") == "true"


def test_errors_carry_code_param_and_status(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        client.customers.create(params={"email": "not-an-email"})
    assert invalid.value.http_status == 400
    assert invalid.value.code == "email_invalid"
    assert invalid.value.param == "email"
    assert invalid.value.request_id is not None and invalid.value.request_id.startswith("req_")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.customers.create(params={"colour": "blue"})
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "colour")
    with pytest.raises(stripe.InvalidRequestError) as integer:
        client.customers.create(params={"balance": "ten"})
    assert (integer.value.code, integer.value.param) == ("parameter_invalid_integer", "balance")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.customers.retrieve("cus_nope")
    assert missing.value.http_status == 404
    assert missing.value.user_message == "No such customer: 'cus_nope'"
    with pytest.raises(stripe.InvalidRequestError) as limit:
        client.customers.list(params={"limit": 101})
    assert limit.value.param == "limit"


def test_a_wrong_key_is_an_authentication_error(server: Server) -> None:
    bad = stripe.StripeClient(
        "sk_test_wrongwrongwrong1234", base_addresses={"api": server.base}, http_client=Recorder()
    )
    with pytest.raises(stripe.AuthenticationError) as refused:
        bad.customers.list()
    assert refused.value.http_status == 401
    assert refused.value.user_message == "Invalid API Key provided: sk_test_" + "*" * 15 + "1234"


def test_stripe_account_isolates_books(client: stripe.StripeClient, account: str) -> None:
    mine = client.customers.create(params={"email": "mine@example.com"})
    theirs = client.customers.create(
        params={"email": "theirs@example.com"}, options={"stripe_account": account}
    )
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.customers.retrieve(theirs.id)
    assert hidden.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError):
        client.customers.retrieve(mine.id, options={"stripe_account": account})
    listed = client.customers.list(options={"stripe_account": account})
    assert [c.id for c in listed.data] == [theirs.id]
    with pytest.raises(stripe.PermissionError) as forbidden:
        client.customers.list(options={"stripe_account": "not-an-account"})
    assert forbidden.value.http_status == 403


# -- the resource-style API (module globals) ----------------------------------------------------


@pytest.mark.usefixtures("global_sdk")
def test_the_resource_style_api() -> None:
    customer = stripe.Customer.create(email="global@example.com", metadata={"a": "1"})
    stripe.Customer.modify(customer.id, name="Glo")
    assert stripe.Customer.retrieve(customer.id).name == "Glo"
    modified = stripe.Customer.modify(customer.id, metadata={"a": ""})
    assert modified.metadata == {}
    assert any(c.id == customer.id for c in stripe.Customer.list(limit=3).data)
    assert stripe.Customer.delete(customer.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Customer.retrieve("cus_nope")
