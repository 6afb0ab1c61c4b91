"""SDES key material for RFC 4568 ``a=crypto`` lines.

Only the suites that libsrtp implements and that call managers offer are
listed.  A key parameter is ``inline:`` followed by base64 of the master key
and master salt concatenated.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class SrtpSuite:
    """One SRTP crypto suite and the sizes of its master key and salt in bytes."""

    name: str
    key_bytes: int
    salt_bytes: int


#: Suites in order of preference.
SUITES: tuple[SrtpSuite, ...] = (
    SrtpSuite("AES_CM_128_HMAC_SHA1_80", 16, 14),
    SrtpSuite("AES_CM_128_HMAC_SHA1_32", 16, 14),
    SrtpSuite("AES_256_CM_HMAC_SHA1_80", 32, 14),
    SrtpSuite("AES_256_CM_HMAC_SHA1_32", 32, 14),
)

_BY_NAME = {suite.name: suite for suite in SUITES}


def suite_by_name(name: str) -> SrtpSuite | None:
    """Return the suite called ``name``, or ``None`` when it is not supported."""
    return _BY_NAME.get(name)


def new_master_key(suite: SrtpSuite) -> str:
    """Return a fresh master key and salt for ``suite`` in base64, as ``inline:`` carries it."""
    material = secrets.token_bytes(suite.key_bytes + suite.salt_bytes)
    return base64.b64encode(material).decode("ascii")
