"""The reviewer's page: conflicting offline edits side by side, one picked, the other kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord, ServiceRecordVersion
from fdoctor.records.sync import upload_batch
from tests.conftest import AuthActions, csrf_token
from tests.factories.records import TODAY, World, bp_record, make_world

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _edit(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    edit = {**payload, "op": "update", "edit_uuid": str(uuid.uuid4()), "base_version": 1}
    edit.update(fields)
    return edit


@pytest.fixture()
def conflict(world: World) -> ServiceRecordVersion:
    """Record v1 (150/95); the doctor's edit made v2 (142/90); the leader's offline edit conflicts."""
    with clock.frozen(TODAY):
        payload = bp_record(world.resident, sbp=150, dbp=95)
        upload_batch(world.doctor, "pad-a", [payload])
        upload_batch(world.doctor, "pad-a", [_edit(payload, systolic_bp=142, diastolic_bp=90)])
        [got] = upload_batch(world.leader, "pad-b", [_edit(payload, notes="头晕，建议复诊")])
        db.session.commit()
    assert got.status == "conflict"
    found = db.session.get(ServiceRecordVersion, got.conflict_id)
    assert found is not None
    return found


def _resolve(client: FlaskClient, conflict_id: int, choice: str) -> Any:
    token = csrf_token(client, "/services/conflicts")
    return client.post(
        f"/services/conflicts/{conflict_id}/resolve", data={"csrf_token": token, "choice": choice}
    )


def _record(conflict: ServiceRecordVersion) -> ServiceRecord:
    db.session.expire_all()
    found = db.session.get(ServiceRecord, conflict.record_id)
    assert found is not None
    return found


def test_reviewer_sees_both_versions_side_by_side(
    conflict: ServiceRecordVersion, auth: AuthActions
) -> None:
    html = auth.client_for("lead1").get("/services/conflicts").get_data(as_text=True)
    assert f'id="conflict-{conflict.id}"' in html
    assert "当前版本（第 2 版）" in html and "基于第 1 版" in html
    assert "142" in html and "150" in html and "头晕，建议复诊" in html
    assert 'class="differs"' in html


def test_keeping_the_current_version_leaves_the_edit_in_history(
    conflict: ServiceRecordVersion, auth: AuthActions
) -> None:
    response = _resolve(auth.client_for("lead1"), conflict.id, "keep")
    assert response.status_code == 302
    record = _record(conflict)
    assert (record.systolic_bp, record.notes, record.version) == (142, None, 2)
    kept = db.session.get(ServiceRecordVersion, conflict.id)
    assert kept is not None and kept.status == "rejected" and kept.data["notes"] == "头晕，建议复诊"
    assert kept.resolved_by_id is not None


def test_taking_the_device_version_keeps_the_replaced_one(
    world: World, conflict: ServiceRecordVersion, auth: AuthActions
) -> None:
    _resolve(auth.client_for("centre1"), conflict.id, "take")
    record = _record(conflict)
    assert (record.systolic_bp, record.notes, record.version) == (150, "头晕，建议复诊", 3)
    versions = db.session.scalars(
        select(ServiceRecordVersion)
        .where(ServiceRecordVersion.record_id == record.id)
        .order_by(ServiceRecordVersion.id)
    ).all()
    states = [(v.kind, v.status, v.version, v.data["systolic_bp"]) for v in versions]
    assert states == [
        ("previous", "superseded", 1, 150),  # the original, replaced by the doctor's edit
        ("conflict", "accepted", 1, 150),  # the leader's edit, now current
        ("previous", "superseded", 2, 142),  # the doctor's edit, replaced by the choice
    ]
    assert record.updated_by_id == world.centre.id


def test_a_resolved_conflict_cannot_be_resolved_again(
    conflict: ServiceRecordVersion, auth: AuthActions
) -> None:
    client = auth.client_for("lead1")
    _resolve(client, conflict.id, "keep")
    response = _resolve(client, conflict.id, "take")
    assert response.status_code == 302
    assert _record(conflict).version == 2
    assert "该冲突已经处理过了" in client.get("/services/conflicts").get_data(as_text=True)


def test_an_unknown_choice_changes_nothing(
    conflict: ServiceRecordVersion, auth: AuthActions
) -> None:
    _resolve(auth.client_for("lead1"), conflict.id, "both")
    found = db.session.get(ServiceRecordVersion, conflict.id)
    assert found is not None and found.status == "open"


def test_doctor_may_not_resolve(conflict: ServiceRecordVersion, auth: AuthActions) -> None:
    assert _resolve(auth.client_for("doc1"), conflict.id, "take").status_code == 403
    assert _record(conflict).version == 2


def test_another_teams_leader_does_not_see_the_conflict(
    world: World, conflict: ServiceRecordVersion, auth: AuthActions
) -> None:
    from tests.factories.users import make_user

    make_user("lead2", "team_leader", world.tree.team2)
    db.session.commit()
    client = auth.client_for("lead2")
    assert f"conflict-{conflict.id}" not in client.get("/services/conflicts").get_data(as_text=True)
    assert _resolve(client, conflict.id, "take").status_code == 404


def test_record_page_lists_its_versions(conflict: ServiceRecordVersion, auth: AuthActions) -> None:
    html = auth.client_for("lead1").get(f"/services/{conflict.record_id}").get_data(as_text=True)
    assert html.count('data-kind="previous"') == 1 and html.count('data-kind="conflict"') == 1
    assert "去处理冲突" in html
