"""Offline edits: applied when based on the current version, kept as a conflict otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord, ServiceRecordVersion
from tests.conftest import AuthActions
from tests.factories.records import TODAY, World, bp_record, make_world, post_batch, results

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


@pytest.fixture()
def stored(client: FlaskClient, world: World, auth: AuthActions) -> dict[str, Any]:
    """A blood-pressure record uploaded by the doctor: its payload, id and token."""
    token = auth.login_as(world.doctor, api=True)
    payload = bp_record(world.resident, sbp=150, dbp=95)
    [got] = results(post_batch(client, token, [payload]))
    return {"payload": payload, "id": got["id"], "token": token}


def _edit(stored: dict[str, Any], base: int, **fields: Any) -> dict[str, Any]:
    payload = stored["payload"]
    edit = {
        "op": "update",
        "client_uuid": payload["client_uuid"],
        "edit_uuid": str(uuid.uuid4()),
        "base_version": base,
        "service_date": payload["service_date"],
        "systolic_bp": payload["systolic_bp"],
        "diastolic_bp": payload["diastolic_bp"],
        "entered_at": f"{TODAY.isoformat()}T11:00:00",
    }
    edit.update(fields)
    return edit


def _record(stored: dict[str, Any]) -> ServiceRecord:
    db.session.expire_all()
    found = db.session.get(ServiceRecord, stored["id"])
    assert found is not None
    return found


def _versions(stored: dict[str, Any]) -> list[ServiceRecordVersion]:
    return list(
        db.session.scalars(
            select(ServiceRecordVersion)
            .where(ServiceRecordVersion.record_id == stored["id"])
            .order_by(ServiceRecordVersion.id)
        )
    )


def test_edit_from_the_current_version_updates_and_keeps_the_previous(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    [got] = results(post_batch(client, stored["token"], [_edit(stored, 1, systolic_bp=142)]))
    assert (got["status"], got["version"]) == ("updated", 2)
    record = _record(stored)
    assert (record.systolic_bp, record.version) == (142, 2)
    [previous] = _versions(stored)
    assert (previous.kind, previous.version, previous.data["systolic_bp"]) == ("previous", 1, 150)


def test_edit_from_a_stale_version_is_kept_as_a_conflict_and_changes_nothing(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    post_batch(client, stored["token"], [_edit(stored, 1, systolic_bp=142)])
    [got] = results(post_batch(client, stored["token"], [_edit(stored, 1, systolic_bp=160)]))
    assert got["status"] == "conflict" and got["conflict_id"]
    assert "待审核" in got["warnings"][-1]
    record = _record(stored)
    assert (record.systolic_bp, record.version) == (142, 2)
    conflict = db.session.get(ServiceRecordVersion, got["conflict_id"])
    assert conflict is not None
    assert (conflict.kind, conflict.status, conflict.version) == ("conflict", "open", 1)
    assert conflict.data["systolic_bp"] == 160


def test_two_devices_editing_offline_keep_both_versions(
    client: FlaskClient, app: Flask, world: World, stored: dict[str, Any], auth: AuthActions
) -> None:
    other = app.test_client()
    leader = auth.on(other).login_as(world.leader, api=True)
    a = results(post_batch(client, stored["token"], [_edit(stored, 1, systolic_bp=140)]))[0]
    b = results(post_batch(other, leader, [_edit(stored, 1, notes="复测后填写")]))[0]
    assert (a["status"], b["status"]) == ("updated", "conflict")
    record = _record(stored)
    assert record.systolic_bp == 140 and record.notes is None
    kinds = {(v.kind, v.data["systolic_bp"], v.data["notes"]) for v in _versions(stored)}
    assert kinds == {("previous", 150, None), ("conflict", 150, "复测后填写")}


def test_replayed_edit_is_reported_again_and_changes_nothing(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    edit = _edit(stored, 1, systolic_bp=142)
    post_batch(client, stored["token"], [edit])
    [again] = results(post_batch(client, stored["token"], [edit]))
    assert (again["status"], again["version"]) == ("duplicate", 2)
    assert _record(stored).version == 2
    assert len(_versions(stored)) == 1


def test_replayed_conflict_is_reported_as_the_same_conflict(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    post_batch(client, stored["token"], [_edit(stored, 1, systolic_bp=142)])
    late = _edit(stored, 1, systolic_bp=160)
    first = results(post_batch(client, stored["token"], [late]))[0]
    again = results(post_batch(client, stored["token"], [late]))[0]
    assert again["status"] == "conflict" and again["conflict_id"] == first["conflict_id"]
    assert len(_versions(stored)) == 2


def test_invalid_edit_is_refused_and_stores_nothing(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    [got] = results(post_batch(client, stored["token"], [_edit(stored, 1, diastolic_bp=170)]))
    assert got["status"] == "invalid"
    assert got["errors"] == {"diastolic_bp": "舒张压应在 40–150 mmHg 之间"}
    assert _record(stored).version == 1 and _versions(stored) == []


def test_edit_may_not_change_the_service_type(client: FlaskClient, stored: dict[str, Any]) -> None:
    [got] = results(post_batch(client, stored["token"], [_edit(stored, 1, type="home_visit")]))
    assert got["status"] == "invalid" and "服务类型不能修改" in got["errors"]["type"]


def test_verified_record_is_not_edited(client: FlaskClient, stored: dict[str, Any]) -> None:
    _record(stored).verification = "confirmed"
    db.session.commit()
    [got] = results(post_batch(client, stored["token"], [_edit(stored, 1, systolic_bp=142)]))
    assert got["status"] == "invalid" and "核实" in got["errors"]["record"]


def test_edit_of_another_teams_record_is_not_found(
    app: Flask, world: World, stored: dict[str, Any], auth: AuthActions
) -> None:
    stranger = app.test_client()
    token = auth.on(stranger).login_as(world.sibling_doctor, api=True)
    [got] = results(post_batch(stranger, token, [_edit(stored, 1, systolic_bp=100)]))
    assert got["errors"] == {"client_uuid": "记录不存在或不在您的管辖范围内"}
    assert _record(stored).systolic_bp == 150


def test_put_edits_one_record(client: FlaskClient, stored: dict[str, Any]) -> None:
    url = f"/api/v1/services/{stored['payload']['client_uuid']}"
    body = _edit(stored, 1, systolic_bp=138)
    del body["op"], body["client_uuid"]
    response = client.put(url, json=body, headers={"X-CSRFToken": stored["token"]})
    assert response.status_code == 200
    assert response.get_json()["status"] == "updated"
    assert client.get(url).get_json()["record"]["systolic_bp"] == 138


def test_put_from_a_stale_version_answers_409(client: FlaskClient, stored: dict[str, Any]) -> None:
    url = f"/api/v1/services/{stored['payload']['client_uuid']}"
    headers = {"X-CSRFToken": stored["token"]}
    client.put(url, json=_edit(stored, 1, systolic_bp=138), headers=headers)
    response = client.put(url, json=_edit(stored, 1, systolic_bp=145), headers=headers)
    assert response.status_code == 409
    body = response.get_json()
    assert body["status"] == "conflict" and "待审核" in body["error"]


def test_put_of_an_unknown_record_answers_404(client: FlaskClient, stored: dict[str, Any]) -> None:
    url = f"/api/v1/services/{uuid.uuid4()}"
    response = client.put(url, json=_edit(stored, 1), headers={"X-CSRFToken": stored["token"]})
    assert response.status_code == 404
    assert response.get_json()["error"] == "记录不存在或不在您的管辖范围内"


def test_put_with_a_bad_value_answers_422(client: FlaskClient, stored: dict[str, Any]) -> None:
    url = f"/api/v1/services/{stored['payload']['client_uuid']}"
    response = client.put(
        url, json=_edit(stored, 1, systolic_bp=20), headers={"X-CSRFToken": stored["token"]}
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "收缩压应在 70–260 mmHg 之间"


def test_county_auditor_may_read_but_not_put(
    app: Flask, world: World, stored: dict[str, Any], auth: AuthActions
) -> None:
    auditor = app.test_client()
    token = auth.on(auditor).login_as(world.county, api=True)
    url = f"/api/v1/services/{stored['payload']['client_uuid']}"
    assert auditor.get(url).status_code == 200
    response = auditor.put(url, json=_edit(stored, 1), headers={"X-CSRFToken": token})
    assert response.status_code == 403
    count = db.session.scalar(select(func.count(ServiceRecordVersion.id)))
    assert count == 0
