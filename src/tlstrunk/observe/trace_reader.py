"""Reading trace events back from a node's JSON-lines trace files.

:func:`read_events` walks the rotated files oldest first and then the current
file, so events come out in the order the node wrote them, and filters them by
SIP Call-ID, time range, level and component.  Events whose ``fields`` lack a
``call_id`` are matched on the ``Call-ID:`` header of a traced SIP message, or
on the Call-ID appearing as a word in any other message.

Like the writer, this module imports nothing from the rest of tlstrunk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tlstrunk.observe.trace import LEVELS, TraceEvent, level_rank, trace_files

logger = logging.getLogger(__name__)

_CALL_ID_HEADER = re.compile(
    r"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)[ \t\r]*$", re.IGNORECASE | re.MULTILINE
)


def parse_time(value: datetime | str | float | None) -> float | None:
    """Return ``value`` as seconds since the epoch; naive times are local time.

    Raises:
        ValueError: ``value`` is a string that is not an ISO 8601 date and time.
    """
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 time; write it like 2026-12-04T20:10:01 "
                "or 2026-12-04T20:10:01+00:00."
            ) from None
    return value.timestamp()


def sip_call_id(message: str) -> str | None:
    """Return the Call-ID header value of the SIP message inside a trace message, if any."""
    match = _CALL_ID_HEADER.search(message)
    return match.group(1) if match else None


def event_call_id(event: TraceEvent) -> str | None:
    """Return the event's ``call_id`` field, else the Call-ID of the SIP message it traces."""
    value = event.fields.get("call_id")
    if isinstance(value, str) and value:
        return value
    return sip_call_id(event.message)


def mentions_call_id(event: TraceEvent, call_id: str) -> bool:
    """Return whether ``event`` belongs to the call ``call_id``.

    An event matches on its ``call_id`` field, on the Call-ID header of a
    traced SIP message, or on ``call_id`` appearing as a whole word in the text.
    """
    own = event_call_id(event)
    if own is not None:
        return own == call_id
    pattern = r"(?<![\w@.\-])" + re.escape(call_id) + r"(?![\w@.\-])"
    return re.search(pattern, event.message) is not None


@dataclass(frozen=True)
class TraceFilter:
    """Which events :func:`read_events` returns; every field left ``None`` lets all pass.

    Attributes:
        call_id: SIP Call-ID the events belong to.
        since: earliest event time, in seconds since the epoch, inclusive.
        until: latest event time, in seconds since the epoch, inclusive.
        level: lowest level returned, one of :data:`~tlstrunk.observe.trace.LEVELS`.
        components: component names returned, compared without regard to case.
    """

    call_id: str | None = None
    since: float | None = None
    until: float | None = None
    level: str | None = None
    components: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        *,
        call_id: str | None = None,
        since: datetime | str | float | None = None,
        until: datetime | str | float | None = None,
        level: str | None = None,
        components: Iterable[str] | None = None,
    ) -> TraceFilter:
        """Check and convert the filter values; raise ``ValueError`` naming a bad one."""
        if level is not None:
            level = _canonical_level(level)
        start, end = parse_time(since), parse_time(until)
        if start is not None and end is not None and start > end:
            raise ValueError(f"The start time {since} is after the end time {until}; swap them.")
        names = None if components is None else frozenset(c.lower() for c in components)
        return cls(call_id or None, start, end, level, names or None)

    def accepts(self, event: TraceEvent) -> bool:
        """Return whether ``event`` passes every filter."""
        if self.since is not None and event.timestamp < self.since:
            return False
        if self.until is not None and event.timestamp > self.until:
            return False
        if self.level is not None and level_rank(event.level) < level_rank(self.level):
            return False
        if self.components is not None and event.component.lower() not in self.components:
            return False
        return self.call_id is None or mentions_call_id(event, self.call_id)


def _canonical_level(level: str) -> str:
    for name in LEVELS:
        if name.lower() == level.lower():
            return name
    raise ValueError(f"Unknown trace level {level!r}; use one of {', '.join(LEVELS)}.")


def iter_file_events(path: Path) -> Iterator[TraceEvent]:
    """Iterate over the events of one JSON-lines file, skipping lines that are not events."""
    with path.open(encoding="utf-8", errors="replace") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield TraceEvent.from_json(line)
            except ValueError as exc:
                logger.warning("%s line %d skipped: %s", path, number, exc)


def read_events(json_path: Path, where: TraceFilter | None = None) -> Iterator[TraceEvent]:
    """Iterate over the events of the trace at ``json_path`` and its rotated files, in order.

    ``json_path`` is the current file (``sdl.jsonl``); ``sdl.jsonl.1`` and the
    other rotated files are read first, oldest first.
    """
    where = where or TraceFilter()
    for path in trace_files(json_path):
        for event in iter_file_events(path):
            if where.accepts(event):
                yield event
