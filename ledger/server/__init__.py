"""`ledger serve`: Stripe's HTTP API over the ledger, for the official Stripe SDKs.

The routes are generated from the services' `@stripe_operation` declarations
(`ledger.server.routing`); the app (`ledger.server.app`) holds no code of its own per resource.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Final

from ledger.server.app import BODY_BYTES_MAX, DUE_INTERVAL_SECONDS, create_app
from ledger.server.auth import API_KEYS_ENV, configured_keys, generate_test_key
from ledger.server.routing import Route, routing_table

__all__ = [
    "BODY_BYTES_MAX",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DUE_INTERVAL_SECONDS",
    "Route",
    "create_app",
    "routing_table",
    "serve",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 12111
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})


def serve(
    database_url: str | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_keys: Sequence[str] | None = None,
    say: Callable[[str], None] | None = None,
) -> int:
    """Serve the ledger at `database_url` over HTTP until interrupted (Ctrl-C); returns 0.

    Keys come from `api_keys`, else `$LEDGER_API_KEYS`; with neither, one test key is generated
    for this run and printed.
    """
    import uvicorn

    say = say or _say

    from ledger.client import Ledger

    keys = configured_keys(api_keys)
    if not keys:
        keys = [generate_test_key()]
        say(f"no API key configured (--api-key or ${API_KEYS_ENV}); this run's key: {keys[0]}")
    with Ledger.open(database_url) as led:
        app = create_app(led, keys)
        if host not in _LOOPBACK:
            say(f"warning: listening on {host}: anyone who can reach it with a key can use it")
        say(f"ledger serving Stripe's API on http://{_url_host(host)}:{port}")
        # uvicorn shuts down gracefully on Ctrl-C, then re-raises it: a stop, not a crash.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
    return 0


def _say(line: str) -> None:
    print(line, flush=True)  # flushed: a supervisor reading a pipe sees the key at once


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
