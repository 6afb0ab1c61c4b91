"""Digit analysis: route patterns with call-manager wildcards, closest match.

A pattern is compiled into a list of elements, each a set of characters with a
repeat range. All patterns of a dial plan are then merged into one trie whose
edges are those elements, so patterns that share a prefix share nodes. A lookup
walks the trie once, digit by digit, and keeps the set of live nodes, as a
non-deterministic automaton would. Each set of live nodes becomes a
state of a deterministic automaton, built on first use and cached, so a lookup
along a path already taken costs one dictionary access per digit.

No library offers call-manager pattern semantics (closest match by the number
of matched strings, partitions and calling search spaces), which is why this
module is written by hand. It is pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from tlstrunk.i18n import _

__all__ = [
    "ALPHABET",
    "AnalysisResult",
    "DigitAnalyzer",
    "DuplicatePatternError",
    "Element",
    "Pattern",
    "PatternError",
    "Repeat",
    "RouteEntry",
    "RouteMatch",
    "compile_pattern",
]

DIGITS = frozenset("0123456789")
#: Every character a dialled string may contain.
ALPHABET = frozenset("0123456789*#+")
_LITERALS = frozenset("0123456789*#")
_ALLOWED_TEXT = "0-9, *, #, X, !, [ ], ?, +, . and a leading \\+"

T = TypeVar("T", bound=Hashable)


class PatternError(ValueError):
    """A route pattern that cannot be compiled; ``position`` is 0-based."""

    def __init__(self, message: str, pattern: str, position: int | None = None) -> None:
        super().__init__(message)
        self.pattern = pattern
        self.position = position


class DuplicatePatternError(ValueError):
    """Two entries with the same pattern text in the same partition."""


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


# --- the analyzer ---------------------------------------------------------


@dataclass(frozen=True)
class RouteEntry(Generic[T]):
    """One pattern of the dial plan: where digits matching ``pattern`` go.

    ``partition`` ``None`` is the "<None>" partition, which every calling
    search space reaches after its own partitions.
    """

    pattern: str
    partition: str | None
    target: T
    description: str = ""


@dataclass(frozen=True)
class RouteMatch(Generic[T]):
    """A pattern that matched the dialled digits, with its closeness measures."""

    pattern: Pattern
    partition: str | None
    target: T
    match_count: int
    #: Position of ``partition`` in the calling search space used (0 is first).
    css_rank: int
    description: str = ""

    @property
    def sort_key(self) -> tuple[int, int, str]:
        # the last key only makes the order deterministic between equal patterns
        return (self.match_count, self.css_rank, self.pattern.text)


@dataclass(frozen=True)
class AnalysisResult(Generic[T]):
    """The outcome of analysing one dialled string."""

    digits: str
    css: tuple[str | None, ...]
    #: The closest match, or ``None`` when no reachable pattern matches.
    matched: RouteMatch[T] | None
    #: Every reachable pattern that matched, closest first (``matched`` included).
    candidates: tuple[RouteMatch[T], ...]
    #: Whether a longer dialled string could still match a reachable pattern.
    could_match_more: bool

    def loss_reason(self, candidate: RouteMatch[T]) -> str:
        """Explain why ``candidate`` lost to ``matched``, in one sentence."""
        winner = self.matched
        if winner is None or candidate is winner:
            return ""
        if candidate.match_count > winner.match_count:
            return _(
                "It matches {count} strings of {length} digits, more than the {best} of {winner}."
            ).format(
                count=candidate.match_count,
                length=len(self.digits),
                best=winner.match_count,
                winner=winner.pattern.text,
            )
        if candidate.css_rank > winner.css_rank:
            return _(
                "It matches as many strings as {winner}, but its partition {partition} comes "
                "later in the calling search space."
            ).format(winner=winner.pattern.text, partition=partition_label(candidate.partition))
        return _(
            "It ties with {winner} in closeness and partition; the pattern that sorts first wins."
        ).format(winner=winner.pattern.text)


def partition_label(partition: str | None) -> str:
    """Return the display name of a partition, "<None>" for no partition."""
    return "<None>" if partition is None else partition


class _Node:
    """A trie node: the state after matching a prefix of elements."""

    __slots__ = (
        "closure",
        "epsilon",
        "literal",
        "loop",
        "moves",
        "partitions_below",
        "terminals",
        "wild",
    )

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.wild: list[tuple[frozenset[str], _Node]] = []
        self.epsilon: list[_Node] = []
        # characters that keep the automaton here, for a node reached by a repeat
        self.loop: frozenset[str] | None = None
        self.terminals: list[tuple[Pattern, RouteEntry[Any]]] = []
        self.closure: tuple[_Node, ...] = ()
        self.partitions_below: frozenset[str | None] = frozenset()
        # nodes reached on each character, filled in on first use
        self.moves: dict[str, tuple[_Node, ...]] = {}


class DigitAnalyzer(Generic[T]):
    """An immutable dial plan compiled into a trie; build it with ``build``."""

    def __init__(self, root: _Node, entries: tuple[RouteEntry[T], ...]) -> None:
        self._root = root
        self._entries = entries
        self._reset_cache()

    @classmethod
    def build(cls, entries: Iterable[RouteEntry[T]]) -> DigitAnalyzer[T]:
        """Compile every entry's pattern and merge them into one trie.

        Raises:
            PatternError: a pattern is malformed.
            DuplicatePatternError: two entries share pattern text and partition.
        """
        # the trie is hundreds of thousands of small objects that all stay alive, so
        # generational garbage collection during the build only costs time
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls._build(entries)
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def _build(cls, entries: Iterable[RouteEntry[T]]) -> DigitAnalyzer[T]:
        root = _Node()
        nodes = [root]
        children: dict[tuple[int, Element], _Node] = {}
        seen: set[tuple[str, str | None]] = set()
        accepted: list[RouteEntry[T]] = []
        for entry in entries:
            key = (entry.pattern, entry.partition)
            if key in seen:
                raise DuplicatePatternError(
                    _(
                        "Pattern {pattern} appears twice in partition {partition}; "
                        "remove one of them or move it to another partition."
                    ).format(pattern=entry.pattern, partition=partition_label(entry.partition))
                )
            seen.add(key)
            accepted.append(entry)
            pattern = compile_pattern(entry.pattern)
            node = root
            for element in pattern.elements:
                child = children.get((id(node), element))
                if child is None:
                    child = _Node()
                    _link(node, element, child)
                    children[(id(node), element)] = child
                    nodes.append(child)
                node = child
            node.terminals.append((pattern, entry))
        _finalize(nodes)
        return cls(root, tuple(accepted))

    @property
    def entries(self) -> tuple[RouteEntry[T], ...]:
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def analyze(self, digits: str, css: Sequence[str | None] = (None,)) -> AnalysisResult[T]:
        """Find the closest pattern for ``digits`` among the partitions of ``css``.

        ``css`` lists partition names in search order; the "<None>" partition
        (``None``) is searched last unless it appears in the list already.
        """
        ranks = _css_ranks(css)
        state = self._walk(digits)
        candidates: list[RouteMatch[T]] = []
        for pattern, entry in state.terminals:
            rank = ranks.get(entry.partition)
            if rank is not None:
                candidates.append(
                    RouteMatch(
                        pattern=pattern,
                        partition=entry.partition,
                        target=entry.target,
                        match_count=pattern.match_count(len(digits)),
                        css_rank=rank,
                        description=entry.description,
                    )
                )
        candidates.sort(key=lambda match: match.sort_key)
        reachable = tuple(ranks)
        more = state.could_match_more.get(reachable)
        if more is None:
            more = _could_match_more(state.nodes, reachable)
            state.could_match_more[reachable] = more
        return AnalysisResult(
            digits=digits,
            css=reachable,
            matched=candidates[0] if candidates else None,
            candidates=tuple(candidates),
            could_match_more=more,
        )

    # --- the lazily built deterministic automaton ---------------------------

    def _walk(self, digits: str) -> _State:
        state = self._start
        for char in digits:
            following = state.transitions.get(char)
            if following is None:
                following = self._advance(state, char)
            state = following
        return state

    def _advance(self, state: _State, char: str) -> _State:
        nodes = frozenset(_step(state.nodes, char))
        found = self._states.get(nodes)
        if found is None:
            if self._cached_nodes + len(nodes) > _CACHE_NODE_BUDGET:
                self._reset_cache()
            found = _State(nodes)
            self._states[nodes] = found
            self._cached_nodes += len(nodes)
        state.transitions[char] = found
        return found

    def _reset_cache(self) -> None:
        start = _State(frozenset(self._root.closure))
        self._states: dict[frozenset[_Node], _State] = {start.nodes: start}
        self._cached_nodes = len(start.nodes)
        self._start = start


#: Most trie nodes that the cached automaton states may list in total before
#: the cache is dropped; about 8 bytes of memory each, plus set overhead.
# NOTE: the budget is an estimate. No measured dial plan has filled it yet,
# so the cost of dropping and rebuilding the cache is unknown.
_CACHE_NODE_BUDGET = 2_000_000


class _State:
    """A set of live trie nodes, one state of the deterministic automaton.

    States are built on first use and cached, so repeated lookups cost one
    dictionary access per digit. The cache is the analyzer's only mutable
    part. Concurrent lookups may build a state twice, which is harmless.
    """

    __slots__ = ("could_match_more", "nodes", "terminals", "transitions")

    def __init__(self, nodes: frozenset[_Node]) -> None:
        self.nodes = nodes
        self.transitions: dict[str, _State] = {}
        self.terminals: tuple[tuple[Pattern, RouteEntry[Any]], ...] = tuple(
            terminal for node in nodes for terminal in node.terminals
        )
        self.could_match_more: dict[tuple[str | None, ...], bool] = {}


def _link(parent: _Node, element: Element, child: _Node) -> None:
    if element.repeat is not Repeat.ONE:
        child.loop = element.chars
    if element.repeat is Repeat.ZERO_OR_MORE:
        parent.epsilon.append(child)
    elif len(element.chars) == 1 and element.repeat is Repeat.ONE:
        (char,) = element.chars
        parent.literal[char] = child
    else:
        parent.wild.append((element.chars, child))


def _finalize(nodes: list[_Node]) -> None:
    # a child is always created after its parent, so walking backwards visits children first
    for node in reversed(nodes):
        closure = dict.fromkeys([node])
        below: set[str | None] = {entry.partition for _pattern, entry in node.terminals}
        for child in node.epsilon:
            closure.update(dict.fromkeys(child.closure))
        for child in _children(node):
            below |= child.partitions_below
        node.closure = tuple(closure)
        node.partitions_below = frozenset(below)


def _children(node: _Node) -> list[_Node]:
    return [*node.literal.values(), *(child for _chars, child in node.wild), *node.epsilon]


def _step(active: Iterable[_Node], char: str) -> set[_Node]:
    following: set[_Node] = set()
    for node in active:
        moves = node.moves.get(char)
        if moves is None:
            moves = _moves(node, char)
            node.moves[char] = moves
        following.update(moves)
    return following


def _moves(node: _Node, char: str) -> tuple[_Node, ...]:
    """Return the nodes (with their closures) that ``node`` reaches on ``char``."""
    reached: dict[_Node, None] = {}
    if node.loop is not None and char in node.loop:
        reached.update(dict.fromkeys(node.closure))
    child = node.literal.get(char)
    if child is not None:
        reached.update(dict.fromkeys(child.closure))
    for chars, wild_child in node.wild:
        if char in chars:
            reached.update(dict.fromkeys(wild_child.closure))
    return tuple(reached)


def _css_ranks(css: Sequence[str | None]) -> dict[str | None, int]:
    ranks: dict[str | None, int] = {}
    for partition in css:
        ranks.setdefault(partition, len(ranks))
    ranks.setdefault(None, len(ranks))
    return ranks


def _could_match_more(active: Iterable[_Node], reachable: Iterable[str | None]) -> bool:
    reachable_set = frozenset(reachable)
    for node in active:
        if node.loop is not None and node.partitions_below & reachable_set:
            return True
        for child in _children(node):
            if child.partitions_below & reachable_set:
                return True
    return False
