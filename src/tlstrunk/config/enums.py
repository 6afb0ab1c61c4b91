"""Enumerations of the configuration model, shared by storage and the runtime.

Each value is the text the user sees and types, so the enums double as the
accepted spellings in the topology file and on the command line.
"""

from __future__ import annotations

from enum import StrEnum

from tlstrunk.callcontrol.digits import DiscardDigits

__all__ = [
    "AnswerMode",
    "ConsiderTrafficSecure",
    "DeviceSecurityMode",
    "DiscardDigits",
    "Distribution",
    "IncomingTransport",
    "OutgoingTransport",
    "TlsPolicy",
    "Transport",
]


class DeviceSecurityMode(StrEnum):
    """How much a trunk security profile protects signalling."""

    NON_SECURE = "Non Secure"
    AUTHENTICATED = "Authenticated"
    ENCRYPTED = "Encrypted"

    @property
    def requires_tls(self) -> bool:
        return self is not DeviceSecurityMode.NON_SECURE


class Transport(StrEnum):
    """A transport a node listens on or connects with."""

    TCP = "TCP"
    UDP = "UDP"
    TLS = "TLS"


#: Outgoing transports are the plain transports.
OutgoingTransport = Transport


class IncomingTransport(StrEnum):
    """Transport a security profile accepts on its incoming port."""

    TCP_UDP = "TCP+UDP"
    TCP = "TCP"
    UDP = "UDP"
    TLS = "TLS"

    @property
    def transports(self) -> tuple[Transport, ...]:
        """Return the transports a listener opens for this setting."""
        if self is IncomingTransport.TCP_UDP:
            return (Transport.TCP, Transport.UDP)
        return (Transport(self.value),)


class TlsPolicy(StrEnum):
    """Set of TLS versions, keys and signature hashes a profile accepts.

    ``modern`` is TLS 1.2 and 1.3 with RSA keys of at least 2048 bits or ECDSA,
    signed with SHA-256 or better. ``legacy`` also accepts TLS 1.0 and 1.1,
    1024-bit RSA and SHA-1, for old clusters only, and a node warns whenever a
    profile uses it.
    """

    MODERN = "modern"
    LEGACY = "legacy"


class ConsiderTrafficSecure(StrEnum):
    """When a call on a trunk counts as secure."""

    SRTP_AND_TLS = "When using both sRTP and TLS"
    SRTP_ONLY = "When using sRTP Only"


class AnswerMode(StrEnum):
    """Behaviour of a directory number's virtual phone on an incoming call."""

    #: The virtual phone answers at once.
    AUTO = "auto"
    #: The virtual phone rings until an operator answers or the caller gives up.
    MANUAL = "manual"


class Distribution(StrEnum):
    """The order in which a route group offers calls to its trunks."""

    #: Always the first trunk first, then the next on failure.
    TOP_DOWN = "Top Down"
    #: Each call starts one trunk further down the list than the call before.
    CIRCULAR = "Circular"
