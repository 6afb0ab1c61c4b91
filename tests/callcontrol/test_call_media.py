"""SRTP media on a trunk call: every packet that arrives is decrypted and authenticated."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from lab_support import example_topology_on_free_ports, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.callcontrol.phones import MediaRejected
from tlstrunk.config.topology import Topology


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


def _without_srtp(topology: Topology) -> Topology:
    clusters = tuple(
        dataclasses.replace(
            cluster,
            trunks=tuple(dataclasses.replace(t, srtp_allowed=False) for t in cluster.trunks),
        )
        for cluster in topology.clusters
    )
    return dataclasses.replace(topology, clusters=clusters)


def test_srtp_not_allowed_sends_no_keys(tmp_path: Path) -> None:
    topology = _without_srtp(example_topology_on_free_ports())
    paths = provision_lab(tmp_path, topology)

    async def scenario() -> None:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            report = await a.place_call("1018", "9898", 0.3)
        finally:
            await a.stop()
            await b.stop()
        assert report.state == "cleared", report.reason
        assert report.signalling_encrypted
        assert report.srtp_suite is None
        assert not report.secure
        assert report.media is not None
        assert report.media["plain"] > 0
        assert report.media["decrypted"] == 0

    asyncio.run(scenario())
    for node in ("CUCMA", "CUCM10"):
        trace = (tmp_path / node / "traces" / "sdl.txt").read_text()
        assert "m=audio" in trace
        assert "a=crypto" not in trace


def test_srtp_required_offer_rejected_with_488() -> None:
    from tlstrunk.callcontrol.phones import VirtualPhone

    phone = VirtualPhone("1018", "127.0.0.1")
    try:
        offer = phone.make_offer(srtp=True)
        assert b"RTP/SAVP" in offer
        assert b"a=crypto:" in offer
        answered = phone.make_answer(offer, srtp=True)
        assert answered.srtp_suite is not None
        with pytest.raises(MediaRejected, match="may not carry SRTP keys"):
            phone.make_answer(offer, srtp=False)
    finally:
        phone.close()
