"""An immutable view of a node's configuration, built once and read by the call path.

The runtime never queries the database while handling calls. It loads a
``ConfigSnapshot`` at start and after each change and swaps the reference, so
every call uses one consistent configuration.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Literal, NamedTuple

from tlstrunk.callcontrol.digits import AnalysisResult, DigitAnalyzer, RouteEntry
from tlstrunk.config.enums import Transport
from tlstrunk.config.errors import ConfigNotFoundError
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    DirectoryNumberConfig,
    NodeConfig,
    PartitionConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkConfig,
)
from tlstrunk.i18n import _

__all__ = ["ConfigSnapshot", "Listener", "RouteTarget"]

#: Destination chosen by digit analysis: ("trunk", trunk name) or ("dn", number).
RouteTarget = tuple[Literal["trunk", "dn"], str]


class Listener(NamedTuple):
    """A port to listen on and the profiles whose trunks arrive there."""

    transport: Transport
    port: int
    profiles: tuple[SecurityProfileConfig, ...]


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
    ) -> ConfigSnapshot:
        """Compile the dial plan and freeze the collections."""
        entries: list[RouteEntry[RouteTarget]] = [
            RouteEntry(rp.pattern, rp.partition, ("trunk", rp.trunk), rp.description)
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
        with incoming transport TCP+UDP yields a TCP and a UDP listener.
        """
        grouped: dict[tuple[Transport, int], list[SecurityProfileConfig]] = {}
        for trunk in self.trunks.values():
            profile = trunk.profile
            for transport in profile.incoming_transport.transports:
                members = grouped.setdefault((transport, profile.incoming_port), [])
                if profile not in members:
                    members.append(profile)
        return [
            Listener(transport, port, tuple(profiles))
            for (transport, port), profiles in sorted(grouped.items())
        ]

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

    def analyze(self, digits: str, css: str | None = None) -> AnalysisResult[RouteTarget]:
        """Run digit analysis for ``digits`` with the calling search space named ``css``."""
        return self.analyzer.analyze(digits, self.css_partitions(css))


def _address_key(address: str) -> str:
    text = address.strip("[]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.rstrip(".").casefold()
