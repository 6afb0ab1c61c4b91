"""atheris target: the SIP parsers, the stream framer and the SDP and SDES parsers.

Run by ``test_fuzz.py`` as ``python fuzz_sip.py CORPUS -runs=N -max_total_time=S``.
Only ``SipParseError`` (``FramingError`` is a subclass) may escape a parser;
any other exception is a finding and makes atheris exit with a crash report.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from tlstrunk.sip.check import check_message
    from tlstrunk.sip.errors import SipParseError
    from tlstrunk.sip.framing import BadMessage, StreamFramer
    from tlstrunk.sip.message import parse_message
    from tlstrunk.sip.peek import peek_routing
    from tlstrunk.sip.sdp import CryptoAttribute, SessionDescription


def _quietly(function: object, data: object) -> None:
    with contextlib.suppress(SipParseError):
        function(data)  # type: ignore[operator]


def _frame(data: bytes) -> None:
    # split the input at a point chosen by its first byte, so reads vary
    cut = data[0] % (len(data) + 1) if data else 0
    framer = StreamFramer(max_header_bytes=2048, max_body_bytes=4096)
    try:
        for chunk in (data[:cut], data[cut:]):
            for event in framer.feed(chunk):
                if isinstance(event, BadMessage):
                    event.try_make_response()
    except SipParseError:
        pass
    assert len(framer._buffer) <= 2048 + 4096 + len(data)


def test_one_input(data: bytes) -> None:
    """Feed one input to every parser."""
    _quietly(parse_message, data)
    _quietly(peek_routing, data)
    _quietly(check_message, data)
    _frame(data)
    text = data.decode("utf-8", "replace")
    _quietly(SessionDescription.parse, data)
    _quietly(CryptoAttribute.parse, text)


def main() -> None:
    """Run atheris with the command-line options."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
