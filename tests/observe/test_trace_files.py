"""Trace writer rotation, run-time filters and the reader's filters, on real files."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tlstrunk.observe.trace import TraceEvent, TraceWriter, trace_files
from tlstrunk.observe.trace_reader import TraceFilter, read_events


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def writer(tmp_path: Path, **options: object) -> TraceWriter:
    return TraceWriter(
        tmp_path / "traces" / "sdl.txt", tmp_path / "traces" / "sdl.jsonl",
        clock=Clock(), **options,  # type: ignore[arg-type]
    )


def test_rotation_bounds_files_keeps_order(
    tmp_path: Path,
) -> None:
    trace = writer(tmp_path, max_bytes=4000, backups=5)
    for number in range(120):
        trace.info("Test", "event %d %s", number, "x" * 40)
    trace.close()
    json_files = trace_files(tmp_path / "traces" / "sdl.jsonl")
    text_files = trace_files(tmp_path / "traces" / "sdl.txt")
    assert len(json_files) >= 3, json_files  # rotated at least twice
    assert len(text_files) >= 3, text_files
    for path in json_files + text_files:
        assert path.stat().st_size <= 4000
        assert path.read_bytes().endswith(b"\n")
    events = list(read_events(tmp_path / "traces" / "sdl.jsonl"))
    assert [event.message.split()[1] for event in events] == [str(n) for n in range(120)]
    assert [event.sequence for event in events] == list(range(1, 121))


def test_rotation_deletes_files_beyond_backups(tmp_path: Path) -> None:
    trace = writer(tmp_path, max_bytes=300, backups=2)
    for number in range(50):
        trace.info("Test", "event %d", number)
    trace.close()
    names = sorted(p.name for p in (tmp_path / "traces").iterdir() if "jsonl" in p.name)
    assert names == ["sdl.jsonl", "sdl.jsonl.1", "sdl.jsonl.2"]
    events = list(read_events(tmp_path / "traces" / "sdl.jsonl"))
    assert events[-1].message == "event 49"
    numbers = [int(event.message.split()[1]) for event in events]
    assert numbers == list(range(numbers[0], 50))


def test_rotation_continues_an_existing_file(tmp_path: Path) -> None:
    first = writer(tmp_path, max_bytes=500)
    first.info("Test", "before restart")
    first.close()
    second = writer(tmp_path, max_bytes=500)
    for number in range(10):
        second.info("Test", "after %d", number)
    second.close()
    assert all(p.stat().st_size <= 500 for p in trace_files(tmp_path / "traces" / "sdl.jsonl"))
    assert next(read_events(tmp_path / "traces" / "sdl.jsonl")).message == "before restart"


class Exploding:
    def __mod__(self, other: object) -> str:
        raise AssertionError("formatted while off")


def test_level_and_components_change_at_run_time(tmp_path: Path) -> None:
    trace = writer(tmp_path)
    trace.detailed("SIPTcp", "one")
    trace.set_level("Warning")
    assert trace.level == "Warning"
    assert not trace.enabled
    trace.info("SIPTcp", Exploding(), 1)  # type: ignore[arg-type]
    trace.warning("SIPTcp", "two")
    trace.set_level("Detailed")
    trace.set_components({"DigitAnalysis"})
    assert trace.is_enabled_for("Detailed", "DigitAnalysis")
    assert not trace.is_enabled_for("Detailed", "SIPTcp")
    trace.detailed("SIPTcp", Exploding(), 1)  # type: ignore[arg-type]
    trace.info("DigitAnalysis", "three")
    trace.set_components(None)
    trace.detailed("SIPTcp", "four")
    trace.close()
    messages = [e.message for e in read_events(tmp_path / "traces" / "sdl.jsonl")]
    assert messages == ["one", "two", "three", "four"]


def test_bad_level_names_the_choices(tmp_path: Path) -> None:
    trace = writer(tmp_path)
    with pytest.raises(ValueError, match="Unknown trace level 'Verbose'; use one of Detailed"):
        trace.set_level("Verbose")
    with pytest.raises(ValueError, match="non-empty strings"):
        trace.set_components({""})
    trace.close()


def test_level_changes_from_another_thread_apply(tmp_path: Path) -> None:
    trace = writer(tmp_path)
    changer = threading.Thread(target=trace.set_level, args=("Error",))
    changer.start()
    changer.join()
    trace.warning("Test", "dropped")
    trace.error("Test", "kept")
    trace.close()
    assert [e.message for e in read_events(tmp_path / "traces" / "sdl.jsonl")] == ["kept"]


SIP_INVITE = (
    "Outgoing SIP TCP message to 127.0.0.2 on port 5061 index 1\n"
    "INVITE sip:9898@127.0.0.2 SIP/2.0\r\nCall-ID: abc@host\r\nCSeq: 1 INVITE\r\n\r\n"
)


def filled(tmp_path: Path) -> Path:
    trace = writer(tmp_path)  # events at 1_800_000_001, _002, ...
    trace.detailed("SIPTcp", SIP_INVITE)
    trace.detailed("SIPTcp", "Outgoing to x\nBYE sip:x SIP/2.0\r\nCall-ID: other@host\r\n\r\n")
    trace.info("SIPHandler", "Call abc@host connected")
    trace.info("SIPHandler", "Call abc@hostile connected")
    trace.warning("CallManager", "unrelated", call_id="abc@host")
    trace.error("DigitAnalysis", "no route")
    trace.close()
    return tmp_path / "traces" / "sdl.jsonl"


def messages(path: Path, **where: object) -> list[str]:
    return [e.message[:12] for e in read_events(path, TraceFilter.build(**where))]  # type: ignore[arg-type]


def test_reader_call_id_filter(tmp_path: Path) -> None:
    path = filled(tmp_path)
    assert messages(path, call_id="abc@host") == [
        "Outgoing SIP", "Call abc@hos", "unrelated"]
    assert messages(path, call_id="other@host") == ["Outgoing to "]


def test_reader_filters_by_time_level_and_component(tmp_path: Path) -> None:
    path = filled(tmp_path)
    start = datetime.fromtimestamp(1_800_000_002, tz=UTC)
    assert messages(path, since=start, until="2027-01-15T08:00:03+00:00") == [
        "Outgoing to ", "Call abc@hos"]
    assert messages(path, since=1_800_000_006.0) == ["no route"]
    assert messages(path, level="warning") == ["unrelated", "no route"]
    assert messages(path, components=["siphandler", "DigitAnalysis"]) == [
        "Call abc@hos", "Call abc@hos", "no route"]


def test_reader_rejects_bad_filters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'yesterday' is not an ISO 8601 time"):
        TraceFilter.build(since="yesterday")
    with pytest.raises(ValueError, match="is after the end time"):
        TraceFilter.build(since="2026-01-02T00:00:00", until="2026-01-01T00:00:00")


def test_reader_skips_a_torn_line(tmp_path: Path) -> None:
    path = filled(tmp_path)
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"seq": 7, "ti\n')
    assert len(list(read_events(path))) == 6
    assert TraceEvent.from_json(path.read_text().splitlines()[0]).sequence == 1
