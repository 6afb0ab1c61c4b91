"""Accept settings of a SIP trunk security profile, applied to incoming requests.

Out-of-dialog REFER, unsolicited NOTIFY, presence SUBSCRIBE and INVITE with
Replaces are refused with 403 unless the trunk's profile accepts them. This
release implements none of those features, so an accepted request of those
kinds still gets 501 Not Implemented instead of silently doing nothing.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlstrunk.config.values import SecurityProfileConfig
from tlstrunk.i18n import _
from tlstrunk.sip.message import Request


@dataclass(frozen=True)
class Refusal:
    """The status and reason phrase for a request the profile or the node turns away."""

    status: int
    reason: str


def _feature(request: Request) -> str | None:
    """Return the name of the profile setting that governs ``request``, if any."""
    method = request.method
    out_of_dialog = request.to.tag is None
    if method == "REFER" and out_of_dialog:
        return "accept_out_of_dialog_refer"
    if method == "NOTIFY" and out_of_dialog:
        return "accept_unsolicited_notification"
    if method == "SUBSCRIBE":
        event = (request.headers.get("Event") or "").split(";", 1)[0].strip().lower()
        if event == "presence":
            return "accept_presence_subscription"
        return None
    if method == "INVITE" and request.headers.get("Replaces") is not None:
        return "accept_replaces_header"
    return None


_LABELS = {
    "accept_out_of_dialog_refer": "Accept out-of-dialog REFER",
    "accept_unsolicited_notification": "Accept unsolicited notification",
    "accept_presence_subscription": "Accept presence subscription",
    "accept_replaces_header": "Accept replaces header",
}

#: Reason phrases name the refused request in the fewest words a peer's log can show.
_REFUSED = {
    "accept_out_of_dialog_refer": "Out-of-dialog REFER Not Accepted",
    "accept_unsolicited_notification": "Unsolicited NOTIFY Not Accepted",
    "accept_presence_subscription": "Presence Subscription Not Accepted",
    "accept_replaces_header": "Replaces Not Accepted",
}


def profile_refusal(request: Request, profile: SecurityProfileConfig) -> Refusal | None:
    """Return how to refuse ``request`` under ``profile``, or ``None`` to handle it as usual."""
    setting = _feature(request)
    if setting is None:
        return None
    if not getattr(profile, setting):
        return Refusal(403, _REFUSED[setting])
    return Refusal(501, "Not Implemented")


def refusal_explanation(refusal: Refusal, request: Request, profile: str) -> str:
    """Describe a refusal for the trace, naming the profile setting that decides it."""
    setting = _feature(request)
    label = _LABELS[setting] if setting else request.method
    if refusal.status == 403:
        return _(
            "{method} from the trunk refused with 403 because profile '{profile}' has "
            "'{label}' off; turn it on to let such requests in."
        ).format(method=request.method, profile=profile, label=label)
    return _(
        "{method} is let in by profile '{profile}' ('{label}') but this release does not "
        "implement it, so it gets 501."
    ).format(method=request.method, profile=profile, label=label)
