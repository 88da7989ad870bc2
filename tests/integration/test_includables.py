"""Fields Stripe returns only when expanded: customer cash_balance, tax, invoice_credit_balance."""

from ledger import Ledger
from tests.support.stripe_schema import assert_valid

INCLUDABLES = [
    "cash_balance",
    "invoice_credit_balance",
    "sources",
    "subscriptions",
    "tax",
    "tax_ids",
]


def test_customer_includables_appear_only_when_expanded(led: Ledger) -> None:
    plain = led.customers.create(email="a@example.com")
    for field in INCLUDABLES:
        assert field not in plain

    expanded = led.customers.retrieve(plain.id, expand=INCLUDABLES)
    assert_valid(expanded, expand=INCLUDABLES)
    assert expanded.cash_balance.to_dict() == {
        "object": "cash_balance",
        "available": None,
        "customer": plain.id,
        "livemode": False,
        "settings": {"reconciliation_mode": "automatic", "using_merchant_default": True},
    }
    assert expanded.invoice_credit_balance.to_dict() == {}
    assert expanded.tax.to_dict() == {
        "automatic_tax": "unrecognized_location",
        "ip_address": None,
        "location": None,
    }
    assert expanded.sources.url == f"/v1/customers/{plain.id}/sources"


def test_a_deleted_customer_stub_is_never_expanded(led: Ledger) -> None:
    customer = led.customers.create(email="a@example.com")
    led.customers.delete(customer.id)
    stub = led.customers.retrieve(customer.id, expand=["sources", "tax"])
    assert stub.to_dict() == {"id": customer.id, "object": "customer", "deleted": True}
