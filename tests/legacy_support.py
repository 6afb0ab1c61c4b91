"""1024-bit RSA and SHA-1 certificates made with the openssl command line.

cryptography will not sign with SHA-1, so tests of the legacy TLS policy make
their certificates the way an old cluster's CA did: with openssl.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str, cwd: Path) -> None:
    """Run the openssl command in ``cwd``; raise on failure."""
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def legacy_root(folder: Path, common_name: str) -> Path:
    """Make ``root.pem`` and ``root.key`` in ``folder``, unless they exist; return the PEM."""
    if not (folder / "root.pem").exists():
        openssl(
            "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-days", "30",
            "-keyout", "root.key", "-out", "root.pem", "-subj", f"/CN={common_name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder,
        )  # fmt: skip
    return folder / "root.pem"


def legacy_leaf(folder: Path, name: str, *, subject: str | None = None,
                address: str | None = None) -> tuple[Path, Path]:  # fmt: skip
    """Have ``root.pem`` sign a 1024-bit SHA-1 leaf for ``name``; return its PEM and key."""
    openssl(
        "req", "-newkey", "rsa:1024", "-sha1", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", subject or f"/CN={name}", cwd=folder,
    )  # fmt: skip
    extensions = (
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth,1.3.6.1.5.5.7.3.5\n"
    )
    if address is not None:
        extensions += f"subjectAltName=DNS:{name},IP:{address}\n"
    (folder / f"{name}.ext").write_text(extensions)
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "root.pem", "-CAkey", "root.key",
        "-CAcreateserial", "-sha1", "-days", "30", "-extfile", f"{name}.ext",
        "-out", f"{name}.pem", cwd=folder,
    )  # fmt: skip
    return folder / f"{name}.pem", folder / f"{name}.key"
