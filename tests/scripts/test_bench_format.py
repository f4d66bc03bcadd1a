"""The bench harness's arithmetic and formatting (scripts/bench.py, scripts/bench_load.py): ratio,
goal direction, status, the printed line, interleaving order and the parsers of the figures
other tools print. No timing is asserted here: the figures themselves are `make bench`'s."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.bench import (
    Result,
    format_goal,
    format_line,
    format_value,
    interleaved,
    markdown_table,
    parse_import_output,
)
from scripts.bench_load import Cpu, Load, _process_cpu, cpu_used, load_results, parse_stats


def test_a_duration_meets_its_goal_when_the_ratio_stays_under_it() -> None:
    result = Result("queue_page", "Queue", project=0.116, baseline=0.0313, goal=1.0)

    assert result.ratio == pytest.approx(3.706, abs=1e-3)
    assert result.status == "SHORT"
    assert Result("q", "Q", project=0.030, baseline=0.030, goal=1.0).status == "ok"  # equal: ok
    assert Result("q", "Q", project=0.029, baseline=0.030, goal=1.0).status == "ok"


def test_a_throughput_meets_its_goal_when_the_ratio_reaches_it() -> None:
    short = Result(
        "load", "L", project=31, baseline=169, goal=0.4, unit="/s", higher_is_better=True
    )
    met = Result("load", "L", project=68, baseline=169, goal=0.4, unit="/s", higher_is_better=True)

    assert short.ratio == pytest.approx(0.1834, abs=1e-4)
    assert (short.status, met.status) == ("SHORT", "ok")


def test_without_baseline_the_goal_applies_to_the_figure_itself() -> None:
    p95 = Result("load_p95", "p95", project=1.2, baseline=None, goal=0.5)
    errors = Result("load_errors", "errors", project=0.0, baseline=None, goal=0.0, unit="")
    rate = Result("numbering", "n", 55.0, None, 50.0, unit="/s", higher_is_better=True)

    assert p95.ratio is None
    assert (p95.status, errors.status, rate.status) == ("SHORT", "ok", "ok")
    assert format_goal(p95) == "≤ 500.0ms"
    assert format_goal(rate) == "≥ 50.0/s"
    assert format_goal(Result("x", "x", 2.0, 1.0, 1.7, higher_is_better=True)) == "≥ 1.70\u00d7"


def test_the_printed_line() -> None:
    result = Result("quote_campaign", "Quote", project=19.6, baseline=0.308, goal=5.0)

    assert format_line(result) == (
        "bench quote_campaign project=19.60s baseline=308.0ms ratio=63.64 goal=5.00 SHORT"
    )
    assert format_line(Result("letter", "L", 0.2841, 0.165, 1.3)) == (
        "bench letter project=284.1ms baseline=165.0ms ratio=1.72 goal=1.30 SHORT"
    )


def test_a_measure_not_taken_says_so_and_why() -> None:
    result = Result("decisions_issue", "D", None, None, 50.0, reason="scripts/x.py absent")

    assert result.status == "not-measured"
    assert result.met is None
    assert format_line(result) == (
        "bench decisions_issue project=n/a baseline=n/a ratio=n/a goal=50.00 not-measured "
        "(scripts/x.py absent)"
    )
    assert "| not-measured | scripts/x.py absent |" in markdown_table([result])


def test_values_are_printed_in_their_unit() -> None:
    assert format_value(0.1165, "s") == "116.5ms"
    assert format_value(1.0, "s") == "1.00s"
    assert format_value(2.04, "/s") == "2.0/s"
    assert format_value(3.0, "") == "3.0"
    assert format_value(None, "s") == "n/a"


def test_runs_are_interleaved_and_the_order_alternates() -> None:
    calls: list[str] = []

    timings = interleaved(lambda: calls.append("p"), lambda: calls.append("b"), repeat=4)

    # One warm-up each, then pairs whose order swaps every time.
    assert calls == ["p", "b", "p", "b", "b", "p", "p", "b", "b", "p"]
    assert len(timings.project) == len(timings.baseline) == 4


BENCH_IMPORT_OUTPUT = """\
Extrait : var/bench-finess-100000.csv — 100000 établissements, 96961 géolocalisations, 52.1 Mo.
COPY PostgreSQL (psql \\copy des lignes structureet, médiane de 3) : 0.32 s
Premier import :  13.90 s =  43.4 x COPY, pic mémoire   212 Mo — Établissements : 100000 créés
Ré-import      :   5.00 s =  15.6 x COPY, pic mémoire   180 Mo — Établissements : 0 créés
Objectif (≤ 3 x COPY et < 300 Mo) : NON atteint.
"""


def test_bench_import_output_is_parsed() -> None:
    copy, runs = parse_import_output(BENCH_IMPORT_OUTPUT)

    assert copy == 0.32
    assert runs == [("Premier import", 13.9, 212), ("Ré-import", 5.0, 180)]
    with pytest.raises(ValueError):
        parse_import_output("rien")


def test_locust_aggregated_row_is_read(tmp_path: Path) -> None:
    stats = tmp_path / "PortalUser_stats.csv"
    stats.write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,"
        "66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
        "GET,queue,900,0,300,310,90,900,50000,15.0,0.0,300,320,340,350,400,450,500,600,900,"
        "900,900\n"
        ",Aggregated,1860,2,280,300,50,1800,40000,31.0,0.03,280,300,330,350,800,1200,1500,"
        "1700,1800,1800,1800\n",
        encoding="utf-8",
    )

    load = parse_stats(stats)

    assert load == Load(requests=1860, failures=2, rps=31.0, p95=1.2, median=0.28)


def test_load_goals() -> None:
    mixed = Load(requests=1860, failures=2, rps=31.0, p95=1.2, median=0.28)
    trivial = Load(requests=10140, failures=0, rps=169.0, p95=0.3, median=0.15)

    throughput, p95, errors = load_results(mixed, trivial, users=30, duration=60)

    assert (throughput.status, p95.status, errors.status) == ("SHORT", "SHORT", "SHORT")
    assert format_line(throughput) == (
        "bench load_throughput project=31.0/s baseline=169.0/s ratio=0.18 goal=0.40 SHORT"
    )
    fine = load_results(Load(6000, 0, 100.0, 0.4, 0.2), trivial, users=30, duration=60)
    assert [r.status for r in fine] == ["ok", "ok", "ok"]


def test_cpu_used_counts_gunicorns_group_and_postgres_only() -> None:
    before = {
        10: ("gunicorn", 10, 1.0),  # the master
        11: ("gunicorn", 10, 5.0),  # a worker
        20: ("postgres", 20, 3.0),  # a backend living through the run
        30: ("locust", 30, 9.0),
        40: ("postgres", 40, 2.0),  # a backend that ended during the run: missed
    }
    after = {
        10: ("gunicorn", 10, 1.5),
        11: ("gunicorn", 10, 7.0),
        12: ("gunicorn", 10, 0.5),  # a worker born during the run counts whole
        20: ("postgres", 20, 4.25),
        21: ("postgres", 21, 0.25),  # a new backend
        30: ("locust", 30, 19.0),
        50: ("python", 50, 2.0),  # anything else is not the server's
    }

    gunicorn, postgres = cpu_used(before, after, gunicorn_group=10)

    assert (gunicorn, postgres) == (pytest.approx(3.0), pytest.approx(1.5))


def test_cpu_per_request_is_said_in_milliseconds() -> None:
    cpu = Cpu(gunicorn=60.0, postgres=12.0, locust=6.0, seconds=60.0)

    text = cpu.per_request(2400)

    assert text.startswith("CPU per request 30.0 ms (gunicorn 25.0, PostgreSQL 5.0), locust 2.5 ms")
    assert "1.30 of" in text
    assert Cpu(1.0, 1.0, 1.0, 60.0).per_request(0) == "CPU not measured"
    throughput = load_results(
        Load(2400, 0, 40.0, 1.1, 0.67),
        Load(50000, 0, 849.0, 0.045, 0.034),
        users=30,
        duration=60,
        cpu=(cpu, cpu),
    )[0]
    assert any(note.startswith("CPU per request 30.0 ms") for note in throughput.notes)


def test_this_process_is_among_the_processes_read() -> None:
    import os

    name, _group, seconds = _process_cpu()[os.getpid()]

    assert seconds > 0
    assert name


def test_a_heavy_pair_is_repeated_less(monkeypatch: pytest.MonkeyPatch) -> None:
    # Any warm-up counts as heavy: the repeat is capped, the warm-up given replaces the default.
    monkeypatch.setattr("scripts.bench.HEAVY_SECONDS", -1.0)
    calls: list[str] = []

    timings = interleaved(
        lambda: calls.append("p"),
        lambda: calls.append("b"),
        repeat=7,
        warmup=lambda: calls.append("w"),
    )

    assert len(timings.project) == len(timings.baseline) == 3
    assert calls[:3] == ["w", "p", "b"]


def test_an_absolute_goal_with_a_baseline_for_comparison() -> None:
    # Issuing: ≥ 50 decisions/s whatever the former path (the baseline) did.
    result = Result(
        "decisions_issue", "D", 66.1, 2.4, 50.0, unit="/s", higher_is_better=True,
        goal_on_project=True,
    )  # fmt: skip

    assert result.status == "ok"
    assert format_line(result) == (
        "bench decisions_issue project=66.1/s baseline=2.4/s ratio=27.54 goal=50.00 ok"
    )
    assert format_goal(result) == "≥ 50.0/s"
