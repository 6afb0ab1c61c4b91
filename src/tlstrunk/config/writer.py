"""Writes to the configuration database, each checked against the rows already there.

A ``ConfigWriter`` wraps one SQLAlchemy session, which is one transaction: the
store commits it when the ``with`` block ends and rolls it back on any error, so
a rejected value leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from tlstrunk.config import validate
from tlstrunk.config.enums import AnswerMode, DiscardDigits, Distribution, IncomingTransport
from tlstrunk.config.errors import ConfigError, ConfigNotFoundError
from tlstrunk.config.orm import (
    CallingSearchSpaceRow,
    CssMemberRow,
    DigestUserRow,
    DirectoryNumberRow,
    NodeRow,
    PartitionRow,
    RouteGroupMemberRow,
    RouteGroupRow,
    RouteListMemberRow,
    RouteListRow,
    RoutePatternRow,
    SecurityProfileRow,
    SipPhoneRow,
    SipTrunkRow,
    TrunkDestinationRow,
)
from tlstrunk.config.phone_writer import PhoneWrites
from tlstrunk.config.values import (
    DEFAULT_NO_ANSWER_TIMEOUT,
    DirectoryNumberConfig,
    NodeConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.i18n import _

__all__ = ["ConfigWriter"]

NamedRow = TypeVar(
    "NamedRow",
    SecurityProfileRow,
    SipTrunkRow,
    PartitionRow,
    CallingSearchSpaceRow,
    NodeRow,
    RouteGroupRow,
    RouteListRow,
)


class ConfigWriter(PhoneWrites):
    """Typed, validated writes inside one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- node -------------------------------------------------------------

    def set_node(self, name: str, address: str, description: str = "") -> tuple[str, ...]:
        """Set the node's name, address and description, keeping its realm and phone ports.

        Returns the digest users whose passwords must be set again, as ``save_node``.
        """
        row = self._node_row()
        node = NodeConfig(name, address, description)
        if row is not None:
            node = dataclasses.replace(
                node,
                sip_realm=row.sip_realm,
                phone_port=row.phone_port,
                phone_secure_port=row.phone_secure_port,
            )
        return self.save_node(node)

    # --- security profiles ------------------------------------------------

    def add_security_profile(self, profile: SecurityProfileConfig) -> None:
        """Add a SIP trunk security profile.

        Raises:
            ConfigError: a value is invalid, the name is taken, or the incoming
                port is used by another profile with another transport.
        """
        validate.check_security_profile(profile)
        self._reject_duplicate(SecurityProfileRow, profile.name, _("security profile"))
        self._reject_phone_port_clash(
            profile.name, profile.incoming_port, IncomingTransport(profile.incoming_transport)
        )
        clash = self._session.scalars(
            select(SecurityProfileRow).where(
                SecurityProfileRow.incoming_port == profile.incoming_port,
                SecurityProfileRow.incoming_transport != profile.incoming_transport,
            )
        ).first()
        if clash is not None:
            raise ConfigError(
                _(
                    "Incoming port {port} of profile {name!r} is already used by profile "
                    "{other!r} with incoming transport {transport}; choose another port or "
                    "the same transport."
                ).format(
                    port=profile.incoming_port,
                    name=profile.name,
                    other=clash.name,
                    transport=clash.incoming_transport.value,
                )
            )
        self._session.add(SecurityProfileRow(**vars(profile)))

    def delete_security_profile(self, name: str) -> None:
        """Delete a profile that no trunk uses."""
        row = self._find(SecurityProfileRow, name, _("security profile"))
        users = self._session.scalars(
            select(SipTrunkRow.name).where(SipTrunkRow.security_profile_id == row.id)
        ).all()
        if users:
            raise ConfigError(
                _(
                    "Security profile {name!r} is used by trunk {trunks}; give those trunks "
                    "another profile or delete them first."
                ).format(name=name, trunks=", ".join(users))
            )
        self._session.delete(row)

    # --- trunks -----------------------------------------------------------

    def add_trunk(self, trunk: TrunkSpec) -> None:
        """Add a SIP trunk whose profile, calling search space and digest users exist."""
        validate.check_trunk(trunk)
        self._reject_duplicate(SipTrunkRow, trunk.name, _("trunk"))
        row = SipTrunkRow(name=trunk.name)
        self._fill_trunk(row, trunk)
        self._session.add(row)

    def update_trunk(self, trunk: TrunkSpec) -> None:
        """Replace every setting of the existing trunk ``trunk.name``, destinations included."""
        validate.check_trunk(trunk)
        row = self._find(SipTrunkRow, trunk.name, _("trunk"))
        row.destinations.clear()
        # flush the removals first, or the new rows would clash on (trunk_id, position)
        self._session.flush()
        self._fill_trunk(row, trunk)

    def _fill_trunk(self, row: SipTrunkRow, trunk: TrunkSpec) -> None:
        profile = self._find(SecurityProfileRow, trunk.security_profile, _("security profile"))
        if profile.enable_digest_authentication and trunk.inbound_digest_user is None:
            raise ConfigError(
                _(
                    "Trunk {trunk!r} uses security profile {profile!r}, which enables digest "
                    "authentication, but has no inbound digest user; set one with "
                    "--inbound-digest-user (inbound_digest_user in a topology file), or turn "
                    "digest authentication off in the profile."
                ).format(trunk=trunk.name, profile=profile.name)
            )
        owner = _("trunk {name}").format(name=trunk.name)
        row.description = trunk.description
        row.device_pool = trunk.device_pool
        row.location = trunk.location
        row.srtp_allowed = trunk.srtp_allowed
        row.consider_traffic_secure = trunk.consider_traffic_secure
        row.security_profile = profile
        row.sip_profile = trunk.sip_profile
        row.dtmf_signaling_method = trunk.dtmf_signaling_method
        row.css = self._find_css(trunk.css)
        row.options_ping = trunk.options_ping
        row.options_ping_interval = trunk.options_ping_interval
        row.destination_is_srv = trunk.destination_is_srv
        row.inbound_digest_user = (
            None
            if trunk.inbound_digest_user is None
            else self._local_digest_user(trunk.inbound_digest_user, owner)
        )
        row.outbound_digest_user = (
            None
            if trunk.outbound_digest_user is None
            else self._find_digest_user_any_realm(trunk.outbound_digest_user, owner)
        )
        row.destinations = [
            TrunkDestinationRow(position=index, address=dest.address, port=dest.port)
            for index, dest in enumerate(trunk.destinations)
        ]

    def delete_trunk(self, name: str) -> None:
        """Delete a trunk that no route pattern points at and no route group lists."""
        row = self._find(SipTrunkRow, name, _("trunk"))
        groups = self._session.scalars(
            select(RouteGroupRow.name)
            .join(RouteGroupMemberRow, RouteGroupMemberRow.route_group_id == RouteGroupRow.id)
            .where(RouteGroupMemberRow.trunk_id == row.id)
        ).all()
        if groups:
            raise ConfigError(
                _(
                    "Trunk {name!r} is a member of route group {groups}; remove it from those "
                    "groups or delete them first."
                ).format(name=name, groups=", ".join(groups))
            )
        patterns = self._session.scalars(
            select(RoutePatternRow.pattern).where(RoutePatternRow.trunk_id == row.id)
        ).all()
        if patterns:
            raise ConfigError(
                _(
                    "Trunk {name!r} is the target of route pattern {patterns}; delete those "
                    "patterns or point them at another trunk first."
                ).format(name=name, patterns=", ".join(patterns))
            )
        self._session.delete(row)

    # --- partitions and calling search spaces -----------------------------

    def add_partition(self, name: str, description: str = "") -> None:
        """Add a route partition."""
        validate.check_name(_("partition"), name)
        if name.casefold() == "<none>":
            raise ConfigError(
                _(
                    "Partition name {name!r} is reserved for patterns without a partition; "
                    "choose another name."
                ).format(name=name)
            )
        self._reject_duplicate(PartitionRow, name, _("partition"))
        self._session.add(PartitionRow(name=name, description=description))

    def delete_partition(self, name: str) -> None:
        """Delete a partition that no pattern, number or calling search space uses."""
        row = self._find(PartitionRow, name, _("partition"))
        used = (
            self._session.scalars(
                select(RoutePatternRow.id).where(RoutePatternRow.partition_id == row.id)
            ).first()
            or self._session.scalars(
                select(DirectoryNumberRow.id).where(DirectoryNumberRow.partition_id == row.id)
            ).first()
            or self._session.scalars(
                select(CssMemberRow.id).where(CssMemberRow.partition_id == row.id)
            ).first()
        )
        if used is not None:
            raise ConfigError(
                _(
                    "Partition {name!r} is still used by a route pattern, directory number or "
                    "calling search space; remove it from those first."
                ).format(name=name)
            )
        self._session.delete(row)

    def add_css(self, name: str, partitions: Sequence[str], description: str = "") -> None:
        """Add a calling search space listing existing partitions in search order."""
        validate.check_name(_("calling search space"), name)
        self._reject_duplicate(CallingSearchSpaceRow, name, _("calling search space"))
        repeated = sorted({p for p in partitions if list(partitions).count(p) > 1})
        if repeated:
            raise ConfigError(
                _(
                    "Calling search space {name!r} lists partition {partition} more than "
                    "once; list each partition once."
                ).format(name=name, partition=", ".join(repeated))
            )
        members = [
            CssMemberRow(position=index, partition=self._find(PartitionRow, p, _("partition")))
            for index, p in enumerate(partitions)
        ]
        self._session.add(
            CallingSearchSpaceRow(name=name, description=description, members=members)
        )

    def delete_css(self, name: str) -> None:
        """Delete a calling search space that no trunk or number uses."""
        row = self._find(CallingSearchSpaceRow, name, _("calling search space"))
        used = (
            self._session.scalars(
                select(SipTrunkRow.id).where(SipTrunkRow.css_id == row.id)
            ).first()
            or self._session.scalars(
                select(DirectoryNumberRow.id).where(DirectoryNumberRow.css_id == row.id)
            ).first()
        )
        if used is not None:
            raise ConfigError(
                _(
                    "Calling search space {name!r} is used by a trunk or directory number; "
                    "change those first."
                ).format(name=name)
            )
        self._session.delete(row)

    # --- route groups and route lists -------------------------------------

    def add_route_group(self, group: RouteGroupConfig) -> None:
        """Add a route group of existing trunks, in the order calls try them."""
        validate.check_route_group(group)
        self._reject_duplicate(RouteGroupRow, group.name, _("route group"))
        members = [
            RouteGroupMemberRow(position=index, trunk=self._find(SipTrunkRow, trunk, _("trunk")))
            for index, trunk in enumerate(group.trunks)
        ]
        self._session.add(
            RouteGroupRow(
                name=group.name,
                description=group.description,
                distribution=Distribution(group.distribution),
                members=members,
            )
        )

    def delete_route_group(self, name: str) -> None:
        """Delete a route group that no route list contains."""
        row = self._find(RouteGroupRow, name, _("route group"))
        lists = self._session.scalars(
            select(RouteListRow.name)
            .join(RouteListMemberRow, RouteListMemberRow.route_list_id == RouteListRow.id)
            .where(RouteListMemberRow.route_group_id == row.id)
        ).all()
        if lists:
            raise ConfigError(
                _(
                    "Route group {name!r} is a member of route list {lists}; remove it from "
                    "those lists or delete them first."
                ).format(name=name, lists=", ".join(lists))
            )
        self._session.delete(row)

    def add_route_list(self, route_list: RouteListConfig) -> None:
        """Add a route list of existing route groups, in the order calls try them."""
        validate.check_route_list(route_list)
        self._reject_duplicate(RouteListRow, route_list.name, _("route list"))
        members = [
            RouteListMemberRow(
                position=index, route_group=self._find(RouteGroupRow, group, _("route group"))
            )
            for index, group in enumerate(route_list.route_groups)
        ]
        self._session.add(
            RouteListRow(name=route_list.name, description=route_list.description, members=members)
        )

    def delete_route_list(self, name: str) -> None:
        """Delete a route list that no route pattern points at."""
        row = self._find(RouteListRow, name, _("route list"))
        patterns = self._session.scalars(
            select(RoutePatternRow.pattern).where(RoutePatternRow.route_list_id == row.id)
        ).all()
        if patterns:
            raise ConfigError(
                _(
                    "Route list {name!r} is the target of route pattern {patterns}; delete "
                    "those patterns or point them elsewhere first."
                ).format(name=name, patterns=", ".join(patterns))
            )
        self._session.delete(row)

    # --- route patterns and directory numbers -----------------------------

    def add_route_pattern(
        self,
        pattern: str,
        trunk: str | None = None,
        partition: str | None = None,
        description: str = "",
        *,
        route_list: str | None = None,
        discard_digits: DiscardDigits = DiscardDigits.NONE,
        prefix_digits: str = "",
        called_party_mask: str = "",
    ) -> None:
        """Add a route pattern that sends matching calls to ``trunk`` or ``route_list``."""
        self.add_route(
            RoutePatternConfig(
                pattern=pattern,
                trunk=trunk,
                partition=partition,
                description=description,
                route_list=route_list,
                discard_digits=DiscardDigits(discard_digits),
                prefix_digits=prefix_digits,
                called_party_mask=called_party_mask,
            )
        )

    def add_route(self, route: RoutePatternConfig) -> None:
        """Add a route pattern given as a whole value."""
        validate.check_route_pattern(route)
        partition_row = self._find_partition(route.partition)
        self._reject_duplicate_pattern(route.pattern, partition_row)
        self._session.add(
            RoutePatternRow(
                pattern=route.pattern,
                partition=partition_row,
                trunk=None
                if route.trunk is None
                else self._find(SipTrunkRow, route.trunk, _("trunk")),
                route_list=None
                if route.route_list is None
                else self._find(RouteListRow, route.route_list, _("route list")),
                description=route.description,
                discard_digits=route.discard_digits,
                prefix_digits=route.prefix_digits,
                called_party_mask=route.called_party_mask,
            )
        )

    def delete_route_pattern(self, pattern: str, partition: str | None = None) -> None:
        """Delete a route pattern from a partition ("<None>" when ``partition`` is None)."""
        partition_row = self._find_partition(partition)
        row = self._session.scalars(
            select(RoutePatternRow).where(
                RoutePatternRow.pattern == pattern,
                _partition_clause(RoutePatternRow, partition_row),
            )
        ).first()
        if row is None:
            raise ConfigNotFoundError(
                _("Route pattern {pattern} in partition {partition} does not exist.").format(
                    pattern=pattern, partition=partition or "<None>"
                )
            )
        self._session.delete(row)

    def add_directory_number(
        self,
        number: str,
        partition: str | None = None,
        description: str = "",
        answer_mode: AnswerMode = AnswerMode.AUTO,
        css: str | None = None,
        no_answer_timeout: int = DEFAULT_NO_ANSWER_TIMEOUT,
    ) -> None:
        """Add a directory number (a virtual phone line) on this node."""
        validate.check_directory_number(number)
        config = DirectoryNumberConfig(
            number, partition, description, AnswerMode(answer_mode), css, no_answer_timeout
        )
        validate.check_no_answer_timeout(config)
        partition_row = self._find_partition(partition)
        self._reject_duplicate_pattern(number, partition_row)
        row = DirectoryNumberRow(number=number, partition=partition_row)
        self._fill_directory_number(row, config)
        self._session.add(row)

    def update_directory_number(self, number: DirectoryNumberConfig) -> None:
        """Replace the settings of the existing directory number ``number.number``.

        The number and partition identify the row; the description, answer
        mode, calling search space and no-answer timeout are replaced.
        """
        validate.check_no_answer_timeout(number)
        self._fill_directory_number(
            self._find_directory_number(number.number, number.partition), number
        )

    def _fill_directory_number(
        self, row: DirectoryNumberRow, number: DirectoryNumberConfig
    ) -> None:
        row.description = number.description
        row.answer_mode = AnswerMode(number.answer_mode)
        row.css = self._find_css(number.css)
        row.no_answer_timeout = number.no_answer_timeout

    def delete_directory_number(self, number: str, partition: str | None = None) -> None:
        """Delete a directory number from a partition; no phone may be on it."""
        row = self._find_directory_number(number, partition)
        phones = self._session.scalars(
            select(SipPhoneRow.name)
            .where(SipPhoneRow.directory_number_id == row.id)
            .order_by(SipPhoneRow.name)
        ).all()
        if phones:
            raise ConfigError(
                _(
                    "Directory number {number} is the line of phone {phones}; remove those "
                    "phones or move them to another number first."
                ).format(number=number, phones=", ".join(phones))
            )
        self._session.delete(row)

    def _find_directory_number(self, number: str, partition: str | None) -> DirectoryNumberRow:
        partition_row = self._find_partition(partition)
        row = self._session.scalars(
            select(DirectoryNumberRow).where(
                DirectoryNumberRow.number == number,
                _partition_clause(DirectoryNumberRow, partition_row),
            )
        ).first()
        if row is None:
            raise ConfigNotFoundError(
                _("Directory number {number} in partition {partition} does not exist.").format(
                    number=number, partition=partition or "<None>"
                )
            )
        return row

    def clear(self) -> None:
        """Delete every row, for rewriting a whole configuration in one transaction."""
        for table in (
            SipPhoneRow,
            DirectoryNumberRow,
            RoutePatternRow,
            RouteListMemberRow,
            RouteListRow,
            RouteGroupMemberRow,
            RouteGroupRow,
            TrunkDestinationRow,
            SipTrunkRow,
            DigestUserRow,
            CssMemberRow,
            CallingSearchSpaceRow,
            PartitionRow,
            SecurityProfileRow,
            NodeRow,
        ):
            self._session.execute(delete(table))

    # --- lookups ----------------------------------------------------------

    def _find(self, table: type[NamedRow], name: str, kind: str) -> NamedRow:
        row = self._session.scalars(select(table).where(table.name == name)).first()
        if row is None:
            raise ConfigNotFoundError(
                _(
                    "The {kind} {name!r} does not exist; create it first or check the spelling."
                ).format(kind=kind, name=name)
            )
        return row

    def _find_partition(self, name: str | None) -> PartitionRow | None:
        return None if name is None else self._find(PartitionRow, name, _("partition"))

    def _find_css(self, name: str | None) -> CallingSearchSpaceRow | None:
        if name is None:
            return None
        return self._find(CallingSearchSpaceRow, name, _("calling search space"))

    def _reject_duplicate(self, table: type[NamedRow], name: str, kind: str) -> None:
        found = self._session.scalars(select(table.id).where(table.name == name)).first()
        if found is not None:
            raise ConfigError(
                _("A {kind} named {name!r} already exists; choose another name.").format(
                    kind=kind, name=name
                )
            )

    def _reject_duplicate_pattern(self, text: str, partition: PartitionRow | None) -> None:
        # route patterns and directory numbers share one dial plan per partition
        pattern_clash = self._session.scalars(
            select(RoutePatternRow.id).where(
                RoutePatternRow.pattern == text, _partition_clause(RoutePatternRow, partition)
            )
        ).first()
        number_clash = self._session.scalars(
            select(DirectoryNumberRow.id).where(
                DirectoryNumberRow.number == text, _partition_clause(DirectoryNumberRow, partition)
            )
        ).first()
        if pattern_clash is not None or number_clash is not None:
            owner = _("a route pattern") if pattern_clash is not None else _("a directory number")
            raise ConfigError(
                _(
                    "{text} is already {owner} in partition {partition}; use another "
                    "partition or remove the existing entry."
                ).format(
                    text=text,
                    owner=owner,
                    partition="<None>" if partition is None else partition.name,
                )
            )


def _partition_clause(
    table: type[RoutePatternRow] | type[DirectoryNumberRow], partition: PartitionRow | None
) -> ColumnElement[bool]:
    if partition is None:
        return table.partition_id.is_(None)
    return table.partition_id == partition.id
