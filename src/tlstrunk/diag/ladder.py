"""Call ladders built from node traces: terminal text, SVG and HTML.

:func:`build_ladder` reads the JSON traces of one or more nodes, keeps the SIP
messages of one Call-ID, and lays them out with one column per host.  A message
traced by both its sender and its receiver appears once.  The TLS connections
that carried the call and the certificates seen on them become notes.

The traced SIP text is read with a few header lookups instead of the SIP
parser: a trace may hold messages the parser rejects (that is often why
someone reads the trace), and the ladder still shows them.
"""

from __future__ import annotations

import html
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tlstrunk.observe.trace import TraceEvent
from tlstrunk.observe.trace_reader import mentions_call_id, read_events, sip_call_id
from tlstrunk.paths import NodePaths

_NODE_STARTED = re.compile(r"^Node (\S+) started on (\S+)$")
_LISTENING = re.compile(r"^Listening for SIP over \S+ on (\S+):(\d+)$")
_CONNECTION = re.compile(
    r"^Connection created: index=(\d+) trunk=(\S+) local=(\S+):(\d+) remote=(\S+):(\d+) "
    r"transport=(.+)$"
)
_CERTIFICATE = re.compile(r"^Certificate indication: remote=(\S+):(\d+) (.*)$")
_SIP_EVENT = re.compile(
    r"(Outgoing|Incoming) SIP (\w+) message (?:to|from) (\S+) on port (\d+)(?: index (\d+))?"
)

Endpoint = tuple[str, int]


@dataclass(frozen=True)
class LadderRow:
    """One row: a SIP message from ``source`` to ``target``, or a note at ``source``.

    Attributes:
        timestamp: seconds since the epoch when the first node traced it.
        source: column key of the sender, or of the node that traced the note.
        target: column key of the receiver; ``None`` for a note.
        label: method, or status code and reason with the CSeq method.
        detail: the traced SIP message or the full note text.
        observers: names of the nodes whose traces hold this row.
    """

    timestamp: float
    source: str
    target: str | None
    label: str
    detail: str
    observers: tuple[str, ...]

    @property
    def is_note(self) -> bool:
        """Whether the row is a note rather than a SIP message."""
        return self.target is None


@dataclass(frozen=True)
class Ladder:
    """The ladder of one call: column keys with their labels, and rows in time order."""

    call_id: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[LadderRow, ...]

    @property
    def messages(self) -> list[LadderRow]:
        """The rows that are SIP messages."""
        return [row for row in self.rows if not row.is_note]


@dataclass
class _NodeView:
    """Facts one node's trace records about the node itself and about the call."""

    name: str
    address: str | None = None
    listening: set[Endpoint] = field(default_factory=set)
    local_ends: set[Endpoint] = field(default_factory=set)
    trunks: dict[str, str] = field(default_factory=dict)
    connections: dict[int, tuple[TraceEvent, TraceEvent | None]] = field(default_factory=dict)
    sip: list[tuple[TraceEvent, bool, Endpoint, int | None]] = field(default_factory=list)
    notes: list[TraceEvent] = field(default_factory=list)


def _endpoint(host: str, port: str) -> Endpoint:
    return host, int(port)


def _read_node(root: Path, call_id: str) -> _NodeView:
    view = _NodeView(name=root.name)
    last_certificate: dict[Endpoint, TraceEvent] = {}
    for event in read_events(NodePaths(root).trace_json):
        _note_topology(view, event, last_certificate)
        head = event.message.split("\n", 1)[0]
        sip = _SIP_EVENT.search(head) if event.component in ("SIPTcp", "SIPUdp") else None
        if sip is not None:
            if sip_call_id(event.message) == call_id or event.fields.get("call_id") == call_id:
                index = int(sip.group(5)) if sip.group(5) else None
                outgoing = sip.group(1) == "Outgoing"
                view.sip.append((event, outgoing, _endpoint(sip.group(3), sip.group(4)), index))
        elif event.level != "Detailed" and mentions_call_id(event, call_id):
            view.notes.append(event)
    return view


def _note_topology(
    view: _NodeView, event: TraceEvent, last_certificate: dict[Endpoint, TraceEvent]
) -> None:
    if match := _NODE_STARTED.match(event.message):
        view.name, view.address = match.group(1), match.group(2)
    elif match := _LISTENING.match(event.message):
        view.listening.add(_endpoint(match.group(1), match.group(2)))
    elif match := _CERTIFICATE.match(event.message):
        last_certificate[_endpoint(match.group(1), match.group(2))] = event
    elif match := _CONNECTION.match(event.message):
        remote = _endpoint(match.group(5), match.group(6))
        view.local_ends.add(_endpoint(match.group(3), match.group(4)))
        view.trunks.setdefault(remote[0], match.group(2))
        view.connections[int(match.group(1))] = (event, last_certificate.get(remote))


class _Columns:
    """Column keys for endpoints: a node's name when a trace names it, else the IP address."""

    def __init__(self, views: list[_NodeView]) -> None:
        self._views = views
        self.order: dict[str, str] = {}

    def node(self, view: _NodeView) -> str:
        address = f"\n{view.address}" if view.address else ""
        return self._add(view.name, view.name + address)

    def remote(self, endpoint: Endpoint, observer: _NodeView) -> str:
        for view in self._views:
            if endpoint in view.listening or endpoint in view.local_ends:
                return self.node(view)
        by_address = [view for view in self._views if view.address == endpoint[0]]
        if len(by_address) == 1:
            return self.node(by_address[0])
        trunk = observer.trunks.get(endpoint[0])
        label = endpoint[0] + (f"\n(trunk {trunk})" if trunk else "")
        return self._add(endpoint[0], label)

    def _add(self, key: str, label: str) -> str:
        self.order.setdefault(key, label)
        return key


def _header(message: str, *names: str) -> str:
    wanted = {name.lower() for name in names}
    for line in message.split("\n")[1:]:
        if not line.strip():
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in wanted:
            return value.strip()
    return ""


def _sip_text(event: TraceEvent) -> str:
    text = event.message.split("\n", 1)[1] if "\n" in event.message else ""
    return text.replace("\r\n", "\n")


def _label(sip: str) -> str:
    start = sip.split("\n", 1)[0].strip()
    parts = start.split(" ", 2)
    if start.startswith("SIP/"):
        method = _header(sip, "CSeq").rpartition(" ")[2]
        status = " ".join(parts[1:])
        return f"{status} ({method})" if method else status
    return parts[0] if parts else start


def _message_rows(views: list[_NodeView], columns: _Columns) -> list[LadderRow]:
    merged: dict[tuple[object, ...], LadderRow] = {}
    for view in views:
        seen: Counter[tuple[object, ...]] = Counter()
        own = columns.node(view)
        for event, outgoing, remote, _index in view.sip:
            other = columns.remote(remote, view)
            source, target = (own, other) if outgoing else (other, own)
            sip = _sip_text(event)
            signature = (source, target, sip.split("\n", 1)[0].strip(),
                         _header(sip, "CSeq"), _header(sip, "Via", "v"))
            seen[signature] += 1
            key = (*signature, seen[signature])
            earlier = merged.get(key)
            if earlier is None or event.timestamp < earlier.timestamp:
                observers = (earlier.observers if earlier else ()) + (view.name,)
                merged[key] = LadderRow(
                    event.timestamp, source, target, _label(sip), sip.rstrip(), observers
                )
            else:
                merged[key] = LadderRow(
                    earlier.timestamp, earlier.source, earlier.target, earlier.label,
                    earlier.detail, (*earlier.observers, view.name),
                )
    return list(merged.values())


def _note_rows(views: list[_NodeView], columns: _Columns) -> list[LadderRow]:
    rows: list[LadderRow] = []
    for view in views:
        own = columns.node(view)
        used = {index for _e, _o, _r, index in view.sip if index is not None}
        for index in sorted(used):
            if index not in view.connections:
                continue
            created, certificate = view.connections[index]
            if certificate is not None:
                rows.append(_note(certificate, own, view.name, "certificate"))
            rows.append(_note(created, own, view.name, "TLS/TCP connection"))
        rows.extend(_note(event, own, view.name, event.component) for event in view.notes)
    return rows


def _note(event: TraceEvent, column: str, observer: str, kind: str) -> LadderRow:
    text = event.message.split("\n", 1)[0]
    label = f"{observer}: {text}"
    return LadderRow(event.timestamp, column, None, label, f"[{kind}] {event.message}", (observer,))


def build_ladder(node_dirs: list[Path], call_id: str) -> Ladder:
    """Build the ladder of ``call_id`` from the traces in ``node_dirs``.

    Raises:
        ValueError: no node directory was given, or ``call_id`` is empty.
    """
    if not node_dirs:
        raise ValueError("Give at least one node directory to build a ladder from.")
    if not call_id:
        raise ValueError("Give the Call-ID of the call to draw; `tlstrunk trace get` lists them.")
    views = [_read_node(root, call_id) for root in node_dirs]
    columns = _Columns(views)
    for view in views:
        if view.sip or view.notes:
            columns.node(view)
    rows = _message_rows(views, columns) + _note_rows(views, columns)
    rows.sort(key=lambda row: row.timestamp)
    used = {row.source for row in rows} | {row.target for row in rows if row.target}
    ordered = tuple((key, label) for key, label in columns.order.items() if key in used)
    return Ladder(call_id, ordered, tuple(rows))


# -- rendering ------------------------------------------------------------------

_MIN_COLUMN = 24


def _clock(timestamp: float) -> str:
    millis = int(timestamp % 1 * 1000)
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) + f".{millis:03d}"


def render_text(ladder: Ladder) -> str:
    """Render ``ladder`` for a terminal: one line per message, notes marked with ``*``."""
    keys = [key for key, _label in ladder.columns]
    longest = max((len(row.label) for row in ladder.messages), default=0)
    width = max(_MIN_COLUMN, longest + 8)
    centre = {key: index * width + width // 2 for index, key in enumerate(keys)}
    total = len(keys) * width
    pad = " " * 13
    lines = [f"Call-ID {ladder.call_id}"]
    for depth in range(max((label.count("\n") + 1 for _k, label in ladder.columns), default=1)):
        header = [" "] * total
        for key, label in ladder.columns:
            parts = label.split("\n")
            text = parts[depth] if depth < len(parts) else ""
            start = max(0, centre[key] - len(text) // 2)
            header[start : start + len(text)] = text
        lines.append(pad + "".join(header).rstrip())
    for row in ladder.rows:
        cells = [" "] * total
        for key in keys:
            cells[centre[key]] = "|"
        if row.target is None:
            lines.append(f"{_clock(row.timestamp)} " + "".join(cells).rstrip() + f"  * {row.label}")
            continue
        left, right = sorted((centre[row.source], centre[row.target]))
        for position in range(left + 1, right):
            cells[position] = "-"
        if right > left:
            arrow = right - 1 if centre[row.target] == right else left + 1
            cells[arrow] = ">" if centre[row.target] == right else "<"
            text = f" {row.label} "
            start = left + max(2, (right - left - len(text)) // 2)
            cells[start : start + len(text)] = text
            lines.append(f"{_clock(row.timestamp)} " + "".join(cells).rstrip())
        else:
            lines.append(f"{_clock(row.timestamp)} " + "".join(cells).rstrip() + f"  {row.label}")
    return "\n".join(lines) + "\n"


_SVG_COLUMN = 240
_SVG_ROW = 34
_SVG_TOP = 70
_SVG_LEFT = 110


def _svg_escape(text: str) -> str:
    return html.escape(text, quote=True)


def render_svg(ladder: Ladder) -> str:
    """Render ``ladder`` as one self-contained SVG document; full messages are tooltips."""
    keys = [key for key, _label in ladder.columns]
    x = {key: _SVG_LEFT + index * _SVG_COLUMN + _SVG_COLUMN // 2 for index, key in enumerate(keys)}
    width = _SVG_LEFT + len(keys) * _SVG_COLUMN + 20
    height = _SVG_TOP + (len(ladder.rows) + 1) * _SVG_ROW
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="monospace" font-size="12">',
        f"<title>Call-ID {_svg_escape(ladder.call_id)}</title>",
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
        "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">"
        "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#1f3b70\"/></marker></defs>",
    ]
    for key, label in ladder.columns:
        out.append(
            f'<line x1="{x[key]}" y1="{_SVG_TOP - 20}" x2="{x[key]}" y2="{height - 10}" '
            'stroke="#999" stroke-dasharray="4 3"/>'
        )
        for depth, part in enumerate(label.split("\n")):
            weight = "bold" if depth == 0 else "normal"
            out.append(
                f'<text x="{x[key]}" y="{20 + depth * 16}" text-anchor="middle" '
                f'font-weight="{weight}">{_svg_escape(part)}</text>'
            )
    for number, row in enumerate(ladder.rows):
        y = _SVG_TOP + number * _SVG_ROW + 16
        out.append("<g>")
        out.append(f"<title>{_svg_escape(row.detail)}</title>")
        out.append(f'<text x="6" y="{y}" fill="#666">{_clock(row.timestamp)}</text>')
        if row.target is None:
            out.append(
                f'<text x="{x[row.source] + 6}" y="{y}" fill="#555" font-style="italic">'
                f"{_svg_escape(_shorten(row.label, 110))}</text>"
            )
        else:
            x1, x2 = x[row.source], x[row.target]
            out.append(
                f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#1f3b70" '
                'stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
            out.append(
                f'<text x="{(x1 + x2) // 2}" y="{y - 5}" text-anchor="middle">'
                f"{_svg_escape(row.label)}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HTML_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.2em; }
table { border-collapse: collapse; margin-top: 1em; }
td, th { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; vertical-align: top; }
th { text-align: left; }
pre { margin: 0.3em 0; font-size: 0.85em; white-space: pre-wrap; }
.note { color: #555; font-style: italic; }
"""


def render_html(ladder: Ladder) -> str:
    """Render ``ladder`` as one self-contained HTML page: the SVG and every full message."""
    title = html.escape(f"Call-ID {ladder.call_id}")
    rows = []
    for row in ladder.rows:
        way = (
            html.escape(f"{row.source} → {row.target}")
            if row.target is not None
            else html.escape(f"note at {row.source}")
        )
        kind = ' class="note"' if row.is_note else ""
        rows.append(
            f"<tr{kind}><td>{_clock(row.timestamp)}</td><td>{way}</td>"
            f"<td><details><summary>{html.escape(row.label)}</summary>"
            f"<pre>{html.escape(row.detail)}</pre></details></td>"
            f"<td>{html.escape(', '.join(row.observers))}</td></tr>"
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>{_HTML_STYLE}</style></head><body>\n"
        f"<h1>{title}</h1>\n{render_svg(ladder)}"
        "<table><thead><tr><th>time</th><th>direction</th><th>message</th>"
        "<th>traced by</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>\n</body></html>\n"
    )
