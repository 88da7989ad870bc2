"""The routing table, generated from the services: every `@stripe_operation` method is a route.

`routing_table(led)` walks the ledger's services (`led.customers`, `led.test_helpers.test_clocks`,
…) and returns one `Route` per declared operation. Nothing here names a resource: a service
method that declares its operation is served as soon as the ledger has the service.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.params import operations, path_params
from ledger.services.base import Service, declared_operation

__all__ = ["Route", "RoutingError", "routing_table", "service_methods"]

_VERBS: Final = frozenset({"GET", "POST", "DELETE"})
_PATH_PARAM = re.compile(r"\{(\w+)\}")
# Keyword-only arguments of these types (an extension's `succeed: bool`) are coerced from form
# strings by the server; Stripe's own params are coerced by validate_params.
_COERCED_TYPES: Final = (bool, int)
# Services nest at most this deep (`led.test_helpers.test_clocks` is 2).
_NESTING_MAX: Final = 4


class RoutingError(Exception):
    """A service declares an operation that cannot be served (a bug in the service)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One Stripe operation and the service method that implements it."""

    operation: str  # "POST /v1/customers/{customer}"
    verb: str  # "POST"
    path: str  # "/v1/customers/{customer}"
    path_params: tuple[str, ...]  # ("customer",): passed positionally, in path order
    method: Callable[..., Any]  # the bound service method
    arguments: tuple[str, ...]  # the method's names for its positional arguments
    name: str  # "customers.update", for messages
    extension: bool = False  # the ledger's own operation, not in Stripe's spec
    keyword_types: Mapping[str, type] = field(default_factory=dict)  # to coerce from strings


def service_methods(root: object) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every public method of every service reachable from `root`, with its dotted name."""
    for service_name, service in _services(root, "", 0):
        for method_name, _ in inspect.getmembers(type(service), inspect.isfunction):
            if not method_name.startswith("_"):
                yield f"{service_name}.{method_name}", getattr(service, method_name)


def routing_table(root: object) -> list[Route]:
    """The routes of every `@stripe_operation` method of the services reachable from `root`.

    Raises RoutingError for a declaration that cannot be served: an operation Stripe's spec does
    not have, one declared twice, or a method whose positional arguments do not match the
    operation's path parameters.
    """
    known = operations()
    routes: dict[str, Route] = {}
    for name, method in service_methods(root):
        declaration = declared_operation(method)
        if declaration is None:
            continue
        operation = declaration.key
        if declaration.extension:
            if operation in known:
                raise RoutingError(f"{name} declares Stripe's {operation!r} as an extension")
        elif operation not in known:
            raise RoutingError(f"{name} declares {operation!r}, which Stripe's spec does not have")
        if operation in routes:
            raise RoutingError(
                f"{operation!r} is declared by both {routes[operation].name} and {name}"
            )
        verb, path = operation.split(" ", 1)
        if verb not in _VERBS:
            raise RoutingError(f"{name} declares {operation!r}: unsupported verb")
        names = (
            tuple(_PATH_PARAM.findall(path)) if declaration.extension else path_params(operation)
        )
        arguments, keyword_types = _signature(name, method, operation, names)
        routes[operation] = Route(
            operation,
            verb,
            path,
            names,
            method,
            arguments,
            name,
            declaration.extension,
            keyword_types,
        )
    return [routes[key] for key in sorted(routes)]


def _services(node: object, prefix: str, depth: int) -> Iterator[tuple[str, object]]:
    """Services (and namespaces of services, like `test_helpers`) among `node`'s attributes."""
    if depth > _NESTING_MAX:
        return
    for name, value in sorted(vars(node).items()):
        if name.startswith("_") or not _is_service_node(value):
            continue
        dotted = f"{prefix}{name}"
        yield dotted, value
        yield from _services(value, f"{dotted}.", depth + 1)


def _is_service_node(value: object) -> bool:
    if isinstance(value, Service):
        return True
    # A namespace such as TestHelpersService: a plain object of the services package.
    return type(value).__module__.startswith("ledger.services.") and hasattr(value, "__dict__")


def _signature(
    name: str, method: Callable[..., Any], operation: str, names: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, type]]:
    """The method's positional argument names (one per path parameter) and the types of its
    keyword-only arguments that the server coerces from form strings."""
    try:
        signature = inspect.signature(method, eval_str=True)
    except (NameError, SyntaxError) as error:
        raise RoutingError(f"{name}: cannot read its annotations ({error})") from None
    parameters = list(signature.parameters.values())
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) != len(names):
        raise RoutingError(
            f"{name} takes {len(positional)} positional arguments but {operation!r} has "
            f"{len(names)} path parameters {list(names)}"
        )
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        raise RoutingError(f"{name} must take Stripe's params as **params")
    keyword_types = {
        p.name: p.annotation
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.annotation in _COERCED_TYPES
    }
    return tuple(p.name for p in positional), keyword_types
