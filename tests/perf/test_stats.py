"""Percentiles, run summaries and the rate sweep, on synthetic data."""

from __future__ import annotations

import pytest

from tlstrunk.perf.stats import (
    RunResult,
    SetupTimes,
    geometric_rates,
    merge_failures,
    percentile,
    sweep,
)


def test_percentile_nearest_rank() -> None:
    samples = [4.0, 1.0, 3.0, 2.0]
    assert percentile(samples, 0.5) == 2.0
    assert percentile(samples, 0.75) == 3.0
    assert percentile(samples, 0.76) == 4.0
    assert percentile(samples, 1.0) == 4.0
    assert percentile(samples, 0.0) == 1.0


def test_percentile_of_hundred_samples() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.50) == 50.0
    assert percentile(samples, 0.95) == 95.0
    assert percentile(samples, 0.99) == 99.0


def test_percentile_empty_and_invalid() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="outside 0 to 1"):
        percentile([1.0], 1.5)


def test_setup_times_in_milliseconds() -> None:
    times = SetupTimes.from_seconds([0.001 * n for n in range(1, 201)])
    assert times.p50 == 100.0
    assert times.p95 == 190.0
    assert times.p99 == 198.0
    assert times.max == 200.0
    assert SetupTimes.from_seconds([]).p50 is None


def result(rate: float, attempted: int, failed: int) -> RunResult:
    return RunResult(
        system="synthetic",
        offered_rate=rate,
        attempted=attempted,
        connected=attempted - failed,
        completed=attempted - failed,
        failures={"timeout: no final response to INVITE": failed} if failed else {},
        setup=SetupTimes.from_seconds([0.01]),
        elapsed=10.0,
    )


def test_run_passes_at_threshold() -> None:
    assert result(10, 1000, 1).passed()
    assert not result(10, 1000, 2).passed()
    assert not result(10, 0, 0).passed()
    assert result(10, 1000, 1).failure_ratio == pytest.approx(0.001)
    assert result(10, 1000, 0).achieved_rate == 100.0


def test_sweep_finds_highest_passing_rate() -> None:
    limit = 300.0
    seen: list[float] = []

    def run(rate: float) -> RunResult:
        seen.append(rate)
        return result(rate, 1000, 0 if rate <= limit else 50)

    outcome = sweep([400.0, 100.0, 200.0, 300.0, 800.0], run)
    assert outcome.best_rate == 300.0
    assert seen == [100.0, 200.0, 300.0, 400.0]
    assert len(outcome.runs) == 4


def test_sweep_tolerates_one_noisy_step() -> None:
    failing = {200.0, 400.0, 500.0}

    def run(rate: float) -> RunResult:
        return result(rate, 1000, 10 if rate in failing else 0)

    outcome = sweep([100.0, 200.0, 300.0, 400.0, 500.0], run, stop_after_failures=2)
    assert outcome.best_rate == 300.0
    assert [r.offered_rate for r in outcome.runs] == [100.0, 200.0, 300.0, 400.0, 500.0]


def test_sweep_with_no_passing_rate() -> None:
    outcome = sweep([10.0, 20.0], lambda rate: result(rate, 100, 100))
    assert outcome.best_rate is None
    assert outcome.to_dict()["best_rate"] is None


def test_geometric_rates() -> None:
    assert geometric_rates(25, 200, 2) == [25.0, 50.0, 100.0, 200.0]
    assert geometric_rates(10, 30, 1.5) == [10.0, 15.0, 22.5]
    with pytest.raises(ValueError, match="factor"):
        geometric_rates(10, 20, 1.0)
    with pytest.raises(ValueError, match="invalid"):
        geometric_rates(0, 20, 2)


def test_merge_failures() -> None:
    merged = merge_failures({"INVITE answered 503": 2}, {"INVITE answered 503": 1, "x": 4})
    assert merged == {"INVITE answered 503": 3, "x": 4}
