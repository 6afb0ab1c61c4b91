"""Dialog creation, CSeq rules, route sets and in-dialog requests."""

from __future__ import annotations

import pytest
from sip_samples import sample

from tlstrunk.sip.address import Via
from tlstrunk.sip.dialog import Dialog, DialogState
from tlstrunk.sip.errors import SipParseError, SipUsageError
from tlstrunk.sip.message import Request, Response, make_response, parse_message

VIA = Via("TLS", "127.0.0.203", 5061, (("branch", "z9hG4bKnew"),))


def _invite() -> Request:
    message = parse_message(sample("invite_sdp.sip"))
    assert isinstance(message, Request)
    return message


def _ok() -> Response:
    message = parse_message(sample("ok_200_sdp.sip"))
    assert isinstance(message, Response)
    message.headers.add("Record-Route", "<sip:edge.example.com;lr>")
    return message


def test_uac_dialog_from_200() -> None:
    dialog = Dialog.from_uac(_invite(), _ok())
    assert dialog.dialog_id == ("3c26700a-1018@127.0.0.203", "a73kszlfl", "8321234356")
    assert dialog.state is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:9898@127.0.0.200:5061;transport=tls"
    assert dialog.route_set == (
        "<sip:edge.example.com;lr>", "<sip:127.0.0.200:5061;transport=tls;lr>")
    assert dialog.local_cseq == 101
    assert dialog.remote_cseq is None
    assert not dialog.secure


def test_uac_early_dialog_needs_tag() -> None:
    ringing = make_response(_invite(), 180)
    with pytest.raises(SipUsageError):
        Dialog.from_uac(_invite(), ringing)
    early = parse_message(sample("ringing_180.sip"))
    assert isinstance(early, Response)
    dialog = Dialog.from_uac(_invite(), early)
    assert dialog.state.value == "early"
    dialog.receive_response(_ok(), "INVITE")
    assert dialog.state is DialogState.CONFIRMED
    assert len(dialog.route_set) == 2


def test_ack_and_bye_from_uac() -> None:
    dialog = Dialog.from_uac(_invite(), _ok())
    ack = dialog.create_ack(101, VIA)
    bye = dialog.create_request("BYE", via=VIA)
    assert ack.cseq.number == 101
    assert ack.cseq.method == "ACK"
    assert bye.cseq.number == 102
    assert dialog.local_cseq == 102
    assert str(bye.uri) == "sip:9898@127.0.0.200:5061;transport=tls"
    assert bye.headers.get_all("Route") == list(dialog.route_set)
    assert bye.from_.tag == "a73kszlfl"
    assert bye.to.tag == "8321234356"
    assert bye.call_id == dialog.call_id
    assert bye.top_via == VIA
    assert "Contact" not in bye.headers
    assert parse_message(bye.to_bytes()) == parse_message(parse_message(bye.to_bytes()).to_bytes())
    with pytest.raises(SipUsageError):
        dialog.create_request("ACK", via=VIA)


def test_strict_route_becomes_request_uri() -> None:
    dialog = Dialog.from_uac(_invite(), _ok())
    dialog.route_set = ("<sip:strict.example.com>", "<sip:next.example.com;lr>")
    bye = dialog.create_request("BYE", via=VIA)
    assert str(bye.uri) == "sip:strict.example.com"
    assert bye.headers.get_all("Route") == [
        "<sip:next.example.com;lr>", "<sip:9898@127.0.0.200:5061;transport=tls>"]


def test_uas_dialog_and_cseq_order() -> None:
    invite = _invite()
    dialog = Dialog.from_uas(invite, "uas1", local_contact="<sip:9898@127.0.0.200:5061>")
    assert dialog.dialog_id == ("3c26700a-1018@127.0.0.203", "uas1", "a73kszlfl")
    assert dialog.remote_cseq == 101
    assert dialog.state is DialogState.EARLY
    bye = parse_message(sample("bye.sip"))
    assert isinstance(bye, Request)
    bye.headers.set("To", '<sip:9898@127.0.0.200>;tag=uas1')
    bye.headers.set("From", '<sip:1018@127.0.0.203>;tag=a73kszlfl')
    assert dialog.matches(bye)
    dialog.receive_request(bye)
    assert dialog.remote_cseq == 231
    stale = parse_message(bye.to_bytes().replace(b"CSeq: 231 BYE", b"CSeq: 230 BYE"))
    assert isinstance(stale, Request)
    with pytest.raises(SipParseError) as caught:
        dialog.receive_request(stale)
    assert caught.value.status_code == 500
    assert str(caught.value) == (
        "CSeq 230 is lower than 231, the last CSeq received in dialog "
        "3c26700a-1018@127.0.0.203.")
    reinvite = dialog.create_request("INVITE", via=VIA)
    assert reinvite.cseq.number == 1
    assert reinvite.headers.get("Contact") == "<sip:9898@127.0.0.200:5061>"


def test_target_refresh_updates_remote_target() -> None:
    dialog = Dialog.from_uas(_invite(), "uas1")
    update = dialog.create_request("UPDATE", via=VIA)  # shape only; now make it remote
    update.headers.set("CSeq", "102 UPDATE")
    update.headers.set("Contact", "<sip:1018@192.0.2.7:5061;transport=tls>")
    dialog.receive_request(update)
    assert str(dialog.remote_target) == "sip:1018@192.0.2.7:5061;transport=tls"


def test_terminated_dialog_rejects_requests() -> None:
    dialog = Dialog.from_uac(_invite(), _ok())
    dialog.terminate()
    with pytest.raises(SipUsageError):
        dialog.create_request("BYE", via=VIA)


def test_reinvite_and_update_from_uac() -> None:
    dialog = Dialog.from_uac(_invite(), _ok())
    assert dialog.local_cseq == 101
    reinvite = dialog.create_request("INVITE", via=VIA, body=b"v=0\r\n",
                                     content_type="application/sdp")
    assert reinvite.cseq.number == 102
    assert reinvite.to.tag == dialog.remote_tag
    ok = make_response(reinvite, 200)
    ok.headers.add("Contact", "<sip:9898@192.0.2.99:5061;transport=tls>")
    dialog.receive_response(ok, "INVITE")
    assert str(dialog.remote_target) == "sip:9898@192.0.2.99:5061;transport=tls"
    ack = dialog.create_ack(reinvite.cseq.number, VIA)
    assert ack.cseq.number == 102 and ack.cseq.method == "ACK"
    assert str(ack.uri) == "sip:9898@192.0.2.99:5061;transport=tls"
    update = dialog.create_request("UPDATE", via=VIA)
    assert update.cseq.number == 103
    refused = make_response(update, 491)
    refused.headers.add("Contact", "<sip:9898@192.0.2.100>")
    dialog.receive_response(refused, "UPDATE")  # a non-2xx refreshes nothing
    assert dialog.remote_target.host == "192.0.2.99"
    bye = dialog.create_request("BYE", via=VIA)
    assert bye.cseq.number == 104
    assert "Contact" not in bye.headers
