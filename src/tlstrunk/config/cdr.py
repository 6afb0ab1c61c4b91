"""Call detail records: one row per call, written off the call path.

``CdrRecord.from_report`` turns a finished call report into a record, and a
``CdrWriter`` stores records from a background thread so that the asyncio loop
handling calls never waits on SQLite. Times are timezone-aware UTC datetimes in
Python and ISO 8601 text with microseconds and ``+00:00`` in the database, so
comparing the text compares the times.
"""

from __future__ import annotations

import csv
import logging
import queue
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.exc import SQLAlchemyError

from tlstrunk.config.orm import CdrRow

__all__ = [
    "CSV_COLUMNS",
    "CdrRecord",
    "CdrWriter",
    "export_cdrs_csv",
    "record_from_row",
    "time_text",
]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH_SIZE = 200
#: Seconds the writer thread waits for a record before it checks for close().
#: Seconds the writer waits for more records before it commits a batch.
_LINGER_SECONDS = 0.25
_POLL_SECONDS = 0.2
#: Seconds SQLite waits for a lock held by another connection before failing a batch.
_BUSY_TIMEOUT = 30.0
#: Log one warning per this many dropped records after the first.
_DROP_LOG_EVERY = 1000


@dataclass(frozen=True)
class CdrRecord:
    """One node's record of one call.

    ``cause`` is the final SIP status and reason ("200 BYE", "404 Not Found"),
    or the state and the failed check or reason when no status was received
    ("failed: certificate chain"). ``duration`` is in seconds from answer to
    end and is ``None`` for unanswered calls. The packet counts are ``None``
    when the call had no media.
    """

    call_id: str
    node: str
    direction: str
    calling: str
    called: str
    trunk: str | None
    start: datetime
    answer: datetime | None
    end: datetime
    duration: float | None
    cause: str
    state: str
    secure: bool
    srtp_suite: str | None
    signalling_encrypted: bool
    packets_sent: int | None = None
    packets_received: int | None = None
    packets_decrypted: int | None = None
    packets_failed: int | None = None

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> CdrRecord:
        """Build a record from ``CallReport.to_dict()``, whose times are epoch seconds.

        A report without an end time (a call still in progress) gets the
        current time as its end.
        """
        start = _from_epoch(report["started"])
        answer = None if report.get("answered") is None else _from_epoch(report["answered"])
        ended = report.get("ended")
        # NOTE: a report handed over before finish() ends now, in its current state.
        end = datetime.now(UTC) if ended is None else _from_epoch(ended)
        duration = None if answer is None else round(max(0.0, (end - answer).total_seconds()), 3)
        media = report.get("media") or {}
        return cls(
            call_id=str(report["call_id"]),
            node=str(report["node"]),
            direction=str(report["direction"]),
            calling=str(report["calling"]),
            called=str(report["called"]),
            trunk=report.get("trunk"),
            start=start,
            answer=answer,
            end=end,
            duration=duration,
            cause=_cause(report),
            state=str(report["state"]),
            secure=bool(report.get("secure", False)),
            srtp_suite=report.get("srtp_suite"),
            signalling_encrypted=bool(report.get("signalling_encrypted", False)),
            packets_sent=_count(media, "sent"),
            packets_received=_count(media, "received"),
            packets_decrypted=_count(media, "decrypted"),
            packets_failed=_count(media, "failed"),
        )

    def to_row(self) -> CdrRow:
        """Return a new database row holding this record."""
        return CdrRow(**self.to_values())

    def to_values(self) -> dict[str, Any]:
        """Return the record as column values, times as the table stores them."""
        values: dict[str, Any] = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        for name in ("start", "answer", "end"):
            value = values[name]
            values[name] = None if value is None else time_text(value)
        return values


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


def _count(media: Mapping[str, Any], key: str) -> int | None:
    value = media.get(key)
    return None if value is None else int(value)


def _cause(report: Mapping[str, Any]) -> str:
    status = report.get("status")
    reason = report.get("reason") or ""
    if status is not None:
        return f"{status} {reason}".strip()
    detail = report.get("failed_check") or reason
    state = str(report["state"])
    return f"{state}: {detail}" if detail else state


def time_text(moment: datetime) -> str:
    """Return ``moment`` as the CDR table stores it; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def record_from_row(row: CdrRow) -> CdrRecord:
    """Return the record stored in ``row``."""
    values = {spec.name: getattr(row, spec.name) for spec in fields(CdrRecord)}
    for name in ("start", "answer", "end"):
        text = values[name]
        values[name] = None if text is None else datetime.fromisoformat(text)
    return CdrRecord(**values)


# --- CSV export --------------------------------------------------------------

CSV_COLUMNS = tuple(spec.name for spec in fields(CdrRecord))


def export_cdrs_csv(records: Iterable[CdrRecord], stream: TextIO) -> int:
    """Write a header row and one row per record to ``stream``; return the record count.

    Times are ISO 8601 in UTC, booleans ``true``/``false`` and missing values empty.
    """
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        writer.writerow(_csv_cell(getattr(record, name)) for name in CSV_COLUMNS)
        count += 1
    return count


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return time_text(value)
    return str(value)


# --- background writer -------------------------------------------------------


class CdrWriter:
    """Store CDRs from a background thread with its own SQLAlchemy engine.

    ``submit`` never blocks and never raises: when the bounded queue is full
    the record is dropped and counted in ``dropped``. The thread writes the
    queued records in batches of up to ``batch_size``. A batch that fails is
    retried one record at a time, and every record that still fails is logged
    with its call id and counted in ``failed``.

    ``gate``, when given, pauses the thread before each batch until the event
    is set; ``close`` writes the remaining records even while the gate is shut.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        max_queue: int = DEFAULT_QUEUE_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        gate: threading.Event | None = None,
    ) -> None:
        if max_queue < 1 or batch_size < 1:
            raise ValueError(
                f"max_queue ({max_queue}) and batch_size ({batch_size}) must be at least 1"
            )
        self.db_path = Path(db_path)
        self._queue: queue.Queue[CdrRecord] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._gate = gate
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._dropped = 0
        self._written = 0
        self._failed = 0
        self._thread = threading.Thread(target=self._run, name="cdr-writer", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Records rejected because the queue was full or the writer was closed."""
        with self._lock:
            return self._dropped

    @property
    def written(self) -> int:
        """Records committed to the database."""
        with self._lock:
            return self._written

    @property
    def failed(self) -> int:
        """Records the database rejected."""
        with self._lock:
            return self._failed

    def submit(self, record: CdrRecord) -> bool:
        """Queue ``record`` for writing; return False when it was dropped.

        Safe to call from any thread, including the asyncio loop.
        """
        if self._stopping.is_set():
            self._count_drop(record, "closed")
            return False
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._count_drop(record, "full")
            return False
        return True

    def close(self, timeout: float | None = 5.0) -> bool:
        """Write the queued records and stop the thread; return whether it stopped in time."""
        self._stopping.set()
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if not stopped:
            logger.error(
                "CDR writer for %s did not finish within %s s; %d records still queued",
                self.db_path,
                timeout,
                self._queue.qsize(),
            )
        return stopped

    def _count_drop(self, record: CdrRecord, why: str) -> None:
        with self._lock:
            self._dropped += 1
            dropped = self._dropped
        if dropped == 1 or dropped % _DROP_LOG_EVERY == 0:
            logger.warning(
                "dropped the CDR of call %s because the writer queue is %s (%d dropped so far)",
                record.call_id,
                why,
                dropped,
            )

    # --- thread ---------------------------------------------------------

    def _run(self) -> None:
        engine = create_engine(f"sqlite:///{self.db_path}", connect_args={"timeout": _BUSY_TIMEOUT})
        try:
            self._prepare(engine)
            while True:
                self._wait_for_gate()
                batch = self._take_batch()
                if batch:
                    self._write(engine, batch)
                elif self._stopping.is_set():
                    break
        except Exception:
            # the thread must not die silently: whatever is left in the queue is lost
            logger.exception("CDR writer for %s stopped on an unexpected error", self.db_path)
        finally:
            engine.dispose()

    def _prepare(self, engine: Engine) -> None:
        # imported here because the store imports this module for its CDR queries
        from tlstrunk.config.store import upgrade

        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        upgrade(engine)

    def _wait_for_gate(self) -> None:
        if self._gate is None:
            return
        while not self._gate.wait(_POLL_SECONDS):
            if self._stopping.is_set():
                return

    def _take_batch(self) -> list[CdrRecord]:
        try:
            first = self._queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            return []
        batch = [first]
        # Wait a moment for more records, so that a busy node commits a few times a
        # second instead of once per call.
        deadline = time.monotonic() + _LINGER_SECONDS
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, engine: Engine, batch: list[CdrRecord]) -> None:
        try:
            self._commit(engine, batch)
        except SQLAlchemyError as error:
            logger.warning(
                "writing %d CDRs failed (%s); retrying them one at a time", len(batch), error
            )
            for record in batch:
                self._write_one(engine, record)
            return
        with self._lock:
            self._written += len(batch)

    def _write_one(self, engine: Engine, record: CdrRecord) -> None:
        try:
            self._commit(engine, [record])
        except SQLAlchemyError as error:
            logger.error("could not store the CDR of call %s: %s", record.call_id, error)
            with self._lock:
                self._failed += 1
            return
        with self._lock:
            self._written += 1

    @staticmethod
    def _commit(engine: Engine, batch: list[CdrRecord]) -> None:
        # One executemany INSERT: the ORM's unit of work costs more than the
        # call it records, and this thread shares the interpreter with the calls.
        with engine.begin() as connection:
            connection.execute(insert(CdrRow), [record.to_values() for record in batch])
