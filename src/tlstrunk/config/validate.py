"""Checks of single configuration values, before they reach the database.

Checks that need other rows (duplicate names, references, port conflicts) live
in the store; these need only the value itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from tlstrunk.callcontrol.digits import PatternError, compile_pattern
from tlstrunk.callcontrol.digits.transform import check_mask, check_prefix_digits
from tlstrunk.config.enums import DeviceSecurityMode, DiscardDigits, IncomingTransport, Transport
from tlstrunk.config.errors import ConfigError
from tlstrunk.config.orm import NAME_LENGTH
from tlstrunk.config.values import (
    Destination,
    DirectoryNumberConfig,
    NodeConfig,
    PhoneConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.i18n import _

MAX_DESTINATIONS = 16
#: Seconds; shorter intervals load the far end, longer ones notice a dead peer too late.
MIN_OPTIONS_PING_INTERVAL = 5
MAX_OPTIONS_PING_INTERVAL = 3600
#: Seconds a directory number's phones may ring before the call fails with 480.
MIN_NO_ANSWER_TIMEOUT = 1
MAX_NO_ANSWER_TIMEOUT = 300
#: Minimum digest password length. A leaked HA1 lets an attacker test passwords offline,
#: and short ones fall first.
MIN_PASSWORD_LENGTH = 8
REALM_LENGTH = 255
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_name(kind: str, name: str) -> None:
    """Reject an empty, padded or over-long name of a ``kind`` ("trunk", "partition"…)."""
    if not name.strip():
        raise ConfigError(_("The {kind} name is empty; enter a name.").format(kind=kind))
    if name != name.strip():
        raise ConfigError(
            _("The {kind} name {name!r} starts or ends with spaces; remove them.").format(
                kind=kind, name=name
            )
        )
    if len(name) > NAME_LENGTH:
        raise ConfigError(
            _("The {kind} name {name!r} has {length} characters; use at most {limit}.").format(
                kind=kind, name=name, length=len(name), limit=NAME_LENGTH
            )
        )


def check_port(port: int, what: str) -> None:
    """Reject a TCP/UDP port outside 1..65535; ``what`` names the setting in the message."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(
            _("{what} {port} is not a valid port; use a number from 1 to 65535.").format(
                what=what, port=port
            )
        )


def check_security_profile(profile: SecurityProfileConfig) -> None:
    """Check a profile on its own: transports, mode, X.509 names, port, nonce time."""
    check_name(_("security profile"), profile.name)
    name = profile.name
    check_port(profile.incoming_port, _("The incoming port of profile {name!r}").format(name=name))
    mode = profile.device_security_mode
    if mode.requires_tls and (
        profile.incoming_transport is not IncomingTransport.TLS
        or profile.outgoing_transport is not Transport.TLS
    ):
        raise ConfigError(
            _(
                "Profile {name!r} has device security mode {mode}, which needs TLS, but its "
                "transports are {incoming} in and {outgoing} out; set both to TLS or choose "
                "Non Secure."
            ).format(
                name=name,
                mode=mode.value,
                incoming=profile.incoming_transport.value,
                outgoing=profile.outgoing_transport.value,
            )
        )
    if mode is DeviceSecurityMode.NON_SECURE and profile.uses_tls:
        raise ConfigError(
            _(
                "Profile {name!r} uses TLS but its device security mode is Non Secure; "
                "choose Authenticated or Encrypted, or use TCP or UDP."
            ).format(name=name)
        )
    _check_subject_names(profile)
    if profile.nonce_validity_time < 1:
        raise ConfigError(
            _(
                "The nonce validity time {minutes} of profile {name!r} is not positive; "
                "enter minutes, for example 600."
            ).format(minutes=profile.nonce_validity_time, name=name)
        )


def _check_subject_names(profile: SecurityProfileConfig) -> None:
    names = profile.x509_subject_names
    if profile.incoming_transport is IncomingTransport.TLS and not names:
        raise ConfigError(
            _(
                "Profile {name!r} accepts TLS but has no X.509 subject name; enter the "
                "peer certificate's common name (for example CUCM10), or several names "
                "separated by spaces, commas or semicolons."
            ).format(name=profile.name)
        )
    for peer in names:
        if not all(char.isprintable() for char in peer):
            raise ConfigError(
                _(
                    "The X.509 subject name {peer!r} of profile {name!r} contains a control "
                    "character; enter a certificate name."
                ).format(peer=peer, name=profile.name)
            )


def check_destination(destination: Destination, trunk: str, *, srv: bool = False) -> None:
    """Check that a destination has an IP address or host name and a valid port.

    With ``srv`` the address must be a domain name for a DNS SRV lookup, and
    port 0 means "take the port from the SRV record".
    """
    if srv:
        _check_srv_destination(destination, trunk)
        return
    if not is_host(destination.address):
        raise ConfigError(
            _(
                "Destination address {address!r} of trunk {trunk!r} is neither an IP address "
                "nor a host name; enter one such as 127.0.0.200 or cucm10.example.com."
            ).format(address=destination.address, trunk=trunk)
        )
    check_port(
        destination.port,
        _("The destination port of trunk {trunk!r}").format(trunk=trunk),
    )


def _check_srv_destination(destination: Destination, trunk: str) -> None:
    if is_ip_address(destination.address) or not is_host(destination.address):
        raise ConfigError(
            _(
                "Destination address {address!r} of trunk {trunk!r} is not a domain name, "
                "but the trunk looks its destinations up by DNS SRV; enter a domain such as "
                "cucm10.example.com, or turn SRV off to use IP addresses."
            ).format(address=destination.address, trunk=trunk)
        )
    port = destination.port
    if port != 0:
        check_port(port, _("The destination port of trunk {trunk!r}").format(trunk=trunk))


def is_ip_address(address: str) -> bool:
    """Return whether ``address`` is an IPv4 or IPv6 address (brackets allowed)."""
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return True


def is_host(address: str) -> bool:
    """Return whether ``address`` is an IPv4/IPv6 address or an RFC 1123 host name."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        return True
    host = address.removesuffix(".")
    if not host or len(host) > 253 or host.replace(".", "").isdigit():
        return False
    return all(_HOST_LABEL.match(label) for label in host.split("."))


def check_trunk(trunk: TrunkSpec) -> None:
    """Check a trunk on its own: name, 1 to 16 valid destinations, OPTIONS ping."""
    check_name(_("trunk"), trunk.name)
    count = len(trunk.destinations)
    if not 1 <= count <= MAX_DESTINATIONS:
        raise ConfigError(
            _(
                "Trunk {trunk!r} has {count} destinations; give from 1 to {limit} "
                "address and port pairs."
            ).format(trunk=trunk.name, count=count, limit=MAX_DESTINATIONS)
        )
    for destination in trunk.destinations:
        check_destination(destination, trunk.name, srv=trunk.destination_is_srv)
    check_options_ping(trunk)
    for user in (trunk.inbound_digest_user, trunk.outbound_digest_user):
        if user is not None:
            check_digest_user_name(user)


def check_options_ping(trunk: TrunkSpec) -> None:
    """Check the OPTIONS ping switch and an interval of 5 to 3600 seconds."""
    if not isinstance(trunk.options_ping, bool):
        raise ConfigError(
            _(
                "The OPTIONS ping setting {value!r} of trunk {trunk!r} is not on or off; "
                "use true or false."
            ).format(value=trunk.options_ping, trunk=trunk.name)
        )
    interval = trunk.options_ping_interval
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int)
        or not MIN_OPTIONS_PING_INTERVAL <= interval <= MAX_OPTIONS_PING_INTERVAL
    ):
        raise ConfigError(
            _(
                "The OPTIONS ping interval {interval!r} of trunk {trunk!r} is not valid; "
                "use a whole number of seconds from {low} to {high}, for example 60."
            ).format(
                interval=interval,
                trunk=trunk.name,
                low=MIN_OPTIONS_PING_INTERVAL,
                high=MAX_OPTIONS_PING_INTERVAL,
            )
        )


def check_pattern(text: str, what: str) -> None:
    """Compile ``text`` as a pattern; ``what`` ("route pattern", "directory number") labels it."""
    if len(text) > NAME_LENGTH:
        raise ConfigError(
            _("The {what} {text!r} is longer than {limit} characters; shorten it.").format(
                what=what, text=text, limit=NAME_LENGTH
            )
        )
    try:
        compile_pattern(text)
    except PatternError as error:
        raise ConfigError(str(error)) from error


def check_route_pattern(route: RoutePatternConfig) -> None:
    """Check a route pattern on its own: syntax, one target, called-party settings."""
    check_pattern(route.pattern, _("route pattern"))
    if (route.trunk is None) == (route.route_list is None):
        if route.trunk is None:
            message = _("Route pattern {pattern} has no target; give it a trunk or a route list.")
        else:
            message = _(
                "Route pattern {pattern} names both trunk {trunk!r} and route list {route_list!r}; "
                "give it one of them."
            )
        raise ConfigError(
            message.format(pattern=route.pattern, trunk=route.trunk, route_list=route.route_list)
        )
    if route.discard_digits is DiscardDigits.PRE_DOT and "." not in route.pattern:
        raise ConfigError(
            _(
                "Route pattern {pattern} discards the digits before the dot (PreDot) but has no "
                "'.'; add a '.' after the access code, as in 9.1XXX, or discard None."
            ).format(pattern=route.pattern)
        )
    for text, what in (
        (route.prefix_digits, _("prefix digits")),
        (route.called_party_mask, _("called party mask")),
    ):
        if len(text) > NAME_LENGTH:
            raise ConfigError(
                _("The {what} {text!r} have {length} characters; use at most {limit}.").format(
                    what=what, text=text, length=len(text), limit=NAME_LENGTH
                )
            )
    try:
        check_prefix_digits(route.prefix_digits)
        check_mask(route.called_party_mask)
    except ValueError as error:
        raise ConfigError(str(error)) from error


def check_route_group(group: RouteGroupConfig) -> None:
    """Check a route group on its own: name and at least one trunk, each listed once."""
    check_name(_("route group"), group.name)
    if not group.trunks:
        raise ConfigError(
            _("Route group {name!r} has no trunk; list at least one trunk in it.").format(
                name=group.name
            )
        )
    repeated = _repeated(group.trunks)
    if repeated:
        raise ConfigError(
            _(
                "Route group {name!r} lists trunk {trunks} more than once; list each trunk once."
            ).format(name=group.name, trunks=repeated)
        )


def check_route_list(route_list: RouteListConfig) -> None:
    """Check a route list on its own: name and at least one route group, each listed once."""
    check_name(_("route list"), route_list.name)
    if not route_list.route_groups:
        raise ConfigError(
            _("Route list {name!r} has no route group; list at least one route group.").format(
                name=route_list.name
            )
        )
    repeated = _repeated(route_list.route_groups)
    if repeated:
        raise ConfigError(
            _(
                "Route list {name!r} lists route group {groups} more than once; list each "
                "route group once."
            ).format(name=route_list.name, groups=repeated)
        )


def _repeated(names: Sequence[str]) -> str:
    return ", ".join(sorted({name for name in names if list(names).count(name) > 1}))


_DIRECTORY_NUMBER = re.compile(r"^(\\\+)?[0-9*#]+$")


def check_directory_number(number: str) -> None:
    """Check that a directory number is a concrete dialable string."""
    if not _DIRECTORY_NUMBER.match(number) or len(number) > NAME_LENGTH:
        raise ConfigError(
            _(
                "Directory number {number!r} is not valid; use up to {limit} digits, * or #, "
                "optionally after \\+ for an E.164 number, and no wildcards."
            ).format(number=number, limit=NAME_LENGTH)
        )


def check_no_answer_timeout(number: DirectoryNumberConfig) -> None:
    """Check that a directory number rings for 1 to 300 whole seconds."""
    timeout = number.no_answer_timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int)
        or not MIN_NO_ANSWER_TIMEOUT <= timeout <= MAX_NO_ANSWER_TIMEOUT
    ):
        raise ConfigError(
            _(
                "The no-answer timeout {timeout!r} of directory number {number} is not valid; "
                "use a whole number of seconds from {low} to {high}, for example 12."
            ).format(
                timeout=timeout,
                number=number.number,
                low=MIN_NO_ANSWER_TIMEOUT,
                high=MAX_NO_ANSWER_TIMEOUT,
            )
        )


def _check_quotable(kind: str, text: str) -> None:
    # digest parameters travel as quoted strings, and HA1 joins its inputs with ':'
    if any(char in '"\\:' or not char.isprintable() for char in text):
        raise ConfigError(
            _(
                "The {kind} {text!r} contains a quote, backslash, colon or control "
                "character; use letters, digits and punctuation such as . - _ @."
            ).format(kind=kind, text=text)
        )


def check_digest_user_name(name: str) -> None:
    """Check a digest user name: a plain name that fits in a quoted SIP header value."""
    check_name(_("digest user"), name)
    _check_quotable(_("digest user name"), name)


def check_realm(realm: str) -> None:
    """Check a digest realm, such as the node name or a domain."""
    if not realm.strip() or realm != realm.strip() or len(realm) > REALM_LENGTH:
        raise ConfigError(
            _(
                "The realm {realm!r} is empty, padded with spaces or longer than {limit} "
                "characters; enter a name such as CUCMA or cucma.example.com."
            ).format(realm=realm, limit=REALM_LENGTH)
        )
    _check_quotable(_("realm"), realm)


def check_password(password: str, user: str) -> None:
    """Reject an empty password or one shorter than 8 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            _(
                "The password of digest user {user!r} has {length} characters; use at "
                "least {minimum}."
            ).format(user=user, length=len(password), minimum=MIN_PASSWORD_LENGTH)
        )


def check_node(node: NodeConfig) -> None:
    """Check a node on its own: name, address, realm and phone ports."""
    check_name(_("node"), node.name)
    if not is_host(node.address):
        raise ConfigError(
            _(
                "Node address {address!r} is neither an IP address nor a host name; "
                "enter one such as 127.0.0.203."
            ).format(address=node.address)
        )
    check_realm(node.realm)
    if node.phone_port is not None:
        check_port(node.phone_port, _("The phone port of node {name!r}").format(name=node.name))
    if node.phone_secure_port is not None:
        check_port(
            node.phone_secure_port,
            _("The secure phone port of node {name!r}").format(name=node.name),
        )
    if node.phone_port is not None and node.phone_port == node.phone_secure_port:
        raise ConfigError(
            _(
                "Node {name!r} has phone port and secure phone port both {port}, but TCP and "
                "TLS phones cannot share a port; choose two ports, for example 5060 and 5061."
            ).format(name=node.name, port=node.phone_port)
        )


def check_phone(phone: PhoneConfig) -> None:
    """Check a phone on its own: name, line, and a transport that fits its security mode."""
    check_name(_("phone"), phone.name)
    check_directory_number(phone.directory_number)
    if phone.digest_user is not None:
        check_digest_user_name(phone.digest_user)
    mode = phone.device_security_mode
    if mode.requires_tls and phone.transport is not IncomingTransport.TLS:
        raise ConfigError(
            _(
                "Phone {name!r} has device security mode {mode}, which needs TLS, but its "
                "transport is {transport}; set the transport to TLS or choose Non Secure."
            ).format(name=phone.name, mode=mode.value, transport=phone.transport.value)
        )
    if mode is DeviceSecurityMode.NON_SECURE and phone.transport is IncomingTransport.TLS:
        raise ConfigError(
            _(
                "Phone {name!r} uses TLS but its device security mode is Non Secure; "
                "choose Authenticated or Encrypted, or use TCP or UDP."
            ).format(name=phone.name)
        )


def socket_kinds(transport: IncomingTransport | Transport) -> frozenset[str]:
    """Return the socket types a listener for ``transport`` binds: "tcp" for TCP and TLS."""
    kinds = set()
    for item in IncomingTransport(transport.value).transports:
        kinds.add("udp" if item is Transport.UDP else "tcp")
    return frozenset(kinds)


def legacy_policy_warning(profile: str) -> str:
    """Return the warning shown wherever a profile with the legacy TLS policy is in use."""
    return _(
        "Warning: profile {name!r} uses the legacy TLS policy, which accepts TLS 1.0, "
        "1024-bit RSA keys and SHA-1 signatures that attackers can break or forge. Use it "
        "only to reach an old cluster, and switch the profile back to modern once that "
        "cluster has a certificate with an RSA key of at least 2048 bits signed with SHA-256."
    ).format(name=profile)
