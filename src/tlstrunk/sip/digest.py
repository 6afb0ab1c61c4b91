"""HTTP digest authentication for SIP (RFC 3261 section 22, RFC 7616, RFC 8760).

The module is sans-IO: the caller passes ``now`` and the stored secrets, and gets
responses, requests and verdicts back. It is written by hand because no
maintained Python library implements the server side of SIP digest: signed
nonces, nonce-count replay checks and 401/407 challenges built from a request.
The hashes and HMACs come from ``hashlib`` and ``hmac``.

Nonces are stateless: each one carries its issue time and an HMAC-SHA256 over
it, so any node that holds the secret can check a nonce without a shared table.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import logging
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.sip.address import CSEQ_MAX, Challenge, CSeq
from tlstrunk.sip.errors import SipParseError, SipUsageError
from tlstrunk.sip.message import Request, Response, make_response

logger = logging.getLogger(__name__)

#: Digest algorithms this node offers and accepts, strongest first.
ALGORITHMS = ("SHA-256", "MD5")

_HASH_NAMES = {"MD5": "md5", "SHA-256": "sha256"}
# Rank of each base algorithm when a client chooses among several challenges.
_STRENGTH = {"SHA-256": 2, "MD5": 1}
_NC_LENGTH = 8
_MIN_SECRET_BYTES = 16
# Nonce layout before base64url: issue time in milliseconds, random salt, HMAC.
_TIME_FORMAT = ">Q"
_TIME_BYTES = struct.calcsize(_TIME_FORMAT)
_SALT_BYTES = 12
_MAC_BYTES = 32
_NONCE_BYTES = _TIME_BYTES + _SALT_BYTES + _MAC_BYTES
#: Maximum number of nonces whose highest nonce-count a ``DigestServer`` keeps.
MAX_TRACKED_NONCES = 10_000


def _base_algorithm(algorithm: str) -> str | None:
    """Return "MD5" or "SHA-256" for a supported algorithm (with or without -sess)."""
    upper = algorithm.upper()
    base = upper.removesuffix("-SESS")
    return base if base in _HASH_NAMES else None


def _hash(algorithm: str, text: str) -> str:
    base = _base_algorithm(algorithm)
    if base is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}; use MD5 or SHA-256")
    # surrogateescape keeps header bytes that are not UTF-8 as they were received.
    return hashlib.new(_HASH_NAMES[base], text.encode("utf-8", "surrogateescape")).hexdigest()


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """Return H(username:realm:password), the secret a store keeps instead of the password."""
    return _hash(algorithm, f"{username}:{realm}:{password}")


def compute_response(
    ha1: str,
    method: str,
    uri: str,
    nonce: str,
    *,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """Compute the digest ``response`` value (RFC 7616 section 3.4.1).

    ``ha1`` is the stored H(username:realm:password). For a ``-sess`` algorithm
    it is hashed again with the nonce and cnonce. Without ``qop`` the RFC 2069
    form H(HA1:nonce:HA2) is used.

    Raises:
        ValueError: for an unsupported algorithm, for ``qop`` other than "auth",
            or for ``qop`` without ``nc`` and ``cnonce``.
    """
    if algorithm.upper().endswith("-SESS"):
        if cnonce is None:
            raise ValueError(f"algorithm {algorithm} needs a cnonce")
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    if qop != "auth":
        raise ValueError(f"qop {qop!r} is not supported; use 'auth'")
    if nc is None or cnonce is None:
        raise ValueError("qop=auth needs both nc and cnonce")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    if not text.isascii():
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class NonceState(enum.Enum):
    """The verdict on a nonce returned by a client."""

    VALID = "valid"
    STALE = "stale"
    INVALID = "invalid"


class NonceSigner:
    """Issues and checks stateless nonces signed with HMAC-SHA256.

    Every node that shares ``secret`` accepts the nonces of the others.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise SipUsageError(_(
                "The nonce secret is {size} bytes long; use at least {minimum} random bytes, "
                "such as os.urandom(32).").format(size=len(secret), minimum=_MIN_SECRET_BYTES))
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def make(self, now: float) -> str:
        """Return a new nonce that embeds ``now`` (seconds) and its signature."""
        if now < 0:
            raise SipUsageError(_("The time {now} is negative; pass seconds since the epoch.")
                                .format(now=now))
        payload = struct.pack(_TIME_FORMAT, int(now * 1000)) + secrets.token_bytes(_SALT_BYTES)
        return _b64encode(payload + self._mac(payload))

    def check(self, nonce: str, now: float, validity: float) -> NonceState:
        """Return whether ``nonce`` is ours and at most ``validity`` seconds old.

        A nonce issued after ``now``, which a clock stepped back or a peer node
        with a clock ahead produces, counts as valid.
        """
        raw = _b64decode(nonce)
        if raw is None or len(raw) != _NONCE_BYTES:
            return NonceState.INVALID
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return NonceState.INVALID
        (issued_ms,) = struct.unpack(_TIME_FORMAT, payload[:_TIME_BYTES])
        if now - issued_ms / 1000 > validity:
            return NonceState.STALE
        return NonceState.VALID


def _invalid(header: str, value: str, what: str) -> SipParseError:
    return SipParseError(
        _("Invalid {header} header {value!r}: {what}.").format(
            header=header, value=value, what=what),
        400, _("Invalid {header} header").format(header=header))


_CREDENTIAL_FIELDS = ("username", "realm", "nonce", "uri", "response", "algorithm", "cnonce",
                      "nc", "qop", "opaque")
_REQUIRED_FIELDS = ("username", "realm", "nonce", "uri", "response")


@dataclass(frozen=True)
class Credentials:
    """Digest credentials from an Authorization or Proxy-Authorization header value."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    cnonce: str | None = None
    nc: str | None = None
    qop: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, value: str, header: str = "Authorization") -> Credentials:
        """Parse ``Digest username="...", realm="...", ...``.

        Parameter names compare without regard to case, and quoted values are
        unescaped. Parameters this class does not model are ignored.

        Raises:
            SipParseError: (400) naming the header and the missing or bad parameter.
        """
        challenge = Challenge.parse(value, header)
        if challenge.scheme.lower() != "digest":
            raise _invalid(header, value, _(
                "the scheme {scheme!r} is not Digest").format(scheme=challenge.scheme))
        fields: dict[str, str] = {}
        for name, raw in challenge.params:
            key = name.lower()
            if key in fields:
                raise _invalid(header, value, _(
                    "the parameter {name!r} appears more than once").format(name=name))
            fields[key] = raw
        for name in _REQUIRED_FIELDS:
            if name not in fields:
                raise _invalid(header, value, _(
                    "the parameter {name!r} is missing").format(name=name))
        _check_qop_fields(fields, header, value)
        known = {name: fields[name] for name in _CREDENTIAL_FIELDS if name in fields}
        return cls(**known)

    @property
    def nonce_count(self) -> int | None:
        """The ``nc`` parameter as a number, or None without qop."""
        return int(self.nc, 16) if self.nc is not None else None

    def __str__(self) -> str:
        """Format the header value, quoting what RFC 7616 section 3.4 quotes."""
        parts = [f"username={_quote(self.username)}", f"realm={_quote(self.realm)}",
                 f"nonce={_quote(self.nonce)}", f"uri={_quote(self.uri)}",
                 f"response={_quote(self.response)}", f"algorithm={self.algorithm}"]
        if self.cnonce is not None:
            parts.append(f"cnonce={_quote(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        return "Digest " + ", ".join(parts)


def _check_qop_fields(fields: dict[str, str], header: str, value: str) -> None:
    """Check that qop comes with a cnonce and an 8-hex-digit nc (RFC 7616 section 3.4)."""
    if "qop" not in fields:
        return
    for name in ("cnonce", "nc"):
        if name not in fields:
            raise _invalid(header, value, _(
                "the parameter {name!r} is missing, and qop requires it").format(name=name))
    nc = fields["nc"]
    hex_digits = all(char in "0123456789abcdefABCDEF" for char in nc)
    if len(nc) != _NC_LENGTH or not hex_digits:
        raise _invalid(header, value, _(
            "the nonce count nc={nc!r} is not 8 hexadecimal digits").format(nc=nc))


class AuthOutcome(enum.Enum):
    """The verdict of ``DigestServer.verify``.

    A typical caller responds to MISSING, STALE, WRONG_REALM, UNKNOWN_USER and
    BAD_RESPONSE with a new challenge (stale=true for STALE), or with 403 after
    a few challenges. It responds to BAD_REQUEST with 400.
    """

    OK = "ok"
    MISSING = "missing"
    STALE = "stale"
    UNKNOWN_USER = "unknown-user"
    BAD_RESPONSE = "bad-response"
    WRONG_REALM = "wrong-realm"
    BAD_REQUEST = "bad-request"


@dataclass(frozen=True)
class AuthResult:
    """The outcome of checking a request's credentials, with a sentence for the trace."""

    outcome: AuthOutcome
    username: str | None
    reason: str

    @property
    def ok(self) -> bool:
        """Whether the credentials were accepted."""
        return self.outcome is AuthOutcome.OK


#: ``lookup_ha1(username, realm, algorithm)`` returns the stored HA1 or None.
HA1Lookup = Callable[[str, str, str], str | None]


def _canonical_algorithm(algorithm: str) -> str | None:
    """Return the RFC 7616 spelling ("SHA-256", "MD5-sess"...) or None if unsupported."""
    base = _base_algorithm(algorithm)
    if base is None:
        return None
    return base + "-sess" if algorithm.upper().endswith("-SESS") else base


def _header_names(proxy: bool) -> tuple[str, str]:
    """Return the challenge and credentials header names for a 407 or a 401."""
    if proxy:
        return "Proxy-Authenticate", "Proxy-Authorization"
    return "WWW-Authenticate", "Authorization"


def _is_digest(value: str) -> bool:
    words = value.split(None, 1)
    return bool(words) and words[0].lower() == "digest"


class DigestServer:
    """Challenges requests and verifies their digest credentials for one realm.

    The only state is the highest nonce-count seen per nonce, kept for at most
    ``MAX_TRACKED_NONCES`` nonces, least recently used first out.
    """

    def __init__(
        self,
        realm: str,
        signer: NonceSigner,
        nonce_validity: float,
        algorithms: tuple[str, ...] = ALGORITHMS,
        *,
        opaque: str | None = None,
        require_qop: bool = True,
    ) -> None:
        canonical = tuple(_canonical_algorithm(name) for name in algorithms)
        if not algorithms or None in canonical:
            raise SipUsageError(_(
                "The digest algorithms {algorithms!r} are not valid; list one or more of "
                "SHA-256, MD5, SHA-256-sess and MD5-sess.").format(algorithms=algorithms))
        if nonce_validity <= 0:
            raise SipUsageError(_(
                "The nonce validity {validity} is not positive; give it in seconds.").format(
                    validity=nonce_validity))
        self.realm = realm
        self.nonce_validity = nonce_validity
        self.algorithms: tuple[str, ...] = tuple(name for name in canonical if name is not None)
        self._signer = signer
        self._opaque = opaque
        #: Refuse responses without qop: only qop=auth carries the nonce-count that
        #: stops a captured response from being replayed.
        self.require_qop = require_qop
        self._highest_nc: OrderedDict[str, int] = OrderedDict()

    def challenge(self, request: Request, now: float, *, proxy: bool,
                  stale: bool = False) -> Response:
        """Build a 401 (or 407 when ``proxy``) with one challenge per algorithm.

        The challenges share one fresh nonce and come in the order of
        ``algorithms``, which RFC 8760 wants in order of preference.
        """
        header = _header_names(proxy)[0]
        response = make_response(request, 407 if proxy else 401, to_tag=secrets.token_hex(8))
        nonce = self._signer.make(now)
        for algorithm in self.algorithms:
            parts = [f"realm={_quote(self.realm)}", f"nonce={_quote(nonce)}"]
            if self._opaque is not None:
                parts.append(f"opaque={_quote(self._opaque)}")
            parts += [f"algorithm={algorithm}", 'qop="auth"']
            if stale:
                parts.append("stale=true")
            response.headers.add(header, "Digest " + ", ".join(parts))
        return response

    def verify(self, request: Request, lookup_ha1: HA1Lookup, now: float, *,
               proxy: bool) -> AuthResult:
        """Check the request's Authorization (or Proxy-Authorization) credentials.

        Credentials for other realms are skipped, as a request that passed
        several proxies carries one set per realm.
        """
        header = _header_names(proxy)[1]
        picked = self._pick_credentials(request, header)
        if isinstance(picked, AuthResult):
            result = picked
        else:
            result = self._check(request, picked, lookup_ha1, now)
        logger.debug("digest check Call-ID=%s realm=%s user=%s outcome=%s",
                     request.headers.get("Call-ID"), self.realm, result.username,
                     result.outcome.value)
        return result

    def _pick_credentials(self, request: Request, header: str) -> Credentials | AuthResult:
        values = [value for value in request.headers.get_all(header) if _is_digest(value)]
        if not values:
            return AuthResult(AuthOutcome.MISSING, None, _(
                "The {method} request carries no Digest {header} header.").format(
                    method=request.method, header=header))
        error: SipParseError | None = None
        realms: list[str] = []
        for value in values:
            try:
                credentials = Credentials.parse(value, header)
            except SipParseError as exc:
                error = error or exc
                continue
            if credentials.realm == self.realm:
                return credentials
            realms.append(credentials.realm)
        if error is not None:
            return AuthResult(AuthOutcome.BAD_REQUEST, None, str(error))
        return AuthResult(AuthOutcome.WRONG_REALM, None, _(
            "The {header} credentials are for realm {realms}, not for {realm}.").format(
                header=header, realms=", ".join(repr(r) for r in realms), realm=repr(self.realm)))

    def _check(self, request: Request, credentials: Credentials, lookup_ha1: HA1Lookup,
               now: float) -> AuthResult:
        user = credentials.username
        problem = self._check_parameters(request, credentials)
        if problem is not None:
            return AuthResult(AuthOutcome.BAD_REQUEST, user, problem)
        state = self._signer.check(credentials.nonce, now, self.nonce_validity)
        if state is NonceState.INVALID:
            return AuthResult(AuthOutcome.BAD_RESPONSE, user, _(
                "The nonce from user {user} was not issued by this realm: it is forged, "
                "or was signed with another secret.").format(user=user))
        algorithm = _canonical_algorithm(credentials.algorithm) or credentials.algorithm
        ha1 = lookup_ha1(user, self.realm, algorithm.removesuffix("-sess"))
        if ha1 is None:
            return AuthResult(AuthOutcome.UNKNOWN_USER, user, _(
                "User {user} has no digest credentials in realm {realm}.").format(
                    user=user, realm=self.realm))
        if not _response_matches(request.method, credentials, ha1):
            return AuthResult(AuthOutcome.BAD_RESPONSE, user, _(
                "Digest response for user {user} does not match: wrong password, or a stored "
                "HA1 made for another realm.").format(user=user))
        if state is NonceState.STALE:
            return AuthResult(AuthOutcome.STALE, user, _(
                "The nonce from user {user} is older than {validity:g} seconds; "
                "challenge again with stale=true.").format(
                    user=user, validity=self.nonce_validity))
        if not self._record_nonce_count(credentials):
            return AuthResult(AuthOutcome.BAD_RESPONSE, user, _(
                "The nonce count nc={nc} from user {user} was replayed: it is not above the "
                "last one accepted for this nonce.").format(nc=credentials.nc, user=user))
        return AuthResult(AuthOutcome.OK, user, _(
            "Digest response for user {user} in realm {realm} is valid.").format(
                user=user, realm=self.realm))

    def _check_parameters(self, request: Request, credentials: Credentials) -> str | None:
        """Return why the credentials cannot be checked at all, or None."""
        algorithm = _canonical_algorithm(credentials.algorithm)
        if algorithm not in self.algorithms:
            return _("The digest algorithm {algorithm!r} is not accepted here; use one of "
                     "{accepted}.").format(algorithm=credentials.algorithm,
                                           accepted=", ".join(self.algorithms))
        if credentials.qop is None and self.require_qop:
            return _("The response has no qop, but this server asked for qop=auth, which "
                     "protects against replayed responses; answer with qop=auth.")
        if credentials.qop is not None and credentials.qop != "auth":
            return _("The qop {qop!r} is not supported; use qop=auth.").format(
                qop=credentials.qop)
        if algorithm.endswith("-sess") and credentials.cnonce is None:
            return _("The algorithm {algorithm} needs a cnonce parameter.").format(
                algorithm=algorithm)
        if self._opaque is not None and credentials.opaque != self._opaque:
            return _("The opaque parameter {opaque!r} differs from the one in the challenge."
                     ).format(opaque=credentials.opaque)
        if not _same_uri(credentials.uri, request):
            return _("The digest uri {uri!r} differs from the Request-URI {request_uri!r}."
                     ).format(uri=credentials.uri, request_uri=str(request.uri))
        return None

    def _record_nonce_count(self, credentials: Credentials) -> bool:
        """Remember the nonce-count; return False if it is not above the last one seen."""
        count = credentials.nonce_count
        if count is None:
            # NOTE: without qop (RFC 2069 style) there is no nonce-count, so a
            # response can be replayed until its nonce goes stale.
            return True
        last = self._highest_nc.get(credentials.nonce)
        if last is not None and count <= last:
            return False
        self._highest_nc[credentials.nonce] = count
        self._highest_nc.move_to_end(credentials.nonce)
        while len(self._highest_nc) > MAX_TRACKED_NONCES:
            self._highest_nc.popitem(last=False)
        return True


def _same_uri(digest_uri: str, request: Request) -> bool:
    """Compare the digest-uri with the Request-URI as strings (RFC 3261 section 22.4).

    The Request-URI is held parsed, so a digest-uri that differs only in the
    spelling the parser normalises (such as the scheme's case) also matches.
    """
    text = digest_uri.strip()
    expected = str(request.uri)
    if text == expected:
        return True
    try:
        return str(type(request.uri).parse(text)) == expected
    except SipParseError:
        return False


def _response_matches(method: str, credentials: Credentials, ha1: str) -> bool:
    expected = compute_response(
        ha1, method, credentials.uri, credentials.nonce, algorithm=credentials.algorithm,
        qop=credentials.qop, nc=credentials.nc, cnonce=credentials.cnonce)
    received = credentials.response.lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected.encode("ascii"), received)


@dataclass(frozen=True)
class _Offer:
    """One usable challenge: a realm, nonce and algorithm, and whether qop=auth applies."""

    realm: str
    nonce: str
    algorithm: str
    use_qop: bool
    opaque: str | None
    stale: bool


def _parse_offer(value: str, header: str) -> _Offer | None:
    """Return the challenge as an offer, or None when it is malformed or unusable."""
    try:
        challenge = Challenge.parse(value, header)
    except SipParseError as exc:
        logger.debug("ignoring malformed %s challenge: %s", header, exc)
        return None
    realm, nonce = challenge.param("realm"), challenge.param("nonce")
    algorithm = _canonical_algorithm(challenge.param("algorithm") or "MD5")
    if challenge.scheme.lower() != "digest" or realm is None or nonce is None or not algorithm:
        return None
    qop = challenge.param("qop")
    options = [item.strip() for item in qop.split(",")] if qop is not None else []
    if qop is not None and "auth" not in options:
        # NOTE: qop=auth-int (a hash of the body) is not implemented.
        return None
    stale = (challenge.param("stale") or "").lower() == "true"
    return _Offer(realm, nonce, algorithm, qop is not None, challenge.param("opaque"), stale)


class DigestClient:
    """Builds the credentials that retry a request after a 401 or 407, for one username."""

    def __init__(
        self,
        username: str,
        ha1_for_realm: Callable[[str, str], str | None],
        *,
        make_cnonce: Callable[[], str] | None = None,
    ) -> None:
        """Create a client.

        Args:
            username: the digest username.
            ha1_for_realm: ``(realm, algorithm) -> HA1`` with algorithm "SHA-256"
                or "MD5"; None when there are no credentials for that realm.
            make_cnonce: the source of client nonces; random by default.
        """
        self.username = username
        self._ha1_for_realm = ha1_for_realm
        self._make_cnonce = make_cnonce or (lambda: secrets.token_hex(16))

    def authorize(self, request: Request, response: Response) -> Request | None:
        """Return a copy of ``request`` with credentials for the challenges in ``response``.

        The copy has CSeq + 1 and one credentials header per challenged realm,
        for the strongest offered algorithm that has an HA1. A new Via branch is
        left to the caller. A realm that the request already answered and that
        is challenged again without stale=true rejected those credentials, so it
        is not answered again.

        Returns:
            the new request, or None when no challenge can be answered.

        Raises:
            SipUsageError: when ``response`` is not a 401 or 407, or when the
                request's CSeq number cannot grow.
        """
        if response.status_code not in (401, 407):
            raise SipUsageError(_(
                "Response {code} is not a 401 or 407 challenge.").format(
                    code=response.status_code))
        challenge_header, header = _header_names(response.status_code == 407)
        offers = [offer for value in response.headers.get_all(challenge_header)
                  if (offer := _parse_offer(value, challenge_header)) is not None]
        answered = _answered_realms(request, header)
        answers: dict[str, Credentials] = {}
        for realm in dict.fromkeys(offer.realm for offer in offers):
            in_realm = [offer for offer in offers if offer.realm == realm]
            if realm in answered and not any(offer.stale for offer in in_realm):
                continue
            credentials = self._answer(request, in_realm)
            if credentials is not None:
                answers[realm] = credentials
        if not answers:
            return None
        return _with_credentials(request, header, answers)

    def _answer(self, request: Request, offers: list[_Offer]) -> Credentials | None:
        ranked = sorted(offers, key=lambda offer: -_STRENGTH[offer.algorithm.removesuffix("-sess")])
        for offer in ranked:
            ha1 = self._ha1_for_realm(offer.realm, offer.algorithm.removesuffix("-sess"))
            if ha1 is not None:
                return self._credentials(request, offer, ha1)
        return None

    def _credentials(self, request: Request, offer: _Offer, ha1: str) -> Credentials:
        uri = str(request.uri)
        needs_cnonce = offer.use_qop or offer.algorithm.endswith("-sess")
        cnonce = self._make_cnonce() if needs_cnonce else None
        qop, nc = ("auth", "00000001") if offer.use_qop else (None, None)
        # NOTE: each challenge is answered once with nc=00000001; reusing a nonce
        # for later requests (nc 2, 3...) is not implemented.
        response = compute_response(ha1, request.method, uri, offer.nonce,
                                    algorithm=offer.algorithm, qop=qop, nc=nc, cnonce=cnonce)
        return Credentials(self.username, offer.realm, offer.nonce, uri, response,
                           offer.algorithm, cnonce, nc, qop, offer.opaque)


def _answered_realms(request: Request, header: str) -> set[str]:
    realms: set[str] = set()
    for value in request.headers.get_all(header):
        try:
            realms.add(Credentials.parse(value, header).realm)
        except SipParseError:
            continue
    return realms


def _with_credentials(request: Request, header: str, answers: dict[str, Credentials]) -> Request:
    """Copy the request with CSeq + 1 and ``answers`` replacing credentials of those realms."""
    headers = request.headers.copy()
    kept = []
    for value in headers.get_all(header):
        try:
            if Credentials.parse(value, header).realm in answers:
                continue
        except SipParseError:
            pass
        kept.append(value)
    headers.remove(header)
    for value in kept:
        headers.add(header, value)
    for credentials in answers.values():
        headers.add(header, str(credentials))
    cseq = request.cseq
    if cseq.number >= CSEQ_MAX:
        raise SipUsageError(_(
            "The CSeq number {number} is the largest allowed, so the request cannot be "
            "retried with credentials; start a new Call-ID.").format(number=cseq.number))
    headers.set("CSeq", str(CSeq(cseq.number + 1, cseq.method)))
    return Request(request.method, request.uri, headers, request.body, request.version)


__all__ = [
    "ALGORITHMS", "MAX_TRACKED_NONCES", "AuthOutcome", "AuthResult", "Credentials",
    "DigestClient", "DigestServer", "HA1Lookup", "NonceSigner", "NonceState", "compute_ha1",
    "compute_response",
]
