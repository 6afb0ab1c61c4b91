"""Each node writes one call detail record per call, off the call path."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lab_support import example_topology_on_free_ports, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.store import ConfigStore


def test_call_records_on_both_nodes(tmp_path: Path) -> None:
    topology = example_topology_on_free_ports()
    paths = provision_lab(tmp_path, topology)

    async def scenario() -> tuple[str, str]:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            cleared = await a.place_call("1018", "9898", 0.1)
            missing = await a.place_call("1018", "5555", 0.0)
            await asyncio.sleep(0.1)
        finally:
            await a.stop()
            await b.stop()
        return cleared.call_id, missing.call_id

    cleared_id, missing_id = asyncio.run(scenario())
    store_a = ConfigStore(paths["CUCMA"].config_db)
    store_b = ConfigStore(paths["CUCM10"].config_db)
    try:
        records_a = {record.call_id: record for record in store_a.list_cdrs()}
        records_b = store_b.list_cdrs()
    finally:
        store_a.close()
        store_b.close()
    assert set(records_a) == {cleared_id, missing_id}
    outbound = records_a[cleared_id]
    assert outbound.direction == "outbound"
    assert outbound.state == "cleared"
    assert outbound.secure
    assert outbound.trunk == "CUCM10"
    assert outbound.answer is not None
    assert records_a[missing_id].state == "failed"
    assert records_a[missing_id].cause.startswith("404")
    assert [record.call_id for record in records_b] == [cleared_id]
    assert records_b[0].direction == "inbound"
    assert records_b[0].called == "9898"
