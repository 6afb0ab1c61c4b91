"""SRTP media on a trunk call: every packet that arrives is decrypted and authenticated."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lab_support import example_topology_on_free_ports, provision_lab

from tlstrunk.callcontrol.node import Node


def test_call_carries_srtp_both_ways(tmp_path: Path) -> None:
    topology = example_topology_on_free_ports()
    paths = provision_lab(tmp_path, topology)

    async def scenario() -> None:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            caller = await a.place_call("1018", "9898", 0.6)
            await asyncio.sleep(0.1)
            callee = b.reports(caller.call_id)[0]
        finally:
            await a.stop()
            await b.stop()
        assert caller.state == "cleared", caller.reason
        assert caller.srtp_suite is not None
        assert callee.srtp_suite == caller.srtp_suite
        assert caller.media is not None
        assert callee.media is not None
        for sender, receiver in ((caller.media, callee.media), (callee.media, caller.media)):
            assert sender["sent"] > 10
            assert receiver["failed"] == 0
            assert receiver["plain"] == 0
            # Packets still in flight when the BYE arrives may be lost, never more than a few.
            assert receiver["decrypted"] >= sender["sent"] - 3
            assert receiver["decrypted"] == receiver["received"]

    asyncio.run(scenario())
