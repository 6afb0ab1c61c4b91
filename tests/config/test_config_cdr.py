"""Tests for call detail records: records from reports, the writer, queries, export, CLI."""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from sqlalchemy import create_engine
from typer.testing import CliRunner

from tlstrunk.admin import cdr_cmd
from tlstrunk.callcontrol.report import CallReport
from tlstrunk.config import CdrRecord, CdrWriter, ConfigError, ConfigStore, export_cdrs_csv
from tlstrunk.config.cdr import CSV_COLUMNS
from tlstrunk.config.store import upgrade

T0 = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC).timestamp()


def cleared_report() -> dict[str, Any]:
    report = CallReport("CUCMA", "abc@127.0.0.203", "outbound", "1018", "9898", started=T0)
    report.trunk = "CUCM10"
    report.answered = T0 + 2.0
    report.finish("cleared", status=200, reason="BYE")
    report.ended = T0 + 32.5
    return report.to_dict()


def failed_report() -> dict[str, Any]:
    report = CallReport("CUCMA", "fail@127.0.0.203", "outbound", "1018", "9898", started=T0)
    report.trunk = "CUCM10"
    report.failed_check = "certificate chain"
    report.finish("failed", reason="Trunk CUCM10: the peer certificate chain did not verify.")
    report.ended = T0 + 0.25
    return report.to_dict()


def secure_report() -> dict[str, Any]:
    report = CallReport("CUCMB", "sec@127.0.0.204", "inbound", "1018", "9898", started=T0)
    report.trunk = "CUCMA"
    report.signalling_encrypted = True
    report.srtp_suite = "AES_CM_128_HMAC_SHA1_80"
    report.secure = True
    report.answered = T0 + 1.0
    report.media = {"sent": 250, "received": 248, "decrypted": 247, "plain": 0, "failed": 1}
    report.finish("cleared", status=200, reason="BYE from the far end")
    report.ended = T0 + 6.0
    return report.to_dict()


def record(call_id: str, start_offset: float = 0.0) -> CdrRecord:
    data = cleared_report()
    data["call_id"] = call_id
    data["started"] = T0 + start_offset
    data["answered"] = T0 + start_offset + 1
    data["ended"] = T0 + start_offset + 11
    return CdrRecord.from_report(data)


# --- records from reports -------------------------------------------------


def test_from_report_cleared_call() -> None:
    cdr = CdrRecord.from_report(cleared_report())
    assert cdr.call_id == "abc@127.0.0.203"
    assert cdr.node == "CUCMA"
    assert cdr.direction == "outbound"
    assert (cdr.calling, cdr.called) == ("1018", "9898")
    assert cdr.trunk == "CUCM10"
    assert cdr.start == datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
    assert cdr.answer == cdr.start + timedelta(seconds=2)
    assert cdr.end == cdr.start + timedelta(seconds=32.5)
    assert cdr.duration == 30.5
    assert cdr.cause == "200 BYE"
    assert cdr.state == "cleared"
    assert cdr.secure is False
    assert cdr.packets_sent is None
    assert cdr.packets_failed is None


def test_from_report_failed_call_unanswered() -> None:
    cdr = CdrRecord.from_report(failed_report())
    assert cdr.state == "failed"
    assert cdr.answer is None
    assert cdr.duration is None
    assert cdr.cause == "failed: certificate chain"
    assert cdr.end == cdr.start + timedelta(seconds=0.25)


def test_from_report_status_failure_cause() -> None:
    data = failed_report()
    data["status"] = 404
    data["reason"] = "Not Found"
    assert CdrRecord.from_report(data).cause == "404 Not Found"


def test_from_report_secure_call_media() -> None:
    cdr = CdrRecord.from_report(secure_report())
    assert cdr.direction == "inbound"
    assert cdr.secure is True
    assert cdr.signalling_encrypted is True
    assert cdr.srtp_suite == "AES_CM_128_HMAC_SHA1_80"
    assert cdr.duration == 5.0
    assert cdr.packets_sent == 250
    assert cdr.packets_received == 248
    assert cdr.packets_decrypted == 247
    assert cdr.packets_failed == 1


def test_from_report_without_end_uses_now() -> None:
    data = cleared_report()
    data["ended"] = None
    before = datetime.now(UTC)
    cdr = CdrRecord.from_report(data)
    assert cdr.end >= before
    assert cdr.end.tzinfo is not None


# --- writer -----------------------------------------------------------------


def test_writer_stores_records(tmp_path: Path) -> None:
    path = tmp_path / "node" / "config.db"
    writer = CdrWriter(path)
    reports = [cleared_report(), failed_report(), secure_report()]
    for report in reports:
        assert writer.submit(CdrRecord.from_report(report))
    assert writer.close(timeout=30)
    assert writer.written == 3
    assert writer.dropped == 0
    with ConfigStore(path) as store:
        stored = store.list_cdrs()
    expected = {CdrRecord.from_report(report) for report in reports}
    assert set(stored) == expected


def test_writer_submit_from_other_threads(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    writer = CdrWriter(path, batch_size=7)

    def submit_many(prefix: str) -> None:
        for index in range(50):
            writer.submit(record(f"{prefix}-{index}", index))

    threads = [threading.Thread(target=submit_many, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.close(timeout=30)
    with ConfigStore(path) as store:
        stored = store.list_cdrs()
    assert len(stored) == 200
    assert len({cdr.call_id for cdr in stored}) == 200


def test_writer_full_queue_drops_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    gate = threading.Event()
    writer = CdrWriter(path, max_queue=5, gate=gate)
    accepted = [writer.submit(record(f"call-{index}", index)) for index in range(8)]
    assert accepted == [True] * 5 + [False] * 3
    assert writer.dropped == 3
    assert writer.written == 0
    gate.set()
    assert writer.close(timeout=30)
    assert writer.written == 5
    with ConfigStore(path) as store:
        stored = [cdr.call_id for cdr in store.list_cdrs()]
    assert stored == [f"call-{index}" for index in range(5)]


def test_writer_close_flushes_with_gate_shut(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    writer = CdrWriter(path, gate=threading.Event())
    for index in range(3):
        writer.submit(record(f"call-{index}", index))
    assert writer.close(timeout=30)
    assert writer.written == 3


def test_writer_submit_after_close_dropped(tmp_path: Path) -> None:
    writer = CdrWriter(tmp_path / "config.db")
    assert writer.close(timeout=30)
    assert writer.submit(record("late")) is False
    assert writer.dropped == 1


def test_writer_database_error_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.db"
    ConfigStore(path).close()
    with sqlite3.connect(path) as connection:
        # the schema stays at the newest revision, so the writer's upgrade does not recreate it
        connection.execute("DROP TABLE cdr")
    caplog.set_level(logging.ERROR, logger="tlstrunk.config.cdr")
    writer = CdrWriter(path)
    assert writer.submit(record("lost-call"))
    assert writer.close(timeout=30)
    assert writer.failed == 1
    assert writer.written == 0
    assert "lost-call" in caplog.text


def test_writer_rejects_zero_queue(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_queue"):
        CdrWriter(tmp_path / "config.db", max_queue=0)


# --- queries and CSV ----------------------------------------------------------


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "node" / "config.db"
    writer = CdrWriter(path)
    for index in range(5):
        # calls start one hour apart from 10:00 UTC
        writer.submit(record(f"call-{index}", index * 3600))
    assert writer.close(timeout=30)
    return path


def test_list_cdrs_oldest_first(filled: Path) -> None:
    with ConfigStore(filled) as store:
        ids = [cdr.call_id for cdr in store.list_cdrs()]
    assert ids == [f"call-{index}" for index in range(5)]


def test_list_cdrs_since_until(filled: Path) -> None:
    since = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    until = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
    with ConfigStore(filled) as store:
        ids = [cdr.call_id for cdr in store.list_cdrs(since=since, until=until)]
    assert ids == ["call-1", "call-2"]


def test_list_cdrs_offset_and_naive_times(filled: Path) -> None:
    since = datetime(2026, 12, 5, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    naive_until = datetime(2026, 12, 5, 12, 0)
    with ConfigStore(filled) as store:
        since_ids = [cdr.call_id for cdr in store.list_cdrs(since=since)]
        until_ids = [cdr.call_id for cdr in store.list_cdrs(until=naive_until)]
    assert since_ids == ["call-3", "call-4"]
    assert until_ids == ["call-0", "call-1"]


def test_list_cdrs_limit_keeps_newest(filled: Path) -> None:
    with ConfigStore(filled) as store:
        ids = [cdr.call_id for cdr in store.list_cdrs(limit=2)]
    assert ids == ["call-3", "call-4"]


def test_list_cdrs_by_call_id(filled: Path) -> None:
    with ConfigStore(filled) as store:
        (found,) = store.list_cdrs(call_id="call-2")
    assert found.start == datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_list_cdrs_rejects_zero_limit(filled: Path) -> None:
    with ConfigStore(filled) as store, pytest.raises(ConfigError, match="limit 0"):
        store.list_cdrs(limit=0)


def test_export_csv_content() -> None:
    stream = io.StringIO()
    records = [CdrRecord.from_report(cleared_report()), CdrRecord.from_report(secure_report())]
    assert export_cdrs_csv(records, stream) == 2
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    first = dict(zip(rows[0], rows[1], strict=True))
    second = dict(zip(rows[0], rows[2], strict=True))
    assert first["call_id"] == "abc@127.0.0.203"
    assert first["start"] == "2026-12-05T10:00:00.000000+00:00"
    assert first["answer"] == "2026-12-05T10:00:02.000000+00:00"
    assert first["duration"] == "30.5"
    assert first["cause"] == "200 BYE"
    assert first["secure"] == "false"
    assert first["srtp_suite"] == ""
    assert first["packets_sent"] == ""
    assert second["secure"] == "true"
    assert second["packets_decrypted"] == "247"


def test_upgrade_from_0003_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO security_profile (name, description, device_security_mode, "
            "incoming_transport, outgoing_transport, enable_digest_authentication, "
            "nonce_validity_time, x509_subject_name, incoming_port, "
            "enable_application_level_authorization, accept_presence_subscription, "
            "accept_out_of_dialog_refer, accept_unsolicited_notification, "
            "accept_replaces_header, transmit_security_status, allow_charging_header, "
            "sip_v150_outbound_sdp_offer_filtering, tls_policy) VALUES ('P', '', "
            "'Non Secure', 'TCP+UDP', 'TCP', 0, 600, '', 5060, 0, 0, 0, 0, 0, 0, 0, "
            "'Use Default Filter', 'modern')"
        )
        connection.exec_driver_sql(
            "INSERT INTO sip_trunk (name, description, device_pool, location, srtp_allowed, "
            "consider_traffic_secure, security_profile_id, sip_profile, "
            "dtmf_signaling_method) VALUES ('T', 'old trunk', 'Default', 'Hub_None', 0, "
            "'When using both sRTP and TLS', 1, 'Standard SIP Profile', 'No Preference')"
        )
        connection.exec_driver_sql(
            "INSERT INTO trunk_destination (trunk_id, position, address, port) "
            "VALUES (1, 0, '127.0.0.200', 5060)"
        )
        connection.exec_driver_sql(
            "INSERT INTO route_pattern (pattern, trunk_id, description, discard_digits, "
            "prefix_digits, called_party_mask) VALUES ('9898', 1, '', 'None', '', '')"
        )
    engine.dispose()
    with ConfigStore(path) as store:
        trunk = store.get_trunk("T")
        (route,) = store.list_route_patterns()
        cdrs = store.list_cdrs()
    assert trunk.description == "old trunk"
    assert [str(d) for d in trunk.destinations] == ["127.0.0.200:5060"]
    assert trunk.options_ping is False
    assert trunk.options_ping_interval == 60
    assert route.trunk == "T"
    assert cdrs == []
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == ("0005",)


def test_clear_keeps_cdrs(filled: Path) -> None:
    with ConfigStore(filled) as store:
        with store.batch() as writer:
            writer.clear()
        assert len(store.list_cdrs()) == 5


# --- CLI ----------------------------------------------------------------------

cli = typer.Typer()
cli.add_typer(cdr_cmd.app, name="cdr")
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cdr_cmd, "console", Console(width=300))
    monkeypatch.setattr(cdr_cmd, "err_console", Console(width=300, stderr=True))


def test_cli_list_filters(filled: Path) -> None:
    node_dir = str(filled.parent)
    result = runner.invoke(
        cli,
        ["cdr", "list", "--node-dir", node_dir, "--since", "2026-12-05T11:00:00", "--limit", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "call-3" in result.output
    assert "call-4" in result.output
    assert "call-2" not in result.output
    assert "200 BYE" in result.output
    assert "2026-12-05 13:00:00Z" in result.output


def test_cli_list_until(filled: Path) -> None:
    node_dir = str(filled.parent)
    result = runner.invoke(
        cli, ["cdr", "list", "--node-dir", node_dir, "--until", "2026-12-05T11:00:00+00:00"]
    )
    assert result.exit_code == 0, result.output
    assert "call-0" in result.output
    assert "call-1" not in result.output


def test_cli_list_bad_time(filled: Path) -> None:
    result = runner.invoke(
        cli, ["cdr", "list", "--node-dir", str(filled.parent), "--since", "yesterday"]
    )
    assert result.exit_code == 1
    assert "'yesterday' is not an ISO 8601 time" in result.output


def test_cli_list_missing_database(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["cdr", "list", "--node-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "No configuration database" in result.output


def test_cli_export_csv(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "cdrs.csv"
    result = runner.invoke(
        cli,
        [
            "cdr",
            "export",
            "--node-dir",
            str(filled.parent),
            "--out",
            str(out),
            "--since",
            "2026-12-05T12:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 3 call detail records" in result.output
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["call_id"] for row in rows] == ["call-2", "call-3", "call-4"]
    assert rows[0]["state"] == "cleared"
