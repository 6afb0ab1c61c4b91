"""Immutable configuration values: what the store accepts and what snapshots hold."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from tlstrunk.callcontrol.digits import CalledPartyTransform
from tlstrunk.config.enums import (
    AnswerMode,
    ConsiderTrafficSecure,
    DeviceSecurityMode,
    DiscardDigits,
    Distribution,
    IncomingTransport,
    TlsPolicy,
    Transport,
)
from tlstrunk.pki.names import parse_subject_names

__all__ = [
    "CallingSearchSpaceConfig",
    "Destination",
    "DigestUserConfig",
    "DirectoryNumberConfig",
    "NodeConfig",
    "PartitionConfig",
    "PhoneConfig",
    "RouteGroupConfig",
    "RouteListConfig",
    "RoutePatternConfig",
    "SecurityProfileConfig",
    "TrunkConfig",
    "TrunkSpec",
]

DEFAULT_SIP_PORT = 5060
DEFAULT_SIP_TLS_PORT = 5061
DEFAULT_OPTIONS_PING_INTERVAL = 60
#: Seconds the phones of a directory number ring before the call fails with 480.
DEFAULT_NO_ANSWER_TIMEOUT = 12


@dataclass(frozen=True)
class NodeConfig:
    """The node a configuration database belongs to."""

    name: str
    address: str
    description: str = ""
    #: Realm of the digest challenges this node sends; "" means the node name.
    sip_realm: str = ""
    #: Port for SIP phones over UDP and TCP; ``None`` opens no phone listener.
    phone_port: int | None = None
    #: Port for SIP phones over TLS; ``None`` opens none.
    phone_secure_port: int | None = None

    @property
    def realm(self) -> str:
        """The realm of this node's digest challenges: ``sip_realm`` or else the node name."""
        return self.sip_realm or self.name


@dataclass(frozen=True)
class DigestUserConfig:
    """Credentials a phone or a far end authenticates with, stored as HA1 hashes only.

    The hashes are H(name:realm:password) in hexadecimal. Both are "" after the
    node's realm changed and until the password is set again, so a caller must
    treat an empty hash as a credential that matches no response.
    """

    name: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    description: str = ""

    @property
    def has_password(self) -> bool:
        return bool(self.ha1_md5 and self.ha1_sha256)


@dataclass(frozen=True)
class PhoneConfig:
    """A SIP phone that registers with this node and rings for one directory number."""

    #: Device name, such as SEP00AABBCCDDEE.
    name: str
    #: The phone's line 1.
    directory_number: str
    #: Partition of ``directory_number``; ``None`` is "<None>".
    partition: str | None = None
    #: Digest user the phone authenticates as; ``None`` registers without authentication.
    digest_user: str | None = None
    device_security_mode: DeviceSecurityMode = DeviceSecurityMode.NON_SECURE
    #: Authenticated and Encrypted phones need TLS.
    transport: IncomingTransport = IncomingTransport.TCP_UDP
    description: str = ""


@dataclass(frozen=True)
class SecurityProfileConfig:
    """A SIP trunk security profile; the defaults are those of a non-secure profile."""

    name: str
    description: str = ""
    device_security_mode: DeviceSecurityMode = DeviceSecurityMode.NON_SECURE
    incoming_transport: IncomingTransport = IncomingTransport.TCP_UDP
    outgoing_transport: Transport = Transport.TCP
    enable_digest_authentication: bool = False
    #: Minutes a digest nonce stays valid.
    nonce_validity_time: int = 600
    #: One or more names separated by spaces, commas or semicolons.
    x509_subject_name: str = ""
    incoming_port: int = DEFAULT_SIP_PORT
    enable_application_level_authorization: bool = False
    accept_presence_subscription: bool = False
    accept_out_of_dialog_refer: bool = False
    accept_unsolicited_notification: bool = False
    accept_replaces_header: bool = False
    transmit_security_status: bool = False
    allow_charging_header: bool = False
    sip_v150_outbound_sdp_offer_filtering: str = "Use Default Filter"
    tls_policy: TlsPolicy = TlsPolicy.MODERN

    @property
    def x509_subject_names(self) -> tuple[str, ...]:
        """Return the accepted peer names, empty when none is set."""
        if not self.x509_subject_name.strip():
            return ()
        return parse_subject_names(self.x509_subject_name)

    @property
    def uses_tls(self) -> bool:
        return (
            self.incoming_transport is IncomingTransport.TLS
            or self.outgoing_transport is Transport.TLS
        )


@dataclass(frozen=True)
class Destination:
    """One address and port a trunk sends requests to."""

    address: str
    port: int = DEFAULT_SIP_PORT

    def __str__(self) -> str:
        try:
            is_v6 = ipaddress.ip_address(self.address).version == 6
        except ValueError:
            is_v6 = False
        return f"[{self.address}]:{self.port}" if is_v6 else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class TrunkSpec:
    """A SIP trunk as written to the store: the profile is named, not resolved."""

    name: str
    security_profile: str
    destinations: tuple[Destination, ...]
    description: str = ""
    device_pool: str = "Default"
    location: str = "Hub_None"
    srtp_allowed: bool = False
    consider_traffic_secure: ConsiderTrafficSecure = ConsiderTrafficSecure.SRTP_AND_TLS
    sip_profile: str = "Standard SIP Profile"
    dtmf_signaling_method: str = "No Preference"
    #: Calling search space for digit analysis of calls arriving on the trunk.
    css: str | None = None
    #: Send SIP OPTIONS to the destinations to see whether the far end is up.
    options_ping: bool = False
    #: Seconds between OPTIONS requests, from 5 to 3600.
    options_ping_interval: int = DEFAULT_OPTIONS_PING_INTERVAL
    #: Destination addresses are domain names resolved by DNS SRV; port 0 means "from SRV".
    destination_is_srv: bool = False
    #: With a digest-enabled profile, the far end must authenticate as this digest user.
    inbound_digest_user: str | None = None
    #: Digest user that responds to the far end's 401 or 407, in the realm of the challenge.
    outbound_digest_user: str | None = None


@dataclass(frozen=True)
class TrunkConfig:
    """A SIP trunk with its security profile resolved, as the runtime uses it."""

    name: str
    profile: SecurityProfileConfig
    destinations: tuple[Destination, ...]
    description: str = ""
    device_pool: str = "Default"
    location: str = "Hub_None"
    srtp_allowed: bool = False
    consider_traffic_secure: ConsiderTrafficSecure = ConsiderTrafficSecure.SRTP_AND_TLS
    sip_profile: str = "Standard SIP Profile"
    dtmf_signaling_method: str = "No Preference"
    css: str | None = None
    options_ping: bool = False
    options_ping_interval: int = DEFAULT_OPTIONS_PING_INTERVAL
    destination_is_srv: bool = False
    inbound_digest_user: str | None = None
    outbound_digest_user: str | None = None

    @property
    def security_profile(self) -> str:
        return self.profile.name

    @property
    def sends_srtp_keys(self) -> bool:
        """Whether SRTP keys may travel in SDP: SRTP allowed and signalling encrypted."""
        return (
            self.srtp_allowed
            and self.profile.device_security_mode is DeviceSecurityMode.ENCRYPTED
            and self.profile.outgoing_transport is Transport.TLS
        )

    def to_spec(self) -> TrunkSpec:
        """Return the storable form of this trunk."""
        return TrunkSpec(
            name=self.name,
            security_profile=self.profile.name,
            destinations=self.destinations,
            description=self.description,
            device_pool=self.device_pool,
            location=self.location,
            srtp_allowed=self.srtp_allowed,
            consider_traffic_secure=self.consider_traffic_secure,
            sip_profile=self.sip_profile,
            dtmf_signaling_method=self.dtmf_signaling_method,
            css=self.css,
            options_ping=self.options_ping,
            options_ping_interval=self.options_ping_interval,
            destination_is_srv=self.destination_is_srv,
            inbound_digest_user=self.inbound_digest_user,
            outbound_digest_user=self.outbound_digest_user,
        )


@dataclass(frozen=True)
class PartitionConfig:
    """A route partition: a named group of patterns."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class CallingSearchSpaceConfig:
    """An ordered list of partitions that digit analysis searches."""

    name: str
    partitions: tuple[str, ...] = field(default=())
    description: str = ""


@dataclass(frozen=True)
class RouteGroupConfig:
    """An ordered list of trunks that calls are offered to in turn."""

    name: str
    trunks: tuple[str, ...] = field(default=())
    distribution: Distribution = Distribution.TOP_DOWN
    description: str = ""


@dataclass(frozen=True)
class RouteListConfig:
    """An ordered list of route groups: the trunks of the first group are tried first."""

    name: str
    route_groups: tuple[str, ...] = field(default=())
    description: str = ""


@dataclass(frozen=True)
class RoutePatternConfig:
    """A route pattern pointing at a trunk or a route list (exactly one of them).

    ``partition`` ``None`` is "<None>". ``discard_digits``, ``prefix_digits``
    and ``called_party_mask`` rewrite the called number before the call leaves.
    """

    pattern: str
    trunk: str | None = None
    partition: str | None = None
    description: str = ""
    route_list: str | None = None
    discard_digits: DiscardDigits = DiscardDigits.NONE
    prefix_digits: str = ""
    called_party_mask: str = ""

    @property
    def transform(self) -> CalledPartyTransform:
        return CalledPartyTransform(self.discard_digits, self.prefix_digits, self.called_party_mask)


@dataclass(frozen=True)
class DirectoryNumberConfig:
    """A directory number of a (virtual) phone on this node."""

    number: str
    partition: str | None = None
    description: str = ""
    answer_mode: AnswerMode = AnswerMode.AUTO
    #: Calling search space the phone dials with; ``None`` reaches only "<None>".
    css: str | None = None
    #: Seconds the phones ring before the call fails with 480, from 1 to 300.
    no_answer_timeout: int = DEFAULT_NO_ANSWER_TIMEOUT
