"""Result arithmetic for the load benchmarks: percentiles, run summaries and the rate sweep.

Pure functions and values, so they are unit-tested on synthetic data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: Highest share of failed calls at which a rate still counts as sustained (0.1%).
FAILURE_THRESHOLD = 0.001


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """Return the ``fraction`` percentile (0 to 1) of ``samples`` by the nearest-rank method.

    Returns ``None`` for no samples. The nearest rank is the sample at position
    ``ceil(fraction * n)`` of the sorted samples, counted from 1, so p50 of
    ``[1, 2, 3, 4]`` is 2 and p100 is the maximum.

    Raises:
        ValueError: ``fraction`` is outside 0 to 1.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(
            f"The percentile fraction {fraction!r} is outside 0 to 1; pass 0.99 for p99."
        )
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class SetupTimes:
    """Call setup time percentiles (INVITE sent to 200 received), in milliseconds."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def from_seconds(cls, samples: Sequence[float]) -> SetupTimes:
        """Summarise setup times given in seconds."""
        ordered = sorted(samples)

        def ms(fraction: float) -> float | None:
            value = percentile(ordered, fraction)
            return None if value is None else round(value * 1000.0, 2)

        return cls(ms(0.50), ms(0.95), ms(0.99), ms(1.0))


@dataclass(frozen=True)
class ProcessUsage:
    """CPU seconds and peak resident memory of one process (summed over its workers)."""

    name: str
    cpu_seconds: float
    peak_rss_kib: int
    processes: int = 1


@dataclass
class RunResult:
    """One bounded run at one offered rate."""

    system: str
    offered_rate: float
    attempted: int
    connected: int
    completed: int
    failures: dict[str, int]
    setup: SetupTimes
    elapsed: float
    usage: list[ProcessUsage] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Calls that did not complete: every failure cause added up."""
        return sum(self.failures.values())

    @property
    def failure_ratio(self) -> float:
        """Failed calls as a share of attempted calls (1.0 when none was attempted)."""
        if self.attempted == 0:
            return 1.0
        return self.failed / self.attempted

    @property
    def achieved_rate(self) -> float:
        """Calls attempted per second of the run."""
        return self.attempted / self.elapsed if self.elapsed > 0 else 0.0

    def passed(self, threshold: float = FAILURE_THRESHOLD) -> bool:
        """Return whether at most ``threshold`` of the attempted calls failed."""
        return self.attempted > 0 and self.failure_ratio <= threshold

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        data = asdict(self)
        data["failed"] = self.failed
        data["failure_ratio"] = self.failure_ratio
        data["achieved_rate"] = round(self.achieved_rate, 2)
        return data


def merge_failures(*counts: dict[str, int]) -> dict[str, int]:
    """Add up failure counts by cause."""
    total: dict[str, int] = {}
    for count in counts:
        for cause, number in count.items():
            total[cause] = total.get(cause, 0) + number
    return total


@dataclass
class SweepResult:
    """Every run of a sweep and the highest rate that stayed within the failure threshold."""

    system: str
    runs: list[RunResult]
    best_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the sweep as JSON-ready data."""
        return {
            "system": self.system,
            "best_rate": self.best_rate,
            "runs": [run.to_dict() for run in self.runs],
        }


def sweep(
    rates: Iterable[float],
    run: Callable[[float], RunResult],
    *,
    threshold: float = FAILURE_THRESHOLD,
    stop_after_failures: int = 1,
) -> SweepResult:
    """Run ``run`` at each rate in increasing order and find the highest rate that passed.

    The sweep stops after ``stop_after_failures`` consecutive rates failed the
    threshold, because higher rates only fail harder and take longest.
    """
    runs: list[RunResult] = []
    best: float | None = None
    failed_in_a_row = 0
    system = ""
    for rate in sorted(rates):
        result = run(rate)
        system = result.system
        runs.append(result)
        if result.passed(threshold):
            best = rate if best is None else max(best, rate)
            failed_in_a_row = 0
            continue
        failed_in_a_row += 1
        if failed_in_a_row >= stop_after_failures:
            break
    return SweepResult(system, runs, best)


def geometric_rates(start: float, stop: float, factor: float) -> list[float]:
    """Return rates from ``start`` multiplied by ``factor`` up to ``stop`` (inclusive).

    Raises:
        ValueError: a rate is not positive or ``factor`` is not above 1.
    """
    if start <= 0 or stop < start:
        raise ValueError(
            f"The sweep range {start}..{stop} calls per second is invalid; "
            "give a positive start no larger than the stop."
        )
    if factor <= 1:
        raise ValueError(f"The sweep factor {factor} must be above 1, for example 1.5.")
    rates: list[float] = []
    rate = start
    while rate <= stop * (1 + 1e-9):
        rates.append(round(rate, 1))
        rate *= factor
    return rates
