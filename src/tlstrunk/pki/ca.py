"""A certificate authority kept in a directory, with a request queue.

It works like an enterprise CA. A node's CSR is submitted, waits in the
pending queue, and is then issued or denied. Issued certificates and the root
can be exported in Base-64 (PEM) or binary (DER) form.

Directory layout (all writes are atomic: a temporary file, then ``os.replace``)::

    ca.json              settings and the request/issued index
    ca-key.pem           root private key, mode 0600
    ca-cert.pem          root certificate
    requests/<id>.csr    submitted CSRs
    issued/<serial>.pem  issued certificates (serial in hex)
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlstrunk.i18n import _
from tlstrunk.pki import _files
from tlstrunk.pki.errors import CertificateAuthorityError, PkiError, PolicyError
from tlstrunk.pki.keys import (
    RSA_2048,
    KeySpec,
    SigningHash,
    check_public_key,
    check_signature_hash,
    generate_private_key,
    hash_algorithm,
)
from tlstrunk.pki.names import rfc4514_subject

logger = logging.getLogger(__name__)

INDEX_FILE = "ca.json"
KEY_FILE = "ca-key.pem"
ROOT_FILE = "ca-cert.pem"
SERIAL_BITS = 127  # random serials of 65 to 127 bits; RFC 5280 allows up to 20 octets


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
    """One certificate issued by the CA."""

    serial: int
    request_id: int
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime


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
    """A root CA stored in a directory; see the module docstring for the layout."""

    def __init__(self, directory: Path) -> None:
        """Use :meth:`create` or :meth:`open` instead."""
        self.directory = directory
        self._index: dict[str, Any] = _files.read_json(directory / INDEX_FILE)
        self._root = x509.load_pem_x509_certificate((directory / ROOT_FILE).read_bytes())

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
    ) -> CertificateAuthority:
        """Create a new root CA in ``directory`` (created if missing).

        Raises:
            CertificateAuthorityError: the directory already contains a CA.
            PolicyError: the key or hash is rejected by the modern policy.
        """
        if (directory / INDEX_FILE).exists() or (directory / KEY_FILE).exists():
            raise CertificateAuthorityError(
                _(
                    "{path} already contains a certificate authority; open it, or choose an "
                    "empty directory for a new CA."
                ).format(path=directory)
            )
        _check_days(days)
        key.check_policy()
        algorithm = hash_algorithm(hash_name)
        private_key = generate_private_key(key)
        root = _build_root(private_key, common_name, algorithm, utc_now(now), days)

        _files.write_atomic(
            directory / KEY_FILE, _files.private_key_pem(private_key), mode=_files.PRIVATE_FILE_MODE
        )
        _files.write_atomic(directory / ROOT_FILE, _files.encode_certificate(root, "pem"))
        index = {"format": 1, "hash": hash_name, "next_request_id": 1, "requests": [], "issued": []}
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

    def submit(self, csr_pem: bytes, *, now: dt.datetime | None = None) -> int:
        """Queue a CSR and return its request id.

        Raises:
            CertificateAuthorityError: the data is not a CSR, its signature is
                invalid or it names no subject.
            PolicyError: its key or signature hash is rejected by the modern policy.
        """
        csr = load_csr(csr_pem)
        _check_csr(csr)
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
        self, request_id: int, *, days: int = 730, now: dt.datetime | None = None
    ) -> x509.Certificate:
        """Sign the pending request ``request_id`` and return the certificate.

        The validity starts at ``now`` and lasts ``days`` days, cut short at the
        root's own expiry.

        Raises:
            CertificateAuthorityError: no such request, or it is not pending.
        """
        _check_days(days)
        self._pending_record(request_id)
        csr = load_csr(self._csr_path(request_id).read_bytes())
        start = utc_now(now)
        end = min(start + dt.timedelta(days=days), self._root.not_valid_after_utc)
        certificate = _build_leaf(csr, self._root, self._private_key(), self._hash(), start, end)

        serial = certificate.serial_number
        pem = _files.encode_certificate(certificate, "pem")
        _files.write_atomic(self._issued_path(serial), pem)
        self._set_request(request_id, status=RequestStatus.ISSUED.value, serial=serial)
        self._index["issued"].append(
            {
                "serial": serial,
                "request_id": request_id,
                "subject": rfc4514_subject(certificate.subject),
                "not_before": start.isoformat(),
                "not_after": end.isoformat(),
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
        """Return the issued certificates, oldest first."""
        return [
            IssuedRecord(
                serial=int(item["serial"]),
                request_id=int(item["request_id"]),
                subject=item["subject"],
                not_before=dt.datetime.fromisoformat(item["not_before"]),
                not_after=dt.datetime.fromisoformat(item["not_after"]),
            )
            for item in self._index["issued"]
        ]

    def certificate(self, serial: int) -> x509.Certificate:
        """Return the issued certificate with ``serial``.

        Raises:
            CertificateAuthorityError: this CA issued no such serial.
        """
        path = self._issued_path(serial)
        if not path.is_file():
            raise CertificateAuthorityError(
                _(
                    "This CA issued no certificate with serial {serial:X}; list them with "
                    "'tlstrunk ca issued'."
                ).format(serial=serial)
            )
        return x509.load_pem_x509_certificate(path.read_bytes())

    def export_certificate(self, serial: int, encoding: str = "pem") -> bytes:
        """Return the issued certificate with ``serial`` as PEM or DER bytes."""
        return _files.encode_certificate(self.certificate(serial), encoding)

    def export_root(self, encoding: str = "pem") -> bytes:
        """Return the root certificate as PEM or DER bytes."""
        return _files.encode_certificate(self._root, encoding)

    # storage

    def _csr_path(self, request_id: int) -> Path:
        return self.directory / "requests" / f"{request_id}.csr"

    def _issued_path(self, serial: int) -> Path:
        return self.directory / "issued" / f"{serial:x}.pem"

    def _private_key(self) -> CertificateIssuerPrivateKeyTypes:
        return _files.load_private_key(self.directory / KEY_FILE)

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


def _check_csr(csr: x509.CertificateSigningRequest) -> None:
    if not csr.is_signature_valid:
        raise CertificateAuthorityError(
            _(
                "The CSR's signature is invalid (the file was changed or damaged after it was "
                "generated); download the CSR from the node again."
            )
        )
    try:
        check_public_key(csr.public_key())
        check_signature_hash(csr.signature_hash_algorithm)
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


def _check_days(days: int) -> None:
    if days < 1:
        raise ValueError(_("The validity must be at least 1 day, not {days}.").format(days=days))


def _random_serial() -> int:
    # at least 64 random bits, as the CA/Browser Forum Baseline Requirements require
    return secrets.randbits(SERIAL_BITS) | (1 << 64)


def _build_root(
    private_key: CertificateIssuerPrivateKeyTypes,
    common_name: str,
    algorithm: SigningHash,
    start: dt.datetime,
    days: int,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public_key = private_key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(_random_serial())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return builder.sign(private_key, algorithm)


def _build_leaf(
    csr: x509.CertificateSigningRequest,
    root: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    algorithm: SigningHash,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.Certificate:
    public_key = csr.public_key()
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(_random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False
        )
    )
    dns_names, ip_addresses = _requested_names(csr)
    if dns_names or ip_addresses:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, algorithm)


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
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
