"""Block structure of the pcapng writer, checked with an independent parser."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from pcapng_reader import key_log_blocks, packets, read_blocks, read_options

from tlstrunk.observe.pcapng import PcapngWriter

PACKET = bytes.fromhex("4500001c0001400040110000c0000201c000020200350035000800000000")[:28]


def test_header_blocks(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcapng"
    with PcapngWriter(path, snaplen=2000):
        pass

    blocks = read_blocks(path)

    assert [block.type for block in blocks] == [0x0A0D0D0A, 1]
    magic, major, minor, section_length = struct.unpack_from("<IHHq", blocks[0].body)
    assert magic == 0x1A2B3C4D
    assert (major, minor) == (1, 0)
    assert section_length == -1
    assert read_options(blocks[0].body[16:]) == [(4, b"tlstrunk")]
    link_type, reserved, snaplen = struct.unpack_from("<HHI", blocks[1].body)
    assert link_type == 101
    assert reserved == 0
    assert snaplen == 2000
    assert read_options(blocks[1].body[8:]) == [(2, b"tlstrunk"), (9, b"\x09")]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 1399])
def test_packet_padding(tmp_path: Path, size: int) -> None:
    path = tmp_path / "padding.pcapng"
    data = bytes(range(256)) * 6
    with PcapngWriter(path) as writer:
        writer.write_packet(data[:size], 1_700_000_000_123_456_789)

    ((timestamp, packet),) = packets(path)

    assert timestamp == 1_700_000_000_123_456_789
    assert packet == data[:size]
    assert path.stat().st_size % 4 == 0


def test_snaplen_cuts_packet(tmp_path: Path) -> None:
    path = tmp_path / "snap.pcapng"
    with PcapngWriter(path, snaplen=10) as writer:
        writer.write_packet(PACKET, 0)

    block = read_blocks(path)[2]
    _interface, _high, _low, captured, original = struct.unpack_from("<IIIII", block.body)

    assert captured == 10
    assert original == len(PACKET)


def test_key_log_block(tmp_path: Path) -> None:
    path = tmp_path / "keys.pcapng"
    lines = ["CLIENT_RANDOM 00 11", "", "SERVER_TRAFFIC_SECRET_0 aa bb\n"]
    with PcapngWriter(path) as writer:
        writer.write_tls_key_log(lines)
        writer.write_tls_key_log([])
        writer.write_packet(PACKET, 1)

    blocks = read_blocks(path)

    assert [block.type for block in blocks] == [0x0A0D0D0A, 1, 0x0A, 6]
    assert key_log_blocks(path) == [(2, "CLIENT_RANDOM 00 11\nSERVER_TRAFFIC_SECRET_0 aa bb\n")]


def test_invalid_snaplen(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Snapshot length 0 is invalid"):
        PcapngWriter(tmp_path / "x.pcapng", snaplen=0)


def test_write_after_close(tmp_path: Path) -> None:
    writer = PcapngWriter(tmp_path / "closed.pcapng")
    writer.close()
    writer.close()

    with pytest.raises(ValueError, match="is closed"):
        writer.write_packet(PACKET, 0)
