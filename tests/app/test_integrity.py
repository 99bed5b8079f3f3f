"""Database-enforced locks: published assessments and service records of a published L3 period
cannot be changed or deleted, even with raw SQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.assessments.triggers import MSG_SUPERSEDE
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from tests.factories.households import make_household
from tests.factories.org import make_tree
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def _assessment(
    unit_id: int, level: str, period: str, status: str, *, revision: int = 1, current: bool = True
) -> Assessment:
    a = Assessment(
        level=level,
        period=period,
        unit_id=unit_id,
        revision=revision,
        is_current=current,
        index_code="city-2026",
        status="draft",
        total=Decimal("80.00"),
        opened_at=datetime(2027, 1, 1),
        due_on=date(2027, 1, 31),
    )
    db.session.add(a)
    db.session.flush()
    db.session.add(
        AssessmentItem(
            assessment_id=a.id,
            code="A1",
            name="签约覆盖率",
            dimension="A",
            max_points=Decimal(5),
            rule="ratio_to_target",
            points=Decimal("4.00"),
        )
    )
    db.session.flush()
    a.status = status  # items are written before publication, as the workflow does
    db.session.flush()
    return a


def _record(day: date) -> ServiceRecord:
    tree = make_tree()
    household = make_household(tree.team, members=2)
    doctor = make_user("doc", "doctor", tree.team)
    record = ServiceRecord(
        client_uuid=f"u-{day.isoformat()}",
        resident_id=household.residents[0].id,
        doctor_id=doctor.id,
        entered_by_id=doctor.id,
        service_date=day,
        category="basic_medical",
        type="consultation",
        entered_at=datetime(day.year, day.month, day.day, 10),
        county_id=tree.team.county_id,
        institution_id=tree.team.institution_id,
        team_id=tree.team.id,
    )
    db.session.add(record)
    db.session.flush()
    return record


def _refused(sql: str, **params: object) -> None:
    with pytest.raises(DatabaseError) as info, db.session.begin_nested():
        db.session.execute(text(sql), params)
    assert "不可" in str(info.value)


def test_published_assessment_scores_cannot_change_with_raw_sql(app: Flask) -> None:
    tree = make_tree()
    a = _assessment(tree.team.id, "L1", "2026-10", "published")
    _refused("UPDATE assessment SET total = 99 WHERE id = :i", i=a.id)
    _refused("DELETE FROM assessment WHERE id = :i", i=a.id)
    _refused("UPDATE assessment_item SET points = 5 WHERE assessment_id = :i", i=a.id)
    _refused("DELETE FROM assessment_item WHERE assessment_id = :i", i=a.id)


def test_published_assessment_may_still_be_acknowledged_and_superseded(app: Flask) -> None:
    tree = make_tree()
    leader = make_user("leader", "team_leader", tree.team)
    a = _assessment(tree.team.id, "L1", "2026-10", "published")
    # Acknowledged by the assessee, recorded as the workflow records it.
    db.session.execute(
        text(
            "UPDATE assessment SET status = 'acknowledged', acknowledged_at = :t, "
            "acknowledged_by_id = :u WHERE id = :i"
        ),
        {"i": a.id, "t": datetime(2026, 11, 3, 9), "u": leader.id},
    )
    # Superseded once a newer revision exists (written before it becomes current).
    newer = _assessment(tree.team.id, "L1", "2026-10", "submitted", revision=2, current=False)
    newer.supersedes_id = a.id
    db.session.flush()
    db.session.execute(
        text("UPDATE assessment SET status = 'superseded', is_current = :f WHERE id = :i"),
        {"i": a.id, "f": False},
    )
    db.session.flush()
    assert (
        db.session.scalar(text("SELECT status FROM assessment WHERE id = :i"), {"i": a.id})
        == "superseded"
    )


def test_draft_assessment_can_still_change(app: Flask) -> None:
    tree = make_tree()
    a = _assessment(tree.team.id, "L1", "2026-10", "draft")
    db.session.execute(text("UPDATE assessment SET total = 99 WHERE id = :i"), {"i": a.id})
    db.session.execute(
        text("UPDATE assessment_item SET points = 5 WHERE assessment_id = :i"), {"i": a.id}
    )


def test_service_record_in_published_l3_year_end_is_locked(app: Flask) -> None:
    record = _record(date(2026, 9, 10))
    _assessment(record.institution_id, "L3", "2026-H2", "published")
    _refused("UPDATE service_record SET service_date = '2026-09-11' WHERE id = :i", i=record.id)
    _refused("DELETE FROM service_record WHERE id = :i", i=record.id)
    # The review of disputed records may still mark it.
    db.session.execute(
        text("UPDATE service_record SET verification = 'false' WHERE id = :i"), {"i": record.id}
    )


def test_h1_publication_does_not_lock_the_second_half(app: Flask) -> None:
    record = _record(date(2026, 9, 10))
    _assessment(record.institution_id, "L3", "2026-H1", "published")
    db.session.execute(
        text("UPDATE service_record SET notes = 'x' WHERE id = :i"), {"i": record.id}
    )


def test_unpublished_l3_does_not_lock(app: Flask) -> None:
    record = _record(date(2026, 3, 10))
    _assessment(record.institution_id, "L3", "2026-H1", "submitted")
    db.session.execute(text("DELETE FROM service_record WHERE id = :i"), {"i": record.id})


def test_clearing_is_current_of_a_published_l3_is_refused_and_unlocks_nothing(app: Flask) -> None:
    record = _record(date(2026, 9, 10))
    l3 = _assessment(record.institution_id, "L3", "2026-H2", "published")
    with pytest.raises(DatabaseError) as info, db.session.begin_nested():
        db.session.execute(
            text("UPDATE assessment SET is_current = :f WHERE id = :i"), {"f": False, "i": l3.id}
        )
    assert MSG_SUPERSEDE in str(info.value)
    _refused("UPDATE service_record SET notes = 'x' WHERE id = :i", i=record.id)
