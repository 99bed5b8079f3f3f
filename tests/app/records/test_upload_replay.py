"""An upload sent again, and the audit of the records an upload creates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from fdoctor.audit.models import AuditEntry
from fdoctor.audit.snapshots import canonical, row_snapshot, snapshot
from fdoctor.audit.verify import verify
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.bulk_insert import _snapshot
from fdoctor.records.models import ServiceRecord
from fdoctor.records.sync import upload_batch
from tests.factories.records import TODAY, World, bp_record, make_world, record

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _upload(user: Any, *payloads: dict[str, Any]) -> list[Any]:
    with clock.frozen(TODAY):
        got = upload_batch(user, "tablet", list(payloads))
        db.session.commit()
        return got


def test_a_stored_record_sent_again_is_a_duplicate_even_if_it_would_now_be_refused(
    world: World,
) -> None:
    payload = bp_record(world.resident)
    [first] = _upload(world.doctor, payload)
    assert first.status == "created"
    # The resident moves to the sibling team: a new record for them would now be refused.
    resident = world.resident
    resident.team_id = world.tree.team2.id
    db.session.commit()
    [fresh] = _upload(world.doctor, record(resident.id, "home_visit"))
    assert fresh.status == "invalid" and "resident_id" in fresh.errors
    [again] = _upload(world.doctor, payload)
    assert (again.status, again.id, again.version) == ("duplicate", first.id, 1)
    assert again.errors == {} and again.warnings == []


def test_a_stored_id_of_another_unit_is_refused_without_details(world: World) -> None:
    payload = bp_record(world.resident)
    [first] = _upload(world.doctor, payload)
    assert first.status == "created"
    [other] = _upload(
        world.foreign_doctor, dict(payload, resident_id=world.foreign_home.residents[0].id)
    )
    assert (other.status, other.id) == ("invalid", None)
    assert other.errors == {"client_uuid": "记录编号已被使用，请重新生成"}


def test_created_records_are_audited_as_the_database_holds_them(world: World) -> None:
    got = _upload(
        world.doctor,
        record(world.resident, "diabetes_followup", fasting_glucose="7.25"),
        bp_record(world.home.residents[1]),
        record(None, "health_education", attendance=25, topic="高血压防治"),
    )
    assert [r.status for r in got] == ["created", "created", "created"]
    for result in got:
        stored = db.session.get(ServiceRecord, result.id)
        assert stored is not None
        row = dict(
            db.session.execute(select(ServiceRecord.__table__).where(ServiceRecord.id == result.id))
            .mappings()
            .one()
        )
        assert _snapshot(row) == row_snapshot(row)
        entry = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.table_name == "service_record", AuditEntry.row_id == str(result.id)
            )
        ).one()
        assert entry.action == "create"
        assert entry.after == canonical(snapshot(stored))
    assert verify(db.session).ok
