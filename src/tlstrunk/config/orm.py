"""SQLAlchemy tables of the configuration database.

The schema itself is created by the Alembic migrations in ``migrations/``;
these classes must stay in step with the newest migration.
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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

NAME_LENGTH = 50
ENUM_LENGTH = 40
#: Length of an ISO 8601 UTC time with microseconds, as the CDR table stores times.
TIME_LENGTH = 32
#: Length of a hexadecimal SHA-256 digest, the longest HA1 kept.
HA1_LENGTH = 64


def _enum_column(enum_class: type[enum.Enum]) -> Enum:
    # stored as the display value in a plain VARCHAR, matching the migrations
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=ENUM_LENGTH,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    pass


class NodeRow(Base):
    __tablename__ = "node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    sip_realm: Mapped[str] = mapped_column(String(255), default="")
    phone_port: Mapped[int | None] = mapped_column()
    phone_secure_port: Mapped[int | None] = mapped_column()


class DigestUserRow(Base):
    """Digest credentials as HA1 hashes; the password itself is never stored."""

    __tablename__ = "digest_user"
    __table_args__ = (UniqueConstraint("name", "realm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    realm: Mapped[str] = mapped_column(String(255))
    ha1_md5: Mapped[str] = mapped_column(String(HA1_LENGTH))
    ha1_sha256: Mapped[str] = mapped_column(String(HA1_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")


class SecurityProfileRow(Base):
    __tablename__ = "security_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    device_security_mode: Mapped[DeviceSecurityMode] = mapped_column(
        _enum_column(DeviceSecurityMode)
    )
    incoming_transport: Mapped[IncomingTransport] = mapped_column(_enum_column(IncomingTransport))
    outgoing_transport: Mapped[Transport] = mapped_column(_enum_column(Transport))
    enable_digest_authentication: Mapped[bool] = mapped_column(default=False)
    nonce_validity_time: Mapped[int] = mapped_column(default=600)
    x509_subject_name: Mapped[str] = mapped_column(Text, default="")
    incoming_port: Mapped[int] = mapped_column(default=5060)
    enable_application_level_authorization: Mapped[bool] = mapped_column(default=False)
    accept_presence_subscription: Mapped[bool] = mapped_column(default=False)
    accept_out_of_dialog_refer: Mapped[bool] = mapped_column(default=False)
    accept_unsolicited_notification: Mapped[bool] = mapped_column(default=False)
    accept_replaces_header: Mapped[bool] = mapped_column(default=False)
    transmit_security_status: Mapped[bool] = mapped_column(default=False)
    allow_charging_header: Mapped[bool] = mapped_column(default=False)
    sip_v150_outbound_sdp_offer_filtering: Mapped[str] = mapped_column(
        String(ENUM_LENGTH), default="Use Default Filter"
    )
    tls_policy: Mapped[TlsPolicy] = mapped_column(_enum_column(TlsPolicy), default=TlsPolicy.MODERN)


class PartitionRow(Base):
    __tablename__ = "partition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class CallingSearchSpaceRow(Base):
    __tablename__ = "calling_search_space"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    members: Mapped[list[CssMemberRow]] = relationship(
        order_by="CssMemberRow.position", cascade="all, delete-orphan"
    )


class CssMemberRow(Base):
    __tablename__ = "css_member"
    __table_args__ = (UniqueConstraint("css_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    css_id: Mapped[int] = mapped_column(ForeignKey("calling_search_space.id", ondelete="CASCADE"))
    partition_id: Mapped[int] = mapped_column(ForeignKey("partition.id"))
    position: Mapped[int] = mapped_column()
    partition: Mapped[PartitionRow] = relationship()


class SipTrunkRow(Base):
    __tablename__ = "sip_trunk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    device_pool: Mapped[str] = mapped_column(String(NAME_LENGTH), default="Default")
    location: Mapped[str] = mapped_column(String(NAME_LENGTH), default="Hub_None")
    srtp_allowed: Mapped[bool] = mapped_column(default=False)
    consider_traffic_secure: Mapped[ConsiderTrafficSecure] = mapped_column(
        _enum_column(ConsiderTrafficSecure)
    )
    security_profile_id: Mapped[int] = mapped_column(ForeignKey("security_profile.id"))
    sip_profile: Mapped[str] = mapped_column(String(NAME_LENGTH), default="Standard SIP Profile")
    dtmf_signaling_method: Mapped[str] = mapped_column(String(ENUM_LENGTH), default="No Preference")
    css_id: Mapped[int | None] = mapped_column(ForeignKey("calling_search_space.id"))
    options_ping: Mapped[bool] = mapped_column(default=False)
    #: Seconds between OPTIONS requests when ``options_ping`` is on.
    options_ping_interval: Mapped[int] = mapped_column(default=60)
    destination_is_srv: Mapped[bool] = mapped_column(default=False)
    inbound_digest_user_id: Mapped[int | None] = mapped_column(ForeignKey("digest_user.id"))
    #: One row of the outbound user; the runtime picks the row whose realm the challenge names.
    outbound_digest_user_id: Mapped[int | None] = mapped_column(ForeignKey("digest_user.id"))
    security_profile: Mapped[SecurityProfileRow] = relationship()
    css: Mapped[CallingSearchSpaceRow | None] = relationship()
    inbound_digest_user: Mapped[DigestUserRow | None] = relationship(
        foreign_keys=[inbound_digest_user_id]
    )
    outbound_digest_user: Mapped[DigestUserRow | None] = relationship(
        foreign_keys=[outbound_digest_user_id]
    )
    destinations: Mapped[list[TrunkDestinationRow]] = relationship(
        order_by="TrunkDestinationRow.position", cascade="all, delete-orphan"
    )


class TrunkDestinationRow(Base):
    __tablename__ = "trunk_destination"
    __table_args__ = (UniqueConstraint("trunk_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trunk_id: Mapped[int] = mapped_column(ForeignKey("sip_trunk.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column()


class RouteGroupRow(Base):
    __tablename__ = "route_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    distribution: Mapped[Distribution] = mapped_column(_enum_column(Distribution))
    members: Mapped[list[RouteGroupMemberRow]] = relationship(
        order_by="RouteGroupMemberRow.position", cascade="all, delete-orphan"
    )


class RouteGroupMemberRow(Base):
    __tablename__ = "route_group_member"
    __table_args__ = (UniqueConstraint("route_group_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_group_id: Mapped[int] = mapped_column(ForeignKey("route_group.id", ondelete="CASCADE"))
    trunk_id: Mapped[int] = mapped_column(ForeignKey("sip_trunk.id"))
    position: Mapped[int] = mapped_column()
    trunk: Mapped[SipTrunkRow] = relationship()


class RouteListRow(Base):
    __tablename__ = "route_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    members: Mapped[list[RouteListMemberRow]] = relationship(
        order_by="RouteListMemberRow.position", cascade="all, delete-orphan"
    )


class RouteListMemberRow(Base):
    __tablename__ = "route_list_member"
    __table_args__ = (UniqueConstraint("route_list_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_list_id: Mapped[int] = mapped_column(ForeignKey("route_list.id", ondelete="CASCADE"))
    route_group_id: Mapped[int] = mapped_column(ForeignKey("route_group.id"))
    position: Mapped[int] = mapped_column()
    route_group: Mapped[RouteGroupRow] = relationship()


class RoutePatternRow(Base):
    __tablename__ = "route_pattern"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(String(NAME_LENGTH))
    partition_id: Mapped[int | None] = mapped_column(ForeignKey("partition.id"))
    # exactly one of trunk_id and route_list_id is set; the writer enforces it
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("sip_trunk.id"))
    route_list_id: Mapped[int | None] = mapped_column(ForeignKey("route_list.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    discard_digits: Mapped[DiscardDigits] = mapped_column(
        _enum_column(DiscardDigits), default=DiscardDigits.NONE
    )
    prefix_digits: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    called_party_mask: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    partition: Mapped[PartitionRow | None] = relationship()
    trunk: Mapped[SipTrunkRow | None] = relationship()
    route_list: Mapped[RouteListRow | None] = relationship()


class DirectoryNumberRow(Base):
    __tablename__ = "directory_number"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(NAME_LENGTH))
    partition_id: Mapped[int | None] = mapped_column(ForeignKey("partition.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    answer_mode: Mapped[AnswerMode] = mapped_column(_enum_column(AnswerMode))
    css_id: Mapped[int | None] = mapped_column(ForeignKey("calling_search_space.id"))
    no_answer_timeout: Mapped[int] = mapped_column(default=12)
    partition: Mapped[PartitionRow | None] = relationship()
    css: Mapped[CallingSearchSpaceRow | None] = relationship()


class SipPhoneRow(Base):
    __tablename__ = "sip_phone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    directory_number_id: Mapped[int] = mapped_column(ForeignKey("directory_number.id"))
    digest_user_id: Mapped[int | None] = mapped_column(ForeignKey("digest_user.id"))
    device_security_mode: Mapped[DeviceSecurityMode] = mapped_column(
        _enum_column(DeviceSecurityMode)
    )
    transport: Mapped[IncomingTransport] = mapped_column(_enum_column(IncomingTransport))
    description: Mapped[str] = mapped_column(Text, default="")
    directory_number: Mapped[DirectoryNumberRow] = relationship()
    digest_user: Mapped[DigestUserRow | None] = relationship()


class CdrRow(Base):
    """One call detail record; times are ISO 8601 text in UTC, so text order is time order."""

    __tablename__ = "cdr"
    __table_args__ = (Index("ix_cdr_start", "start"), Index("ix_cdr_call_id", "call_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(255))
    node: Mapped[str] = mapped_column(String(NAME_LENGTH))
    direction: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    calling: Mapped[str] = mapped_column(String(255))
    called: Mapped[str] = mapped_column(String(255))
    trunk: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    start: Mapped[str] = mapped_column(String(TIME_LENGTH))
    answer: Mapped[str | None] = mapped_column(String(TIME_LENGTH))
    end: Mapped[str] = mapped_column(String(TIME_LENGTH))
    duration: Mapped[float | None] = mapped_column(Float)
    cause: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    secure: Mapped[bool] = mapped_column()
    srtp_suite: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    signalling_encrypted: Mapped[bool] = mapped_column()
    packets_sent: Mapped[int | None] = mapped_column()
    packets_received: Mapped[int | None] = mapped_column()
    packets_decrypted: Mapped[int | None] = mapped_column()
    packets_failed: Mapped[int | None] = mapped_column()
