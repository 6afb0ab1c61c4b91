"""A certificate authority kept in a directory, with a request queue.

It works like an enterprise CA. A node's CSR is submitted, waits in the
pending queue, and is then issued or denied. Issued certificates and the root
can be exported in Base-64 (PEM) or binary (DER) form. The CA may have one
intermediate (issuing) CA under its root. Leaves and CRLs are then signed by
the intermediate, and exports of a leaf carry the intermediate after it.

Directory layout (all writes are atomic: a temporary file, then ``os.replace``)::

    ca.json                settings, the request/issued index and revocations
    ca-key.pem             root private key, mode 0600
    ca-cert.pem            root certificate
    intermediate-key.pem   intermediate private key, mode 0600 (optional)
    intermediate-cert.pem  intermediate certificate (optional)
    requests/<id>.csr      submitted CSRs
    issued/<serial>.pem    issued certificates (serial in hex)
    crl.pem, crl.der       the last CRL published by the issuing CA
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from tlstrunk.i18n import _
from tlstrunk.pki import _certbuild, _files
from tlstrunk.pki._certbuild import DEFAULT_USAGES, parse_reason, parse_usages
from tlstrunk.pki.errors import CertificateAuthorityError, PkiError, PolicyError
from tlstrunk.pki.keys import (
    RSA_2048,
    CryptoPolicy,
    KeySpec,
    SigningHash,
    check_public_key,
    check_signature_hash,
    generate_private_key,
    hash_algorithm,
    warn_legacy,
)
from tlstrunk.pki.names import rfc4514_subject

logger = logging.getLogger(__name__)

INDEX_FILE = "ca.json"
KEY_FILE = "ca-key.pem"
ROOT_FILE = "ca-cert.pem"
INTERMEDIATE_KEY_FILE = "intermediate-key.pem"
INTERMEDIATE_FILE = "intermediate-cert.pem"
CRL_PEM_FILE = "crl.pem"
CRL_DER_FILE = "crl.der"


class RequestStatus(enum.Enum):
    """The state of a submitted request."""

    PENDING = "pending"
    ISSUED = "issued"
    DENIED = "denied"


@dataclass(frozen=True)
class RequestRecord:
    """One submitted certificate signing request."""

    id: int
    subject: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    submitted_at: dt.datetime
    status: RequestStatus
    reason: str | None = None
    serial: int | None = None


@dataclass(frozen=True)
class IssuedRecord:
    """One certificate issued by the CA, with its revocation state.

    ``revoked_at`` is None while the certificate is not revoked;
    ``revocation_reason`` is then None too.
    """

    serial: int
    request_id: int
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    usages: tuple[str, ...] = DEFAULT_USAGES
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None

    @property
    def revoked(self) -> bool:
        """True once the certificate has been revoked."""
        return self.revoked_at is not None


def utc_now(now: dt.datetime | None = None) -> dt.datetime:
    """Return ``now`` (or the current time) as an aware UTC datetime without microseconds."""
    value = now if now is not None else dt.datetime.now(dt.UTC)
    if value.tzinfo is None:
        raise ValueError(_("Times passed to the PKI layer must carry a time zone (use UTC)."))
    return value.astimezone(dt.UTC).replace(microsecond=0)


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """Load a CSR in PEM or DER form.

    Raises:
        CertificateAuthorityError: the data is not a CSR.
    """
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise CertificateAuthorityError(
            _(
                "The file is not a certificate signing request in PEM or DER form ({error}); "
                "submit the CSR file downloaded from the node."
            ).format(error=exc)
        ) from exc


class CertificateAuthority:
    """A root CA, optionally with an intermediate, stored in a directory.

    See the module docstring for the directory layout.
    """

    def __init__(self, directory: Path) -> None:
        """Use :meth:`create` or :meth:`open` instead."""
        self.directory = directory
        self._index: dict[str, Any] = _files.read_json(directory / INDEX_FILE)
        self._root = x509.load_pem_x509_certificate((directory / ROOT_FILE).read_bytes())
        intermediate = directory / INTERMEDIATE_FILE
        self._intermediate = (
            x509.load_pem_x509_certificate(intermediate.read_bytes())
            if intermediate.is_file()
            else None
        )

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        common_name: str = "tlstrunk Root CA",
        key: KeySpec = RSA_2048,
        hash_name: str = "sha256",
        days: int = 3650,
        now: dt.datetime | None = None,
        intermediate_common_name: str | None = None,
        intermediate_key: KeySpec | None = None,
        intermediate_hash_name: str | None = None,
        intermediate_days: int | None = None,
        policy: CryptoPolicy = CryptoPolicy.MODERN,
    ) -> CertificateAuthority:
        """Create a new root CA in ``directory`` (created if missing).

        With ``intermediate_common_name``, an intermediate CA is created under
        the root and issues every leaf and CRL. Its key and hash default to the
        root's, and its validity to the root's, cut at the root's expiry.
        ``policy`` LEGACY lets the CA keys be 1024-bit RSA and lets the CA
        accept CSRs signed with SHA-1; the CA still signs with SHA-256 or better.

        Raises:
            CertificateAuthorityError: the directory already contains a CA.
            PolicyError: the key or hash is rejected by ``policy``.
        """
        if (directory / INDEX_FILE).exists() or (directory / KEY_FILE).exists():
            raise CertificateAuthorityError(
                _(
                    "{path} already contains a certificate authority; open it, or choose an "
                    "empty directory for a new CA."
                ).format(path=directory)
            )
        _check_days(days)
        sub_key = intermediate_key or key
        sub_hash = intermediate_hash_name or hash_name
        for spec in (key, sub_key):
            spec.check_policy(policy)
        root_algorithm = hash_algorithm(hash_name)
        hash_algorithm(sub_hash)  # reject a bad leaf hash before any key is written
        if policy is CryptoPolicy.LEGACY:
            warn_legacy(logger, _("certificate authority in {path}").format(path=directory))

        start = utc_now(now)
        root_key = generate_private_key(key)
        root = _certbuild.build_root(root_key, common_name, root_algorithm, start, days)
        _write_key(directory / KEY_FILE, root_key)
        _files.write_atomic(directory / ROOT_FILE, _files.encode_certificate(root, "pem"))
        if intermediate_common_name:
            _check_days(intermediate_days or days)
            lifetime = dt.timedelta(days=intermediate_days or days)
            end = min(start + lifetime, root.not_valid_after_utc)
            issuing_key = generate_private_key(sub_key)
            intermediate = _certbuild.build_intermediate(
                issuing_key, intermediate_common_name, root, root_key, root_algorithm, start, end
            )
            _write_key(directory / INTERMEDIATE_KEY_FILE, issuing_key)
            _files.write_atomic(
                directory / INTERMEDIATE_FILE, _files.encode_certificate(intermediate, "pem")
            )
        index = {
            "format": 1,
            "hash": sub_hash if intermediate_common_name else hash_name,
            "root_hash": hash_name,
            "policy": policy.value,
            "next_request_id": 1,
            "crl_number": 0,
            "requests": [],
            "issued": [],
        }
        _files.write_json_atomic(directory / INDEX_FILE, index)
        logger.info("created CA %s in %s", common_name, directory)
        return cls(directory)

    @classmethod
    def open(cls, directory: Path) -> CertificateAuthority:
        """Open the CA stored in ``directory``.

        Raises:
            CertificateAuthorityError: the directory contains no CA.
        """
        if not (directory / INDEX_FILE).is_file():
            raise CertificateAuthorityError(
                _(
                    "No certificate authority in {path}; create one first with "
                    "'tlstrunk ca init --dir {path}'."
                ).format(path=directory)
            )
        return cls(directory)

    @property
    def root_certificate(self) -> x509.Certificate:
        """The CA's self-signed root certificate."""
        return self._root

    @property
    def intermediate_certificate(self) -> x509.Certificate | None:
        """The intermediate CA's certificate, or None when the root issues leaves itself."""
        return self._intermediate

    @property
    def issuing_certificate(self) -> x509.Certificate:
        """The certificate of the CA that signs leaves and CRLs."""
        return self._intermediate or self._root

    @property
    def policy(self) -> CryptoPolicy:
        """The crypto policy the CA was created with."""
        return CryptoPolicy(self._index.get("policy", CryptoPolicy.MODERN.value))

    def submit(self, csr_pem: bytes, *, now: dt.datetime | None = None) -> int:
        """Queue a CSR and return its request id.

        Raises:
            CertificateAuthorityError: the data is not a CSR, its signature is
                invalid or it names no subject.
            PolicyError: its key or signature hash is rejected by the CA's policy.
        """
        csr = load_csr(csr_pem)
        _check_csr(csr, self.policy)
        request_id = int(self._index["next_request_id"])
        dns_names, ip_addresses = _requested_names(csr)
        record = RequestRecord(
            id=request_id,
            subject=rfc4514_subject(csr.subject),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            submitted_at=utc_now(now),
            status=RequestStatus.PENDING,
        )
        _files.write_atomic(self._csr_path(request_id), csr.public_bytes(_PEM))
        self._index["next_request_id"] = request_id + 1
        self._index["requests"].append(_request_to_json(record))
        self._save()
        logger.info("request %d submitted for %s", request_id, record.subject)
        return request_id

    def requests(self) -> list[RequestRecord]:
        """Return every request, whatever its status, oldest first."""
        return [_request_from_json(item) for item in self._index["requests"]]

    def pending(self) -> list[RequestRecord]:
        """Return the requests waiting to be issued or denied, oldest first."""
        return [r for r in self.requests() if r.status is RequestStatus.PENDING]

    def issue(
        self,
        request_id: int,
        *,
        days: int = 730,
        now: dt.datetime | None = None,
        usages: Sequence[str] = DEFAULT_USAGES,
    ) -> x509.Certificate:
        """Sign the pending request ``request_id`` and return the certificate.

        The validity starts at ``now`` and lasts ``days`` days, cut short at the
        issuing CA's own expiry. ``usages`` names the extended key usages
        (serverAuth, clientAuth, ipsecEndSystem); a trunk needs both serverAuth
        and clientAuth because each node is TLS server and TLS client. The
        CSR's subject and subject alternative names are copied.

        Raises:
            CertificateAuthorityError: no such request, or it is not pending.
            ValueError: ``days`` is below 1 or a usage is unknown.
        """
        _check_days(days)
        oids = parse_usages(usages)
        self._pending_record(request_id)
        csr = load_csr(self._csr_path(request_id).read_bytes())
        issuer = self.issuing_certificate
        start = utc_now(now)
        end = min(start + dt.timedelta(days=days), issuer.not_valid_after_utc)
        certificate = _certbuild.build_leaf(
            csr, issuer, self._issuing_key(), self._hash(), start, end, oids
        )

        serial = certificate.serial_number
        pem = _files.encode_certificate(certificate, "pem")
        _files.write_atomic(self._issued_path(serial), pem)
        self._set_request(request_id, status=RequestStatus.ISSUED.value, serial=serial)
        names = {oid: name for name, oid in _certbuild.USAGES.items()}
        self._index["issued"].append(
            {
                "serial": serial,
                "request_id": request_id,
                "subject": rfc4514_subject(certificate.subject),
                "not_before": start.isoformat(),
                "not_after": end.isoformat(),
                "usages": [names[oid] for oid in oids],
            }
        )
        self._save()
        logger.info("request %d issued as serial %x", request_id, serial)
        return certificate

    def deny(self, request_id: int, reason: str) -> None:
        """Deny the pending request ``request_id``, recording ``reason``.

        Raises:
            CertificateAuthorityError: no such request, or it is not pending.
        """
        self._pending_record(request_id)
        self._set_request(request_id, status=RequestStatus.DENIED.value, reason=reason)
        self._save()
        logger.info("request %d denied: %s", request_id, reason)

    def issued(self) -> list[IssuedRecord]:
        """Return the issued certificates with their revocation state, oldest first."""
        return [_issued_from_json(item) for item in self._index["issued"]]

    def revoke(
        self, serial: int, reason: str = "unspecified", *, now: dt.datetime | None = None
    ) -> IssuedRecord:
        """Mark the issued certificate ``serial`` as revoked and return its record.

        ``reason`` is an RFC 5280 reason name such as "keyCompromise" or
        "superseded". The revocation reaches peers with the next
        :meth:`publish_crl`.

        Raises:
            CertificateAuthorityError: no such serial, or it is already revoked.
            ValueError: ``reason`` is unknown.
        """
        flag = parse_reason(reason)
        item = self._issued_item(serial)
        if item.get("revoked_at"):
            raise CertificateAuthorityError(
                _("Serial {serial:X} was already revoked on {date}.").format(
                    serial=serial, date=item["revoked_at"]
                )
            )
        item["revoked_at"] = utc_now(now).isoformat()
        item["revocation_reason"] = flag.value
        self._save()
        logger.info("serial %x revoked (%s)", serial, flag.value)
        return _issued_from_json(item)

    def publish_crl(
        self, *, days: int = 7, now: dt.datetime | None = None, encoding: str = "pem"
    ) -> bytes:
        """Sign a new CRL of every revoked certificate, store it and return it.

        The CRL is signed by the issuing CA (the intermediate when there is
        one), carries an increasing CRL number, and its next update is ``days``
        days after ``now``. It is written as ``crl.pem`` and ``crl.der``.

        Raises:
            ValueError: ``days`` is below 1 or ``encoding`` is unknown.
        """
        _check_days(days)
        if encoding not in ("pem", "der"):
            raise ValueError(
                _("Unknown CRL encoding {value!r}; use 'pem' or 'der'.").format(value=encoding)
            )
        start = utc_now(now)
        revoked = [
            (record.serial, record.revoked_at, parse_reason(record.revocation_reason or ""))
            for record in self.issued()
            if record.revoked_at is not None
        ]
        number = int(self._index.get("crl_number", 0)) + 1
        crl = _certbuild.build_crl(
            self.issuing_certificate,
            self._issuing_key(),
            self._hash(),
            revoked,
            number,
            start,
            start + dt.timedelta(days=days),
        )
        der = crl.public_bytes(serialization.Encoding.DER)
        pem = crl.public_bytes(serialization.Encoding.PEM)
        _files.write_atomic(self.directory / CRL_DER_FILE, der)
        _files.write_atomic(self.directory / CRL_PEM_FILE, pem)
        self._index["crl_number"] = number
        self._save()
        logger.info("published CRL %d with %d revoked certificates", number, len(revoked))
        return pem if encoding == "pem" else der

    def certificate(self, serial: int) -> x509.Certificate:
        """Return the issued certificate with ``serial``.

        Raises:
            CertificateAuthorityError: this CA issued no such serial.
        """
        path = self._issued_path(serial)
        if not path.is_file():
            raise _unknown_serial(serial)
        return x509.load_pem_x509_certificate(path.read_bytes())

    def export_certificate(
        self, serial: int, encoding: str = "pem", *, include_chain: bool = True
    ) -> bytes:
        """Return the issued certificate with ``serial`` as PEM or DER bytes.

        In PEM form the intermediate CA, when there is one, follows the leaf
        unless ``include_chain`` is False, so that the node can upload one file.
        A DER file holds one certificate, so DER exports carry the leaf only.
        """
        data = _files.encode_certificate(self.certificate(serial), encoding)
        if encoding == "pem" and include_chain and self._intermediate is not None:
            data += _files.encode_certificate(self._intermediate, "pem")
        return data

    def export_root(self, encoding: str = "pem") -> bytes:
        """Return the root certificate as PEM or DER bytes."""
        return _files.encode_certificate(self._root, encoding)

    def export_chain(self, encoding: str = "pem") -> bytes:
        """Return the CA chain, intermediate first and root last.

        ``encoding`` is "pem" (concatenated Base-64) or "p7b" (a DER PKCS#7
        bundle, as Windows CAs export chains).

        Raises:
            PkiError: ``encoding`` is neither.
        """
        chain = [c for c in (self._intermediate, self._root) if c is not None]
        if encoding == "pem":
            return b"".join(_files.encode_certificate(c, "pem") for c in chain)
        if encoding == "p7b":
            return pkcs7.serialize_certificates(chain, serialization.Encoding.DER)
        raise PkiError(
            _("Unknown chain encoding {value!r}; use 'pem' or 'p7b'.").format(value=encoding)
        )

    # storage

    def _csr_path(self, request_id: int) -> Path:
        return self.directory / "requests" / f"{request_id}.csr"

    def _issued_path(self, serial: int) -> Path:
        return self.directory / "issued" / f"{serial:x}.pem"

    def _issuing_key(self) -> CertificateIssuerPrivateKeyTypes:
        name = INTERMEDIATE_KEY_FILE if self._intermediate is not None else KEY_FILE
        return _files.load_private_key(self.directory / name)

    def _issued_item(self, serial: int) -> dict[str, Any]:
        for item in self._index["issued"]:
            if int(item["serial"]) == serial:
                return item  # type: ignore[no-any-return]
        raise _unknown_serial(serial)

    def _hash(self) -> SigningHash:
        return hash_algorithm(str(self._index["hash"]))

    def _save(self) -> None:
        # NOTE: one process at a time; two writers at once could lose an index update.
        _files.write_json_atomic(self.directory / INDEX_FILE, self._index)

    def _pending_record(self, request_id: int) -> RequestRecord:
        for record in self.requests():
            if record.id != request_id:
                continue
            if record.status is not RequestStatus.PENDING:
                raise CertificateAuthorityError(
                    _(
                        "Request {id} is {status}, not pending; only pending requests can be "
                        "issued or denied."
                    ).format(id=request_id, status=record.status.value)
                )
            return record
        raise CertificateAuthorityError(
            _(
                "No request with id {id}; list the pending requests with 'tlstrunk ca pending'."
            ).format(id=request_id)
        )

    def _set_request(self, request_id: int, **changes: Any) -> None:
        for item in self._index["requests"]:
            if item["id"] == request_id:
                item.update(changes)


_PEM = serialization.Encoding.PEM


def _check_csr(csr: x509.CertificateSigningRequest, policy: CryptoPolicy) -> None:
    if not csr.is_signature_valid:
        raise CertificateAuthorityError(
            _(
                "The CSR's signature is invalid (the file was changed or damaged after it was "
                "generated); download the CSR from the node again."
            )
        )
    try:
        check_public_key(csr.public_key(), policy)
        check_signature_hash(csr.signature_hash_algorithm, policy)
    except PolicyError as exc:
        raise PolicyError(_("The CSR was rejected: {reason}").format(reason=exc)) from exc
    dns_names, ip_addresses = _requested_names(csr)
    has_cn = bool(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    if not (has_cn or dns_names or ip_addresses):
        raise CertificateAuthorityError(
            _(
                "The CSR names no subject: it has no common name and no subject alternative "
                "names; generate a CSR with the node's name as common name."
            )
        )


def _requested_names(
    csr: x509.CertificateSigningRequest,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), ()
    ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return tuple(san.get_values_for_type(x509.DNSName)), ips


def _write_key(path: Path, key: CertificateIssuerPrivateKeyTypes) -> None:
    _files.write_atomic(path, _files.private_key_pem(key), mode=_files.PRIVATE_FILE_MODE)


def _unknown_serial(serial: int) -> CertificateAuthorityError:
    return CertificateAuthorityError(
        _(
            "This CA issued no certificate with serial {serial:X}; list them with "
            "'tlstrunk ca issued'."
        ).format(serial=serial)
    )


def _issued_from_json(item: dict[str, Any]) -> IssuedRecord:
    revoked_at = item.get("revoked_at")
    return IssuedRecord(
        serial=int(item["serial"]),
        request_id=int(item["request_id"]),
        subject=item["subject"],
        not_before=dt.datetime.fromisoformat(item["not_before"]),
        not_after=dt.datetime.fromisoformat(item["not_after"]),
        usages=tuple(item.get("usages", DEFAULT_USAGES)),
        revoked_at=dt.datetime.fromisoformat(revoked_at) if revoked_at else None,
        revocation_reason=item.get("revocation_reason"),
    )


#: Maximum validity in days (about 100 years), well inside what datetime can hold.
MAX_DAYS = 36_500


def _check_days(days: int) -> None:
    if days < 1:
        raise ValueError(_("The validity must be at least 1 day, not {days}.").format(days=days))
    if days > MAX_DAYS:
        raise ValueError(
            _("The validity of {days} days is too long; use at most {limit} days.").format(
                days=days, limit=MAX_DAYS
            )
        )


def _request_to_json(record: RequestRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "subject": record.subject,
        "dns_names": list(record.dns_names),
        "ip_addresses": list(record.ip_addresses),
        "submitted_at": record.submitted_at.isoformat(),
        "status": record.status.value,
        "reason": record.reason,
        "serial": record.serial,
    }


def _request_from_json(item: dict[str, Any]) -> RequestRecord:
    return RequestRecord(
        id=int(item["id"]),
        subject=item["subject"],
        dns_names=tuple(item["dns_names"]),
        ip_addresses=tuple(item["ip_addresses"]),
        submitted_at=dt.datetime.fromisoformat(item["submitted_at"]),
        status=RequestStatus(item["status"]),
        reason=item.get("reason"),
        serial=item.get("serial"),
    )


__all__ = [
    "CertificateAuthority",
    "CertificateAuthorityError",
    "IssuedRecord",
    "PkiError",
    "RequestRecord",
    "RequestStatus",
    "load_csr",
    "utc_now",
]
