"""Tests for the length index at sizes where its tree splits, and for transformations."""

from __future__ import annotations

import random
import re

import pytest

from tlstrunk.callcontrol.digits import (
    CalledPartyTransform,
    DigitAnalyzer,
    DiscardDigits,
    Pattern,
    RouteEntry,
    RouteMatch,
    compile_pattern,
    transform_called,
)
from tlstrunk.callcontrol.digits._index import EXPANDED_LENGTH, NODE_SIZE
from tlstrunk.callcontrol.digits.transform import apply_mask, check_mask, check_prefix_digits

PARTITIONS = (None, "A", "B")


def random_pattern(rng: random.Random) -> str:
    parts = []
    for _index in range(rng.randint(2, 7)):
        roll = rng.random()
        if roll < 0.6:
            parts.append(rng.choice("0123"))
        elif roll < 0.85:
            parts.append("X")
        else:
            parts.append("[1-2]")
    if rng.random() < 0.15:
        parts.append(rng.choice(["!", "X?", "[0-1]+"]))
    return "".join(parts)


def random_plan(seed: int, size: int) -> list[RouteEntry[int]]:
    rng = random.Random(seed)
    keys: dict[tuple[str, str | None], None] = {}
    while len(keys) < size:
        keys[(random_pattern(rng), rng.choice(PARTITIONS))] = None
    return [RouteEntry(text, partition, index) for index, (text, partition) in enumerate(keys)]


COMPILED: dict[str, Pattern] = {}


def reference(
    entries: list[RouteEntry[int]], digits: str, css: tuple[str | None, ...]
) -> list[tuple[int, int, str, str | None]]:
    order = list(dict.fromkeys([*css, None]))
    found = []
    for entry in entries:
        pattern = COMPILED.get(entry.pattern)
        if pattern is None:
            pattern = COMPILED[entry.pattern] = compile_pattern(entry.pattern)
        if entry.partition in order and pattern.matches(digits):
            count = pattern.match_count(len(digits))
            found.append((count, order.index(entry.partition), entry.pattern, entry.partition))
    return sorted(found)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_large_plan_matches_reference(seed: int) -> None:
    entries = random_plan(seed, 20 * NODE_SIZE)
    analyzer = DigitAnalyzer.build(entries)
    rng = random.Random(seed)
    for _lookup in range(300):
        digits = "".join(rng.choice("01234") for _ in range(rng.randint(1, 9)))
        css = rng.choice([(None,), ("A",), ("B", "A")])
        result = analyzer.analyze(digits, css)
        expected = reference(entries, digits, css)
        got = [(m.match_count, m.css_rank, m.pattern.text, m.partition) for m in result.candidates]
        assert got == expected, digits
        winner = None if result.matched is None else result.matched.pattern.text
        assert winner == (expected[0][2] if expected else None), digits


def test_large_plan_could_match_more() -> None:
    entries = random_plan(7, 10 * NODE_SIZE)
    analyzer = DigitAnalyzer.build(entries)
    rng = random.Random(7)
    patterns = [(compile_pattern(e.pattern), e.partition) for e in entries]
    for _lookup in range(100):
        digits = "".join(rng.choice("0123") for _ in range(rng.randint(0, 6)))
        extensions = ["".join(rng.choice("0123") for _ in range(n)) for n in range(1, 9)]
        extensions += ["0" * n for n in range(1, 9)] + ["1" * n for n in range(1, 9)]
        reachable = [p for p, partition in patterns if partition in ("A", None)]
        got = analyzer.analyze(digits, ("A",)).could_match_more
        # a random probe can only prove that more digits may match, never disprove it
        if any(p.matches(digits + extra) for p in reachable for extra in extensions):
            assert got, digits


def test_could_match_more_false_when_nothing_longer() -> None:
    analyzer = DigitAnalyzer.build(RouteEntry(f"{n:04d}", None, n) for n in range(2000))
    assert analyzer.analyze("12").could_match_more
    assert not analyzer.analyze("1234").could_match_more
    assert not analyzer.analyze("12345").could_match_more


def test_repeat_beyond_expanded_length() -> None:
    analyzer = DigitAnalyzer.build(
        [RouteEntry("9!", None, "nine"), RouteEntry("9XXX", None, "short")]
    )
    long_number = "9" + "1" * (EXPANDED_LENGTH + 5)
    result = analyzer.analyze(long_number)
    assert result.matched is not None
    assert result.matched.target == "nine"
    assert result.matched.match_count == 10 ** (EXPANDED_LENGTH + 5)
    assert result.could_match_more


def test_repeat_count_at_each_length() -> None:
    analyzer = DigitAnalyzer.build([RouteEntry("1[2-4]!", None, "x")])
    for length in (3, 10, EXPANDED_LENGTH, EXPANDED_LENGTH + 1):
        result = analyzer.analyze("12" + "0" * (length - 2))
        assert result.matched is not None
        assert result.matched.match_count == 3 * 10 ** (length - 2)


def test_many_literal_numbers() -> None:
    analyzer = DigitAnalyzer.build(RouteEntry(f"408555{n:04d}", None, n) for n in range(10_000))
    result = analyzer.analyze("4085551234")
    assert result.matched is not None
    assert result.matched.target == 1234
    assert analyzer.analyze("4085551234").candidates == (result.matched,)
    assert analyzer.analyze("408555123").matched is None


def test_wildcard_first_patterns() -> None:
    entries = [RouteEntry(f"X{n:03d}", None, n) for n in range(1000)]
    entries.append(RouteEntry("XXXX", None, -1))
    analyzer = DigitAnalyzer.build(entries)
    result = analyzer.analyze("5042")
    assert result.matched is not None
    assert result.matched.target == 42
    assert [m.target for m in result.candidates] == [42, -1]


def test_candidates_reuse_winner() -> None:
    analyzer = DigitAnalyzer.build([RouteEntry("1XXX", None, 1), RouteEntry("12XX", None, 2)])
    result = analyzer.analyze("1234")
    assert result.candidates[0] is result.matched


# --- called-party transformations -----------------------------------------


def route_match(text: str, transform: CalledPartyTransform) -> RouteMatch[str]:
    return RouteMatch(compile_pattern(text), None, "x", 1, 0, "", transform)


def test_transform_pre_dot() -> None:
    match = route_match("9.1XXXX", CalledPartyTransform(DiscardDigits.PRE_DOT))
    assert transform_called(match, "915551") == "15551"


def test_transform_prefix_after_discard() -> None:
    match = route_match("9.XXXX", CalledPartyTransform(DiscardDigits.PRE_DOT, "+4930"))
    assert transform_called(match, "91234") == "+49301234"


def test_transform_mask_then_prefix() -> None:
    transform = CalledPartyTransform(DiscardDigits.PRE_DOT, "0", "972XXXX")
    match = route_match("8.1XXX", transform)
    assert transform_called(match, "81234") == "09721234"


def test_transform_none_keeps_digits() -> None:
    match = route_match("9.1XXX", CalledPartyTransform())
    assert transform_called(match, "91234") == "91234"


def test_pre_dot_without_dot_keeps_digits() -> None:
    match = route_match("1XXX", CalledPartyTransform(DiscardDigits.PRE_DOT))
    assert transform_called(match, "1234") == "1234"


@pytest.mark.parametrize(
    ("mask", "digits", "expected"),
    [("XXXX", "5551234", "1234"), ("972XXXX", "1234", "9721234"), ("XXXXXX", "123", "123")],
)
def test_apply_mask(mask: str, digits: str, expected: str) -> None:
    assert apply_mask(mask, digits) == expected


def test_analysis_result_called() -> None:
    analyzer = DigitAnalyzer.build(
        [RouteEntry("9.1XXX", None, "t", transform=CalledPartyTransform(DiscardDigits.PRE_DOT))]
    )
    assert analyzer.analyze("91234").called == "1234"
    assert analyzer.analyze("5").called is None


def test_bad_prefix_and_mask_rejected() -> None:
    with pytest.raises(ValueError, match="contain 'A' at position 2; use only 0-9"):
        check_prefix_digits("9A")
    with pytest.raises(ValueError, match=re.escape("contains '?' at position 1")):
        check_mask("?XX")
