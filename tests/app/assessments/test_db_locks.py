"""The database refuses, even to raw SQL, what the workflow refuses on a published assessment,
and the workflow's own moves (publish, appeal, answer, correct, acknowledge) still pass."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from fdoctor.assessments import appeals, revisions, steps, triggers
from fdoctor.assessments.models import Appeal, Assessment
from fdoctor.assessments.opening import open_assessments
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.factories.assessments import TODAY, World, score_all_manual
from tests.factories.records import make_record

pytestmark = pytest.mark.db


def _published_l2(world: World) -> Assessment:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    centre = world.user("centre")
    score_all_manual(a, centre, {"B2": Decimal(4)})
    steps.submit(a, centre)
    steps.publish(a, centre, today=TODAY)
    db.session.commit()
    return a


def _refused(message: str, sql: str, **params: Any) -> None:
    with pytest.raises(DBAPIError) as info, db.session.begin_nested():
        db.session.execute(text(sql), params)
    assert message in str(info.value)


def _status(a: Assessment) -> tuple[str, bool]:
    row = db.session.execute(
        text("SELECT status, is_current FROM assessment WHERE id = :i"), {"i": a.id}
    ).one()
    return row[0], bool(row[1])


# --------------------------------------------------------------------------- the holes


def test_is_current_cannot_be_cleared_on_a_published_assessment(world: World) -> None:
    a = _published_l2(world)
    _refused(
        triggers.MSG_SUPERSEDE,
        "UPDATE assessment SET is_current = :f WHERE id = :i",
        f=False,
        i=a.id,
    )
    # Nor by calling it superseded when no newer revision exists.
    _refused(
        triggers.MSG_SUPERSEDE,
        "UPDATE assessment SET status = 'superseded', is_current = :f WHERE id = :i",
        f=False,
        i=a.id,
    )
    assert _status(a) == ("published", True)


def test_raw_acknowledgement_skipping_the_assessee_is_refused(world: World) -> None:
    a = _published_l2(world)
    _refused(
        triggers.MSG_ACKNOWLEDGE,
        "UPDATE assessment SET status = 'acknowledged' WHERE id = :i",
        i=a.id,
    )
    # Recorded as acknowledged by someone who is not the assessee (here: the assessor).
    _refused(
        triggers.MSG_ACKNOWLEDGE,
        "UPDATE assessment SET status = 'acknowledged', acknowledged_at = :t, "
        "acknowledged_by_id = :u WHERE id = :i",
        t=datetime(2026, 4, 3, 9),
        u=world.user("centre").id,
        i=a.id,
    )
    # Before publication.
    _refused(
        triggers.MSG_ACKNOWLEDGE,
        "UPDATE assessment SET status = 'acknowledged', acknowledged_at = :t, "
        "acknowledged_by_id = :u WHERE id = :i",
        t=datetime(2026, 3, 1, 9),
        u=world.user("leader").id,
        i=a.id,
    )
    assert _status(a) == ("published", True)


def test_raw_appeal_without_an_appeal_or_after_the_window_is_refused(world: World) -> None:
    a = _published_l2(world)
    _refused(triggers.MSG_APPEAL, "UPDATE assessment SET status = 'appealed' WHERE id = :i", i=a.id)
    late = datetime.combine((a.appeal_deadline or TODAY) + timedelta(days=1), datetime.min.time())
    db.session.add(
        Appeal(
            assessment_id=a.id,
            status="pending",
            submitted_at=late,
            submitted_by_id=world.user("leader").id,
        )
    )
    db.session.flush()
    _refused(triggers.MSG_APPEAL, "UPDATE assessment SET status = 'appealed' WHERE id = :i", i=a.id)


def test_a_pending_appeal_cannot_be_dismissed_by_raw_sql(world: World) -> None:
    a = _published_l2(world)
    appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=TODAY)
    db.session.commit()
    _refused(
        triggers.MSG_ANSWER, "UPDATE assessment SET status = 'published' WHERE id = :i", i=a.id
    )
    _refused(
        triggers.MSG_TRANSITION,
        "UPDATE assessment SET status = 'acknowledged' WHERE id = :i",
        i=a.id,
    )
    assert _status(a) == ("appealed", True)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("index_version", "9"),
        ("index_sha256", "0" * 64),
        ("index_file", "other.toml"),
        ("appeal_deadline", date(2027, 1, 1)),
        ("revision_reason", "改写"),
        ("assessor_unit_id", None),
        ("county_id", None),
        ("overdue_since", date(2026, 4, 1)),
        ("published_by_id", None),
        ("flag_reason", "改写"),
    ],
)
def test_every_column_a_published_assessment_shows_is_frozen(
    world: World, column: str, value: object
) -> None:
    a = _published_l2(world)
    if column == "assessor_unit_id":
        value = world.tree.other_team.id
    elif column == "county_id":
        value = world.tree.other_county.id
    elif column == "published_by_id":
        value = world.user("county").id
    _refused(
        triggers.MSG_LOCKED, f"UPDATE assessment SET {column} = :v WHERE id = :i", v=value, i=a.id
    )


@pytest.mark.parametrize("column", ["detail", "score_detail", "description", "drill", "name"])
def test_item_texts_of_a_published_assessment_are_frozen(world: World, column: str) -> None:
    a = _published_l2(world)
    _refused(
        triggers.MSG_LOCKED,
        f"UPDATE assessment_item SET {column} = 'x' WHERE assessment_id = :i",
        i=a.id,
    )


def test_a_published_row_cannot_go_back_or_be_entered_sideways(world: World) -> None:
    a = _published_l2(world)
    open_assessments("L2", "2026-Q1")
    other = db.session.scalar(
        select(Assessment).where(
            Assessment.level == "L2", Assessment.unit_id == world.tree.team2.id
        )
    )
    assert other is not None and other.status == "open"
    for status in ("acknowledged", "appealed", "superseded"):
        _refused(
            triggers.MSG_ENTRY,
            f"UPDATE assessment SET status = '{status}' WHERE id = :i",  # noqa: S608 - a test
            i=other.id,
        )
    _refused(
        triggers.MSG_TRANSITION, "UPDATE assessment SET status = 'draft' WHERE id = :i", i=a.id
    )


def test_a_superseded_revision_stays_superseded(world: World) -> None:
    a = _published_l2(world)
    new = revisions.correct(a, world.user("centre"), {"B2": ("6", None)}, "复核更正", today=TODAY)
    db.session.commit()
    _refused(
        triggers.MSG_TRANSITION, "UPDATE assessment SET status = 'published' WHERE id = :i", i=a.id
    )
    _refused(
        triggers.MSG_SUPERSEDE,
        "UPDATE assessment SET is_current = :t WHERE id = :i",
        t=True,
        i=a.id,
    )
    assert _status(a) == ("superseded", False) and _status(new) == ("published", True)


# --------------------------------------------------------------------------- the records


def _l3(world: World, period: str, status: str, *, current: bool = True) -> Assessment:
    institution = world.tree.team.institution_id
    a = Assessment(
        level="L3",
        period=period,
        unit_id=institution,
        county_id=world.tree.team.county_id,
        institution_id=institution,
        index_code="city-2026",
        status=status,
        is_current=current,
        total=Decimal("80.00"),
        opened_at=datetime(2027, 1, 1),
        due_on=date(2027, 1, 31),
    )
    db.session.add(a)
    db.session.flush()
    return a


def test_records_stay_locked_whatever_is_current_says(world: World) -> None:
    record = make_record(
        "consultation", date(2026, 9, 10), team=world.tree.team, doctor=world.user("doctor")
    )
    # A published L3 of the year that is not (or no longer) the current revision.
    _l3(world, "2026-H2", "superseded", current=False)
    _refused(
        triggers.MSG_RECORD, "UPDATE service_record SET notes = 'x' WHERE id = :i", i=record.id
    )
    _refused(triggers.MSG_RECORD, "DELETE FROM service_record WHERE id = :i", i=record.id)


def test_a_record_cannot_be_moved_into_a_locked_period(world: World) -> None:
    record = make_record(
        "consultation", date(2027, 2, 10), team=world.tree.team, doctor=world.user("doctor")
    )
    _l3(world, "2026-H2", "published")
    _refused(
        triggers.MSG_RECORD,
        "UPDATE service_record SET service_date = :d WHERE id = :i",
        d=date(2026, 9, 10),
        i=record.id,
    )
    db.session.execute(
        text("UPDATE service_record SET notes = 'x' WHERE id = :i"), {"i": record.id}
    )


def test_the_verification_review_still_marks_a_locked_record(world: World) -> None:
    record = make_record(
        "consultation", date(2026, 9, 10), team=world.tree.team, doctor=world.user("doctor")
    )
    _l3(world, "2026-H2", "published")
    db.session.execute(
        text("UPDATE service_record SET verification = 'false', version = 2 WHERE id = :i"),
        {"i": record.id},
    )
    db.session.flush()
    assert (
        db.session.scalar(
            text("SELECT verification FROM service_record WHERE id = :i"), {"i": record.id}
        )
        == "false"
    )


# --------------------------------------------------------------------------- the app's moves


def test_appeal_answer_correction_and_late_acknowledgement_still_work(world: World) -> None:
    a = _published_l2(world)
    centre, leader = world.user("centre"), world.user("leader")
    record = appeals.appeal(a, leader, {"B2": ("样本不具代表性", "7")}, today=TODAY)
    second = appeals.answer_appeal(record, centre, {"B2": ("accepted", "7", "复核后认可")})
    db.session.commit()
    third = revisions.correct(second, centre, {"B2": ("6", None)}, "再次复核", today=TODAY)
    db.session.commit()
    assert [_status(x) for x in (a, second, third)] == [
        ("superseded", False),
        ("superseded", False),
        ("published", True),
    ]
    after_window = (third.appeal_deadline or TODAY) + timedelta(days=1)
    with clock.frozen(after_window):
        steps.acknowledge(third, leader, today=after_window)
        db.session.commit()
    assert _status(third) == ("acknowledged", True)
    assert third.acknowledged_by_id == leader.id
    # Once acknowledged it still takes a correction, and nothing else.
    fourth = revisions.correct(third, centre, {"B2": ("5", None)}, "年终复核", today=after_window)
    db.session.commit()
    assert _status(third) == ("superseded", False) and fourth.revision == 4


def test_a_rejected_appeal_returns_to_published(world: World) -> None:
    a = _published_l2(world)
    record = appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=TODAY)
    appeals.answer_appeal(record, world.user("centre"), {"B2": ("rejected", None, "按规定抽取")})
    db.session.commit()
    assert _status(a) == ("published", True)
