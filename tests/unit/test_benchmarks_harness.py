"""The benchmark harness's pure parts: flags, the registry, medians, ratios, the table."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks.database import Machine
from benchmarks.harness import (
    FEATURES,
    FULL_AUDIT_SIZES,
    FULL_OPERATIONS,
    QUICK_AUDIT_SIZES,
    QUICK_OPERATIONS,
    Benchmark,
    Case,
    CaseResult,
    Sample,
    at_least_peer_ratio,
    at_least_rate,
    at_least_reference_ratio,
    cases,
    format_count,
    format_rate,
    format_ratio,
    format_table,
    median,
    parse_args,
    parse_sizes,
    ratio,
    rss_flat,
    status,
    summarize,
    table_rows,
)
from benchmarks.readme import KEEP, recorded_command, render_readme
from benchmarks.registry import REGISTRY


def _never(*args: Any) -> Any:
    raise AssertionError("not run in unit tests")


def bench(name: str, group: Any = "ours", **kwargs: Any) -> Benchmark:
    return Benchmark(name, group, "events/s", name, _never, _never, **kwargs)


def result(case: Case, *rates: float, **kwargs: Any) -> CaseResult:
    return CaseResult(case, [Sample(int(r), 1.0) for r in rates], **kwargs)


# -- numbers -----------------------------------------------------------------------------------


def test_median_of_odd_even_and_no_values() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert median([]) == 0.0


def test_ratio_is_none_when_a_side_is_missing_or_zero() -> None:
    assert ratio(300.0, 600.0) == 0.5
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_sample_rate() -> None:
    assert Sample(1000, 2.0).rate == 500.0
    assert Sample(10, 0.0).rate == 0.0


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (999, "999"), (1000, "1k"), (2500, "2.5k"), (100_000, "100k"), (1e6, "1M")],
)
def test_format_count(value: float, text: str) -> None:
    assert format_count(value) == text


def test_format_rate_and_ratio() -> None:
    assert format_rate(152_345.6, "events/s") == "152,346 events/s"
    assert format_rate(88.04, "flows/s") == "88.0 flows/s"
    assert format_rate(None) == "-"
    assert format_ratio(0.456) == "0.46x"
    assert format_ratio(None) == "-"


# -- flags -------------------------------------------------------------------------------------


def test_defaults_are_the_full_suite() -> None:
    options = parse_args([])
    assert options.runs == 3
    assert options.operations == FULL_OPERATIONS
    assert options.audit_sizes == FULL_AUDIT_SIZES == (100_000, 1_000_000)
    assert options.workers == 8
    assert not options.quick and not options.write_readme and options.json_path is None


def test_quick_changes_defaults_and_explicit_flags_win() -> None:
    quick = parse_args(["--quick"])
    assert quick.operations == QUICK_OPERATIONS
    assert quick.audit_sizes == QUICK_AUDIT_SIZES == (20_000, 100_000)
    options = parse_args(
        ["--quick", "--events", "50", "--audit-sizes", "1M,100k", "--runs", "5", "--json", "x"]
    )
    assert (options.operations, options.audit_sizes, options.runs) == (50, (100_000, 10**6), 5)
    assert options.json_path == "x"


def test_only_and_write_readme() -> None:
    options = parse_args(["--only", "audit, raw_read@100k,peer", "--write-readme"])
    assert options.only == ("audit", "raw_read@100k", "peer")
    assert options.write_readme


@pytest.mark.parametrize("argv", [["--runs", "2"], ["--events", "0"], ["--workers", "0"]])
def test_bad_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_parse_sizes() -> None:
    assert parse_sizes("100000,1000000") == (100_000, 1_000_000)
    assert parse_sizes("1M, 20k,20k") == (20_000, 1_000_000)
    assert parse_sizes("1_000") == (1000,)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_sizes("0")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_sizes(",")


# -- the registry ------------------------------------------------------------------------------


def test_registry_names_are_unique_and_comparisons_exist() -> None:
    by_name = {b.name: b for b in REGISTRY}
    assert len(by_name) == len(REGISTRY)
    for b in REGISTRY:
        assert b.group in ("reference", "peer", "ours")
        for related in (b.reference, b.peer):
            if related is not None:
                assert related in by_name, f"{b.name} compares with unknown {related}"
                # A sized row compares with a row of the same size, and only then.
                assert by_name[related].sized == b.sized, (b.name, related)
        if b.peer is not None:
            assert by_name[b.peer].group == "peer"
        assert set(b.requires) <= set(FEATURES)
        assert b.run.__doc__, f"{b.name}: its run needs a docstring (the README shows it)"


def test_registry_covers_issue_6() -> None:
    names = {b.name for b in REGISTRY}
    assert {"raw_insert_1", "raw_insert_100", "raw_read"} <= names
    assert {"es_save_1", "es_command", "es_read_log"} <= names
    assert {"append_1", "append_100", "payment", "payment_workers", "refund"} <= names
    assert {"transfer", "payout", "hot_customer", "hot_account", "audit", "rebuild"} <= names
    payment = next(b for b in REGISTRY if b.name == "payment")
    assert [t.text for t in payment.targets] == ["≥ 600 flows/s", "≥ 2x peer"]


def test_cases_expand_sized_benchmarks_per_size() -> None:
    registry = (
        bench("raw_read", "reference", sized=True),
        bench("audit", sized=True, reference="raw_read"),
        bench("rebuild", sized=True, smallest_size_only=True, reference="raw_read"),
        bench("append_1"),
    )
    names = [c.name for c in cases(registry, [1_000_000, 100_000])]
    assert names == [
        "raw_read@100k",
        "raw_read@1M",
        "audit@100k",
        "audit@1M",
        "rebuild@100k",
        "append_1",
    ]


def test_only_keeps_what_a_row_is_compared_with() -> None:
    registry = (
        bench("raw_insert_1", "reference"),
        bench("es_command", "peer"),
        bench("payment", reference="raw_insert_1", peer="es_command"),
        bench("raw_read", "reference", sized=True),
        bench("audit", sized=True, reference="raw_read"),
    )
    assert [c.name for c in cases(registry, [10], ["payment"])] == [
        "raw_insert_1",
        "es_command",
        "payment",
    ]
    assert [c.name for c in cases(registry, [10, 20], ["audit@20"])] == [
        "raw_read@20",
        "audit@20",
    ]
    assert [c.name for c in cases(registry, [10], ["peer"])] == ["es_command"]
    chained = (*registry, bench("hot", reference="payment"))
    assert [c.name for c in cases(chained, [10], ["hot"])] == [
        "raw_insert_1",
        "es_command",
        "payment",
        "hot",
    ]
    with pytest.raises(ValueError, match="unknown"):
        cases(registry, [10], ["nope"])


def test_case_operations_scale() -> None:
    options = parse_args(["--events", "100"])
    assert Case(bench("a")).operations(options) == 100
    assert Case(bench("b", scale=5)).operations(options) == 500


# -- results, targets, status ------------------------------------------------------------------


def test_case_result_takes_medians_worst_checks_and_median_extras() -> None:
    r = CaseResult(
        Case(bench("hot")),
        [
            Sample(100, 1.0, {"lost_updates": 0}, {"peak_rss_mb": 70.0}),
            Sample(300, 1.0, {"lost_updates": 2}, {"peak_rss_mb": 90.0}),
            Sample(200, 1.0, {"lost_updates": 0}, {"peak_rss_mb": 80.0}),
        ],
    )
    assert r.rate == 200.0
    assert r.checks == {"lost_updates": 2}
    assert r.extras == {"peak_rss_mb": 80.0}
    assert status(r, {r.name: r}) == "FAIL lost_updates=2"


def test_targets_and_status() -> None:
    ref_case = Case(bench("raw", "reference"))
    peer_case = Case(bench("es", "peer"))
    ours = Case(
        bench(
            "payment",
            reference="raw",
            peer="es",
            targets=(
                at_least_rate(600, "flows/s"),
                at_least_peer_ratio(2),
                at_least_reference_ratio(0.1),
            ),
        )
    )
    results = [result(ref_case, 3000), result(peer_case, 400), result(ours, 700, 900, 800)]
    by_name = {r.name: r for r in results}
    assert status(by_name["payment"], by_name) == "ok"
    results[1] = result(peer_case, 500)  # 800 < 2 x 500
    by_name = {r.name: r for r in results}
    assert status(by_name["payment"], by_name) == "below target"
    del by_name["es"]
    assert status(by_name["payment"], by_name) == "?"
    assert status(by_name["raw"], by_name) == ""


def test_unavailable_and_errors() -> None:
    r = CaseResult(Case(bench("transfer")), unavailable="n/a (not built yet)")
    assert r.rate is None
    assert status(r, {}) == "n/a (not built yet)"
    e = CaseResult(Case(bench("payment")), [Sample(1, 1.0)], error="boom")
    assert e.rate is None
    assert status(e, {}) == "error"


def test_rss_flat_compares_with_the_smallest_size() -> None:
    audit = bench("audit", sized=True, targets=(rss_flat(tolerance=1.25),))
    small = CaseResult(Case(audit, 100), [Sample(1, 1.0, extras={"peak_rss_mb": 80.0})])
    flat = CaseResult(Case(audit, 1000), [Sample(1, 1.0, extras={"peak_rss_mb": 90.0})])
    grows = CaseResult(Case(audit, 1000), [Sample(1, 1.0, extras={"peak_rss_mb": 200.0})])
    assert status(flat, {small.name: small, flat.name: flat}) == "ok"
    assert status(grows, {small.name: small, grows.name: grows}) == "below target"


# -- the table ---------------------------------------------------------------------------------


def _sample_results() -> list[CaseResult]:
    raw = Case(bench("raw_insert_1", "reference"))
    es = Case(bench("es_command", "peer"))
    pay = Case(
        bench(
            "payment",
            reference="raw_insert_1",
            peer="es_command",
            targets=(at_least_rate(600, "flows/s"),),
        )
    )
    return [
        result(raw, 2000, 2800, 2400),
        result(es, 400, 500, 450),
        result(pay, 500, 700, 650),
        CaseResult(Case(bench("transfer", reference="raw_insert_1")), unavailable="n/a (x)"),
    ]


def test_table_rows_show_medians_and_ratios() -> None:
    rows = {row[0]: row for row in table_rows(_sample_results())}
    pay = rows["ours: payment"]
    assert pay[1:8] == (
        "650 events/s",
        "2,400 events/s",
        "0.27x",
        "450 events/s",
        "1.44x",
        "≥ 600 flows/s",
        "ok",
    )
    assert pay[8] == "3 runs"
    transfer = rows["ours: transfer"]
    assert transfer[1] == "n/a (x)" and transfer[3] == "-" and transfer[7] == "n/a (x)"
    assert rows["reference: raw_insert_1"][2:6] == ("", "", "", "")


def test_format_table_is_markdown_with_aligned_columns() -> None:
    text = format_table([("a", "1|2"), ("longer", "3")], header=("name", "value"))
    lines = text.splitlines()
    assert lines[0].startswith("| name ") and lines[1].startswith("|---")
    assert "1\\|2" in lines[2]
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(AssertionError):
        format_table([("only one cell",)], header=("a", "b"))


def test_summarize_is_json_ready() -> None:
    data = summarize(_sample_results())
    assert data["payment"]["median"] == 650.0
    assert data["payment"]["ratio_to_reference"] == pytest.approx(650 / 2400)
    assert data["payment"]["rates"] == [500.0, 700.0, 650.0]
    assert data["transfer"]["unavailable"] == "n/a (x)"


def test_readme_has_date_machine_table_and_keeps_notes(tmp_path: Path) -> None:
    previous = tmp_path / "README.md"
    previous.write_text(f"old\n{KEEP}\n## Hot spots\nkept text\n")
    machine = Machine(2, "23.5 GiB", "AMD EPYC", "16.2", "3.11.7", "embedded pgserver")
    text = render_readme(
        _sample_results(),
        parse_args(["--quick"]),
        machine,
        datetime(2024, 11, 20, 12, 0, tzinfo=UTC),
        95.0,
        previous=previous,
    )
    assert "Measured 2024-11-20 12:00 UTC" in text
    assert "2 CPUs (AMD EPYC), 23.5 GiB RAM, PostgreSQL 16.2" in text
    assert "| ours: payment " in text
    assert text.rstrip().endswith("## Hot spots\nkept text")
    assert text.count(KEEP) == 1
    for b in REGISTRY:
        assert f"**`{b.name}`**" in text


def test_recorded_command_leaves_out_where_figures_were_written() -> None:
    argv = ["--quick", "--json", "/tmp/x.json", "--write-readme", "--json=/y", "--runs", "5"]
    assert recorded_command(argv) == "python -m benchmarks --quick --runs 5"
