"""New records of a tablet upload: parse and place each, insert the valid ones together, and report
each item (created, duplicate of a record already stored, invalid)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, select

from fdoctor.core import dialect
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.records.bulk_insert import insert_ignoring_duplicates
from fdoctor.records.context import Context, load_context, same_day_ids
from fdoctor.records.drafts import Draft, is_uuid, parse_draft
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord
from fdoctor.records.placing import Placement, place
from fdoctor.records.results import ItemResult, lower_uuid, text_or_none
from fdoctor.records.versions import receipt_at


@dataclass
class _Placed:
    """A batch's drafts once placed: the rows to insert, and the items waiting on the insert."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    # client id -> (item index, warnings): created, or already stored, is known after the insert
    pending: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    # client id -> (item index, its refusal): reported as a duplicate if the id is stored
    refused: dict[str, tuple[int, ItemResult]] = field(default_factory=dict)


def create_records(
    user: Any,
    device_id: str | None,
    creates: list[tuple[int, Mapping[str, Any]]],
    results: list[ItemResult | None],
    now: datetime,
    today: date,
    skew: int | None = None,
) -> None:
    """Store the new records of a batch (``creates``: item index and raw item); fill ``results``."""
    drafts, repeats = _parse_creates(creates, results, today)
    # No look-up of the batch's ids before the insert: a record already stored is not inserted
    # again (ON CONFLICT DO NOTHING) and is reported below from one look-up of the ids that were
    # not stored now, so the usual batch of new records costs no query for it.
    ctx = load_context([d for _, d in drafts], user)
    placed = _place_drafts(drafts, ctx, results, user, device_id, now, skew)
    inserted = insert_ignoring_duplicates(placed.rows)
    _report_stored(user, placed, inserted, results)
    _report_repeats(repeats, results)


def _parse_creates(
    creates: list[tuple[int, Mapping[str, Any]]], results: list[ItemResult | None], today: date
) -> tuple[list[tuple[int, Draft]], list[tuple[int, int]]]:
    """The drafts of the items that parse, and the items repeating an earlier item's client id
    (index, index of the first); an item that does not parse gets its result now."""
    first: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    drafts: list[tuple[int, Draft]] = []
    for i, raw in creates:
        client_uuid = lower_uuid(raw.get("client_uuid"))
        if is_uuid(client_uuid):
            if client_uuid in first:
                repeats.append((i, first[client_uuid]))
                continue
            first[client_uuid] = i
        draft, errors = parse_draft({**raw, "client_uuid": client_uuid}, today)
        if draft is None:
            results[i] = ItemResult("invalid", text_or_none(client_uuid), errors=errors)
        else:
            drafts.append((i, draft))
    return drafts, repeats


def _place_drafts(
    drafts: list[tuple[int, Draft]],
    ctx: Context,
    results: list[ItemResult | None],
    user: Any,
    device_id: str | None,
    now: datetime,
    skew: int | None,
) -> _Placed:
    """Place each draft (its contract, station, team): a row to insert, or a refusal."""
    placed = _Placed()
    in_batch: set[tuple[int, str, date]] = set()
    for i, d in drafts:
        placement, errors, warnings = place(d, ctx, now)
        if placement is None:
            result = ItemResult("invalid", d.client_uuid, errors=errors, warnings=warnings)
            results[i] = result
            placed.refused[d.client_uuid] = (i, result)
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
        placed.rows.append(_new_row(d, placement, user, device_id, now, duplicate, skew))
        placed.pending[d.client_uuid] = (i, warnings)
    return placed


def _report_stored(
    user: Any, placed: _Placed, inserted: dict[str, int], results: list[ItemResult | None]
) -> None:
    """The results of the placed items once the insert is done.

    Ids already stored (an upload sent again, or another upload of the same record at the same
    moment) are duplicates, whatever their validation would say now; a refused record whose id is
    not stored stays refused.
    """
    pending, refused = placed.pending, placed.refused
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


def _report_repeats(repeats: list[tuple[int, int]], results: list[ItemResult | None]) -> None:
    """An item repeating an earlier one's client id reports what became of the first."""
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
        "referral_received_at": receipt_at(d.referral_receipt_on),
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
