"""benchmarks/README.md: how to run, what each row measures, and the last run's table.

`--write-readme` regenerates the file; anything below the KEEP marker is carried over, so
hand-written analysis (profiles, hot spots) survives re-measurement.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from benchmarks.database import Machine
from benchmarks.harness import (
    Benchmark,
    CaseResult,
    Options,
    format_count,
    format_table,
    table_rows,
)
from benchmarks.registry import REGISTRY

__all__ = ["KEEP", "describe", "recorded_command", "render_readme"]

KEEP = "<!-- Everything below this line is kept by --write-readme. -->"

_INTRO_TEMPLATE = """\
# Benchmarks

The ledger side by side with the physical reference (raw psycopg on the same server and the same
`events` table) and a peer (the [`eventsourcing`](https://pypi.org/project/eventsourcing/)
library, PostgreSQL persistence) — all in one run, on one PostgreSQL server, so the ratios hold
even though absolute figures on a shared machine drift by ±30%.

## Running

```sh
pip install -e '.[bench]'            # the ledger, its embedded PostgreSQL, eventsourcing
python -m benchmarks --quick         # under 2 minutes: small sizes, 3 runs
python -m benchmarks --write-readme  # the full suite; rewrites the table below
```

With `DATABASE_URL` set (or `--database-url`) every benchmark creates its own database on that
server and drops it at the end; otherwise a private PostgreSQL is started through `pgserver` in a
temporary directory and removed afterwards.

{flags}

The command exits non-zero if a row errors or a correctness check (lost updates, version gaps,
audit findings) fails.

Every row gets a fresh database (rows reading a log share the generated log of their size). All
fixtures are set up first; then the runs go in rounds — every row once, then again — so that the
reference, the peer and ours are measured under the same load. Rows whose ledger feature does
not exist yet say `n/a (not built yet)`.
"""

_FLAGS = (
    ("--quick", "100 operations per run, logs of 20k and 100k events"),
    ("--runs N", "runs per row (at least 3; the table shows medians)"),
    (
        "--events N",
        "operations per run of the write rows (default 2,000; the 100-per-transaction rows "
        "write 10 times as many events)",
    ),
    (
        "--audit-sizes 100000,1000000",
        "log sizes of the read, audit and rebuild rows (`100k,1M` works too)",
    ),
    ("--workers N", "concurrent workers of the `*_workers`, `spread_*` and `hot_*` rows (8)"),
    (
        "--only a,b",
        "rows by name, case (`audit@100k`) or group (`reference`, `peer`, `ours`); the rows "
        "they are compared with run too",
    ),
    ("--json PATH", "also write every figure (each run, medians, ratios, checks) as JSON"),
    ("--write-readme", "rewrite this file's results"),
    ("--database-url URL", "the server to use (default `$DATABASE_URL`, else embedded)"),
    ("--list", "list the rows"),
)

_INTRO = _INTRO_TEMPLATE.format(
    flags="\n".join(
        ["| flag | meaning |", "|---|---|", *(f"| `{flag}` | {text} |" for flag, text in _FLAGS)]
    )
)

_READING = """\
## Reading the table

- **ours / reference / peer** are medians of the runs, in the row's unit.
- **ratio to reference** = ours ÷ the reference row named below. For the write rows the
  reference is the physical ceiling (raw single-row transactions, raw 100-row batches, raw read
  with orjson), so it is the fraction of the hardware we use. A flow writes several events per
  transaction, so flows/s ÷ raw events/s is "flows per raw one-row transaction". For contention
  rows the reference is the same work spread over as many objects: the ratio is what contention
  costs.
- **ratio to peer** = ours ÷ the eventsourcing row named below.
- **status**: `ok` all targets met; `below target`; `FAIL …` a correctness check failed in some
  run (lost updates, version gaps, audit findings — these count violations and must be 0);
  `n/a (not built yet)` the ledger has no such service yet; `?` a target could not be judged.
- **notes**: `peak_rss_mb` is the audit process's peak resident memory (VmHWM);
  `lock_timeouts` are commands that gave up after the retry bound (Stripe's 429
  `lock_timeout`) — not lost, refused; checks at 0 are listed as proof they ran.
"""


def describe(bench: Benchmark, workers: int) -> str:
    """What a row measures: its docstring, with the worker count filled in."""
    text = bench.description or inspect.getdoc(bench.run) or bench.title
    return " ".join(text.replace("{workers}", str(workers)).split())


def _rows_section(options: Options) -> str:
    lines = ["## What each row measures", ""]
    for group in ("reference", "peer", "ours"):
        for bench in (b for b in REGISTRY if b.group == group):
            title = bench.title.replace("{workers}", str(options.workers))
            compared = []
            if bench.reference:
                compared.append(f"reference `{bench.reference}`")
            if bench.peer:
                compared.append(f"peer `{bench.peer}`")
            if bench.targets:
                compared.append("target " + "; ".join(t.text for t in bench.targets))
            if bench.requires:
                compared.append("needs " + ", ".join(f"`led.{r}`" for r in bench.requires))
            suffix = f" ({'; '.join(compared)})" if compared else ""
            sized = " Per log size." if bench.sized else ""
            if bench.sized and bench.smallest_size_only:
                sized = " At the smallest log size only."
            if bench.scale > 1:
                sized += f" Runs {bench.scale} times `--events` operations per run (a cheap row)."
            lines.append(
                f"- **`{bench.name}`** ({group}, {bench.unit}) — {title}. "
                f"{describe(bench, options.workers)}{sized}{suffix}"
            )
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def recorded_command(argv: Sequence[str]) -> str:
    """The command that measured the table, without the flags that only say where to write."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif arg != "--write-readme" and not arg.startswith("--json="):
            kept.append(arg)
    return " ".join(["python -m benchmarks", *kept])


def render_readme(
    results: Sequence[CaseResult],
    options: Options,
    info: Machine,
    when: datetime,
    elapsed_seconds: float,
    previous: Path | None = None,
) -> str:
    """The whole README: intro, the last run's table, the row descriptions, kept notes."""
    sizes = ", ".join(format_count(s) for s in options.audit_sizes)
    results_section = "\n".join(
        [
            "## Results",
            "",
            f"Measured {when:%Y-%m-%d %H:%M} UTC with `{recorded_command(sys.argv[1:])}` "
            f"({options.runs} runs, {options.operations} operations per write run, logs of "
            f"{sizes} events, {options.workers} workers; took {_duration(elapsed_seconds)}).",
            "",
            f"Machine: {info.describe()}.",
            "",
            "These figures were taken while other work shared the machine; they will be "
            "re-measured. Compare ratios within this table, not with other runs.",
            "",
            format_table(table_rows(results)),
            "",
        ]
    )
    kept = ""
    source = previous if previous is not None else Path(__file__).with_name("README.md")
    if source.exists():
        text = source.read_text()
        if KEEP in text:
            kept = text[text.index(KEEP) + len(KEEP) :].strip("\n")
    parts = [_INTRO, results_section, _rows_section(options), _READING, KEEP]
    document = "\n".join(parts) + "\n"
    if kept:
        document += "\n" + kept + "\n"
    return document
