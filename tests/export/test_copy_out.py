"""copy_out: COPY rows straight from libpq, byte for byte what psycopg's Copy gives.

The export's COPY loop is the hot part of every sync of the day being
written; these check the reader against psycopg's own, on a real server,
including the ways a COPY can end badly.
"""

from __future__ import annotations

import psycopg
import pytest

from superstore.clients import PgConfig
from superstore.export.dump import copy_out

# Quotes, commas, newlines, NULLs and non-ASCII text: what COPY's CSV must escape.
ROWS = """COPY (SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'a,"b"' || E'\\n' || g || 'é' END,
                 repeat('x', g % 50)
          FROM generate_series(1, 20000) AS g ORDER BY g)
TO STDOUT (FORMAT csv, HEADER)"""


def _psycopg_rows(conn: psycopg.Connection, statement: str) -> bytes:
    with conn.cursor().copy(statement) as copy:
        return b"".join(bytes(block) for block in copy)


def test_rows_equal_psycopgs_copy(pg: PgConfig) -> None:
    with pg.connect() as conn:
        ours = b"".join(bytes(row) for row in copy_out(conn, ROWS))
        assert ours == _psycopg_rows(conn, ROWS)
        assert ours.count(b"\n") > 20000  # the header, and the embedded newlines quoted
        # The connection goes on as usual, in the same transaction.
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_refused_copy_raises_the_servers_error(pg: PgConfig) -> None:
    with pg.connect() as conn:
        with pytest.raises(psycopg.errors.UndefinedTable, match="no_such_table"):
            list(copy_out(conn, "COPY no_such_table TO STDOUT"))
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_an_error_mid_copy_is_raised(pg: PgConfig) -> None:
    failing = "COPY (SELECT 1 / (g - 15000) FROM generate_series(1, 20000) g) TO STDOUT"
    with pg.connect() as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            list(copy_out(conn, failing))
        conn.rollback()
        assert conn.execute("SELECT 3").fetchone() == (3,)


def test_a_copy_abandoned_halfway_leaves_the_connection_usable(pg: PgConfig) -> None:
    with pg.connect() as conn:
        rows = copy_out(conn, ROWS)
        next(rows)
        rows.close()  # the reader stops (an error while writing the file, an interrupt)
        conn.rollback()
        assert conn.execute("SELECT 4").fetchone() == (4,)
        assert b"".join(bytes(r) for r in copy_out(conn, ROWS)) == _psycopg_rows(conn, ROWS)
