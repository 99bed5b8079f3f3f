"""GET endpoints of /api/v1/: who am I, the residents snapshot, records changed since."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.sync import upload_batch
from tests.conftest import AuthActions
from tests.factories.contracts import signed_household
from tests.factories.records import TERM, TODAY, World, bp_record, make_world, record

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def test_me_names_the_user_and_gives_a_csrf_token(world: World, auth: AuthActions) -> None:
    body = auth.client_for(world.doctor, api=True).get("/api/v1/me").get_json()
    assert (body["username"], body["role"], body["team_id"]) == (
        "doc1",
        "doctor",
        world.tree.team.id,
    )
    assert body["role_label"] == "家庭医生/村医" and body["full_ids"] is True
    assert len(body["csrf_token"]) > 20


def test_anonymous_gets_401_in_chinese(client: FlaskClient, world: World) -> None:
    response = client.get("/api/v1/residents")
    assert response.status_code == 401
    assert response.get_json()["error"] == "未登录或登录已过期"


def test_doctor_snapshot_holds_own_team_with_full_ids_and_contract(
    world: World, auth: AuthActions
) -> None:
    body = auth.client_for(world.doctor, api=True).get("/api/v1/residents").get_json()
    ids = {r["id"] for r in body["residents"]}
    assert ids == {p.id for p in world.home.residents}
    first = next(r for r in body["residents"] if r["id"] == world.resident.id)
    assert first["citizen_id"] == world.resident.citizen_id
    assert first["id_tail"] == world.resident.id_tail
    assert first["contract"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert first["household_code"] == world.home.code and body["next_after_id"] is None


def test_county_auditor_snapshot_masks_ids(world: World, auth: AuthActions) -> None:
    body = auth.client_for(world.county, api=True).get("/api/v1/residents").get_json()
    assert {r["team_id"] for r in body["residents"]} == {world.tree.team.id, world.tree.team2.id}
    assert all("*" in r["citizen_id"] and r["id_tail"] is None for r in body["residents"])
    assert body["full_ids"] is False


def test_snapshot_pages_by_after_id(world: World, auth: AuthActions) -> None:
    client = auth.client_for(world.centre, api=True)
    first = client.get("/api/v1/residents?limit=3").get_json()
    assert first["count"] == 3 and first["next_after_id"] == first["residents"][-1]["id"]
    rest = client.get(f"/api/v1/residents?limit=3&after_id={first['next_after_id']}").get_json()
    assert rest["count"] == 1 and rest["next_after_id"] is None
    assert not {r["id"] for r in first["residents"]} & {r["id"] for r in rest["residents"]}


def test_snapshot_filters_by_team_inside_scope_only(world: World, auth: AuthActions) -> None:
    client = auth.client_for(world.doctor, api=True)
    other = client.get(f"/api/v1/residents?team={world.tree.team2.id}").get_json()
    assert other["residents"] == []


def test_bad_paging_parameter_gets_a_chinese_400(world: World, auth: AuthActions) -> None:
    response = auth.client_for(world.doctor, api=True).get("/api/v1/residents?after_id=abc")
    assert response.status_code == 400
    assert response.get_json()["error"] == "参数 after_id 应为整数"


def test_snapshot_costs_one_query_per_page(
    world: World, count_queries: object, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        for _ in range(5):
            signed_household(world.tree.team, 4, *TERM)
        db.session.commit()
    client = auth.client_for(world.doctor, api=True)
    client.get("/api/v1/residents")  # warm: the user and the unit
    with count_queries() as counter:  # type: ignore[operator]
        body = client.get("/api/v1/residents").get_json()
    assert body["count"] == 22
    # user, unit, the page itself; then the one audit entry for the full IDs shown (the chain's
    # last entry, the insert, the commit's connection check), whatever the page size
    assert counter.count <= 6


def test_records_since_returns_changes_in_scope_oldest_first(
    world: World, auth: AuthActions
) -> None:
    with clock.frozen(datetime(2026, 6, 14, 9)):
        day = {"service_date": "2026-06-14"}
        [early] = upload_batch(world.doctor, "pad", [bp_record(world.resident, **day)])
        upload_batch(world.sibling_doctor, "pad", [record(world.sibling_home.residents[0], **day)])
    assert early.status == "created"
    with clock.frozen(datetime(2026, 6, 15, 9)):
        [late] = upload_batch(world.doctor, "pad", [record(world.home.residents[1], "home_visit")])
    db.session.commit()
    client = auth.client_for(world.doctor, api=True)
    body = client.get("/api/v1/services?since=2026-06-14T00:00:00").get_json()
    assert [r["type"] for r in body["records"]] == ["hypertension_followup", "home_visit"]
    assert body["records"][0]["resident_name"] == world.resident.name
    newer = client.get("/api/v1/services?since=2026-06-15T00:00:00").get_json()
    assert [r["id"] for r in newer["records"]] == [late.id]


def test_records_since_pages_with_a_cursor(world: World, auth: AuthActions) -> None:
    with clock.frozen(TODAY):
        upload_batch(world.doctor, "pad", [record(p) for p in world.home.residents])
        db.session.commit()
    client = auth.client_for(world.doctor, api=True)
    first = client.get("/api/v1/services?since=2026-06-01T00:00:00&limit=1").get_json()
    assert len(first["records"]) == 1 and first["next_cursor"]
    second = client.get(f"/api/v1/services?cursor={first['next_cursor']}&limit=1").get_json()
    assert len(second["records"]) == 1 and second["next_cursor"] is None
    assert first["records"][0]["id"] != second["records"][0]["id"]


def test_bad_since_gets_a_chinese_400(world: World, auth: AuthActions) -> None:
    response = auth.client_for(world.doctor, api=True).get("/api/v1/services?since=yesterday")
    assert response.status_code == 400
    assert "since 应为 ISO 时间" in response.get_json()["error"]


def test_one_record_by_client_id_is_scoped(world: World, auth: AuthActions) -> None:
    payload = bp_record(world.resident)
    with clock.frozen(TODAY):
        upload_batch(world.doctor, "pad", [payload])
        db.session.commit()
    url = f"/api/v1/services/{payload['client_uuid']}"
    body = auth.client_for(world.leader, api=True).get(url).get_json()
    assert body["record"]["systolic_bp"] == 132 and body["record"]["version"] == 1
    response = auth.client_for(world.sibling_doctor, api=True).get(url)
    assert response.status_code == 404
    assert response.get_json()["error"] == "记录不存在或不在您的管辖范围内"


def test_huge_numeric_parameters_never_reach_the_database_unchecked(
    world: World, auth: AuthActions
) -> None:
    # Found by schemathesis on PostgreSQL: an id beyond the column's range was a 500.
    client = auth.client_for(world.doctor, api=True)
    for query in ("team=99999999999", "after_id=99999999999999999999"):
        response = client.get(f"/api/v1/residents?{query}")
        assert response.status_code == 200, query  # clamped to the range: simply nothing there
        assert response.get_json()["residents"] == []
    response = client.get("/api/v1/services?cursor=2026-01-01T00:00:00|99999999999999999999")
    assert response.status_code == 400
    assert "cursor" in response.get_json()["error"]
