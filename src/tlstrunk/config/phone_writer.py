"""Writes of the node's phone settings, digest users and SIP phones.

``ConfigWriter`` inherits these methods; they share its session and so its
transaction. Passwords are hashed here into HA1 values and never stored.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tlstrunk.config import validate
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport
from tlstrunk.config.errors import ConfigError, ConfigNotFoundError
from tlstrunk.config.orm import (
    DigestUserRow,
    DirectoryNumberRow,
    NodeRow,
    PartitionRow,
    SecurityProfileRow,
    SipPhoneRow,
    SipTrunkRow,
)
from tlstrunk.config.values import DigestUserConfig, NodeConfig, PhoneConfig
from tlstrunk.i18n import _
from tlstrunk.sip.digest import compute_ha1

__all__ = ["PhoneWrites"]


class PhoneWrites:
    """Node realm and phone ports, digest users and phones, inside one session."""

    _session: Session

    # --- node -------------------------------------------------------------

    def save_node(self, node: NodeConfig) -> tuple[str, ...]:
        """Set the node with its realm and phone ports, replacing any earlier setting.

        Returns:
            The digest users of the old realm. They move to the new realm with
            their HA1 hashes cleared, so their passwords must be set again.

        Raises:
            ConfigError: a value is invalid, or a phone port is a trunk profile's
                incoming port on an overlapping transport.
        """
        validate.check_node(node)
        for port, transport in (
            (node.phone_port, IncomingTransport.TCP_UDP),
            (node.phone_secure_port, IncomingTransport.TLS),
        ):
            if port is not None:
                self._reject_profile_on_phone_port(port, transport)
        row = self._node_row()
        moved: tuple[str, ...] = ()
        if row is None:
            row = NodeRow(name=node.name)
            self._session.add(row)
        elif _realm(row) != node.realm:
            moved = self._move_realm(_realm(row), node.realm)
        row.name = node.name
        row.address = node.address
        row.description = node.description
        row.sip_realm = node.sip_realm
        row.phone_port = node.phone_port
        row.phone_secure_port = node.phone_secure_port
        return moved

    def _reject_profile_on_phone_port(self, port: int, transport: IncomingTransport) -> None:
        profiles = self._session.scalars(
            select(SecurityProfileRow).where(SecurityProfileRow.incoming_port == port)
        )
        for profile in profiles:
            if validate.socket_kinds(profile.incoming_transport) & validate.socket_kinds(transport):
                raise ConfigError(
                    _(
                        "Phone port {port} ({phones}) is already the incoming port of "
                        "security profile {profile!r} with transport {transport}; choose "
                        "another phone port or change the profile's incoming port."
                    ).format(
                        port=port,
                        phones=transport.value,
                        profile=profile.name,
                        transport=profile.incoming_transport.value,
                    )
                )

    def _reject_phone_port_clash(self, name: str, port: int, transport: IncomingTransport) -> None:
        """Reject a profile whose incoming port and transport clash with a node phone port."""
        node = self._node_row()
        if node is None:
            return
        for phone_port, phone_transport in (
            (node.phone_port, IncomingTransport.TCP_UDP),
            (node.phone_secure_port, IncomingTransport.TLS),
        ):
            kinds = validate.socket_kinds(phone_transport)
            if phone_port == port and kinds & validate.socket_kinds(transport):
                raise ConfigError(
                    _(
                        "Incoming port {port} with transport {transport} of security profile "
                        "{profile!r} is already the node's phone port for {phones}; choose "
                        "another incoming port or change the phone port with tlstrunk node set."
                    ).format(
                        port=port,
                        transport=transport.value,
                        profile=name,
                        phones=phone_transport.value,
                    )
                )

    def _move_realm(self, old: str, new: str) -> tuple[str, ...]:
        rows = self._session.scalars(
            select(DigestUserRow).where(DigestUserRow.realm == old).order_by(DigestUserRow.name)
        ).all()
        for row in rows:
            if self._digest_row(row.name, new) is not None:
                raise ConfigError(
                    _(
                        "Digest user {user!r} exists in both the old realm {old!r} and the new "
                        "realm {new!r}; remove one of them before changing the realm."
                    ).format(user=row.name, old=old, new=new)
                )
            row.realm = new
            row.ha1_md5 = ""
            row.ha1_sha256 = ""
        return tuple(row.name for row in rows)

    # --- digest users -----------------------------------------------------

    def add_digest_user(
        self, name: str, password: str, realm: str | None = None, description: str = ""
    ) -> None:
        """Add a digest user; ``realm`` ``None`` is the node's realm."""
        validate.check_digest_user_name(name)
        realm = self._default_realm(realm, name)
        validate.check_realm(realm)
        validate.check_password(password, name)
        if self._digest_row(name, realm) is not None:
            raise ConfigError(
                _(
                    "Digest user {name!r} already exists in realm {realm!r}; set its password "
                    "with tlstrunk digestuser set, or choose another name."
                ).format(name=name, realm=realm)
            )
        row = DigestUserRow(name=name, realm=realm, description=description)
        _hash_password(row, password)
        self._session.add(row)

    def import_digest_user(self, user: DigestUserConfig) -> None:
        """Add a digest user from exported password hashes (HA1), for configuration imports.

        Empty hashes are allowed: such a user authenticates nobody until its
        password is set with ``set_digest_user``.
        """
        validate.check_digest_user_name(user.name)
        validate.check_realm(user.realm)
        for algorithm, value, length in (
            ("MD5", user.ha1_md5, 32),
            ("SHA-256", user.ha1_sha256, 64),
        ):
            if value and (len(value) != length or not _is_hex(value)):
                raise ConfigError(
                    _(
                        "The {algorithm} HA1 of digest user {name!r} must be {length} hexadecimal "
                        "digits; export it again from the node, or set the password instead."
                    ).format(algorithm=algorithm, name=user.name, length=length)
                )
        if self._digest_row(user.name, user.realm) is not None:
            raise ConfigError(
                _("Digest user {name!r} already exists in realm {realm!r}.").format(
                    name=user.name, realm=user.realm
                )
            )
        row = DigestUserRow(
            name=user.name,
            realm=user.realm,
            description=user.description,
            ha1_md5=user.ha1_md5,
            ha1_sha256=user.ha1_sha256,
        )
        self._session.add(row)

    def set_digest_user(
        self,
        name: str,
        *,
        realm: str | None = None,
        password: str | None = None,
        description: str | None = None,
    ) -> None:
        """Change a digest user's password or description; ``None`` keeps a value."""
        row = self._find_digest_user(name, realm)
        if password is not None:
            validate.check_password(password, name)
            _hash_password(row, password)
        if description is not None:
            row.description = description

    def delete_digest_user(self, name: str, realm: str | None = None) -> None:
        """Delete a digest user that no phone and no trunk uses."""
        row = self._find_digest_user(name, realm)
        phones = self._session.scalars(
            select(SipPhoneRow.name).where(SipPhoneRow.digest_user_id == row.id)
        ).all()
        inbound = self._session.scalars(
            select(SipTrunkRow.name).where(SipTrunkRow.inbound_digest_user_id == row.id)
        ).all()
        users = [_("phone {name}").format(name=phone) for phone in phones]
        users += [_("trunk {name} (inbound)").format(name=trunk) for trunk in inbound]
        outbound = self._session.scalars(
            select(SipTrunkRow).where(SipTrunkRow.outbound_digest_user_id == row.id)
        ).all()
        other = self._session.scalars(
            select(DigestUserRow).where(DigestUserRow.name == name, DigestUserRow.id != row.id)
        ).first()
        if other is None:
            users += [_("trunk {name} (outbound)").format(name=trunk.name) for trunk in outbound]
        if users:
            raise ConfigError(
                _(
                    "Digest user {name!r} in realm {realm!r} is used by {users}; give those "
                    "another digest user or none first."
                ).format(name=name, realm=row.realm, users=", ".join(users))
            )
        for trunk in outbound:
            # the outbound user is a name, so its row in another realm can still respond
            trunk.outbound_digest_user = other
        self._session.delete(row)

    def _default_realm(self, realm: str | None, user: str) -> str:
        if realm is not None:
            return realm
        node_realm = self._node_realm()
        if node_realm is None:
            raise ConfigError(
                _(
                    "Digest user {user!r} has no realm and the node is not set yet; give "
                    "--realm, or set the node first with tlstrunk node set."
                ).format(user=user)
            )
        return node_realm

    def _find_digest_user(self, name: str, realm: str | None) -> DigestUserRow:
        query = select(DigestUserRow).where(DigestUserRow.name == name)
        if realm is not None:
            query = query.where(DigestUserRow.realm == realm)
        rows = self._session.scalars(query.order_by(DigestUserRow.realm)).all()
        if not rows:
            where = "" if realm is None else _(" in realm {realm!r}").format(realm=realm)
            raise ConfigNotFoundError(
                _(
                    "Digest user {name!r}{where} does not exist; add it with tlstrunk "
                    "digestuser add or check the spelling."
                ).format(name=name, where=where)
            )
        if len(rows) > 1:
            raise ConfigError(
                _(
                    "Digest user {name!r} exists in realms {realms}; give --realm to choose one."
                ).format(name=name, realms=", ".join(repr(row.realm) for row in rows))
            )
        return rows[0]

    def _digest_row(self, name: str, realm: str) -> DigestUserRow | None:
        return self._session.scalars(
            select(DigestUserRow).where(DigestUserRow.name == name, DigestUserRow.realm == realm)
        ).first()

    def _local_digest_user(self, name: str, owner: str) -> DigestUserRow:
        """Find the user ``owner`` (a phone or trunk) authenticates as, in the node's realm."""
        realm = self._node_realm()
        if realm is None:
            return self._find_digest_user_any_realm(name, owner)
        row = self._digest_row(name, realm)
        if row is not None:
            return row
        elsewhere = self._find_digest_user_any_realm(name, owner)
        raise ConfigError(
            _(
                "Digest user {name!r} of {owner} exists only in realm {other!r}, but this node "
                "challenges in realm {realm!r}; add the user in realm {realm!r}."
            ).format(name=name, owner=owner, other=elsewhere.realm, realm=realm)
        )

    def _find_digest_user_any_realm(self, name: str, owner: str) -> DigestUserRow:
        row = self._session.scalars(
            select(DigestUserRow).where(DigestUserRow.name == name).order_by(DigestUserRow.realm)
        ).first()
        if row is None:
            raise ConfigNotFoundError(
                _(
                    "Digest user {name!r} of {owner} does not exist; add it with tlstrunk "
                    "digestuser add or check the spelling."
                ).format(name=name, owner=owner)
            )
        return row

    # --- phones -----------------------------------------------------------

    def add_phone(self, phone: PhoneConfig) -> None:
        """Add a SIP phone on an existing directory number."""
        validate.check_phone(phone)
        found = self._session.scalars(
            select(SipPhoneRow.id).where(SipPhoneRow.name == phone.name)
        ).first()
        if found is not None:
            raise ConfigError(
                _(
                    "A phone named {name!r} already exists; choose another name or change it "
                    "with tlstrunk phone set."
                ).format(name=phone.name)
            )
        row = SipPhoneRow(name=phone.name)
        self._fill_phone(row, phone)
        self._session.add(row)

    def update_phone(self, phone: PhoneConfig) -> None:
        """Replace every setting of the existing phone ``phone.name``."""
        validate.check_phone(phone)
        self._fill_phone(self._find_phone(phone.name), phone)

    def delete_phone(self, name: str) -> None:
        """Delete a phone."""
        self._session.delete(self._find_phone(name))

    def _fill_phone(self, row: SipPhoneRow, phone: PhoneConfig) -> None:
        owner = _("phone {name}").format(name=phone.name)
        row.directory_number = self._phone_line(phone)
        row.digest_user = (
            None if phone.digest_user is None else self._local_digest_user(phone.digest_user, owner)
        )
        row.device_security_mode = DeviceSecurityMode(phone.device_security_mode)
        row.transport = IncomingTransport(phone.transport)
        row.description = phone.description

    def _phone_line(self, phone: PhoneConfig) -> DirectoryNumberRow:
        query = select(DirectoryNumberRow).where(
            DirectoryNumberRow.number == phone.directory_number
        )
        if phone.partition is None:
            query = query.where(DirectoryNumberRow.partition_id.is_(None))
        else:
            query = query.join(PartitionRow, DirectoryNumberRow.partition_id == PartitionRow.id)
            query = query.where(PartitionRow.name == phone.partition)
        row = self._session.scalars(query).first()
        if row is None:
            raise ConfigNotFoundError(
                _(
                    "Phone {name!r} is on directory number {number} in partition {partition}, "
                    "which does not exist; add it with tlstrunk dn add or give the right "
                    "--partition."
                ).format(
                    name=phone.name,
                    number=phone.directory_number,
                    partition=phone.partition or "<None>",
                )
            )
        return row

    def _find_phone(self, name: str) -> SipPhoneRow:
        row = self._session.scalars(select(SipPhoneRow).where(SipPhoneRow.name == name)).first()
        if row is None:
            raise ConfigNotFoundError(
                _(
                    "The phone {name!r} does not exist; add it with tlstrunk phone add or "
                    "check the spelling."
                ).format(name=name)
            )
        return row

    # --- node lookups -----------------------------------------------------

    def _node_row(self) -> NodeRow | None:
        return self._session.scalars(select(NodeRow)).first()

    def _node_realm(self) -> str | None:
        row = self._node_row()
        return None if row is None else _realm(row)


def _realm(row: NodeRow) -> str:
    return row.sip_realm or row.name


def _hash_password(row: DigestUserRow, password: str) -> None:
    row.ha1_md5 = compute_ha1(row.name, row.realm, password, "MD5")
    row.ha1_sha256 = compute_ha1(row.name, row.realm, password, "SHA-256")


def _is_hex(text: str) -> bool:
    """Return whether ``text`` is hexadecimal digits only."""
    return all(char in "0123456789abcdefABCDEF" for char in text)
