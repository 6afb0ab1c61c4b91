"""TLS policies: the modern policy refuses a 1024-bit SHA-1 certificate, the legacy one uses it.

cryptography will not sign with SHA-1, so the legacy pair is made with the
openssl command line, as an old cluster's CA would have made it.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from legacy_support import legacy_leaf, legacy_root
from tlstrunk.transport.tls import (
    LEGACY,
    MODERN,
    TlsConfigurationError,
    TlsIdentity,
    build_client_context,
    build_server_context,
)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def legacy_pair(folder: Path, name: str) -> TlsIdentity:
    """Make a 1024-bit SHA-1 root and a 1024-bit SHA-1 leaf for ``name`` with openssl."""
    root = legacy_root(folder, "Legacy Root")
    certificate, key = legacy_leaf(folder, name)
    return TlsIdentity(certificate, key, root)


def test_modern_policy_refuses_legacy_certificate(tmp_path: Path) -> None:
    identity = legacy_pair(tmp_path, "CUCMA")
    with pytest.raises(TlsConfigurationError) as raised:
        build_server_context(identity, MODERN)
    message = str(raised.value)
    assert "modern TLS policy refuses this node's certificate" in message
    assert "at least 2048 bits" in message
    assert "legacy TLS policy" in message


def test_legacy_policy_completes_handshake(tmp_path: Path) -> None:
    server_identity = legacy_pair(tmp_path, "CUCMA")
    client_identity = legacy_pair(tmp_path, "CUCM10")
    server_context = build_server_context(server_identity, LEGACY)
    client_context = build_client_context(client_identity, LEGACY)

    async def handshake() -> tuple[str | None, bytes | None]:
        seen: list[bytes | None] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("ssl_object").getpeercert(binary_form=True))
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname=""
        )
        version = writer.get_extra_info("ssl_object").version()
        await reader.read()
        writer.close()
        server.close()
        await server.wait_closed()
        return version, seen[0] if seen else None

    version, client_certificate = asyncio.run(handshake())
    assert version in {"TLSv1.2", "TLSv1.3"}
    assert client_certificate is not None


def test_unknown_policy_rejected(tmp_path: Path) -> None:
    identity = legacy_pair(tmp_path, "CUCMA")
    with pytest.raises(ValueError, match="unknown TLS policy 'lenient'"):
        build_server_context(identity, "lenient")
