"""A real `ledger serve` on 127.0.0.1 for the session, and clients that drive it over HTTP.

The server is uvicorn in a background thread, on a free port, over a fresh database of its own.
Tests share it, so they use fresh objects (and idempotency keys) of their own, or a fresh
connected account (`Stripe-Account`) when they need an empty list.

Every response the official SDK receives goes through `Recorder`, which checks the headers
(`Request-Id`, `Stripe-Version`) and validates the JSON with Stripe's schema (check.py): an
object with the `expand` paths of its request, each item of a list, an error as `error`.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import stripe
import uvicorn

from ledger import API_VERSION, Ledger
from ledger.server import create_app
from ledger.server.auth import generate_test_key
from ledger.server.forms import decode_form
from tests.conftest import _admin, with_database
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid

_START_SECONDS_MAX = 10.0
# The server's due work (disputes opening, refunds settling) runs this often in the tests.
DUE_INTERVAL_SECONDS = 0.2


@dataclass
class Server:
    """The running server: its base URL, its key, and the ledger behind it."""

    base: str
    host: str
    port: int
    key: str
    led: Ledger


@pytest.fixture(scope="package")
def http_database(server_url: str, template_database: str) -> Iterator[str]:
    """A fresh migrated database for the HTTP tests' server."""
    name = f"ledger_http_{secrets.token_hex(6)}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(server_url, name)
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving(led: Ledger, key: str, due_interval_seconds: float | None) -> Iterator[int]:
    """`ledger serve`'s app over `led` under uvicorn, in a thread, on a free loopback port (the
    value); `due_interval_seconds=None` runs no due work in the background."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(led, [key], due_interval_seconds=due_interval_seconds)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", server_header=False)
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_SECONDS_MAX
        while not runner.started:
            assert thread.is_alive(), "the server thread died while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield port
    finally:
        runner.should_exit = True
        thread.join(_START_SECONDS_MAX)
        sock.close()


@pytest.fixture(scope="package")
def server(http_database: str) -> Iterator[Server]:
    """`ledger serve`'s app under uvicorn, in a thread, on a free loopback port."""
    key = generate_test_key()
    led = Ledger.open(http_database, migrate=False)
    try:
        with serving(led, key, DUE_INTERVAL_SECONDS) as port:
            yield Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, key, led)
    finally:
        led.close()


# -- the official SDK, recorded and checked ---------------------------------------------------


@dataclass
class Exchange:
    """One request the SDK made and the response it got."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    body: str
    status: int
    headers: Mapping[str, str]
    json: dict[str, Any]


class Recorder(stripe.RequestsClient):
    """The SDK's HTTP client, checking every response as it arrives."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.exchanges: list[Exchange] = []

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        content, status, response_headers = super().request(method, url, headers, post_data)
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        exchange = Exchange(
            method.upper(),
            url,
            dict(headers or {}),
            body,
            status,
            response_headers,
            orjson.loads(content),
        )
        check_exchange(exchange)
        self.exchanges.append(exchange)
        return content, status, response_headers


def check_exchange(exchange: Exchange) -> None:
    """Headers as Stripe sends them, and a body that passes Stripe's schema."""
    headers = {name.lower(): value for name, value in exchange.headers.items()}
    assert headers["request-id"].startswith("req_")
    assert headers["stripe-version"] == API_VERSION
    assert headers["content-type"] == "application/json"
    if exchange.status >= 400:
        check_error_body(exchange.json, exchange.status, headers["request-id"])
        return
    assert exchange.status == 200
    query = urlsplit(exchange.url).query
    params = decode_form(exchange.body, into=decode_form(query))
    check_body(exchange.json, _expand_paths(params))


def check_error_body(body: dict[str, Any], status: int, request_id: str) -> None:
    assert_valid(body, schema="error")
    log_url = body["error"].get("request_log_url")
    if status != 401:
        assert log_url == f"https://dashboard.stripe.com/test/logs/{request_id}"


def check_body(body: dict[str, Any], expand: list[str]) -> None:
    """An object (or each item of a list) with Stripe's schema, given its request's expand."""
    if body["object"] in ("list", "search_result"):
        items = [p.removeprefix("data.") for p in expand if p.startswith("data.")]
        for item in body["data"]:
            _check_object(item, items)
    else:
        _check_object(body, expand)


def _check_object(obj: dict[str, Any], expand: list[str]) -> None:
    assert_valid(obj, expand=expand)
    if obj["object"] == "event":
        assert_valid(obj["data"]["object"])


def _expand_paths(params: dict[str, Any]) -> list[str]:
    value = params.get("expand", [])
    if isinstance(value, dict):  # expand[0]=a&expand[1]=b
        return [value[k] for k in sorted(value, key=int)]
    return list(value)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(server: Server, recorder: Recorder) -> stripe.StripeClient:
    """The official SDK's client, pointed at the server."""
    return stripe.StripeClient(
        server.key,
        base_addresses={"api": server.base},
        http_client=recorder,
        max_network_retries=0,
    )


@pytest.fixture
def account(server: Server) -> str:
    """A fresh connected account of the platform, whose books are empty."""
    return connected_account(server.led)


@pytest.fixture
def global_sdk(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SDK's resource-style API (module globals) pointed at the server, recorded."""
    monkeypatch.setattr(stripe, "api_key", server.key)
    monkeypatch.setattr(stripe, "api_base", server.base)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    monkeypatch.setattr(stripe, "default_http_client", Recorder())
    yield


def new_key() -> str:
    """A fresh idempotency key: the tests share the server."""
    return "key-" + secrets.token_hex(8)


def sent_json(obj: Any) -> Any:
    """The JSON the server sent for `obj` (the SDK's own dicts keep the key order)."""
    return orjson.loads(obj.last_response.body)


def response_header(obj: Any, name: str) -> str | None:
    """A header of the response that brought `obj`, by its case-insensitive name."""
    headers = {k.lower(): v for k, v in obj.last_response.headers.items()}
    return headers.get(name.lower())


# -- raw HTTP ----------------------------------------------------------------------------------


@dataclass
class Answer:
    """A raw HTTP response."""

    status: int
    headers: dict[str, str]  # lower-cased names
    json: dict[str, Any]

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.json["error"]
        return error


def send(
    server: Server,
    method: str,
    path: str,
    body: bytes | str = b"",
    headers: Mapping[str, str] | None = None,
    *,
    key: str | None = None,
) -> Answer:
    """One request with the stdlib, authenticated with the server's key unless told otherwise."""
    sent = {"Authorization": f"Bearer {server.key if key is None else key}"}
    if body:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    sent.update(headers or {})
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request(
            method, path, body=body.encode() if isinstance(body, str) else body, headers=sent
        )
        response = conn.getresponse()
        content = response.read()
        answer = Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            orjson.loads(content),
        )
    finally:
        conn.close()
    assert answer.headers["request-id"].startswith("req_")
    assert answer.headers["stripe-version"] == API_VERSION
    assert answer.headers["content-type"] == "application/json"
    if answer.status >= 400:
        check_error_body(answer.json, answer.status, answer.headers["request-id"])
    else:
        params = decode_form(body, into=decode_form(urlsplit(path).query))
        check_body(answer.json, _expand_paths(params))
    return answer
