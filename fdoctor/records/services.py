"""Service-record operations: tablet uploads, offline edits and their conflicts, referral receipts.

Operations flush; the request commits once. A batch upload is one transaction: invalid records
are reported and skipped, the valid ones are stored together (all or nothing for the valid set),
each record gets its own result.

Idempotency rests on the database, not on a prior look-up alone: ``client_uuid`` is UNIQUE and the
insert is ``INSERT … ON CONFLICT (client_uuid) DO NOTHING`` (PostgreSQL and SQLite), so two uploads
of the same record at the same moment store exactly one row and the loser reports "duplicate".
Edits carry the version they started from: a compare-and-set ``UPDATE … WHERE version = base``
applies them, and one that lost the race is kept as a conflicting version for a reviewer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, select, update
from sqlalchemy.orm import joinedload

from fdoctor.core import clock, dialect
from fdoctor.core.bulk import encode_rows, recordset
from fdoctor.core.errors import UserFacingError
from fdoctor.core.roles import Role
from fdoctor.core.scope import in_scope, scope_clause, scoped
from fdoctor.extensions import db
from fdoctor.records.evidence import clock_skew
from fdoctor.records.models import (
    REFERRAL_TYPES,
    SERVICE_TYPES,
    ServiceRecord,
    ServiceRecordVersion,
)
from fdoctor.records.validation import (
    Draft,
    Placement,
    is_uuid,
    load_context,
    parse_draft,
    place,
    same_day_ids,
)

MAX_BATCH = 200
STATUSES = ("created", "updated", "duplicate", "conflict", "invalid")


class ServiceError(UserFacingError):
    """A user-facing error in Chinese; ``status`` is the HTTP status a view should answer."""

    status = 409


@dataclass
class ItemResult:
    """The outcome of one record of a batch."""

    status: str
    client_uuid: str | None
    id: int | None = None
    version: int | None = None
    edit_uuid: str | None = None
    conflict_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client_uuid": self.client_uuid,
            "status": self.status,
            "id": self.id,
            "version": self.version,
            "errors": self.errors,
            "warnings": self.warnings,
        }
        if self.edit_uuid is not None:
            out["edit_uuid"] = self.edit_uuid
        if self.conflict_id is not None:
            out["conflict_id"] = self.conflict_id
        return out


def _lower_uuid(value: Any) -> Any:
    return value.lower() if is_uuid(value) else value


# --- batch upload ---------------------------------------------------------------------------


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
                _text_or_none(raw.get("client_uuid")),
                errors={"op": "op 应为 create（新增）或 update（修改）"},
            )
    if creates:
        _create(user, device_id, creates, results, now, today, clock_skew(device_time, now))
    if edits:
        _edit(user, device_id, edits, results, now, today)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _create(
    user: Any,
    device_id: str | None,
    creates: list[tuple[int, Mapping[str, Any]]],
    results: list[ItemResult | None],
    now: datetime,
    today: date,
    skew: int | None = None,
) -> None:
    first: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    drafts: list[tuple[int, Draft]] = []
    for i, raw in creates:
        client_uuid = _lower_uuid(raw.get("client_uuid"))
        if is_uuid(client_uuid):
            if client_uuid in first:
                repeats.append((i, first[client_uuid]))
                continue
            first[client_uuid] = i
        draft, errors = parse_draft({**raw, "client_uuid": client_uuid}, today)
        if draft is None:
            results[i] = ItemResult("invalid", _text_or_none(client_uuid), errors=errors)
        else:
            drafts.append((i, draft))

    # No look-up of the batch's ids before the insert: a record already stored is not inserted
    # again (ON CONFLICT DO NOTHING) and is reported below from one look-up of the ids that were
    # not stored now, so the usual batch of new records costs no query for it.
    ctx = load_context([d for _, d in drafts], user)
    rows: list[dict[str, Any]] = []
    pending: dict[str, tuple[int, list[str]]] = {}
    refused: dict[str, tuple[int, ItemResult]] = {}
    in_batch: set[tuple[int, str, date]] = set()
    for i, d in drafts:
        placement, errors, warnings = place(d, ctx, now)
        if placement is None:
            result = ItemResult("invalid", d.client_uuid, errors=errors, warnings=warnings)
            results[i] = result
            refused[d.client_uuid] = (i, result)
            continue
        duplicate = bool(same_day_ids(d, ctx))
        key = (d.resident_id or 0, d.type, d.service_date)
        if d.resident_id is not None and key in in_batch and not duplicate:
            duplicate = True
            warnings.append(
                f"本批次中该居民在 {d.service_date.isoformat()} 已有一条“{d.type_label}”记录，"
                "请确认不是重复录入"
            )
        in_batch.add(key)
        rows.append(_new_row(d, placement, user, device_id, now, duplicate, skew))
        pending[d.client_uuid] = (i, warnings)

    inserted = _insert_ignoring_duplicates(rows)
    # Ids already stored (an upload sent again, or another upload of the same record at the same
    # moment) are duplicates, whatever their validation would say now; a refused record whose id
    # is not stored stays refused.
    stored = _stored(user, [u for u in pending if u not in inserted] + list(refused))
    for client_uuid, (i, warnings) in pending.items():
        if client_uuid in inserted:
            results[i] = ItemResult(
                "created", client_uuid, id=inserted[client_uuid], version=1, warnings=warnings
            )
        else:
            results[i] = _already_stored(client_uuid, stored.get(client_uuid))
    for client_uuid, (i, _result) in refused.items():
        if client_uuid in stored:
            results[i] = _already_stored(client_uuid, stored[client_uuid])

    for i, j in repeats:
        prior = results[j]
        assert prior is not None
        if prior.id is not None:
            results[i] = ItemResult(
                "duplicate", prior.client_uuid, id=prior.id, version=prior.version
            )
        else:
            results[i] = ItemResult(
                "invalid",
                prior.client_uuid,
                errors={"client_uuid": "同一批次中记录编号重复，且首条记录未能保存"},
            )


@dataclass(frozen=True)
class _Stored:
    id: int
    version: int
    visible: bool


def _stored(user: Any, client_uuids: list[str]) -> dict[str, _Stored]:
    """Records already holding these client ids, and whether the user may see them."""
    if not client_uuids:
        return {}
    visible = case((scope_clause(ServiceRecord, user), True), else_=False)
    rows = db.session.execute(
        select(ServiceRecord.client_uuid, ServiceRecord.id, ServiceRecord.version, visible).where(
            dialect.any_of(ServiceRecord.client_uuid, client_uuids)
        )
    ).all()
    return {r[0]: _Stored(r[1], r[2], bool(r[3])) for r in rows}


def _already_stored(client_uuid: str, stored: _Stored | None) -> ItemResult:
    if stored is None or not stored.visible:
        # Another unit's record with the same id (never by chance with random UUIDs): no details.
        return ItemResult(
            "invalid", client_uuid, errors={"client_uuid": "记录编号已被使用，请重新生成"}
        )
    return ItemResult("duplicate", client_uuid, id=stored.id, version=stored.version)


def _receipt_at(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min) if day is not None else None


def _new_row(
    d: Draft,
    p: Placement,
    user: Any,
    device_id: str | None,
    now: datetime,
    duplicate: bool,
    skew: int | None = None,
) -> dict[str, Any]:
    e = d.evidence
    return {
        "client_uuid": d.client_uuid,
        "resident_id": d.resident_id,
        "contract_id": p.contract_id,
        "doctor_id": user.id,
        "station_id": p.station_id,
        "service_date": d.service_date,
        "category": SERVICE_TYPES[d.type][0],
        "type": d.type,
        "systolic_bp": d.systolic_bp,
        "diastolic_bp": d.diastolic_bp,
        "fasting_glucose": d.fasting_glucose,
        "attendance": d.attendance,
        "topic": d.topic,
        "other_institution_id": d.other_institution_id,
        "other_institution_name": p.other_institution_name,
        "referral_received_at": _receipt_at(d.referral_receipt_on),
        "referral_received_by_id": user.id if d.referral_receipt_on else None,
        "notes": d.notes,
        "entered_at": p.entered_at,
        "entered_by_id": user.id,
        "device_id": device_id,
        "version": 1,
        "verification": "unverified",
        "possible_duplicate": duplicate,
        "uploaded_at": now,
        "clock_skew_seconds": skew,
        "form_opened_at": e.form_opened_at,
        "form_seconds": e.form_seconds,
        "latitude": e.latitude,
        "longitude": e.longitude,
        "location_accuracy_m": e.location_accuracy_m,
        "resident_signature": e.resident_signature,
        "updated_at": now,
        "updated_by_id": None,
        "county_id": p.county_id,
        "institution_id": p.institution_id,
        "team_id": p.team_id,
    }


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> dict[str, int]:
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
        created = connection.execute(_pg_insert_statement(), {"rows": _json_rows(rows)})
    else:
        created = connection.execute(_sqlite_insert_statement(), rows)
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


# The columns a new record's row carries (every column but the id); see _new_row.
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


def _pg_insert_statement() -> Any:
    stmt = _statements.get("postgresql")
    if stmt is None:
        table = ServiceRecord.__table__
        stmt = (
            dialect.insert_for(table)
            .from_select(list(_ROW_COLUMNS), recordset(table, _ROW_COLUMNS))
            .on_conflict_do_nothing(index_elements=["client_uuid"])
            .returning(table.c.id, table.c.client_uuid)
        )
        _statements["postgresql"] = stmt
    return stmt


def _sqlite_insert_statement() -> Any:
    stmt = _statements.get("sqlite")
    if stmt is None:
        table = ServiceRecord.__table__
        stmt = (
            dialect.insert_for(table)
            .on_conflict_do_nothing(index_elements=["client_uuid"])
            .returning(table.c.id, table.c.client_uuid)
        )
        _statements["sqlite"] = stmt
    return stmt


def _json_rows(rows: list[dict[str, Any]]) -> str:
    missing = set(_ROW_COLUMNS) - set(rows[0])
    if missing:  # a column left out would silently be stored as NULL
        raise ValueError(f"rows lack columns {sorted(missing)}")
    return encode_rows(rows)


# --- offline edits --------------------------------------------------------------------------


def record_data(record: ServiceRecord) -> dict[str, Any]:
    """The editable fields of a record, JSON-safe (what versions store)."""
    return {
        "service_date": record.service_date.isoformat(),
        "contract_id": record.contract_id,
        "systolic_bp": record.systolic_bp,
        "diastolic_bp": record.diastolic_bp,
        "fasting_glucose": str(record.fasting_glucose)
        if record.fasting_glucose is not None
        else None,
        "attendance": record.attendance,
        "topic": record.topic,
        "other_institution_id": record.other_institution_id,
        "other_institution_name": record.other_institution_name,
        "referral_received_at": (
            record.referral_received_at.isoformat(sep=" ")
            if record.referral_received_at is not None and record.other_institution_id is None
            else None
        ),
        "notes": record.notes,
    }


def _draft_data(d: Draft, p: Placement) -> dict[str, Any]:
    return {
        "service_date": d.service_date.isoformat(),
        "contract_id": p.contract_id,
        "systolic_bp": d.systolic_bp,
        "diastolic_bp": d.diastolic_bp,
        "fasting_glucose": str(d.fasting_glucose) if d.fasting_glucose is not None else None,
        "attendance": d.attendance,
        "topic": d.topic,
        "other_institution_id": d.other_institution_id,
        "other_institution_name": p.other_institution_name,
        "referral_received_at": (
            _receipt_at(d.referral_receipt_on).isoformat(sep=" ")  # type: ignore[union-attr]
            if d.referral_receipt_on is not None
            else None
        ),
        "notes": d.notes,
    }


def apply_data(record: ServiceRecord, data: Mapping[str, Any], author_id: int | None) -> None:
    """Write a version's fields onto the record (through the ORM, so the change is audited)."""
    record.service_date = date.fromisoformat(data["service_date"])
    record.contract_id = data.get("contract_id")
    record.systolic_bp = data.get("systolic_bp")
    record.diastolic_bp = data.get("diastolic_bp")
    glucose = data.get("fasting_glucose")
    record.fasting_glucose = Decimal(glucose) if glucose is not None else None
    record.attendance = data.get("attendance")
    record.topic = data.get("topic")
    record.notes = data.get("notes")
    if record.is_referral:
        before = record.other_institution_id
        record.other_institution_id = data.get("other_institution_id")
        record.other_institution_name = data.get("other_institution_name")
        if record.other_institution_id is None:
            # A hospital outside the system: the doctor records its paper receipt.
            received = data.get("referral_received_at")
            record.referral_received_at = datetime.fromisoformat(received) if received else None
            record.referral_received_by_id = author_id if received else None
        elif record.other_institution_id != before:
            # Sent somewhere else now: only the new receiver may confirm it.
            record.referral_received_at = None
            record.referral_received_by_id = None
    record.updated_by_id = author_id


def _edit(
    user: Any,
    device_id: str | None,
    edits: list[tuple[int, Mapping[str, Any]]],
    results: list[ItemResult | None],
    now: datetime,
    today: date,
) -> None:
    envelopes: list[tuple[int, Mapping[str, Any], str, str, int]] = []
    for i, raw in edits:
        client_uuid = _lower_uuid(raw.get("client_uuid"))
        edit_uuid = _lower_uuid(raw.get("edit_uuid"))
        base = raw.get("base_version")
        errors: dict[str, str] = {}
        if not is_uuid(client_uuid):
            errors["client_uuid"] = "要修改的记录编号（client_uuid）缺失或格式不正确"
        if not is_uuid(edit_uuid):
            errors["edit_uuid"] = "修改编号（edit_uuid）缺失或格式不正确"
        if not isinstance(base, int) or isinstance(base, bool) or base < 1:
            errors["base_version"] = "base_version 应为修改前的版本号（正整数）"
        if errors:
            results[i] = ItemResult(
                "invalid",
                _text_or_none(client_uuid),
                edit_uuid=_text_or_none(edit_uuid),
                errors=errors,
            )
            continue
        assert isinstance(base, int)
        envelopes.append((i, raw, client_uuid, edit_uuid, base))
    if not envelopes:
        return

    targets = {
        r.client_uuid: r
        for r in db.session.scalars(
            scoped(ServiceRecord, user).where(
                ServiceRecord.client_uuid.in_({e[2] for e in envelopes})
            )
        )
    }
    known = {
        v.edit_uuid: v
        for v in db.session.scalars(
            select(ServiceRecordVersion).where(
                ServiceRecordVersion.edit_uuid.in_({e[3] for e in envelopes})
            )
        )
    }
    first: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    parsed: list[tuple[int, ServiceRecord, str, int, Draft]] = []
    for i, raw, client_uuid, edit_uuid, base in envelopes:
        record = targets.get(client_uuid)
        if edit_uuid in first:
            repeats.append((i, first[edit_uuid]))
            continue
        first[edit_uuid] = i
        if record is None:
            results[i] = ItemResult(
                "invalid",
                client_uuid,
                edit_uuid=edit_uuid,
                errors={"client_uuid": "记录不存在或不在您的管辖范围内"},
            )
            continue
        if edit_uuid in known:
            results[i] = _replayed_edit(record, known[edit_uuid])
            continue
        problem = _edit_refused(raw, record, base)
        if problem:
            results[i] = ItemResult("invalid", client_uuid, id=record.id, edit_uuid=edit_uuid,
                                    version=record.version, errors=problem)  # fmt: skip
            continue
        payload = {
            **raw,
            "client_uuid": client_uuid,
            "type": record.type,
            "resident_id": record.resident_id,
            "team_id": record.team_id,
        }
        draft, errors = parse_draft(payload, today)
        if draft is None:
            results[i] = ItemResult(
                "invalid", client_uuid, id=record.id, edit_uuid=edit_uuid, errors=errors
            )
            continue
        parsed.append((i, record, edit_uuid, base, draft))

    ctx = load_context([p[4] for p in parsed], user)
    for i, record, edit_uuid, base, draft in parsed:
        placement, errors, warnings = place(draft, ctx, now, exclude_record_id=record.id)
        if placement is None:
            results[i] = ItemResult(
                "invalid", record.client_uuid, id=record.id, edit_uuid=edit_uuid, errors=errors
            )
            continue
        duplicate = bool(same_day_ids(draft, ctx) - {record.id})
        results[i] = _apply_edit(
            user, device_id, record, base, edit_uuid, _draft_data(draft, placement),
            placement.entered_at, duplicate, warnings,
        )  # fmt: skip

    for i, j in repeats:
        prior = results[j]
        assert prior is not None
        status = "duplicate" if prior.status in {"updated", "duplicate"} else prior.status
        results[i] = ItemResult(status, prior.client_uuid, id=prior.id, version=prior.version,
                                edit_uuid=prior.edit_uuid, conflict_id=prior.conflict_id,
                                errors=prior.errors)  # fmt: skip


def _edit_refused(raw: Mapping[str, Any], record: ServiceRecord, base: int) -> dict[str, str]:
    if raw.get("type") not in (None, record.type):
        return {"type": "服务类型不能修改；如录错类型，请联系团队长处理"}
    resident = raw.get("resident_id")
    if resident not in (None, "") and str(resident) != str(record.resident_id):
        return {"resident_id": "服务对象（居民）不能修改；如录错居民，请联系团队长处理"}
    if record.verification != "unverified":
        return {"record": f"该记录已进入核实流程（{record.verification_label}），不能再修改"}
    if base > record.version:
        return {"base_version": f"base_version {base} 大于记录的当前版本 {record.version}"}
    return {}


def _replayed_edit(record: ServiceRecord, version: ServiceRecordVersion) -> ItemResult:
    """An edit the server has seen before: report what happened then, change nothing."""
    if version.record_id != record.id:
        return ItemResult(
            "invalid",
            record.client_uuid,
            edit_uuid=version.edit_uuid,
            errors={"edit_uuid": "修改编号已被使用，请重新生成"},
        )
    if version.kind == "conflict":
        return ItemResult("conflict", record.client_uuid, id=record.id, version=record.version,
                          edit_uuid=version.edit_uuid, conflict_id=version.id)  # fmt: skip
    return ItemResult(
        "duplicate", record.client_uuid, id=record.id, version=record.version,
        edit_uuid=version.edit_uuid,
    )  # fmt: skip


def _claim_version(record_id: int, base: int, user_id: int) -> bool:
    """Compare-and-set: move the record from ``base`` to ``base + 1`` if nobody did first."""
    result = db.session.execute(
        update(ServiceRecord)
        .where(ServiceRecord.id == record_id, ServiceRecord.version == base)
        .values(version=base + 1, updated_by_id=user_id, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _keep_previous(record: ServiceRecord, **extra: Any) -> None:
    db.session.add(
        ServiceRecordVersion(
            record_id=record.id,
            kind="previous",
            status="superseded",
            county_id=record.county_id,
            institution_id=record.institution_id,
            team_id=record.team_id,
            data=record_data(record),
            created_at=clock.now(),
            **extra,
        )
    )


def _apply_edit(
    user: Any,
    device_id: str | None,
    record: ServiceRecord,
    base: int,
    edit_uuid: str,
    data: dict[str, Any],
    authored_at: datetime,
    duplicate: bool,
    warnings: list[str],
) -> ItemResult:
    if _claim_version(record.id, base, user.id):
        db.session.refresh(record)  # the state we now hold the lock on
        _keep_previous(record, version=base, edit_uuid=edit_uuid, device_id=device_id,
                       author_id=user.id, authored_at=authored_at)  # fmt: skip
        apply_data(record, data, user.id)
        record.possible_duplicate = duplicate
        db.session.flush()
        return ItemResult("updated", record.client_uuid, id=record.id, version=base + 1,
                          edit_uuid=edit_uuid, warnings=warnings)  # fmt: skip
    db.session.refresh(record)
    row = {
        "record_id": record.id,
        "kind": "conflict",
        "status": "open",
        "version": base,
        "data": data,
        "edit_uuid": edit_uuid,
        "device_id": device_id,
        "author_id": user.id,
        "authored_at": authored_at,
        "created_at": clock.now(),
        "county_id": record.county_id,
        "institution_id": record.institution_id,
        "team_id": record.team_id,
    }
    stmt = (
        dialect.insert_for(ServiceRecordVersion)
        .values([row])
        .on_conflict_do_nothing(index_elements=["edit_uuid"])
        .returning(ServiceRecordVersion.id)
    )
    conflict_id = db.session.execute(stmt).scalar()
    if conflict_id is None:  # the same edit, replayed at the same moment, got there first
        return ItemResult("duplicate", record.client_uuid, id=record.id, version=record.version,
                          edit_uuid=edit_uuid)  # fmt: skip
    warnings = [
        *warnings,
        f"该记录在您修改期间已被他人修改（当前为第 {record.version} 版），"
        "您的修改已保存为待审核版本，由团队长或中心选择保留哪一版",
    ]
    return ItemResult("conflict", record.client_uuid, id=record.id, version=record.version,
                      edit_uuid=edit_uuid, conflict_id=conflict_id, warnings=warnings)  # fmt: skip


# --- reviewer's choice ----------------------------------------------------------------------


def open_conflicts(user: Any) -> Select[tuple[ServiceRecordVersion]]:
    """Open conflicts in the user's scope, oldest first, with their records."""
    return (
        scoped(ServiceRecordVersion, user)
        .where(ServiceRecordVersion.kind == "conflict", ServiceRecordVersion.status == "open")
        .options(
            joinedload(ServiceRecordVersion.record).joinedload(ServiceRecord.resident),
            joinedload(ServiceRecordVersion.record).joinedload(ServiceRecord.updated_by),
            joinedload(ServiceRecordVersion.record).joinedload(ServiceRecord.entered_by),
            joinedload(ServiceRecordVersion.author),
        )
        .order_by(ServiceRecordVersion.created_at, ServiceRecordVersion.id)
    )


def resolve_conflict(conflict: ServiceRecordVersion, choice: str, user: Any) -> None:
    """Keep the current record (``keep``) or take the conflicting edit (``take``).

    Either way both versions stay: a rejected edit stays as its conflict row, and a replaced
    current state becomes a ``previous`` row.
    """
    if conflict.kind != "conflict" or conflict.status != "open":
        raise ServiceError("该冲突已经处理过了")
    now = clock.now()
    if choice == "keep":
        conflict.status = "rejected"
    elif choice == "take":
        record = conflict.record
        current = record.version
        if not _claim_version(record.id, current, user.id):
            raise ServiceError("该记录刚被修改，请刷新页面后重新选择")
        db.session.refresh(record)
        _keep_previous(record, version=current, author_id=user.id, authored_at=now)
        apply_data(record, conflict.data, user.id)
        conflict.status = "accepted"
    else:
        raise ServiceError("请选择保留当前版本或采用冲突版本", status=400)
    conflict.resolved_by_id = user.id
    conflict.resolved_at = now
    db.session.flush()


# --- referrals ------------------------------------------------------------------------------


def receiving_institution_id(user: Any) -> int | None:
    """The institution on whose behalf the user confirms referrals (centre admin, team leader)."""
    unit = getattr(user, "org_unit", None)
    if unit is None:
        return None
    if user.role == Role.CENTRE_ADMIN and unit.kind == "institution":
        return int(unit.id)
    if user.role == Role.TEAM_LEADER and unit.kind == "team":
        return unit.institution_id
    return None


def referral_inbox(user: Any, state: str = "pending") -> Select[tuple[ServiceRecord]]:
    """Referrals addressed to the user's institution (not those their own team sent).

    This is the one read of service records outside the scope tree: a referral is addressed to
    the receiving institution, so it sees the records sent to it by other institutions' teams.
    """
    institution_id = receiving_institution_id(user)
    stmt = select(ServiceRecord).where(
        ServiceRecord.type.in_(REFERRAL_TYPES),
        ServiceRecord.other_institution_id == institution_id,
        ServiceRecord.verification != "false",
    )
    if user.role == Role.TEAM_LEADER:
        stmt = stmt.where(ServiceRecord.team_id != user.org_unit_id)
    if state == "pending":
        stmt = stmt.where(ServiceRecord.referral_received_at.is_(None))
    elif state == "received":
        stmt = stmt.where(ServiceRecord.referral_received_at.is_not(None))
    return stmt.options(
        joinedload(ServiceRecord.resident),
        joinedload(ServiceRecord.team),
        joinedload(ServiceRecord.doctor),
        joinedload(ServiceRecord.referral_received_by),
    ).order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())


def confirm_referral(record_id: int, user: Any) -> ServiceRecord:
    """Confirm receipt (确认接收) of a referral addressed to the user's institution."""
    record = db.session.get(ServiceRecord, record_id)
    institution_id = receiving_institution_id(user)
    if record is None or not record.is_referral:
        raise ServiceError("转诊记录不存在", status=404)
    own_team = user.role == Role.TEAM_LEADER and record.team_id == user.org_unit_id
    if institution_id is None or record.other_institution_id != institution_id or own_team:
        if not in_scope(record, user):
            raise ServiceError("转诊记录不存在", status=404)  # no hint that it exists
        raise ServiceError("只有接收机构可以确认接收", status=403)
    if record.referral_received_at is not None:
        raise ServiceError("该转诊已确认接收", status=409)
    record.referral_received_at = clock.now()
    record.referral_received_by_id = user.id
    db.session.flush()
    return record
