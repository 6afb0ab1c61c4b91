"""The trunk doctor against a real far node on loopback, one broken set-up per test.

The near node CUCMA is not running; the doctor works from its directory, as
an engineer would run it. The far node CUCM10 runs in the test's event loop
with its control socket, so the doctor can read the far node's rejections.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from doctor_lab import (
    FAR,
    TRUNK,
    TRUST,
    DoctorLab,
    one,
    provision,
    reissue_far,
    running,
    trust_on_near,
    verdicts,
)

from lab_support import example_topology_on_free_ports
from tlstrunk.config.enums import TlsPolicy
from tlstrunk.config.topology import Topology
from tlstrunk.diag.doctor import DoctorUsageError, run_doctor
from tlstrunk.diag.results import StepResult, Verdict, failed, render
from tlstrunk.lab.demo import apply_breakage
from tlstrunk.lab.provision import Breakage
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.expiry import record_peer_certificate
from tlstrunk.pki.store import CertificateStore


async def doctor_with_far_running(lab: DoctorLab, *, peer: bool = False) -> list[StepResult]:
    async with running(lab.far):
        return await run_doctor(
            lab.near.root, TRUNK, peer_node_dir=lab.far.root if peer else None, timeout=5.0
        )


def run(lab: DoctorLab, *, peer: bool = False) -> list[StepResult]:
    return asyncio.run(doctor_with_far_running(lab, peer=peer))


def with_policy(topology: Topology, policy: TlsPolicy) -> Topology:
    clusters = tuple(
        dataclasses.replace(
            cluster,
            security_profiles=tuple(
                dataclasses.replace(profile, tls_policy=policy)
                for profile in cluster.security_profiles
            ),
        )
        for cluster in topology.clusters
    )
    return dataclasses.replace(topology, clusters=clusters)


def test_healthy_trunk_all_pass(tmp_path: Path) -> None:
    lab = provision(tmp_path)

    async def scenario() -> list[StepResult]:
        # a call makes the near node record the far certificate in peers.json
        async with running(lab.near, lab.far) as nodes:
            report = await nodes[0].place_call("1018", "9898", 0.0)
            assert report.state == "cleared", report.reason
        async with running(lab.far):
            return await run_doctor(lab.near.root, TRUNK)

    results = asyncio.run(scenario())
    assert {r.verdict for r in results} == {Verdict.PASS}, render(results)
    assert not failed(results)
    options = one(results, "OPTIONS")
    assert options.seen.startswith("200 OK in ")
    assert options.destination == str(lab.topology.clusters[0].trunks[0].destinations[0])
    versions = one(results, "TLS versions")
    assert "accepts: TLSv1.2, TLSv1.3" in versions.seen
    assert "TLSv1.3" in one(results, "handshake").seen
    assert "CN=CUCM10" in one(results, "names").seen
    assert "same certificate as recorded" in one(results, "record").seen
    assert "clientAuth (outgoing) and serverAuth (incoming)" in " ".join(
        r.seen for r in results if r.step == "own certificate"
    )
    steps = list(dict.fromkeys(r.step for r in results))
    assert steps == [
        "configuration",
        "own certificate",
        "address",
        "TCP connect",
        "TLS versions",
        "handshake",
        "server chain",
        "names",
        "server certificate",
        "client certificate",
        "OPTIONS",
        "record",
    ]


def test_far_node_down_fails_connect(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    results = asyncio.run(run_doctor(lab.near.root, TRUNK, timeout=2.0))
    connect = one(results, "TCP connect")
    assert connect.verdict is Verdict.FAIL
    assert "127.0.0.203" in connect.seen
    assert "start the far node" in connect.fix
    assert one(results, "handshake").verdict is Verdict.SKIP
    assert one(results, "OPTIONS").verdict is Verdict.SKIP
    assert failed(results)


def test_untrusted_far_ca_fails_chain(tmp_path: Path) -> None:
    lab = provision(tmp_path, breakage=Breakage("ca", FAR))
    results = run(lab)
    handshake = one(results, "handshake")
    assert handshake.verdict is Verdict.FAIL
    assert "not in CallManager-trust" in handshake.seen
    assert "Untrusted Demo CA" in handshake.seen
    chain = one(results, "server chain", Verdict.FAIL)
    assert "ends in the root CA CN=Untrusted Demo CA" in chain.seen
    assert "upload the root CA CN=Untrusted Demo CA as CallManager-trust" in chain.fix
    assert one(results, "names").verdict is Verdict.PASS
    assert one(results, "client certificate").verdict is Verdict.SKIP


def test_name_mismatch_names_value_to_set(tmp_path: Path) -> None:
    topology = apply_breakage(example_topology_on_free_ports(), Breakage("name", "CUCMA"))
    lab = provision(tmp_path, topology)
    results = run(lab)
    names = one(results, "names")
    assert names.verdict is Verdict.FAIL
    assert "CUCM10-WRONG" in names.seen
    assert "set the X.509 subject name of profile 'Secure SIP Trunk Profile TLS' to CUCM10" in (
        names.fix
    )
    assert Verdict.FAIL not in {r.verdict for r in results if r.step != "names"}, render(results)
    options = one(results, "OPTIONS")
    assert options.verdict is Verdict.WARN
    assert "calls on this trunk fail" in options.fix


def test_far_rejects_our_certificate(tmp_path: Path) -> None:
    lab = provision(tmp_path, breakage=Breakage("ca", "CUCMA"))
    results = run(lab, peer=True)
    client = one(results, "client certificate")
    assert client.verdict is Verdict.FAIL, render(results)
    assert "rejected this node's certificate" in client.seen
    assert "the far node rejected it: certificate chain failed" in client.seen
    assert "not in CallManager-trust" in client.seen
    assert one(results, "OPTIONS").verdict is Verdict.FAIL
    # the far end's own certificate is fine
    assert one(results, "names").verdict is Verdict.PASS
    assert {r.verdict for r in results if r.step == "server chain"} == {Verdict.PASS}


def test_expired_far_certificate(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    old_ca = CertificateAuthority.create(tmp_path / "old-ca", common_name="Old Lab CA", now=past)
    root = old_ca.export_root("pem")
    trust_on_near(lab, root)
    expired = reissue_far(lab, old_ca, trust=(root,), days=1, now=past)
    results = run(lab)
    handshake = one(results, "handshake")
    assert handshake.verdict is Verdict.FAIL
    assert "expired" in handshake.seen
    validity = [r for r in results if r.step == "server certificate" and r.verdict is Verdict.FAIL]
    assert len(validity) == 1, render(results)
    assert "expired on" in validity[0].seen
    assert str(expired.not_valid_after_utc.date()) in validity[0].seen
    assert "have a new certificate issued for the far end" in validity[0].fix


def test_missing_intermediate(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    sub_ca = CertificateAuthority.create(
        tmp_path / "sub-ca", common_name="Lab Root", intermediate_common_name="Lab Issuing CA"
    )
    intermediate = sub_ca.intermediate_certificate
    assert intermediate is not None
    root = sub_ca.export_root("pem")
    trust_on_near(lab, root)
    # The intermediate is a trust anchor at upload, so the far node stores only its leaf.
    # Once it is gone from the trust store, OpenSSL cannot add it to the chain either.
    intermediate_pem = intermediate.public_bytes(serialization.Encoding.PEM)
    reissue_far(lab, sub_ca, trust=(root, intermediate_pem))
    far_store = CertificateStore.open(lab.far.certs)
    far_store.delete_trust(TRUST, intermediate.fingerprint(hashes.SHA256()).hex())
    results = run(lab)
    chain = one(results, "server chain", Verdict.FAIL)
    assert "the server sent 1 certificate(s)" in chain.seen
    assert "issued by CN=Lab Issuing CA" in chain.seen
    assert "upload the intermediate CA as CallManager-trust" in chain.fix
    assert "have the server send it" in chain.fix
    assert one(results, "handshake").verdict is Verdict.FAIL


def test_legacy_policy_warns(tmp_path: Path) -> None:
    lab = provision(tmp_path, with_policy(example_topology_on_free_ports(), TlsPolicy.LEGACY))
    results = run(lab)
    warnings = [r for r in results if r.verdict is Verdict.WARN]
    assert [r.step for r in warnings] == ["configuration"], render(results)
    assert "legacy TLS policy" in warnings[0].seen
    assert "TLS 1.0" in warnings[0].seen
    assert "set the TLS policy of profile" in warnings[0].fix
    assert "legacy (also TLS 1.0 and 1.1" in results[0].seen
    assert not failed(results), verdicts(results)
    assert one(results, "OPTIONS").verdict is Verdict.PASS


def test_certificate_change_since_record(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    previous = lab.far_certificate()
    record_peer_certificate(lab.near.certs, TRUNK, previous)
    current = reissue_far(lab, lab.ca)
    results = run(lab)
    record = one(results, "record")
    assert record.verdict is Verdict.WARN
    assert f"serial {previous.serial_number:X} -> {current.serial_number:X}" in record.seen
    assert "renewed its certificate on purpose" in record.fix
    assert not failed(results)


def test_unknown_trunk_lists_trunks(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    with pytest.raises(DoctorUsageError, match=r"'NOPE' does not exist.*trunks are: CUCM10"):
        asyncio.run(run_doctor(lab.near.root, "NOPE"))
