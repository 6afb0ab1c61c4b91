"""Digit analysis: route patterns with call-manager wildcards, closest match.

``patterns`` compiles one pattern, ``analyzer`` ranks the patterns of a whole
dial plan for dialled digits, and ``transform`` rewrites the called number as a
route pattern's called-party settings specify.
"""

from tlstrunk.callcontrol.digits.analyzer import (
    AnalysisResult,
    DigitAnalyzer,
    DuplicatePatternError,
    RouteEntry,
    RouteMatch,
    partition_label,
    transform_called,
)
from tlstrunk.callcontrol.digits.patterns import (
    ALPHABET,
    DIGITS,
    Element,
    Pattern,
    PatternError,
    Repeat,
    compile_pattern,
)
from tlstrunk.callcontrol.digits.transform import CalledPartyTransform, DiscardDigits

__all__ = [
    "ALPHABET",
    "DIGITS",
    "AnalysisResult",
    "CalledPartyTransform",
    "DigitAnalyzer",
    "DiscardDigits",
    "DuplicatePatternError",
    "Element",
    "Pattern",
    "PatternError",
    "Repeat",
    "RouteEntry",
    "RouteMatch",
    "compile_pattern",
    "partition_label",
    "transform_called",
]
