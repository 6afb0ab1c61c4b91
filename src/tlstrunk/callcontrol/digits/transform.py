"""Called-party transformations of a route pattern: discard digits, mask, prefix.

They run in the order a call manager applies them: first the discard
instruction removes digits, then the called party transform mask rewrites what
is left, then the prefix digits are prepended. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tlstrunk.callcontrol.digits.patterns import Pattern
from tlstrunk.i18n import _

__all__ = [
    "CalledPartyTransform",
    "DiscardDigits",
    "apply_transform",
    "check_mask",
    "check_prefix_digits",
]

_PREFIX_CHARS = frozenset("0123456789*#+")
_MASK_CHARS = frozenset("0123456789*#+X")


class DiscardDigits(StrEnum):
    """The discard instruction: the dialled digits a route pattern removes."""

    NONE = "None"
    #: Remove the digits that match the elements before the pattern's ``.``.
    PRE_DOT = "PreDot"


@dataclass(frozen=True)
class CalledPartyTransform:
    """The called-party settings of one route pattern; the defaults change nothing."""

    discard_digits: DiscardDigits = DiscardDigits.NONE
    prefix_digits: str = ""
    #: Right-aligned mask: ``X`` keeps the dialled digit at that place, any other
    #: character replaces it. Empty means no mask.
    called_party_mask: str = ""

    @property
    def is_identity(self) -> bool:
        return (
            self.discard_digits is DiscardDigits.NONE
            and not self.prefix_digits
            and not self.called_party_mask
        )


def apply_transform(transform: CalledPartyTransform, pattern: Pattern, digits: str) -> str:
    """Return ``digits`` after discard, mask and prefix, in that order.

    ``digits`` must match ``pattern``. With ``PreDot`` on a pattern that has no
    ``.``, nothing is discarded.
    """
    called = digits
    if transform.discard_digits is DiscardDigits.PRE_DOT:
        split = pattern.discard_split(digits)
        if split is not None:
            called = split[1]
    if transform.called_party_mask:
        called = apply_mask(transform.called_party_mask, called)
    return transform.prefix_digits + called


def apply_mask(mask: str, digits: str) -> str:
    """Apply a right-aligned transform mask to ``digits``.

    Each ``X`` takes the dialled digit at the same place counted from the right,
    and any other mask character replaces it. Dialled digits to the left of the
    mask are dropped, and an ``X`` to the left of the dialled digits yields nothing.
    """
    out: list[str] = []
    source = len(digits) - 1
    for char in reversed(mask):
        if char == "X":
            if source >= 0:
                out.append(digits[source])
        else:
            out.append(char)
        source -= 1
    return "".join(reversed(out))


def check_prefix_digits(text: str) -> None:
    """Reject prefix digits with characters a called number cannot contain.

    Raises:
        ValueError: the message names the character and the allowed ones.
    """
    for position, char in enumerate(text, start=1):
        if char not in _PREFIX_CHARS:
            raise ValueError(
                _(
                    "Prefix digits {text!r} contain {char!r} at position {pos}; use only "
                    "0-9, *, # and +."
                ).format(text=text, char=char, pos=position)
            )


def check_mask(text: str) -> None:
    """Reject a called party transform mask with characters other than digits, X, *, #, +.

    Raises:
        ValueError: the message names the character and the allowed ones.
    """
    for position, char in enumerate(text, start=1):
        if char not in _MASK_CHARS:
            raise ValueError(
                _(
                    "Called party transform mask {text!r} contains {char!r} at position "
                    "{pos}; use only 0-9, X, *, # and +, for example 972XXXX."
                ).format(text=text, char=char, pos=position)
            )
