"""The audit trail: every change logged with before/after, hash-chained; tampering detected."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from fdoctor.audit.models import AuditEntry
from fdoctor.audit.verify import verify
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from tests.conftest import AuthActions
from tests.factories.households import make_household
from tests.factories.org import make_tree

pytestmark = pytest.mark.db


def _world() -> Resident:
    tree = make_tree()
    household = make_household(tree.team, members=2)
    db.session.commit()
    return household.residents[0]


def test_creating_and_changing_a_resident_is_logged_with_before_and_after(app: Flask) -> None:
    person = _world()
    old_phone = person.phone
    person.phone = "13800000000"
    db.session.commit()
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.table_name == "resident", AuditEntry.row_id == str(person.id))
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["create", "update"]
    assert json.loads(entries[1].before)["phone"] == old_phone
    assert json.loads(entries[1].after)["phone"] == "13800000000"


def test_deletes_are_logged(app: Flask) -> None:
    person = _world()
    pid = person.id
    db.session.delete(person)
    db.session.commit()
    last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.action, last.row_id, last.after) == ("delete", str(pid), None)


def test_untouched_chain_verifies(app: Flask) -> None:
    _world()
    result = verify(db.session)
    assert result.ok, result.problems
    assert result.entries > 0


def test_editing_a_log_entry_with_raw_sql_is_caught(app: Flask) -> None:
    _world()
    victim = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id).offset(1)).first()
    db.session.execute(
        text("UPDATE audit_entry SET username = 'mallory' WHERE id = :i"), {"i": victim}
    )
    db.session.commit()
    result = verify(db.session)
    assert not result.ok
    assert f"第 {victim} 条" in result.problems[0]


def test_deleting_a_log_entry_is_caught(app: Flask) -> None:
    _world()
    victim = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id).offset(1)).first()
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": victim})
    db.session.commit()
    result = verify(db.session)
    assert not result.ok and "链断裂" in result.problems[0]


def test_changing_a_record_behind_the_apps_back_is_caught(app: Flask) -> None:
    person = _world()
    db.session.execute(text("UPDATE resident SET name = '篡改' WHERE id = :i"), {"i": person.id})
    db.session.commit()
    result = verify(db.session)
    assert not result.ok
    assert any(f"resident 第 {person.id} 行被绕过系统修改" in p for p in result.problems)


def test_cli_verify_reports_tampering_and_exits_nonzero(app: Flask) -> None:
    person = _world()
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "审计日志完整" in ok.output
    db.session.execute(text("UPDATE resident SET phone = '1' WHERE id = :i"), {"i": person.id})
    db.session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert "被绕过系统修改" in bad.output


def test_viewing_full_citizen_ids_is_logged(app: Flask, auth: AuthActions) -> None:
    from tests.factories.users import PASSWORD, make_user

    person = _world()
    tree_team_id = person.team_id
    from fdoctor.org.models import OrgUnit

    make_user("docv", "doctor", db.session.get(OrgUnit, tree_team_id))
    make_user(
        "cityv",
        "city_admin",
        db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "city")).one(),
    )
    db.session.commit()
    doctor = app.test_client()
    auth.on(doctor).login("docv", PASSWORD)
    assert doctor.get(f"/households/residents/{person.id}").status_code == 200
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "view_id")).all()
    assert len(entries) == 1
    detail = json.loads(entries[0].after)
    assert entries[0].username == "docv" and detail["count"] >= 1
    assert person.citizen_id not in entries[0].after  # the log itself holds masked numbers only
    city = app.test_client()
    auth.on(city).login("cityv", PASSWORD)
    assert city.get(f"/households/residents/{person.id}").status_code == 200
    assert (
        db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "view_id"))
        == 1
    )
    assert verify(db.session).ok


def test_numbers_are_compared_by_value_and_a_changed_number_is_caught(app: Flask) -> None:
    from datetime import date

    from tests.factories.records import make_record

    person = _world()
    # Given as 6.50, stored and read back at the column's scale as 6.5: the same value.
    row = make_record("hypertension_followup", date(2026, 3, 2), person, team=person_team(person))
    row.fasting_glucose = Decimal("6.50")
    db.session.commit()
    assert verify(db.session).ok, verify(db.session).problems
    db.session.execute(
        text("UPDATE service_record SET fasting_glucose = 6.6 WHERE id = :i"), {"i": row.id}
    )
    db.session.commit()
    result = verify(db.session)
    assert any(f"service_record 第 {row.id} 行被绕过系统修改" in p for p in result.problems)


def person_team(person: Resident) -> Any:
    from fdoctor.org.models import OrgUnit

    return db.session.get(OrgUnit, person.team_id)
