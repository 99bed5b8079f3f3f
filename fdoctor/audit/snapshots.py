"""The values the trail stores: a row's snapshot, JSON-safe and stable, with secret columns
replaced by a keyed digest and ignored ones left out, and the canonical text the chain hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect

from fdoctor.audit.keys import audit_key, mac
from fdoctor.audit.tables import DIGEST_PREFIX, DIGESTED, IGNORED, REDACTED

_PLAIN = frozenset({str, int, bool, float, type(None)})


def jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # most columns: as they are (isinstance below is 4× slower)
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _redacted(table: str, column: str, value: Any) -> str | None:
    """A keyed digest standing in for a secret column's value (None stays None)."""
    if value is None:
        return None
    return "hmac:" + mac(audit_key(), f"{table}.{column}|{value}")[:16]


def _digested(value: Any) -> Any:
    """The stand-in of a ``DIGESTED`` column's value (None, and a stand-in, stay as they are)."""
    if not isinstance(value, str) or value.startswith(DIGEST_PREFIX):
        return value
    return DIGEST_PREFIX + hashlib.sha256(value.encode("utf-8")).hexdigest()


def clean(table: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """Drop ignored columns, replace secret ones and digest large ones (see ``REDACTED``,
    ``IGNORED`` and ``DIGESTED``)."""
    if table is None or (table not in REDACTED and table not in IGNORED and table not in DIGESTED):
        return data
    for column in IGNORED.get(table, ()):
        data.pop(column, None)
    for column in REDACTED.get(table, ()):
        if column in data:
            data[column] = _redacted(table, column, data[column])
    for column in DIGESTED.get(table, ()):
        if column in data:
            data[column] = _digested(data[column])
    return data


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of a mapped object, JSON-safe and stable."""
    mapper = inspect(obj).mapper
    data = {col.key: jsonable(getattr(obj, col.key)) for col in mapper.column_attrs}
    return clean(getattr(obj, "__tablename__", None), data)


def row_snapshot(row: dict[str, Any], table: str | None = None) -> dict[str, Any]:
    return clean(table, {k: jsonable(v) for k, v in row.items()})


# One encoder for every entry: json.dumps with options builds a new encoder on each call.
_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
)


def canonical(data: Any) -> str:
    """The stable text of a value (keys sorted, no spaces): what the chain hashes."""
    return _CANONICAL.encode(data)
