"""The routing table is generated from the services, and covers all of them (no server)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Route as StarletteRoute

import ledger.client as client_module
from ledger import FrozenClock, Ledger
from ledger.errors import AuthenticationError
from ledger.params import operations, path_params
from ledger.resources.base import StripeObject
from ledger.server import create_app
from ledger.server.auth import (
    authenticate,
    configured_keys,
    generate_test_key,
    mask_key,
    presented_key,
)
from ledger.server.routing import RoutingError, routing_table, service_methods
from ledger.services.base import Service, declared_operation, stripe_operation
from ledger.services.runner import Engine


@pytest.fixture
def offline_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """A Ledger over a stand-in pool: enough to walk its services."""
    monkeypatch.setattr(client_module, "_platform_account_id", lambda pool: "acct_TEST")
    yield Ledger(object(), FrozenClock(), "postgresql://nowhere/db")  # type: ignore[arg-type]


def test_every_public_service_method_is_routed(offline_ledger: Ledger) -> None:
    methods = dict(service_methods(offline_ledger))
    assert {"customers.create", "events.list", "test_helpers.test_clocks.advance"} <= set(methods)
    unrouted = sorted(name for name, method in methods.items() if not declared_operation(method))
    assert unrouted == [], f"declare their operation with @stripe_operation: {unrouted}"
    routed = {route.name for route in routing_table(offline_ledger)}
    assert routed == set(methods)


def test_every_route_resolves_to_its_method(offline_ledger: Ledger) -> None:
    known = operations()
    routes = routing_table(offline_ledger)
    assert len({route.operation for route in routes}) == len(routes)
    for route in routes:
        owner, _, attribute = route.name.rpartition(".")
        service: Any = offline_ledger
        for part in owner.split("."):
            service = getattr(service, part)
        assert route.method == getattr(service, attribute)
        declaration = declared_operation(route.method)
        assert declaration is not None and declaration.key == route.operation
        assert route.operation == f"{route.verb} {route.path}"
        if route.extension:
            assert route.operation not in known
            assert route.path.startswith("/v1/test_helpers/")
        else:
            assert route.operation in known
            assert route.path_params == path_params(route.operation)
        assert len(route.arguments) == len(route.path_params)


def test_the_table_covers_the_resources_of_the_issue(offline_ledger: Ledger) -> None:
    operations_served = {route.operation for route in routing_table(offline_ledger)}
    assert {
        "POST /v1/customers",
        "GET /v1/customers/{customer}",
        "POST /v1/customers/{customer}",
        "DELETE /v1/customers/{customer}",
        "GET /v1/customers",
        "GET /v1/events",
        "GET /v1/events/{id}",
        "GET /v1/balance",
        "GET /v1/balance_transactions",
        "GET /v1/balance_transactions/{id}",
        "POST /v1/payment_methods/{payment_method}/attach",
        "POST /v1/payment_methods/{payment_method}/detach",
        "POST /v1/test_helpers/test_clocks",
        "POST /v1/test_helpers/test_clocks/{test_clock}/advance",
        "DELETE /v1/test_helpers/test_clocks/{test_clock}",
    } <= operations_served


def test_the_app_serves_exactly_the_table(offline_ledger: Ledger) -> None:
    app = create_app(offline_ledger, ["sk_test_x"], due_interval_seconds=None)
    served: dict[str, set[str]] = {}
    for route in app.routes:
        assert isinstance(route, StarletteRoute)
        served[route.path] = set(route.methods or ()) - {"HEAD"}
    expected: dict[str, set[str]] = {}
    for entry in routing_table(offline_ledger):
        expected.setdefault(entry.path, set()).add(entry.verb)
    assert served == expected
    paths = [route.path for route in app.routes if isinstance(route, StarletteRoute)]
    # A literal segment is tried before a parameter at the same place.
    for index, path in enumerate(paths):
        for later in paths[index + 1 :]:
            assert not _shadows(path, later), (path, later)
    with pytest.raises(ValueError, match="API key"):
        create_app(offline_ledger, [])


def _shadows(first: str, later: str) -> bool:
    """Whether `first` matches every path `later` matches although `later` is more literal."""
    a, b = first.split("/"), later.split("/")
    if len(a) != len(b) or a == b:
        return False
    pairs = list(zip(a, b, strict=True))
    return all(x == y or x.startswith("{") for x, y in pairs) and any(
        x.startswith("{") and not y.startswith("{") for x, y in pairs
    )


# -- declarations that cannot be served are refused when the table is built -----------------


class _Holder:
    def __init__(self, service: Service) -> None:
        self.things = service


def _table_of(service_class: type[Service]) -> None:
    engine = Engine(object(), FrozenClock(), "acct_TEST")  # type: ignore[arg-type]
    routing_table(_Holder(service_class(engine)))


def test_an_operation_stripe_lacks_is_refused() -> None:
    class Things(Service):
        @stripe_operation("GET /v1/things")
        def list(self, **params: Any) -> StripeObject:
            raise NotImplementedError

    with pytest.raises(RoutingError, match="does not have"):
        _table_of(Things)


def test_stripes_operation_declared_as_an_extension_is_refused() -> None:
    class Things(Service):
        @stripe_operation("GET /v1/customers", extension=True)
        def list(self, **params: Any) -> StripeObject:
            raise NotImplementedError

    with pytest.raises(RoutingError, match="as an extension"):
        _table_of(Things)


def test_an_operation_declared_twice_is_refused() -> None:
    class Things(Service):
        @stripe_operation("GET /v1/customers")
        def list(self, **params: Any) -> StripeObject:
            raise NotImplementedError

        @stripe_operation("GET /v1/customers")
        def all(self, **params: Any) -> StripeObject:
            raise NotImplementedError

    with pytest.raises(RoutingError, match="declared by both"):
        _table_of(Things)


def test_positional_arguments_must_match_the_path_parameters() -> None:
    class Things(Service):
        @stripe_operation("GET /v1/customers/{customer}")
        def retrieve(self, **params: Any) -> StripeObject:
            raise NotImplementedError

    with pytest.raises(RoutingError, match="positional"):
        _table_of(Things)


def test_params_must_be_taken_as_keywords() -> None:
    class Things(Service):
        @stripe_operation("GET /v1/customers/{customer}")
        def retrieve(self, customer: str) -> StripeObject:
            raise NotImplementedError

    with pytest.raises(RoutingError, match=r"\*\*params"):
        _table_of(Things)


def test_an_extensions_keyword_only_booleans_are_coerced() -> None:
    class Things(Service):
        @stripe_operation("POST /v1/test_helpers/things/{thing}/poke", extension=True)
        def poke(self, thing: str, *, hard: bool = False, **params: Any) -> StripeObject:
            raise NotImplementedError

    engine = Engine(object(), FrozenClock(), "acct_TEST")  # type: ignore[arg-type]
    (route,) = routing_table(_Holder(Things(engine)))
    assert route.path_params == ("thing",)
    assert dict(route.keyword_types) == {"hard": bool}


# -- keys ---------------------------------------------------------------------------------------


def test_keys_come_from_flags_then_the_environment() -> None:
    assert configured_keys(["sk_test_a", " "], {"LEDGER_API_KEYS": "sk_test_b"}) == ["sk_test_a"]
    assert configured_keys(None, {"LEDGER_API_KEYS": "sk_test_b, sk_test_c,"}) == [
        "sk_test_b",
        "sk_test_c",
    ]
    assert configured_keys([], {}) == []


def test_a_generated_key_is_a_secret_test_key() -> None:
    key = generate_test_key()
    assert key.startswith("sk_test_") and len(key) == 40 and key[8:].isalnum()
    assert generate_test_key() != key


def test_keys_are_masked_as_stripe_masks_them() -> None:
    assert mask_key("sk_test_123456789abcd") == "sk_test_*********abcd"
    assert mask_key("rk_live_xyzw1234") == "rk_live_****1234"
    assert mask_key("whatever") == "****ever"
    assert mask_key("abc") == "***"


def test_a_key_is_presented_as_bearer_or_basic() -> None:
    basic = base64.b64encode(b"sk_test_k:").decode()
    assert presented_key("Bearer sk_test_k") == "sk_test_k"
    assert presented_key("bearer   sk_test_k ") == "sk_test_k"
    assert presented_key(f"Basic {basic}") == "sk_test_k"
    for header in (None, "", "Bearer", "Bearer ", "Token sk_test_k", "Basic !!", "Basic Og=="):
        assert presented_key(header) is None


def test_authenticate_answers_with_stripes_messages() -> None:
    authenticate("Bearer sk_test_good", ["sk_test_other", "sk_test_good"])
    with pytest.raises(AuthenticationError) as missing:
        authenticate(None, ["sk_test_good"])
    assert missing.value.message.startswith("You did not provide an API key.")
    with pytest.raises(AuthenticationError) as invalid:
        authenticate("Bearer sk_test_badbadabcd", ["sk_test_good"])
    assert invalid.value.message == "Invalid API Key provided: sk_test_******abcd"
    assert invalid.value.http_status == 401
