"""The configuration entities the web pages and the REST API manage, on ``ConfigStore``.

Each :class:`Entity` names its value dataclass, the fields that identify one
item, and how to list, add and delete items with the same store and writer
operations the command line uses. The store has no update operation, so an
edit replaces the item: delete and add in one transaction, which the writer
rejects, with its usual message, while other items still refer to the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tlstrunk.config.errors import ConfigNotFoundError
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    DirectoryNumberConfig,
    PartitionConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.config.writer import ConfigWriter
from tlstrunk.i18n import _

__all__ = ["ENTITIES", "Entity", "find_entity"]

Key = Mapping[str, str | None]


@dataclass(frozen=True)
class Entity:
    """One kind of configuration item and its operations."""

    #: URL segment, as in /config/trunks and /api/v1/trunks.
    slug: str
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
                kind=self.singular, name=shown
            )
        )

    def create(self, store: ConfigStore, value: Any) -> None:
        with store.batch() as writer:
            self.add(writer, value)

    def remove(self, store: ConfigStore, key: Key) -> None:
        with store.batch() as writer:
            self.delete(writer, key)

    def replace(self, store: ConfigStore, key: Key, value: Any) -> None:
        """Replace the item ``key`` with ``value`` in one transaction."""
        with store.batch() as writer:
            self.delete(writer, key)
            self.add(writer, value)


def _name(key: Key) -> str:
    return str(key["name"])


def _list_trunk_specs(store: ConfigStore) -> list[Any]:
    return [trunk.to_spec() for trunk in store.list_trunks()]


ENTITIES: tuple[Entity, ...] = (
    Entity(
        slug="security-profiles",
        title=_("SIP Trunk Security Profiles"),
        singular=_("security profile"),
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
        title=_("SIP Trunks"),
        singular=_("trunk"),
        value_type=TrunkSpec,
        key_fields=("name",),
        columns=("name", "security_profile", "destinations", "srtp_allowed", "description"),
        list_values=_list_trunk_specs,
        add=lambda writer, value: writer.add_trunk(value),
        delete=lambda writer, key: writer.delete_trunk(_name(key)),
    ),
    Entity(
        slug="route-patterns",
        title=_("Route Patterns"),
        singular=_("route pattern"),
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
        title=_("Partitions"),
        singular=_("partition"),
        value_type=PartitionConfig,
        key_fields=("name",),
        columns=("name", "description"),
        list_values=lambda store: list(store.list_partitions()),
        add=lambda writer, value: writer.add_partition(value.name, value.description),
        delete=lambda writer, key: writer.delete_partition(_name(key)),
    ),
    Entity(
        slug="calling-search-spaces",
        title=_("Calling Search Spaces"),
        singular=_("calling search space"),
        value_type=CallingSearchSpaceConfig,
        key_fields=("name",),
        columns=("name", "partitions", "description"),
        list_values=lambda store: list(store.list_css()),
        add=lambda writer, value: writer.add_css(value.name, value.partitions, value.description),
        delete=lambda writer, key: writer.delete_css(_name(key)),
    ),
    Entity(
        slug="route-groups",
        title=_("Route Groups"),
        singular=_("route group"),
        value_type=RouteGroupConfig,
        key_fields=("name",),
        columns=("name", "distribution", "trunks", "description"),
        list_values=lambda store: list(store.list_route_groups()),
        add=lambda writer, value: writer.add_route_group(value),
        delete=lambda writer, key: writer.delete_route_group(_name(key)),
    ),
    Entity(
        slug="route-lists",
        title=_("Route Lists"),
        singular=_("route list"),
        value_type=RouteListConfig,
        key_fields=("name",),
        columns=("name", "route_groups", "description"),
        list_values=lambda store: list(store.list_route_lists()),
        add=lambda writer, value: writer.add_route_list(value),
        delete=lambda writer, key: writer.delete_route_list(_name(key)),
    ),
    Entity(
        slug="directory-numbers",
        title=_("Directory Numbers"),
        singular=_("directory number"),
        value_type=DirectoryNumberConfig,
        key_fields=("number", "partition"),
        columns=("number", "partition", "answer_mode", "css", "description"),
        list_values=lambda store: list(store.list_directory_numbers()),
        add=lambda writer, value: writer.add_directory_number(
            value.number, value.partition, value.description, value.answer_mode, value.css
        ),
        delete=lambda writer, key: writer.delete_directory_number(
            str(key["number"]), key.get("partition")
        ),
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
