"""Closest-match digit analysis over a whole dial plan.

Patterns in which only the last element may repeat go into the length index,
which finds matches with a short tree walk and bit-mask ANDs and builds
nothing during lookups. The few others (``?`` or ``+`` inside a pattern) go
into the general trie. A lookup queries both and ranks what matched: the
pattern that matches the fewest strings of the dialled length wins, and a tie
goes to the partition that comes first in the calling search space.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from tlstrunk.callcontrol.digits._index import (
    EXPANDED_LENGTH,
    IndexedPattern,
    LengthIndex,
    is_indexable,
)
from tlstrunk.callcontrol.digits._trie import GeneralTrie
from tlstrunk.callcontrol.digits.patterns import Pattern, compile_pattern
from tlstrunk.callcontrol.digits.transform import CalledPartyTransform, apply_transform
from tlstrunk.i18n import _

__all__ = [
    "AnalysisResult",
    "DigitAnalyzer",
    "DuplicatePatternError",
    "RouteEntry",
    "RouteMatch",
    "partition_label",
    "transform_called",
]

T = TypeVar("T", bound=Hashable)

#: The called-party settings of an entry without any.
NO_TRANSFORM = CalledPartyTransform()


class DuplicatePatternError(ValueError):
    """Two entries with the same pattern text in the same partition."""


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
    transform: CalledPartyTransform = NO_TRANSFORM


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
    transform: CalledPartyTransform = NO_TRANSFORM

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
    #: Ranks the other candidates on first use; lookups on the call path skip it.
    candidates_probe: Callable[[], tuple[RouteMatch[T], ...]] = field(repr=False, compare=False)
    #: Computes ``could_match_more`` on first use; lookups on the call path skip it.
    more_probe: Callable[[], bool] = field(repr=False, compare=False)

    @cached_property
    def candidates(self) -> tuple[RouteMatch[T], ...]:
        """Every reachable pattern that matched, closest first (``matched`` included)."""
        return self.candidates_probe()

    @cached_property
    def could_match_more(self) -> bool:
        """Whether a longer dialled string could still match a reachable pattern."""
        return self.more_probe()

    @property
    def called(self) -> str | None:
        """The called number after the winner's transformations, or ``None`` without one."""
        if self.matched is None:
            return None
        return transform_called(self.matched, self.digits)

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


def transform_called(match: RouteMatch[T], digits: str) -> str:
    """Return the called number that leaves for ``match``'s target.

    Applies the route pattern's discard digits, then its called party transform
    mask, then its prefix digits. ``digits`` are the dialled digits ``match``
    was found for.
    """
    if match.transform.is_identity:
        return digits
    return apply_transform(match.transform, match.pattern, digits)


class DigitAnalyzer(Generic[T]):
    """An immutable, compiled dial plan; build it with ``build``.

    Lookups never change the length index. The general tries cache automaton
    states on first use, which concurrent lookups may build twice, harmlessly.
    """

    def __init__(
        self,
        index: LengthIndex,
        repeats: GeneralTrie,
        general: GeneralTrie,
        entries: tuple[RouteEntry[T], ...],
    ) -> None:
        self._index = index
        # the patterns of ``index`` that end in a repeat, for strings longer than it covers
        self._repeats = repeats
        self._trie = general
        self._entries = entries
        self._ranks: dict[tuple[str | None, ...], dict[str | None, int]] = {}

    @classmethod
    def build(cls, entries: Iterable[RouteEntry[T]]) -> DigitAnalyzer[T]:
        """Compile every entry's pattern into the length index or the general trie.

        Raises:
            PatternError: a pattern is malformed.
            DuplicatePatternError: two entries share pattern text and partition.
        """
        # a build allocates many objects that all stay alive, so generational
        # collection passes during it only cost time
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls._build(entries)
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def _build(cls, entries: Iterable[RouteEntry[T]]) -> DigitAnalyzer[T]:
        seen: set[tuple[str, str | None]] = set()
        accepted: list[RouteEntry[T]] = []
        indexed: list[tuple[Pattern, RouteEntry[T]]] = []
        general: list[tuple[Pattern, RouteEntry[T]]] = []
        compiled: dict[str, Pattern] = {}
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
            pattern = compiled.get(entry.pattern)
            if pattern is None:
                pattern = compiled[entry.pattern] = compile_pattern(entry.pattern)
            if is_indexable(pattern):
                indexed.append((pattern, entry))
            else:
                general.append((pattern, entry))
        repeats = [item for item in indexed if not item[0].is_fixed_length]
        return cls(
            LengthIndex(indexed), GeneralTrie(repeats), GeneralTrie(general), tuple(accepted)
        )

    @property
    def entries(self) -> tuple[RouteEntry[T], ...]:
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def analyze(self, digits: str, css: Sequence[str | None] = (None,)) -> AnalysisResult[T]:
        """Find the closest pattern for ``digits`` among the partitions of ``css``.

        ``css`` lists partition names in search order; the "<None>" partition
        (``None``) is searched last unless it appears in the list already. Only
        the winner is built here: the result ranks the other candidates and
        works out ``could_match_more`` when they are first read.
        """
        ranks = self._css_ranks(css)
        length = len(digits)
        closest = self._index.closest(digits, ranks)
        best: tuple[int, int, str] | None = None
        winner: tuple[Pattern, RouteEntry[T]] | None = None
        if closest is not None:
            best, item = closest
            winner = (item.pattern, item.entry)
        general = self._general_terminals(digits)
        for pattern, entry in general:
            rank = ranks.get(entry.partition)
            if rank is not None:
                key = (pattern.match_count(length), rank, pattern.text)
                if best is None or key < best:
                    best, winner = key, (pattern, entry)
        matched = None
        if winner is not None and best is not None:
            matched = _route_match(winner[0], winner[1], best[0], best[1])
        reachable = tuple(ranks)
        return AnalysisResult(
            digits,
            reachable,
            matched,
            lambda: _rank_candidates(self._index.hits(digits), general, ranks, length, matched),
            lambda: self.could_match_more(digits, reachable),
        )

    def could_match_more(self, digits: str, css: Sequence[str | None] = (None,)) -> bool:
        """Return whether a pattern reachable from ``css`` matches ``digits`` plus more."""
        reachable = frozenset(self._css_ranks(css))
        return (
            self._index.could_match_more(digits, reachable)
            or (not self._repeats.empty and self._repeats.could_match_more(digits, reachable))
            or (not self._trie.empty and self._trie.could_match_more(digits, reachable))
        )

    def _general_terminals(self, digits: str) -> tuple[tuple[Pattern, RouteEntry[T]], ...]:
        found: tuple[tuple[Pattern, RouteEntry[T]], ...] = ()
        if not self._trie.empty:
            found = self._trie.terminals(digits)
        if len(digits) > EXPANDED_LENGTH and not self._repeats.empty:
            found += self._repeats.terminals(digits)
        return found

    def _css_ranks(self, css: Sequence[str | None]) -> dict[str | None, int]:
        key = tuple(css)
        ranks = self._ranks.get(key)
        if ranks is None:
            ranks = {}
            for partition in key:
                ranks.setdefault(partition, len(ranks))
            ranks.setdefault(None, len(ranks))
            # NOTE: callers pass the calling search spaces of one configuration, so the
            # cache stays small; it is dropped whole if a caller floods it.
            if len(self._ranks) >= _RANKS_CACHE_SIZE:
                self._ranks.clear()
            self._ranks[key] = ranks
        return ranks


_RANKS_CACHE_SIZE = 1024


def _route_match(pattern: Pattern, entry: RouteEntry[T], count: int, rank: int) -> RouteMatch[T]:
    return RouteMatch(
        pattern, entry.partition, entry.target, count, rank, entry.description, entry.transform
    )


def _rank_candidates(
    hits: list[tuple[Any, int]],
    general: Iterable[tuple[Pattern, RouteEntry[T]]],
    ranks: dict[str | None, int],
    length: int,
    matched: RouteMatch[T] | None,
) -> tuple[RouteMatch[T], ...]:
    """Return every reachable match, closest first, reusing ``matched`` for the winner."""
    found: list[tuple[Pattern, RouteEntry[T]]] = list(general)
    for node, bits in hits:
        items: tuple[IndexedPattern, ...] = node.items
        while bits:
            low = bits & -bits
            bits ^= low
            item = items[low.bit_length() - 1]
            found.append((item.pattern, item.entry))
    candidates: list[RouteMatch[T]] = []
    for pattern, entry in found:
        rank = ranks.get(entry.partition)
        if rank is None:
            continue
        if (
            matched is not None
            and pattern is matched.pattern
            and entry.partition == matched.partition
        ):
            candidates.append(matched)
        else:
            candidates.append(_route_match(pattern, entry, pattern.match_count(length), rank))
    candidates.sort(key=lambda match: match.sort_key)
    return tuple(candidates)
