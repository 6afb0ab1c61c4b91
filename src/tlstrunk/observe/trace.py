"""Trace writer: SDL-style text lines and JSON lines for one node.

A trace line reads like the traces call-manager engineers already know::

    2026/12/04 20:10:01.123 |  42 |AppInfo  |DigitAnalysis |calling=1018 dialed=9898 pattern=9898

Each event goes to a text file and, when configured, a JSON-lines file with the
same fields.  Callers check :attr:`TraceWriter.enabled` (or pass ``%s``-style
arguments) so that no string is formatted while tracing is off.

This module imports nothing from the rest of tlstrunk, so every layer,
the transport included, may feed it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

#: Levels in increasing severity, named as SDL traces name them.
LEVELS = ("Detailed", "AppInfo", "Warning", "Error")

_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}


@dataclass(frozen=True)
class TraceEvent:
    """One trace record."""

    sequence: int
    timestamp: float
    level: str
    component: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        """Render the event as one SDL-style line (multi-line messages are indented)."""
        local = time.localtime(self.timestamp)
        millis = int((self.timestamp % 1) * 1000)
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", local) + f".{millis:03d}"
        head = f"{stamp} |{self.sequence:6d} |{self.level:<9}|{self.component:<14}|"
        lines = self.message.splitlines() or [""]
        rest = "".join("\n" + " " * len(head) + line for line in lines[1:])
        return head + lines[0] + rest

    def to_json(self) -> str:
        """Render the event as one JSON object on one line."""
        record: dict[str, Any] = {
            "seq": self.sequence,
            "time": self.timestamp,
            "level": self.level,
            "component": self.component,
            "message": self.message,
        }
        if self.fields:
            record["fields"] = self.fields
        return json.dumps(record, ensure_ascii=False, default=str)


class TraceWriter:
    """Writes trace events of one node to text and JSON-lines files.

    Args:
        text_path: file for SDL-style lines, or ``None`` for no text file.
        json_path: file for JSON lines, or ``None``.
        level: the lowest level written; events below it cost one comparison.
        clock: returns the current time in seconds since the epoch.
        keep: how many recent events stay in memory for :meth:`recent`.
    """

    def __init__(
        self,
        text_path: Path | None = None,
        json_path: Path | None = None,
        *,
        level: str = "Detailed",
        clock: Callable[[], float] = time.time,
        keep: int = 2000,
    ) -> None:
        if level not in _LEVEL_RANK:
            raise ValueError(f"Unknown trace level {level!r}; use one of {', '.join(LEVELS)}.")
        self._min_rank = _LEVEL_RANK[level]
        self._clock = clock
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._recent: deque[TraceEvent] = deque(maxlen=keep)
        self._text: IO[str] | None = self._open(text_path)
        self._json: IO[str] | None = self._open(json_path)
        self._listeners: list[Callable[[TraceEvent], None]] = []

    @staticmethod
    def _open(path: Path | None) -> IO[str] | None:
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("a", encoding="utf-8", buffering=1)

    @property
    def enabled(self) -> bool:
        """Whether Detailed events are written; check it before building costly messages."""
        return self._min_rank == 0

    def is_enabled_for(self, level: str) -> bool:
        """Return whether events of ``level`` are written."""
        return _LEVEL_RANK[level] >= self._min_rank

    def add_listener(self, listener: Callable[[TraceEvent], None]) -> None:
        """Call ``listener`` with every event written from now on."""
        self._listeners.append(listener)

    def event(self, level: str, component: str, message: str, *args: object, **fields: Any) -> None:
        """Write one event; ``message % args`` is formatted only when the level is on."""
        if _LEVEL_RANK[level] < self._min_rank:
            return
        text = message % args if args else message
        with self._lock:
            record = TraceEvent(next(self._counter), self._clock(), level, component, text, fields)
            self._recent.append(record)
            if self._text is not None:
                self._text.write(record.to_text() + "\n")
            if self._json is not None:
                self._json.write(record.to_json() + "\n")
        for listener in self._listeners:
            listener(record)

    def detailed(self, component: str, message: str, *args: object, **fields: Any) -> None:
        """Write a Detailed event (SIP messages, per-message steps)."""
        self.event("Detailed", component, message, *args, **fields)

    def info(self, component: str, message: str, *args: object, **fields: Any) -> None:
        """Write an AppInfo event."""
        self.event("AppInfo", component, message, *args, **fields)

    def warning(self, component: str, message: str, *args: object, **fields: Any) -> None:
        """Write a Warning event."""
        self.event("Warning", component, message, *args, **fields)

    def error(self, component: str, message: str, *args: object, **fields: Any) -> None:
        """Write an Error event."""
        self.event("Error", component, message, *args, **fields)

    def recent(self, *, since: int = 0) -> Iterator[TraceEvent]:
        """Iterate over the kept events whose sequence number is above ``since``."""
        with self._lock:
            events = list(self._recent)
        return (event for event in events if event.sequence > since)

    def close(self) -> None:
        """Flush and close the trace files."""
        with self._lock:
            for stream in (self._text, self._json):
                if stream is not None:
                    stream.close()
            self._text = None
            self._json = None
