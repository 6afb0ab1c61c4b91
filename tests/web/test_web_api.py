"""REST API: the configuration entities, certificates, errors and OpenAPI, with httpx."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from https_server import serve_https
from starlette.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import install_identity, make_ca

from lab_support import free_port
from tlstrunk.admin.cli import app as cli
from tlstrunk.admin.web_cmd import app as web_cli
from tlstrunk.config.store import ConfigStore
from tlstrunk.paths import NodePaths
from tlstrunk.web.accounts import Accounts, web_db_path

PROFILE = {
    "name": "Secure",
    "device_security_mode": "Encrypted",
    "incoming_transport": "TLS",
    "outgoing_transport": "TLS",
    "x509_subject_name": "CUCM10",
    "incoming_port": 5061,
}
TRUNK = {
    "name": "CUCM10",
    "security_profile": "Secure",
    "destinations": ["127.0.0.200:5061"],
    "srtp_allowed": True,
}


def _cli_error(node_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, [args[0], args[1], "--node-dir", str(node_dir), *args[2:]])
    assert result.exit_code == 1
    return " ".join(result.output.split())


def test_openapi_lists_entities(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    assert "/api/v1/trunks" in document["paths"]
    assert "/api/v1/security-profiles/{name}" in document["paths"]
    assert "/api/v1/certificates/csr" in document["paths"]


def test_profile_and_trunk_round_trip(api: TestClient, node_dir: Path) -> None:
    assert api.post("/api/v1/security-profiles", json=PROFILE).status_code == 201
    answer = api.post("/api/v1/trunks", json=TRUNK)
    assert answer.status_code == 201
    trunk = api.get("/api/v1/trunks/CUCM10").json()
    assert trunk["destinations"] == [{"address": "127.0.0.200", "port": 5061}]
    assert trunk["srtp_allowed"] is True
    with ConfigStore(NodePaths(node_dir).config_db) as store:
        assert store.get_trunk("CUCM10").profile.x509_subject_name == "CUCM10"


def test_duplicate_carries_cli_message(api: TestClient, node_dir: Path) -> None:
    api.post("/api/v1/partitions", json={"name": "Internal"})
    answer = api.post("/api/v1/partitions", json={"name": "Internal"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_config"
    expected = _cli_error(node_dir, "partition", "add", "Internal")
    assert error["message"] in expected


def test_missing_item_is_not_found(api: TestClient) -> None:
    answer = api.get("/api/v1/trunks/nowhere")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert "'nowhere' does not exist" in answer.json()["error"]["message"]


def test_bad_type_is_invalid_input(api: TestClient) -> None:
    answer = api.post("/api/v1/security-profiles", json=PROFILE | {"incoming_port": "many"})
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_input",
        "message": "Incoming Port must be a whole number, not 'many'.",
    }


def test_unknown_field_is_invalid_input(api: TestClient) -> None:
    answer = api.post("/api/v1/partitions", json={"name": "P", "colour": "red"})
    assert answer.status_code == 422
    assert "Unknown field 'colour'" in answer.json()["error"]["message"]


def test_route_pattern_in_partition(api: TestClient) -> None:
    api.post("/api/v1/security-profiles", json=PROFILE)
    api.post("/api/v1/trunks", json=TRUNK)
    api.post("/api/v1/partitions", json={"name": "Internal"})
    route = {"pattern": "9898", "trunk": "CUCM10", "partition": "Internal"}
    assert api.post("/api/v1/route-patterns", json=route).status_code == 201
    assert api.get("/api/v1/route-patterns/9898").status_code == 404
    assert api.get("/api/v1/route-patterns/9898?partition=Internal").status_code == 200
    assert api.delete("/api/v1/route-patterns/9898?partition=Internal").status_code == 204
    assert api.get("/api/v1/route-patterns").json() == []


def test_delete_in_use_profile_rejected(api: TestClient) -> None:
    api.post("/api/v1/security-profiles", json=PROFILE)
    api.post("/api/v1/trunks", json=TRUNK)
    answer = api.delete("/api/v1/security-profiles/Secure")
    assert answer.status_code == 422
    assert "is used by trunk CUCM10" in answer.json()["error"]["message"]


def test_replace_changes_description(api: TestClient) -> None:
    api.post("/api/v1/partitions", json={"name": "Internal"})
    answer = api.put("/api/v1/partitions/Internal", json={"name": "Internal", "description": "x"})
    assert answer.status_code == 200
    assert api.get("/api/v1/partitions/Internal").json()["description"] == "x"


def test_csr_and_upload(api: TestClient, tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "ca")
    answer = api.post("/api/v1/certificates/upload/CallManager-trust", content=ca.export_root())
    assert answer.json()["message"] == "Added CN=Web Test CA to CallManager-trust."
    csr = api.post("/api/v1/certificates/csr", json={"common_name": "CUCMA", "key": "rsa2048"})
    assert csr.status_code == 201
    downloaded = api.get("/api/v1/certificates/csr/CallManager").text
    assert downloaded == csr.json()["pem"]
    serial = ca.issue(ca.submit(downloaded.encode())).serial_number
    upload = api.post(
        "/api/v1/certificates/upload/CallManager", content=ca.export_certificate(serial)
    )
    assert upload.status_code == 200
    assert upload.json()["message"].startswith("Installed CN=CUCMA for CallManager")
    listed = api.get("/api/v1/certificates").json()
    assert [row["subject"] for row in listed if row["purpose"] == "CallManager"] == ["CN=CUCMA"]


def test_upload_rejection_carries_store_message(api: TestClient) -> None:
    answer = api.post("/api/v1/certificates/upload/CallManager", content=b"not a certificate")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "certificate_rejected"


def test_sha1_csr_rejected(api: TestClient) -> None:
    answer = api.post("/api/v1/certificates/csr", json={"common_name": "A", "hash": "sha1"})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"]


def test_node_status_without_node(api: TestClient) -> None:
    answer = api.get("/api/v1/node/status")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "node_unreachable"


def test_api_over_real_https(tmp_path: Path, node_dir: Path) -> None:
    address = "127.0.8.21"
    ca = make_ca(tmp_path / "ca")
    install_identity(node_dir, ca, "tomcat", "CUCMA", (address,))
    (tmp_path / "root.pem").write_bytes(ca.export_root())
    accounts = Accounts(web_db_path(node_dir))
    token = accounts.create_token("https")
    accounts.close()
    with (
        serve_https(node_dir, address, free_port(address)) as base,
        httpx.Client(verify=str(tmp_path / "root.pem")) as https,
    ):
        answer = https.get(
            f"{base}/api/v1/partitions", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200
        assert answer.json() == []
        # a client without the CA root rejects the tomcat certificate
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/api/v1/partitions", verify=True)


def test_run_refuses_without_tomcat_certificate(node_dir: Path) -> None:
    result = CliRunner().invoke(web_cli, ["run", "--node-dir", str(node_dir), "--port", "1"])
    assert result.exit_code == 1
    assert "The web server needs the node's tomcat certificate" in result.output
    assert "--purpose tomcat" in result.output


def test_token_create_prints_token(node_dir: Path) -> None:
    result = CliRunner().invoke(web_cli, ["token", "create", "--node-dir", str(node_dir), "ci"])
    assert result.exit_code == 0
    accounts = Accounts(web_db_path(node_dir))
    assert accounts.token_name(result.output.strip()) == "ci"
    accounts.close()


def test_self_signed_tomcat_certificate_made_once(tmp_path: Path) -> None:
    import ssl

    from tlstrunk.admin.web_cmd import _ensure_tomcat_certificate, tls_files
    from tlstrunk.pki.store import CertificateStore

    node = tmp_path / "fresh"
    _ensure_tomcat_certificate(node, "127.0.8.90", None)
    store = CertificateStore.open(node / "certs")
    first = store.own_certificate("tomcat")
    assert first is not None
    assert first.issuer == first.subject
    _ensure_tomcat_certificate(node, "127.0.8.90", None)
    assert store.own_certificate("tomcat") == first
    cert_file, key_file, password = tls_files(node, None)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file, password)


def test_oversize_body_refused_before_reading(api: TestClient) -> None:
    body = b"x" * (2 * 1024 * 1024)
    answer = api.post(
        "/api/v1/partitions", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
