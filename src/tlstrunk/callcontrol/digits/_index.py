"""The length index: most route patterns, found without walking an automaton.

A pattern whose elements all match one character (``1212555XXXX``) matches
strings of one length only. A pattern whose last element repeats (``9.1!``)
is filed once per length up to ``EXPANDED_LENGTH``, as if the repeat were that
many single elements. For each length, the index builds a tree. A node with
more than ``NODE_SIZE`` patterns picks the position where most of them have a
literal character and moves those patterns into one child per character. The
patterns with a wildcard there stay in the node. A lookup walks one tree,
choosing a child by the dialled digit at each node's split position.

Each node holds its patterns as a bucket: for each remaining position, a bit
mask per character, where bit ``j`` is set when pattern ``j`` accepts that
character there. Matching a bucket ANDs one mask per dialled digit, so a bucket
of thousands of patterns that start with a wildcard costs a few integer
operations in C, not a Python loop. Nothing is built lazily, so the first
lookup of a string costs the same as later ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tlstrunk.callcontrol.digits.patterns import Element, Pattern, Repeat

__all__ = ["EXPANDED_LENGTH", "IndexedPattern", "LengthIndex", "is_indexable"]

#: Dialled lengths up to which a pattern ending in a repeat is filed per length.
#: E.164 numbers have at most 15 digits; this leaves room for access and
#: international prefixes. Longer dialled strings use the general trie.
EXPANDED_LENGTH = 24

#: Patterns a tree node keeps before it splits by a literal character.
NODE_SIZE = 64


class IndexedPattern:
    """One pattern in the length index."""

    __slots__ = ("entry", "partition", "pattern")

    def __init__(self, pattern: Pattern, entry: Any) -> None:
        self.pattern = pattern
        self.entry = entry
        self.partition: str | None = entry.partition


def is_indexable(pattern: Pattern) -> bool:
    """Return whether only the last element of ``pattern``, if any, repeats."""
    return all(element.repeat is Repeat.ONE for element in pattern.elements[:-1])


def _expansions(pattern: Pattern) -> Iterable[tuple[tuple[Element, ...], int]]:
    """Yield the single-element forms of ``pattern`` with the strings each matches."""
    elements = pattern.elements
    last = elements[-1]
    fixed = 1
    for element in elements:
        if element.repeat is Repeat.ONE:
            fixed *= len(element.chars)
    if last.repeat is Repeat.ONE:
        yield elements, fixed
        return
    head = elements[:-1]
    single = Element(last.chars)
    fewest = 1 if last.repeat is Repeat.ONE_OR_MORE else 0
    for times in range(fewest, EXPANDED_LENGTH - len(head) + 1):
        yield head + (single,) * times, fixed * len(last.chars) ** times


#: Patterns of one node: each with its single-element form and match count.
_Members = list[tuple[tuple[Element, ...], IndexedPattern, int]]


class _Node:
    """A tree node for one length: patterns matched from position ``start`` on.

    The walk checks the literal characters on the path to a node, and a split at
    the first unchecked position moves ``start`` on. A node with more than
    ``NODE_SIZE`` patterns splits on the position ``split`` where most of them
    have a literal character. The patterns with a wildcard there stay.
    """

    __slots__ = (
        "below",
        "children",
        "counts",
        "full",
        "items",
        "masks",
        "partition_masks",
        "split",
        "start",
    )

    def __init__(
        self, members: _Members, start: int, checked: frozenset[int] = frozenset()
    ) -> None:
        self.start = start
        self.split = -1
        self.children: dict[str, _Node] = {}
        if len(members) > NODE_SIZE:
            members = self._split(members, checked)
        # ordered by the number of strings matched, so a search for the closest
        # pattern can stop at the first bit whose count is too high
        members.sort(key=lambda member: (member[2], member[1].pattern.text))
        self.items = tuple(item for _elements, item, _count in members)
        self.counts = tuple(count for _elements, _item, count in members)
        self.full = (1 << len(members)) - 1
        width = len(members[0][0]) if members else 0
        self.masks = tuple(
            _position_masks([elements[i] for elements, _item, _count in members])
            for i in range(start, width)
        )
        groups: dict[str | None, list[int]] = {}
        for index, item in enumerate(self.items):
            groups.setdefault(item.partition, []).append(index)
        self.partition_masks = {
            partition: _bits(indices, len(members)) for partition, indices in groups.items()
        }
        #: Partitions of the patterns in the children's subtrees.
        self.below: frozenset[str | None] = frozenset().union(
            *(child.below | child.partition_masks.keys() for child in self.children.values())
        )

    def _split(self, members: _Members, checked: frozenset[int]) -> _Members:
        # ``checked`` lists the positions that splits above this node already decided
        width = len(members[0][0])
        literal_counts = [0] * width
        for elements, _item, _count in members:
            for position in range(self.start, width):
                if position not in checked and len(elements[position].chars) == 1:
                    literal_counts[position] += 1
        split = max(range(width), key=lambda position: (literal_counts[position], -position))
        if literal_counts[split] == 0:
            return members
        self.split = split
        kept: _Members = []
        by_char: dict[str, _Members] = {}
        for member in members:
            chars = member[0][split].chars
            if len(chars) == 1:
                (char,) = chars
                by_char.setdefault(char, []).append(member)
            else:
                kept.append(member)
        # the walk checks the split character, so a split at ``start`` moves it on
        child_start = self.start + 1 if split == self.start else self.start
        child_checked = checked | {split}
        for char, group in by_char.items():
            self.children[char] = _Node(group, child_start, child_checked)
        return kept

    def match(self, text: str) -> int:
        """Return the bits of the patterns that accept ``text`` from ``start`` on.

        ``text`` may be shorter than the patterns: then only its characters count.
        """
        accepted = self.full
        for masks, char in zip(self.masks, text[self.start :], strict=False):
            accepted &= masks.get(char, 0)
            if not accepted:
                return 0
        return accepted

    def reachable_bits(self, reachable: Iterable[str | None]) -> int:
        bits = 0
        for partition in reachable:
            bits |= self.partition_masks.get(partition, 0)
        return bits


def _bits(indices: Iterable[int], size: int) -> int:
    # setting bits in a byte buffer and converting once avoids quadratic big-int ORs
    buffer = bytearray(size // 8 + 1)
    for index in indices:
        buffer[index >> 3] |= 1 << (index & 7)
    return int.from_bytes(buffer, "little")


def _position_masks(elements: list[Element]) -> dict[str, int]:
    by_chars: dict[frozenset[str], list[int]] = {}
    for index, element in enumerate(elements):
        by_chars.setdefault(element.chars, []).append(index)
    masks: dict[str, int] = {}
    for chars, indices in by_chars.items():
        bits = _bits(indices, len(elements))
        for char in chars:
            masks[char] = masks.get(char, 0) | bits
    return masks


class LengthIndex:
    """Patterns in which only the last element may repeat, one tree per dialled length."""

    def __init__(self, patterns: Iterable[tuple[Pattern, Any]]) -> None:
        by_length: dict[int, _Members] = {}
        for pattern, entry in patterns:
            if not is_indexable(pattern):
                raise ValueError(f"pattern {pattern.text} has a repeat before its end")
            item = IndexedPattern(pattern, entry)
            for elements, count in _expansions(pattern):
                by_length.setdefault(len(elements), []).append((elements, item, count))
        self._trees = {length: _Node(members, 0) for length, members in by_length.items()}
        self._lengths = sorted(self._trees)

    def _path(self, digits: str) -> list[_Node]:
        """Return the nodes along ``digits`` in the tree for its length."""
        path: list[_Node] = []
        node = self._trees.get(len(digits))
        while node is not None:
            path.append(node)
            if node.split < 0:
                break
            node = node.children.get(digits[node.split])
        return path

    def hits(self, digits: str) -> list[tuple[_Node, int]]:
        """Return (node, bits) for every node with patterns matching the whole of ``digits``."""
        found = []
        for node in self._path(digits):
            if node.items:
                bits = node.match(digits)
                if bits:
                    found.append((node, bits))
        return found

    def closest(
        self, digits: str, ranks: dict[str | None, int]
    ) -> tuple[tuple[int, int, str], IndexedPattern] | None:
        """Return the closest reachable pattern for ``digits`` with its sort key.

        The key is (strings matched, partition rank, pattern text), and ``ranks``
        maps each reachable partition to its rank. A node whose closest pattern
        matches more strings than the best so far is skipped without matching.
        """
        best: tuple[int, int, str] | None = None
        winner: IndexedPattern | None = None
        # deeper nodes have more literal characters and tend to match fewer strings,
        # so visiting them first lets the count test skip the shallower ones
        for node in reversed(self._path(digits)):
            counts = node.counts
            if not counts or (best is not None and counts[0] > best[0]):
                continue
            bits = node.full
            for masks, char in zip(node.masks, digits[node.start :], strict=False):
                bits &= masks.get(char, 0)
                if not bits:
                    break
            items = node.items
            while bits:
                low = bits & -bits
                bits ^= low
                position = low.bit_length() - 1
                count = counts[position]
                if best is not None and count > best[0]:
                    # members are ordered by count, so no later bit can do better
                    break
                item = items[position]
                rank = ranks.get(item.partition)
                if rank is None:
                    continue
                key = (count, rank, item.pattern.text)
                if best is None or key < best:
                    best, winner = key, item
        if best is None or winner is None:
            return None
        return best, winner

    def could_match_more(self, digits: str, reachable: frozenset[str | None]) -> bool:
        """Return whether a pattern of a ``reachable`` partition matches a longer string.

        Patterns ending in a repeat are filed up to ``EXPANDED_LENGTH`` only, so
        the caller asks the general trie about longer strings.
        """
        return any(
            _extends(self._trees[length], digits, reachable)
            for length in self._lengths
            if length > len(digits)
        )


def _extends(node: _Node, digits: str, reachable: frozenset[str | None]) -> bool:
    """Return whether a pattern under ``node`` accepts ``digits`` in its first positions."""
    if node.items and node.match(digits) & node.reachable_bits(reachable):
        return True
    if node.split < 0 or node.below.isdisjoint(reachable):
        return False
    if node.split < len(digits):
        child = node.children.get(digits[node.split])
        return child is not None and _extends(child, digits, reachable)
    # the split position lies past the digits, so any child may still match
    return any(_extends(child, digits, reachable) for child in node.children.values())
