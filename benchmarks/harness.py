"""The pure parts of the benchmark harness: the registry's types, flags, medians, the table.

Nothing here touches a database, so it is unit-tested on its own
(tests/unit/test_benchmarks_harness.py).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FEATURES",
    "GROUPS",
    "Benchmark",
    "Case",
    "CaseResult",
    "Options",
    "Sample",
    "Target",
    "Unavailable",
    "at_least_peer_ratio",
    "at_least_rate",
    "at_least_reference_ratio",
    "cases",
    "format_count",
    "format_rate",
    "format_ratio",
    "format_table",
    "median",
    "parse_args",
    "parse_sizes",
    "ratio",
    "rss_flat",
    "status",
    "summarize",
    "table_rows",
]

Group = Literal["reference", "peer", "ours"]
GROUPS: tuple[Group, ...] = ("reference", "peer", "ours")

# Ledger services a benchmark may need; a missing one makes its row "n/a (not built yet)".
FEATURES = ("payment_intents", "refunds", "transfers", "payouts")

QUICK_AUDIT_SIZES = (20_000, 100_000)
FULL_AUDIT_SIZES = (100_000, 1_000_000)
QUICK_OPERATIONS = 100
FULL_OPERATIONS = 2_000
RUNS_MIN = 3


class Unavailable(Exception):
    """Raised by a setup when its row cannot run here; the message is what the table shows."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run: `count` operations in `seconds`.

    `checks` count violations (lost updates, version gaps, audit findings): any non-zero value
    in any run fails the row. `extras` are figures reported beside the rate (peak RSS, retries).
    """

    count: int
    seconds: float
    checks: Mapping[str, int] = field(default_factory=dict)
    extras: Mapping[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Case:
    """A benchmark at one size (`size` is None for benchmarks that are not sized)."""

    benchmark: Benchmark
    size: int | None = None

    @property
    def name(self) -> str:
        return case_name(self.benchmark.name, self.size)

    def operations(self, options: Options) -> int:
        """Operations per run: `--events`, times the row's scale."""
        return options.operations * self.benchmark.scale

    def related(self, name: str | None) -> str | None:
        """The name of the case `name` at this case's size (references are compared per size)."""
        if name is None:
            return None
        return case_name(name, self.size)


Setup = Callable[[Any, Case], Any]
Run = Callable[[Any, Case, Any], Sample]


@dataclass(frozen=True, slots=True)
class Target:
    """A goal a row is held to; `met` answers None when it cannot be judged."""

    text: str
    met: Callable[[CaseResult, Mapping[str, CaseResult]], bool | None]


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One entry of the registry.

    `setup(ctx, case)` prepares a fixture once (a fresh database, a generated log); benchmarks
    with the same `fixture` key at the same size share it. `run(ctx, case, fixture)` does one
    timed run and returns a Sample; it is called `--runs` times. `reference` and `peer` name
    the rows this one is compared with. `requires` lists ledger services it needs; `sized`
    benchmarks run once per log size (`--audit-sizes`).
    """

    name: str
    group: Group
    unit: str
    title: str
    setup: Setup
    run: Run
    fixture: str | None = None
    reference: str | None = None
    peer: str | None = None
    targets: tuple[Target, ...] = ()
    requires: tuple[str, ...] = ()
    sized: bool = False
    smallest_size_only: bool = False
    scale: int = 1  # cheap rows do `scale` times `--events` operations, so a run lasts
    description: str = ""


def case_name(name: str, size: int | None) -> str:
    return name if size is None else f"{name}@{format_count(size)}"


def cases(
    registry: Sequence[Benchmark], sizes: Sequence[int], only: Sequence[str] = ()
) -> list[Case]:
    """The registry expanded per size and filtered by `--only`.

    `only` matches a benchmark's name, its group, or a case name (`replay_audit@100k`); the
    rows a selected row is compared with are kept too, so every ratio can be computed.
    """
    registry_by_name = {b.name: b for b in registry}
    assert len(registry_by_name) == len(registry), "duplicate benchmark names"
    everything = [Case(b, size) for b in registry for size in _sizes_of(b, sizes)]
    if not only:
        return everything
    wanted = set(only)
    unknown = wanted - {c.name for c in everything} - set(registry_by_name) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    chosen = {
        c.name
        for c in everything
        if c.name in wanted or c.benchmark.name in wanted or c.benchmark.group in wanted
    }
    by_name = {c.name: c for c in everything}
    pending = list(chosen)
    while pending:  # what a row is compared with, and what that is compared with…
        case = by_name[pending.pop()]
        for related in (case.benchmark.reference, case.benchmark.peer):
            related_name = case.related(related)
            if related_name in by_name and related_name not in chosen:
                chosen.add(related_name)
                pending.append(related_name)
    return [c for c in everything if c.name in chosen]


def _sizes_of(bench: Benchmark, sizes: Sequence[int]) -> list[int | None]:
    if not bench.sized:
        return [None]
    ordered = sorted(set(sizes))
    return list(ordered[:1] if bench.smallest_size_only else ordered)


def median(values: Iterable[float]) -> float:
    """The median; 0 for no values."""
    values = list(values)
    return statistics.median(values) if values else 0.0


def ratio(ours: float | None, other: float | None) -> float | None:
    """ours / other, or None when either is missing or other is 0."""
    if ours is None or other is None or other == 0:
        return None
    return ours / other


@dataclass
class CaseResult:
    """Every run of one case, and what became of it."""

    case: Case
    samples: list[Sample] = field(default_factory=list)
    unavailable: str | None = None  # "n/a (not built yet)", "n/a (eventsourcing missing)"…
    error: str | None = None
    wall_seconds: float = 0.0  # setup and every run, untimed parts included

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def rate(self) -> float | None:
        if self.unavailable or self.error or not self.samples:
            return None
        return median(s.rate for s in self.samples)

    @property
    def checks(self) -> dict[str, int]:
        """The worst value of each check over the runs."""
        worst: dict[str, int] = {}
        for sample in self.samples:
            for key, value in sample.checks.items():
                worst[key] = max(worst.get(key, 0), value)
        return worst

    @property
    def extras(self) -> dict[str, float]:
        """The median of each extra figure over the runs."""
        keys = dict.fromkeys(k for s in self.samples for k in s.extras)
        return {k: median(s.extras[k] for s in self.samples if k in s.extras) for k in keys}


def _related_rate(
    result: CaseResult, name: str | None, results: Mapping[str, CaseResult]
) -> float | None:
    related = results.get(result.case.related(name) or "")
    return related.rate if related is not None else None


def reference_rate(result: CaseResult, results: Mapping[str, CaseResult]) -> float | None:
    return _related_rate(result, result.case.benchmark.reference, results)


def peer_rate(result: CaseResult, results: Mapping[str, CaseResult]) -> float | None:
    return _related_rate(result, result.case.benchmark.peer, results)


def at_least_rate(minimum: float, unit: str) -> Target:
    """The row's own rate is at least `minimum`."""
    return Target(
        f"≥ {format_count(minimum)} {unit}",
        lambda r, _all: None if r.rate is None else r.rate >= minimum,
    )


def at_least_reference_ratio(minimum: float, of: str = "ref") -> Target:
    """The row's rate is at least `minimum` times its reference's."""

    def met(r: CaseResult, results: Mapping[str, CaseResult]) -> bool | None:
        value = ratio(r.rate, reference_rate(r, results))
        return None if value is None else value >= minimum

    return Target(f"≥ {minimum:g}x {of}", met)


def at_least_peer_ratio(minimum: float) -> Target:
    """The row's rate is at least `minimum` times its peer's."""

    def met(r: CaseResult, results: Mapping[str, CaseResult]) -> bool | None:
        value = ratio(r.rate, peer_rate(r, results))
        return None if value is None else value >= minimum

    return Target(f"≥ {minimum:g}x peer", met)


def rss_flat(extra: str = "peak_rss_mb", tolerance: float = 1.25) -> Target:
    """Peak memory at this size is within `tolerance` of the same row at the smallest size."""

    def met(r: CaseResult, results: Mapping[str, CaseResult]) -> bool | None:
        mine = r.extras.get(extra)
        same = [
            other
            for other in results.values()
            if other.case.benchmark.name == r.case.benchmark.name
            and other.case.size is not None
            and other.extras.get(extra)
        ]
        if mine is None or not same:
            return None
        smallest = min(same, key=lambda other: other.case.size or 0)
        return mine <= smallest.extras[extra] * tolerance

    return Target(f"peak RSS flat (≤ {tolerance:g}x smallest)", met)


def status(result: CaseResult, results: Mapping[str, CaseResult]) -> str:
    """ok, below target, FAIL (a check failed), n/a…, or error."""
    if result.unavailable:
        return result.unavailable
    if result.error:
        return "error"
    failed = [f"{k}={v}" for k, v in result.checks.items() if v]
    if failed:
        return "FAIL " + ", ".join(failed)
    verdicts = [t.met(result, results) for t in result.case.benchmark.targets]
    if not verdicts:
        return ""
    if any(v is False for v in verdicts):
        return "below target"
    if any(v is None for v in verdicts):
        return "?"
    return "ok"


def format_count(value: float) -> str:
    """1000 → 1k, 1000000 → 1M, 2500 → 2.5k; below 1000 as an integer."""
    for divisor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= divisor:
            scaled = value / divisor
            text = f"{scaled:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.0f}"


def format_rate(value: float | None, unit: str = "") -> str:
    """A rate with thousands separators and its unit; "-" when missing."""
    if value is None:
        return "-"
    digits = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return f"{digits} {unit}".strip()


def format_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x"


HEADER = (
    "benchmark",
    "ours",
    "reference",
    "ratio to reference",
    "peer",
    "ratio to peer",
    "target",
    "status",
    "notes",
)


def _notes(result: CaseResult) -> str:
    parts = [f"{k} {v:g}" for k, v in result.extras.items()]
    parts += [f"{k} {v}" for k, v in result.checks.items() if not v]
    if result.error:
        parts.append(result.error if len(result.error) <= 90 else result.error[:89] + "…")
    if result.samples:
        parts.append(f"{len(result.samples)} runs")
    return "; ".join(parts)


def table_rows(results: Sequence[CaseResult]) -> list[tuple[str, ...]]:
    """One row per case: the figures of the table, as text."""
    by_name = {r.name: r for r in results}
    rows: list[tuple[str, ...]] = []
    for r in results:
        bench = r.case.benchmark
        ref, peer = reference_rate(r, by_name), peer_rate(r, by_name)
        if r.unavailable:
            ours = r.unavailable
        elif r.error:
            ours = "error"
        else:
            ours = format_rate(r.rate, bench.unit)
        rows.append(
            (
                f"{bench.group}: {r.name}",
                ours,
                format_rate(ref, bench.unit) if bench.reference else "",
                format_ratio(ratio(r.rate, ref)) if bench.reference else "",
                format_rate(peer, bench.unit) if bench.peer else "",
                format_ratio(ratio(r.rate, peer)) if bench.peer else "",
                "; ".join(t.text for t in bench.targets),
                status(r, by_name),
                _notes(r),
            )
        )
    return rows


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    """A GitHub-flavoured markdown table, its columns padded so it also reads in a terminal."""
    widths = [len(h) for h in header]
    for row in rows:
        assert len(row) == len(header)
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.replace("|", "\\|").ljust(w) for cell, w in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The figures as JSON-ready data (for `--json`)."""
    by_name = {r.name: r for r in results}
    out: dict[str, Any] = {}
    for r in results:
        bench = r.case.benchmark
        ref, peer = reference_rate(r, by_name), peer_rate(r, by_name)
        out[r.name] = {
            "group": bench.group,
            "title": bench.title,
            "unit": bench.unit,
            "size": r.case.size,
            "median": r.rate,
            "rates": [s.rate for s in r.samples],
            "reference": r.case.related(bench.reference),
            "reference_median": ref,
            "ratio_to_reference": ratio(r.rate, ref),
            "peer": r.case.related(bench.peer),
            "peer_median": peer,
            "ratio_to_peer": ratio(r.rate, peer),
            "targets": [t.text for t in bench.targets],
            "status": status(r, by_name),
            "checks": r.checks,
            "extras": r.extras,
            "unavailable": r.unavailable,
            "error": r.error,
            "wall_seconds": round(r.wall_seconds, 2),
        }
    return out


def parse_sizes(text: str) -> tuple[int, ...]:
    """`100000,1000000` or `100k,1M` → (100000, 1000000)."""
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        scale = 1
        if part.endswith("k"):
            scale, part = 1_000, part[:-1]
        elif part.endswith("m"):
            scale, part = 1_000_000, part[:-1]
        value = int(float(part) * scale)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
        sizes.append(value)
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return tuple(sorted(set(sizes)))


@dataclass(frozen=True, slots=True)
class Options:
    """What to run, how often and how big."""

    quick: bool = False
    runs: int = RUNS_MIN
    operations: int = FULL_OPERATIONS
    audit_sizes: tuple[int, ...] = FULL_AUDIT_SIZES
    workers: int = 8
    json_path: str | None = None
    only: tuple[str, ...] = ()
    write_readme: bool = False
    database_url: str | None = None
    list_only: bool = False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="The ledger side by side with raw psycopg and the eventsourcing library, "
        "on the same PostgreSQL, in one run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes ({QUICK_OPERATIONS} operations per run, logs of "
        f"{','.join(format_count(s) for s in QUICK_AUDIT_SIZES)} events): under 2 minutes",
    )
    parser.add_argument(
        "--runs", type=int, default=RUNS_MIN, help=f"runs per benchmark, ≥ {RUNS_MIN} (medians)"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="operations per run of the write benchmarks: events appended, commands, flows "
        f"(default {FULL_OPERATIONS}, --quick {QUICK_OPERATIONS})",
    )
    parser.add_argument(
        "--audit-sizes",
        type=parse_sizes,
        default=None,
        help="log sizes for the read, replay-audit and rebuild benchmarks "
        "(default 100000,1000000; --quick 20000,100000)",
    )
    parser.add_argument("--workers", type=int, default=8, help="concurrent workers (default 8)")
    parser.add_argument("--json", dest="json_path", metavar="PATH", help="write figures as JSON")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated benchmark names, case names (name@100k) or groups "
        "(reference, peer, ours); the rows they compare with are run too",
    )
    parser.add_argument(
        "--write-readme", action="store_true", help="write the table into benchmarks/README.md"
    )
    parser.add_argument(
        "--database-url", default=None, help="server to use (default $DATABASE_URL, else embedded)"
    )
    parser.add_argument("--list", dest="list_only", action="store_true", help="list benchmarks")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """The command line as Options (quick changes the defaults, explicit flags win)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.runs < RUNS_MIN:
        parser.error(f"--runs must be at least {RUNS_MIN} (the table shows medians)")
    if args.events is not None and args.events < 1:
        parser.error("--events must be positive")
    if args.workers < 1:
        parser.error("--workers must be positive")
    operations = args.events or (QUICK_OPERATIONS if args.quick else FULL_OPERATIONS)
    sizes = args.audit_sizes or (QUICK_AUDIT_SIZES if args.quick else FULL_AUDIT_SIZES)
    only = tuple(part.strip() for part in args.only.split(",") if part.strip())
    return Options(
        quick=args.quick,
        runs=args.runs,
        operations=operations,
        audit_sizes=sizes,
        workers=args.workers,
        json_path=args.json_path,
        only=only,
        write_readme=args.write_readme,
        database_url=args.database_url,
        list_only=args.list_only,
    )
