"""An immutable view of a node's configuration, built once and read by the call path.

The runtime never queries the database while handling calls. It loads a
``ConfigSnapshot`` at start and after each change and swaps the reference, so
every call uses one consistent configuration.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from tlstrunk.callcontrol.digits import AnalysisResult, DigitAnalyzer, RouteEntry
from tlstrunk.config.enums import Distribution, Transport
from tlstrunk.config.errors import ConfigNotFoundError
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    DigestUserConfig,
    DirectoryNumberConfig,
    NodeConfig,
    PartitionConfig,
    PhoneConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkConfig,
)
from tlstrunk.i18n import _

__all__ = ["ConfigSnapshot", "Listener", "RouteTarget"]

#: Destination chosen by digit analysis: ("trunk", trunk name), ("route_list",
#: route list name) or ("dn", number).
RouteTarget = tuple[Literal["trunk", "route_list", "dn"], str]


def _empty_mapping() -> Mapping[Any, Any]:
    return MappingProxyType({})


class Listener(NamedTuple):
    """A port to listen on and the profiles whose trunks arrive there.

    A phone listener has ``phones`` set and no profiles.
    """

    transport: Transport
    port: int
    profiles: tuple[SecurityProfileConfig, ...]
    phones: bool = False


@dataclass(frozen=True)
class ConfigSnapshot:
    """A node's whole configuration plus its compiled dial plan.

    Build it with ``ConfigSnapshot.build``; the mappings are read-only views.
    """

    node: NodeConfig | None
    security_profiles: Mapping[str, SecurityProfileConfig]
    trunks: Mapping[str, TrunkConfig]
    partitions: tuple[PartitionConfig, ...]
    calling_search_spaces: Mapping[str, CallingSearchSpaceConfig]
    route_patterns: tuple[RoutePatternConfig, ...]
    directory_numbers: tuple[DirectoryNumberConfig, ...]
    analyzer: DigitAnalyzer[RouteTarget]
    route_groups: Mapping[str, RouteGroupConfig] = field(default_factory=_empty_mapping)
    route_lists: Mapping[str, RouteListConfig] = field(default_factory=_empty_mapping)
    #: Digest users by (name, realm).
    digest_users: Mapping[tuple[str, str], DigestUserConfig] = field(default_factory=_empty_mapping)
    #: SIP phones by device name.
    phones: Mapping[str, PhoneConfig] = field(default_factory=_empty_mapping)

    @classmethod
    def build(
        cls,
        node: NodeConfig | None,
        security_profiles: Sequence[SecurityProfileConfig],
        trunks: Sequence[TrunkConfig],
        partitions: Sequence[PartitionConfig],
        calling_search_spaces: Sequence[CallingSearchSpaceConfig],
        route_patterns: Sequence[RoutePatternConfig],
        directory_numbers: Sequence[DirectoryNumberConfig],
        route_groups: Sequence[RouteGroupConfig] = (),
        route_lists: Sequence[RouteListConfig] = (),
        *,
        digest_users: Sequence[DigestUserConfig] = (),
        phones: Sequence[PhoneConfig] = (),
    ) -> ConfigSnapshot:
        """Compile the dial plan and freeze the collections."""
        entries: list[RouteEntry[RouteTarget]] = [
            RouteEntry(rp.pattern, rp.partition, _route_target(rp), rp.description, rp.transform)
            for rp in route_patterns
        ]
        entries += [
            RouteEntry(dn.number, dn.partition, ("dn", dn.number), dn.description)
            for dn in directory_numbers
        ]
        return cls(
            node=node,
            security_profiles=MappingProxyType({p.name: p for p in security_profiles}),
            trunks=MappingProxyType({t.name: t for t in trunks}),
            partitions=tuple(partitions),
            calling_search_spaces=MappingProxyType({c.name: c for c in calling_search_spaces}),
            route_patterns=tuple(route_patterns),
            directory_numbers=tuple(directory_numbers),
            analyzer=DigitAnalyzer.build(entries),
            route_groups=MappingProxyType({g.name: g for g in route_groups}),
            route_lists=MappingProxyType({r.name: r for r in route_lists}),
            digest_users=MappingProxyType({(u.name, u.realm): u for u in digest_users}),
            phones=MappingProxyType({p.name: p for p in phones}),
        )

    @classmethod
    def empty(cls) -> ConfigSnapshot:
        """Return a snapshot with nothing configured."""
        return cls.build(None, (), (), (), (), (), ())

    # --- lookups for the call path ----------------------------------------

    @cached_property
    def _trunks_by_source(self) -> Mapping[str, TrunkConfig]:
        index: dict[str, TrunkConfig] = {}
        for trunk in self.trunks.values():
            for destination in trunk.destinations:
                index.setdefault(_address_key(destination.address), trunk)
        return MappingProxyType(index)

    def trunk_for_source(self, address: str) -> TrunkConfig | None:
        """Return the trunk one of whose destinations is ``address``, if any.

        Inbound requests are matched to a trunk by their source address. Host
        name destinations match only the same name: this lookup resolves nothing.
        When two trunks list the same address, the first trunk by name wins.
        """
        return self._trunks_by_source.get(_address_key(address))

    def listeners(self) -> list[Listener]:
        """Return the (transport, port) pairs to listen on, with their profiles.

        Only profiles that at least one trunk uses open a listener. A profile
        with incoming transport TCP+UDP yields a TCP and a UDP listener. The
        node's phone port yields a TCP and a UDP phone listener and its secure
        phone port a TLS one. The writer rejects a phone port that a profile
        also uses, so the two kinds never share a (transport, port) pair.
        """
        grouped: dict[tuple[Transport, int], list[SecurityProfileConfig]] = {}
        for trunk in self.trunks.values():
            profile = trunk.profile
            for transport in profile.incoming_transport.transports:
                members = grouped.setdefault((transport, profile.incoming_port), [])
                if profile not in members:
                    members.append(profile)
        listeners = [
            Listener(transport, port, tuple(profiles))
            for (transport, port), profiles in grouped.items()
        ]
        listeners += self._phone_listeners()
        return sorted(listeners, key=lambda item: (item.transport, item.port))

    def _phone_listeners(self) -> list[Listener]:
        node = self.node
        if node is None:
            return []
        listeners = []
        if node.phone_port is not None:
            listeners.append(Listener(Transport.TCP, node.phone_port, (), phones=True))
            listeners.append(Listener(Transport.UDP, node.phone_port, (), phones=True))
        if node.phone_secure_port is not None:
            listeners.append(Listener(Transport.TLS, node.phone_secure_port, (), phones=True))
        return listeners

    def options_ping_trunks(self) -> tuple[TrunkConfig, ...]:
        """Return the trunks with OPTIONS ping on, by name."""
        return tuple(trunk for _name, trunk in sorted(self.trunks.items()) if trunk.options_ping)

    def directory_number(self, number: str) -> DirectoryNumberConfig | None:
        """Return the directory number ``number`` in any partition, if configured.

        When several partitions contain the number, "<None>" comes first and
        then the partitions in the order they were created. Use
        ``directory_number_in`` with the partition of a ``RouteMatch`` to pick
        one exactly.
        """
        for entry in self.directory_numbers:
            if entry.number == number:
                return entry
        return None

    def directory_number_in(
        self, number: str, partition: str | None
    ) -> DirectoryNumberConfig | None:
        """Return the directory number ``number`` in ``partition`` (None is "<None>")."""
        for entry in self.directory_numbers:
            if entry.number == number and entry.partition == partition:
                return entry
        return None

    def digest_user(self, name: str, realm: str) -> DigestUserConfig | None:
        """Return the digest user ``name`` in ``realm``, if configured."""
        return self.digest_users.get((name, realm))

    @cached_property
    def _phones_by_number(self) -> Mapping[str, tuple[PhoneConfig, ...]]:
        index: dict[str, list[PhoneConfig]] = {}
        for name in sorted(self.phones):
            phone = self.phones[name]
            index.setdefault(phone.directory_number, []).append(phone)
        return MappingProxyType({number: tuple(found) for number, found in index.items()})

    def phones_for_number(self, number: str) -> tuple[PhoneConfig, ...]:
        """Return the phones whose line is ``number`` in any partition, by device name."""
        return self._phones_by_number.get(number, ())

    def css_partitions(self, css: str | None) -> tuple[str | None, ...]:
        """Return the partitions a calling search space searches, "<None>" last.

        Raises:
            ConfigNotFoundError: no calling search space has that name.
        """
        if css is None:
            return (None,)
        found = self.calling_search_spaces.get(css)
        if found is None:
            raise ConfigNotFoundError(
                _("Calling search space {name!r} does not exist; check the spelling.").format(
                    name=css
                )
            )
        return (*found.partitions, None)

    def route_list_trunks(self, name: str) -> tuple[TrunkConfig, ...]:
        """Return the trunks of route list ``name`` in the order a call tries them.

        The trunks of the list's first route group come first, in the group's
        order. A trunk that appears in two groups is tried once, where it first
        appears. For a group with Circular distribution, each call of this
        method starts one trunk further down that group, so successive calls
        spread over its trunks.

        Raises:
            ConfigNotFoundError: no route list has that name.
        """
        route_list = self.route_lists.get(name)
        if route_list is None:
            raise ConfigNotFoundError(
                _("Route list {name!r} does not exist; check the spelling.").format(name=name)
            )
        ordered: dict[str, TrunkConfig] = {}
        for group_name in route_list.route_groups:
            group = self.route_groups[group_name]
            names = group.trunks
            if group.distribution is Distribution.CIRCULAR and names:
                start = next(self._circular_counters[group.name]) % len(names)
                names = names[start:] + names[:start]
            for trunk_name in names:
                ordered.setdefault(trunk_name, self.trunks[trunk_name])
        return tuple(ordered.values())

    def target_trunks(self, target: RouteTarget) -> tuple[TrunkConfig, ...]:
        """Return the trunks to try, in order, for a target of digit analysis.

        A trunk target gives that trunk, a route list its trunks in order, and
        a directory number none.
        """
        kind, name = target
        if kind == "trunk":
            return (self.trunks[name],)
        if kind == "route_list":
            return self.route_list_trunks(name)
        return ()

    @cached_property
    def _circular_counters(self) -> Mapping[str, itertools.count[int]]:
        # the only state a snapshot changes after its build; next() on a count is atomic
        return {
            name: itertools.count()
            for name, group in self.route_groups.items()
            if group.distribution is Distribution.CIRCULAR
        }

    def analyze(self, digits: str, css: str | None = None) -> AnalysisResult[RouteTarget]:
        """Run digit analysis for ``digits`` with the calling search space named ``css``."""
        return self.analyzer.analyze(digits, self.css_partitions(css))


def _route_target(route: RoutePatternConfig) -> RouteTarget:
    if route.route_list is not None:
        return ("route_list", route.route_list)
    if route.trunk is None:
        raise ValueError(f"route pattern {route.pattern} has neither a trunk nor a route list")
    return ("trunk", route.trunk)


def _address_key(address: str) -> str:
    text = address.strip("[]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.rstrip(".").casefold()
