"""The ASGI app: Stripe's wire protocol in front of the ledger's services.

One generic endpoint serves every route of the generated routing table: it decodes the query
string and the form body (bracket notation), adds the request options from the headers
(`Idempotency-Key`, `Stripe-Account`), calls the service method in a worker thread (the library
is synchronous) with the path parameters as positional arguments, and answers with the object's
`to_dict()` or the error's Stripe JSON. A gate in front of the router authenticates first (as
Stripe does, so an unknown URL without a key is a 401), checks `Stripe-Version`, and stamps
`Request-Id` and `Stripe-Version` on every response.

Chosen here, not confirmed against Stripe: a wrong verb on a known path is answered like an
unknown URL (404); the unknown-URL message gains Stripe's trailing-slash hint when the path ends
with `/`; other `Stripe-Version`s than 2024-11-20.acacia are refused (400), since the ledger
cannot answer as them; an over-large body, a non-form body and a malformed one are 400
`invalid_request_error`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.client import Ledger
from ledger.errors import APIError, InvalidRequestError, LedgerError
from ledger.ids import new_id
from ledger.projections.objects import API_VERSION
from ledger.resources.base import StripeObject
from ledger.server.auth import authenticate
from ledger.server.forms import decode_form
from ledger.server.routing import Route, routing_table
from ledger.services.base import FORM_ENCODED, REQUEST_OPTIONS

__all__ = ["BODY_BYTES_MAX", "DUE_INTERVAL_SECONDS", "create_app"]

# The largest request body accepted. Stripe's own requests stay far below it; a larger one is
# refused with a 400 after reading (and discarding) at most _DRAIN_BYTES_MAX of it, so that the
# client, still sending, can read the answer.
BODY_BYTES_MAX: Final = 1024 * 1024
_DRAIN_BYTES_MAX: Final = 8 * BODY_BYTES_MAX
_FORM_TYPES: Final = frozenset({"", "application/x-www-form-urlencoded"})
_JSON: Final = "application/json"
# How often the server carries out the work that fell due (funds becoming available, disputes
# opening, refunds settling, authorizations expiring): Stripe does it in the background too.
DUE_INTERVAL_SECONDS: Final = 1.0
_BOOLEANS: Final = {"true": True, "True": True, "false": False, "False": False}
_INTEGER: Final = re.compile(r"-?[0-9]{1,18}")

_log = logging.getLogger("ledger.server")


def create_app(
    led: Ledger,
    api_keys: Sequence[str],
    *,
    due_interval_seconds: float | None = DUE_INTERVAL_SECONDS,  # not money
) -> Starlette:
    """The Stripe-compatible ASGI app over `led`, accepting the secret keys `api_keys`.

    While it runs (ASGI lifespan), it carries out the ledger's due work every
    `due_interval_seconds` (None: never; then call `led.run_due()` yourself).
    """
    if not api_keys:
        raise ValueError("the server needs at least one API key")
    by_path: defaultdict[str, dict[str, Route]] = defaultdict(dict)
    for route in routing_table(led):
        by_path[route.path][route.verb] = route
    routes = [
        StarletteRoute(path, _endpoint(by_path[path]), methods=sorted(by_path[path]))
        for path in sorted(by_path, key=_specific_first)
    ]
    app = Starlette(
        routes=routes,
        lifespan=None if due_interval_seconds is None else _due_work(led, due_interval_seconds),
        middleware=[Middleware(_Gate, keys=tuple(api_keys))],
        exception_handlers={
            404: _unrecognized_response,  # no such path
            405: _unrecognized_response,  # no such verb on the path
            Exception: _crash_response,
        },
    )
    # Stripe answers `/v1/customers/` with an error, not with a redirect to `/v1/customers`.
    app.router.redirect_slashes = False
    return app


def _due_work(
    led: Ledger,
    interval: float,  # not money
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that runs `led.run_due()` every `interval` seconds while the app serves."""

    async def run_forever() -> None:
        while True:
            try:
                await run_in_threadpool(led.run_due)
            except Exception:
                _log.exception("due work failed; trying again in %s s", interval)
            await asyncio.sleep(interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(run_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


def _specific_first(path: str) -> tuple[tuple[int, str], ...]:
    """Sort key: at each segment a literal (`/v1/customers/search`) before a parameter."""
    return tuple((1 if part.startswith("{") else 0, part) for part in path.split("/"))


# -- the gate: authentication, version, headers -------------------------------------------------


class _Gate:
    """Authenticates and checks `Stripe-Version` before routing; stamps every response."""

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "request-id" not in headers:
                    headers["Request-Id"] = request_id
                headers["Stripe-Version"] = API_VERSION
            await send(message)

        headers = Headers(scope=scope)
        try:
            authenticate(headers.get("authorization"), self.keys)
        except LedgerError as refused:
            # Stripe's 401 carries no request log: there is no account to log it in.
            await _error_response(refused, request_id, log_url=False)(scope, receive, stamped)
            return
        version = headers.get("stripe-version")
        if version is not None and version != API_VERSION:
            error = InvalidRequestError(
                f"Stripe-Version {version!r} is not supported: this server answers as Stripe "
                f"API version {API_VERSION} only. Send that version, or no Stripe-Version."
            )
            await _error_response(error, request_id)(scope, receive, stamped)
            return
        await self.app(scope, receive, stamped)


# -- the endpoint -----------------------------------------------------------------------------


def _endpoint(by_verb: dict[str, Route]) -> Callable[[Request], Awaitable[Response]]:
    """The request handler of one path, dispatching on the verb to its routes."""

    async def endpoint(request: Request) -> Response:
        request_id: str = request.state.request_id
        route = by_verb.get(request.method)
        if route is None:
            return _error_response(_unrecognized(request), request_id)
        try:
            call, idempotency_key = await _prepare(request, route)
            status, body, headers = await run_in_threadpool(call)
        except LedgerError as error:
            return _error_response(error, request_id)
        except Exception:
            _log.exception("%s %s failed (%s)", request.method, request.url.path, request_id)
            return _error_response(_internal_error(), request_id)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return Response(body, status_code=status, headers=headers, media_type=_JSON)

    return endpoint


_Answer = tuple[int, bytes, dict[str, str]]  # status, JSON body, headers


async def _prepare(request: Request, route: Route) -> tuple[Callable[[], _Answer], str | None]:
    """The call to make for this request (run in a worker thread), and its idempotency key."""
    params = decode_form(request.scope["query_string"])
    body = await _read_body(request)
    if body:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in _FORM_TYPES:
            raise InvalidRequestError(
                f"Invalid request: unsupported Content-Type {content_type}. Send the parameters "
                "form-encoded (application/x-www-form-urlencoded), as Stripe's API expects."
            )
        decode_form(body, into=params)
    reserved = (params.keys() & REQUEST_OPTIONS) | (params.keys() & set(route.arguments))
    if reserved:
        name = min(reserved)
        # Not a Stripe parameter of this operation, and it must not reach the method as one.
        raise InvalidRequestError(
            f"Received unknown parameter: {name}", code="parameter_unknown", param=name
        )
    for name, kind in route.keyword_types.items():
        value = params.get(name)
        if isinstance(value, str):
            params[name] = _coerce(value, kind)
    params[FORM_ENCODED] = True
    account = request.headers.get("stripe-account")
    if account is not None:
        params["stripe_account"] = account
    idempotency_key = None
    if request.method == "POST":  # Stripe: keys have no effect on GET and DELETE
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None:
            params["idempotency_key"] = idempotency_key
    args = [request.path_params[name] for name in route.path_params]
    return functools.partial(_invoke, route, args, params), idempotency_key


def _coerce(value: str, kind: type) -> Any:
    """A form string as a keyword argument of type `kind`; left as is if it is not one."""
    if kind is bool:
        return _BOOLEANS.get(value, value)
    if kind is int and _INTEGER.fullmatch(value):
        return int(value)
    return value


def _invoke(route: Route, args: list[str], params: dict[str, Any]) -> _Answer:
    """Call the service method and serialize its answer (in a worker thread)."""
    result = route.method(*args, **params)
    if not isinstance(result, StripeObject) or result.last_response is None:
        raise TypeError(f"{route.name} returned {type(result).__name__}, not a StripeObject")
    info = result.last_response
    headers = {"Request-Id": info.request_id}
    if info.idempotent_replayed:
        headers["Idempotent-Replayed"] = "true"
    return info.http_status, _dumps(result.to_dict()), headers


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_BYTES_MAX:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _DRAIN_BYTES_MAX:
            break
        if size <= BODY_BYTES_MAX:
            chunks.append(chunk)
    if size > BODY_BYTES_MAX:
        raise _too_large()
    return b"".join(chunks)


# -- errors -----------------------------------------------------------------------------------


def _dumps(body: dict[str, Any]) -> bytes:
    # Indented as Stripe's responses are, which keeps curl output readable.
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def _error_response(error: LedgerError, request_id: str, *, log_url: bool = True) -> Response:
    if error.request_id is None and log_url:
        error.request_id = request_id
    headers = {"Request-Id": error.request_id or request_id}
    if error.idempotent_replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        _dumps(error.to_dict()), status_code=error.http_status, headers=headers, media_type=_JSON
    )


def _unrecognized(request: Request) -> InvalidRequestError:
    path = request.url.path
    hint = (
        "If you are trying to list objects, remove the trailing slash. If you are trying to "
        "retrieve an object, make sure you passed a valid (non-empty) identifier in your code. "
        if path.endswith("/")
        else ""
    )
    return InvalidRequestError(
        f"Unrecognized request URL ({request.method}: {path}). {hint}Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        http_status=404,
    )


def _too_large() -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid request: the request body is larger than {BODY_BYTES_MAX} bytes, the most "
        "this server accepts."
    )


def _internal_error() -> APIError:
    return APIError(
        "An unexpected error occurred while processing the request; it has been logged with "
        "its request id."
    )


async def _unrecognized_response(request: Request, exc: Exception) -> Response:
    """The router's 404 (no such path) and 405 (no such verb on it): Stripe's unknown URL."""
    return _error_response(_unrecognized(request), request.state.request_id)


async def _crash_response(request: Request, exc: Exception) -> Response:
    _log.error("unhandled error (request %s)", request.state.request_id, exc_info=exc)
    return _error_response(_internal_error(), request.state.request_id)
