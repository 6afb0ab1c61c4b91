"""Synthesised TCP and UDP packets of a capture session, parsed independently."""

from __future__ import annotations

from pathlib import Path

import pytest
from pcapng_reader import Segment, key_log_blocks, packets, parse_packet, read_blocks

from tlstrunk.observe.capture import CaptureFilter, CaptureSession, KeyLogFollower
from tlstrunk.observe.pcapng import PcapngWriter

LOCAL = ("127.0.0.200", 40000)
REMOTE = ("127.0.0.203", 5061)
NOW = 1_700_000_000.5

SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def segments(path: Path) -> list[Segment]:
    return [parse_packet(packet) for _timestamp, packet in packets(path)]


def run_session(path: Path, **kwargs: object) -> CaptureSession:
    session = CaptureSession(PcapngWriter(path), **kwargs)  # type: ignore[arg-type]
    return session


def test_handshake_data_and_close(tmp_path: Path) -> None:
    path = tmp_path / "tcp.pcapng"
    session = run_session(path)
    session.connection_opened(1, LOCAL, REMOTE, True, NOW)
    session.data(1, "out", b"A" * 3000, NOW + 0.1)
    session.data(1, "in", b"B" * 10, NOW + 0.2)
    session.connection_closed(1, NOW + 0.3)
    session.close()

    parsed = segments(path)

    assert [s.flags for s in parsed] == [
        SYN, SYN | ACK, ACK,
        PSH | ACK, PSH | ACK, PSH | ACK, ACK,
        PSH | ACK, ACK,
        FIN | ACK, FIN | ACK, ACK,
    ]  # fmt: skip
    assert all(s.ip_checksum_ok for s in parsed)
    assert all(s.transport_checksum_ok for s in parsed)
    syn, syn_ack, ack = parsed[:3]
    assert (syn.source, syn.source_port) == LOCAL
    assert (syn.destination, syn.destination_port) == REMOTE
    assert syn.options == bytes.fromhex("02040578")  # MSS 1400
    assert syn_ack.ack == (syn.seq + 1) % 2**32
    assert ack.seq == syn_ack.ack
    assert ack.ack == (syn_ack.seq + 1) % 2**32
    out_data = parsed[3:6]
    assert [len(s.payload) for s in out_data] == [1400, 1400, 200]
    assert b"".join(s.payload for s in out_data) == b"A" * 3000
    assert [s.seq for s in out_data] == [(ack.seq + i * 1400) % 2**32 for i in range(3)]
    assert parsed[6].ack == (ack.seq + 3000) % 2**32
    incoming = parsed[7]
    assert (incoming.source, incoming.source_port) == REMOTE
    assert incoming.seq == ack.ack
    assert incoming.ack == (ack.seq + 3000) % 2**32
    assert parsed[8].ack == (incoming.seq + 10) % 2**32
    fin_local, fin_remote, last_ack = parsed[9:]
    assert fin_local.seq == (ack.seq + 3000) % 2**32
    assert fin_remote.ack == (fin_local.seq + 1) % 2**32
    assert last_ack.ack == (fin_remote.seq + 1) % 2**32


def test_inbound_connection_starts_remote(tmp_path: Path) -> None:
    path = tmp_path / "inbound.pcapng"
    session = run_session(path)
    session.connection_opened("a", LOCAL, REMOTE, False, NOW)
    session.connection_closed("a", NOW, closed_locally=False)
    session.close()

    parsed = segments(path)

    assert parsed[0].flags == SYN
    assert (parsed[0].source, parsed[0].source_port) == REMOTE
    assert parsed[3].flags == FIN | ACK
    assert (parsed[3].source, parsed[3].source_port) == REMOTE


def test_ipv6_and_udp(tmp_path: Path) -> None:
    path = tmp_path / "v6.pcapng"
    session = run_session(path)
    session.connection_opened(1, ("::1", 5061), ("::1%lo", 41000), False, NOW)
    session.data(1, "in", b"x" * 5, NOW)
    session.udp(("::ffff:127.0.0.1", 5060), ("127.0.0.2", 5060), "out", b"OPTIONS", NOW)
    session.udp(("127.0.0.1", 5060), ("127.0.0.2", 5060), "in", b"SIP/2.0 200 OK", NOW)
    session.close()

    parsed = segments(path)

    assert all(s.transport_checksum_ok for s in parsed)
    assert [s.version for s in parsed[:5]] == [6] * 5
    udp_out, udp_in = parsed[5:]
    assert udp_out.protocol == 17
    assert (udp_out.source, udp_out.destination) == ("127.0.0.1", "127.0.0.2")
    assert udp_out.payload == b"OPTIONS"
    assert udp_in.source == "127.0.0.2"
    assert udp_in.ip_checksum_ok


def test_filter_host_port_count(tmp_path: Path) -> None:
    path = tmp_path / "filtered.pcapng"
    capture_filter = CaptureFilter(host="127.0.0.203", port=5061, count=4)
    session = run_session(path, capture_filter=capture_filter)
    session.connection_opened(1, LOCAL, ("127.0.0.9", 5061), True, NOW)
    session.data(1, "out", b"skipped", NOW)
    session.connection_opened(2, LOCAL, REMOTE, True, NOW)
    session.data(2, "out", b"kept", NOW)
    session.data(2, "out", b"over the count", NOW)
    session.close()

    parsed = segments(path)

    assert session.done
    assert len(parsed) == 4
    assert all(s.destination_port == 5061 or s.source_port == 5061 for s in parsed)
    assert parsed[3].payload == b"kept"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "pbx.example"}, "Capture host 'pbx.example' is not an IP address"),
        ({"port": 0}, "Capture port 0 is invalid"),
        ({"count": 0}, "Capture count 0 is invalid"),
    ],
)
def test_filter_rejects_invalid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CaptureFilter(**kwargs)  # type: ignore[arg-type]


def test_keys_precede_held_packets(tmp_path: Path) -> None:
    path = tmp_path / "keys.pcapng"
    session = run_session(path)
    session.connection_opened(1, LOCAL, REMOTE, True, NOW)
    session.data(1, "out", b"client hello", NOW)
    session.data(1, "in", b"server flight", NOW)
    session.key_log_line("CLIENT_HANDSHAKE_TRAFFIC_SECRET 01 02")
    session.key_log_line("# comment")
    session.flush()
    session.close()

    blocks = read_blocks(path)
    keys = key_log_blocks(path)
    types = [block.type for block in blocks]
    server_flight = next(
        i for i, block in enumerate(blocks) if block.type == 6 and b"server flight" in block.body
    )

    assert keys == [(keys[0][0], "CLIENT_HANDSHAKE_TRAFFIC_SECRET 01 02\n")]
    assert types.count(0x0A) == 1
    assert keys[0][0] < server_flight
    assert keys[0][0] > next(
        i for i, block in enumerate(blocks) if block.type == 6 and b"client hello" in block.body
    )


def test_key_source_polled(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    follower = KeyLogFollower(keylog)
    path = tmp_path / "polled.pcapng"
    session = run_session(path, key_source=follower.read_new_lines)
    session.connection_opened(1, LOCAL, REMOTE, True, NOW)
    keylog.write_text("SERVER_TRAFFIC_SECRET_0 aa bb\nCLIENT_TRA")
    session.data(1, "out", b"x", NOW)
    with keylog.open("a") as file:
        file.write("FFIC_SECRET_0 cc dd\n")
    session.data(1, "out", b"y", NOW)
    session.close()

    assert [text for _index, text in key_log_blocks(path)] == [
        "SERVER_TRAFFIC_SECRET_0 aa bb\n",
        "CLIENT_TRAFFIC_SECRET_0 cc dd\n",
    ]


def test_unknown_connection(tmp_path: Path) -> None:
    session = run_session(tmp_path / "unknown.pcapng")
    session.connection_opened(1, LOCAL, REMOTE, True, NOW)

    with pytest.raises(ValueError, match="Connection 7 is not open in this capture"):
        session.data(7, "in", b"x", NOW)
    with pytest.raises(ValueError, match="Connection 1 is already open"):
        session.connection_opened(1, LOCAL, REMOTE, True, NOW)
    with pytest.raises(ValueError, match="Direction 'up' is invalid"):
        session.data(1, "up", b"x", NOW)
    with pytest.raises(ValueError, match="different IP versions"):
        session.connection_opened(2, LOCAL, ("::1", 5061), True, NOW)
    session.close()
