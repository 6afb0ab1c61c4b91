"""Tests for route pattern compilation and closest-match digit analysis."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlstrunk.callcontrol.digits import (
    DigitAnalyzer,
    DuplicatePatternError,
    PatternError,
    Repeat,
    RouteEntry,
    compile_pattern,
)


def plan(*patterns: str) -> DigitAnalyzer[str]:
    return DigitAnalyzer.build(RouteEntry(p, None, p) for p in patterns)


def winner(analyzer: DigitAnalyzer[str], digits: str, css: tuple[str | None, ...] = (None,)) -> str:
    match = analyzer.analyze(digits, css).matched
    assert match is not None, f"no pattern matched {digits}"
    return match.target


# --- compiling ------------------------------------------------------------


def test_compile_literal_and_wildcards() -> None:
    pattern = compile_pattern("9.1[2-9]XX")
    assert pattern.text == "9.1[2-9]XX"
    assert pattern.discard_index == 1
    assert len(pattern.elements) == 5
    assert pattern.elements[2].chars == frozenset("23456789")


def test_compile_negated_set() -> None:
    pattern = compile_pattern("[^0]")
    assert pattern.elements[0].chars == frozenset("123456789")


def test_compile_repeats() -> None:
    pattern = compile_pattern("1X?2+!")
    repeats = [element.repeat for element in pattern.elements]
    assert repeats == [Repeat.ONE, Repeat.ZERO_OR_MORE, Repeat.ONE_OR_MORE, Repeat.ONE_OR_MORE]


def test_compile_leading_escaped_plus() -> None:
    pattern = compile_pattern("\\+1!")
    assert pattern.elements[0].chars == frozenset("+")
    assert pattern.matches("+15551234")


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        (
            "[5-2]XX",
            "the range 5-2 at character 2 runs backwards; write it from low to high, as [2-5]",
            1,
        ),
        ("[2-5", "the '[' at character 1 is not closed", 0),
        ("[+-X]1000", "the range +-X at character 2 is not between digits", 1),
        ("", "A route pattern cannot be empty", None),
        ("12A4", "character 'A' at position 3 is not allowed", 2),
        ("?1", "'?' at character 1 must follow a digit", 0),
        ("1!+", "'+' at character 3 must follow a digit", 2),
        ("1.2.3", "a second '.' at character 4", 3),
        ("[^0-9]", "matches no digit", 0),
        (".", "it matches no digits", 0),
    ],
)
def test_compile_rejects(text: str, fragment: str, position: int | None) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(text)
    assert fragment in str(caught.value)
    assert caught.value.position == position


def test_pattern_error_is_value_error() -> None:
    assert issubclass(PatternError, ValueError)


def test_match_count_fixed_and_variable() -> None:
    assert compile_pattern("1[3-5]XX").match_count() == 300
    assert compile_pattern("15!").match_count(4) == 100
    assert compile_pattern("15!").match_count(2) == 0
    assert compile_pattern("1X?").match_count(1) == 1
    assert compile_pattern("1X?").match_count(3) == 100


def test_match_count_ambiguous_pattern() -> None:
    # "1" matches X?1? as (X, none) and as (none, 1): it is still one string
    assert compile_pattern("X?1?").match_count(1) == 10


def test_match_count_needs_length() -> None:
    with pytest.raises(ValueError, match="variable length"):
        compile_pattern("1!").match_count()


def test_discard_split() -> None:
    assert compile_pattern("9.1XXX").discard_split("91234") == ("9", "1234")
    assert compile_pattern("9.1XXX").discard_split("81234") is None
    assert compile_pattern("1XXX").discard_split("1234") is None


# --- closest match --------------------------------------------------------


def test_closest_match_wins() -> None:
    analyzer = plan("1XXX", "12XX", "121X", "1234")
    assert winner(analyzer, "1200") == "12XX"
    assert winner(analyzer, "1212") == "121X"
    assert winner(analyzer, "1234") == "1234"
    assert winner(analyzer, "1999") == "1XXX"


def test_closest_match_at_dialled_length() -> None:
    analyzer = plan("15!", "1[3-5]XX")
    result = analyzer.analyze("1515")
    counts = {match.pattern.text: match.match_count for match in result.candidates}
    assert result.matched is not None
    assert result.matched.target == "15!"
    assert counts == {"15!": 100, "1[3-5]XX": 300}
    assert "300 strings of 4 digits" in result.loss_reason(result.candidates[1])


def test_plain_patterns_of_two_clusters() -> None:
    analyzer = plan("9898", "1018")
    assert winner(analyzer, "9898") == "9898"
    assert winner(analyzer, "1018") == "1018"
    assert analyzer.analyze("9899").matched is None
    assert analyzer.analyze("9899").candidates == ()


def test_partial_digits_could_match_more() -> None:
    result = plan("9898").analyze("98")
    assert result.matched is None
    assert result.could_match_more


def test_complete_match_needs_no_more() -> None:
    assert not plan("9898").analyze("9898").could_match_more


def test_overlap_could_match_more() -> None:
    result = plan("1234", "1234X").analyze("1234")
    assert result.matched is not None
    assert result.matched.target == "1234"
    assert result.could_match_more


def test_bang_matches_one_or_more() -> None:
    analyzer = plan("9!")
    assert analyzer.analyze("9").matched is None
    assert winner(analyzer, "91") == "9!"
    assert winner(analyzer, "9123456789") == "9!"
    assert analyzer.analyze("91").could_match_more


def test_question_mark_matches_zero_or_more() -> None:
    analyzer = plan("12X?")
    assert winner(analyzer, "12") == "12X?"
    assert winner(analyzer, "1234") == "12X?"
    assert analyzer.analyze("1").matched is None


def test_plus_repeats_previous_element() -> None:
    analyzer = plan("12+3")
    assert winner(analyzer, "123") == "12+3"
    assert winner(analyzer, "12223") == "12+3"
    assert analyzer.analyze("13").matched is None


def test_star_and_hash_are_literals() -> None:
    analyzer = plan("*67X#", "XXXX")
    assert winner(analyzer, "*671#") == "*67X#"
    assert analyzer.analyze("*6712").matched is None


def test_e164_plus() -> None:
    analyzer = plan("\\+4930XXXX", "!")
    assert winner(analyzer, "+49301234") == "\\+4930XXXX"
    assert winner(analyzer, "49301234") == "!"


# --- partitions and calling search spaces ---------------------------------


def partitioned() -> DigitAnalyzer[str]:
    return DigitAnalyzer.build(
        [
            RouteEntry("1XXX", "Internal", "internal-1XXX"),
            RouteEntry("1XXX", "Branch", "branch-1XXX"),
            RouteEntry("10XX", None, "none-10XX"),
            RouteEntry("2XXX", None, "none-2XXX"),
        ]
    )


def test_css_tie_goes_to_first_partition() -> None:
    analyzer = partitioned()
    assert winner(analyzer, "1234", ("Internal", "Branch")) == "internal-1XXX"
    assert winner(analyzer, "1234", ("Branch", "Internal")) == "branch-1XXX"


def test_unreachable_partition_is_ignored() -> None:
    analyzer = partitioned()
    assert analyzer.analyze("1234").matched is None
    assert winner(analyzer, "1234", ("Branch",)) == "branch-1XXX"


def test_none_partition_always_reachable() -> None:
    analyzer = partitioned()
    assert winner(analyzer, "2000", ("Internal",)) == "none-2XXX"
    # the closer pattern wins even though <None> is searched last
    assert winner(analyzer, "1000", ("Internal",)) == "none-10XX"


def test_css_tie_loss_reason_names_partition() -> None:
    result = partitioned().analyze("1234", ("Internal", "Branch"))
    loser = result.candidates[1]
    assert "partition Branch comes later" in result.loss_reason(loser)
    assert result.css == ("Internal", "Branch", None)


def test_could_match_more_respects_css() -> None:
    analyzer = DigitAnalyzer.build(
        [RouteEntry("12345", "Hidden", "x"), RouteEntry("123", None, "y")]
    )
    assert not analyzer.analyze("123").could_match_more
    assert analyzer.analyze("123", ("Hidden",)).could_match_more


def test_duplicate_pattern_in_partition_rejected() -> None:
    with pytest.raises(DuplicatePatternError, match="1XXX appears twice in partition <None>"):
        plan("1XXX", "1XXX")


def test_same_pattern_in_two_partitions_allowed() -> None:
    assert len(partitioned()) == 4


# --- agreement with a brute-force reference -------------------------------


def to_regex(text: str) -> str:
    """Translate a route pattern into a Python regex; test-only reference."""
    out = ""
    index = 0
    if text.startswith("\\+"):
        out, index = "\\+", 2
    while index < len(text):
        char = text[index]
        if char == "[":
            close = text.index("]", index)
            out += "[" + text[index + 1 : close] + "]"
            index = close + 1
            continue
        out += {"X": "[0-9]", "!": "[0-9]+", "?": "*", "+": "+", ".": "", "*": "\\*"}.get(
            char, char
        )
        index += 1
    return out


def brute_force(
    entries: list[RouteEntry[int]], digits: str, css: tuple[str | None, ...]
) -> tuple[str, str | None] | None:
    order = list(dict.fromkeys([*css, None]))
    best: tuple[int, int, str, str | None] | None = None
    for entry in entries:
        if entry.partition not in order or not re.fullmatch(to_regex(entry.pattern), digits):
            continue
        count = sum(
            1
            for number in range(10 ** len(digits))
            if re.fullmatch(to_regex(entry.pattern), str(number).zfill(len(digits)))
        )
        key = (count, order.index(entry.partition), entry.pattern, entry.partition)
        if best is None or key < best:
            best = key
    return None if best is None else (best[2], best[3])


element_text = st.one_of(
    st.sampled_from("0123X"),
    st.sampled_from(["[1-2]", "[^0]", "[02]"]),
)


@st.composite
def pattern_texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(element_text, min_size=1, max_size=4))
    text = ""
    for part in parts:
        text += part + draw(st.sampled_from(["", "", "", "?", "+"]))
    if draw(st.booleans()) and draw(st.booleans()):
        text += "!"
    return text


@settings(max_examples=150, deadline=None)
@given(
    patterns=st.lists(
        st.tuples(pattern_texts(), st.sampled_from([None, "A", "B"])),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    digits=st.text(alphabet="01234", min_size=1, max_size=4),
    css=st.sampled_from([(None,), ("A",), ("B", "A"), ("A", "B")]),
)
def test_analyzer_matches_brute_force(
    patterns: list[tuple[str, str | None]], digits: str, css: tuple[str | None, ...]
) -> None:
    entries = [
        RouteEntry(text, partition, index) for index, (text, partition) in enumerate(patterns)
    ]
    result = DigitAnalyzer.build(entries).analyze(digits, css)
    expected = brute_force(entries, digits, css)
    got = (
        None if result.matched is None else (result.matched.pattern.text, result.matched.partition)
    )
    assert got == expected


def test_literal_and_repeated_literal_coexist() -> None:
    analyzer = plan("0", "0+")
    result = analyzer.analyze("0")
    assert [match.pattern.text for match in result.candidates] == ["0", "0+"]
    assert winner(analyzer, "00") == "0+"


def longer_strings(max_length: int) -> list[str]:
    """Return every non-empty string over 0-3 of at most ``max_length`` characters."""
    layer = [""]
    found: list[str] = []
    for _length in range(max_length):
        layer = [text + char for text in layer for char in "0123"]
        found += layer
    return found


# every set the pattern strategy draws contains one of 0-3, so these strings stand for all
LONGER = longer_strings(5)


@settings(max_examples=100, deadline=None)
@given(
    patterns=st.lists(
        st.tuples(pattern_texts(), st.sampled_from([None, "A"])), min_size=1, max_size=6
    ),
    digits=st.text(alphabet="0123", min_size=0, max_size=3),
    css=st.sampled_from([(None,), ("A",)]),
)
def test_could_match_more_matches_brute_force(
    patterns: list[tuple[str, str | None]], digits: str, css: tuple[str | None, ...]
) -> None:
    unique = list(dict.fromkeys(patterns))
    entries = [RouteEntry(text, partition, index) for index, (text, partition) in enumerate(unique)]
    result = DigitAnalyzer.build(entries).analyze(digits, css)
    reachable = [entry for entry in entries if entry.partition in (*css, None)]
    # a pattern has at most 5 elements, so 5 more characters reach any longer match
    expected = any(
        re.fullmatch(to_regex(entry.pattern), digits + extra)
        for entry in reachable
        for extra in LONGER
    )
    assert result.could_match_more == expected


@settings(max_examples=200, deadline=None)
@given(text=pattern_texts(), length=st.integers(min_value=1, max_value=5))
def test_match_count_matches_enumeration(text: str, length: int) -> None:
    regex = re.compile(to_regex(text))
    expected = sum(1 for number in range(10**length) if regex.fullmatch(str(number).zfill(length)))
    assert compile_pattern(text).match_count(length) == expected
