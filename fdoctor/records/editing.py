"""Offline edits of a tablet upload: each names the record, its own id (``edit_uuid``) and the
version it started from. An edit seen before is reported as it went then; a new one is checked,
placed and applied by compare-and-set, or, when someone moved the record first, kept as a
conflicting version for a reviewer (``conflicts.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from fdoctor.core import clock, dialect
from fdoctor.core.scope import scoped
from fdoctor.extensions import db
from fdoctor.records.context import load_context, same_day_ids
from fdoctor.records.drafts import Draft, is_uuid, parse_draft
from fdoctor.records.models import ServiceRecord, ServiceRecordVersion
from fdoctor.records.placing import place
from fdoctor.records.results import ItemResult, lower_uuid, text_or_none
from fdoctor.records.versions import apply_data, claim_version, draft_data, keep_previous

# (item index, raw item, client id, edit id, base version) of an edit whose ids are well formed
_Envelope = tuple[int, Mapping[str, Any], str, str, int]
# (item index, record, edit id, base version, draft) of an edit ready to be placed
_Parsed = tuple[int, ServiceRecord, str, int, Draft]


def apply_edits(
    user: Any,
    device_id: str | None,
    edits: list[tuple[int, Mapping[str, Any]]],
    results: list[ItemResult | None],
    now: datetime,
    today: date,
) -> None:
    """Apply the offline edits of a batch (``edits``: item index and raw item); fill ``results``."""
    envelopes = _envelopes(edits, results)
    if not envelopes:
        return
    parsed, repeats = _parse_edits(user, envelopes, results, today)
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
            user, device_id, record, base, edit_uuid, draft_data(draft, placement),
            placement.entered_at, duplicate, warnings,
        )  # fmt: skip
    _report_repeats(repeats, results)


def _envelopes(
    edits: list[tuple[int, Mapping[str, Any]]], results: list[ItemResult | None]
) -> list[_Envelope]:
    """The edits whose record id, edit id and base version are well formed; the others get their
    result now."""
    envelopes: list[_Envelope] = []
    for i, raw in edits:
        client_uuid = lower_uuid(raw.get("client_uuid"))
        edit_uuid = lower_uuid(raw.get("edit_uuid"))
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
                text_or_none(client_uuid),
                edit_uuid=text_or_none(edit_uuid),
                errors=errors,
            )
            continue
        assert isinstance(base, int)
        envelopes.append((i, raw, client_uuid, edit_uuid, base))
    return envelopes


def _parse_edits(
    user: Any, envelopes: list[_Envelope], results: list[ItemResult | None], today: date
) -> tuple[list[_Parsed], list[tuple[int, int]]]:
    """The edits ready to be placed, and those repeating an earlier item's edit id (index, index
    of the first); an edit of an unknown record, one seen before, one refused or one that does
    not parse gets its result now."""
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
    parsed: list[_Parsed] = []
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
        elif edit_uuid in known:
            results[i] = _replayed_edit(record, known[edit_uuid])
        else:
            outcome = _parse_edit(raw, record, client_uuid, edit_uuid, base, today)
            if isinstance(outcome, ItemResult):
                results[i] = outcome
            else:
                parsed.append((i, record, edit_uuid, base, outcome))
    return parsed, repeats


def _parse_edit(
    raw: Mapping[str, Any],
    record: ServiceRecord,
    client_uuid: str,
    edit_uuid: str,
    base: int,
    today: date,
) -> Draft | ItemResult:
    """The draft of a new edit of ``record``, or the refusal to report."""
    problem = _edit_refused(raw, record, base)
    if problem:
        return ItemResult("invalid", client_uuid, id=record.id, edit_uuid=edit_uuid,
                          version=record.version, errors=problem)  # fmt: skip
    payload = {
        **raw,
        "client_uuid": client_uuid,
        "type": record.type,
        "resident_id": record.resident_id,
        "team_id": record.team_id,
    }
    draft, errors = parse_draft(payload, today)
    if draft is None:
        return ItemResult("invalid", client_uuid, id=record.id, edit_uuid=edit_uuid, errors=errors)
    return draft


def _report_repeats(repeats: list[tuple[int, int]], results: list[ItemResult | None]) -> None:
    """An item repeating an earlier one's edit id reports what became of the first."""
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
    if claim_version(record.id, base, user.id):
        db.session.refresh(record)  # the state we now hold the lock on
        keep_previous(record, version=base, edit_uuid=edit_uuid, device_id=device_id,
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
