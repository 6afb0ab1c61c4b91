"""Stream cases reported against other SIP stacks, replayed against a node over real TLS.

A raw TLS client with CUCMA's certificate, bound to CUCMA's address, talks to
CUCM10 and writes the bytes exactly as each case needs them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

from lab_support import example_topology_on_free_ports, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.pki.store import CertificateStore

SDP = (
    b"v=0\r\no=caller 1 1 IN IP4 127.0.0.203\r\ns=-\r\nc=IN IP4 127.0.0.203\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def invite(call_id: str, display: str = "Caller") -> bytes:
    head = (
        "INVITE sip:9898@127.0.0.200 SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-inv-{call_id}\r\n"
        "Max-Forwards: 70\r\n"
        f'From: "{display}" <sip:1018@127.0.0.203>;tag=from-{call_id}\r\n'
        "To: <sip:9898@127.0.0.200>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        "Contact: <sip:1018@127.0.0.203:5061;transport=tls>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n"
    )
    return head.encode("utf-8") + SDP


def in_dialog(method: str, call_id: str, to_tag: str, cseq: int) -> bytes:
    return (
        f"{method} sip:9898@127.0.0.200:5061;transport=tls SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-{method.lower()}-{call_id}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:1018@127.0.0.203>;tag=from-{call_id}\r\n"
        f"To: <sip:9898@127.0.0.200>;tag={to_tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


class Peer:
    """A TLS client that reads SIP responses one by one."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> bytes:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length) if length else b""
        return head + body

    async def final_response(self) -> bytes:
        while True:
            response = await self.response()
            if not response.startswith(b"SIP/2.0 1"):
                return response


def to_tag(response: bytes) -> str:
    for line in response.split(b"\r\n"):
        if line.startswith(b"To:"):
            return line.split(b"tag=", 1)[1].decode()
    raise AssertionError(f"no To tag in {response!r}")


Scenario = Callable[[Node, Peer], Awaitable[None]]


def run_against_node(tmp_path: Path, scenario: Scenario) -> Node:
    async def main() -> Node:
        topology = example_topology_on_free_ports()
        paths = provision_lab(tmp_path, topology)
        node = Node(paths["CUCM10"])
        await node.start()
        chain, key = CertificateStore.open(paths["CUCMA"].certs).identity_files("CallManager")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(chain, key)
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.200",
                profile_port(topology, "CUCM10"),
                ssl=context,
                server_hostname="",
                local_addr=("127.0.0.203", 0),
            )
            await scenario(node, Peer(reader, writer))
            writer.close()
        finally:
            await node.stop()
        return node

    return asyncio.run(main())


def test_ack_and_bye_in_one_write(tmp_path: Path) -> None:
    async def scenario(node: Node, peer: Peer) -> None:
        await peer.write(invite("one-write"))
        ok = await peer.final_response()
        assert ok.startswith(b"SIP/2.0 200 OK")
        tag = to_tag(ok)
        await peer.write(
            in_dialog("ACK", "one-write", tag, 1) + in_dialog("BYE", "one-write", tag, 2)
        )
        bye_ok = await peer.final_response()
        assert bye_ok.startswith(b"SIP/2.0 200 OK")
        assert b"CSeq: 2 BYE" in bye_ok

    node = run_against_node(tmp_path, scenario)
    assert node.reports("one-write")[0].state == "cleared"


def test_invite_split_over_three_records(tmp_path: Path) -> None:
    data = invite("split-three")
    header_cut = data.index(b"Max-Forwards") + 5
    body_cut = data.index(b"m=audio") + 3

    async def scenario(node: Node, peer: Peer) -> None:
        for piece in (data[:header_cut], data[header_cut:body_cut], data[body_cut:]):
            await peer.write(piece)
            await asyncio.sleep(0.05)
        ok = await peer.final_response()
        assert ok.startswith(b"SIP/2.0 200 OK")
        assert b"m=audio" in ok
        reports = node.reports("split-three")
        assert len(reports) == 1
        assert reports[0].state == "connected"

    run_against_node(tmp_path, scenario)


def test_options_without_content_length_gets_400(tmp_path: Path) -> None:
    options = (
        b"OPTIONS sip:9898@127.0.0.200 SIP/2.0\r\n"
        b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-nolength\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.203>;tag=1\r\n"
        b"To: <sip:9898@127.0.0.200>\r\nCall-ID: no-length\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )

    async def scenario(node: Node, peer: Peer) -> None:
        await peer.write(options)
        response = await peer.response()
        assert response.startswith(b"SIP/2.0 400 Missing Content-Length\r\n")
        assert b"Call-ID: no-length" in response

    run_against_node(tmp_path, scenario)
    trace = (tmp_path / "CUCM10" / "traces" / "sdl.txt").read_text()
    assert "Invalid SIP message from 127.0.0.203:" in trace
    assert "Missing Content-Length" in trace


def test_utf8_display_name_reaches_trace(tmp_path: Path) -> None:
    display = "Renée 山田"

    async def scenario(node: Node, peer: Peer) -> None:
        data = invite("utf8-name", display)
        await peer.write(data)
        ok = await peer.final_response()
        assert ok.startswith(b"SIP/2.0 200 OK")
        assert f'"{display}"'.encode() in ok
        assert node.reports("utf8-name")[0].state == "connected"

    run_against_node(tmp_path, scenario)
    trace = (tmp_path / "CUCM10" / "traces" / "sdl.txt").read_text(encoding="utf-8")
    assert f'From: "{display}" <sip:1018@127.0.0.203>' in trace


def test_delayed_offer_invite_answered_with_offer(tmp_path: Path) -> None:
    key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"
    answer = (
        "v=0\r\no=caller 1 2 IN IP4 127.0.0.203\r\ns=-\r\nc=IN IP4 127.0.0.203\r\nt=0 0\r\n"
        "m=audio 40000 RTP/SAVP 0\r\n"
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\na=rtpmap:0 PCMU/8000\r\n"
    ).encode()

    async def scenario(node: Node, peer: Peer) -> None:
        data = invite("delayed")
        await peer.write(data[: data.index(b"Content-Type")] + b"Content-Length: 0\r\n\r\n")
        ok = await peer.final_response()
        assert ok.startswith(b"SIP/2.0 200 OK")
        assert b"RTP/SAVP" in ok
        assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in ok
        ack = in_dialog("ACK", "delayed", to_tag(ok), 1)
        ack = ack.replace(
            b"Content-Length: 0\r\n\r\n",
            b"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % len(answer),
        )
        await peer.write(ack + answer)
        await asyncio.sleep(0.2)
        report = node.reports("delayed")[0]
        assert report.state == "connected"
        assert report.srtp_suite == "AES_CM_128_HMAC_SHA1_80"
        assert report.secure

    node = run_against_node(tmp_path, scenario)
    assert node.reports("delayed")[0].state == "ended"


def test_stopping_node_sends_bye(tmp_path: Path) -> None:
    async def scenario() -> None:
        topology = example_topology_on_free_ports()
        paths = provision_lab(tmp_path, topology)
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            call = asyncio.create_task(a.place_call("1018", "9898", 30.0))
            await asyncio.sleep(0.8)
            await b.stop()
            report = await asyncio.wait_for(call, 10)
        finally:
            await a.stop()
        assert report.state == "cleared"
        assert report.reason == "BYE from the far end"
        assert b.reports(report.call_id)[0].state == "cleared"

    asyncio.run(scenario())


def test_out_of_dialog_refer_refused(tmp_path: Path) -> None:
    refer = (
        b"REFER sip:9898@127.0.0.200 SIP/2.0\r\n"
        b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-refer\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:1018@127.0.0.203>;tag=r1\r\n"
        b"To: <sip:9898@127.0.0.200>\r\nCall-ID: refer-1\r\nCSeq: 1 REFER\r\n"
        b"Refer-To: <sip:2000@127.0.0.203>\r\nContent-Length: 0\r\n\r\n"
    )

    async def scenario(node: Node, peer: Peer) -> None:
        await peer.write(refer)
        response = await peer.final_response()
        assert response.startswith(b"SIP/2.0 403 Out-of-dialog REFER Not Accepted\r\n")

    run_against_node(tmp_path, scenario)
    trace = (tmp_path / "CUCM10" / "traces" / "sdl.txt").read_text()
    assert "'Accept out-of-dialog REFER' off" in trace


def test_oversize_body_gets_513_before_close(tmp_path: Path) -> None:
    options = (
        b"OPTIONS sip:9898@127.0.0.200 SIP/2.0\r\n"
        b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-huge\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.203>;tag=1\r\n"
        b"To: <sip:9898@127.0.0.200>\r\nCall-ID: huge-body\r\nCSeq: 1 OPTIONS\r\n"
        b"Content-Length: 5000000\r\n\r\n"
    )

    async def scenario(node: Node, peer: Peer) -> None:
        await peer.write(options)
        response = await peer.response()
        assert response.startswith(b"SIP/2.0 513 Message Too Large\r\n")
        assert b"Call-ID: huge-body" in response
        assert await asyncio.wait_for(peer.reader.read(), 10) == b""

    run_against_node(tmp_path, scenario)
