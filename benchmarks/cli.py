"""`python -m benchmarks`: set up every fixture, run the benchmarks in rounds, print the table.

Rounds interleave the rows (round 1 runs every row once, then round 2…), so the reference, the
peer and ours see the same machine weather and their ratios hold even when this shared machine
drifts between rounds.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.context import Context
from benchmarks.database import Machine, machine, open_server
from benchmarks.harness import (
    FEATURES,
    Case,
    CaseResult,
    Options,
    Unavailable,
    cases,
    format_rate,
    format_table,
    parse_args,
    summarize,
    table_rows,
)
from benchmarks.readme import render_readme
from benchmarks.registry import REGISTRY
from ledger import Ledger

__all__ = ["main"]

README = Path(__file__).resolve().parent / "README.md"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def detect_features(ctx: Context) -> set[str]:
    """The ledger services this build has (PaymentIntents, refunds, transfers, payouts…)."""
    url = ctx.fresh_database("features")
    try:
        with Ledger.open(url, migrate=False, pool_size=1) as led:
            return {name for name in FEATURES if hasattr(led, name)}
    finally:
        ctx.server.drop_database(url)


SETUP_THREADS = 2  # fixtures are built before any clock runs, so they may overlap


def _set_up(ctx: Context, results: Sequence[CaseResult], features: set[str]) -> list[Any]:
    """Every case's fixture (shared ones once), built concurrently; None where unavailable."""
    first: dict[tuple[str, int | None], CaseResult] = {}
    for result in results:
        bench = result.case.benchmark
        if any(name not in features for name in bench.requires):
            result.unavailable = "n/a (not built yet)"
            continue
        first.setdefault((bench.fixture or result.name, result.case.size), result)

    def build(result: CaseResult) -> tuple[Any, Exception | None]:
        started = time.perf_counter()
        try:
            fixture = result.case.benchmark.setup(ctx, result.case)
        except Exception as exc:
            return None, exc
        finally:
            result.wall_seconds += time.perf_counter() - started
        _log(f"setup {result.name} ({time.perf_counter() - started:.1f}s)")
        return fixture, None

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        built = dict(zip(first, pool.map(build, first.values()), strict=True))
    fixtures: list[Any] = []
    for result in results:
        bench = result.case.benchmark
        key = (bench.fixture or result.name, result.case.size)
        fixture, failure = built.get(key, (None, None))
        if isinstance(failure, Unavailable):
            result.unavailable = str(failure)
        elif failure is not None:
            result.error = f"setup: {type(failure).__name__}: {failure}"
            _log("".join(traceback.format_exception(failure)))
        fixtures.append(fixture)
    return fixtures


def execute(ctx: Context, selected: Sequence[Case], features: set[str]) -> list[CaseResult]:
    """Set up every case's fixture, then run `--runs` rounds over every case."""
    results = [CaseResult(case) for case in selected]
    fixtures = _set_up(ctx, results, features)
    ready = [
        (result, fixture)
        for result, fixture in zip(results, fixtures, strict=True)
        if not result.unavailable and not result.error
    ]
    for round_number in range(1, ctx.options.runs + 1):
        for result, fixture in ready:
            if result.error:
                continue
            bench = result.case.benchmark
            started = time.perf_counter()
            try:
                sample = bench.run(ctx, result.case, fixture)
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"[:300]
                _log(traceback.format_exc())
                continue
            finally:
                wall = time.perf_counter() - started
                result.wall_seconds += wall
            result.samples.append(sample)
            _log(
                f"[{round_number}/{ctx.options.runs}] {result.name}: "
                f"{format_rate(sample.rate, bench.unit)} ({sample.count} in {sample.seconds:.2f}s"
                f", {wall:.1f}s in all)"
            )
    return results


def _write_json(path: str, options: Options, info: Machine, when: datetime, data: Any) -> None:
    document = {
        "date": when.isoformat(timespec="seconds"),
        "machine": dataclasses.asdict(info),
        "options": {
            "quick": options.quick,
            "runs": options.runs,
            "operations": options.operations,
            "audit_sizes": list(options.audit_sizes),
            "workers": options.workers,
        },
        "results": data,
    }
    Path(path).write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    selected = cases(REGISTRY, options.audit_sizes, options.only)
    if options.list_only:
        for case in selected:
            title = case.benchmark.title.replace("{workers}", str(options.workers))
            print(f"{case.name:32} {case.benchmark.group:9} {title}")
        return 0
    started = time.perf_counter()
    when = datetime.now(UTC)
    with open_server(options.database_url) as server:
        ctx = Context(server, options)
        info = machine(server)
        _log(f"{info.describe()}; server settings {server.settings()}")
        features = detect_features(ctx)
        present = ", ".join(sorted(features)) or "none"
        _log(f"ledger services present: {present} (of {', '.join(FEATURES)})")
        results = execute(ctx, selected, features)
    elapsed = time.perf_counter() - started
    table = format_table(table_rows(results))
    print(table)
    print(f"\n{when:%Y-%m-%d %H:%M} UTC · {info.describe()} · {elapsed:.0f}s")
    if options.json_path:
        _write_json(options.json_path, options, info, when, summarize(results))
    if options.write_readme:
        README.write_text(render_readme(results, options, info, when, elapsed))
        _log(f"wrote {README}")
    failed = any(r.error for r in results) or any(
        value for r in results for value in r.checks.values()
    )
    return 1 if failed else 0
