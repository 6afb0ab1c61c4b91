"""Max-Forwards as a number and text made fit for a Warning header."""

from __future__ import annotations

import pytest

from tlstrunk.sip.headers import warning_text
from tlstrunk.sip.message import Request, parse_message


def options(max_forwards: str | None) -> Request:
    line = f"Max-Forwards: {max_forwards}\r\n" if max_forwards is not None else ""
    data = (
        "OPTIONS sip:9898@127.0.9.2 SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.9.1:5060;branch=z9hG4bK-mf\r\n"
        f"{line}From: <sip:a@127.0.9.1>;tag=1\r\nTo: <sip:9898@127.0.9.2>\r\n"
        "Call-ID: mf\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("12", 12), (None, 70)])
def test_max_forwards_value(value: str | None, expected: int) -> None:
    assert options(value).max_forwards == expected


def test_warning_text_drops_quotes_and_line_breaks() -> None:
    text = warning_text('bad "name"\r\nwith \\ slash')
    assert '"' not in text
    assert "\r" not in text
    assert "\n" not in text
    assert "\\" not in text
