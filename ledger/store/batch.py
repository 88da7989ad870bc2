"""Write many rows in one statement: a multi-row VALUES list with plain parameters.

Cheaper than `executemany` for the few rows a command writes (one statement instead of one per
row), and JSON travels as plain text parameters, which psycopg sends without escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import psycopg

from ledger import limits

__all__ = ["execute_values"]


@cache
def _statement(head: str, row: str, tail: str, count: int) -> str:
    return f"{head} VALUES {', '.join([row] * count)} {tail}"


def execute_values(
    cur: psycopg.Cursor[Any], head: str, row: str, tail: str, rows: Sequence[Sequence[Any]]
) -> None:
    """Run `head VALUES row, row, … tail` for `rows`, in as few statements as the limit allows.

    For an upsert (`tail` with ON CONFLICT … DO UPDATE) the rows must have distinct keys.
    """
    if not rows:
        return
    width = len(rows[0])
    step = max(1, limits.STATEMENT_PARAMETERS_MAX // width)
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        params: list[Any] = []
        for values in chunk:
            params.extend(values)
        cur.execute(_statement(head, row, tail, len(chunk)), params)
