"""CPU time and RSS read from /proc for this process and a child."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tlstrunk.perf.procstat import (
    UsageMeter,
    cpu_seconds,
    descendants,
    peak_rss_kib,
    rss_kib,
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")


def test_own_process_figures() -> None:
    pid = os.getpid()
    before = cpu_seconds(pid)
    total = 0
    for number in range(3_000_000):
        total += number * number
    assert total > 0
    assert cpu_seconds(pid) > before
    assert rss_kib(pid) > 0
    assert peak_rss_kib(pid) >= rss_kib(pid)


def test_missing_process() -> None:
    with pytest.raises(ProcessLookupError):
        cpu_seconds(2**22 + 12345)


def test_meter_sees_children() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        assert child.pid in descendants(os.getpid())
        meter = UsageMeter("pytest", os.getpid())
        meter.start()
        usage = meter.finish()
        assert usage.processes >= 2
        assert usage.peak_rss_kib > 0
        assert usage.cpu_seconds >= 0
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
