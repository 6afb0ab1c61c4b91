"""The general dial plan trie, for patterns the length index cannot hold.

Patterns with a repeat (``?``, ``+`` or ``!``) anywhere but at their end are
merged into one trie whose edges are pattern elements, so patterns that share
a prefix share nodes. The analyzer keeps a second trie of the patterns that
end in a repeat, for dialled strings longer than the length index covers.

A lookup walks the trie once, digit by digit, and keeps the set of live
nodes, as a non-deterministic automaton would. Each set of live nodes becomes
a state of a deterministic automaton, built on first use and cached, so a
lookup along a path already taken costs one dictionary access per digit.
Real dial plans contain few such patterns, so the trie stays small.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tlstrunk.callcontrol.digits.patterns import Element, Pattern, Repeat


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
        self.terminals: list[tuple[Pattern, Any]] = []
        self.closure: tuple[_Node, ...] = ()
        self.partitions_below: frozenset[str | None] = frozenset()
        # nodes reached on each character, filled in on first use
        self.moves: dict[str, tuple[_Node, ...]] = {}


class GeneralTrie:
    """The trie of general patterns with its lazily built deterministic automaton."""

    def __init__(self, items: Iterable[tuple[Pattern, Any]]) -> None:
        root = _Node()
        nodes = [root]
        children: dict[tuple[int, Element], _Node] = {}
        for pattern, entry in items:
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
        self._root = root
        self.empty = len(nodes) == 1
        self._reset_cache()

    def terminals(self, digits: str) -> tuple[tuple[Pattern, Any], ...]:
        """Return the (pattern, entry) pairs that match the whole of ``digits``."""
        return self._walk(digits).terminals

    def could_match_more(self, digits: str, reachable: frozenset[str | None]) -> bool:
        """Return whether a pattern of a ``reachable`` partition matches a longer string."""
        state = self._walk(digits)
        more = state.could_match_more.get(reachable)
        if more is None:
            more = _could_match_more(state.nodes, reachable)
            state.could_match_more[reachable] = more
        return more

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
        self.terminals: tuple[tuple[Pattern, Any], ...] = tuple(
            terminal for node in nodes for terminal in node.terminals
        )
        self.could_match_more: dict[frozenset[str | None], bool] = {}


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


def _could_match_more(active: Iterable[_Node], reachable: Iterable[str | None]) -> bool:
    reachable_set = frozenset(reachable)
    for node in active:
        if node.loop is not None and node.partitions_below & reachable_set:
            return True
        for child in _children(node):
            if child.partitions_below & reachable_set:
                return True
    return False
