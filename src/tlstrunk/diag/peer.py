"""Rejections a running tlstrunk node recorded, read over its control socket.

The trunk doctor quotes the far node's reason when the far node is a local
tlstrunk node, and ``tlstrunk doctor inbound`` groups a node's recent inbound
rejections by port and reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlstrunk.control_client import ControlError, control_request
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths

#: Plain names of the checks a node records, for grouping inbound rejections.
REASONS = {
    "client certificate": "no client certificate",
    "certificate chain": "untrusted issuer",
    "X.509 subject name": "name mismatch",
    "source address": "no trunk for that source address",
}


async def node_rejections(node_dir: Path, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Return the rejections the node in ``node_dir`` recorded, oldest first.

    Raises:
        ControlError: the node is not running or did not answer.
    """
    path = NodePaths(node_dir).control_socket
    status = await asyncio.to_thread(control_request, path, {"op": "status"}, timeout=timeout)
    if not isinstance(status, dict):
        raise ControlError(_("The node's status has an unexpected form."))
    rejections = status.get("rejections", [])
    return [item for item in rejections if isinstance(item, dict)]


async def rejection_of(
    node_dir: Path,
    source: str,
    port: int,
    *,
    source_port: int | None = None,
    attempts: int = 10,
    pause: float = 0.1,
) -> dict[str, Any] | None:
    """Return the latest inbound rejection of ``source`` on ``port`` by the node in ``node_dir``.

    With ``source_port`` a rejection of that very connection is preferred, and
    the latest one from ``source`` is taken when there is none. The far node may
    record the rejection a moment after it closed the connection, so the status
    is read up to ``attempts`` times.

    Raises:
        ControlError: the node is not running or did not answer.
    """
    latest: dict[str, Any] | None = None
    for attempt in range(attempts):
        matches = [
            item
            for item in await node_rejections(node_dir)
            if item.get("direction") == "inbound"
            and str(item.get("remote", "")).rpartition(":")[0] == source
            and str(item.get("local", "")).endswith(f":{port}")
        ]
        latest = matches[-1] if matches else latest
        exact = [m for m in matches if str(m.get("remote", "")).endswith(f":{source_port}")]
        if exact:
            return exact[-1]
        if matches and source_port is None:
            return latest
        if attempt + 1 < attempts:
            await asyncio.sleep(pause)
    return latest


@dataclass
class RejectionGroup:
    """Inbound rejections on one port for one reason."""

    port: str
    reason: str
    sources: dict[str, int] = field(default_factory=dict)
    last_detail: str = ""

    @property
    def count(self) -> int:
        """The number of rejected connections in the group."""
        return sum(self.sources.values())

    def to_dict(self) -> dict[str, Any]:
        """Return the group as JSON-ready data."""
        return {
            "port": self.port,
            "reason": self.reason,
            "count": self.count,
            "sources": self.sources,
            "last_detail": self.last_detail,
        }


def group_inbound(rejections: Sequence[dict[str, Any]]) -> list[RejectionGroup]:
    """Group inbound rejections by local port and reason, ports and reasons in first-seen order."""
    groups: dict[tuple[str, str], RejectionGroup] = {}
    for item in rejections:
        if item.get("direction") != "inbound":
            continue
        port = str(item.get("local", "")).rpartition(":")[2]
        check = str(item.get("check", ""))
        reason = REASONS.get(check, check)
        group = groups.setdefault((port, reason), RejectionGroup(port, reason))
        source = str(item.get("remote", "")).rpartition(":")[0]
        group.sources[source] = group.sources.get(source, 0) + 1
        group.last_detail = str(item.get("detail", ""))
    return list(groups.values())


def render_groups(groups: Sequence[RejectionGroup]) -> str:
    """Return the groups as text, one block per port."""
    if not groups:
        return _("No inbound connection was rejected recently.")
    lines: list[str] = []
    for port in dict.fromkeys(group.port for group in groups):
        lines.append(_("port {port}:").format(port=port))
        for group in (g for g in groups if g.port == port):
            sources = ", ".join(f"{source} ({count})" for source, count in group.sources.items())
            lines.append(
                _("  {reason}: {count} connection(s) from {sources}").format(
                    reason=group.reason, count=group.count, sources=sources
                )
            )
            lines.append(_("    last: {detail}").format(detail=group.last_detail))
    return "\n".join(lines)
