"""``tlstrunk sip check`` through Typer's runner, on real files."""

from __future__ import annotations

from pathlib import Path

from sip_samples import DATA, sample
from typer.testing import CliRunner

from tlstrunk.admin.sip_cmd import app

RUNNER = CliRunner()


def test_check_valid_files_exit_0() -> None:
    result = RUNNER.invoke(app, ["check", str(DATA / "invite_sdp.sip"),
                                 str(DATA / "rfc4475" / "bext01.sip")])
    assert result.exit_code == 0, result.output
    assert "invite_sdp.sip: valid" in result.output
    assert "  request: INVITE sip:9898@127.0.0.200:5061;transport=tls" in result.output
    assert "  Call-ID: 3c26700a-1018@127.0.0.203" in result.output
    assert "  CSeq: 101 INVITE" in result.output
    assert "  top Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK1d2a3b4c5" in result.output
    assert "  body: application/sdp, 286 bytes" in result.output
    assert "  a server would answer: 420 Bad Extension" in result.output


def test_check_invalid_file_exit_1() -> None:
    result = RUNNER.invoke(app, ["check", str(DATA / "bye.sip"),
                                 str(DATA / "rfc4475" / "mismatch01.sip")])
    assert result.exit_code == 1
    assert ("mismatch01.sip: invalid: 400 CSeq Method Mismatch: The CSeq method 'INVITE' "
            "differs from the request method 'OPTIONS'.") in result.output


def test_check_stdin() -> None:
    result = RUNNER.invoke(app, ["check", "-"], input=sample("trying_100.sip"))
    assert result.exit_code == 0
    assert "-: valid\n  response: 100 Trying" in result.output


def test_check_usage_errors_exit_2(tmp_path: Path) -> None:
    assert RUNNER.invoke(app, ["check"]).exit_code == 2
    missing = RUNNER.invoke(app, ["check", str(tmp_path / "absent.sip")])
    assert missing.exit_code == 2
    assert "Cannot read" in missing.output
