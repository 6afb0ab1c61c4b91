"""Ordered, case-insensitive multi-map of SIP header fields (RFC 3261 section 7.3)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# Compact forms (RFC 3261 section 7.3.3 and the extensions that define them).
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "u": "Allow-Events",
    "b": "Referred-By",
    "x": "Session-Expires",
    "y": "Identity",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
}

_CANONICAL_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "Identity",
    "In-Reply-To", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version", "Organization",
    "P-Asserted-Identity", "P-Preferred-Identity", "Priority", "Privacy",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
    "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server",
    "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State",
    "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning",
    "WWW-Authenticate",
)
CANONICAL: dict[str, str] = {name.lower(): name for name in _CANONICAL_NAMES}
CANONICAL.update({short: full for short, full in COMPACT_FORMS.items()})

# Headers whose values are comma-separated lists (RFC 3261 section 7.3.1).
LIST_HEADERS = frozenset(
    ("via", "route", "record-route", "contact", "allow", "supported", "require",
     "proxy-require", "unsupported", "allow-events")
)


def canonical_name(name: str) -> str:
    """Return the canonical spelling of a header name, expanding compact forms."""
    return CANONICAL.get(name.lower(), name)


def split_comma_list(value: str) -> list[str]:
    """Split a header value at the commas that are outside quotes and ``<>``."""
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    items: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif in_quotes:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == "<":
            in_angle = True
        elif char == ">":
            in_angle = False
        elif char == "," and not in_angle:
            items.append(value[start:index].strip())
            start = index + 1
    items.append(value[start:].strip())
    return [item for item in items if item]


def warning_text(text: str) -> str:
    """Return ``text`` fit for the quoted warn-text of a Warning header (RFC 3261 20.43)."""
    return text.replace("\\", "/").replace('"', "'").replace("\r", " ").replace("\n", " ")


class Headers:
    """Header fields in their order of arrival, looked up without regard to case.

    Values are kept as the raw text received (with folding undone), so a message
    serialises back to the same bytes. Names are canonicalised where known.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str, str]] = []
        for name, value in fields:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a header field after the existing ones."""
        full = canonical_name(name)
        self._fields.append((full.lower(), full, value))

    def insert_first(self, name: str, value: str) -> None:
        """Insert a header field before every other field (e.g. a new top Via)."""
        full = canonical_name(name)
        self._fields.insert(0, (full.lower(), full, value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of this name by one field, kept at the first one's place."""
        full = canonical_name(name)
        key = full.lower()
        for index, field in enumerate(self._fields):
            if field[0] == key:
                self._fields[index] = (key, full, value)
                self._fields = [
                    f for i, f in enumerate(self._fields) if i <= index or f[0] != key
                ]
                return
        self._fields.append((key, full, value))

    def remove(self, name: str) -> None:
        """Remove every field of this name; a missing name is not an error."""
        key = canonical_name(name).lower()
        self._fields = [field for field in self._fields if field[0] != key]

    def get(self, name: str) -> str | None:
        """Return the first field value of this name, or None."""
        key = canonical_name(name).lower()
        for field in self._fields:
            if field[0] == key:
                return field[2]
        return None

    def get_all(self, name: str) -> list[str]:
        """Return every value of this name in order, splitting comma lists for list headers."""
        key = canonical_name(name).lower()
        values = [field[2] for field in self._fields if field[0] == key]
        if key not in LIST_HEADERS:
            return values
        result: list[str] = []
        for value in values:
            result.extend(split_comma_list(value))
        return result

    def count(self, name: str) -> int:
        """Return how many header fields (lines) carry this name."""
        key = canonical_name(name).lower()
        return sum(1 for field in self._fields if field[0] == key)

    def copy(self) -> Headers:
        """Return an independent copy."""
        clone = Headers()
        clone._fields = list(self._fields)
        return clone

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical_name(name).lower()
        return any(field[0] == key for field in self._fields)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((field[1], field[2]) for field in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(f[0], f[2]) for f in self._fields] == [(f[0], f[2]) for f in other._fields]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"
