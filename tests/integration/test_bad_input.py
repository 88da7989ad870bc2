"""Bad input: every rejection has Stripe's type, code, param and status, and writes nothing.

The requests here all fail, so they share one database (module scope) to stay fast; each case
still counts the rows of the log and of the projections before and after itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, Ledger, db
from ledger.errors import InvalidRequestError, LedgerError, PermissionError
from tests.conftest import with_database
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid


@dataclass(frozen=True)
class World:
    led: Ledger
    url: str
    customer: str  # a platform customer with metadata {"k": "v"}
    connected: str  # a connected account of the platform
    foreign: str  # a customer of `connected`
    event: str  # a platform event

    def counts(self) -> tuple[int, ...]:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM objects), "
                "(SELECT count(*) FROM stripe_events), (SELECT count(*) FROM idempotency_keys)"
            ).fetchone()
        assert row is not None
        return tuple(int(n) for n in row)


@pytest.fixture(scope="module")
def world(server_url: str, template_database: str) -> Iterator[World]:
    name = f"ledger_t_{secrets.token_hex(6)}"
    admin = db.to_libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = with_database(server_url, name)
    led = Ledger.open(
        url, clock=FrozenClock(datetime(2024, 11, 20, 12, 0, tzinfo=UTC)), migrate=False
    )
    try:
        customer = led.customers.create(email="keep@example.com", metadata={"k": "v"})
        connected = connected_account(led)
        foreign = led.customers.create(stripe_account=connected)
        event = led.events.list(limit=1, type="customer.created").data[0].id
        yield World(led, url, customer.id, connected, foreign.id, event)
    finally:
        led.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


Call = Callable[[World], Any]


@dataclass(frozen=True)
class Case:
    id: str
    call: Call
    code: str | None
    param: str
    status: int = 400
    message: str | None = None
    error: type[LedgerError] = InvalidRequestError


def many_keys(n: int) -> dict[str, str]:
    return {f"key{i}": "v" for i in range(n)}


LONG_KEY = "k" * 41
CASES = [
    # -- unknown parameters ----------------------------------------------------------------------
    Case(
        "create-unknown",
        lambda w: w.led.customers.create(foo="x"),
        "parameter_unknown",
        "foo",
        message="Received unknown parameter: foo",
    ),
    Case(
        "update-unknown",
        lambda w: w.led.customers.update(w.customer, favourite_colour="red"),
        "parameter_unknown",
        "favourite_colour",
    ),
    Case(
        "retrieve-unknown",
        lambda w: w.led.customers.retrieve(w.customer, email="a@example.com"),
        "parameter_unknown",
        "email",
    ),
    Case(
        "delete-unknown",
        lambda w: w.led.customers.delete(w.customer, name="x"),
        "parameter_unknown",
        "name",
    ),
    Case("list-unknown", lambda w: w.led.customers.list(name="x"), "parameter_unknown", "name"),
    Case(
        "test-clock-on-update",
        lambda w: w.led.customers.update(w.customer, test_clock="clock_x"),
        "parameter_unknown",
        "test_clock",
    ),
    Case(
        "events-list-unknown",
        lambda w: w.led.events.list(object="customer"),
        "parameter_unknown",
        "object",
    ),
    Case(
        "events-retrieve-unknown",
        lambda w: w.led.events.retrieve(w.event, limit=1),
        "parameter_unknown",
        "limit",
    ),
    Case(
        "nested-unknown-address",
        lambda w: w.led.customers.create(address={"line1": "x", "foo": "y"}),
        "parameter_unknown",
        "address[foo]",
        message="Received unknown parameter: address[foo]",
    ),
    Case(
        "nested-unknown-shipping-address",
        lambda w: w.led.customers.create(shipping={"name": "n", "address": {"zip": "1"}}),
        "parameter_unknown",
        "shipping[address][zip]",
    ),
    Case(
        "nested-unknown-invoice-settings",
        lambda w: w.led.customers.update(w.customer, invoice_settings={"colour": "red"}),
        "parameter_unknown",
        "invoice_settings[colour]",
    ),
    Case(
        "nested-unknown-created",
        lambda w: w.led.customers.list(created={"after": 1}),
        "parameter_unknown",
        "created[after]",
    ),
    # -- wrong types -----------------------------------------------------------------------------
    Case(
        "balance-not-integer",
        lambda w: w.led.customers.create(balance="abc"),
        "parameter_invalid_integer",
        "balance",
        message="Invalid integer: abc",
    ),
    Case(
        "balance-float",
        lambda w: w.led.customers.update(w.customer, balance=1.5),
        "parameter_invalid_integer",
        "balance",
    ),
    Case(
        "balance-bool",
        lambda w: w.led.customers.create(balance=True),
        "parameter_invalid_integer",
        "balance",
    ),
    Case(
        "balance-beyond-int64",
        lambda w: w.led.customers.create(balance=2**63),
        "parameter_invalid_integer",
        "balance",
    ),
    Case(
        "metadata-list",
        lambda w: w.led.customers.create(metadata=["a", "b"]),
        None,
        "metadata",
        message="Invalid object",
    ),
    Case(
        "metadata-string",
        lambda w: w.led.customers.update(w.customer, metadata="k=v"),
        None,
        "metadata",
    ),
    Case(
        "metadata-value-int",
        lambda w: w.led.customers.create(metadata={"k": 1}),
        None,
        "metadata[k]",
        message="Invalid string: 1",
    ),
    Case(
        "name-int",
        lambda w: w.led.customers.create(name=5),
        None,
        "name",
        message="Invalid string: 5",
    ),
    Case(
        "name-too-long",
        lambda w: w.led.customers.update(w.customer, name="n" * 257),
        None,
        "name",
    ),
    Case(
        "locales-not-array",
        lambda w: w.led.customers.create(preferred_locales="en"),
        None,
        "preferred_locales",
        message="Invalid array",
    ),
    Case(
        "tax-exempt-enum",
        lambda w: w.led.customers.create(tax_exempt="maybe"),
        None,
        "tax_exempt",
        message="Invalid tax_exempt: must be one of exempt, none, or reverse",
    ),
    Case(
        "address-not-object",
        lambda w: w.led.customers.create(address=["x"]),
        None,
        "address",
    ),
    Case(
        "shipping-missing-name",
        lambda w: w.led.customers.create(shipping={"address": {"city": "c"}}),
        "parameter_missing",
        "shipping[name]",
        message="Missing required param: shipping[name].",
    ),
    Case(
        "custom-field-missing-value",
        lambda w: w.led.customers.create(invoice_settings={"custom_fields": [{"name": "PO"}]}),
        "parameter_missing",
        "invoice_settings[custom_fields][0][value]",
    ),
    Case(
        "balance-empty",
        lambda w: w.led.customers.create(balance=""),
        "parameter_invalid_empty",
        "balance",
    ),
    Case(
        "list-limit-string",
        lambda w: w.led.customers.list(limit="ten"),
        "parameter_invalid_integer",
        "limit",
    ),
    Case(
        "list-created-string",
        lambda w: w.led.customers.list(created="yesterday"),
        "parameter_invalid_integer",
        "created",
    ),
    Case("list-email-int", lambda w: w.led.customers.list(email=5), None, "email"),
    Case(
        "events-delivery-success-string",
        lambda w: w.led.events.list(delivery_success="yes"),
        None,
        "delivery_success",
        message="Invalid boolean: yes",
    ),
    # -- out of range ----------------------------------------------------------------------------
    Case(
        "limit-zero",
        lambda w: w.led.customers.list(limit=0),
        "parameter_invalid_integer",
        "limit",
        message="Invalid limit: must be between 1 and 100",
    ),
    Case(
        "limit-101",
        lambda w: w.led.customers.list(limit=101),
        "parameter_invalid_integer",
        "limit",
    ),
    Case(
        "events-limit-101",
        lambda w: w.led.events.list(limit=101),
        "parameter_invalid_integer",
        "limit",
    ),
    Case(
        "next-invoice-sequence-zero",
        lambda w: w.led.customers.create(next_invoice_sequence=0),
        None,
        "next_invoice_sequence",
    ),
    Case(
        "invoice-prefix-lowercase",
        lambda w: w.led.customers.update(w.customer, invoice_prefix="abc"),
        None,
        "invoice_prefix",
    ),
    Case(
        "invoice-prefix-too-short",
        lambda w: w.led.customers.create(invoice_prefix="AB"),
        None,
        "invoice_prefix",
    ),
    # -- ids that do not exist here --------------------------------------------------------------
    Case(
        "retrieve-malformed-id",
        lambda w: w.led.customers.retrieve("nope"),
        "resource_missing",
        "id",
        404,
        "No such customer: 'nope'",
    ),
    Case(
        "update-missing-id",
        lambda w: w.led.customers.update("cus_missing", name="x"),
        "resource_missing",
        "id",
        404,
        "No such customer: 'cus_missing'",
    ),
    Case(
        "delete-missing-id",
        lambda w: w.led.customers.delete("cus_missing"),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "retrieve-an-event-id-as-customer",
        lambda w: w.led.customers.retrieve(w.event),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "retrieve-a-customer-id-as-event",
        lambda w: w.led.events.retrieve(w.customer),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "retrieve-another-accounts-customer",
        lambda w: w.led.customers.retrieve(w.foreign),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "update-another-accounts-customer",
        lambda w: w.led.customers.update(w.foreign, name="x"),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "delete-platform-customer-from-connected",
        lambda w: w.led.customers.delete(w.customer, stripe_account=w.connected),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "event-of-platform-from-connected",
        lambda w: w.led.events.retrieve(w.event, stripe_account=w.connected),
        "resource_missing",
        "id",
        404,
    ),
    Case(
        "legacy-default-source",
        lambda w: w.led.customers.update(w.customer, default_source="card_missing"),
        "resource_missing",
        "default_source",
        404,
    ),
    Case(
        "missing-default-payment-method",
        lambda w: w.led.customers.create(invoice_settings={"default_payment_method": "pm_nope"}),
        "resource_missing",
        "invoice_settings[default_payment_method]",
        404,
    ),
    Case(
        "missing-payment-method",
        lambda w: w.led.customers.create(payment_method="pm_nope"),
        "resource_missing",
        "payment_method",
        404,
    ),
    Case(
        "missing-test-clock",
        lambda w: w.led.customers.create(test_clock="clock_nope"),
        "resource_missing",
        "test_clock",
        404,
    ),
    Case(
        "missing-coupon",
        lambda w: w.led.customers.update(w.customer, coupon="nope"),
        "resource_missing",
        "coupon",
        404,
    ),
    # -- metadata limits -------------------------------------------------------------------------
    Case(
        "metadata-51-keys",
        lambda w: w.led.customers.create(metadata=many_keys(51)),
        None,
        "metadata",
    ),
    Case(
        "metadata-51-keys-after-merge",
        lambda w: w.led.customers.update(w.customer, metadata=many_keys(50)),
        None,
        "metadata",
    ),
    Case(
        "metadata-41-char-key",
        lambda w: w.led.customers.create(metadata={LONG_KEY: "v"}),
        "parameter_invalid_string_too_long",
        f"metadata[{LONG_KEY}]",
    ),
    Case(
        "metadata-41-char-key-unset",
        lambda w: w.led.customers.update(w.customer, metadata={LONG_KEY: ""}),
        "parameter_invalid_string_too_long",
        f"metadata[{LONG_KEY}]",
    ),
    Case(
        "metadata-501-char-value",
        lambda w: w.led.customers.update(w.customer, metadata={"k": "v" * 501}),
        "parameter_invalid_string_too_long",
        "metadata[k]",
    ),
    Case(
        "metadata-empty-key",
        lambda w: w.led.customers.create(metadata={"": "v"}),
        "parameter_invalid_empty",
        "metadata",
    ),
    # -- parameters the ledger does not support --------------------------------------------------
    Case(
        "tax-id-data",
        lambda w: w.led.customers.create(tax_id_data=[{"type": "eu_vat", "value": "DE123"}]),
        "parameter_unsupported",
        "tax_id_data",
        message="The ledger does not support the 'tax_id_data' parameter of customers yet.",
    ),
    Case(
        "cash-balance",
        lambda w: w.led.customers.create(
            cash_balance={"settings": {"reconciliation_mode": "automatic"}}
        ),
        "parameter_unsupported",
        "cash_balance",
    ),
    Case(
        "tax-on-update",
        lambda w: w.led.customers.update(w.customer, tax={"ip_address": "192.0.2.1"}),
        "parameter_unsupported",
        "tax",
    ),
    # -- email -----------------------------------------------------------------------------------
    Case(
        "email-invalid",
        lambda w: w.led.customers.create(email="not-an-email"),
        "email_invalid",
        "email",
        message="Invalid email address: not-an-email",
    ),
    Case(
        "email-invalid-on-update",
        lambda w: w.led.customers.update(w.customer, email="a@b"),
        "email_invalid",
        "email",
    ),
    # -- request options and expand --------------------------------------------------------------
    Case(
        "stripe-account-bogus",
        lambda w: w.led.customers.create(stripe_account="bogus"),
        "account_invalid",
        "stripe_account",
        403,
        error=PermissionError,
    ),
    Case(
        "stripe-account-bogus-on-list",
        lambda w: w.led.customers.list(stripe_account="acct_"),
        "account_invalid",
        "stripe_account",
        403,
        error=PermissionError,
    ),
    Case(
        "stripe-account-bogus-on-retrieve",
        lambda w: w.led.customers.retrieve(w.customer, stripe_account="cus_123"),
        "account_invalid",
        "stripe_account",
        403,
        error=PermissionError,
    ),
    Case(
        "stripe-account-bogus-on-events",
        lambda w: w.led.events.list(stripe_account=42),
        "account_invalid",
        "stripe_account",
        403,
        error=PermissionError,
    ),
    Case(
        "idempotency-key-empty",
        lambda w: w.led.customers.create(idempotency_key=""),
        None,
        "idempotency_key",
    ),
    Case(
        "idempotency-key-too-long",
        lambda w: w.led.customers.create(idempotency_key="k" * 256),
        None,
        "idempotency_key",
    ),
    Case(
        "expand-not-a-list",
        lambda w: w.led.customers.retrieve(w.customer, expand="test_clock"),
        None,
        "expand",
        message="Invalid array",
    ),
    Case(
        "expand-not-expandable",
        lambda w: w.led.customers.create(email="e@example.com", expand=["email"]),
        None,
        "expand",
        message="This property cannot be expanded (email).",
    ),
    Case(
        "expand-too-deep",
        lambda w: w.led.customers.list(expand=["data.test_clock.a.b.c"]),
        None,
        "expand",
    ),
    # -- lists -----------------------------------------------------------------------------------
    Case(
        "both-cursors",
        lambda w: w.led.customers.list(starting_after=w.customer, ending_before=w.customer),
        "parameters_exclusive",
        "ending_before",
    ),
    Case(
        "cursor-of-another-kind",
        lambda w: w.led.customers.list(starting_after=w.event),
        "resource_missing",
        "starting_after",
        404,
    ),
    Case(
        "cursor-of-another-account",
        lambda w: w.led.customers.list(ending_before=w.foreign),
        "resource_missing",
        "ending_before",
        404,
    ),
    Case(
        "events-type-and-types",
        lambda w: w.led.events.list(type="customer.created", types=["customer.updated"]),
        "parameters_exclusive",
        "types",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_and_writes_nothing(world: World, case: Case) -> None:
    before = world.counts()
    with pytest.raises(LedgerError) as caught:
        case.call(world)
    error = caught.value
    assert type(error) is case.error
    assert (error.type, error.code, error.param, error.http_status) == (
        "invalid_request_error",
        case.code,
        case.param,
        case.status,
    )
    if case.message is not None:
        assert error.message == case.message
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert world.counts() == before


def test_ids_are_unique_and_the_world_is_intact(world: World) -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    customer = world.led.customers.retrieve(world.customer)
    assert_valid(customer)
    assert customer.to_dict()["metadata"] == {"k": "v"}
    assert customer.email == "keep@example.com"
    assert [c.id for c in world.led.customers.list().data] == [world.customer]
    assert [e.type for e in world.led.events.list().data] == ["customer.created"]


def test_error_json_is_stripes(world: World) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        world.led.customers.create(foo="x")
    error = caught.value
    assert error.to_dict() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Received unknown parameter: foo",
            "code": "parameter_unknown",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
            "param": "foo",
            "request_log_url": f"https://dashboard.stripe.com/test/logs/{error.request_id}",
        }
    }


def test_a_failed_create_with_an_idempotency_key_can_be_retried(world: World) -> None:
    key = f"retry-{secrets.token_hex(4)}"
    before = world.counts()
    with pytest.raises(InvalidRequestError):
        world.led.customers.create(email="bad", idempotency_key=key)
    assert world.counts() == before
    with pytest.raises(InvalidRequestError) as caught:
        world.led.customers.create(metadata=many_keys(51), idempotency_key=key)
    assert caught.value.param == "metadata"
    assert world.counts() == before
