"""A node's configuration as a YAML document: export, diff against the store, import.

The export walks the fields of :class:`ConfigSnapshot` with ``dataclasses`` and
writes every collection of frozen configuration values it finds, so a kind of
value added to the snapshot appears in the export without changes here. Import
needs to know how to write each kind through :class:`ConfigWriter` and what it
refers to, so it refuses a section that has no entry in ``KINDS``.

An import computes a :class:`ConfigDiff` first. Applying it deletes the
removed and changed items, plus everything in the store that refers to them,
in reverse dependency order. It then adds the new and changed items, plus the
unchanged items it had to delete, in dependency order. All of it runs in one
store transaction, so a value the writer rejects leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tlstrunk.config.errors import ConfigError
from tlstrunk.config.snapshot import ConfigSnapshot
from tlstrunk.config.store import ConfigStore
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
    TrunkSpec,
)
from tlstrunk.config.writer import ConfigWriter
from tlstrunk.i18n import _
from tlstrunk.pki import pkcs12
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.store import PURPOSES, CertificateStore, find_trust_purpose

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "Change",
    "ConfigDiff",
    "Kind",
    "apply_diff",
    "check_diff",
    "diff_configuration",
    "export_configuration",
    "parse_configuration",
    "snapshot_to_plain",
]

logger = logging.getLogger(__name__)

#: Version of the document layout, written as ``format`` and checked on import.
FORMAT_VERSION = 1

Plain = dict[str, Any]
Identity = tuple[str | None, ...]
Reference = tuple[str, Identity]


@dataclass(frozen=True)
class Kind:
    """The mapping of one document section to a value type and writer operations."""

    #: Section name, equal to the ``ConfigSnapshot`` field.
    section: str
    value_type: type[Any]
    identity: Callable[[Any], Identity]
    add: Callable[[ConfigWriter, Any], None]
    delete: Callable[[ConfigWriter, Any], None]
    #: Items of other sections this item refers to, which must exist first.
    references: Callable[[Any], Iterable[Reference]] = lambda _item: ()
    #: The item as a user names it, from its identity.
    label: Callable[[Identity], str] = lambda identity: " / ".join(map(str, identity))


def _named(item: Any) -> Identity:
    return (item.name,)


def _in_partition(text: str, partition: str | None) -> Identity:
    return (text, partition)


def _reference(section: str, name: str | None) -> list[Reference]:
    return [] if name is None else [(section, (name,))]


def _digest_user_reference(name: str | None) -> list[Reference]:
    # a trunk or phone names a digest user without its realm, so it may be any of them
    return [] if name is None else [("digest_users", (name, "*"))]


def _in_partition_label(identity: Identity) -> str:
    text, partition = identity
    return _("{text} in partition {partition}").format(text=text, partition=partition or "<None>")


def _partition_reference(partition: str | None) -> list[Reference]:
    return _reference("partitions", partition)


def _set_node(writer: ConfigWriter, node: NodeConfig) -> None:
    writer.save_node(node)


def _add_digest_user(writer: ConfigWriter, user: DigestUserConfig) -> None:
    writer.import_digest_user(user)


def _keep_node(_writer: ConfigWriter, _node: NodeConfig) -> None:
    # set_node replaces the node, so a changed node needs no delete. A file
    # without a node leaves the node as it is: no writer operation removes it.
    pass


#: Importable sections in dependency order: an item refers only to earlier sections.
KINDS: tuple[Kind, ...] = (
    Kind("node", NodeConfig, lambda _node: (), _set_node, _keep_node),
    Kind(
        "security_profiles",
        SecurityProfileConfig,
        _named,
        lambda writer, profile: writer.add_security_profile(profile),
        lambda writer, profile: writer.delete_security_profile(profile.name),
    ),
    Kind(
        "partitions",
        PartitionConfig,
        _named,
        lambda writer, item: writer.add_partition(item.name, item.description),
        lambda writer, item: writer.delete_partition(item.name),
    ),
    Kind(
        "calling_search_spaces",
        CallingSearchSpaceConfig,
        _named,
        lambda writer, css: writer.add_css(css.name, css.partitions, css.description),
        lambda writer, css: writer.delete_css(css.name),
        lambda css: [("partitions", (name,)) for name in css.partitions],
    ),
    Kind(
        "digest_users",
        DigestUserConfig,
        lambda user: (user.name, user.realm),
        _add_digest_user,
        lambda writer, user: writer.delete_digest_user(user.name, user.realm),
    ),
    Kind(
        "trunks",
        TrunkSpec,
        _named,
        lambda writer, trunk: writer.add_trunk(trunk),
        lambda writer, trunk: writer.delete_trunk(trunk.name),
        lambda trunk: [
            ("security_profiles", (trunk.security_profile,)),
            *_reference("calling_search_spaces", trunk.css),
            *_digest_user_reference(trunk.inbound_digest_user),
            *_digest_user_reference(trunk.outbound_digest_user),
        ],
    ),
    Kind(
        "route_groups",
        RouteGroupConfig,
        _named,
        lambda writer, group: writer.add_route_group(group),
        lambda writer, group: writer.delete_route_group(group.name),
        lambda group: [("trunks", (name,)) for name in group.trunks],
    ),
    Kind(
        "route_lists",
        RouteListConfig,
        _named,
        lambda writer, item: writer.add_route_list(item),
        lambda writer, item: writer.delete_route_list(item.name),
        lambda item: [("route_groups", (name,)) for name in item.route_groups],
    ),
    Kind(
        "route_patterns",
        RoutePatternConfig,
        lambda route: _in_partition(route.pattern, route.partition),
        lambda writer, route: writer.add_route(route),
        lambda writer, route: writer.delete_route_pattern(route.pattern, route.partition),
        lambda route: [
            *_partition_reference(route.partition),
            *_reference("trunks", route.trunk),
            *_reference("route_lists", route.route_list),
        ],
        _in_partition_label,
    ),
    Kind(
        "directory_numbers",
        DirectoryNumberConfig,
        lambda dn: _in_partition(dn.number, dn.partition),
        lambda writer, dn: writer.add_directory_number(
            dn.number,
            dn.partition,
            dn.description,
            dn.answer_mode,
            dn.css,
            no_answer_timeout=dn.no_answer_timeout,
        ),
        lambda writer, dn: writer.delete_directory_number(dn.number, dn.partition),
        lambda dn: [
            *_partition_reference(dn.partition),
            *_reference("calling_search_spaces", dn.css),
        ],
        _in_partition_label,
    ),
    Kind(
        "phones",
        PhoneConfig,
        _named,
        lambda writer, phone: writer.add_phone(phone),
        lambda writer, phone: writer.delete_phone(phone.name),
        lambda phone: [
            ("directory_numbers", (phone.directory_number, phone.partition)),
            *_digest_user_reference(phone.digest_user),
        ],
    ),
)

_KINDS_BY_SECTION = {kind.section: kind for kind in KINDS}


# --- values to plain data -----------------------------------------------------


def _storable(value: Any) -> Any:
    """Return the form the store takes: a resolved trunk becomes its ``TrunkSpec``."""
    to_spec = getattr(value, "to_spec", None)
    return to_spec() if callable(to_spec) else value


def to_plain(value: Any) -> Any:
    """Return ``value`` as YAML-safe data: dataclasses as dicts, enums as their text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_plain(item) for item in value]
    return value


def _is_value(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def snapshot_to_plain(snapshot: ConfigSnapshot) -> Plain:
    """Return every configuration collection of ``snapshot`` as plain data, by field name.

    Fields that hold no configuration values (the compiled digit analyser) are
    left out.
    """
    sections: Plain = {}
    for snapshot_field in dataclasses.fields(snapshot):
        value = getattr(snapshot, snapshot_field.name)
        if isinstance(value, Mapping):
            value = tuple(value.values())
        if value is None or _is_value(value):
            sections[snapshot_field.name] = None if value is None else to_plain(_storable(value))
        elif isinstance(value, tuple) and all(_is_value(item) for item in value):
            sections[snapshot_field.name] = [to_plain(_storable(item)) for item in value]
    return sections


def export_configuration(
    snapshot: ConfigSnapshot, certificates: Plain | None = None, *, with_secrets: bool = False
) -> str:
    """Return the YAML document of ``snapshot`` and, when given, the certificate section.

    Digest users' password hashes (HA1) work as passwords in their realm, so
    they are left empty unless ``with_secrets``; an import keeps the hashes a
    node already has for an empty one.
    """
    document: Plain = {"format": FORMAT_VERSION, **snapshot_to_plain(snapshot)}
    if not with_secrets:
        for user in document.get("digest_users") or []:
            user["ha1_md5"] = ""
            user["ha1_sha256"] = ""
    if certificates is not None:
        document["certificates"] = certificates
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


# --- plain data to values -----------------------------------------------------


def _describe(where: str, value: Any) -> str:
    return _("{where} has the value {value!r}").format(where=where, value=value)


def _convert(hint: Any, value: Any, where: str) -> Any:
    """Return ``value`` converted to the type ``hint``; raise ConfigError naming ``where``."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _convert(inner, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(_("{problem}; write a list.").format(problem=_describe(where, value)))
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(
            _convert(item_hint, item, f"{where}[{index}]") for index, item in enumerate(value)
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        choices = [member.value for member in hint]
        if value not in choices:
            raise ConfigError(
                _("{problem}; use one of: {choices}.").format(
                    problem=_describe(where, value), choices=", ".join(map(str, choices))
                )
            )
        return hint(value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return value_from_plain(hint, value, where)
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(
            _("{problem}; write true or false.").format(problem=_describe(where, value))
        )
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(
            _("{problem}; write a whole number.").format(problem=_describe(where, value))
        )
    if hint is str and not isinstance(value, str):
        raise ConfigError(
            _("{problem}; write text, in quotes if it looks like a number.").format(
                problem=_describe(where, value)
            )
        )
    return value


def value_from_plain(value_type: type[Any], data: Any, where: str) -> Any:
    """Build a ``value_type`` dataclass from a YAML mapping; missing fields take defaults."""
    if not isinstance(data, dict):
        raise ConfigError(
            _("{problem}; write a mapping of field names to values.").format(
                problem=_describe(where, data)
            )
        )
    hints = typing.get_type_hints(value_type)
    known = {f.name for f in dataclasses.fields(value_type) if f.init}
    unknown = sorted(str(name) for name in data if name not in known)
    if unknown:
        raise ConfigError(
            _("{where} has the unknown field {fields}; use only: {known}.").format(
                where=where, fields=", ".join(unknown), known=", ".join(sorted(known))
            )
        )
    arguments = {
        name: _convert(hints[name], item, f"{where}.{name}") for name, item in data.items()
    }
    try:
        return value_type(**arguments)
    except TypeError as error:
        raise ConfigError(
            _("{where} is incomplete ({error}); add the missing fields.").format(
                where=where, error=error
            )
        ) from error


@dataclass(frozen=True)
class ParsedConfiguration:
    """A document read back into values: one list per section, and the certificates."""

    sections: Mapping[str, list[Any]]
    certificates: Plain | None = None


def parse_configuration(text: str) -> ParsedConfiguration:
    """Read a document written by :func:`export_configuration`, checking every value's type.

    Raises:
        ConfigError: the YAML is invalid, its format is unknown, or a section,
            field or value cannot be read. The message names the place.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(
            _("The file is not valid YAML ({error}); fix the line it names.").format(error=error)
        ) from error
    if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
        raise ConfigError(
            _(
                "The file is not a tlstrunk configuration of format {version}; export it "
                "with 'tlstrunk config export' from this version."
            ).format(version=FORMAT_VERSION)
        )
    sections: dict[str, list[Any]] = {}
    for section, data in document.items():
        if section in ("format", "certificates"):
            continue
        kind = _KINDS_BY_SECTION.get(section)
        if kind is None:
            raise ConfigError(
                _(
                    "Section {section!r} cannot be imported by this version; remove it or "
                    "use one of: {known}."
                ).format(section=section, known=", ".join(_KINDS_BY_SECTION))
            )
        if data is None:
            items = []
        elif section == "node":
            items = [data]
        else:
            items = data
        if not isinstance(items, list):
            raise ConfigError(
                _("{problem}; write a list.").format(problem=_describe(section, data))
            )
        sections[section] = [
            value_from_plain(kind.value_type, item, f"{section}[{index}]")
            for index, item in enumerate(items)
        ]
    return ParsedConfiguration(sections, document.get("certificates"))


# --- diff ---------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One item of a section that the import adds, changes or removes."""

    section: str
    identity: Identity
    old: Any | None
    new: Any | None

    @property
    def label(self) -> str:
        """The item as a user names it: "CUCM10", or "9898 in partition <None>"."""
        if not self.identity:
            return self.section
        return _KINDS_BY_SECTION[self.section].label(self.identity)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        """Return (field, old, new) for every field that differs, as plain data."""
        old, new = to_plain(self.old), to_plain(self.new)
        return [(name, old[name], new[name]) for name in new if old.get(name) != new[name]]


@dataclass(frozen=True)
class ConfigDiff:
    """The changes an import makes, with the current and desired items by section."""

    current: Mapping[str, Mapping[Identity, Any]]
    desired: Mapping[str, Mapping[Identity, Any]]
    added: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def _current_sections(snapshot: ConfigSnapshot) -> dict[str, list[Any]]:
    sections: dict[str, list[Any]] = {}
    for kind in KINDS:
        value = getattr(snapshot, kind.section)
        if isinstance(value, Mapping):
            value = tuple(value.values())
        if value is None:
            items = []
        elif _is_value(value):
            items = [value]
        else:
            items = list(value)
        sections[kind.section] = [_storable(item) for item in items]
    return sections


def diff_configuration(snapshot: ConfigSnapshot, parsed: ParsedConfiguration) -> ConfigDiff:
    """Compare the store's ``snapshot`` with a parsed document, section by section.

    A section missing from the document counts as empty, so its items are removed.
    """
    current_lists = _current_sections(snapshot)
    current: dict[str, dict[Identity, Any]] = {}
    desired: dict[str, dict[Identity, Any]] = {}
    diff = ConfigDiff(current, desired)
    for kind in KINDS:
        current[kind.section] = {kind.identity(i): i for i in current_lists[kind.section]}
        desired[kind.section] = {kind.identity(i): i for i in parsed.sections.get(kind.section, [])}
        if kind.section == "digest_users":
            _keep_known_hashes(current[kind.section], desired[kind.section])
        old_items, new_items = current[kind.section], desired[kind.section]
        for identity, item in new_items.items():
            if identity not in old_items:
                diff.added.append(Change(kind.section, identity, None, item))
            elif old_items[identity] != item:
                diff.changed.append(Change(kind.section, identity, old_items[identity], item))
        for identity, item in old_items.items():
            if identity not in new_items:
                diff.removed.append(Change(kind.section, identity, item, None))
    return diff


def _keep_known_hashes(current: dict[Identity, Any], desired: dict[Identity, Any]) -> None:
    """Give a digest user that the file lists without hashes the hashes the node has."""
    for identity, user in desired.items():
        known = current.get(identity)
        if known is not None and not user.ha1_md5 and not user.ha1_sha256:
            desired[identity] = dataclasses.replace(
                user, ha1_md5=known.ha1_md5, ha1_sha256=known.ha1_sha256
            )


# --- apply --------------------------------------------------------------------


def _dependents(diff: ConfigDiff, roots: set[Reference]) -> set[Reference]:
    """Return ``roots`` plus every current item that refers to one of them, transitively."""
    closure = set(roots)
    grew = True
    while grew:
        grew = False
        for kind in KINDS:
            for identity, item in diff.current[kind.section].items():
                key = (kind.section, identity)
                if key not in closure and any(_in(ref, closure) for ref in kind.references(item)):
                    closure.add(key)
                    grew = True
    return closure


class _TrialRollback(Exception):
    """Raised inside a trial transaction to roll it back."""


def check_diff(store: ConfigStore, diff: ConfigDiff) -> None:
    """Run every write of ``diff`` in a transaction that is then rolled back.

    Raises:
        ConfigError: the writer rejected a value.
    """
    with contextlib.suppress(_TrialRollback):
        _write(store, diff, trial=True)


def _in(reference: Reference, closure: set[Reference]) -> bool:
    section, identity = reference
    if identity[-1:] != ("*",):
        return reference in closure
    return any(s == section and i[:-1] == identity[:-1] for s, i in closure)


def apply_diff(store: ConfigStore, diff: ConfigDiff) -> None:
    """Write ``diff`` to ``store`` in one transaction through the writer's operations.

    Raises:
        ConfigError: the writer rejected a value; nothing was written.
    """
    if diff.empty:
        return
    _write(store, diff, trial=False)
    logger.info(
        "imported configuration into %s: %d added, %d changed, %d removed",
        store.path,
        len(diff.added),
        len(diff.changed),
        len(diff.removed),
    )


def _write(store: ConfigStore, diff: ConfigDiff, *, trial: bool) -> None:
    touched = {(c.section, c.identity) for c in (*diff.changed, *diff.removed)}
    to_delete = _dependents(diff, touched)
    to_add = {(c.section, c.identity) for c in diff.added} | {
        key for key in to_delete if key[1] in diff.desired[key[0]]
    }
    with store.batch() as writer:
        for kind in reversed(KINDS):
            for identity, item in diff.current[kind.section].items():
                if (kind.section, identity) in to_delete:
                    kind.delete(writer, item)
        for kind in KINDS:
            for identity, item in diff.desired[kind.section].items():
                if (kind.section, identity) in to_add:
                    kind.add(writer, item)
        if trial:
            raise _TrialRollback


# --- certificates -------------------------------------------------------------


def export_certificates(store: CertificateStore, key_passphrase: bytes | None = None) -> Plain:
    """Return the node's own chains and trust stores as PEM text.

    With ``key_passphrase``, each own identity also carries its private key as
    PKCS#8 PEM encrypted with that passphrase. Without it, no key is exported.
    """
    own: Plain = {}
    for entry in store.list_own():
        if entry.certificate is None:
            continue
        item: Plain = {"chain": _pem_text(store.own_chain(entry.purpose))}
        if key_passphrase is not None:
            item["key"] = _encrypted_key(store, entry.purpose, key_passphrase)
        own[entry.purpose] = item
    trust = {
        purpose.trust_name: [
            _pem_text([certificate]) for certificate in store.trust_certificates(purpose.trust_name)
        ]
        for purpose in PURPOSES.values()
    }
    return {"own": own, "trust": trust}


def _pem_text(certificates: Iterable[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def _encrypted_key(store: CertificateStore, purpose: str, passphrase: bytes) -> str:
    if not passphrase:
        raise ConfigError(_("The key passphrase is empty; write a passphrase in the file."))
    _cert_path, key_path = store.identity_files(purpose)
    key = serialization.load_pem_private_key(
        key_path.read_bytes(), password=store.identity_password(purpose)
    )
    encryption = serialization.BestAvailableEncryption(passphrase)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return pem.decode()


@dataclass(frozen=True)
class CertificateChanges:
    """Trust certificates to add and remove, and own identities to install or skip."""

    trust_added: list[tuple[str, x509.Certificate]] = field(default_factory=list)
    trust_removed: list[tuple[str, x509.Certificate]] = field(default_factory=list)
    #: Purpose, new chain and the key PEM to install with it.
    own_installed: list[tuple[str, list[x509.Certificate], bytes]] = field(default_factory=list)
    #: Purposes whose chain differs but whose key the file does not carry.
    own_skipped: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.trust_added or self.trust_removed or self.own_installed)


def _mapping(value: Any, where: str) -> Plain:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(_("{problem}; write a mapping.").format(problem=_describe(where, value)))
    return value


def _load_pem_list(text: Any, where: str) -> list[x509.Certificate]:
    if not isinstance(text, str):
        raise ConfigError(_("{problem}; write PEM text.").format(problem=_describe(where, text)))
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError as error:
        raise ConfigError(
            _("{where} is not a PEM certificate ({error}); export it again.").format(
                where=where, error=error
            )
        ) from error


def diff_certificates(store: CertificateStore, section: Plain | None) -> CertificateChanges:
    """Compare the certificate section of a document with the node's certificate store.

    A missing section leaves the certificates alone. A trust store missing
    from the section is left alone too, and a listed one is made equal to the list.

    Raises:
        ConfigError: a certificate in the section is not readable PEM.
    """
    changes = CertificateChanges()
    if section is None:
        return changes
    for trust_name, pems in _mapping(section.get("trust"), "certificates.trust").items():
        where = f"certificates.trust.{trust_name}"
        wanted: list[x509.Certificate] = []
        for index, pem in enumerate(pems or []):
            wanted += _load_pem_list(pem, f"{where}[{index}]")
        try:
            present = store.trust_certificates(find_trust_purpose(trust_name).trust_name)
        except PkiError as error:
            raise ConfigError(str(error)) from error
        changes.trust_added.extend((trust_name, c) for c in wanted if c not in present)
        changes.trust_removed.extend((trust_name, c) for c in present if c not in wanted)
    for purpose, item in _mapping(section.get("own"), "certificates.own").items():
        where = f"certificates.own.{purpose}"
        item = _mapping(item, where)
        chain = _load_pem_list(item.get("chain"), f"{where}.chain")
        try:
            current = store.own_chain(purpose) if store.own_certificate(purpose) else []
        except PkiError as error:
            raise ConfigError(str(error)) from error
        if chain == current:
            continue
        key = item.get("key")
        if isinstance(key, str):
            changes.own_installed.append((purpose, chain, key.encode()))
        else:
            changes.own_skipped.append(purpose)
    return changes


def apply_certificates(
    store: CertificateStore, changes: CertificateChanges, key_passphrase: bytes | None
) -> None:
    """Install the own identities, then add and remove trust certificates.

    Raises:
        ConfigError: a key cannot be decrypted, or an identity is rejected
            (its chain does not validate to the trust store).
    """
    for trust_name, certificate in changes.trust_added:
        store.upload_trust(trust_name, certificate.public_bytes(serialization.Encoding.PEM))
    for purpose, chain, key_pem in changes.own_installed:
        if not key_passphrase:
            raise ConfigError(
                _(
                    "The file carries an encrypted {purpose} private key; give its passphrase "
                    "with --key-passphrase-file."
                ).format(purpose=purpose)
            )
        try:
            key = serialization.load_pem_private_key(key_pem, password=key_passphrase)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                _(
                    "The {purpose} private key in the file cannot be decrypted with the given "
                    "passphrase; check --key-passphrase-file."
                ).format(purpose=purpose)
            ) from error
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigError(
                _("The {purpose} private key is neither RSA nor ECDSA.").format(purpose=purpose)
            )
        bundle = pkcs12.dump_identity(purpose, key, chain, key_passphrase)
        try:
            store.import_pkcs12(purpose, bundle, key_passphrase)
        except PkiError as error:
            raise ConfigError(str(error)) from error
    for trust_name, certificate in changes.trust_removed:
        store.delete_trust(trust_name, _fingerprint(certificate))


def _fingerprint(certificate: x509.Certificate) -> str:
    # the trust store names its files, and accepts selectors, by this fingerprint
    return certificate.fingerprint(hashes.SHA256()).hex()
