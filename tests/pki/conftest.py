"""Fixtures for the PKI tests: a CA on disk and a node store that trusts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pki_helpers import CA_START

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.store import CertificateStore


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(
        tmp_path / "ca",
        common_name="tlstrunk Test CA",
        key=KeySpec.parse("ecdsa-p256"),
        now=CA_START,
    )


@pytest.fixture
def other_ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(
        tmp_path / "other-ca",
        common_name="Other CA",
        key=KeySpec.parse("ecdsa-p256"),
        now=CA_START,
    )


@pytest.fixture
def store(tmp_path: Path, ca: CertificateAuthority) -> CertificateStore:
    """A node store for CUCM10 that trusts ``ca`` and has a pending RSA CSR."""
    node = CertificateStore.open(tmp_path / "cucm10" / "certs")
    node.upload_trust("CallManager-trust", ca.export_root("pem"))
    node.generate_csr("CallManager", common_name="CUCM10", dns_names=["cucm10.example.com"])
    return node
