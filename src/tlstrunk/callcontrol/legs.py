"""Building the legs of bridged calls: trunks and registered phones as call targets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tlstrunk.callcontrol.bridge import Leg, Target
from tlstrunk.callcontrol.registrar import Binding
from tlstrunk.config.enums import DeviceSecurityMode
from tlstrunk.config.values import PhoneConfig, TrunkConfig
from tlstrunk.sip.uri import SipUri
from tlstrunk.transport.connection import SipChannel


def hop_security(channel: SipChannel, mode: DeviceSecurityMode) -> str:
    """Return the Call-Info security level of one hop: its transport and security mode."""
    if channel.tls is None:
        return "NotAuthenticated"
    return "Encrypted" if mode is DeviceSecurityMode.ENCRYPTED else "Authenticated"


def trunk_leg(trunk: TrunkConfig, channel: SipChannel) -> Leg:
    """Return the leg of a call over ``trunk`` on ``channel``."""
    security = hop_security(channel, trunk.profile.device_security_mode)
    return Leg(
        channel=channel,
        keys_allowed=security == "Encrypted" and trunk.srtp_allowed,
        label=f"trunk {trunk.name}",
        security=security,
        trunk=trunk.name,
        transmit_security=trunk.profile.transmit_security_status,
    )


def phone_leg(phone: PhoneConfig, number: str, channel: SipChannel) -> Leg:
    """Return the leg of a call with a registered phone on ``channel``."""
    security = hop_security(channel, phone.device_security_mode)
    return Leg(
        channel=channel,
        keys_allowed=security == "Encrypted",
        label=f"phone {phone.name} ({number})",
        security=security,
        phone=phone.name,
    )


def transport_param(channel: SipChannel) -> str:
    """Return the URI parameter naming a stream transport; UDP is the default and has none."""
    if channel.transport == "UDP":
        return ""
    return f";transport={channel.transport.lower()}"


def trunk_target(
    trunk: TrunkConfig,
    called: str,
    connect: Callable[[TrunkConfig], Awaitable[SipChannel]],
    *,
    failover: bool,
) -> Target:
    """Return the target that sends the call to ``called`` over ``trunk``."""

    async def open_leg() -> Leg:
        return trunk_leg(trunk, await connect(trunk))

    def request_uri(leg: Leg) -> SipUri:
        host, port = leg.channel.remote
        host_text = f"[{host}]" if ":" in host else host
        return SipUri.parse(f"sip:{called}@{host_text}:{port}{transport_param(leg.channel)}")

    return Target(
        label=f"trunk {trunk.name}",
        open=open_leg,
        request_uri=request_uri,
        called=called,
        failover=failover,
    )


def phone_target(phone: PhoneConfig, binding: Binding, ring_timeout: float) -> Target:
    """Return the target that rings the registered ``binding`` of ``phone``."""

    async def open_leg() -> Leg:
        return phone_leg(phone, binding.number, binding.channel)

    return Target(
        label=f"phone {phone.name} ({binding.number})",
        open=open_leg,
        request_uri=lambda leg: binding.contact.uri,
        called=binding.number,
        ring_timeout=ring_timeout,
    )
