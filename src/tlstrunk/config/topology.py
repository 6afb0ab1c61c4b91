"""Topology files: several clusters on one machine, described in YAML.

The demo reads such a file, builds a CA and one node per cluster, and places
the calls it lists. Every error names the file, the key path inside it (for
example ``clusters[1].trunks[0].destinations[0].port``) and the fix.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tlstrunk.config import validate
from tlstrunk.config.enums import IncomingTransport
from tlstrunk.config.errors import ConfigError
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    Destination,
    DirectoryNumberConfig,
    NodeConfig,
    PartitionConfig,
    PhoneConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.i18n import _
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.keys import KeySpec, hash_algorithm

__all__ = [
    "CallSpec",
    "CertificateSpec",
    "ClusterTopology",
    "DigestUserSpec",
    "Topology",
    "TopologyError",
    "apply_cluster",
    "load_topology",
]

V = TypeVar("V")


class TopologyError(ConfigError):
    """A topology file that cannot be used; the message starts with file and key path."""


@dataclass(frozen=True)
class CertificateSpec:
    """The key and certificate to create for a CA or a node."""

    common_name: str
    key: str = "rsa2048"
    hash: str = "sha256"
    #: Validity in days.
    days: int = 825


@dataclass(frozen=True)
class DigestUserSpec:
    """A digest user of a topology file, with the password the store hashes."""

    name: str
    password: str
    #: ``None`` is the cluster's realm.
    realm: str | None = None
    description: str = ""


@dataclass(frozen=True)
class ClusterTopology:
    """One cluster (a single node here) and the configuration to write into it."""

    name: str
    address: str
    certificate: CertificateSpec
    description: str = ""
    security_profiles: tuple[SecurityProfileConfig, ...] = ()
    trunks: tuple[TrunkSpec, ...] = ()
    partitions: tuple[PartitionConfig, ...] = ()
    calling_search_spaces: tuple[CallingSearchSpaceConfig, ...] = ()
    route_patterns: tuple[RoutePatternConfig, ...] = ()
    directory_numbers: tuple[DirectoryNumberConfig, ...] = ()
    route_groups: tuple[RouteGroupConfig, ...] = ()
    route_lists: tuple[RouteListConfig, ...] = ()
    #: Realm of the node's digest challenges; "" is the cluster name.
    realm: str = ""
    phone_port: int | None = None
    phone_secure_port: int | None = None
    digest_users: tuple[DigestUserSpec, ...] = ()
    phones: tuple[PhoneConfig, ...] = ()

    @property
    def node(self) -> NodeConfig:
        """The node settings of this cluster."""
        return NodeConfig(
            name=self.name,
            address=self.address,
            description=self.description,
            sip_realm=self.realm,
            phone_port=self.phone_port,
            phone_secure_port=self.phone_secure_port,
        )


@dataclass(frozen=True)
class CallSpec:
    """A call the demo places: from a number on a cluster to dialled digits."""

    from_cluster: str
    from_number: str
    to: str


@dataclass(frozen=True)
class Topology:
    """A whole topology file, validated."""

    path: Path
    ca: CertificateSpec
    clusters: tuple[ClusterTopology, ...]
    calls: tuple[CallSpec, ...] = ()

    def cluster(self, name: str) -> ClusterTopology:
        """Return the cluster called ``name``. Raises ``KeyError`` when there is none."""
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file.

    Raises:
        TopologyError: the file is unreadable, is not YAML, or a value is invalid.
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TopologyError(
            _("Cannot read topology file {path}: {error}.").format(path=path, error=error.strerror)
        ) from error
    except yaml.YAMLError as error:
        raise TopologyError(
            _("{path} is not valid YAML: {error}").format(path=path, error=error)
        ) from error
    return _Reader(path).topology(document)


def apply_cluster(store: ConfigStore, cluster: ClusterTopology) -> None:
    """Replace the whole configuration in ``store`` by ``cluster``'s, in one transaction."""
    with store.batch() as writer:
        writer.clear()
        writer.save_node(cluster.node)
        for user in cluster.digest_users:
            writer.add_digest_user(user.name, user.password, user.realm, user.description)
        for profile in cluster.security_profiles:
            writer.add_security_profile(profile)
        for partition in cluster.partitions:
            writer.add_partition(partition.name, partition.description)
        for css in cluster.calling_search_spaces:
            writer.add_css(css.name, css.partitions, css.description)
        for trunk in cluster.trunks:
            writer.add_trunk(trunk)
        for group in cluster.route_groups:
            writer.add_route_group(group)
        for route_list in cluster.route_lists:
            writer.add_route_list(route_list)
        for route in cluster.route_patterns:
            writer.add_route(route)
        for number in cluster.directory_numbers:
            writer.add_directory_number(
                number.number,
                number.partition,
                number.description,
                number.answer_mode,
                number.css,
                number.no_answer_timeout,
            )
        for phone in cluster.phones:
            writer.add_phone(phone)


class _Reader:
    """Turns the parsed YAML into values, raising errors that carry the key path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> TopologyError:
        return TopologyError(f"{self.path}: {where}: {message}")

    # --- generic shapes ---------------------------------------------------

    def mapping(
        self, value: Any, where: str, allowed: set[str], required: set[str]
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, _("expected a mapping of keys to values."))
        unknown = sorted(str(key) for key in value if key not in allowed)
        if unknown:
            raise self.fail(
                where,
                _("unknown key {key!r}; the keys allowed here are {allowed}.").format(
                    key=unknown[0], allowed=", ".join(sorted(allowed))
                ),
            )
        for key in sorted(required):
            if key not in value:
                raise self.fail(where, _("the key {key!r} is missing; add it.").format(key=key))
        return dict(value)

    def items(
        self, value: Any, where: str, read: Callable[[Any, str], V], minimum: int = 0
    ) -> tuple[V, ...]:
        if value is None:
            value = []
        if not isinstance(value, list):
            raise self.fail(where, _("expected a list."))
        if len(value) < minimum:
            raise self.fail(where, _("list at least {count} entry.").format(count=minimum))
        return tuple(read(item, f"{where}[{index}]") for index, item in enumerate(value))

    def string(self, value: Any, where: str) -> str:
        # YAML reads 9898 as a number; accept it so numbers need no quotes
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(where, _("expected text, got {value!r}.").format(value=value))
        return str(value)

    def digits(self, value: Any, where: str) -> str:
        # unquoted 0123 is an integer in YAML (octal in YAML 1.1), so leading zeros would be lost
        if not isinstance(value, str):
            raise self.fail(
                where,
                _(
                    'write {value!r} in quotes, as "{value}": YAML reads unquoted digits as '
                    "a number and drops leading zeros."
                ).format(value=value),
            )
        return value

    def integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, _("expected a whole number, got {value!r}.").format(value=value))
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, _("expected true or false, got {value!r}.").format(value=value))
        return value

    def choice(self, enum_class: type[enum.Enum], value: Any, where: str) -> Any:
        text = self.string(value, where)
        for member in enum_class:
            if str(member.value).casefold() == text.casefold():
                return member
        choices = ", ".join(str(member.value) for member in enum_class)
        raise self.fail(
            where,
            _("{value!r} is not allowed; use one of: {choices}.").format(
                value=text, choices=choices
            ),
        )

    def loopback(self, value: Any, where: str) -> str:
        text = self.string(value, where)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            address = None
        if address is None or not address.is_loopback:
            raise self.fail(
                where,
                _(
                    "{value!r} is not a loopback address; the lab runs every cluster on this "
                    "machine, so use an address in 127.0.0.0/8 (such as 127.0.0.203) or ::1."
                ).format(value=text),
            )
        return text

    def fields(
        self, cls: type[Any], data: Mapping[str, Any], where: str, skip: set[str]
    ) -> dict[str, Any]:
        """Read the fields of dataclass ``cls`` present in ``data``, typed by their defaults."""
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            if spec.name in skip or spec.name not in data:
                continue
            key_path = f"{where}.{spec.name}"
            raw = data[spec.name]
            default = spec.default
            if isinstance(default, enum.Enum):
                values[spec.name] = self.choice(type(default), raw, key_path)
            elif isinstance(default, bool):
                values[spec.name] = self.boolean(raw, key_path)
            elif isinstance(default, int):
                values[spec.name] = self.integer(raw, key_path)
            elif raw is None and default is None:
                values[spec.name] = None
            else:
                values[spec.name] = self.string(raw, key_path)
        return values

    # --- the document -----------------------------------------------------

    def topology(self, document: Any) -> Topology:
        data = self.mapping(
            document, "(top level)", {"ca", "clusters", "calls"}, {"ca", "clusters"}
        )
        ca = self.certificate(data["ca"], "ca", default_days=3650)
        clusters = self.items(data["clusters"], "clusters", self.cluster, minimum=1)
        self.unique([c.name for c in clusters], "clusters", "name", _("cluster name"))
        self.unique([c.address for c in clusters], "clusters", "address", _("cluster address"))
        calls = self.items(data.get("calls"), "calls", self.call)
        for index, call in enumerate(calls):
            self.check_call(call, clusters, f"calls[{index}]")
        return Topology(self.path, ca, clusters, calls)

    def certificate(self, value: Any, where: str, default_days: int = 825) -> CertificateSpec:
        data = self.mapping(value, where, {"common_name", "key", "hash", "days"}, {"common_name"})
        values = {"days": default_days, **self.fields(CertificateSpec, data, where, set())}
        spec = CertificateSpec(**values)
        try:
            KeySpec.parse(spec.key)
        except ValueError as error:
            raise self.fail(f"{where}.key", str(error)) from error
        try:
            hash_algorithm(spec.hash)
        except (ValueError, PkiError) as error:
            raise self.fail(f"{where}.hash", str(error)) from error
        if spec.days < 1:
            raise self.fail(f"{where}.days", _("give a positive number of days, such as 825."))
        return spec

    def cluster(self, value: Any, where: str) -> ClusterTopology:
        lists = {
            "security_profiles",
            "trunks",
            "partitions",
            "calling_search_spaces",
            "route_patterns",
            "directory_numbers",
            "route_groups",
            "route_lists",
            "digest_users",
            "phones",
        }
        data = self.mapping(
            value,
            where,
            {"name", "address", "certificate", "description", "realm", "phone_ports", *lists},
            {"name", "address", "certificate"},
        )
        phone_port, phone_secure_port = self.phone_ports(data.get("phone_ports"), where)
        cluster = ClusterTopology(
            name=self.string(data["name"], f"{where}.name"),
            address=self.loopback(data["address"], f"{where}.address"),
            certificate=self.certificate(data["certificate"], f"{where}.certificate"),
            description=self.string(data.get("description", ""), f"{where}.description"),
            security_profiles=self.items(
                data.get("security_profiles"), f"{where}.security_profiles", self.profile
            ),
            trunks=self.items(data.get("trunks"), f"{where}.trunks", self.trunk),
            partitions=self.items(data.get("partitions"), f"{where}.partitions", self.partition),
            calling_search_spaces=self.items(
                data.get("calling_search_spaces"), f"{where}.calling_search_spaces", self.css
            ),
            route_patterns=self.items(
                data.get("route_patterns"), f"{where}.route_patterns", self.route_pattern
            ),
            directory_numbers=self.items(
                data.get("directory_numbers"), f"{where}.directory_numbers", self.directory_number
            ),
            route_groups=self.items(
                data.get("route_groups"), f"{where}.route_groups", self.route_group
            ),
            route_lists=self.items(
                data.get("route_lists"), f"{where}.route_lists", self.route_list
            ),
            realm=self.realm(data.get("realm"), f"{where}.realm"),
            phone_port=phone_port,
            phone_secure_port=phone_secure_port,
            digest_users=self.items(
                data.get("digest_users"), f"{where}.digest_users", self.digest_user
            ),
            phones=self.items(data.get("phones"), f"{where}.phones", self.phone),
        )
        try:
            validate.check_node(cluster.node)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        self.check_references(cluster, where)
        self.check_phone_references(cluster, where)
        return cluster

    def realm(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        realm = self.string(value, where)
        try:
            validate.check_realm(realm)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return realm

    def phone_ports(self, value: Any, where: str) -> tuple[int | None, int | None]:
        if value is None:
            return None, None
        key_path = f"{where}.phone_ports"
        data = self.mapping(value, key_path, {"sip", "secure"}, set())
        ports: list[int | None] = []
        for key in ("sip", "secure"):
            raw = data.get(key)
            port = None if raw is None else self.integer(raw, f"{key_path}.{key}")
            if port is not None and not 1 <= port <= 65535:
                raise self.fail(
                    f"{key_path}.{key}",
                    _("{port} is not a valid port; use a number from 1 to 65535.").format(
                        port=port
                    ),
                )
            ports.append(port)
        return ports[0], ports[1]

    def digest_user(self, value: Any, where: str) -> DigestUserSpec:
        data = self.mapping(
            value, where, {"name", "password", "realm", "description"}, {"name", "password"}
        )
        user = DigestUserSpec(
            name=self.string(data["name"], f"{where}.name"),
            password=self.string(data["password"], f"{where}.password"),
            realm=None
            if data.get("realm") is None
            else self.realm(data["realm"], f"{where}.realm"),
            description=self.string(data.get("description", ""), f"{where}.description"),
        )
        try:
            validate.check_digest_user_name(user.name)
            validate.check_password(user.password, user.name)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return user

    def phone(self, value: Any, where: str) -> PhoneConfig:
        names = {spec.name for spec in dataclasses.fields(PhoneConfig)}
        data = self.mapping(value, where, names, {"name", "directory_number"})
        phone = PhoneConfig(
            directory_number=self.digits(data["directory_number"], f"{where}.directory_number"),
            **self.fields(PhoneConfig, data, where, {"directory_number"}),
        )
        try:
            validate.check_phone(phone)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return phone

    def profile(self, value: Any, where: str) -> SecurityProfileConfig:
        names = {spec.name for spec in dataclasses.fields(SecurityProfileConfig)}
        data = self.mapping(value, where, names, {"name"})
        profile = SecurityProfileConfig(
            name=self.string(data["name"], f"{where}.name"),
            **self.fields(SecurityProfileConfig, data, where, {"name"}),
        )
        try:
            validate.check_security_profile(profile)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return profile

    def trunk(self, value: Any, where: str) -> TrunkSpec:
        # the file spells destination_is_srv as srv
        names = {spec.name for spec in dataclasses.fields(TrunkSpec)} - {"destination_is_srv"}
        data = self.mapping(
            value, where, names | {"srv"}, {"name", "security_profile", "destinations"}
        )
        srv = self.boolean(data.get("srv", False), f"{where}.srv")

        def read_destination(item: Any, key_path: str) -> Destination:
            return self.destination(item, key_path, srv=srv)

        trunk = TrunkSpec(
            name=self.string(data["name"], f"{where}.name"),
            security_profile=self.string(data["security_profile"], f"{where}.security_profile"),
            destinations=self.items(
                data["destinations"], f"{where}.destinations", read_destination, minimum=1
            ),
            destination_is_srv=srv,
            **self.fields(TrunkSpec, data, where, {"name", "security_profile", "destinations"}),
        )
        try:
            validate.check_trunk(trunk)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return trunk

    def destination(self, value: Any, where: str, *, srv: bool = False) -> Destination:
        if srv:
            # a domain for DNS SRV; port 0 or no port takes the port from the SRV record
            data = self.mapping(value, where, {"address", "port"}, {"address"})
            port = self.integer(data.get("port", 0), f"{where}.port")
            destination = Destination(self.string(data["address"], f"{where}.address"), port)
            try:
                validate.check_destination(destination, _("(this trunk)"), srv=True)
            except ConfigError as error:
                raise self.fail(where, str(error)) from error
            return destination
        data = self.mapping(value, where, {"address", "port"}, {"address", "port"})
        port = self.integer(data["port"], f"{where}.port")
        if not 1 <= port <= 65535:
            raise self.fail(
                f"{where}.port",
                _(
                    "{port} is not a valid port; use a number from 1 to 65535, usually 5061 "
                    "for TLS."
                ).format(port=port),
            )
        return Destination(self.loopback(data["address"], f"{where}.address"), port)

    def partition(self, value: Any, where: str) -> PartitionConfig:
        data = self.mapping(value, where, {"name", "description"}, {"name"})
        return PartitionConfig(**self.fields(PartitionConfig, data, where, set()))

    def css(self, value: Any, where: str) -> CallingSearchSpaceConfig:
        data = self.mapping(value, where, {"name", "partitions", "description"}, {"name"})
        partitions = self.items(data.get("partitions"), f"{where}.partitions", self.string)
        return CallingSearchSpaceConfig(
            name=self.string(data["name"], f"{where}.name"),
            partitions=partitions,
            description=self.string(data.get("description", ""), f"{where}.description"),
        )

    def route_pattern(self, value: Any, where: str) -> RoutePatternConfig:
        names = {spec.name for spec in dataclasses.fields(RoutePatternConfig)}
        data = self.mapping(value, where, names, {"pattern"})
        texts = {"pattern", "prefix_digits", "called_party_mask"}
        # digit strings must be quoted, so a leading zero of a prefix survives
        prefix = data.get("prefix_digits", "")
        mask = data.get("called_party_mask", "")
        route = RoutePatternConfig(
            pattern=self.digits(data["pattern"], f"{where}.pattern"),
            prefix_digits=self.digits(prefix, f"{where}.prefix_digits"),
            called_party_mask=self.digits(mask, f"{where}.called_party_mask"),
            **self.fields(RoutePatternConfig, data, where, texts),
        )
        try:
            validate.check_pattern(route.pattern, _("route pattern"))
        except ConfigError as error:
            raise self.fail(f"{where}.pattern", str(error)) from error
        try:
            validate.check_route_pattern(route)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return route

    def route_group(self, value: Any, where: str) -> RouteGroupConfig:
        names = {spec.name for spec in dataclasses.fields(RouteGroupConfig)}
        data = self.mapping(value, where, names, {"name", "trunks"})
        group = RouteGroupConfig(
            trunks=self.items(data["trunks"], f"{where}.trunks", self.string),
            **self.fields(RouteGroupConfig, data, where, {"trunks"}),
        )
        try:
            validate.check_route_group(group)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return group

    def route_list(self, value: Any, where: str) -> RouteListConfig:
        names = {spec.name for spec in dataclasses.fields(RouteListConfig)}
        data = self.mapping(value, where, names, {"name", "route_groups"})
        route_list = RouteListConfig(
            route_groups=self.items(data["route_groups"], f"{where}.route_groups", self.string),
            **self.fields(RouteListConfig, data, where, {"route_groups"}),
        )
        try:
            validate.check_route_list(route_list)
        except ConfigError as error:
            raise self.fail(where, str(error)) from error
        return route_list

    def directory_number(self, value: Any, where: str) -> DirectoryNumberConfig:
        names = {spec.name for spec in dataclasses.fields(DirectoryNumberConfig)}
        data = self.mapping(value, where, names, {"number"})
        number = DirectoryNumberConfig(
            number=self.digits(data["number"], f"{where}.number"),
            **self.fields(DirectoryNumberConfig, data, where, {"number"}),
        )
        try:
            validate.check_directory_number(number.number)
        except ConfigError as error:
            raise self.fail(f"{where}.number", str(error)) from error
        try:
            validate.check_no_answer_timeout(number)
        except ConfigError as error:
            raise self.fail(f"{where}.no_answer_timeout", str(error)) from error
        return number

    def call(self, value: Any, where: str) -> CallSpec:
        data = self.mapping(value, where, {"from", "to"}, {"from", "to"})
        origin = self.mapping(
            data["from"], f"{where}.from", {"cluster", "number"}, {"cluster", "number"}
        )
        return CallSpec(
            from_cluster=self.string(origin["cluster"], f"{where}.from.cluster"),
            from_number=self.digits(origin["number"], f"{where}.from.number"),
            to=self.digits(data["to"], f"{where}.to"),
        )

    # --- cross-references -------------------------------------------------

    def unique(self, names: list[str], where: str, key: str, kind: str) -> None:
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise self.fail(
                    f"{where}[{index}].{key}",
                    _("the {kind} {name!r} appears twice; make each one unique.").format(
                        kind=kind, name=name
                    ),
                )
            seen.add(name)

    def check_references(self, cluster: ClusterTopology, where: str) -> None:
        profiles = [p.name for p in cluster.security_profiles]
        trunks = [t.name for t in cluster.trunks]
        partitions = [p.name for p in cluster.partitions]
        spaces = [c.name for c in cluster.calling_search_spaces]
        self.unique(profiles, f"{where}.security_profiles", "name", _("security profile"))
        self.unique(trunks, f"{where}.trunks", "name", _("trunk"))
        self.unique(partitions, f"{where}.partitions", "name", _("partition"))
        self.unique(spaces, f"{where}.calling_search_spaces", "name", _("calling search space"))
        for index, trunk in enumerate(cluster.trunks):
            self.known(
                trunk.security_profile, profiles, f"{where}.trunks[{index}].security_profile"
            )
            self.known(trunk.css, spaces, f"{where}.trunks[{index}].css")
        for index, css in enumerate(cluster.calling_search_spaces):
            for position, partition in enumerate(css.partitions):
                self.known(
                    partition,
                    partitions,
                    f"{where}.calling_search_spaces[{index}].partitions[{position}]",
                )
        groups = [g.name for g in cluster.route_groups]
        lists = [r.name for r in cluster.route_lists]
        self.unique(groups, f"{where}.route_groups", "name", _("route group"))
        self.unique(lists, f"{where}.route_lists", "name", _("route list"))
        for index, group in enumerate(cluster.route_groups):
            for position, trunk_name in enumerate(group.trunks):
                self.known(trunk_name, trunks, f"{where}.route_groups[{index}].trunks[{position}]")
        for index, route_list in enumerate(cluster.route_lists):
            for position, group_name in enumerate(route_list.route_groups):
                self.known(
                    group_name, groups, f"{where}.route_lists[{index}].route_groups[{position}]"
                )
        for index, route in enumerate(cluster.route_patterns):
            self.known(route.trunk, trunks, f"{where}.route_patterns[{index}].trunk")
            self.known(route.route_list, lists, f"{where}.route_patterns[{index}].route_list")
            self.known(route.partition, partitions, f"{where}.route_patterns[{index}].partition")
        for index, number in enumerate(cluster.directory_numbers):
            key_path = f"{where}.directory_numbers[{index}]"
            self.known(number.partition, partitions, f"{key_path}.partition")
            self.known(number.css, spaces, f"{key_path}.css")
        self.check_ports(cluster, where)

    def check_phone_references(self, cluster: ClusterTopology, where: str) -> None:
        users = [(user.name, user.realm or cluster.node.realm) for user in cluster.digest_users]
        self.unique(
            [f"{name} ({realm})" for name, realm in users],
            f"{where}.digest_users",
            "name",
            _("digest user"),
        )
        local = [name for name, realm in users if realm == cluster.node.realm]
        defined = [name for name, _realm in users]
        for index, trunk in enumerate(cluster.trunks):
            key_path = f"{where}.trunks[{index}]"
            self.known(trunk.inbound_digest_user, local, f"{key_path}.inbound_digest_user")
            self.known(trunk.outbound_digest_user, defined, f"{key_path}.outbound_digest_user")
            profile = next(
                (p for p in cluster.security_profiles if p.name == trunk.security_profile), None
            )
            needs_user = profile is not None and profile.enable_digest_authentication
            if needs_user and trunk.inbound_digest_user is None:
                raise self.fail(
                    key_path,
                    _(
                        "profile {profile!r} enables digest authentication, so the trunk "
                        "needs inbound_digest_user; add it, or turn "
                        "enable_digest_authentication off."
                    ).format(profile=trunk.security_profile),
                )
        self.unique([p.name for p in cluster.phones], f"{where}.phones", "name", _("phone"))
        lines = {(number.number, number.partition) for number in cluster.directory_numbers}
        for index, phone in enumerate(cluster.phones):
            key_path = f"{where}.phones[{index}]"
            if (phone.directory_number, phone.partition) not in lines:
                raise self.fail(
                    f"{key_path}.directory_number",
                    _(
                        "{number!r} in partition {partition} is not a directory number of "
                        "this cluster; add it under directory_numbers or fix the partition."
                    ).format(number=phone.directory_number, partition=phone.partition or "<None>"),
                )
            self.known(phone.digest_user, local, f"{key_path}.digest_user")

    def known(self, name: str | None, names: list[str], where: str) -> None:
        if name is not None and name not in names:
            raise self.fail(
                where,
                _(
                    "{name!r} is not defined in this cluster; define it or use one of: {names}."
                ).format(name=name, names=", ".join(names) or _("(none defined)")),
            )

    def check_ports(self, cluster: ClusterTopology, where: str) -> None:
        self.check_phone_ports(cluster, where)
        first: dict[int, SecurityProfileConfig] = {}
        for index, profile in enumerate(cluster.security_profiles):
            other = first.setdefault(profile.incoming_port, profile)
            if other.incoming_transport is not profile.incoming_transport:
                raise self.fail(
                    f"{where}.security_profiles[{index}].incoming_port",
                    _(
                        "port {port} is already used by profile {other!r} with incoming "
                        "transport {transport}; choose another port or the same transport."
                    ).format(
                        port=profile.incoming_port,
                        other=other.name,
                        transport=other.incoming_transport.value,
                    ),
                )

    def check_phone_ports(self, cluster: ClusterTopology, where: str) -> None:
        for key, port, transport in (
            ("sip", cluster.phone_port, IncomingTransport.TCP_UDP),
            ("secure", cluster.phone_secure_port, IncomingTransport.TLS),
        ):
            for profile in cluster.security_profiles:
                kinds = validate.socket_kinds(profile.incoming_transport)
                if profile.incoming_port == port and kinds & validate.socket_kinds(transport):
                    raise self.fail(
                        f"{where}.phone_ports.{key}",
                        _(
                            "port {port} is already the incoming port of profile {profile!r} "
                            "with transport {transport}; choose another phone port."
                        ).format(
                            port=port,
                            profile=profile.name,
                            transport=profile.incoming_transport.value,
                        ),
                    )

    def check_call(self, call: CallSpec, clusters: tuple[ClusterTopology, ...], where: str) -> None:
        by_name = {cluster.name: cluster for cluster in clusters}
        origin = by_name.get(call.from_cluster)
        if origin is None:
            raise self.fail(
                f"{where}.from.cluster",
                _("no cluster is named {name!r}; use one of: {names}.").format(
                    name=call.from_cluster, names=", ".join(by_name)
                ),
            )
        if call.from_number not in {number.number for number in origin.directory_numbers}:
            raise self.fail(
                f"{where}.from.number",
                _(
                    "{number!r} is not a directory number of cluster {name}; add it under "
                    "directory_numbers or call from another number."
                ).format(number=call.from_number, name=origin.name),
            )
