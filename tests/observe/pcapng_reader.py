"""A small, independent pcapng and IP/TCP parser for checking what the capture writer made.

Written from the pcapng specification (draft-ietf-opsawg-pcapng), RFC 791,
RFC 8200, RFC 9293 and RFC 768, without using the code under test, so that a
mistake in the writer is not mirrored here.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Block:
    """One block: its type, the body between the two length fields, and its offset."""

    type: int
    body: bytes
    offset: int


@dataclass(frozen=True)
class Segment:
    """A parsed IP packet with a TCP or UDP payload."""

    version: int
    protocol: int
    source: str
    destination: str
    source_port: int
    destination_port: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    ip_checksum_ok: bool
    transport_checksum_ok: bool
    options: bytes


def read_blocks(path: Path) -> list[Block]:
    """Split a little-endian pcapng file into blocks, checking both length fields."""
    data = path.read_bytes()
    blocks = []
    offset = 0
    while offset < len(data):
        block_type, length = struct.unpack_from("<II", data, offset)
        assert length % 4 == 0, f"block at {offset} has length {length}, not a multiple of 4"
        assert length >= 12, f"block at {offset} is too short"
        (trailing,) = struct.unpack_from("<I", data, offset + length - 4)
        assert trailing == length, f"block at {offset}: lengths {length} and {trailing} differ"
        blocks.append(Block(block_type, data[offset + 8 : offset + length - 4], offset))
        offset += length
    assert offset == len(data), "the file ends inside a block"
    return blocks


def read_options(data: bytes) -> list[tuple[int, bytes]]:
    """Parse options up to and including opt_endofopt, which must be present."""
    options: list[tuple[int, bytes]] = []
    offset = 0
    while True:
        code, length = struct.unpack_from("<HH", data, offset)
        if code == 0:
            assert length == 0
            assert offset + 4 == len(data), "data follows opt_endofopt"
            return options
        options.append((code, data[offset + 4 : offset + 4 + length]))
        offset += 4 + length + (-length % 4)


def checksum(data: bytes) -> int:
    """Return the ones' complement sum folded to 16 bits (0xFFFF when a checksum verifies)."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def parse_packet(packet: bytes) -> Segment:
    """Parse a raw IPv4 or IPv6 packet carrying TCP or UDP and verify its checksums."""
    version = packet[0] >> 4
    if version == 4:
        header_length = (packet[0] & 0x0F) * 4
        total_length = struct.unpack("!H", packet[2:4])[0]
        assert total_length == len(packet), "IPv4 total length does not match the packet"
        protocol = packet[9]
        source_raw, destination_raw = packet[12:16], packet[16:20]
        ip_ok = checksum(packet[:header_length]) == 0xFFFF
        body = packet[header_length:]
    else:
        assert version == 6
        payload_length = struct.unpack("!H", packet[4:6])[0]
        assert payload_length == len(packet) - 40, "IPv6 payload length does not match"
        protocol = packet[6]
        source_raw, destination_raw = packet[8:24], packet[24:40]
        ip_ok = True
        body = packet[40:]
    source = str(ipaddress.ip_address(source_raw))
    destination = str(ipaddress.ip_address(destination_raw))
    if version == 4:
        pseudo = source_raw + destination_raw + struct.pack("!BBH", 0, protocol, len(body))
    else:
        pseudo = source_raw + destination_raw + struct.pack("!IxxxB", len(body), protocol)
    transport_ok = checksum(pseudo + body) == 0xFFFF
    source_port, destination_port = struct.unpack("!HH", body[:4])
    if protocol == 6:
        seq, ack = struct.unpack("!II", body[4:12])
        offset = (body[12] >> 4) * 4
        flags = body[13]
        options = body[20:offset]
        payload = body[offset:]
    else:
        assert protocol == 17
        assert struct.unpack("!H", body[4:6])[0] == len(body), "UDP length does not match"
        seq = ack = flags = 0
        options = b""
        payload = body[8:]
    return Segment(
        version,
        protocol,
        source,
        destination,
        source_port,
        destination_port,
        seq,
        ack,
        flags,
        payload,
        ip_ok,
        transport_ok,
        options,
    )


def packets(path: Path) -> list[tuple[int, bytes]]:
    """Return (timestamp in ns, packet) of each Enhanced Packet Block, checking its fields."""
    result = []
    for block in read_blocks(path):
        if block.type != 6:
            continue
        interface, high, low, captured, original = struct.unpack_from("<IIIII", block.body)
        assert interface == 0
        assert captured <= original
        padded = captured + (-captured % 4)
        assert len(block.body) >= 20 + padded
        result.append(((high << 32) | low, block.body[20 : 20 + captured]))
    return result


def key_log_blocks(path: Path) -> list[tuple[int, str]]:
    """Return (block index, text) of each Decryption Secrets Block of type TLSK."""
    result = []
    for index, block in enumerate(read_blocks(path)):
        if block.type != 0x0A:
            continue
        secrets_type, length = struct.unpack_from("<II", block.body)
        assert secrets_type == 0x544C534B
        result.append((index, block.body[8 : 8 + length].decode("ascii")))
    return result
