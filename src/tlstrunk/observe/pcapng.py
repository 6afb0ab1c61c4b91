"""pcapng file writer with embedded TLS secrets.

Writes the blocks of the pcapng format (draft-ietf-opsawg-pcapng): one Section
Header Block, one Interface Description Block with link type ``LINKTYPE_RAW``
(each packet starts with its IPv4 or IPv6 header), Enhanced Packet Blocks with
nanosecond timestamps (``if_tsresol`` = 9), and Decryption Secrets Blocks that
carry NSS key log lines (secrets type ``TLSK``).  Wireshark and tshark read the
secrets from those blocks and decrypt the TLS records that follow them, with no
key log file configured.

Hand-written because the standard library has no pcapng writer and the four
block types needed here take a few struct calls each, which does not justify a
packet-manipulation dependency.  All integers are written little-endian, and
the byte-order magic in the Section Header Block marks the file as such.

This module imports nothing from the rest of tlstrunk.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import BinaryIO

# block types
SECTION_HEADER_BLOCK = 0x0A0D0D0A
INTERFACE_DESCRIPTION_BLOCK = 0x00000001
ENHANCED_PACKET_BLOCK = 0x00000006
DECRYPTION_SECRETS_BLOCK = 0x0000000A

BYTE_ORDER_MAGIC = 0x1A2B3C4D
#: Secrets type of a Decryption Secrets Block holding NSS key log lines.
SECRETS_TYPE_TLS_KEY_LOG = 0x544C534B
#: Raw IP packets without a link-layer header.
LINKTYPE_RAW = 101

# option codes
OPT_ENDOFOPT = 0
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9

#: Timestamps are written in nanoseconds since the Unix epoch.
TIMESTAMP_RESOLUTION_EXPONENT = 9

MAX_SNAPLEN = 262144


def _pad32(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def encode_option(code: int, value: bytes) -> bytes:
    """Encode one option: code, length, value padded to 32 bits."""
    return struct.pack("<HH", code, len(value)) + _pad32(value)


def encode_options(options: Iterable[tuple[int, bytes]]) -> bytes:
    """Encode a list of options followed by ``opt_endofopt``, or nothing when empty."""
    encoded = b"".join(encode_option(code, value) for code, value in options)
    if not encoded:
        return b""
    return encoded + encode_option(OPT_ENDOFOPT, b"")


def encode_block(block_type: int, body: bytes) -> bytes:
    """Frame ``body`` as a block: type, total length, padded body, total length."""
    padded = _pad32(body)
    total_length = 12 + len(padded)
    return struct.pack("<II", block_type, total_length) + padded + struct.pack("<I", total_length)


def section_header_block(application: str) -> bytes:
    """Encode a Section Header Block of version 1.0 with an unknown section length."""
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
    body += encode_options([(SHB_USERAPPL, application.encode("utf-8"))])
    return encode_block(SECTION_HEADER_BLOCK, body)


def interface_description_block(link_type: int, snaplen: int, name: str) -> bytes:
    """Encode an Interface Description Block with nanosecond timestamps."""
    body = struct.pack("<HHI", link_type, 0, snaplen)
    body += encode_options(
        [
            (IF_NAME, name.encode("utf-8")),
            (IF_TSRESOL, bytes([TIMESTAMP_RESOLUTION_EXPONENT])),
        ]
    )
    return encode_block(INTERFACE_DESCRIPTION_BLOCK, body)


def enhanced_packet_block(
    interface_id: int, timestamp_ns: int, packet: bytes, original_length: int
) -> bytes:
    """Encode an Enhanced Packet Block; ``packet`` is the captured (maybe cut) data."""
    body = struct.pack(
        "<IIIII",
        interface_id,
        (timestamp_ns >> 32) & 0xFFFFFFFF,
        timestamp_ns & 0xFFFFFFFF,
        len(packet),
        original_length,
    )
    return encode_block(ENHANCED_PACKET_BLOCK, body + _pad32(packet))


def decryption_secrets_block(secrets_type: int, secrets: bytes) -> bytes:
    """Encode a Decryption Secrets Block."""
    body = struct.pack("<II", secrets_type, len(secrets)) + _pad32(secrets)
    return encode_block(DECRYPTION_SECRETS_BLOCK, body)


class PcapngWriter:
    """A pcapng file with one raw-IP interface, written block by block.

    The Section Header Block and the Interface Description Block are written
    when the file is opened.  Methods may be called from several threads; each
    block is written whole under a lock.

    Args:
        path: file to create; an existing file is replaced.
        snaplen: the maximum number of bytes kept of each packet.
        application: the name written as the file's ``shb_userappl`` option.

    Raises:
        ValueError: ``snaplen`` is outside 1..262144.
        OSError: the file cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        snaplen: int = 65535,
        application: str = "tlstrunk",
    ) -> None:
        if not 1 <= snaplen <= MAX_SNAPLEN:
            raise ValueError(
                f"Snapshot length {snaplen} is invalid; use a value from 1 to {MAX_SNAPLEN}."
            )
        self.path = os.fspath(path)
        self.snaplen = snaplen
        self.packets_written = 0
        self._lock = threading.Lock()
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115
        self._write(section_header_block(application))
        self._write(interface_description_block(LINKTYPE_RAW, snaplen, "tlstrunk"))

    def write_packet(self, packet: bytes, timestamp_ns: int) -> None:
        """Write one IPv4 or IPv6 packet, cut to the snapshot length.

        Args:
            packet: the packet, starting with its IP header.
            timestamp_ns: capture time in nanoseconds since the Unix epoch.
        """
        if timestamp_ns < 0:
            raise ValueError(f"Timestamp {timestamp_ns} is negative; pass nanoseconds since 1970.")
        block = enhanced_packet_block(0, timestamp_ns, packet[: self.snaplen], len(packet))
        with self._lock:
            self._write(block)
            self.packets_written += 1

    def write_tls_key_log(self, lines: Iterable[str]) -> None:
        """Write NSS key log lines as one Decryption Secrets Block.

        Each line is written with a trailing newline; blank lines are dropped and
        nothing is written when no line remains.
        """
        text = "".join(line.strip() + "\n" for line in lines if line.strip())
        if not text:
            return
        block = decryption_secrets_block(SECRETS_TYPE_TLS_KEY_LOG, text.encode("ascii"))
        with self._lock:
            self._write(block)

    def flush(self) -> None:
        """Push written blocks to the operating system."""
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Flush and close the file; later calls do nothing."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    @property
    def closed(self) -> bool:
        """Whether the file has been closed."""
        return self._file is None

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, block: bytes) -> None:
        if self._file is None:
            raise ValueError(f"Capture file {self.path} is closed; open a new writer.")
        self._file.write(block)
