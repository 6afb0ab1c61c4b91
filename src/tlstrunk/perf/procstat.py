"""CPU time and peak resident memory of processes, read from Linux ``/proc``.

The benchmark reads four numbers per process: user and system CPU time,
current RSS and peak RSS. Reading ``/proc/PID/stat`` and ``/proc/PID/status``
directly gives them without adding psutil as a dependency. The benchmarks run
on Linux only, as Kamailio's Debian packages do.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

from tlstrunk.perf.stats import ProcessUsage

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU seconds that process ``pid`` has used so far.

    Raises:
        ProcessLookupError: the process does not exist (any more).
    """
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except FileNotFoundError as exc:
        raise ProcessLookupError(pid) from exc
    # The command name in brackets may contain spaces; fields after it are plain.
    fields = text[text.rindex(")") + 2 :].split()
    # utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    try:
        text = (PROC / str(pid) / "status").read_text()
    except FileNotFoundError as exc:
        raise ProcessLookupError(pid) from exc
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    """Return the current resident set size of process ``pid`` in KiB."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """Return the peak resident set size (high-water mark) of process ``pid`` in KiB."""
    return _status_kib(pid, "VmHWM")


def descendants(pid: int) -> list[int]:
    """Return ``pid`` and every process below it, by walking the parent ids in ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found = [pid]
    index = 0
    while index < len(found):
        found.extend(children.get(found[index], []))
        index += 1
    return found


class UsageMeter:
    """Measures one process tree's CPU seconds over a run and its peak RSS.

    ``start`` records the CPU time so far. ``finish`` returns the CPU seconds
    used since then and the largest peak RSS of any process in the tree. A
    tree (Kamailio's workers) gets the sum of its processes' CPU time.
    """

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self._cpu_before: dict[int, float] = {}

    def _tree_cpu(self) -> dict[int, float]:
        usage: dict[int, float] = {}
        for pid in descendants(self.pid):
            try:
                usage[pid] = cpu_seconds(pid)
            except ProcessLookupError:
                continue
        return usage

    def start(self) -> None:
        """Record the CPU time of every process in the tree before the run."""
        self._cpu_before = self._tree_cpu()

    def finish(self) -> ProcessUsage:
        """Return CPU seconds used since :meth:`start` and the peak RSS in the tree."""
        after = self._tree_cpu()
        used = sum(after[pid] - self._cpu_before.get(pid, 0.0) for pid in after)
        peaks = []
        for pid in after:
            try:
                peaks.append(peak_rss_kib(pid))
            except ProcessLookupError:
                continue
        return ProcessUsage(self.name, round(used, 2), max(peaks, default=0), len(after))


def own_usage(name: str, cpu_before: float) -> ProcessUsage:
    """Return this process's CPU seconds since ``cpu_before`` and its peak RSS."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return ProcessUsage(name, round(cpu, 2), int(usage.ru_maxrss))


def own_cpu() -> float:
    """Return the CPU seconds this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
