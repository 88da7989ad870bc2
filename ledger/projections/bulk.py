"""Bulk writes for replays (rebuild, audit): rows go to the server with COPY, not INSERT.

COPY has no statement to parse and no parameters to bind, and psycopg formats its rows in C:
for the thousands of rows a replay batch writes it is several times cheaper than a multi-row
INSERT. It cannot resolve conflicts, so it only writes rows whose keys are new.

Names are unqualified: in the audit they resolve to its temporary shadow tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import psycopg

__all__ = ["copy_rows"]


@cache
def _copy_statement(table: str, columns: tuple[str, ...]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


def copy_rows(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Append `rows` (values in `columns` order; JSON as text) to `table` in one COPY."""
    if not rows:
        return
    with cur.copy(_copy_statement(table, columns)) as copy:
        write_row = copy.write_row
        for row in rows:
            write_row(row)
