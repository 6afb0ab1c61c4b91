"""Route patterns: compiling call-manager wildcards and counting what a pattern matches.

No library offers call-manager pattern semantics, which is why this module is
written by hand. It is pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from tlstrunk.i18n import _

__all__ = [
    "ALPHABET",
    "DIGITS",
    "Element",
    "Pattern",
    "PatternError",
    "Repeat",
    "compile_pattern",
]

DIGITS = frozenset("0123456789")
#: Every character a dialled string may contain.
ALPHABET = frozenset("0123456789*#+")
_LITERALS = frozenset("0123456789*#")
_ALLOWED_TEXT = "0-9, *, #, X, !, [ ], ?, +, . and a leading \\+"


class PatternError(ValueError):
    """A route pattern that cannot be compiled; ``position`` is 0-based."""

    def __init__(self, message: str, pattern: str, position: int | None = None) -> None:
        super().__init__(message)
        self.pattern = pattern
        self.position = position


class Repeat(Enum):
    """How many times an element matches."""

    ONE = "one"
    ONE_OR_MORE = "one or more"
    ZERO_OR_MORE = "zero or more"


@dataclass(frozen=True)
class Element:
    """One position of a pattern: a character set and how often it repeats."""

    chars: frozenset[str]
    repeat: Repeat = Repeat.ONE


@dataclass(frozen=True)
class Pattern:
    """A compiled route pattern.

    ``discard_index`` is the number of elements before the ``.`` marker, or
    ``None`` when the pattern has no marker.
    """

    text: str
    elements: tuple[Element, ...] = field(repr=False)
    discard_index: int | None = field(default=None, repr=False)
    _count_cache: dict[int, int] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def is_fixed_length(self) -> bool:
        return all(e.repeat is Repeat.ONE for e in self.elements)

    @property
    def min_length(self) -> int:
        return sum(1 for e in self.elements if e.repeat is not Repeat.ZERO_OR_MORE)

    def match_count(self, length: int | None = None) -> int:
        """Count the distinct strings of ``length`` characters this pattern matches.

        ``length`` may be omitted for a fixed-length pattern, whose own length
        is then used. This is the "closest match" measure: fewer is closer.
        """
        if length is None:
            if not self.is_fixed_length:
                raise ValueError(
                    _("Pattern {text} has a variable length; pass the dialled length.").format(
                        text=self.text
                    )
                )
            length = len(self.elements)
        cached = self._count_cache.get(length)
        if cached is None:
            cached = self._count(length)
            self._count_cache[length] = cached
        return cached

    def _count(self, length: int) -> int:
        repeated = [e for e in self.elements if e.repeat is not Repeat.ONE]
        if len(repeated) > 1:
            return _count_by_subsets(self.elements, length)
        # with at most one repeated element the length fixes how many characters it
        # takes, so each string has exactly one decomposition and a product counts them
        product = 1
        for element in self.elements:
            if element.repeat is Repeat.ONE:
                product *= len(element.chars)
        spare = length - (len(self.elements) - len(repeated))
        if not repeated:
            return product if spare == 0 else 0
        (element,) = repeated
        if spare < 0 or (spare == 0 and element.repeat is Repeat.ONE_OR_MORE):
            return 0
        return product * int(len(element.chars) ** spare)

    def matches(self, digits: str) -> bool:
        """Return whether the whole of ``digits`` matches this pattern."""
        return _match_positions(self.elements, digits) is not None

    def discard_split(self, digits: str) -> tuple[str, str] | None:
        """Split matched ``digits`` at the ``.`` marker into (before, after).

        Returns ``None`` when the digits do not match or the pattern has no
        marker. Where repeats make the split ambiguous, the earliest split wins.
        """
        if self.discard_index is None:
            return None
        ends = _match_positions(self.elements, digits)
        if ends is None:
            return None
        cut = 0 if self.discard_index == 0 else ends[self.discard_index - 1]
        return digits[:cut], digits[cut:]


def _match_positions(elements: Sequence[Element], digits: str) -> list[int] | None:
    """Return the end offset of each element for one full match, or ``None``."""
    memo: dict[tuple[int, int], list[int] | None] = {}

    def walk(index: int, offset: int) -> list[int] | None:
        if index == len(elements):
            return [] if offset == len(digits) else None
        key = (index, offset)
        if key in memo:
            return memo[key]
        element = elements[index]
        low = 0 if element.repeat is Repeat.ZERO_OR_MORE else 1
        high = 1 if element.repeat is Repeat.ONE else len(digits) - offset
        result = None
        for consumed in range(low, high + 1):
            if consumed and (
                offset + consumed > len(digits)
                or digits[offset + consumed - 1] not in element.chars
            ):
                break
            rest = walk(index + 1, offset + consumed)
            if rest is not None:
                result = [offset + consumed, *rest]
                break
        memo[key] = result
        return result

    return walk(0, 0)


def _count_by_subsets(elements: Sequence[Element], length: int) -> int:
    """Count strings of ``length`` accepted, determinizing the pattern's automaton.

    Summing over ways to split the length would count a string twice when the
    pattern is ambiguous (``X?1?`` matches "1" two ways), so the count walks
    sets of automaton states instead, which are deterministic. Characters that
    every element treats alike are counted together.
    """
    classes: dict[tuple[bool, ...], list[str]] = {}
    for char in sorted(ALPHABET):
        membership = tuple(char in element.chars for element in elements)
        if any(membership):
            classes.setdefault(membership, []).append(char)
    representatives = [(chars[0], len(chars)) for chars in classes.values()]
    transitions: dict[tuple[frozenset[int], str], frozenset[int]] = {}
    layer: dict[frozenset[int], int] = {_closure(elements, frozenset({0})): 1}
    for _step_index in range(length):
        following: dict[frozenset[int], int] = {}
        for states, ways in layer.items():
            for char, size in representatives:
                moved = transitions.get((states, char))
                if moved is None:
                    moved = _step_states(elements, states, char)
                    transitions[(states, char)] = moved
                if moved:
                    following[moved] = following.get(moved, 0) + ways * size
        layer = following
    return sum(ways for states, ways in layer.items() if len(elements) in states)


def _closure(elements: Sequence[Element], states: frozenset[int]) -> frozenset[int]:
    # state i means "elements before i are satisfied"; a zero-or-more element may be skipped
    result = set(states)
    for state in states:
        index = state
        while index < len(elements) and elements[index].repeat is Repeat.ZERO_OR_MORE:
            index += 1
            result.add(index)
    return frozenset(result)


def _step_states(elements: Sequence[Element], states: frozenset[int], char: str) -> frozenset[int]:
    moved: set[int] = set()
    for state in states:
        # a repeating element that was just matched may match again
        if (
            state > 0
            and elements[state - 1].repeat is not Repeat.ONE
            and (char in elements[state - 1].chars)
        ):
            moved.add(state)
        if state < len(elements) and char in elements[state].chars:
            moved.add(state + 1)
    return _closure(elements, frozenset(moved)) if moved else frozenset()


# --- compiling one pattern ------------------------------------------------


def compile_pattern(text: str) -> Pattern:
    """Compile a route pattern such as ``9.1[2-9]XXXXXX`` or ``\\+1!``.

    Raises:
        PatternError: the pattern is empty or malformed; the message names the
            fault, its character position (1-based) and the fix.
    """
    if not text:
        raise PatternError(
            _("A route pattern cannot be empty; enter digits or wildcards such as 1XXX."), text
        )
    elements: list[Element] = []
    discard_index: int | None = None
    position = 0
    if text.startswith("\\+"):
        elements.append(Element(frozenset("+")))
        position = 2
    while position < len(text):
        char = text[position]
        if char in _LITERALS:
            elements.append(Element(frozenset(char)))
        elif char == "X":
            elements.append(Element(DIGITS))
        elif char == "!":
            elements.append(Element(DIGITS, Repeat.ONE_OR_MORE))
        elif char == "[":
            chars, position = _parse_set(text, position)
            elements.append(Element(chars))
            continue
        elif char in "?+":
            _apply_repeat(text, position, elements)
        elif char == ".":
            if discard_index is not None:
                raise PatternError(
                    _(
                        "Invalid route pattern {text}: a second '.' at character {pos}; "
                        "a pattern has at most one discard marker."
                    ).format(text=text, pos=position + 1),
                    text,
                    position,
                )
            discard_index = len(elements)
        else:
            raise PatternError(
                _(
                    "Invalid route pattern {text}: character {char!r} at position {pos} is not "
                    "allowed; use {allowed}."
                ).format(text=text, char=char, pos=position + 1, allowed=_ALLOWED_TEXT),
                text,
                position,
            )
        position += 1
    if not elements:
        raise PatternError(
            _("Invalid route pattern {text}: it matches no digits; add digits or X.").format(
                text=text
            ),
            text,
            0,
        )
    return Pattern(text, tuple(elements), discard_index)


def _apply_repeat(text: str, position: int, elements: list[Element]) -> None:
    char = text[position]
    previous_is_dot = position > 0 and text[position - 1] == "."
    if not elements or elements[-1].repeat is not Repeat.ONE or previous_is_dot:
        raise PatternError(
            _(
                "Invalid route pattern {text}: {char!r} at character {pos} must follow a digit, "
                "X or a [ ] set that is not already repeated."
            ).format(text=text, char=char, pos=position + 1),
            text,
            position,
        )
    repeat = Repeat.ZERO_OR_MORE if char == "?" else Repeat.ONE_OR_MORE
    elements[-1] = Element(elements[-1].chars, repeat)


def _parse_set(text: str, start: int) -> tuple[frozenset[str], int]:
    """Parse ``[...]`` at ``start``; return its digits and the index after ``]``."""
    close = text.find("]", start + 1)
    if close < 0:
        raise PatternError(
            _(
                "Invalid route pattern {text}: the '[' at character {pos} is not closed; "
                "add ']' after the last digit of the set."
            ).format(text=text, pos=start + 1),
            text,
            start,
        )
    body = text[start + 1 : close]
    offset = start + 1

    negate = body.startswith("^")
    if negate:
        body = body[1:]
        offset += 1
    chars: set[str] = set()
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            chars |= _parse_range(text, body[index], body[index + 2], offset + index)
            index += 3
            continue
        char = body[index]
        if char not in DIGITS:
            raise PatternError(
                _(
                    "Invalid route pattern {text}: {char!r} at character {pos} is not a digit; "
                    "a [ ] set may contain only digits and ranges such as [2-5]."
                ).format(text=text, char=char, pos=offset + index + 1),
                text,
                offset + index,
            )
        chars.add(char)
        index += 1

    result = DIGITS - chars if negate else frozenset(chars)
    if not result:
        raise PatternError(
            _(
                "Invalid route pattern {text}: the set at character {pos} matches no digit; "
                "list at least one digit in it."
            ).format(text=text, pos=start + 1),
            text,
            start,
        )
    return frozenset(result), close + 1


def _parse_range(text: str, low: str, high: str, position: int) -> set[str]:
    if low not in DIGITS or high not in DIGITS:
        raise PatternError(
            _(
                "Invalid route pattern {text}: the range {low}-{high} at character {pos} is not "
                "between digits; a range goes from one digit to another, as in [2-5]."
            ).format(text=text, low=low, high=high, pos=position + 1),
            text,
            position,
        )
    if low > high:
        raise PatternError(
            _(
                "Invalid route pattern {text}: the range {low}-{high} at character {pos} runs "
                "backwards; write it from low to high, as [{high}-{low}]."
            ).format(text=text, low=low, high=high, pos=position + 1),
            text,
            position,
        )
    return {chr(code) for code in range(ord(low), ord(high) + 1)}
