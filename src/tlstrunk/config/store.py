"""The configuration database of one node: a SQLite file managed through SQLAlchemy.

Opening a ``ConfigStore`` creates the file if needed and runs the Alembic
migrations shipped in ``migrations/`` up to the newest revision, so no
alembic.ini is needed at run time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from tlstrunk.config.cdr import CdrRecord, record_from_row, time_text
from tlstrunk.config.enums import AnswerMode, DiscardDigits
from tlstrunk.config.errors import ConfigError, ConfigNotFoundError
from tlstrunk.config.orm import (
    CallingSearchSpaceRow,
    CdrRow,
    DigestUserRow,
    DirectoryNumberRow,
    NodeRow,
    PartitionRow,
    RouteGroupRow,
    RouteListRow,
    RoutePatternRow,
    SecurityProfileRow,
    SipPhoneRow,
    SipTrunkRow,
)
from tlstrunk.config.snapshot import ConfigSnapshot
from tlstrunk.config.values import (
    DEFAULT_NO_ANSWER_TIMEOUT,
    CallingSearchSpaceConfig,
    Destination,
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
    TrunkSpec,
)
from tlstrunk.config.writer import ConfigWriter
from tlstrunk.i18n import _

__all__ = ["ConfigStore"]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class ConfigStore:
    """Typed access to one node's configuration database.

    Every ``add_*``, ``delete_*`` and ``set_*`` call is its own transaction;
    ``batch()`` groups several writes into one.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The database holds digest password hashes, which work as passwords: owner only.
        if not self.path.exists():
            self.path.touch(mode=0o600)
        elif self.path.stat().st_mode & 0o077:
            with contextlib.suppress(OSError):  # a file of another owner stays as it is
                self.path.chmod(0o600)
        self._engine = create_engine(f"sqlite:///{self.path}")
        event.listen(self._engine, "connect", _enable_foreign_keys)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        try:
            upgrade(self._engine)
        except DatabaseError as error:
            self._engine.dispose()
            raise ConfigError(
                _(
                    "{path} is not a usable configuration database ({error}); move the "
                    "file away to start with an empty configuration, or check --node-dir."
                ).format(path=self.path, error=error.orig)
            ) from error

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> ConfigStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[ConfigWriter]:
        """Yield a writer whose writes commit together, or not at all on an error."""
        with self._sessions.begin() as session:
            yield ConfigWriter(session)

    # --- writes, one transaction each -------------------------------------

    def set_node(self, name: str, address: str, description: str = "") -> tuple[str, ...]:
        """Set the node's name and address; see ``ConfigWriter.set_node``."""
        with self.batch() as writer:
            return writer.set_node(name, address, description)

    def save_node(self, node: NodeConfig) -> tuple[str, ...]:
        """Set the whole node; see ``ConfigWriter.save_node`` for the returned names."""
        with self.batch() as writer:
            return writer.save_node(node)

    def add_security_profile(self, profile: SecurityProfileConfig) -> None:
        with self.batch() as writer:
            writer.add_security_profile(profile)

    def delete_security_profile(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_security_profile(name)

    def add_trunk(self, trunk: TrunkSpec) -> None:
        with self.batch() as writer:
            writer.add_trunk(trunk)

    def update_trunk(self, trunk: TrunkSpec) -> None:
        with self.batch() as writer:
            writer.update_trunk(trunk)

    def delete_trunk(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_trunk(name)

    def add_partition(self, name: str, description: str = "") -> None:
        with self.batch() as writer:
            writer.add_partition(name, description)

    def delete_partition(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_partition(name)

    def add_css(self, name: str, partitions: Sequence[str], description: str = "") -> None:
        with self.batch() as writer:
            writer.add_css(name, partitions, description)

    def delete_css(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_css(name)

    def add_route_group(self, group: RouteGroupConfig) -> None:
        with self.batch() as writer:
            writer.add_route_group(group)

    def delete_route_group(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_route_group(name)

    def add_route_list(self, route_list: RouteListConfig) -> None:
        with self.batch() as writer:
            writer.add_route_list(route_list)

    def delete_route_list(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_route_list(name)

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
        with self.batch() as writer:
            writer.add_route_pattern(
                pattern,
                trunk,
                partition,
                description,
                route_list=route_list,
                discard_digits=discard_digits,
                prefix_digits=prefix_digits,
                called_party_mask=called_party_mask,
            )

    def delete_route_pattern(self, pattern: str, partition: str | None = None) -> None:
        with self.batch() as writer:
            writer.delete_route_pattern(pattern, partition)

    def add_directory_number(
        self,
        number: str,
        partition: str | None = None,
        description: str = "",
        answer_mode: AnswerMode = AnswerMode.AUTO,
        css: str | None = None,
        no_answer_timeout: int = DEFAULT_NO_ANSWER_TIMEOUT,
    ) -> None:
        with self.batch() as writer:
            writer.add_directory_number(
                number, partition, description, answer_mode, css, no_answer_timeout
            )

    def update_directory_number(self, number: DirectoryNumberConfig) -> None:
        with self.batch() as writer:
            writer.update_directory_number(number)

    def delete_directory_number(self, number: str, partition: str | None = None) -> None:
        with self.batch() as writer:
            writer.delete_directory_number(number, partition)

    def add_digest_user(
        self, name: str, password: str, realm: str | None = None, description: str = ""
    ) -> None:
        with self.batch() as writer:
            writer.add_digest_user(name, password, realm, description)

    def set_digest_user(
        self,
        name: str,
        *,
        realm: str | None = None,
        password: str | None = None,
        description: str | None = None,
    ) -> None:
        with self.batch() as writer:
            writer.set_digest_user(name, realm=realm, password=password, description=description)

    def delete_digest_user(self, name: str, realm: str | None = None) -> None:
        with self.batch() as writer:
            writer.delete_digest_user(name, realm)

    def add_phone(self, phone: PhoneConfig) -> None:
        with self.batch() as writer:
            writer.add_phone(phone)

    def update_phone(self, phone: PhoneConfig) -> None:
        with self.batch() as writer:
            writer.update_phone(phone)

    def delete_phone(self, name: str) -> None:
        with self.batch() as writer:
            writer.delete_phone(name)

    # --- reads ------------------------------------------------------------

    def get_node(self) -> NodeConfig | None:
        with self._sessions() as session:
            row = session.scalars(select(NodeRow)).first()
            return None if row is None else _node(row)

    def list_security_profiles(self) -> list[SecurityProfileConfig]:
        with self._sessions() as session:
            rows = session.scalars(select(SecurityProfileRow).order_by(SecurityProfileRow.name))
            return [_profile(row) for row in rows]

    def get_security_profile(self, name: str) -> SecurityProfileConfig:
        """Return one profile. Raises ``ConfigNotFoundError`` when it does not exist."""
        for profile in self.list_security_profiles():
            if profile.name == name:
                return profile
        raise _not_found(_("security profile"), name)

    def list_trunks(self) -> list[TrunkConfig]:
        with self._sessions() as session:
            return _trunks(session)

    def get_trunk(self, name: str) -> TrunkConfig:
        """Return one trunk. Raises ``ConfigNotFoundError`` when it does not exist."""
        for trunk in self.list_trunks():
            if trunk.name == name:
                return trunk
        raise _not_found(_("trunk"), name)

    def list_partitions(self) -> list[PartitionConfig]:
        with self._sessions() as session:
            rows = session.scalars(select(PartitionRow).order_by(PartitionRow.name))
            return [PartitionConfig(row.name, row.description) for row in rows]

    def list_css(self) -> list[CallingSearchSpaceConfig]:
        with self._sessions() as session:
            return _css(session)

    def list_route_groups(self) -> list[RouteGroupConfig]:
        with self._sessions() as session:
            return _route_groups(session)

    def list_route_lists(self) -> list[RouteListConfig]:
        with self._sessions() as session:
            return _route_lists(session)

    def list_route_patterns(self) -> list[RoutePatternConfig]:
        with self._sessions() as session:
            return _route_patterns(session)

    def list_directory_numbers(self) -> list[DirectoryNumberConfig]:
        with self._sessions() as session:
            return _directory_numbers(session)

    def list_digest_users(self) -> list[DigestUserConfig]:
        with self._sessions() as session:
            return _digest_users(session)

    def list_phones(self) -> list[PhoneConfig]:
        with self._sessions() as session:
            return _phones(session)

    def get_phone(self, name: str) -> PhoneConfig:
        """Return one phone. Raises ``ConfigNotFoundError`` when it does not exist."""
        for phone in self.list_phones():
            if phone.name == name:
                return phone
        raise _not_found(_("phone"), name)

    def list_cdrs(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        call_id: str | None = None,
        limit: int | None = None,
    ) -> list[CdrRecord]:
        """Return call detail records oldest first.

        ``since`` is inclusive and ``until`` exclusive, both compared with the
        call's start; a naive datetime is taken as UTC. ``limit`` keeps the
        newest records.
        """
        if limit is not None and limit < 1:
            raise ConfigError(
                _("The CDR limit {limit} is not positive; give 1 or more.").format(limit=limit)
            )
        query = select(CdrRow)
        if since is not None:
            query = query.where(CdrRow.start >= time_text(since))
        if until is not None:
            query = query.where(CdrRow.start < time_text(until))
        if call_id is not None:
            query = query.where(CdrRow.call_id == call_id)
        query = query.order_by(CdrRow.start.desc(), CdrRow.id.desc()).limit(limit)
        with self._sessions() as session:
            rows = session.scalars(query).all()
            return [record_from_row(row) for row in reversed(rows)]

    def load_snapshot(self) -> ConfigSnapshot:
        """Read the whole configuration in one transaction and compile it."""
        with self._sessions() as session, session.begin():
            node = session.scalars(select(NodeRow)).first()
            profiles = session.scalars(select(SecurityProfileRow).order_by(SecurityProfileRow.name))
            partitions = session.scalars(select(PartitionRow).order_by(PartitionRow.name))
            snapshot = ConfigSnapshot.build(
                node=None if node is None else _node(node),
                security_profiles=[_profile(row) for row in profiles],
                trunks=_trunks(session),
                partitions=[PartitionConfig(row.name, row.description) for row in partitions],
                calling_search_spaces=_css(session),
                route_patterns=_route_patterns(session),
                directory_numbers=_directory_numbers(session),
                route_groups=_route_groups(session),
                route_lists=_route_lists(session),
                digest_users=_digest_users(session),
                phones=_phones(session),
            )
        logger.debug(
            "loaded configuration snapshot from %s: %d trunks, %d dial plan entries",
            self.path,
            len(snapshot.trunks),
            len(snapshot.analyzer),
        )
        return snapshot


#: Alembic keeps the running migration in module globals, so two threads that
#: migrate at once (a node's CDR writer and a command, say) must take turns.
_UPGRADE_LOCK = threading.Lock()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the shipped migrations on ``engine`` up to ``revision`` (the newest by default)."""
    with _UPGRADE_LOCK:
        _upgrade(engine, revision)


def _upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _enable_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _not_found(kind: str, name: str) -> ConfigNotFoundError:
    return ConfigNotFoundError(
        _("The {kind} {name!r} does not exist; check the spelling or create it first.").format(
            kind=kind, name=name
        )
    )


# --- rows to values ---------------------------------------------------------


def _node(row: NodeRow) -> NodeConfig:
    return NodeConfig(
        name=row.name,
        address=row.address,
        description=row.description,
        sip_realm=row.sip_realm,
        phone_port=row.phone_port,
        phone_secure_port=row.phone_secure_port,
    )


def _profile(row: SecurityProfileRow) -> SecurityProfileConfig:
    return SecurityProfileConfig(
        name=row.name,
        description=row.description,
        device_security_mode=row.device_security_mode,
        incoming_transport=row.incoming_transport,
        outgoing_transport=row.outgoing_transport,
        enable_digest_authentication=row.enable_digest_authentication,
        nonce_validity_time=row.nonce_validity_time,
        x509_subject_name=row.x509_subject_name,
        incoming_port=row.incoming_port,
        enable_application_level_authorization=row.enable_application_level_authorization,
        accept_presence_subscription=row.accept_presence_subscription,
        accept_out_of_dialog_refer=row.accept_out_of_dialog_refer,
        accept_unsolicited_notification=row.accept_unsolicited_notification,
        accept_replaces_header=row.accept_replaces_header,
        transmit_security_status=row.transmit_security_status,
        allow_charging_header=row.allow_charging_header,
        sip_v150_outbound_sdp_offer_filtering=row.sip_v150_outbound_sdp_offer_filtering,
        tls_policy=row.tls_policy,
    )


def _trunks(session: Session) -> list[TrunkConfig]:
    rows = session.scalars(
        select(SipTrunkRow)
        .options(
            selectinload(SipTrunkRow.destinations),
            selectinload(SipTrunkRow.security_profile),
            selectinload(SipTrunkRow.css),
            selectinload(SipTrunkRow.inbound_digest_user),
            selectinload(SipTrunkRow.outbound_digest_user),
        )
        .order_by(SipTrunkRow.name)
    )
    return [
        TrunkConfig(
            name=row.name,
            profile=_profile(row.security_profile),
            destinations=tuple(Destination(d.address, d.port) for d in row.destinations),
            description=row.description,
            device_pool=row.device_pool,
            location=row.location,
            srtp_allowed=row.srtp_allowed,
            consider_traffic_secure=row.consider_traffic_secure,
            sip_profile=row.sip_profile,
            dtmf_signaling_method=row.dtmf_signaling_method,
            css=None if row.css is None else row.css.name,
            options_ping=row.options_ping,
            options_ping_interval=row.options_ping_interval,
            destination_is_srv=row.destination_is_srv,
            inbound_digest_user=_user_name(row.inbound_digest_user),
            outbound_digest_user=_user_name(row.outbound_digest_user),
        )
        for row in rows
    ]


def _user_name(row: DigestUserRow | None) -> str | None:
    return None if row is None else row.name


def _css(session: Session) -> list[CallingSearchSpaceConfig]:
    rows = session.scalars(
        select(CallingSearchSpaceRow)
        .options(selectinload(CallingSearchSpaceRow.members))
        .order_by(CallingSearchSpaceRow.name)
    )
    return [
        CallingSearchSpaceConfig(
            name=row.name,
            partitions=tuple(member.partition.name for member in row.members),
            description=row.description,
        )
        for row in rows
    ]


def _route_patterns(session: Session) -> list[RoutePatternConfig]:
    rows = session.scalars(
        select(RoutePatternRow)
        .options(
            selectinload(RoutePatternRow.partition),
            selectinload(RoutePatternRow.trunk),
            selectinload(RoutePatternRow.route_list),
        )
        .order_by(RoutePatternRow.pattern, RoutePatternRow.partition_id)
    )
    return [
        RoutePatternConfig(
            pattern=row.pattern,
            trunk=None if row.trunk is None else row.trunk.name,
            partition=None if row.partition is None else row.partition.name,
            description=row.description,
            route_list=None if row.route_list is None else row.route_list.name,
            discard_digits=row.discard_digits,
            prefix_digits=row.prefix_digits,
            called_party_mask=row.called_party_mask,
        )
        for row in rows
    ]


def _route_groups(session: Session) -> list[RouteGroupConfig]:
    rows = session.scalars(
        select(RouteGroupRow)
        .options(selectinload(RouteGroupRow.members))
        .order_by(RouteGroupRow.name)
    )
    return [
        RouteGroupConfig(
            name=row.name,
            trunks=tuple(member.trunk.name for member in row.members),
            distribution=row.distribution,
            description=row.description,
        )
        for row in rows
    ]


def _route_lists(session: Session) -> list[RouteListConfig]:
    rows = session.scalars(
        select(RouteListRow).options(selectinload(RouteListRow.members)).order_by(RouteListRow.name)
    )
    return [
        RouteListConfig(
            name=row.name,
            route_groups=tuple(member.route_group.name for member in row.members),
            description=row.description,
        )
        for row in rows
    ]


def _directory_numbers(session: Session) -> list[DirectoryNumberConfig]:
    rows = session.scalars(
        select(DirectoryNumberRow)
        .options(selectinload(DirectoryNumberRow.partition), selectinload(DirectoryNumberRow.css))
        .order_by(DirectoryNumberRow.number, DirectoryNumberRow.partition_id)
    )
    return [
        DirectoryNumberConfig(
            number=row.number,
            partition=None if row.partition is None else row.partition.name,
            description=row.description,
            answer_mode=row.answer_mode,
            css=None if row.css is None else row.css.name,
            no_answer_timeout=row.no_answer_timeout,
        )
        for row in rows
    ]


def _digest_users(session: Session) -> list[DigestUserConfig]:
    rows = session.scalars(select(DigestUserRow).order_by(DigestUserRow.name, DigestUserRow.realm))
    return [
        DigestUserConfig(row.name, row.realm, row.ha1_md5, row.ha1_sha256, row.description)
        for row in rows
    ]


def _phones(session: Session) -> list[PhoneConfig]:
    rows = session.scalars(
        select(SipPhoneRow)
        .options(
            selectinload(SipPhoneRow.directory_number).selectinload(DirectoryNumberRow.partition),
            selectinload(SipPhoneRow.digest_user),
        )
        .order_by(SipPhoneRow.name)
    )
    phones = []
    for row in rows:
        line = row.directory_number
        phones.append(
            PhoneConfig(
                name=row.name,
                directory_number=line.number,
                partition=None if line.partition is None else line.partition.name,
                digest_user=_user_name(row.digest_user),
                device_security_mode=row.device_security_mode,
                transport=row.transport,
                description=row.description,
            )
        )
    return phones
