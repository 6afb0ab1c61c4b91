"""SDES key material and suite selection for RFC 4568 ``a=crypto`` lines.

A key parameter is ``inline:`` followed by base64 of the master key and master
salt concatenated.  The suites come from RFC 4568 (AES_CM_128), RFC 6188
(AES_192_CM and AES_256_CM) and RFC 7714 (AEAD_AES_*_GCM).  Only suites that
pylibsrtp (a libsrtp binding) can run are offered or accepted.  A line naming
one of the other suites still parses, and selection skips it with a reason.

Typical use by an answerer::

    offered, reasons = parse_crypto_lines(audio)
    chosen = choose_crypto(offered)
    answer = answer_crypto(chosen)            # put answer.to_attribute() in the SDP
    inbound = chosen.key_params[0].key_salt   # the offerer sends with its own key
    outbound = answer.key_params[0].key_salt
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.sdp import KEY_SALT_LENGTHS, CryptoAttribute, KeyParam, MediaDescription

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SrtpSuite:
    """One SRTP crypto suite and the sizes of its master key and salt in bytes."""

    name: str
    key_bytes: int
    salt_bytes: int

    @property
    def key_salt_bytes(self) -> int:
        """The length of the decoded ``inline:`` value."""
        return self.key_bytes + self.salt_bytes


#: Every suite defined by RFC 4568, RFC 6188 and RFC 7714, supported or not.
ALL_SUITES: tuple[SrtpSuite, ...] = (
    SrtpSuite("AES_CM_128_HMAC_SHA1_80", 16, 14),
    SrtpSuite("AES_CM_128_HMAC_SHA1_32", 16, 14),
    SrtpSuite("AES_192_CM_HMAC_SHA1_80", 24, 14),
    SrtpSuite("AES_192_CM_HMAC_SHA1_32", 24, 14),
    SrtpSuite("AES_256_CM_HMAC_SHA1_80", 32, 14),
    SrtpSuite("AES_256_CM_HMAC_SHA1_32", 32, 14),
    SrtpSuite("AEAD_AES_128_GCM", 16, 12),
    SrtpSuite("AEAD_AES_256_GCM", 32, 12),
)

#: Why a known suite cannot be used: pylibsrtp only exposes libsrtp's
#: DTLS-SRTP profiles, which lack AES-192 and AES-256 counter mode.
UNSUPPORTED: dict[str, str] = {
    name: "pylibsrtp has no profile for this suite"
    for name in (
        "AES_192_CM_HMAC_SHA1_80",
        "AES_192_CM_HMAC_SHA1_32",
        "AES_256_CM_HMAC_SHA1_80",
        "AES_256_CM_HMAC_SHA1_32",
    )
}

#: Suites that can be offered and accepted.  The first one is the suite a
#: phone offers when it offers only one: every SDES endpoint implements it.
SUITES: tuple[SrtpSuite, ...] = tuple(s for s in ALL_SUITES if s.name not in UNSUPPORTED)

#: Suite names from the strongest to the weakest, the default preference.
STRONGEST_FIRST: tuple[str, ...] = (
    "AEAD_AES_256_GCM",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AEAD_AES_128_GCM",
    "AES_192_CM_HMAC_SHA1_80",
    "AES_192_CM_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32",
)

#: Suites a phone offers by default, in offer order (most interoperable first).
DEFAULT_OFFER: tuple[str, ...] = ("AES_CM_128_HMAC_SHA1_80", "AEAD_AES_256_GCM")

# Session parameters that need nothing from us: no FEC is used, and the
# peer's replay window size only concerns its own receiver.
_HARMLESS_PARAMS = ("WSH=", "FEC_ORDER=")

_BY_NAME = {suite.name: suite for suite in SUITES}
_KNOWN = {suite.name: suite for suite in ALL_SUITES}
assert all(KEY_SALT_LENGTHS.get(s.name) == s.key_salt_bytes for s in ALL_SUITES)


def suite_by_name(name: str) -> SrtpSuite | None:
    """Return the suite called ``name``, or ``None`` when it is not supported."""
    return _BY_NAME.get(name)


def new_master_key(suite: SrtpSuite) -> str:
    """Return a fresh master key and salt for ``suite`` in base64, as ``inline:`` carries it."""
    material = secrets.token_bytes(suite.key_bytes + suite.salt_bytes)
    return base64.b64encode(material).decode("ascii")


def offer_crypto(suites: Sequence[str] = DEFAULT_OFFER) -> list[CryptoAttribute]:
    """Return one ``a=crypto`` line with a fresh key per suite, tagged 1, 2, ...

    Raises:
        ValueError: when a suite is unknown or not supported.
    """
    lines = []
    for tag, name in enumerate(suites, start=1):
        suite = suite_by_name(name)
        if suite is None:
            raise ValueError(_("The SRTP suite {suite} cannot be offered: {reason}. Offer one of "
                               "{names}.").format(suite=name, reason=_suite_reason(name),
                                                  names=", ".join(_BY_NAME)))
        lines.append(CryptoAttribute(tag, name, (KeyParam(new_master_key(suite)),)))
    return lines


def _suite_reason(name: str) -> str:
    if name in UNSUPPORTED:
        return UNSUPPORTED[name]
    return "unknown suite"


def rejection_reason(line: CryptoAttribute) -> str | None:
    """Return why ``line`` cannot be accepted, or ``None`` when it can."""
    suite = _KNOWN.get(line.suite)
    if suite is None or line.suite in UNSUPPORTED:
        return _("tag {tag}: suite {suite} skipped ({reason})").format(
            tag=line.tag, suite=line.suite, reason=_suite_reason(line.suite))
    if len(line.key_params) != 1:
        return _("tag {tag}: {count} master keys need MKI, which is not supported").format(
            tag=line.tag, count=len(line.key_params))
    key = line.key_params[0]
    if key.mki_value is not None:
        return _("tag {tag}: MKI {mki}:{length} is not supported").format(
            tag=line.tag, mki=key.mki_value, length=key.mki_length)
    if len(key.key_salt) != suite.key_salt_bytes:
        return _("tag {tag}: the {suite} key decodes to {size} octets instead of "
                 "{expected}").format(tag=line.tag, suite=line.suite, size=len(key.key_salt),
                                      expected=suite.key_salt_bytes)
    for param in line.session_params:
        if not param.startswith(_HARMLESS_PARAMS) and not param.startswith("-"):
            return _("tag {tag}: session parameter {param} is not supported").format(
                tag=line.tag, param=param)
    return None


def parse_crypto_lines(media: MediaDescription) -> tuple[list[CryptoAttribute], list[str]]:
    """Parse each ``a=crypto`` line of ``media`` on its own.

    Returns the lines that parse and the reasons for those that do not, so one
    malformed line (for example a key of the wrong length) does not spoil the
    others, as :meth:`MediaDescription.crypto` would.
    """
    lines: list[CryptoAttribute] = []
    reasons: list[str] = []
    for attribute in media.attributes:
        if attribute.name != "crypto":
            continue
        try:
            lines.append(CryptoAttribute.parse(attribute.value or ""))
        except SipParseError as error:
            reasons.append(str(error))
    return lines, reasons


def choose_crypto(
    offered: Sequence[CryptoAttribute], preference: Sequence[str] = STRONGEST_FIRST
) -> CryptoAttribute | None:
    """Pick the offered line to accept: the first acceptable one in ``preference`` order.

    Lines with unknown or unsupported suites, MKI, several keys or session
    parameters that cannot be honoured are skipped (and logged), never fatal.
    Suites absent from ``preference`` are never chosen.  Returns ``None`` when
    nothing is acceptable.
    """
    rank = {name: index for index, name in enumerate(preference)}
    best: CryptoAttribute | None = None
    for line in offered:
        reason = rejection_reason(line)
        if reason is not None:
            logger.info("SDES offer line skipped: %s", reason)
            continue
        if line.suite not in rank:
            continue
        if best is None or rank[line.suite] < rank[best.suite]:
            best = line
    return best


def answer_crypto(chosen: CryptoAttribute) -> CryptoAttribute:
    """Return the answer line for ``chosen``: same tag and suite, a fresh key.

    Raises:
        ValueError: when ``chosen`` cannot be accepted (see :func:`rejection_reason`).
    """
    reason = rejection_reason(chosen)
    suite = suite_by_name(chosen.suite)
    if reason is not None or suite is None:
        message = _("The crypto line cannot be accepted in an answer: {reason}.")
        raise ValueError(message.format(reason=reason))
    return CryptoAttribute(chosen.tag, suite.name, (KeyParam(new_master_key(suite)),))


def accepted_crypto(
    offered: Sequence[CryptoAttribute], answer: Sequence[CryptoAttribute]
) -> tuple[CryptoAttribute, CryptoAttribute] | None:
    """Match an answer to the offer (offerer side): ``(own line, peer line)`` or ``None``.

    The answer must carry one line whose tag and suite match an offered line
    and whose key the suite can use.
    """
    by_tag = {line.tag: line for line in offered}
    for line in answer:
        mine = by_tag.get(line.tag)
        if mine is not None and mine.suite == line.suite and rejection_reason(line) is None:
            return mine, line
    return None
