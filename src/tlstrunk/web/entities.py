"""The configuration entities the web pages and the REST API manage, on ``ConfigStore``.

Each :class:`Entity` names its value dataclass, the fields that identify one
item, and how to list, add, update and delete items with the same store and
writer operations the command line uses.

An edit that keeps the identifying fields uses the writer's ``update_*``
operation where one exists (trunks, directory numbers, phones, digest users),
so items that others refer to can change in place. The other kinds (security
profiles, partitions, calling search spaces, route groups, route lists, route
patterns) have no update operation; an edit of those, and any edit that
renames an item, deletes and adds in one transaction, which the writer
rejects with its usual message while other items still refer to the old one.

Titles and singular names are English source texts marked with ``N_``; the
pages translate them when they render, in the request's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tlstrunk.config.errors import ConfigNotFoundError
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    DigestUserConfig,
    DirectoryNumberConfig,
    PartitionConfig,
    PhoneConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.config.writer import ConfigWriter
from tlstrunk.web.fields import InputError
from tlstrunk.web.language import N_, _

__all__ = ["ENTITIES", "DigestUserInput", "DigestUserView", "Entity", "find_entity"]

Key = Mapping[str, str | None]
#: Marks a form field whose value the pages never show back, such as a password.
SECRET = {"secret": True}


@dataclass(frozen=True)
class Entity:
    """One kind of configuration item and its operations."""

    #: URL segment, as in /config/trunks and /api/v1/trunks.
    slug: str
    #: English source texts; translate them with ``_`` when showing them.
    title: str
    singular: str
    value_type: type[Any]
    #: Fields that identify one item; the first is its name in URLs.
    key_fields: tuple[str, ...]
    #: Columns of the "Find and List" table.
    columns: tuple[str, ...]
    list_values: Callable[[ConfigStore], list[Any]]
    add: Callable[[ConfigWriter, Any], None]
    delete: Callable[[ConfigWriter, Key], None]
    #: Changes the item named by the value's key fields in place; None deletes and adds.
    update: Callable[[ConfigWriter, Any], None] | None = None

    def key_of(self, value: Any) -> dict[str, str | None]:
        """Return the identifying fields of ``value``."""
        return {name: getattr(value, name) for name in self.key_fields}

    def find(self, store: ConfigStore, key: Key) -> Any:
        """Return the item with ``key``.

        Raises:
            ConfigNotFoundError: no item has that key.
        """
        for value in self.list_values(store):
            if self.key_of(value) == dict(key):
                return value
        shown = " / ".join(str(v) if v is not None else "<None>" for v in key.values())
        raise ConfigNotFoundError(
            _("The {kind} {name!r} does not exist; check the spelling or create it first.").format(
                kind=_(self.singular), name=shown
            )
        )

    def create(self, store: ConfigStore, value: Any) -> None:
        with store.batch() as writer:
            self.add(writer, value)

    def remove(self, store: ConfigStore, key: Key) -> None:
        with store.batch() as writer:
            self.delete(writer, key)

    def replace(self, store: ConfigStore, key: Key, value: Any) -> None:
        """Change the item ``key`` into ``value`` in one transaction.

        The writer's update operation changes it in place when the key stays
        the same; a renamed item, or a kind without one, is deleted and added.
        """
        with store.batch() as writer:
            if self.update is not None and self.key_of(value) == dict(key):
                self.update(writer, value)
                return
            self.delete(writer, key)
            self.add(writer, value)


def _name(key: Key) -> str:
    return str(key["name"])


def _list_trunk_specs(store: ConfigStore) -> list[Any]:
    return [trunk.to_spec() for trunk in store.list_trunks()]


def _add_directory_number(writer: ConfigWriter, value: DirectoryNumberConfig) -> None:
    writer.add_directory_number(
        value.number,
        value.partition,
        value.description,
        value.answer_mode,
        value.css,
        value.no_answer_timeout,
    )


# --- digest users -------------------------------------------------------------


@dataclass(frozen=True)
class DigestUserInput:
    """The digest user form: the password is entered twice and only its HA1 is stored."""

    name: str
    #: ``None`` is the node's realm.
    realm: str | None = None
    description: str = ""
    #: On an edit, an empty password keeps the current one.
    password: str = field(default="", metadata=SECRET)
    confirm_password: str = field(default="", metadata=SECRET)


@dataclass(frozen=True)
class DigestUserView(DigestUserInput):
    """A stored digest user as the list shows it: never its HA1, only whether it has one."""

    password_set: bool = False


def _list_digest_users(store: ConfigStore) -> list[Any]:
    return [_digest_view(user) for user in store.list_digest_users()]


def _digest_view(user: DigestUserConfig) -> DigestUserView:
    return DigestUserView(
        name=user.name,
        realm=user.realm,
        description=user.description,
        password_set=user.has_password,
    )


def _checked_password(value: DigestUserInput, *, required: bool) -> str | None:
    if value.password != value.confirm_password:
        raise InputError(
            "confirm_password",
            _("The password and its confirmation differ; type them again."),
        )
    if not value.password and not required:
        return None
    return value.password


def _add_digest_user(writer: ConfigWriter, value: DigestUserInput) -> None:
    password = _checked_password(value, required=True)
    assert password is not None
    writer.add_digest_user(value.name, password, value.realm, value.description)


def _update_digest_user(writer: ConfigWriter, value: DigestUserInput) -> None:
    password = _checked_password(value, required=False)
    writer.set_digest_user(
        value.name, realm=value.realm, password=password, description=value.description
    )


def _key_realm(key: Key) -> str | None:
    return key.get("realm") or None


ENTITIES: tuple[Entity, ...] = (
    Entity(
        slug="security-profiles",
        title=N_("SIP Trunk Security Profiles"),
        singular=N_("security profile"),
        value_type=SecurityProfileConfig,
        key_fields=("name",),
        columns=(
            "name",
            "device_security_mode",
            "incoming_transport",
            "outgoing_transport",
            "incoming_port",
            "x509_subject_name",
        ),
        list_values=lambda store: list(store.list_security_profiles()),
        add=lambda writer, value: writer.add_security_profile(value),
        delete=lambda writer, key: writer.delete_security_profile(_name(key)),
    ),
    Entity(
        slug="trunks",
        title=N_("SIP Trunks"),
        singular=N_("trunk"),
        value_type=TrunkSpec,
        key_fields=("name",),
        columns=("name", "security_profile", "destinations", "srtp_allowed", "description"),
        list_values=_list_trunk_specs,
        add=lambda writer, value: writer.add_trunk(value),
        delete=lambda writer, key: writer.delete_trunk(_name(key)),
        update=lambda writer, value: writer.update_trunk(value),
    ),
    Entity(
        slug="route-patterns",
        title=N_("Route Patterns"),
        singular=N_("route pattern"),
        value_type=RoutePatternConfig,
        key_fields=("pattern", "partition"),
        columns=("pattern", "partition", "trunk", "route_list", "description"),
        list_values=lambda store: list(store.list_route_patterns()),
        add=lambda writer, value: writer.add_route(value),
        delete=lambda writer, key: writer.delete_route_pattern(
            str(key["pattern"]), key.get("partition")
        ),
    ),
    Entity(
        slug="partitions",
        title=N_("Partitions"),
        singular=N_("partition"),
        value_type=PartitionConfig,
        key_fields=("name",),
        columns=("name", "description"),
        list_values=lambda store: list(store.list_partitions()),
        add=lambda writer, value: writer.add_partition(value.name, value.description),
        delete=lambda writer, key: writer.delete_partition(_name(key)),
    ),
    Entity(
        slug="calling-search-spaces",
        title=N_("Calling Search Spaces"),
        singular=N_("calling search space"),
        value_type=CallingSearchSpaceConfig,
        key_fields=("name",),
        columns=("name", "partitions", "description"),
        list_values=lambda store: list(store.list_css()),
        add=lambda writer, value: writer.add_css(value.name, value.partitions, value.description),
        delete=lambda writer, key: writer.delete_css(_name(key)),
    ),
    Entity(
        slug="route-groups",
        title=N_("Route Groups"),
        singular=N_("route group"),
        value_type=RouteGroupConfig,
        key_fields=("name",),
        columns=("name", "distribution", "trunks", "description"),
        list_values=lambda store: list(store.list_route_groups()),
        add=lambda writer, value: writer.add_route_group(value),
        delete=lambda writer, key: writer.delete_route_group(_name(key)),
    ),
    Entity(
        slug="route-lists",
        title=N_("Route Lists"),
        singular=N_("route list"),
        value_type=RouteListConfig,
        key_fields=("name",),
        columns=("name", "route_groups", "description"),
        list_values=lambda store: list(store.list_route_lists()),
        add=lambda writer, value: writer.add_route_list(value),
        delete=lambda writer, key: writer.delete_route_list(_name(key)),
    ),
    Entity(
        slug="directory-numbers",
        title=N_("Directory Numbers"),
        singular=N_("directory number"),
        value_type=DirectoryNumberConfig,
        key_fields=("number", "partition"),
        columns=("number", "partition", "answer_mode", "css", "description"),
        list_values=lambda store: list(store.list_directory_numbers()),
        add=_add_directory_number,
        delete=lambda writer, key: writer.delete_directory_number(
            str(key["number"]), key.get("partition")
        ),
        update=lambda writer, value: writer.update_directory_number(value),
    ),
    Entity(
        slug="phones",
        title=N_("Phones"),
        singular=N_("phone"),
        value_type=PhoneConfig,
        key_fields=("name",),
        columns=(
            "name",
            "directory_number",
            "partition",
            "digest_user",
            "device_security_mode",
            "transport",
            "description",
        ),
        list_values=lambda store: list(store.list_phones()),
        add=lambda writer, value: writer.add_phone(value),
        delete=lambda writer, key: writer.delete_phone(_name(key)),
        update=lambda writer, value: writer.update_phone(value),
    ),
    Entity(
        slug="digest-users",
        title=N_("Digest Users"),
        singular=N_("digest user"),
        value_type=DigestUserInput,
        key_fields=("name", "realm"),
        columns=("name", "realm", "description", "password_set"),
        list_values=_list_digest_users,
        add=_add_digest_user,
        delete=lambda writer, key: writer.delete_digest_user(_name(key), _key_realm(key)),
        update=_update_digest_user,
    ),
)


def find_entity(slug: str) -> Entity:
    """Return the entity with URL segment ``slug``.

    Raises:
        ConfigNotFoundError: no such entity.
    """
    for entity in ENTITIES:
        if entity.slug == slug:
            return entity
    raise ConfigNotFoundError(
        _("There is no configuration page {slug!r}; use one of: {known}.").format(
            slug=slug, known=", ".join(e.slug for e in ENTITIES)
        )
    )
