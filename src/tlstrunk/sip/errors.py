"""Exceptions of the SIP core.

``SipParseError`` means the peer broke the protocol and carries the SIP status
of the response to send. ``SipUsageError`` means our own caller misused the API.
"""

from __future__ import annotations


class SipError(Exception):
    """Base class of every error raised by ``tlstrunk.sip``."""


class SipParseError(SipError):
    """A message, header or body from the peer is malformed.

    Attributes:
        status_code: the SIP status of the response to the fault (400, 416, 505, 513...).
        reason: a short reason phrase naming the fault, for the response's status
            line, e.g. "Missing Content-Length". It defaults to the message.
    """

    def __init__(self, message: str, status_code: int = 400, reason: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason if reason is not None else message


class FramingError(SipParseError):
    """A byte stream cannot be split into messages any more, so the connection must close."""

    #: The complete header block of the message at fault, when one was read;
    #: enough to send the error response before closing.
    head: bytes | None = None


class SipUsageError(SipError):
    """Our caller used the API in a way it does not allow."""
