"""A small authoritative DNS server on loopback for tests of DNS-based destinations.

It serves a zone given as a dict over UDP and TCP on the same free port, from
background threads. Answers are authoritative: NXDOMAIN for a name that is not
in the zone, NOERROR with an empty answer for a known name without the queried
type. SRV answers can carry the targets' A and AAAA records in the additional
section, and the server can be told to drop every query so that clients time out.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

#: Zone contents: owner name to a list of (type, presentation-format data) pairs.
Zone = Mapping[str, Sequence[tuple[str, str]]]

_TTL = 60


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.dns.answer(data)  # type: ignore[attr-defined]
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        header = sock.recv(2, socket.MSG_WAITALL)
        if len(header) < 2:
            return
        (length,) = struct.unpack("!H", header)
        reply = self.server.dns.answer(sock.recv(length, socket.MSG_WAITALL))  # type: ignore[attr-defined]
        if reply is not None:
            sock.sendall(struct.pack("!H", len(reply)) + reply)


class LoopbackDnsServer:
    """Authoritative DNS server for ``zone`` on ``host`` and a free UDP and TCP port.

    Set ``drop`` to make it ignore queries and ``additional`` to False to leave
    the additional section of SRV answers empty. ``queries`` lists every
    (name, type) pair received, in order, with names in lower case and without
    the final dot.
    """

    def __init__(self, zone: Zone, host: str = "127.0.5.1", *, additional: bool = True) -> None:
        self.records: dict[dns.name.Name, list[dns.rdata.Rdata]] = {}
        for owner, entries in zone.items():
            name = dns.name.from_text(owner)
            self.records[name] = [
                dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), text)
                for kind, text in entries
            ]
        self.host = host
        self.additional = additional
        self.drop = False
        self.queries: list[tuple[str, str]] = []
        self._servers: list[socketserver.BaseServer] = []

    @property
    def address(self) -> tuple[str, int]:
        """The (address, port) pair that both the UDP and the TCP server listen on."""
        return self.host, int(self._servers[0].server_address[1])  # type: ignore[index]

    def answer(self, wire: bytes) -> bytes | None:
        """Build the wire-format response to one query, or None to drop it."""
        query = dns.message.from_wire(wire)
        question = query.question[0]
        self.queries.append(
            (question.name.to_text(True).lower(), dns.rdatatype.to_text(question.rdtype))
        )
        if self.drop:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if question.name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        found = self._rrset(question.name, question.rdtype)
        if found is not None:
            response.answer.append(found)
            if question.rdtype == dns.rdatatype.SRV and self.additional:
                response.additional.extend(self._target_addresses(found))
        return response.to_wire()

    def _rrset(self, name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
        matching = [rd for rd in self.records.get(name, []) if rd.rdtype == rdtype]
        return dns.rrset.from_rdata_list(name, _TTL, matching) if matching else None

    def _target_addresses(self, srv: dns.rrset.RRset) -> list[dns.rrset.RRset]:
        found = []
        for record in srv:
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rrset = self._rrset(record.target, rdtype)
                if rrset is not None:
                    found.append(rrset)
        return found

    def __enter__(self) -> LoopbackDnsServer:
        for _attempt in range(20):
            udp = socketserver.ThreadingUDPServer((self.host, 0), _UdpHandler)
            try:
                tcp = socketserver.ThreadingTCPServer(
                    (self.host, udp.server_address[1]), _TcpHandler
                )
            except OSError:
                udp.server_close()
                continue
            self._servers = [udp, tcp]
            break
        else:
            raise OSError(f"no port on {self.host} is free for both UDP and TCP")
        for server in self._servers:
            server.daemon_threads = True  # type: ignore[attr-defined]
            server.dns = self  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
