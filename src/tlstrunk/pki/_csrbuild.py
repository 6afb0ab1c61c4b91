"""CSR subject and subject-alternative-name building, with the distribution rules.

A CSR is for "this-node" (the default: the certificate names one node) or
"multi-server": one certificate, with one key, that every node of the cluster
presents. A multi-server CSR carries every node name in its SAN DNS names, so
a peer's X.509 subject-name setting may name any node of the cluster. The key
then travels to the other nodes in a PKCS#12 file (``export_pkcs12`` on the
node that made the CSR, ``import_pkcs12`` on the others).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from tlstrunk.i18n import _

DISTRIBUTIONS = ("this-node", "multi-server")
# letters, digits, hyphens, underscores and dots; a leading "*." for wildcards
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_NAME = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*\.?$")


def distribution_dns_names(
    distribution: str, common_name: str, dns_names: Sequence[str], cluster_nodes: Sequence[str]
) -> list[str]:
    """Return the SAN DNS names of a CSR for ``distribution``, without duplicates.

    For "multi-server" these are every cluster node name and then ``dns_names``;
    for "this-node" they are ``dns_names``.

    Raises:
        ValueError: the distribution is unknown, a multi-server CSR names no
            node, a this-node CSR names cluster nodes, or a name is invalid.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            _("Unknown distribution {value!r}; use 'this-node' or 'multi-server'.").format(
                value=distribution
            )
        )
    nodes = [name.strip() for name in cluster_nodes if name.strip()]
    if distribution == "multi-server" and not nodes:
        raise ValueError(
            _(
                "A multi-server CSR needs the name of every node of the cluster; give each "
                "with --node (for example --node {cn})."
            ).format(cn=common_name)
        )
    if distribution == "this-node" and nodes:
        raise ValueError(
            _(
                "Cluster node names were given for a this-node CSR; choose the multi-server "
                "distribution to put every node in one certificate."
            )
        )
    names: list[str] = []
    seen: set[str] = set()
    for name in [*nodes, *dns_names]:
        name = name.strip()
        if not name or name.casefold() in seen:
            continue
        if _DNS_NAME.match(name) is None:
            raise ValueError(
                _(
                    "Invalid DNS name {value!r} for the subject alternative names; use a host "
                    "name such as cucm10 or cucm10.example.com."
                ).format(value=name)
            )
        seen.add(name.casefold())
        names.append(name)
    return names


def subject_name(
    common_name: str,
    organization: str | None,
    organizational_unit: str | None,
    locality: str | None,
    state: str | None,
    country: str | None,
) -> x509.Name:
    """Build the CSR subject, most significant attribute first, from the non-empty parts.

    Raises:
        ValueError: the common name is empty or the country is not two letters.
    """
    if not common_name.strip():
        raise ValueError(_("The common name is empty; use the node's host name, such as CUCM10."))
    if country is not None and len(country) != 2:
        raise ValueError(
            _("Invalid country {value!r}; use a two-letter code such as IN.").format(value=country)
        )
    # most significant first, so the OpenSSL form reads /C=../ST=../L=../O=../OU=../CN=..
    parts = [
        (NameOID.COUNTRY_NAME, country),
        (NameOID.STATE_OR_PROVINCE_NAME, state),
        (NameOID.LOCALITY_NAME, locality),
        (NameOID.ORGANIZATION_NAME, organization),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
        (NameOID.COMMON_NAME, common_name.strip()),
    ]
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts if value])


def alt_names(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> list[x509.GeneralName]:
    """Build SAN entries from DNS names and IP address texts.

    Raises:
        ValueError: an IP address is invalid.
    """
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names if name]
    for text in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            raise ValueError(
                _("Invalid IP address {value!r} for the subject alternative names.").format(
                    value=text
                )
            ) from None
    return names
