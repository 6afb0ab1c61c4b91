"""Users, sessions and API tokens of the admin web server, in their own SQLite file.

The file is ``web.db`` in the node directory, next to ``config.db``. Its tables
are created with SQLAlchemy's ``create_all`` rather than an Alembic migration,
so the web server's accounts stay apart from the call configuration.

Passwords are hashed with Argon2id (argon2-cffi). Session ids and API tokens
are 256-bit random values, so a SHA-256 digest is enough to store them: a slow
hash only helps against guessing low-entropy secrets such as passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Float, Integer, String, create_engine, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from tlstrunk.web.language import _, ngettext

__all__ = [
    "ADMIN_USER",
    "LOCKOUT_SECONDS",
    "MAX_FAILED_LOGINS",
    "MIN_PASSWORD_LENGTH",
    "SESSION_IDLE_SECONDS",
    "Accounts",
    "AuthError",
    "SessionInfo",
    "web_db_path",
]

logger = logging.getLogger(__name__)

ADMIN_USER = "admin"
#: Failed logins in a row after which a user is locked out.
MAX_FAILED_LOGINS = 5
#: Seconds a locked-out user must wait.
LOCKOUT_SECONDS = 300.0
#: Seconds of inactivity after which a session ends.
SESSION_IDLE_SECONDS = 1800.0
MIN_PASSWORD_LENGTH = 12

Clock = Callable[[], float]


def web_db_path(node_dir: Path) -> Path:
    """Return the web server's account database of the node in ``node_dir``."""
    return node_dir / "web.db"


class AuthError(Exception):
    """A login, password change or token was rejected; the message is for the user."""


class _Base(DeclarativeBase):
    pass


class UserRow(_Base):
    __tablename__ = "web_users"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    password_hash: Mapped[str] = mapped_column(String)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)


class SessionRow(_Base):
    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String, primary_key=True)
    user: Mapped[str] = mapped_column(String)
    csrf_token: Mapped[str] = mapped_column(String)
    expires: Mapped[float] = mapped_column(Float)


class TokenRow(_Base):
    __tablename__ = "web_tokens"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String, unique=True)
    created: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class SessionInfo:
    """A live browser session."""

    user: str
    csrf_token: str
    must_change_password: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    """The users, sessions and tokens of one node's web server."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        self._hasher = PasswordHasher()
        self._engine = create_engine(f"sqlite:///{path}")
        _Base.metadata.create_all(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    # --- users --------------------------------------------------------------

    def ensure_admin(self) -> str | None:
        """Create user "admin" with a random one-time password when no user exists.

        Returns the password to show once, or None when users already exist.
        """
        with self._sessions.begin() as db:
            if db.scalars(select(UserRow.name)).first() is not None:
                return None
            password = secrets.token_urlsafe(12)
            db.add(UserRow(name=ADMIN_USER, password_hash=self._hasher.hash(password)))
        logger.info("created web user %s with a one-time password", ADMIN_USER)
        return password

    def authenticate(self, user: str, password: str) -> bool:
        """Check a login and return whether the user must change the password.

        Raises:
            AuthError: the user is locked out, or the name or password is wrong.
        """
        now = self._clock()
        with self._sessions.begin() as db:
            row = db.get(UserRow, user)
            if row is None:
                self._hasher.hash(password)  # spend the same time as for a known user
                raise AuthError(_("Invalid user name or password."))
            if row.locked_until > now:
                # rounded up, so that 1 to 60 seconds left reads "1 minute"
                minutes = -int((now - row.locked_until) // 60)
                raise AuthError(
                    ngettext(
                        "User {user} is locked after {count} failed logins; try again in "
                        "{minutes} minute.",
                        "User {user} is locked after {count} failed logins; try again in "
                        "{minutes} minutes.",
                        minutes,
                    ).format(user=user, count=MAX_FAILED_LOGINS, minutes=minutes)
                )
            accepted = self._password_matches(row.password_hash, password)
            if accepted:
                row.failed_logins = 0
                return row.must_change_password
            # the failure is counted in this transaction, which must commit before raising
            row.failed_logins += 1
            if row.failed_logins >= MAX_FAILED_LOGINS:
                row.locked_until = now + LOCKOUT_SECONDS
                row.failed_logins = 0
                logger.warning("web user %s locked after failed logins", user)
        raise AuthError(_("Invalid user name or password."))

    def change_password(self, user: str, old: str, new: str) -> None:
        """Set a new password after checking the old one.

        Raises:
            AuthError: the old password is wrong or the new one is too weak.
        """
        if len(new) < MIN_PASSWORD_LENGTH:
            raise AuthError(
                _("The new password has {length} characters; use at least {minimum}.").format(
                    length=len(new), minimum=MIN_PASSWORD_LENGTH
                )
            )
        if new == old:
            raise AuthError(_("The new password equals the old one; choose another password."))
        with self._sessions.begin() as db:
            row = db.get(UserRow, user)
            if row is None or not self._password_matches(row.password_hash, old):
                raise AuthError(_("The current password is wrong; type it again."))
            row.password_hash = self._hasher.hash(new)
            row.must_change_password = False
        logger.info("web user %s changed the password", user)

    def _password_matches(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    # --- sessions -----------------------------------------------------------

    def open_session(self, user: str) -> str:
        """Start a session for ``user`` and return its id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        with self._sessions.begin() as db:
            db.execute(delete(SessionRow).where(SessionRow.expires <= self._clock()))
            db.add(
                SessionRow(
                    id_hash=_digest(session_id),
                    user=user,
                    csrf_token=secrets.token_urlsafe(32),
                    expires=self._clock() + SESSION_IDLE_SECONDS,
                )
            )
        return session_id

    def session(self, session_id: str) -> SessionInfo | None:
        """Return the live session ``session_id`` and extend it, or None when it ended."""
        now = self._clock()
        with self._sessions.begin() as db:
            row = db.get(SessionRow, _digest(session_id))
            if row is None or row.expires <= now:
                return None
            row.expires = now + SESSION_IDLE_SECONDS
            user = db.get(UserRow, row.user)
            if user is None:
                return None
            return SessionInfo(row.user, row.csrf_token, user.must_change_password)

    def close_session(self, session_id: str) -> None:
        with self._sessions.begin() as db:
            db.execute(delete(SessionRow).where(SessionRow.id_hash == _digest(session_id)))

    # --- API tokens ---------------------------------------------------------

    def create_token(self, name: str) -> str:
        """Create the API token ``name`` and return its secret, which is not stored.

        Raises:
            AuthError: the name is empty or already taken.
        """
        if not name.strip():
            raise AuthError(_("The token name is empty; give a name such as 'monitoring'."))
        token = secrets.token_urlsafe(32)
        with self._sessions.begin() as db:
            if db.get(TokenRow, name) is not None:
                raise AuthError(
                    _("A token named {name!r} already exists; choose another name.").format(
                        name=name
                    )
                )
            db.add(TokenRow(name=name, token_hash=_digest(token), created=self._clock()))
        logger.info("created web API token %s", name)
        return token

    def token_name(self, token: str) -> str | None:
        """Return the name of the API token ``token``, or None when it is unknown."""
        wanted = _digest(token)
        with self._sessions() as db:
            for row in db.scalars(select(TokenRow)):
                if hmac.compare_digest(row.token_hash, wanted):
                    return row.name
        return None

    def list_tokens(self) -> list[str]:
        with self._sessions() as db:
            return list(db.scalars(select(TokenRow.name).order_by(TokenRow.name)))

    def delete_token(self, name: str) -> None:
        """Delete the API token ``name``.

        Raises:
            AuthError: no such token.
        """
        with self._sessions.begin() as db:
            row = db.get(TokenRow, name)
            if row is None:
                raise AuthError(
                    _("No token named {name!r}; list them with 'tlstrunk web token list'.").format(
                        name=name
                    )
                )
            db.delete(row)
