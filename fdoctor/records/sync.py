"""The tablet's sync: one upload batch of new records and offline edits.

Operations flush; the request commits once. A batch upload is one transaction: invalid records
are reported and skipped, the valid ones are stored together (all or nothing for the valid set),
each record gets its own result.

Idempotency rests on the database, not on a prior look-up alone: ``client_uuid`` is UNIQUE and the
insert is ``INSERT … ON CONFLICT (client_uuid) DO NOTHING`` (PostgreSQL and SQLite), so two uploads
of the same record at the same moment store exactly one row and the loser reports "duplicate"
(``creating.py``, ``bulk_insert.py``). Edits carry the version they started from: a
compare-and-set ``UPDATE … WHERE version = base`` applies them, and one that lost the race is kept
as a conflicting version for a reviewer (``editing.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fdoctor.core import clock
from fdoctor.records.creating import create_records
from fdoctor.records.editing import apply_edits
from fdoctor.records.evidence import clock_skew
from fdoctor.records.results import ItemResult, text_or_none

MAX_BATCH = 200


def upload_batch(
    user: Any, device_id: str | None, items: list[Any], device_time: datetime | None = None
) -> list[ItemResult]:
    """Store new records and apply edits from one device upload; one result per item, in order.

    ``device_time`` is the tablet's clock when it sent the batch: each new record keeps its
    difference to the server's clock (``clock_skew_seconds``).
    """
    now, today = clock.now(), clock.today()
    results: list[ItemResult | None] = [None] * len(items)
    creates: list[tuple[int, Mapping[str, Any]]] = []
    edits: list[tuple[int, Mapping[str, Any]]] = []
    for i, raw in enumerate(items):
        if not isinstance(raw, Mapping):
            results[i] = ItemResult("invalid", None, errors={"record": "每条记录应为 JSON 对象"})
        elif raw.get("op", "create") == "create":
            creates.append((i, raw))
        elif raw.get("op") == "update":
            edits.append((i, raw))
        else:
            results[i] = ItemResult(
                "invalid",
                text_or_none(raw.get("client_uuid")),
                errors={"op": "op 应为 create（新增）或 update（修改）"},
            )
    if creates:
        create_records(user, device_id, creates, results, now, today, clock_skew(device_time, now))
    if edits:
        apply_edits(user, device_id, edits, results, now, today)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]
