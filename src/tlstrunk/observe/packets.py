"""IPv4, IPv6, TCP and UDP packets built from addresses and payload.

A node sees stream payload, not packets, so captures synthesise the packets a
sniffer would have seen.  Checksums are real (RFC 791 for the IPv4 header,
RFC 9293 3.1 and RFC 768 with the pseudo-header, RFC 8200 8.1 for IPv6), so
Wireshark validates them and its TCP reassembly accepts the segments.

This module imports nothing from the rest of tlstrunk.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PROTOCOL_TCP = 6
PROTOCOL_UDP = 17

# TCP flags (RFC 9293 3.1)
FIN = 0x01
SYN = 0x02
PSH = 0x08
ACK = 0x10

TTL = 64
#: Advertised receive window; no window scaling is negotiated.
TCP_WINDOW = 65535
MAX_IP_PAYLOAD = 65535 - 20

_ip_identifications = itertools.count(1)


@dataclass(frozen=True)
class Endpoint:
    """An IP address and a port."""

    address: IPAddress
    port: int

    @classmethod
    def parse(cls, endpoint: tuple[str, int]) -> Endpoint:
        """Build an endpoint from a socket address such as ``("127.0.0.1", 5061)``.

        A zone suffix (``fe80::1%eth0``) is dropped and an IPv4-mapped IPv6
        address becomes the IPv4 address, as Wireshark shows it.

        Raises:
            ValueError: the address or the port is invalid.
        """
        host, port = endpoint[0], endpoint[1]
        try:
            address = ipaddress.ip_address(str(host).split("%", 1)[0])
        except ValueError:
            raise ValueError(
                f"Address {host!r} is not an IPv4 or IPv6 address; pass the socket's "
                "numeric address."
            ) from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"Port {port} is invalid; use a value from 0 to 65535.")
        return cls(address, int(port))


def internet_checksum(data: bytes) -> int:
    """Return the 16-bit ones' complement of the ones' complement sum of ``data``."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def check_same_version(source: Endpoint, destination: Endpoint) -> None:
    """Raise ValueError unless both endpoints are IPv4 or both are IPv6."""
    if source.address.version != destination.address.version:
        raise ValueError(
            f"Addresses {source.address} and {destination.address} are of different IP "
            "versions; a packet needs two IPv4 or two IPv6 addresses."
        )


def _pseudo_header(source: Endpoint, destination: Endpoint, protocol: int, length: int) -> bytes:
    if source.address.version == 4:
        return (
            source.address.packed
            + destination.address.packed
            + struct.pack("!BBH", 0, protocol, length)
        )
    return (
        source.address.packed + destination.address.packed + struct.pack("!I3xB", length, protocol)
    )


def ip_packet(source: Endpoint, destination: Endpoint, protocol: int, segment: bytes) -> bytes:
    """Wrap a transport segment in an IPv4 or IPv6 header.

    Raises:
        ValueError: the address families differ or the segment is too long.
    """
    check_same_version(source, destination)
    if len(segment) > MAX_IP_PAYLOAD:
        raise ValueError(
            f"Segment of {len(segment)} bytes does not fit one IP packet; split it into "
            f"pieces of at most {MAX_IP_PAYLOAD} bytes."
        )
    if source.address.version == 6:
        header = struct.pack("!IHBB", 6 << 28, len(segment), protocol, TTL)
        return header + source.address.packed + destination.address.packed + segment
    identification = next(_ip_identifications) & 0xFFFF
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(segment),
        identification,
        0x4000,  # don't fragment
        TTL,
        protocol,
        0,
        source.address.packed,
        destination.address.packed,
    )
    checksum = internet_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + segment


def tcp_packet(
    source: Endpoint,
    destination: Endpoint,
    *,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    mss: int | None = None,
) -> bytes:
    """Build an IP packet carrying one TCP segment with a valid checksum.

    Args:
        seq: sequence number of the first payload byte (or of the SYN/FIN).
        ack: acknowledgement number, used only when ``flags`` has ACK.
        flags: TCP flags such as ``SYN | ACK``.
        payload: segment data.
        mss: maximum segment size option, sent on SYN segments.
    """
    options = b"" if mss is None else struct.pack("!BBH", 2, 4, mss)
    data_offset = (20 + len(options)) // 4
    header = (
        struct.pack(
            "!HHIIBBHHH",
            source.port,
            destination.port,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF if flags & ACK else 0,
            data_offset << 4,
            flags,
            TCP_WINDOW,
            0,
            0,
        )
        + options
    )
    segment = header + payload
    pseudo = _pseudo_header(source, destination, PROTOCOL_TCP, len(segment))
    checksum = internet_checksum(pseudo + segment)
    segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
    return ip_packet(source, destination, PROTOCOL_TCP, segment)


def udp_packet(source: Endpoint, destination: Endpoint, payload: bytes) -> bytes:
    """Build an IP packet carrying one UDP datagram with a valid checksum."""
    length = 8 + len(payload)
    if length > 0xFFFF:
        raise ValueError(
            f"UDP payload of {len(payload)} bytes is too long; the limit is {0xFFFF - 8} bytes."
        )
    datagram = struct.pack("!HHHH", source.port, destination.port, length, 0) + payload
    pseudo = _pseudo_header(source, destination, PROTOCOL_UDP, length)
    # RFC 768: a computed checksum of zero is sent as all ones.
    checksum = internet_checksum(pseudo + datagram) or 0xFFFF
    datagram = datagram[:6] + struct.pack("!H", checksum) + datagram[8:]
    return ip_packet(source, destination, PROTOCOL_UDP, datagram)
