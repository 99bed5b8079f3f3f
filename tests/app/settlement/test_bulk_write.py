"""The sheet's lines are written in bulk: the same rows and audit entries as one ORM object each.

``orm_write_lines`` below is the former writer (one ``SettlementLine`` object per line, flushed
level by level, audited by the flush listener), kept here as the reference the bulk writer in
``_write_lines`` must match: columns, parent links, positions, amounts, the order of the
ids, and the audit entries (which must keep the chain valid).
"""

from __future__ import annotations

import enum
import json
import random
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from assessments.cascade.text import approx
from assessments.money import exact_decimal, round_half_up
from fdoctor.audit.models import AuditBaseline, AuditEntry
from fdoctor.audit.verify import verify
from fdoctor.extensions import db
from fdoctor.settlement.build import LEVEL_DEPTH, build_settlement, preview
from fdoctor.settlement.cascade import (
    canonical_json,
    canonical_json_bytes,
    sha256_of,
    sha256_of_canonical,
)
from fdoctor.settlement.models import MemberRating, Settlement, SettlementLine
from fdoctor.settlement.population import signed_population, signed_population_by_level
from fdoctor.settlement.queries import integrity_ok, stored_digest, visible_lines
from tests.factories.settlement import YEAR
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def orm_write_lines(settlement: Settlement, outputs: list[dict[str, Any]]) -> None:
    """The reference: the lines as ORM objects, level by level so each parent has its id first."""
    ids: dict[str, int] = {}
    by_depth: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for position, line in enumerate(outputs):
        by_depth[LEVEL_DEPTH[line["level"]]].append((position, line))
    for depth in sorted(by_depth):
        rows = []
        for position, line in by_depth[depth]:
            source = line.get("source") or {}
            rows.append(
                SettlementLine(
                    settlement_id=settlement.id,
                    position=position,
                    key=line["key"],
                    level=line["level"],
                    parent_id=ids[line["parent"]] if line["parent"] else None,
                    unit_id=line["unit_id"],
                    user_id=line["user_id"],
                    name=line["name"],
                    county_id=line["county_id"],
                    institution_id=line["institution_id"],
                    team_id=line["team_id"],
                    signed_population=line["signed_population"],
                    score=Decimal(line["score"]) if line["score"] is not None else None,
                    source_assessment_id=source.get("assessment_id"),
                    source_revision=source.get("revision"),
                    source_period=source.get("period"),
                    weight=line["weight"],
                    share=line["share"],
                    share_display=line["share_display"],
                    exact_fen=line["exact_fen"],
                    entitled_fen=line["entitled_fen"],
                    preallocated_fen=line["preallocated_fen"],
                    balance_fen=line["balance_fen"],
                    rounding_adjustment=line["rounding_adjustment"],
                    explanation=canonical_json(line["explanation"]),
                )
            )
        db.session.add_all(rows)
        db.session.flush()
        for row in rows:
            ids[row.key] = row.id


def stored_lines(settlement: Settlement) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The sheet's rows as written (read back with Core), and each id's key."""
    rows = [
        dict(row)
        for row in db.session.execute(
            select(SettlementLine.__table__).where(SettlementLine.settlement_id == settlement.id)
        ).mappings()
    ]
    return rows, {row["id"]: row["key"] for row in rows}


def by_key_without_ids(rows: list[dict[str, Any]], keys: dict[int, str]) -> dict[str, Any]:
    """Rows keyed by line key, ids replaced by keys (ids differ from one write to the next)."""
    result = {}
    for row in rows:
        row = dict(row)
        row.pop("id")
        row["parent_id"] = keys.get(row["parent_id"]) if row["parent_id"] else None
        result[row["key"]] = row
    return result


def line_entries(after_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > after_id, AuditEntry.table_name == "settlement_line")
            .order_by(AuditEntry.id)
        )
    )


def entry_view(entry: AuditEntry, keys: dict[int, str]) -> dict[str, Any]:
    after = json.loads(entry.after or "null")
    row_key = keys[int(entry.row_id)]
    after["id"] = row_key
    after["parent_id"] = keys.get(after["parent_id"]) if after["parent_id"] else None
    return {"action": entry.action, "row": row_key, "before": entry.before, "after": after}


def last_entry_id() -> int:
    return db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0


def test_bulk_written_lines_equal_what_one_orm_object_per_line_wrote(world: Any) -> None:
    mark = last_entry_id()
    settlement, changed = build_settlement(YEAR, "settlement", None)
    db.session.flush()
    assert changed
    bulk_rows, bulk_keys = stored_lines(settlement)
    bulk_entries = line_entries(mark)
    outputs = json.loads(settlement.outputs_json)
    assert len(bulk_rows) == len(outputs) > 20

    # The same outputs through the reference writer, in place of the bulk-written lines.
    db.session.execute(
        delete(SettlementLine).where(SettlementLine.settlement_id == settlement.id),
        execution_options={"synchronize_session": False},
    )
    orm_write_lines(settlement, outputs)
    orm_rows, orm_keys = stored_lines(settlement)

    # Every column, parent links (as keys), positions and amounts.
    assert by_key_without_ids(bulk_rows, bulk_keys) == by_key_without_ids(orm_rows, orm_keys)
    # Ids handed out in the same order: by depth (parents first), then by position.
    assert [bulk_keys[i] for i in sorted(bulk_keys)] == [orm_keys[i] for i in sorted(orm_keys)]
    bulk_by_key = {row["key"]: row for row in bulk_rows}
    for line in outputs:
        row = bulk_by_key[line["key"]]
        assert row["position"] == outputs.index(line)
        parent = bulk_keys.get(row["parent_id"]) if row["parent_id"] else None
        assert parent == (line["parent"] or None)
        assert row["entitled_fen"] == line["entitled_fen"]
    # One keyed bulk-write entry for the sheet's lines, not one entry per line.
    assert [(e.action, e.row_id) for e in bulk_entries] == [
        ("bulk_load", f"settlement:{settlement.id}")
    ]
    load = json.loads(bulk_entries[0].after or "{}")
    assert load["rows"] == load["baseline"]["count"] == len(bulk_rows)


def baselined(settlement: Settlement) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AuditBaseline)
            .where(
                AuditBaseline.table_name == "settlement_line",
                AuditBaseline.row_id.in_(
                    select(SettlementLine.id).where(SettlementLine.settlement_id == settlement.id)
                ),
            )
        )
        or 0
    )


def test_the_audit_chain_and_the_records_verify_after_a_bulk_write(world: Any) -> None:
    # The hand-built world writes a few records past the ORM; whatever it reports stays the same.
    known = verify(db.session).problems
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert verify(db.session, check_records=False).ok
    assert verify(db.session).problems == known
    rows, _keys = stored_lines(settlement)
    assert baselined(settlement) == len(rows) > 20


def test_verify_names_a_line_changed_or_removed_behind_the_app(world: Any) -> None:
    known = verify(db.session).problems
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    rows, _keys = stored_lines(settlement)
    member = next(r for r in rows if r["level"] == "member")
    reserve = next(r for r in rows if r["level"] == "reserve")
    db.session.execute(
        update(SettlementLine).where(SettlementLine.id == member["id"]).values(entitled_fen=1)
    )
    db.session.execute(delete(SettlementLine).where(SettlementLine.id == reserve["id"]))
    db.session.commit()
    problems = [p for p in verify(db.session).problems if p not in known]
    assert problems == [
        f"settlement_line 第 {member['id']} 行被绕过系统修改（与批量载入时的内容不符）",
        f"settlement_line 第 {reserve['id']} 行被绕过系统删除（批量载入的记录）",
    ]


def test_a_recomputed_draft_replaces_its_lines_and_no_stale_line_is_served(world: Any) -> None:
    known = verify(db.session).problems
    city = make_user("city-user", "city_admin", world["city"])
    settlement, _changed = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    loaded = visible_lines(settlement, city)  # held: the session keeps them
    before = {line.key: line.entitled_fen for line in loaded}
    assert before
    nurse = world.users["T1N"]
    rating = db.session.scalar(
        select(MemberRating).where(MemberRating.user_id == nurse.id, MemberRating.year == YEAR)
    )
    assert rating is not None
    rating.c = Decimal("0.8")
    db.session.flush()
    # No commit in between: the lines loaded above are still in the session, unexpired, and a
    # new line may get an old line's id (SQLite).
    again, changed = build_settlement(YEAR, "settlement", city)
    db.session.flush()
    assert changed and again.id == settlement.id and again.version == 2
    after = {line.key: line.entitled_fen for line in visible_lines(again, city)}
    assert after.keys() == before.keys() and after != before
    rows, _keys = stored_lines(again)
    assert after == {row["key"]: row["entitled_fen"] for row in rows}
    outputs = {line["key"]: line["entitled_fen"] for line in json.loads(again.outputs_json)}
    assert after == outputs
    assert integrity_ok(again)
    db.session.commit()
    # The old lines left with their baselines (one bulk_delete entry), the new ones came with
    # theirs: the chain and every record verify.
    assert verify(db.session).problems == known
    assert baselined(again) == len(rows)
    actions = [
        e.action
        for e in db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == "settlement_line")
            .order_by(AuditEntry.id)
        )
    ]
    assert actions == ["bulk_load", "bulk_delete", "bulk_load"]


def test_lines_written_with_an_entry_each_leave_with_a_delete_entry_each(world: Any) -> None:
    """A draft written before lines were audited in bulk (one create entry per line) is
    recomputed: each old line gets its delete entry, and the records still verify."""
    known = verify(db.session).problems
    outputs = preview(YEAR, "settlement")[1]
    day = datetime(YEAR + 1, 1, 2)
    settlement = Settlement(year=YEAR, kind="settlement", status="draft", version=1,
                            inputs_json="{}", outputs_json="[]", sha256="0" * 64,
                            created_at=day, computed_at=day)  # fmt: skip
    db.session.add(settlement)
    db.session.flush()
    orm_write_lines(settlement, outputs)
    db.session.commit()
    old_ids = {row["id"] for row in stored_lines(settlement)[0]}
    again, changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert changed and again.id == settlement.id
    deleted = db.session.scalars(
        select(AuditEntry.row_id).where(
            AuditEntry.table_name == "settlement_line", AuditEntry.action == "delete"
        )
    ).all()
    assert set(deleted) == {str(i) for i in old_ids}
    assert verify(db.session).problems == known


def test_an_unchanged_recomputation_writes_nothing(world: Any) -> None:
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    mark = last_entry_id()
    again, changed = build_settlement(YEAR, "settlement", None)
    db.session.flush()
    assert not changed and again.version == settlement.version == 1
    assert last_entry_id() == mark


def test_the_sheet_digest_from_the_two_texts_equals_the_digest_of_the_structures(
    world: Any,
) -> None:
    inputs, outputs, digest = preview(YEAR, "settlement")
    assert digest == sha256_of(inputs, outputs)
    assert (
        sha256_of_canonical(canonical_json_bytes(inputs), canonical_json_bytes(outputs)) == digest
    )
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    assert settlement.sha256 == digest == stored_digest(settlement)


class _Level(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, {"b": 1.5}]},
        {"a": (1, 2)},
        {1: "x"},
        [Decimal("1.5")],
    ],
)
def test_the_canonical_json_still_refuses_what_json_cannot_hold_exactly(value: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_the_canonical_json_accepts_exact_values_and_int_subclasses() -> None:
    value = {"z": [1, None, True, "中"], "a": {"n": _Level.ONE}}
    assert canonical_json(value) == '{"a":{"n":1},"z":[1,null,true,"中"]}'
    assert canonical_json(value, checked=True) == canonical_json(value)


def test_signed_population_of_every_level_at_once_equals_one_level_at_a_time(
    world: Any,
) -> None:
    as_of = date(YEAR, 12, 31)
    together = signed_population_by_level(as_of)
    assert set(together) == {"county", "institution", "team"}
    for level, counts in together.items():
        assert counts == signed_population(as_of, f"{level}_id")
    assert sum(together["team"].values()) > 0


def _approx_reference(value: Fraction, places: int = 6, sign: bool = False) -> str:
    """``cascade.approx`` as it was written first, on the core's rounding and decimal helpers."""
    rounded = round_half_up(value, places)
    text = f"{exact_decimal(rounded):,}"
    if sign and value > 0:
        text = "+" + text
    return text if rounded == value else f"≈{text}"


def test_approx_writes_every_fraction_as_the_core_helpers_do() -> None:
    rng = random.Random(7)
    values = [Fraction(0), Fraction(-1, 3), Fraction(1, 2_000_000), Fraction(-1, 2_000_000),
              Fraction(-1, 3_000_000), Fraction(123_456_789, 1), Fraction(-59, 121)]  # fmt: skip
    values += [Fraction(k, 10**9) * sign for k in range(0, 3000, 7) for sign in (1, -1)]
    for _ in range(3000):
        denominator = rng.choice([1, 2, 3, 7, 8, 121, 1000, 10**6, 10**7, rng.randint(1, 10**9)])
        values.append(Fraction(rng.randint(-(10**12), 10**12), denominator))
    for value in values:
        for places in (0, 1, 2, 6, 8):
            for sign in (False, True):
                assert approx(value, places, sign) == _approx_reference(value, places, sign)
