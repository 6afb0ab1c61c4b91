"""Turn form fields and JSON objects into configuration values, driven by dataclass fields.

The web pages and the REST API build their forms from the configuration
dataclasses with :func:`dataclasses.fields`. A field added to a value type
therefore appears on its form without changes here when its type is
``str``, ``int``, ``bool``, a ``StrEnum``, ``X | None`` of those,
``tuple[str, ...]`` or ``tuple[Destination, ...]``. A field whose metadata
has ``secret`` is a password box whose value the pages never show back.

Labels are English source texts from :data:`LABELS` (or made from the field
name); pages and messages translate them when they use them.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tlstrunk.admin.config_cmd import parse_destination
from tlstrunk.config.errors import ConfigError
from tlstrunk.config.values import Destination
from tlstrunk.web.language import N_, _

__all__ = [
    "LABELS",
    "FieldSpec",
    "InputError",
    "build_value",
    "field_specs",
    "form_text",
    "label",
    "value_to_json",
]

#: Form labels of the configuration fields, as the administration pages name them.
LABELS: dict[str, str] = {
    "name": N_("Name"),
    "description": N_("Description"),
    "device_security_mode": N_("Device Security Mode"),
    "incoming_transport": N_("Incoming Transport Type"),
    "outgoing_transport": N_("Outgoing Transport Type"),
    "enable_digest_authentication": N_("Enable Digest Authentication"),
    "nonce_validity_time": N_("Nonce Validity Time (mins)"),
    "x509_subject_name": N_("X.509 Subject Name"),
    "incoming_port": N_("Incoming Port"),
    "enable_application_level_authorization": N_("Enable Application level authorization"),
    "accept_presence_subscription": N_("Accept presence subscription"),
    "accept_out_of_dialog_refer": N_("Accept out-of-dialog refer"),
    "accept_unsolicited_notification": N_("Accept unsolicited notification"),
    "accept_replaces_header": N_("Accept replaces header"),
    "transmit_security_status": N_("Transmit security status"),
    "allow_charging_header": N_("Allow charging header"),
    "sip_v150_outbound_sdp_offer_filtering": N_("SIP V.150 Outbound SDP Offer Filtering"),
    "tls_policy": N_("TLS policy"),
    "security_profile": N_("SIP Trunk Security Profile"),
    "destinations": N_("Destination Address and Port"),
    "device_pool": N_("Device Pool"),
    "location": N_("Location"),
    "srtp_allowed": N_("SRTP Allowed"),
    "consider_traffic_secure": N_("Consider Traffic on This Trunk Secure"),
    "sip_profile": N_("SIP Profile"),
    "dtmf_signaling_method": N_("DTMF Signaling Method"),
    "css": N_("Calling Search Space"),
    "options_ping": N_("Enable OPTIONS Ping"),
    "options_ping_interval": N_("OPTIONS Ping interval (seconds)"),
    "destination_is_srv": N_("Destination Address is an SRV"),
    "inbound_digest_user": N_("Inbound digest user"),
    "outbound_digest_user": N_("Outbound digest user"),
    "pattern": N_("Route Pattern"),
    "trunk": N_("Trunk"),
    "partition": N_("Route Partition"),
    "route_list": N_("Route List"),
    "discard_digits": N_("Discard Digits"),
    "prefix_digits": N_("Prefix Digits"),
    "called_party_mask": N_("Called Party Transform Mask"),
    "partitions": N_("Partitions"),
    "trunks": N_("Trunks"),
    "distribution": N_("Distribution Algorithm"),
    "route_groups": N_("Route Groups"),
    "number": N_("Directory Number"),
    "answer_mode": N_("Answer mode"),
    "no_answer_timeout": N_("No answer ring duration (seconds)"),
    "directory_number": N_("Directory Number"),
    "digest_user": N_("Digest User"),
    "transport": N_("Transport"),
    "realm": N_("Realm"),
    "password": N_("Password"),
    "confirm_password": N_("Confirm password"),
    "password_set": N_("Password set"),
    "address": N_("Address"),
    "sip_realm": N_("SIP realm"),
    "phone_port": N_("Phone port (TCP and UDP)"),
    "phone_secure_port": N_("Phone port (TLS)"),
}


class InputError(ConfigError):
    """A form field or JSON member could not be read as its type."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FieldSpec:
    """The form widget and parsing rule of one dataclass field.

    ``kind`` is one of "text", "secret", "int", "bool", "choice", "lines"
    (one item a line) and "destinations". ``label`` is English; translate it
    with ``_`` where it is shown.
    """

    name: str
    label: str
    kind: str
    required: bool
    optional: bool
    default: Any
    choices: tuple[str, ...] = ()
    enum_type: type[enum.Enum] | None = None


def _label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def label(name: str) -> str:
    """Return the label of field ``name`` in the current request's language."""
    return _(_label(name))


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return rest[0], True
    return hint, False


def _kind(hint: Any) -> tuple[str, tuple[str, ...], type[enum.Enum] | None]:
    if hint is bool:
        return "bool", (), None
    if hint is int:
        return "int", (), None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "choice", tuple(str(member.value) for member in hint), hint
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return ("destinations" if item is Destination else "lines"), (), None
    return "text", (), None


def field_specs(value_type: type[Any]) -> list[FieldSpec]:
    """Return the form fields of the dataclass ``value_type``, in declaration order."""
    hints = typing.get_type_hints(value_type)
    specs = []
    for item in dataclasses.fields(value_type):
        hint, optional = _unwrap_optional(hints[item.name])
        kind, choices, enum_type = _kind(hint)
        if item.metadata.get("secret"):
            kind = "secret"
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING
        specs.append(
            FieldSpec(
                name=item.name,
                label=_label(item.name),
                kind=kind,
                required=default is dataclasses.MISSING,
                optional=optional,
                default=None if default is dataclasses.MISSING else default,
                choices=choices,
                enum_type=enum_type,
            )
        )
    return specs


def build_value(
    value_type: type[Any], raw: Mapping[str, Any], *, unchecked_is_false: bool = False
) -> Any:
    """Build a ``value_type`` from form strings or JSON values.

    ``unchecked_is_false`` reads a missing bool as False, as an HTML form
    omits unchecked boxes; otherwise a missing field takes its default.

    Raises:
        InputError: a field is missing, unknown or not of its type.
    """
    specs = {spec.name: spec for spec in field_specs(value_type)}
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        raise InputError(
            unknown[0],
            _("Unknown field {field!r}; the fields are: {known}.").format(
                field=unknown[0], known=", ".join(specs)
            ),
        )
    values: dict[str, Any] = {}
    for spec in specs.values():
        if spec.name in raw:
            values[spec.name] = _convert(spec, raw[spec.name])
        elif spec.kind == "bool" and unchecked_is_false:
            values[spec.name] = False
        elif spec.required:
            raise InputError(
                spec.name, _("{label} is missing; fill it in.").format(label=_(spec.label))
            )
    return value_type(**values)


def _convert(spec: FieldSpec, value: Any) -> Any:
    if spec.optional and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    if spec.kind == "bool":
        return _to_bool(spec, value)
    if spec.kind == "int":
        return _to_int(spec, value)
    if spec.kind == "choice":
        return _to_choice(spec, value)
    if spec.kind in ("lines", "destinations"):
        items = _to_items(spec, value)
        if spec.kind == "destinations":
            return tuple(_to_destination(item) for item in items)
        return tuple(items)
    if not isinstance(value, str):
        raise InputError(spec.name, _("{label} must be text.").format(label=_(spec.label)))
    return value.strip()


def _to_bool(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.casefold() in ("on", "true", "yes", "1"):
        return True
    if isinstance(value, str) and value.casefold() in ("off", "false", "no", "0", ""):
        return False
    raise InputError(
        spec.name,
        _("{label} must be true or false, not {value!r}.").format(label=_(spec.label), value=value),
    )


def _to_int(spec: FieldSpec, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise InputError(
        spec.name,
        _("{label} must be a whole number, not {value!r}.").format(
            label=_(spec.label), value=value
        ),
    )


def _to_choice(spec: FieldSpec, value: Any) -> enum.Enum:
    assert spec.enum_type is not None
    for member in spec.enum_type:
        if isinstance(value, str) and str(member.value).casefold() == value.strip().casefold():
            return member
    raise InputError(
        spec.name,
        _("{label} {value!r} is not one of: {choices}.").format(
            label=_(spec.label), value=value, choices=", ".join(spec.choices)
        ),
    )


def _to_items(spec: FieldSpec, value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.replace(",", "\n").splitlines() if line.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return [f"{item.get('address', '')}:{item.get('port', '')}" for item in value]
    raise InputError(
        spec.name,
        _("{label} must be a list of text items, one per line.").format(label=_(spec.label)),
    )


def _to_destination(text: str) -> Destination:
    # the CLI's own parser, so both give the same message for the same input
    return parse_destination(text)


def value_to_json(value: Any) -> dict[str, Any]:
    """Return a configuration dataclass as JSON-ready data."""
    result: dict[str, Any] = {}
    for item in dataclasses.fields(value):
        if item.metadata.get("secret"):
            continue
        result[item.name] = _jsonable(getattr(value, item.name))
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Destination):
        return {"address": value.address, "port": value.port}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value_to_json(value)
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    return value


def form_text(spec: FieldSpec, value: Any) -> str:
    """Return ``value`` of field ``spec`` as the text a form input shows."""
    if value is None or spec.kind == "secret":
        return ""
    if spec.kind in ("lines", "destinations"):
        return "\n".join(str(item) for item in value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)
