"""New records' rows into the database in one statement: ``INSERT … ON CONFLICT (client_uuid) DO
NOTHING``, each stored row audited and counted in the tallies in the same transaction."""

from __future__ import annotations

from typing import Any

from fdoctor.core import dialect
from fdoctor.core.bulk import encode_rows, recordset
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord


def insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> dict[str, int]:
    """INSERT … ON CONFLICT (client_uuid) DO NOTHING; the ids of the rows stored.

    One statement for all rows, compiled once and cached (no ORM unit of work on this path), that
    returns the id of each row it stored. The rows give every column (nothing is left to a
    default, and no trigger changes an inserted row), so a stored row is exactly the row sent plus
    its id: that is what is audited, without reading the rows back. On PostgreSQL the rows travel
    as one JSON array expanded by ``jsonb_to_recordset``: a multi-row VALUES list would carry 30
    parameters per record, and the driver parses such long statements afresh on every call. On
    SQLite, SQLAlchemy's "insert many values" sends multi-row INSERTs.
    """
    if not rows:
        return {}
    connection = db.session.connection()
    if dialect.is_postgresql(connection):
        created = connection.execute(_insert_statement("postgresql"), {"rows": _json_rows(rows)})
    else:
        created = connection.execute(_insert_statement("sqlite"), rows)
    ids = sorted(created.all(), key=lambda r: r[0])  # (id, client_uuid), in the chain's order
    if ids:
        # The bulk path bypasses the ORM's audit listener: log each created record here, as the
        # database holds it, in the same transaction.
        from fdoctor.audit.chain import write_entries

        sent = {row["client_uuid"]: row for row in rows}
        write_entries(
            connection,
            [
                ("create", "service_record", str(record_id), None,
                 _snapshot({"id": record_id, **sent[client_uuid]}))
                for record_id, client_uuid in ids
            ],
            bulk=True,
        )  # fmt: skip
        from fdoctor.tallies.services import record_rows_inserted

        record_rows_inserted(connection, (sent[client_uuid] for _id, client_uuid in ids))
    return {client_uuid: record_id for record_id, client_uuid in ids}


def _snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """``audit.snapshots.row_snapshot`` of a row, converting only the columns that need it.

    Only date, time and numeric columns hold values the audit's ``jsonable`` changes; every other
    value is kept as it is, exactly as ``row_snapshot`` would.
    """
    from fdoctor.audit.snapshots import jsonable

    out = dict(row)
    for name in _converted():
        value = out[name]
        if value is not None:
            out[name] = jsonable(value)
    return out


# The columns a new record's row carries (every column but the id); see
# ``creating._new_row``.
_ROW_COLUMNS = tuple(c.name for c in ServiceRecord.__table__.columns if c.name != "id")
_statements: dict[str, Any] = {}
_converted_columns: tuple[str, ...] | None = None


def _converted() -> tuple[str, ...]:
    """The columns whose values are dates, times or decimals (see _snapshot).

    Read on first use: a foreign key column's type is known only once its target table is.
    """
    global _converted_columns
    if _converted_columns is None:
        plain = (int, str, bool)
        _converted_columns = tuple(
            c.name for c in ServiceRecord.__table__.columns if c.type.python_type not in plain
        )
    return _converted_columns


def _insert_statement(engine: str) -> Any:
    """The INSERT … ON CONFLICT (client_uuid) DO NOTHING RETURNING of new rows, built once per
    engine; on PostgreSQL it reads the rows from their JSON array (``recordset``)."""
    stmt = _statements.get(engine)
    if stmt is None:
        table = ServiceRecord.__table__
        stmt = dialect.insert_for(table)
        if engine == "postgresql":
            stmt = stmt.from_select(list(_ROW_COLUMNS), recordset(table, _ROW_COLUMNS))
        stmt = stmt.on_conflict_do_nothing(index_elements=["client_uuid"]).returning(
            table.c.id, table.c.client_uuid
        )
        _statements[engine] = stmt
    return stmt


def _json_rows(rows: list[dict[str, Any]]) -> str:
    missing = set(_ROW_COLUMNS) - set(rows[0])
    if missing:  # a column left out would silently be stored as NULL
        raise ValueError(f"rows lack columns {sorted(missing)}")
    return encode_rows(rows)
