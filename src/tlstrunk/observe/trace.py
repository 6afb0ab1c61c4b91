"""Trace writer: SDL-style text lines and JSON lines for one node.

A trace line reads like the traces call-manager engineers already know::

    2026/12/04 20:10:01.123 |  42 |AppInfo  |DigitAnalysis |calling=1018 dialed=9898 pattern=9898

Each event goes to a text file and, when configured, a JSON-lines file with the
same fields.  Callers check :attr:`TraceWriter.enabled` (or pass ``%s``-style
arguments) so that no string is formatted while tracing is off.  The level and
the set of traced components can change while the node runs.

Each file rotates by size: before a line would take ``sdl.txt`` past
``max_bytes``, the file becomes ``sdl.txt.1``, older files move up one number
and the oldest beyond ``backups`` is deleted.  Lines are never split across
files.  :func:`trace_files` lists one trace's files from oldest to newest.

This module imports nothing from the rest of tlstrunk, so every layer,
the transport included, may feed it.
"""

from __future__ import annotations

import itertools
import json
import os
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

#: Default size at which a trace file rotates, in bytes.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

#: Default number of rotated files kept beside the current one.
DEFAULT_BACKUPS = 5


def level_rank(level: str) -> int:
    """Return the rank of ``level`` in :data:`LEVELS`; raise ``ValueError`` for unknown names."""
    try:
        return _LEVEL_RANK[level]
    except KeyError:
        raise ValueError(
            f"Unknown trace level {level!r}; use one of {', '.join(LEVELS)}."
        ) from None


def trace_files(path: Path) -> list[Path]:
    """Return the existing files of the trace at ``path``, oldest rotated file first."""
    rotated: list[tuple[int, Path]] = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    files = [candidate for _, candidate in sorted(rotated, reverse=True)]
    if path.exists():
        files.append(path)
    return files


class _RotatingFile:
    """One append-only trace file that rotates before a line would pass ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[bytes] = path.open("ab", buffering=0)
        self._size = path.stat().st_size

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        if self._size > 0 and self._size + len(data) > self._max_bytes:
            self._rotate()
        # One unbuffered write call per line, so the file holds no half-written line
        # after a crash between lines.
        self._stream.write(data)
        self._size += len(data)

    def _rotate(self) -> None:
        self._stream.close()
        if self._backups > 0:
            for number in range(self._backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{number}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
            self._stream = self.path.open("ab", buffering=0)
        else:
            self._stream = self.path.open("wb", buffering=0)
        self._size = 0

    def close(self) -> None:
        self._stream.close()


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

    @classmethod
    def from_json(cls, line: str) -> TraceEvent:
        """Parse one line written by :meth:`to_json`; raise ``ValueError`` when it is not one."""
        try:
            record = json.loads(line)
            fields = record.get("fields") or {}
            if not isinstance(fields, dict):
                raise TypeError("fields is not an object")
            return cls(
                int(record["seq"]),
                float(record["time"]),
                str(record["level"]),
                str(record["component"]),
                str(record["message"]),
                fields,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"Not a trace event line: {line[:80]!r} ({exc}).") from exc


class TraceWriter:
    """Writes trace events of one node to text and JSON-lines files.

    Args:
        text_path: file for SDL-style lines, or ``None`` for no text file.
        json_path: file for JSON lines, or ``None``.
        level: the lowest level written; events below it cost one comparison.
        clock: returns the current time in seconds since the epoch.
        keep: how many recent events stay in memory for :meth:`recent`.
        max_bytes: size in bytes that no file passes, except a file holding one longer line.
        backups: rotated files kept per trace file; 0 truncates instead of rotating.
        components: components written, or ``None`` for every component.
    """

    def __init__(
        self,
        text_path: Path | None = None,
        json_path: Path | None = None,
        *,
        level: str = "Detailed",
        clock: Callable[[], float] = time.time,
        keep: int = 2000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        components: set[str] | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"Trace max_bytes must be positive, not {max_bytes}.")
        if backups < 0:
            raise ValueError(f"Trace backups must be 0 or more, not {backups}.")
        # The two filters are single attributes replaced whole, so event() reads
        # them without the lock and a change applies to the next event.
        self._min_rank = level_rank(level)
        self._components: frozenset[str] | None = self._check_components(components)
        self._clock = clock
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._recent: deque[TraceEvent] = deque(maxlen=keep)
        self._text = self._open(text_path, max_bytes, backups)
        self._json = self._open(json_path, max_bytes, backups)
        self._listeners: list[Callable[[TraceEvent], None]] = []

    @staticmethod
    def _open(path: Path | None, max_bytes: int, backups: int) -> _RotatingFile | None:
        return None if path is None else _RotatingFile(path, max_bytes, backups)

    @staticmethod
    def _check_components(components: set[str] | frozenset[str] | None) -> frozenset[str] | None:
        if components is None:
            return None
        for name in components:
            if not isinstance(name, str) or not name:
                raise ValueError(f"Trace component names must be non-empty strings, not {name!r}.")
        return frozenset(components)

    @property
    def level(self) -> str:
        """The lowest level written."""
        return LEVELS[self._min_rank]

    @property
    def components(self) -> frozenset[str] | None:
        """The components written, or ``None`` for all."""
        return self._components

    def set_level(self, level: str) -> None:
        """Write events of ``level`` and above from the next event on."""
        self._min_rank = level_rank(level)

    def set_components(self, allowed: set[str] | frozenset[str] | None) -> None:
        """Write only events of the ``allowed`` components from the next event on.

        ``None`` writes every component.
        """
        self._components = self._check_components(allowed)

    @property
    def enabled(self) -> bool:
        """Whether Detailed events are written; check it before building costly messages."""
        return self._min_rank == 0

    def is_enabled_for(self, level: str, component: str | None = None) -> bool:
        """Return whether events of ``level`` (from ``component``, when given) are written."""
        if _LEVEL_RANK[level] < self._min_rank:
            return False
        allowed = self._components
        return component is None or allowed is None or component in allowed

    def add_listener(self, listener: Callable[[TraceEvent], None]) -> None:
        """Call ``listener`` with every event written from now on."""
        self._listeners.append(listener)

    def event(self, level: str, component: str, message: str, *args: object, **fields: Any) -> None:
        """Write one event; ``message % args`` is formatted only when the event is written.

        A ``call_id=`` field lets trace readers find the event by SIP Call-ID
        without parsing the message.
        """
        if _LEVEL_RANK[level] < self._min_rank:
            return
        allowed = self._components
        if allowed is not None and component not in allowed:
            return
        text = message % args if args else message
        with self._lock:
            record = TraceEvent(next(self._counter), self._clock(), level, component, text, fields)
            self._recent.append(record)
            if self._text is not None:
                self._text.write_line(record.to_text())
            if self._json is not None:
                self._json.write_line(record.to_json())
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
