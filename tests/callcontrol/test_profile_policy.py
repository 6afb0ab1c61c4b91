"""The accept-flags of a SIP trunk security profile, applied to requests."""

from __future__ import annotations

import dataclasses

import pytest

from tlstrunk.callcontrol.policy import profile_refusal, refusal_explanation
from tlstrunk.config.values import SecurityProfileConfig
from tlstrunk.sip.message import Request, parse_message

PROFILE = SecurityProfileConfig(name="Secure SIP Trunk Profile TLS")


def request(method: str, *, to_tag: bool = False, extra: str = "") -> Request:
    tag = ";tag=abc" if to_tag else ""
    data = (
        f"{method} sip:9898@127.0.0.200 SIP/2.0\r\n"
        "Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-policy\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:1018@127.0.0.203>;tag=1\r\n"
        f"To: <sip:9898@127.0.0.200>{tag}\r\nCall-ID: policy\r\nCSeq: 1 {method}\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


CASES = [
    ("REFER", False, "Refer-To: <sip:2000@127.0.0.203>\r\n", "accept_out_of_dialog_refer"),
    ("NOTIFY", False, "Event: dialog\r\nSubscription-State: active\r\n",
     "accept_unsolicited_notification"),
    ("SUBSCRIBE", False, "Event: presence\r\n", "accept_presence_subscription"),
    ("INVITE", False, "Replaces: abc@host;to-tag=1;from-tag=2\r\n", "accept_replaces_header"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "to_tag", "extra", "setting"), CASES)
def test_refused_unless_accepted(method: str, to_tag: bool, extra: str, setting: str) -> None:
    message = request(method, to_tag=to_tag, extra=extra)
    refused = profile_refusal(message, PROFILE)
    assert refused is not None
    assert refused.status == 403
    assert "off" in refusal_explanation(refused, message, PROFILE.name)
    accepting = dataclasses.replace(PROFILE, **{setting: True})
    accepted = profile_refusal(message, accepting)
    assert accepted is not None
    assert accepted.status == 501


@pytest.mark.parametrize(
    ("method", "to_tag", "extra"),
    [
        ("INVITE", False, ""),
        ("REFER", True, "Refer-To: <sip:2000@127.0.0.203>\r\n"),
        ("NOTIFY", True, "Event: refer\r\nSubscription-State: active\r\n"),
        ("SUBSCRIBE", False, "Event: dialog\r\n"),
        ("OPTIONS", False, ""),
    ],
)
def test_other_requests_pass(method: str, to_tag: bool, extra: str) -> None:
    assert profile_refusal(request(method, to_tag=to_tag, extra=extra), PROFILE) is None
