"""One table of one day: server-side COPY to CSV, and the same bytes to Parquet.

PostgreSQL formats the CSV (``COPY ... TO STDOUT``); this process only moves
bytes, hashing them on the way. The very same bytes are parsed into Arrow and
written as Parquet, so both files hold exactly the same rows. A big table is
parsed by a converter thread while the COPY still streams (the Parquet work
overlaps the wait for the server); a small one, once it has arrived.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import queue
import select
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import pq as libpq

from superstore.errors import FatalError
from superstore.export.layout import Table
from superstore.export.manifest import FileEntry

if TYPE_CHECKING:
    import datetime as dt

    from fsspec import AbstractFileSystem

__all__ = ["TableDump", "dump_table"]

# Small hand-over blocks and big parse blocks: the COPY loop holds the GIL between
# rows, so the converter should need it rarely and get it often (measured on 2 cores).
_FLUSH_BYTES = 256 << 10  # hand the COPY stream on in blocks of about this size
_QUEUE_BLOCKS = 128  # at most this many blocks wait for the converter (bounded memory)
_CSV_BLOCK = 16 << 20  # pyarrow CSV block size
_ROW_GROUP = 262_144  # rows per Parquet row group: fixed, so reruns write identical bytes
_COMPRESSION = "snappy"
_SWITCH_INTERVAL = 0.0005  # seconds; Python's default 0.005 starves the converter

_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@dataclass
class TableDump:
    """What was written for one table, plus the columns the manifest sums over."""

    table: Table
    files: dict[str, FileEntry] = field(default_factory=dict)
    rows: int = 0
    kept: dict[str, list[pa.Array]] = field(default_factory=dict)

    def kept_table(self) -> pa.Table:
        """The retained columns as one Arrow table (for exact sums and counts)."""
        schema = pa.schema([self.table.schema.field(name) for name in self.kept])
        return pa.Table.from_pydict(
            {name: pa.chunked_array(chunks, schema.field(name).type) for name, chunks in
             self.kept.items()},
            schema=schema,
        )  # fmt: skip


class _BlockReader(io.RawIOBase):
    """A read-only stream over blocks handed over a queue; ``None`` marks the end.

    ``read(n)`` returns exactly ``n`` bytes until the end, so the CSV reader cuts
    the same batches whatever the sizes of the blocks the COPY produced.
    """

    def __init__(self, blocks: queue.Queue[bytes | None]) -> None:
        super().__init__()
        self._blocks = blocks
        self._pending = bytearray()
        self._eof = False
        self._lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            while not self._eof and (size < 0 or len(self._pending) < size):
                block = self._blocks.get()
                if block is None:
                    self._eof = True
                else:
                    self._pending += block
            take = len(self._pending) if size < 0 else min(size, len(self._pending))
            out = bytes(self._pending[:take])
            del self._pending[:take]
            return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Consume to the end so a producer blocked on a full queue can finish."""
        while self.read(_CSV_BLOCK):
            pass


@dataclass
class _Converted:
    rows: int
    kept: dict[str, list[pa.Array]]
    parquet: pa.Buffer


def _convert(source: Any, table: Table, keep: tuple[str, ...]) -> _Converted:
    """Parse a CSV stream (header first) and write it as Parquet into memory.

    Row groups have a fixed number of rows whatever the parse batches were, so the
    same rows always give the same bytes.
    """
    # One parsing thread keeps up with the COPY stream and costs less CPU in total
    # than pyarrow's pool, which competes with PostgreSQL on small machines.
    reader = pa_csv.open_csv(source, **table.csv_options(_CSV_BLOCK, threads=False))
    kept: dict[str, list[pa.Array]] = {name: [] for name in keep}
    rows = 0
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(
        sink, table.schema, compression=_COMPRESSION, use_dictionary=table.dictionary_columns
    ) as writer:
        pending: list[pa.Table] = []
        pending_rows = 0
        for batch in reader:
            part = table.conform(batch)
            rows += part.num_rows
            for name in keep:
                kept[name].extend(part[name].chunks)
            pending.append(part)
            pending_rows += part.num_rows
            while pending_rows >= _ROW_GROUP:
                whole = pa.concat_tables(pending)
                writer.write_table(whole.slice(0, _ROW_GROUP), row_group_size=_ROW_GROUP)
                pending = [whole.slice(_ROW_GROUP)]
                pending_rows -= _ROW_GROUP
        if pending_rows:
            writer.write_table(pa.concat_tables(pending), row_group_size=_ROW_GROUP)
    return _Converted(rows, kept, sink.getvalue())


class _ConverterThread(threading.Thread):
    """Runs ``_convert`` over blocks handed over a queue, beside the COPY loop."""

    def __init__(self, table: Table, keep: tuple[str, ...]) -> None:
        super().__init__(name=f"parquet-{table.name}", daemon=True)
        self.table = table
        self.keep = keep
        self.blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self.result: _Converted | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        source = _BlockReader(self.blocks)
        try:
            self.result = _convert(source, self.table, self.keep)
        except BaseException as exc:
            self.error = exc
            source.drain()


@contextmanager
def _frequent_gil_switches() -> Iterator[None]:
    """Let the converter thread take the GIL sooner while a big COPY streams.

    The COPY loop runs Python code between rows and so holds the GIL; with the
    default 5 ms switch interval the converter waits that long for every block
    it handles and falls behind. Process-wide, so nested users are counted and
    the last one restores the previous interval.
    """
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, _SWITCH_INTERVAL))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


class _HashingFile:
    """Writes through to a file while counting bytes and computing sha256."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | pa.Buffer) -> None:
        self._handle.write(data)
        self._sha.update(data)
        self.size += len(data)

    def entry(self, rows: int) -> FileEntry:
        return FileEntry(rows=rows, bytes=self.size, sha256=self._sha.hexdigest())


def dump_table(
    conn: psycopg.Connection,
    table: Table,
    day: dt.date,
    fs: AbstractFileSystem,
    directory: str,
    *,
    keep: tuple[str, ...] = (),
    csv: bool = True,
    parquet: bool = True,
) -> TableDump:
    """COPY ``table``'s rows of ``day`` into ``directory`` as CSV and Parquet.

    Runs in the caller's transaction (its snapshot). ``keep`` names Parquet
    columns to retain in memory for the manifest's sums. ``csv``/``parquet``
    switch a format off (benchmarks only; a partition always has both).
    """
    dump = TableDump(table)
    with _open(fs, directory, table.csv_name, csv) as handle:
        out = _HashingFile(handle)
        try:
            converted = _stream_copy(conn, table, day, out, keep if parquet or keep else None)
        except (pa.ArrowException, ValueError) as exc:
            raise FatalError(
                f"{table.csv_name} of {day}: COPY output unreadable as the layout ({exc})"
            ) from exc
    if converted is None:
        return dump
    dump.rows, dump.kept = converted.rows, converted.kept
    if csv:
        dump.files[table.csv_name] = out.entry(dump.rows)
    if parquet:
        with fs.open(f"{directory}/{table.parquet_name}", "wb") as handle:
            pq_out = _HashingFile(handle)
            pq_out.write(converted.parquet)
        dump.files[table.parquet_name] = pq_out.entry(dump.rows)
    return dump


def _stream_copy(
    conn: psycopg.Connection,
    table: Table,
    day: dt.date,
    out: _HashingFile,
    keep: tuple[str, ...] | None,
) -> _Converted | None:
    """Move the COPY stream to ``out`` and convert it (unless ``keep`` is None).

    Output that fits in one block (most days) is converted in this thread once
    complete; bigger output starts a converter thread that parses while rows arrive.
    """
    pending = bytearray()
    thread: _ConverterThread | None = None
    stack = ExitStack()

    def flush() -> None:
        nonlocal thread
        block = bytes(pending)
        pending.clear()
        out.write(block)
        if keep is not None:
            if thread is None:
                stack.enter_context(_frequent_gil_switches())
                thread = _ConverterThread(table, keep)
                thread.start()
            thread.blocks.put(block)

    try:
        for row in copy_out(conn, table.copy_sql(day)):
            pending += row
            if len(pending) >= _FLUSH_BYTES:
                flush()
        if thread is None:
            data = bytes(pending)
            out.write(data)
            return None if keep is None else _convert(pa.BufferReader(data), table, keep)
        flush()
    finally:
        if thread is not None:
            thread.blocks.put(None)
            thread.join()
        stack.close()
    assert thread is not None  # the small case returned above
    if thread.error is not None:
        raise thread.error
    return thread.result


def copy_out(conn: psycopg.Connection, statement: str) -> Iterator[memoryview]:
    """The rows of ``COPY ... TO STDOUT``, straight from libpq, in the open transaction.

    psycopg's ``Copy`` runs a generator and its wait loop for every row (about
    5 us each: a quarter second of a 50,000-line day's export, which the sync
    repeats for the day being written). Here each row that libpq already holds
    costs one call; the socket is waited on (without the GIL) only when none
    is buffered. The statement is one constant COPY of our own (no
    parameters); an error the server reports is raised as psycopg's class for
    its SQLSTATE, and an interrupted COPY is cancelled and drained so the
    connection stays usable for the rollback.
    """
    pgconn = conn.pgconn
    with conn.lock:
        pgconn.send_query(statement.encode())
        _flush(pgconn)
        first = _next_result(pgconn)
        if first is None or first.status != libpq.ExecStatus.COPY_OUT:
            _drain_results(pgconn)
            raise _result_error(first, pgconn)
        finished = False
        try:
            while True:
                nbytes, data = pgconn.get_copy_data(1)
                if nbytes > 0:
                    yield data
                elif nbytes == 0:  # nothing buffered: wait for the socket, then read it
                    select.select([pgconn.socket], [], [])
                    pgconn.consume_input()
                elif nbytes == -1:
                    break
                else:
                    raise psycopg.OperationalError(pgconn.get_error_message())
            finished = True
            last = _next_result(pgconn)
            _drain_results(pgconn)
            if last is None or last.status != libpq.ExecStatus.COMMAND_OK:
                raise _result_error(last, pgconn)
        finally:
            if not finished:
                _cancel_copy(conn, pgconn)


def _flush(pgconn: libpq.abc.PGconn) -> None:
    while pgconn.flush() == 1:
        select.select([], [pgconn.socket], [])


def _next_result(pgconn: libpq.abc.PGconn) -> libpq.abc.PGresult | None:
    """The next result, waiting (without the GIL) while libpq is busy."""
    while pgconn.is_busy():
        select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()


def _drain_results(pgconn: libpq.abc.PGconn) -> None:
    while _next_result(pgconn) is not None:
        pass


def _result_error(result: libpq.abc.PGresult | None, pgconn: libpq.abc.PGconn) -> psycopg.Error:
    if result is None:
        return psycopg.OperationalError(pgconn.get_error_message() or "COPY returned nothing")
    sqlstate = result.error_field(libpq.DiagnosticField.SQLSTATE)
    message = (result.error_message or b"").decode(errors="replace").strip()
    kind = psycopg.errors.lookup(sqlstate.decode()) if sqlstate else psycopg.DatabaseError
    return kind(message or f"COPY ended with status {libpq.ExecStatus(result.status).name}")


def _cancel_copy(conn: psycopg.Connection, pgconn: libpq.abc.PGconn) -> None:
    """Stop a COPY left half-read (an error, an interrupt): cancel it, read to its end."""
    with contextlib.suppress(Exception):
        conn.cancel_safe(timeout=5.0)
    with contextlib.suppress(Exception):
        while True:
            nbytes, _ = pgconn.get_copy_data(0)
            if nbytes < 0:
                break
        _drain_results(pgconn)


class _NullFile:
    def write(self, data: Any) -> None:
        pass

    def __enter__(self) -> _NullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _open(fs: AbstractFileSystem, directory: str, name: str, enabled: bool) -> Any:
    return fs.open(f"{directory}/{name}", "wb") if enabled else _NullFile()
