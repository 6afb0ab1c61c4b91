"""Step results of the trunk doctor and their text and JSON forms."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tlstrunk.i18n import _


class Verdict(enum.Enum):
    """The outcome of one doctor step."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"


@dataclass(frozen=True)
class StepResult:
    """One line of the doctor's report.

    Attributes:
        step: the step's name, e.g. ``"TCP connect"``.
        verdict: PASS, FAIL, WARN or SKIP.
        seen: what the doctor saw, in a full sentence.
        fix: what to change, for FAIL and WARN; empty when nothing needs changing.
        destination: ``address:port`` for steps that concern one trunk destination.
    """

    step: str
    verdict: Verdict
    seen: str
    fix: str = ""
    destination: str | None = None

    def lines(self) -> list[str]:
        """Return the result as ``[VERDICT] step: seen`` plus a ``fix:`` line when there is one."""
        where = f" ({self.destination})" if self.destination else ""
        text = [f"[{self.verdict.value}] {self.step}{where}: {self.seen}"]
        if self.fix:
            text.append(_("    fix: {fix}").format(fix=self.fix))
        return text

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {
            "step": self.step,
            "verdict": self.verdict.value,
            "seen": self.seen,
            "fix": self.fix or None,
            "destination": self.destination,
        }


def failed(results: Sequence[StepResult]) -> bool:
    """Tell whether any step failed."""
    return any(result.verdict is Verdict.FAIL for result in results)


def render(results: Sequence[StepResult]) -> str:
    """Return every result as text lines, in order."""
    return "\n".join(line for result in results for line in result.lines())


def find(results: Sequence[StepResult], step: str) -> list[StepResult]:
    """Return the results of ``step``, in order."""
    return [result for result in results if result.step == step]
