"""DNS SRV destinations for SIP trunks (RFC 3263 section 4.2, RFC 2782).

A trunk destination marked as an SRV names a domain. The node looks up the SRV
records of that domain for the trunk's transport, orders them by priority and,
within one priority, by the weighted random selection of RFC 2782, and finds
each target's addresses from the additional section of the answer or from
separate A and AAAA queries.

dnspython does the DNS work. The ordering is written here because dnspython
has no public function for the RFC 2782 selection that takes an injectable
random generator, and tests need a deterministic order.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.rdtypes.IN.SRV
import dns.resolver
import dns.rrset

from tlstrunk.i18n import _

logger = logging.getLogger(__name__)

#: Environment variable with the DNS servers to use instead of the system ones.
DNS_SERVERS_ENV = "TLSTRUNK_DNS_SERVERS"

#: SRV owner-name prefixes per transport, in the order they are tried. Many call
#: managers publish ``_sip._tls`` for TLS instead of the ``_sips._tcp`` that
#: RFC 3263 specifies, so TLS falls back to it when the first name has no records.
SERVICE_PREFIXES: dict[str, tuple[str, ...]] = {
    "TLS": ("_sips._tcp", "_sip._tls"),
    "TCP": ("_sip._tcp",),
    "UDP": ("_sip._udp",),
}


@dataclass(frozen=True)
class SrvTarget:
    """One SRV record of a SIP service, with the addresses of its target host."""

    #: Target host name from the SRV record, without the final dot.
    host: str
    port: int
    priority: int
    weight: int
    #: IPv4 addresses (from A records) first, then IPv6 addresses (from AAAA records).
    addresses: tuple[str, ...]


class SrvLookupError(Exception):
    """An SRV lookup failed; the message names the query, the DNS servers and the fix."""

    def __init__(self, message: str, *, name: str, servers: str) -> None:
        super().__init__(message)
        #: The DNS name whose lookup failed.
        self.name = name
        #: The DNS servers queried, as text (``127.0.0.1:53, [::1]:53``).
        self.servers = servers


async def resolve_srv(
    domain: str,
    transport: str,
    *,
    nameservers: Sequence[tuple[str, int]] | None = None,
    timeout: float = 2.0,
    rng: random.Random | None = None,
) -> list[SrvTarget]:
    """Look up the SIP servers of ``domain`` for ``transport`` and return them in the order to try.

    Args:
        domain: the domain name of the trunk destination.
        transport: "TLS", "TCP" or "UDP".
        nameservers: (address, port) pairs to ask instead of the system's DNS servers.
        timeout: seconds each DNS query may take, retries included. One call makes up to
            two SRV queries, then A and AAAA queries in parallel, so it may take about
            three times this long.
        rng: random generator for the weighted selection; a fresh one when None.

    Raises:
        ValueError: ``domain`` is not a valid domain name or ``transport`` is unknown.
        SrvLookupError: the lookup failed or found no usable target.
    """
    prefixes = _service_prefixes(transport)
    origin = _domain_name(domain)
    resolver = _make_resolver(nameservers, timeout)
    lookup = _Lookup(resolver, timeout)

    response = None
    queried: list[str] = []
    for prefix in prefixes:
        name = _service_name(prefix, origin, domain)
        queried.append(name.to_text(True))
        response = await lookup.srv_response(name)
        if response is not None:
            break
    if response is None:
        raise lookup.error(
            _(
                "DNS has no SRV records for {names} (queried {servers}). Publish an SRV "
                "record for the trunk's {transport} service, or enter the far end's "
                "address and port and clear 'Destination Address is an SRV'."
            ).format(names=_(" or ").join(queried), servers=lookup.servers, transport=transport),
            queried[-1],
        )

    records = _srv_records(response, queried[-1], lookup)
    ordered = order_srv_records(records, rng or random.Random())
    targets = await asyncio.gather(*(lookup.target(record, response) for record in ordered))
    usable = [target for target in targets if target.addresses]
    if not usable:
        raise lookup.error(
            _(
                "The SRV targets of {name} ({targets}) have no A or AAAA records (queried "
                "{servers}). Add an address record for each target host."
            ).format(
                name=queried[-1],
                targets=", ".join(target.host for target in targets),
                servers=lookup.servers,
            ),
            queried[-1],
        )
    return usable


def order_srv_records(
    records: Sequence[dns.rdtypes.IN.SRV.SRV], rng: random.Random
) -> list[dns.rdtypes.IN.SRV.SRV]:
    """Order SRV records by priority, and within a priority by RFC 2782 weighted selection.

    Within one priority, records are picked one at a time. Each pick draws a
    number from 0 to the sum of the remaining weights, inclusive, and takes the
    first record whose running sum of weights reaches it. Records of weight 0
    come first in that list, so they are picked only when the draw is 0.
    """
    ordered: list[dns.rdtypes.IN.SRV.SRV] = []
    for priority in sorted({record.priority for record in records}):
        # sorting first makes the order depend on the rng alone, not on the response order
        remaining = sorted(
            (record for record in records if record.priority == priority),
            key=lambda record: (record.weight != 0, record.target.to_text(), record.port),
        )
        while remaining:
            draw = rng.randint(0, sum(record.weight for record in remaining))
            running = 0
            for index, record in enumerate(remaining):
                running += record.weight
                if running >= draw:
                    ordered.append(remaining.pop(index))
                    break
    return ordered


def nameservers_from_env() -> list[tuple[str, int]] | None:
    """Read the DNS servers from TLSTRUNK_DNS_SERVERS, or return None when it is unset or empty.

    The value is a comma-separated list of ``address`` or ``address:port``, with
    IPv6 addresses in brackets when a port follows (``127.0.0.1:5353,[::1]:5353``).
    The port defaults to 53.

    Raises:
        ValueError: an entry is not an IP address with an optional port from 1 to 65535.
    """
    value = os.environ.get(DNS_SERVERS_ENV, "").strip()
    if not value:
        return None
    return [_parse_nameserver(entry.strip(), value) for entry in value.split(",")]


def _parse_nameserver(entry: str, value: str) -> tuple[str, int]:
    host, port_text = entry, "53"
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            host = ""
        port_text = rest[1:] if rest else "53"
    elif entry.count(":") == 1:
        host, _colon, port_text = entry.partition(":")
    try:
        address = str(ipaddress.ip_address(host))
        port = int(port_text)
    except ValueError:
        address, port = "", 0
    if not 1 <= port <= 65535:
        raise ValueError(
            _(
                "{variable}={value!r} is invalid: the entry {entry!r} is not an IP address "
                "with an optional port from 1 to 65535. Use a comma-separated list such as "
                "'127.0.0.1:5353,[::1]:5353', or unset {variable} to use the system's DNS servers."
            ).format(variable=DNS_SERVERS_ENV, value=value, entry=entry)
        )
    return address, port


def _service_prefixes(transport: str) -> tuple[str, ...]:
    try:
        return SERVICE_PREFIXES[transport.upper()]
    except KeyError:
        raise ValueError(
            _("Transport {transport!r} has no SIP SRV service. Use TLS, TCP or UDP.").format(
                transport=transport
            )
        ) from None


def _domain_name(domain: str) -> dns.name.Name:
    text = domain.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise ValueError(
            _(
                "The SRV destination {domain!r} is an IP address, not a domain name. Enter the "
                "domain whose SRV records list the far end, or clear 'Destination Address is "
                "an SRV' to connect to the address directly."
            ).format(domain=domain)
        )
    try:
        name = dns.name.from_text(text)
    except dns.exception.DNSException as error:
        raise ValueError(
            _("The SRV destination {domain!r} is not a valid domain name: {error}.").format(
                domain=domain, error=error
            )
        ) from None
    if len(name) < 2:
        raise ValueError(
            _("The SRV destination {domain!r} is empty. Enter a domain name.").format(domain=domain)
        )
    return name


def _service_name(prefix: str, origin: dns.name.Name, domain: str) -> dns.name.Name:
    try:
        return dns.name.from_text(prefix, origin=None).concatenate(origin)
    except dns.name.NameTooLong:
        raise ValueError(
            _(
                "The SRV destination {domain!r} is too long: with {prefix} in front it "
                "exceeds the 255 octets DNS allows. Enter a shorter domain name."
            ).format(domain=domain, prefix=prefix)
        ) from None


def _make_resolver(
    nameservers: Sequence[tuple[str, int]] | None, timeout: float
) -> dns.asyncresolver.Resolver:
    if nameservers is None:
        try:
            resolver = dns.asyncresolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration:
            raise SrvLookupError(
                _(
                    "No DNS server is configured on this host, so SRV destinations cannot be "
                    "looked up. Configure one in /etc/resolv.conf or set {variable}."
                ).format(variable=DNS_SERVERS_ENV),
                name="",
                servers="",
            ) from None
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port) for address, port in nameservers
        ]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def _server_text(server: str | dns.nameserver.Nameserver) -> str:
    if isinstance(server, dns.nameserver.Do53Nameserver):
        address, port = server.address, server.port
        return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return str(server)


def _srv_records(
    response: dns.message.Message, name: str, lookup: _Lookup
) -> list[dns.rdtypes.IN.SRV.SRV]:
    records = [
        record for rrset in response.answer if rrset.rdtype == dns.rdatatype.SRV for record in rrset
    ]
    offered = [record for record in records if record.target != dns.name.root]
    if not offered:
        # RFC 2782: a lone "." target means the service is decidedly not available
        raise lookup.error(
            _(
                "The SRV record of {name} has the target '.', which means the domain does "
                "not offer this SIP service (queried {servers}). Pick the transport the far "
                "end offers, or ask its DNS administrator to publish a real target."
            ).format(name=name, servers=lookup.servers),
            name,
        )
    if len(offered) < len(records):
        logger.warning("SRV records of %s mix '.' with real targets; ignoring '.'", name)
    return offered


class _Lookup:
    """The DNS queries of one resolve_srv call, with failures turned into SrvLookupError."""

    def __init__(self, resolver: dns.asyncresolver.Resolver, timeout: float) -> None:
        self.resolver = resolver
        self.timeout = timeout
        self.servers = ", ".join(_server_text(server) for server in resolver.nameservers)

    def error(self, message: str, name: str) -> SrvLookupError:
        return SrvLookupError(message, name=name, servers=self.servers)

    async def srv_response(self, name: dns.name.Name) -> dns.message.Message | None:
        """Return the SRV response for ``name``, or None when the name has no SRV records."""
        answer = await self._query(name, dns.rdatatype.SRV)
        if answer is None or answer.rrset is None:
            logger.debug("no SRV records at %s", name)
            return None
        return answer.response

    async def target(
        self, record: dns.rdtypes.IN.SRV.SRV, response: dns.message.Message
    ) -> SrvTarget:
        """Find the addresses of one SRV target, from ``response`` or by A and AAAA queries."""
        host = record.target.to_text(True)
        addresses = _additional_addresses(response, record.target)
        if not addresses:
            ipv4, ipv6 = await asyncio.gather(
                self._query(record.target, dns.rdatatype.A),
                self._query(record.target, dns.rdatatype.AAAA),
            )
            addresses = [
                str(rd) for answer in (ipv4, ipv6) if answer and answer.rrset for rd in answer.rrset
            ]
        if not addresses:
            logger.warning("SRV target %s has no A or AAAA records; skipping it", host)
        return SrvTarget(host, record.port, record.priority, record.weight, tuple(addresses))

    async def _query(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.resolver.Answer | None:
        """Run one query; return None for NXDOMAIN or no data, raise SrvLookupError otherwise."""
        kind = dns.rdatatype.to_text(rdtype)
        text = name.to_text(True)
        try:
            return await self.resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except dns.resolver.LifetimeTimeout:
            message = _(
                "The {kind} query for {name} timed out after {seconds} s (queried {servers}). "
                "Check that the DNS server is reachable from this node and answers, or set "
                "{variable} to one that does."
            )
        except dns.resolver.NoNameservers as error:
            logger.warning("%s query for %s failed: %s", kind, text, error)
            message = _(
                "The DNS servers ({servers}) failed to answer the {kind} query for {name}, "
                "for example with SERVFAIL or REFUSED. Check the DNS server's logs and "
                "whether it serves or forwards this domain."
            )
        raise self.error(
            message.format(
                kind=kind,
                name=text,
                seconds=self.timeout,
                servers=self.servers,
                variable=DNS_SERVERS_ENV,
            ),
            text,
        )


def _additional_addresses(response: dns.message.Message, target: dns.name.Name) -> list[str]:
    addresses: list[str] = []
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        for rrset in response.additional:
            if rrset.name == target and rrset.rdtype == rdtype:
                addresses.extend(str(rd) for rd in rrset)
    return addresses
