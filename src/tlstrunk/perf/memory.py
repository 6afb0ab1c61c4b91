"""Memory per established call: hold N calls through the nodes and read their RSS.

The UAC runs in this process so that it can hold every call until all are
up, let the nodes' RSS be read, and then hang up at a set rate. RSS is read
after a short warm-up, so imports and first-call allocations do not count
towards the calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from tlstrunk.perf import labs
from tlstrunk.perf.calls import CallPath
from tlstrunk.perf.procstat import rss_kib
from tlstrunk.perf.sipload import LoadSpec, Uac
from tlstrunk.transport.tls import build_client_context

#: Calls placed and ended before the first RSS reading.
WARM_UP_CALLS = 50
#: How many times the setup rate the BYEs are sent at.
HANG_UP_SPEED_UP = 3.0
#: Seconds the nodes get to settle before each RSS reading.
SETTLE_SECONDS = 2.0


@dataclass
class MemoryResult:
    """RSS of each node before and with ``held`` calls up."""

    system: str
    calls: int
    rate: float
    held: int
    completed: int
    failures: dict[str, int]
    rss_before_kib: dict[str, int]
    rss_held_kib: dict[str, int]
    rss_after_kib: dict[str, int]

    def kib_per_call(self, node: str) -> float | None:
        """KiB of RSS that node ``node`` grew by per held call."""
        if not self.held:
            return None
        growth = self.rss_held_kib[node] - self.rss_before_kib[node]
        return round(growth / self.held, 2)

    @property
    def held_all(self) -> bool:
        """Whether every call connected, stayed up and ended with 200 to its BYE."""
        return self.held == self.calls and self.completed == self.calls

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        data = dataclasses.asdict(self)
        data["kib_per_call"] = {node: self.kib_per_call(node) for node in self.rss_before_kib}
        data["held_all"] = self.held_all
        return data


def _node_rss(path: CallPath) -> dict[str, int]:
    return {name: rss_kib(node.pid) for name, node in path.nodes.items()}


async def _measure(path: CallPath, calls: int, rate: float, setup_timeout: float) -> MemoryResult:
    context = build_client_context(path.uac_identity) if path.uac_identity else None
    base = LoadSpec(
        target=path.target,
        local_address=labs.GENERATOR_UAC,
        transport=path.transport,
        called=labs.CALLED,
        rate=rate,
        calls=WARM_UP_CALLS,
        hold=0.1,
        max_seconds=60,
    )
    warm = Uac(base, context)
    await warm.connect()
    await warm.run()
    await warm.close()
    await asyncio.sleep(SETTLE_SECONDS)
    before = _node_rss(path)

    hold = calls / rate + setup_timeout + 600
    spec = dataclasses.replace(base, calls=calls, hold=hold, max_seconds=hold + 120, bye_timeout=60)
    uac = Uac(spec, context)
    await uac.connect()
    running = asyncio.get_running_loop().create_task(uac.run())
    deadline = time.monotonic() + calls / rate + setup_timeout
    while time.monotonic() < deadline:
        result = uac.result
        if result.connected + sum(result.failures.values()) >= calls:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(SETTLE_SECONDS)
    held_rss = _node_rss(path)
    held = uac.open_calls

    # BYE transactions end at once over TCP, so hang-ups may go faster than setups.
    await uac.hang_up_all(rate * HANG_UP_SPEED_UP)
    result = await running
    await uac.close()
    await asyncio.sleep(SETTLE_SECONDS)

    return MemoryResult(
        system=path.name,
        calls=calls,
        rate=rate,
        held=held,
        completed=result.completed,
        failures=result.failures,
        rss_before_kib=before,
        rss_held_kib=held_rss,
        rss_after_kib=_node_rss(path),
    )


def measure_memory(
    path: CallPath, calls: int, rate: float, setup_timeout: float = 60.0
) -> MemoryResult:
    """Hold ``calls`` calls through ``path``, set up at ``rate`` per second, and read RSS."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(_measure(path, calls, rate, setup_timeout))
    return uvloop.run(_measure(path, calls, rate, setup_timeout))
