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


def check_destination(destination: Destination, trunk: str) -> None:
    """Check that a destination has an IP address or host name and a valid port."""
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
        check_destination(destination, trunk.name)
    check_options_ping(trunk)


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


def legacy_policy_warning(profile: str) -> str:
    """Return the warning shown wherever a profile with the legacy TLS policy is in use."""
    return _(
        "Warning: profile {name!r} uses the legacy TLS policy, which accepts TLS 1.0, "
        "1024-bit RSA keys and SHA-1 signatures that attackers can break or forge. Use it "
        "only to reach an old cluster, and switch the profile back to modern once that "
        "cluster has a certificate with an RSA key of at least 2048 bits signed with SHA-256."
    ).format(name=profile)
