"""Measure digit analysis build time and lookup cost at 1,000 to 100,000 patterns.

Run: ``python bench/bench_digits.py [--seed N] [--lookups N]``. Two dial plan
shapes are measured, each spread over three partitions:

- ``prefix``: a literal prefix of 1 to 8 digits followed by 0 to 4 wildcards
  (X or [2-9]) and sometimes a trailing !, as real dial plans look;
- ``mixed``: 4 to 10 positions, each a literal digit three times in four and
  otherwise X or [2-9]; many patterns overlap, the hard case for the automaton.

Every lookup dials a string that one of the patterns accepts. "Cold" is the
first pass over the dialled strings right after the build, "warm" the second
pass over the same strings. A lookup is ``analyze()``, which finds the closest
match. The ranked list of every candidate is built only when a caller reads
``candidates``; the last column times a lookup that reads it. Numbers depend
on the machine, so record the CPU and Python version beside any result you keep.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from tlstrunk.callcontrol.digits import DigitAnalyzer, Repeat, RouteEntry, compile_pattern

PARTITIONS = (None, "Internal", "PSTN")
CSS = ("Internal", "PSTN")


def wildcard(rng: random.Random) -> str:
    return "X" if rng.random() < 0.8 else "[2-9]"


def prefix_pattern(rng: random.Random) -> str:
    prefix = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 8)))
    suffix = "".join(wildcard(rng) for _ in range(rng.randint(0, 4)))
    bang = "!" if rng.random() < 0.05 else ""
    return prefix + suffix + bang


def mixed_pattern(rng: random.Random) -> str:
    parts = []
    for _index in range(rng.randint(4, 10)):
        parts.append(rng.choice("0123456789") if rng.random() < 0.75 else wildcard(rng))
    if rng.random() < 0.05:
        parts.append("!")
    return "".join(parts)


def sample_digits(text: str, rng: random.Random) -> str:
    """Return a random string that pattern ``text`` accepts."""
    out = ""
    for element in compile_pattern(text).elements:
        times = 1 if element.repeat is Repeat.ONE else rng.randint(1, 3)
        out += "".join(rng.choice(sorted(element.chars)) for _ in range(times))
    return out


def make_entries(
    count: int, rng: random.Random, shape: Callable[[random.Random], str]
) -> list[RouteEntry[int]]:
    seen: set[tuple[str, str | None]] = set()
    entries: list[RouteEntry[int]] = []
    while len(entries) < count:
        key = (shape(rng), rng.choice(PARTITIONS))
        if key not in seen:
            seen.add(key)
            entries.append(RouteEntry(key[0], key[1], len(entries)))
    return entries


def time_lookups(analyzer: DigitAnalyzer[int], dialled: list[str]) -> float:
    """Return the mean seconds per lookup over ``dialled``."""
    started = time.perf_counter()
    for digits in dialled:
        analyzer.analyze(digits, CSS)
    return (time.perf_counter() - started) / len(dialled)


def time_ranked(analyzer: DigitAnalyzer[int], dialled: list[str]) -> float:
    """Return the mean seconds per lookup that also ranks every candidate."""
    started = time.perf_counter()
    for digits in dialled:
        analyzer.analyze(digits, CSS).candidates  # noqa: B018 - built on first read
    return (time.perf_counter() - started) / len(dialled)


def run(name: str, count: int, lookups: int, rng: random.Random) -> None:
    shape = prefix_pattern if name == "prefix" else mixed_pattern
    entries = make_entries(count, rng, shape)
    started = time.perf_counter()
    analyzer = DigitAnalyzer.build(entries)
    build_seconds = time.perf_counter() - started

    dialled = [sample_digits(entries[rng.randrange(count)].pattern, rng) for _ in range(lookups)]
    cold = time_lookups(analyzer, dialled)
    warm = time_lookups(analyzer, dialled)
    ranked = time_ranked(analyzer, dialled)
    print(
        f"{name:>6} {count:>7} patterns: build {build_seconds:6.2f} s, "
        f"lookup cold {cold * 1e6:6.1f} µs, warm {warm * 1e6:6.1f} µs, "
        f"with candidates {ranked * 1e6:6.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lookups", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for name in ("prefix", "mixed"):
        for count in (1_000, 10_000, 100_000):
            run(name, count, args.lookups, rng)


if __name__ == "__main__":
    main()
