"""The registrar: SIP phones REGISTER their directory numbers with a node (RFC 3261 section 10).

A phone registers on the node's phone port over UDP, TCP or TLS. The To URI
names the directory number; when the phone has a digest user the REGISTER must
carry digest credentials for the node's realm. Bindings live in memory only:
a phone re-registers within its expiry, and a binding that relies on a TCP or
TLS connection ends with that connection, because the node reaches the phone
over the connection the phone opened.
"""

from __future__ import annotations

import email.utils
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tlstrunk.config.enums import DeviceSecurityMode
from tlstrunk.config.snapshot import ConfigSnapshot
from tlstrunk.config.values import PhoneConfig
from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.address import NameAddress
from tlstrunk.sip.digest import AuthOutcome, DigestServer, NonceSigner
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.headers import split_comma_list, warning_text
from tlstrunk.sip.message import Request, Response, make_response
from tlstrunk.transport.connection import SipChannel

logger = logging.getLogger(__name__)

#: Expiry granted when the REGISTER requests none (RFC 3261 10.2.1.1 suggests 3600).
DEFAULT_EXPIRES = 3600
#: The maximum and minimum expiry this registrar grants.
MAX_EXPIRES = 3600
MIN_EXPIRES = 60
#: Failed digest checks from one source address within FAILURE_WINDOW seconds
#: after which that address is refused for BLOCK_SECONDS, to slow password guessing.
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
BLOCK_SECONDS = 60.0
#: Source addresses whose failures are counted at once; the oldest is forgotten first.
MAX_TRACKED_SOURCES = 10_000
#: Digest algorithms offered to trunk peers, strongest first (RFC 8760).
TRUNK_ALGORITHMS = ("SHA-256", "MD5")
#: Digest algorithms offered to phones: MD5 only, as call managers do, because
#: phones built on libre 1.x (baresip 1.0) give up on any challenge that names
#: SHA-256, even beside an MD5 one. Keys still travel only over TLS.
PHONE_ALGORITHMS = ("MD5",)


@dataclass
class Binding:
    """One registered contact of a phone."""

    phone: str
    number: str
    contact: NameAddress
    channel: SipChannel
    expires_at: float
    call_id: str
    cseq: int
    user_agent: str
    registered_at: float

    def to_dict(self, now: float) -> dict[str, object]:
        """Return the binding as JSON-ready data for the control socket."""
        return {
            "phone": self.phone,
            "number": self.number,
            "contact": str(self.contact.uri),
            "transport": self.channel.transport,
            "source": f"{self.channel.remote[0]}:{self.channel.remote[1]}",
            "expires_in": max(0, round(self.expires_at - now)),
            "user_agent": self.user_agent,
            "registered_at": self.registered_at,
            "tls": self.channel.tls is not None,
        }


class PhoneAuthenticator:
    """Digest authentication of phones (and of trunk peers) against the configured users."""

    def __init__(
        self,
        snapshot: Callable[[], ConfigSnapshot],
        trace: TraceWriter,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._trace = trace
        self._clock = clock
        #: Source address to the times of its recent failed digest checks.
        self._failures: dict[str, deque[float]] = {}
        #: Source address to the moment its block ends.
        self._blocked: dict[str, float] = {}
        self._signer = NonceSigner(secret or secrets.token_bytes(32))
        self._servers: dict[tuple[str, float, tuple[str, ...]], DigestServer] = {}

    def server(
        self, nonce_validity: float, algorithms: tuple[str, ...] = TRUNK_ALGORITHMS
    ) -> DigestServer:
        """Return the digest server for the node's realm with nonces valid that many seconds.

        One server per realm, validity and algorithm list lives as long as the
        node, so that its nonce-count table catches replayed credentials.
        """
        key = (self.realm, nonce_validity, algorithms)
        server = self._servers.get(key)
        if server is None:
            server = DigestServer(self.realm, self._signer, nonce_validity, algorithms)
            self._servers[key] = server
        return server

    @property
    def realm(self) -> str:
        node = self._snapshot().node
        return node.realm if node is not None else "tlstrunk"

    def blocked(self, address: str) -> bool:
        """Return whether ``address`` is refused for now after too many failed checks."""
        until = self._blocked.get(address)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._blocked[address]
        return False

    def note_failure(self, address: str) -> None:
        """Count a failed digest check from ``address``; block it once they pile up."""
        now = self._clock()
        times = self._failures.setdefault(address, deque())
        times.append(now)
        while times and times[0] < now - FAILURE_WINDOW:
            times.popleft()
        if len(times) >= MAX_FAILURES:
            del self._failures[address]
            self._blocked[address] = now + BLOCK_SECONDS
            self._trace.warning(
                "SIPRegistrar",
                "%s failed digest authentication %d times within %.0f s; its requests are "
                "refused for %.0f s",
                address,
                MAX_FAILURES,
                FAILURE_WINDOW,
                BLOCK_SECONDS,
            )
        if len(self._failures) > MAX_TRACKED_SOURCES:
            self._failures.pop(next(iter(self._failures)))

    def lookup_ha1(self, username: str, realm: str, algorithm: str) -> str | None:
        """Return the stored HA1 of a digest user for ``algorithm``, or ``None``."""
        user = self._snapshot().digest_user(username, realm)
        if user is None:
            return None
        return user.ha1_sha256 if algorithm.upper() == "SHA-256" else user.ha1_md5


class Registrar:
    """Keeps the bindings of registered phones and processes REGISTER requests."""

    def __init__(
        self,
        *,
        snapshot: Callable[[], ConfigSnapshot],
        authenticator: PhoneAuthenticator,
        trace: TraceWriter,
        nonce_validity: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._auth = authenticator
        self._trace = trace
        self.nonce_validity = nonce_validity
        self._clock = clock
        #: Directory number to its bindings by contact URI, so a call looks at one number only.
        self._bindings: dict[str, dict[str, Binding]] = {}

    # -- lookups for the call path ------------------------------------------------

    def bindings(self, number: str | None = None) -> list[Binding]:
        """Return the live bindings, newest first, for ``number`` or for every number."""
        now = self._clock()
        numbers = list(self._bindings) if number is None else [number]
        found: list[Binding] = []
        for each in numbers:
            contacts = self._bindings.get(each, {})
            for contact, binding in list(contacts.items()):
                if binding.expires_at <= now:
                    self._remove(each, contact)
                    self._trace.info(
                        "SIPRegistrar",
                        "Registration of %s (%s) expired",
                        binding.number,
                        binding.phone,
                    )
                elif binding.channel.is_open:
                    found.append(binding)
        return sorted(found, key=lambda b: b.registered_at, reverse=True)

    def _remove(self, number: str, contact: str) -> Binding | None:
        """Drop one binding, and the number's entry once it has none."""
        contacts = self._bindings.get(number)
        if contacts is None:
            return None
        binding = contacts.pop(contact, None)
        if not contacts:
            del self._bindings[number]
        return binding

    def binding_for_channel(self, number: str, channel: SipChannel) -> Binding | None:
        """Return the binding of ``number`` that arrived over ``channel`` (or its UDP address)."""
        for binding in self.bindings(number):
            if binding.channel is channel or (
                channel.transport == "UDP"
                and binding.channel.transport == "UDP"
                and binding.channel.remote == channel.remote
            ):
                return binding
        return None

    def describe(self) -> list[dict[str, object]]:
        """Return every live binding as JSON-ready data."""
        now = self._clock()
        return [b.to_dict(now) for b in self.bindings()]

    def connection_closed(self, channel: SipChannel) -> None:
        """Drop the bindings that can only be reached over the closed ``channel``."""
        every = [(n, c, b) for n, contacts in self._bindings.items() for c, b in contacts.items()]
        for number, contact, binding in every:
            if binding.channel is channel:
                self._remove(number, contact)
                self._trace.info(
                    "SIPRegistrar",
                    "Registration of %s (%s) ended: its %s connection closed",
                    binding.number,
                    binding.phone,
                    channel.transport,
                )

    # -- REGISTER ------------------------------------------------------------------

    def register(self, request: Request, channel: SipChannel) -> Response:
        """Process one REGISTER and return the response to send."""
        number = request.to.uri.user or ""
        phones = self._snapshot().phones_for_number(number)
        if not phones:
            return self._refuse(
                request,
                404,
                _(
                    "No phone is configured for directory number {number}; add a phone with "
                    "that line before it registers."
                ).format(number=number or "<empty>"),
            )
        source = channel.remote[0]
        if self._auth.blocked(source):
            return self._refuse(
                request,
                403,
                _(
                    "Too many failed digest checks from {address}; wait a minute, then "
                    "register with the right password."
                ).format(address=source),
            )
        phone, challenge = self._authenticate(request, phones)
        if challenge is not None and challenge.status_code in (400, 403):
            self._auth.note_failure(source)
        if challenge is not None:
            return challenge
        assert phone is not None
        refusal = self._transport_refusal(phone, channel)
        if refusal is not None:
            return self._refuse(request, 403, refusal)
        try:
            return self._update_bindings(request, channel, phone, number)
        except SipParseError as exc:
            return self._refuse(request, 400, str(exc))

    def _authenticate(
        self, request: Request, phones: tuple[PhoneConfig, ...]
    ) -> tuple[PhoneConfig | None, Response | None]:
        """Return the phone the REGISTER authenticates as, or the response that refuses it."""
        secured = [p for p in phones if p.digest_user]
        if not secured:
            return phones[0], None
        server = self._auth.server(self.nonce_validity, PHONE_ALGORITHMS)
        now = time.time()
        result = server.verify(request, self._auth.lookup_ha1, now, proxy=False)
        if result.outcome is AuthOutcome.OK:
            for phone in secured:
                if phone.digest_user == result.username:
                    return phone, None
            reason = _(
                "Digest user {user} is not the digest user of any phone with directory "
                "number {number}."
            ).format(user=result.username, number=request.to.uri.user)
            return None, self._refuse(request, 403, reason)
        if result.outcome in (AuthOutcome.MISSING, AuthOutcome.STALE):
            self._trace.detailed(
                "SIPRegistrar", "REGISTER for %s challenged: %s", request.to.uri.user, result.reason
            )
            stale = result.outcome is AuthOutcome.STALE
            return None, server.challenge(request, now, proxy=False, stale=stale)
        if result.outcome is AuthOutcome.BAD_REQUEST:
            return None, self._refuse(request, 400, result.reason)
        return None, self._refuse(request, 403, result.reason)

    @staticmethod
    def _transport_refusal(phone: PhoneConfig, channel: SipChannel) -> str | None:
        transports = {str(t) for t in phone.transport.transports}
        secure_mode = phone.device_security_mode is not DeviceSecurityMode.NON_SECURE
        if channel.transport in transports and (channel.transport == "TLS" or not secure_mode):
            return None
        return _(
            "Phone {phone} may register over {allowed} only ({mode}), not over {transport}; "
            "point the phone at the node's secure phone port, or change the phone's transport."
        ).format(
            phone=phone.name,
            allowed=phone.transport,
            mode=phone.device_security_mode,
            transport=channel.transport,
        )

    def _update_bindings(
        self, request: Request, channel: SipChannel, phone: PhoneConfig, number: str
    ) -> Response:
        now = self._clock()
        contacts = request.headers.get_all("Contact")
        header_expires = _int_or_none(request.headers.get("Expires"))
        if any(value.strip() == "*" for value in contacts):
            if header_expires != 0 or len(contacts) != 1:
                return self._refuse(
                    request, 400, _("Contact '*' is allowed only alone and with Expires: 0.")
                )
            for uri, binding in list(self._bindings.get(number, {}).items()):
                if binding.phone == phone.name:
                    self._remove(number, uri)
            self._trace.info(
                "SIPRegistrar", "%s (%s) unregistered all contacts", number, phone.name
            )
            return self._ok(request, number)
        for value in contacts:
            for item in split_comma_list(value):
                contact = NameAddress.parse(item, "Contact")
                expires = _int_or_none(contact.param("expires"))
                if expires is None:
                    expires = header_expires if header_expires is not None else DEFAULT_EXPIRES
                if 0 < expires < MIN_EXPIRES:
                    response = make_response(request, 423, to_tag=secrets.token_hex(6))
                    response.headers.add("Min-Expires", str(MIN_EXPIRES))
                    return response
                key = str(contact.uri)
                known = self._bindings.get(number, {}).get(key)
                if (
                    known is not None
                    and known.call_id == request.call_id
                    and request.cseq.number <= known.cseq
                ):
                    continue  # an older REGISTER overtaken by a newer one (10.3 step 7)
                if expires == 0:
                    if self._remove(number, key) is not None:
                        self._trace.info(
                            "SIPRegistrar", "%s (%s) unregistered %s", number, phone.name, contact
                        )
                    continue
                granted = min(expires, MAX_EXPIRES)
                self._bindings.setdefault(number, {})[key] = Binding(
                    phone=phone.name,
                    number=number,
                    contact=contact,
                    channel=channel,
                    expires_at=now + granted,
                    call_id=request.call_id,
                    cseq=request.cseq.number,
                    user_agent=request.headers.get("User-Agent") or "",
                    registered_at=time.time(),
                )
                if known is None or known.channel is not channel:
                    self._trace.info(
                        "SIPRegistrar",
                        "%s registered as %s from %s:%d over %s for %d s (phone %s)",
                        number,
                        contact.uri,
                        channel.remote[0],
                        channel.remote[1],
                        channel.transport,
                        granted,
                        phone.name,
                    )
        return self._ok(request, number)

    def _ok(self, request: Request, number: str) -> Response:
        response = make_response(request, 200, to_tag=secrets.token_hex(6))
        now = self._clock()
        for binding in self.bindings(number):
            expires = max(0, round(binding.expires_at - now))
            response.headers.add("Contact", f"<{binding.contact.uri}>;expires={expires}")
        response.headers.add("Date", email.utils.formatdate(usegmt=True))
        return response

    def _refuse(self, request: Request, status: int, reason: str) -> Response:
        self._trace.warning(
            "SIPRegistrar",
            "REGISTER for %s refused with %d: %s",
            request.to.uri.user,
            status,
            reason,
        )
        response = make_response(request, status, to_tag=secrets.token_hex(6))
        response.headers.add("Warning", f'399 tlstrunk "{warning_text(reason)}"')
        return response


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return None
