"""SRV destinations resolved against a real DNS server on loopback."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.IN.SRV
import pytest

from dns_support import LoopbackDnsServer, Zone
from tlstrunk.transport.srv import (
    SrvLookupError,
    SrvTarget,
    nameservers_from_env,
    order_srv_records,
    resolve_srv,
)

DNS_HOST = "127.0.5.1"


def resolve(
    dns_server: LoopbackDnsServer,
    domain: str = "example.test",
    transport: str = "TLS",
    *,
    seed: int = 1,
    timeout: float = 2.0,
) -> list[SrvTarget]:
    return asyncio.run(
        resolve_srv(
            domain,
            transport,
            nameservers=[dns_server.address],
            timeout=timeout,
            rng=random.Random(seed),
        )
    )


def srv(priority: int, weight: int, port: int, target: str) -> dns.rdtypes.IN.SRV.SRV:
    record = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.SRV, f"{priority} {weight} {port} {target}"
    )
    assert isinstance(record, dns.rdtypes.IN.SRV.SRV)
    return record


TWO_PRIORITIES: Zone = {
    "_sips._tcp.example.test": [
        ("SRV", "20 0 5061 backup.example.test."),
        ("SRV", "10 60 5061 a.example.test."),
        ("SRV", "10 40 5062 b.example.test."),
    ],
    "a.example.test": [("A", "127.0.5.2")],
    "b.example.test": [("A", "127.0.5.3")],
    "backup.example.test": [("A", "127.0.5.4")],
}


# ordering


def test_priority_orders_targets() -> None:
    with LoopbackDnsServer(TWO_PRIORITIES, DNS_HOST) as server:
        for seed in range(20):
            targets = resolve(server, seed=seed)
            assert [t.priority for t in targets] == [10, 10, 20]
            assert targets[-1] == SrvTarget("backup.example.test", 5061, 20, 0, ("127.0.5.4",))


def test_weighted_order_follows_seeded_rng() -> None:
    with LoopbackDnsServer(TWO_PRIORITIES, DNS_HOST) as server:
        first = resolve(server, seed=7)
        again = resolve(server, seed=7)
    assert first == again
    assert {t.host for t in first[:2]} == {"a.example.test", "b.example.test"}


def test_weighted_order_matches_rfc2782_draw() -> None:
    # with remaining weights 0, 40 and 60 (sorted: zero first, then by name), a
    # draw of 0 picks the weight-0 record, 1..40 picks b and 41..100 picks a
    records = [srv(1, 60, 5061, "a."), srv(1, 0, 5061, "z."), srv(1, 40, 5061, "b.")]
    draws = iter([50, 0, 0])

    class ScriptedRandom(random.Random):
        def randint(self, a: int, b: int) -> int:
            return next(draws)

    ordered = order_srv_records(records, ScriptedRandom())
    assert [r.target.to_text() for r in ordered] == ["a.", "z.", "b."]


def test_weighted_order_frequencies() -> None:
    records = [srv(1, 60, 5061, "a."), srv(1, 30, 5061, "b."), srv(1, 10, 5061, "c.")]
    rng = random.Random(20240601)
    firsts = Counter(order_srv_records(records, rng)[0].target.to_text() for _ in range(5000))
    # draws run 0..100 and a draw of 0 also picks a, so the expected first-pick
    # shares are 61/101, 30/101 and 10/101; each band is six standard deviations
    # wide on either side for 5000 orderings
    assert 2813 <= firsts["a."] <= 3227
    assert 1292 <= firsts["b."] <= 1678
    assert 368 <= firsts["c."] <= 622


def test_zero_weights_all_appear() -> None:
    records = [srv(1, 0, 5061, "a."), srv(1, 0, 5061, "b."), srv(2, 5, 5061, "c.")]
    ordered = order_srv_records(records, random.Random(3))
    assert [r.target.to_text() for r in ordered] == ["a.", "b.", "c."]


# addresses


def test_additional_section_skips_address_queries() -> None:
    with LoopbackDnsServer(TWO_PRIORITIES, DNS_HOST, additional=True) as server:
        targets = resolve(server)
        queries = list(server.queries)
    assert all(t.addresses for t in targets)
    assert queries == [("_sips._tcp.example.test", "SRV")]


def test_address_queries_without_additional_section() -> None:
    with LoopbackDnsServer(TWO_PRIORITIES, DNS_HOST, additional=False) as server:
        targets = resolve(server)
        queries = set(server.queries)
    assert {t.host: t.addresses for t in targets} == {
        "a.example.test": ("127.0.5.2",),
        "b.example.test": ("127.0.5.3",),
        "backup.example.test": ("127.0.5.4",),
    }
    assert ("a.example.test", "A") in queries
    assert ("a.example.test", "AAAA") in queries
    assert ("backup.example.test", "AAAA") in queries


@pytest.mark.parametrize("additional", [True, False])
def test_ipv6_target_addresses(additional: bool) -> None:
    zone: Zone = {
        "_sip._tcp.example.test": [("SRV", "10 0 5060 v6.example.test.")],
        "v6.example.test": [("AAAA", "::1"), ("A", "127.0.5.5")],
    }
    with LoopbackDnsServer(zone, DNS_HOST, additional=additional) as server:
        targets = resolve(server, transport="TCP")
    assert targets == [SrvTarget("v6.example.test", 5060, 10, 0, ("127.0.5.5", "::1"))]


def test_target_without_address_is_skipped() -> None:
    zone: Zone = {
        "_sip._udp.example.test": [
            ("SRV", "10 0 5060 gone.example.test."),
            ("SRV", "20 0 5060 b.example.test."),
        ],
        "b.example.test": [("A", "127.0.5.3")],
    }
    with LoopbackDnsServer(zone, DNS_HOST) as server:
        targets = resolve(server, transport="udp")
    assert [t.host for t in targets] == ["b.example.test"]


def test_no_target_with_address_fails() -> None:
    zone: Zone = {
        "_sips._tcp.example.test": [("SRV", "10 0 5061 gone.example.test.")],
        "gone.example.test": [("TXT", '"no address here"')],
    }
    with LoopbackDnsServer(zone, DNS_HOST) as server, pytest.raises(SrvLookupError) as caught:
        resolve(server)
    message = str(caught.value)
    assert "gone.example.test" in message
    assert "no A or AAAA records" in message
    assert f"{server.address[0]}:{server.address[1]}" in message


# service names


def test_tls_falls_back_to_sip_tls() -> None:
    zone: Zone = {
        "_sip._tls.example.test": [("SRV", "10 0 5061 a.example.test.")],
        "a.example.test": [("A", "127.0.5.2")],
    }
    with LoopbackDnsServer(zone, DNS_HOST) as server:
        targets = resolve(server)
        queries = list(server.queries)
    assert targets == [SrvTarget("a.example.test", 5061, 10, 0, ("127.0.5.2",))]
    assert queries == [("_sips._tcp.example.test", "SRV"), ("_sip._tls.example.test", "SRV")]


def test_sips_tcp_preferred_over_sip_tls() -> None:
    zone: Zone = {
        "_sips._tcp.example.test": [("SRV", "10 0 5061 a.example.test.")],
        "_sip._tls.example.test": [("SRV", "10 0 5061 b.example.test.")],
        "a.example.test": [("A", "127.0.5.2")],
        "b.example.test": [("A", "127.0.5.3")],
    }
    with LoopbackDnsServer(zone, DNS_HOST) as server:
        targets = resolve(server)
    assert [t.host for t in targets] == ["a.example.test"]


@pytest.mark.parametrize(
    ("transport", "owner"), [("TCP", "_sip._tcp.example.test"), ("UDP", "_sip._udp.example.test")]
)
def test_transport_selects_service(transport: str, owner: str) -> None:
    with LoopbackDnsServer({}, DNS_HOST) as server, pytest.raises(SrvLookupError):
        resolve(server, transport=transport)
    assert server.queries == [(owner, "SRV")]


# failures


def test_nxdomain_names_both_tls_services() -> None:
    with LoopbackDnsServer({}, DNS_HOST) as server, pytest.raises(SrvLookupError) as caught:
        resolve(server, "missing.test")
    message = str(caught.value)
    assert "_sips._tcp.missing.test or _sip._tls.missing.test" in message
    assert f"queried {server.address[0]}:{server.address[1]}" in message
    assert "Destination Address is an SRV" in message
    assert caught.value.name == "_sip._tls.missing.test"


def test_name_without_srv_records_fails() -> None:
    zone: Zone = {"_sip._tcp.example.test": [("TXT", '"not an SRV"')]}
    with LoopbackDnsServer(zone, DNS_HOST) as server, pytest.raises(SrvLookupError) as caught:
        resolve(server, transport="TCP")
    assert "no SRV records for _sip._tcp.example.test" in str(caught.value)


def test_dot_target_means_not_offered() -> None:
    zone: Zone = {"_sips._tcp.example.test": [("SRV", "0 0 0 .")]}
    with LoopbackDnsServer(zone, DNS_HOST) as server, pytest.raises(SrvLookupError) as caught:
        resolve(server)
    message = str(caught.value)
    assert "target '.'" in message
    assert "does not offer this SIP service" in message
    assert server.queries == [("_sips._tcp.example.test", "SRV")]


def test_dropping_server_times_out() -> None:
    with LoopbackDnsServer(TWO_PRIORITIES, DNS_HOST) as server:
        server.drop = True
        with pytest.raises(SrvLookupError) as caught:
            resolve(server, timeout=0.3)
    message = str(caught.value)
    assert "SRV query for _sips._tcp.example.test timed out after 0.3 s" in message
    assert server.queries[0] == ("_sips._tcp.example.test", "SRV")


@pytest.mark.parametrize(
    ("domain", "transport", "fragment"),
    [
        ("127.0.0.200", "TLS", "is an IP address"),
        ("", "TLS", "is empty"),
        ("a..b", "TLS", "not a valid domain name"),
        ("example.test", "SCTP", "'SCTP' has no SIP SRV service"),
    ],
)
def test_invalid_input_rejected(domain: str, transport: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        asyncio.run(resolve_srv(domain, transport, nameservers=[(DNS_HOST, 9)]))


# the test server itself


def test_loopback_server_answers_over_tcp() -> None:
    with LoopbackDnsServer(TWO_PRIORITIES, DNS_HOST) as server:
        query = dns.message.make_query("a.example.test", "A")
        response = dns.query.tcp(query, server.address[0], port=server.address[1], timeout=2)
    assert response.rcode() == dns.rcode.NOERROR
    assert [str(rd) for rd in response.answer[0]] == ["127.0.5.2"]


# environment


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:5353,[::1]:5353", [("127.0.0.1", 5353), ("::1", 5353)]),
        ("127.0.5.1", [("127.0.5.1", 53)]),
        ("::1", [("::1", 53)]),
        ("[::1]", [("::1", 53)]),
        (" 127.0.5.1:54 , 127.0.5.2 ", [("127.0.5.1", 54), ("127.0.5.2", 53)]),
        ("", None),
    ],
)
def test_env_nameservers_parsed(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[tuple[str, int]] | None
) -> None:
    monkeypatch.setenv("TLSTRUNK_DNS_SERVERS", value)
    assert nameservers_from_env() == expected


def test_env_unset_returns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TLSTRUNK_DNS_SERVERS", raising=False)
    assert nameservers_from_env() is None


@pytest.mark.parametrize(
    "value",
    [
        "dns.example:53",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:x",
        "[::1",
        "[::1]5353",
        "1,,2",
    ],
)
def test_env_malformed_rejected(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TLSTRUNK_DNS_SERVERS", value)
    with pytest.raises(ValueError) as caught:
        nameservers_from_env()
    assert "TLSTRUNK_DNS_SERVERS" in str(caught.value)
    assert repr(value) in str(caught.value)
