"""What a packet capture on loopback sees during a trunk call: TLS records, never SIP text.

The capture is a raw AF_PACKET socket on ``lo``, which needs root (or
CAP_NET_RAW); without it the test skips and says so.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from lab_support import example_topology_on_free_ports, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node

ETH_P_ALL = 0x0003


def open_capture() -> socket.socket:
    try:
        capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except (PermissionError, AttributeError) as exc:
        pytest.skip(f"a raw packet socket needs root or CAP_NET_RAW on Linux: {exc}")
    capture.bind(("lo", 0))
    capture.settimeout(0.2)
    return capture


def tcp_payloads(frames: list[bytes], ports: set[int]) -> list[bytes]:
    """Return the TCP payloads of IPv4 frames to or from ``ports``.

    Frames captured on ``lo`` carry a 14-byte Ethernet header of zeros.
    """
    payloads = []
    for frame in frames:
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        if ip[9] != socket.IPPROTO_TCP:
            continue
        header_length = (ip[0] & 0x0F) * 4
        total_length = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[header_length:total_length]
        source, destination = struct.unpack("!HH", tcp[:4])
        if source not in ports and destination not in ports:
            continue
        offset = (tcp[12] >> 4) * 4
        if tcp[offset:]:
            payloads.append(bytes(tcp[offset:]))
    return payloads


def test_trunk_call_shows_only_tls_on_the_wire(tmp_path: Path) -> None:
    capture = open_capture()
    frames: list[bytes] = []
    stop = threading.Event()

    def sniff() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                frames.append(capture.recv(65535))
            except TimeoutError:
                continue

    topology = example_topology_on_free_ports()
    paths = provision_lab(tmp_path, topology)
    ports = {profile_port(topology, "CUCMA"), profile_port(topology, "CUCM10")}

    async def calls() -> list[str]:
        nodes = [Node(p) for p in paths.values()]
        for node in nodes:
            await node.start()
        try:
            first = await nodes[0].place_call("1018", "9898", 0.05)
            second = await nodes[1].place_call("9898", "1018", 0.05)
        finally:
            for node in nodes:
                await node.stop()
        return [first.state, second.state]

    sniffer = threading.Thread(target=sniff)
    sniffer.start()
    try:
        states = asyncio.run(calls())
    finally:
        stop.set()
        sniffer.join()
        capture.close()
    assert states == ["cleared", "cleared"]
    payloads = tcp_payloads(frames, ports)
    assert payloads, "the capture saw no TCP payload on the trunk ports"
    handshakes = [p for p in payloads if p[:1] == b"\x16" and p[1:2] == b"\x03"]
    assert handshakes, "no TLS handshake record was captured"
    wire = b"".join(payloads)
    for clear_text in (b"SIP/2.0", b"INVITE sip:", b"Call-ID", b"a=crypto", b"inline:"):
        assert clear_text not in wire
