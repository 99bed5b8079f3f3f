"""Many rows in one PostgreSQL statement: a JSON array parameter expanded by the server.

A multi-row ``VALUES`` list carries one parameter per value (20–30 per row for the tables written
in bulk), and the driver parses such long statements afresh on every call. ``INSERT … SELECT
FROM jsonb_to_recordset(:rows)`` is short, compiled once and cached, whatever the number of rows.
Used by the tablet upload, the audit chain, opening assessments and the settlement lines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Text, bindparam, cast, column, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB


def recordset(table: Any, columns: Sequence[str], name: str = "rows") -> Select[Any]:
    """``SELECT <columns> FROM jsonb_to_recordset(:name)``, each column typed as ``table``'s,
    for ``insert(table).from_select(columns, …)``."""
    rows = (
        func.jsonb_to_recordset(cast(bindparam(name, type_=Text), JSONB))
        .table_valued(*(column(c, table.c[c].type) for c in columns))
        .render_derived(name="r", with_types=True)
    )
    return select(*(rows.c[c] for c in columns))


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # exact: the server reads the text into the numeric column
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_plain)


def encode_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The JSON array of ``rows`` for :func:`recordset` (decimals as exact text, dates ISO)."""
    return _ENCODER.encode(list(rows))


_inserts: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool], Any] = {}


def insert_rows(
    connection: Any,
    table: Any,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    returning: Sequence[str] = (),
    by_id: bool = False,
) -> list[Any]:
    """PostgreSQL: ``INSERT INTO table (columns) SELECT … FROM jsonb_to_recordset(:rows)``, the
    statement built once per table, columns and ``returning`` and cached; ``by_id`` inserts in id
    order. Returns the ``returning`` columns of each row (nothing without them)."""
    if not rows:
        return []
    cols = tuple(columns if columns is not None else rows[0])
    key = (table.name, cols, tuple(returning), by_id)
    stmt = _inserts.get(key)
    if stmt is None:
        sent = recordset(table, cols)
        if by_id:
            sent = sent.order_by(sent.selected_columns.id)
        stmt = insert(table).from_select(list(cols), sent)
        if returning:
            stmt = stmt.returning(*(table.c[name] for name in returning))
        _inserts[key] = stmt
    result = connection.execute(stmt, {"rows": encode_rows(rows)})
    return list(result.all()) if returning else []
