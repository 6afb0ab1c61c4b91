"""Doctor steps that need no network: destination addresses and step rendering."""

from __future__ import annotations

from tlstrunk.config.values import Destination
from tlstrunk.diag.local import resolve_destination
from tlstrunk.diag.results import StepResult, Verdict


def test_address_ip_passes() -> None:
    result, address = resolve_destination(Destination("127.0.0.200", 5061))
    assert result.verdict is Verdict.PASS
    assert address == "127.0.0.200"
    assert result.destination == "127.0.0.200:5061"


def test_address_localhost_resolves_to_loopback() -> None:
    result, address = resolve_destination(Destination("localhost", 5061))
    assert result.verdict is Verdict.PASS
    assert address is not None
    assert address.startswith("127.") or address == "::1"


def test_address_unknown_name_not_queried() -> None:
    result, address = resolve_destination(Destination("cucm10.invalid", 5061))
    assert address is None
    assert result.verdict is Verdict.WARN
    assert "does not query DNS" in result.seen
    assert "IP address" in result.fix


def test_step_lines_include_fix() -> None:
    result = StepResult("names", Verdict.FAIL, "CN=A does not match B", "set it to A", "h:1")
    assert result.lines() == ["[FAIL] names (h:1): CN=A does not match B", "    fix: set it to A"]
