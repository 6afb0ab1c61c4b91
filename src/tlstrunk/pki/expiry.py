"""Certificate expiry monitoring: own, trusted and recently seen peer certificates.

Peer certificates are recorded by the node each time a trunk completes a
handshake, in ``peers.json`` inside the node's certificate store directory
(the directory that ``tlstrunk cert --node-dir`` names, ``NodePaths.certs`` for
a running node). The file maps each trunk name to its last peer certificate::

    {
      "CUCM10": {
        "subject": "CN=CUCM10, OU=cisco, O=cisco, L=cisco, ST=cisco, C=IN",
        "not_after": "2027-03-01T12:00:00+00:00",
        "serial": "1A2B3C...",
        "fingerprint": "<SHA-256 of the DER certificate, lowercase hex>",
        "seen_at": "2025-03-01T12:00:00+00:00"
      }
    }

``subject`` is RFC 4514 text, ``not_after`` and ``seen_at`` are ISO 8601 UTC
times, ``serial`` is uppercase hex. Readers ignore keys they do not know.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from tlstrunk.i18n import _
from tlstrunk.pki import _files
from tlstrunk.pki.ca import utc_now
from tlstrunk.pki.errors import CertificateStoreError
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.store import PURPOSES, CertificateStore

logger = logging.getLogger(__name__)

PEERS_FILE = "peers.json"


@dataclass(frozen=True)
class PeerRecord:
    """The last certificate a trunk's peer presented."""

    trunk: str
    subject: str
    not_after: dt.datetime
    serial: str
    fingerprint: str | None = None
    seen_at: dt.datetime | None = None


@dataclass(frozen=True)
class ExpiringCertificate:
    """A certificate that expires within the period asked for.

    ``kind`` is "own", "trust" or "peer"; ``name`` is the purpose, trust store
    or trunk it belongs to. ``days_left`` is negative once it has expired.
    """

    kind: str
    name: str
    subject: str
    serial: str
    not_after: dt.datetime
    days_left: int


def record_peer_certificate(
    node_dir: Path, trunk: str, certificate: x509.Certificate, *, now: dt.datetime | None = None
) -> bool:
    """Record ``certificate`` as the last peer certificate of ``trunk`` in ``peers.json``.

    ``node_dir`` is the node's certificate store directory. The file is only
    rewritten (atomically) when the trunk's certificate changed, so calling this
    after every handshake is cheap. Returns True when the file was written.
    """
    path = node_dir / PEERS_FILE
    records = _read_peers_json(path)
    fingerprint = _files.fingerprint_sha256(certificate)
    if records.get(trunk, {}).get("fingerprint") == fingerprint:
        return False
    records[trunk] = {
        "subject": rfc4514_subject(certificate.subject),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "serial": f"{certificate.serial_number:X}",
        "fingerprint": fingerprint,
        "seen_at": utc_now(now).isoformat(),
    }
    _files.write_json_atomic(path, records)
    logger.info(
        "recorded peer certificate of trunk %s (serial %X)", trunk, certificate.serial_number
    )
    return True


def peer_certificates(node_dir: Path) -> list[PeerRecord]:
    """Return the peer certificates recorded in ``node_dir/peers.json``, by trunk name.

    Raises:
        CertificateStoreError: the file exists but is not in the documented format.
    """
    records = []
    for trunk, item in sorted(_read_peers_json(node_dir / PEERS_FILE).items()):
        try:
            seen_at = item.get("seen_at")
            records.append(
                PeerRecord(
                    trunk=trunk,
                    subject=str(item["subject"]),
                    not_after=dt.datetime.fromisoformat(item["not_after"]),
                    serial=str(item["serial"]),
                    fingerprint=item.get("fingerprint"),
                    seen_at=dt.datetime.fromisoformat(seen_at) if seen_at else None,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _bad_peers_file(node_dir / PEERS_FILE, exc) from exc
    return records


def expiring_certificates(
    store: CertificateStore, days: int, now: dt.datetime | None = None
) -> list[ExpiringCertificate]:
    """Return the own, trusted and peer certificates that expire within ``days`` days.

    Already expired certificates are included. The result is sorted by expiry,
    soonest first. Intermediates of the node's own chains count as "own".

    Raises:
        ValueError: ``days`` is negative.
        CertificateStoreError: ``peers.json`` is damaged.
    """
    if days < 0:
        raise ValueError(
            _("The number of days must not be negative, not {days}.").format(days=days)
        )
    moment = utc_now(now)
    limit = moment + dt.timedelta(days=days)
    found: list[ExpiringCertificate] = []
    for kind, name, certificate in _stored_certificates(store):
        if certificate.not_valid_after_utc <= limit:
            found.append(_entry(kind, name, certificate, moment))
    for peer in peer_certificates(store.directory):
        if peer.not_after <= limit:
            days_left = _days_left(peer.not_after, moment)
            found.append(
                ExpiringCertificate(
                    "peer", peer.trunk, peer.subject, peer.serial, peer.not_after, days_left
                )
            )
    return sorted(found, key=lambda item: (item.not_after, item.kind, item.name))


def _stored_certificates(store: CertificateStore) -> list[tuple[str, str, x509.Certificate]]:
    items: list[tuple[str, str, x509.Certificate]] = []
    for purpose in PURPOSES.values():
        try:
            chain = store.own_chain(purpose.name)
        except CertificateStoreError:
            chain = []
        items += [("own", purpose.name, certificate) for certificate in chain]
        trusted = store.trust_certificates(purpose.trust_name)
        items += [("trust", purpose.trust_name, certificate) for certificate in trusted]
    return items


def _entry(
    kind: str, name: str, certificate: x509.Certificate, now: dt.datetime
) -> ExpiringCertificate:
    return ExpiringCertificate(
        kind=kind,
        name=name,
        subject=rfc4514_subject(certificate.subject),
        serial=f"{certificate.serial_number:X}",
        not_after=certificate.not_valid_after_utc,
        days_left=_days_left(certificate.not_valid_after_utc, now),
    )


def _days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    # whole days, rounded down: 23 hours left is 0 days, one second past expiry is -1
    return (not_after - now) // dt.timedelta(days=1)


def _read_peers_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_peers_file(path, exc) from exc
    if not isinstance(value, dict):
        raise _bad_peers_file(path, TypeError("top level is not an object"))
    return value


def _bad_peers_file(path: Path, exc: Exception) -> CertificateStoreError:
    return CertificateStoreError(
        _(
            "{path} is not a valid peer certificate record ({error}); delete it, and the "
            "node records each trunk's peer certificate again at its next handshake."
        ).format(path=path, error=exc)
    )
