"""Configuration values shared by the configuration tests."""

from __future__ import annotations

from tlstrunk.config import (
    Destination,
    DeviceSecurityMode,
    IncomingTransport,
    SecurityProfileConfig,
    Transport,
    TrunkSpec,
)

TLS_PROFILE = SecurityProfileConfig(
    name="Secure SIP Trunk Profile TLS",
    device_security_mode=DeviceSecurityMode.ENCRYPTED,
    incoming_transport=IncomingTransport.TLS,
    outgoing_transport=Transport.TLS,
    x509_subject_name="CUCM10",
    incoming_port=5061,
    transmit_security_status=True,
)

TLS_TRUNK = TrunkSpec(
    name="CUCM10",
    security_profile=TLS_PROFILE.name,
    destinations=(Destination("127.0.0.200", 5061),),
    srtp_allowed=True,
)
