"""`ledger serve` as a user starts it: a process that prints its key and answers on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ledger.cli import build_parser
from tests.http.conftest import Server, send

_START_SECONDS_MAX = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_serve_command_line() -> None:
    args = build_parser().parse_args(
        ["serve", "--port", "8080", "--api-key", "sk_test_a", "--api-key", "sk_test_b"]
    )
    assert (args.host, args.port, args.api_key) == ("127.0.0.1", 8080, ["sk_test_a", "sk_test_b"])
    assert args.database_url is None
    after = build_parser().parse_args(["serve", "--database-url", "postgresql://h/db"])
    before = build_parser().parse_args(["--database-url", "postgresql://h/db", "serve"])
    assert after.database_url == before.database_url == "postgresql://h/db"
    assert (after.port, after.api_key) == (12111, None)


def test_ledger_serve_prints_a_generated_key_and_serves(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_API_KEYS"}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "serve",
            "--port",
            str(port),
            "--database-url",
            database_url,
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("no API key configured"), first
        key = first.rsplit(" ", 1)[-1].strip()
        assert key.startswith("sk_test_")
        assert f"http://127.0.0.1:{port}" in process.stdout.readline()
        server = Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, key, None)  # type: ignore[arg-type]
        deadline = time.monotonic() + _START_SECONDS_MAX
        while True:
            try:
                answer = send(server, "GET", "/v1/balance")
                break
            except ConnectionRefusedError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "ledger serve did not start listening"
                time.sleep(0.05)
        assert answer.status == 200 and answer.json["object"] == "balance"
        assert send(server, "GET", "/v1/balance", key="sk_test_other").status == 401
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if shutdown hangs
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.close()
    assert process.returncode == 0, (tmp_path / "serve.log").read_text()
