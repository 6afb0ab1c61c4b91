"""Configuration export to YAML and import with a diff, through the real CLI and stores."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
import yaml
from config_helpers import TLS_PROFILE, TLS_TRUNK
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from tlstrunk.admin.export_cmd import app
from tlstrunk.config import ConfigSnapshot, ConfigStore, Destination, RouteGroupConfig, TrunkSpec
from tlstrunk.config.export import KINDS, snapshot_to_plain
from tlstrunk.config.values import RouteListConfig
from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.store import CertificateStore

runner = CliRunner()

SECOND_TRUNK = TrunkSpec(
    name="CUCM11",
    security_profile=TLS_PROFILE.name,
    destinations=(Destination("127.0.0.201", 5061), Destination("127.0.0.202", 5061)),
    css="Trunk-CSS",
    options_ping=True,
    options_ping_interval=30,
)


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """A node with every kind of configuration item and a CA-signed CallManager identity."""
    directory = tmp_path / "CUCMA"
    with ConfigStore(NodePaths(directory).config_db) as store:
        store.set_node("CUCMA", "127.0.0.203", "lab node")
        store.add_security_profile(TLS_PROFILE)
        store.add_partition("Internal", "phones")
        store.add_partition("Trunks")
        store.add_css("Trunk-CSS", ["Internal", "Trunks"], "calls from trunks")
        store.add_trunk(TLS_TRUNK)
        store.add_trunk(SECOND_TRUNK)
        store.add_route_group(RouteGroupConfig("RG-Far", ("CUCM10", "CUCM11")))
        store.add_route_list(RouteListConfig("RL-Far", ("RG-Far",)))
        store.add_route_pattern("9898", "CUCM10", "Trunks")
        store.add_route_pattern("8XXX", route_list="RL-Far", prefix_digits="0")
        store.add_directory_number("1018", "Internal", "lobby", css="Trunk-CSS")
    ca = CertificateAuthority.create(
        tmp_path / "ca", common_name="Export Test CA", key=KeySpec.parse("ecdsa-p256")
    )
    certificates = CertificateStore.open(NodePaths(directory).certs)
    certificates.upload_trust("CallManager-trust", ca.export_root("pem"))
    csr = certificates.generate_csr("CallManager", common_name="CUCMA")
    certificate = ca.issue(ca.submit(csr.pem), days=365)
    certificates.upload_certificate(
        "CallManager", certificate.public_bytes(serialization.Encoding.PEM)
    )
    return directory


def snapshot_of(node: Path) -> ConfigSnapshot:
    with ConfigStore(NodePaths(node).config_db) as store:
        return store.load_snapshot()


def export(node: Path, out: Path, *options: str) -> str:
    result = runner.invoke(app, ["export", "--node-dir", str(node), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def run_import(file: Path, node: Path, *options: str) -> str:
    result = runner.invoke(app, ["import", str(file), "--node-dir", str(node), *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_export_lists_every_section(node_dir: Path, tmp_path: Path) -> None:
    document = yaml.safe_load(export(node_dir, tmp_path / "out.yaml"))

    assert document["node"]["name"] == "CUCMA"
    assert [t["name"] for t in document["trunks"]] == ["CUCM10", "CUCM11"]
    assert document["trunks"][0]["security_profile"] == TLS_PROFILE.name
    assert document["trunks"][1]["destinations"][1] == {"address": "127.0.0.202", "port": 5061}
    assert document["calling_search_spaces"][0]["partitions"] == ["Internal", "Trunks"]
    assert document["route_lists"][0]["route_groups"] == ["RG-Far"]
    assert document["security_profiles"][0]["device_security_mode"] == "Encrypted"
    assert "analyzer" not in document
    assert "BEGIN CERTIFICATE" in document["certificates"]["own"]["CallManager"]["chain"]
    assert len(document["certificates"]["trust"]["CallManager-trust"]) == 1


def test_every_snapshot_section_is_importable() -> None:
    importable = {kind.section for kind in KINDS}
    exported = set(snapshot_to_plain(ConfigSnapshot.empty()))

    assert exported - importable == set()
    assert "analyzer" not in exported


def test_import_into_empty_node_gives_equal_snapshot(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    export(node_dir, file)
    empty = tmp_path / "empty"

    output = run_import(file, empty, "--yes")

    assert "+ trunks: CUCM11" in output
    assert snapshot_to_plain(snapshot_of(empty)) == snapshot_to_plain(snapshot_of(node_dir))
    trust = CertificateStore.open(NodePaths(empty).certs).trust_certificates("CallManager-trust")
    assert len(trust) == 1


def test_second_import_changes_nothing(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    export(node_dir, file)
    empty = tmp_path / "empty"
    run_import(file, empty, "--yes")
    database = NodePaths(empty).config_db.read_bytes()

    output = run_import(file, empty)

    assert "No changes" in output
    assert NodePaths(empty).config_db.read_bytes() == database


def test_changed_field_shows_old_and_new(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    document = yaml.safe_load(export(node_dir, file))
    document["security_profiles"][0]["x509_subject_name"] = "CUCM10 CUCM11"
    document["route_patterns"] = [r for r in document["route_patterns"] if r["pattern"] != "8XXX"]
    file.write_text(yaml.safe_dump(document), encoding="utf-8")

    output = run_import(file, node_dir, "--dry-run")

    assert f"~ security_profiles: {TLS_PROFILE.name}" in output
    assert "x509_subject_name: 'CUCM10' -> 'CUCM10 CUCM11'" in output
    assert "- route_patterns: 8XXX in partition <None>" in output
    assert "Dry run" in output
    assert snapshot_of(node_dir).security_profiles[TLS_PROFILE.name].x509_subject_name == "CUCM10"


def test_changed_profile_applies_under_its_trunks(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    document = yaml.safe_load(export(node_dir, file))
    document["security_profiles"][0]["x509_subject_name"] = "CUCM10 CUCM11"
    file.write_text(yaml.safe_dump(document), encoding="utf-8")
    before = snapshot_to_plain(snapshot_of(node_dir))

    run_import(file, node_dir, "--yes")

    after = snapshot_of(node_dir)
    assert after.trunks["CUCM11"].profile.x509_subject_name == "CUCM10 CUCM11"
    assert snapshot_to_plain(after)["route_groups"] == before["route_groups"]
    assert snapshot_to_plain(after)["route_patterns"] == before["route_patterns"]
    assert "No changes" in run_import(file, node_dir)


def test_bad_value_is_rejected_and_changes_nothing(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    document = yaml.safe_load(export(node_dir, file))
    document["partitions"].append({"name": "Added", "description": ""})
    document["security_profiles"][0]["incoming_port"] = 70000
    file.write_text(yaml.safe_dump(document), encoding="utf-8")
    before = snapshot_to_plain(snapshot_of(node_dir))

    result = runner.invoke(app, ["import", str(file), "--node-dir", str(node_dir), "--yes"])

    assert result.exit_code == 1
    assert "70000 is not a valid port" in result.output
    assert snapshot_to_plain(snapshot_of(node_dir)) == before


def test_unknown_field_is_named(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    document = yaml.safe_load(export(node_dir, file))
    document["trunks"][0]["srtp"] = True
    file.write_text(yaml.safe_dump(document), encoding="utf-8")

    result = runner.invoke(app, ["import", str(file), "--node-dir", str(node_dir), "--yes"])

    assert result.exit_code == 1
    assert "trunks[0] has the unknown field srtp" in result.output


def test_wrong_type_is_named(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    document = yaml.safe_load(export(node_dir, file))
    document["trunks"][0]["srtp_allowed"] = "yes"
    file.write_text(yaml.safe_dump(document), encoding="utf-8")

    result = runner.invoke(app, ["import", str(file), "--node-dir", str(node_dir), "--yes"])

    assert result.exit_code == 1
    assert "trunks[0].srtp_allowed has the value 'yes'; write true or false." in result.output


def test_declined_import_changes_nothing(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    export(node_dir, file)
    empty = tmp_path / "empty"

    result = runner.invoke(app, ["import", str(file), "--node-dir", str(empty)], input="n\n")

    assert result.exit_code == 1
    assert snapshot_of(empty).node is None


def test_keys_absent_without_with_keys(node_dir: Path, tmp_path: Path) -> None:
    text = export(node_dir, tmp_path / "out.yaml")

    assert "PRIVATE KEY" not in text
    assert "key" not in yaml.safe_load(text)["certificates"]["own"]["CallManager"]


def test_keys_encrypted_with_passphrase(node_dir: Path, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("export secret\n", encoding="utf-8")
    out = tmp_path / "out.yaml"
    text = export(node_dir, out, "--with-keys", "--key-passphrase-file", str(passphrase))
    key_pem = yaml.safe_load(text)["certificates"]["own"]["CallManager"]["key"].encode()

    assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(key_pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(key_pem, password=b"wrong")
    assert serialization.load_pem_private_key(key_pem, password=b"export secret") is not None


def test_with_keys_needs_passphrase(node_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["export", "--node-dir", str(node_dir), "--out", str(tmp_path / "x"), "--with-keys"]
    )

    assert result.exit_code == 1
    assert "--key-passphrase-file" in result.output


def test_import_with_keys_installs_identity(node_dir: Path, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("export secret\n", encoding="utf-8")
    file = tmp_path / "config.yaml"
    export(node_dir, file, "--with-keys", "--key-passphrase-file", str(passphrase))
    empty = tmp_path / "empty"

    output = run_import(file, empty, "--yes", "--key-passphrase-file", str(passphrase))

    assert "~ CallManager: CN=CUCMA" in output
    source = CertificateStore.open(NodePaths(node_dir).certs).own_certificate("CallManager")
    copied = CertificateStore.open(NodePaths(empty).certs).own_certificate("CallManager")
    assert copied == source
    assert "No changes" in run_import(file, empty, "--key-passphrase-file", str(passphrase))


def test_import_without_key_skips_identity(node_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    export(node_dir, file)
    empty = tmp_path / "empty"

    output = run_import(file, empty, "--yes")

    assert "no key for it" in output
    assert CertificateStore.open(NodePaths(empty).certs).own_certificate("CallManager") is None


def test_snapshot_values_are_frozen_dataclasses() -> None:
    # the export relies on dataclasses.fields over the snapshot and its values
    assert dataclasses.is_dataclass(ConfigSnapshot)
    for kind in KINDS:
        assert dataclasses.is_dataclass(kind.value_type)
        assert kind.value_type.__dataclass_params__.frozen  # type: ignore[attr-defined]


def add_digest_user(node: Path) -> None:
    with ConfigStore(NodePaths(node).config_db) as store:
        store.add_digest_user("alice", "phone-secret-1")


def test_digest_hashes_left_out_without_with_keys(node_dir: Path, tmp_path: Path) -> None:
    add_digest_user(node_dir)
    file = tmp_path / "config.yaml"
    [user] = yaml.safe_load(export(node_dir, file))["digest_users"]

    assert user["name"] == "alice"
    assert user["ha1_md5"] == ""
    assert user["ha1_sha256"] == ""
    assert "No changes" in run_import(file, node_dir)
    assert snapshot_of(node_dir).digest_user("alice", "CUCMA") is not None
    assert snapshot_of(node_dir).digest_users[("alice", "CUCMA")].ha1_md5 != ""


def test_digest_hashes_travel_with_keys(node_dir: Path, tmp_path: Path) -> None:
    add_digest_user(node_dir)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("export secret\n", encoding="utf-8")
    file = tmp_path / "config.yaml"
    export(node_dir, file, "--with-keys", "--key-passphrase-file", str(passphrase))
    empty = tmp_path / "empty"

    run_import(file, empty, "--yes", "--key-passphrase-file", str(passphrase))

    imported = snapshot_of(empty).digest_user("alice", "CUCMA")
    original = snapshot_of(node_dir).digest_user("alice", "CUCMA")
    assert imported is not None
    assert imported == original


def test_malformed_digest_hash_is_named(node_dir: Path, tmp_path: Path) -> None:
    add_digest_user(node_dir)
    file = tmp_path / "config.yaml"
    document = yaml.safe_load(export(node_dir, file))
    document["digest_users"][0]["ha1_md5"] = "not-hex"
    file.write_text(yaml.safe_dump(document), encoding="utf-8")
    empty = tmp_path / "empty"

    result = runner.invoke(app, ["import", str(file), "--node-dir", str(empty), "--yes"])

    assert result.exit_code != 0
    assert "32 hexadecimal" in result.output
