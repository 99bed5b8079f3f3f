"""POST /api/v1/services/batch: idempotent, per-record results, scoped, one transaction."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.bulk_insert import insert_ignoring_duplicates
from fdoctor.records.models import ServiceRecord
from fdoctor.records.sync import upload_batch
from tests.conftest import AuthActions, csrf_token
from tests.factories.records import (
    TERM,
    TODAY,
    World,
    bp_record,
    make_world,
    post_batch,
    record,
    results,
)

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


@pytest.fixture()
def doctor(world: World, auth: AuthActions) -> str:
    return auth.login_as(world.doctor, api=True)


def _count() -> int:
    return db.session.scalar(select(func.count(ServiceRecord.id))) or 0


def test_batch_stores_each_record_and_reports_created(
    client: FlaskClient, world: World, doctor: str
) -> None:
    batch = [bp_record(world.resident), record(world.home.residents[1], "home_visit")]
    got = results(post_batch(client, doctor, batch))
    assert [r["status"] for r in got] == ["created", "created"]
    assert [r["client_uuid"] for r in got] == [b["client_uuid"] for b in batch]
    stored = db.session.get(ServiceRecord, got[0]["id"])
    assert stored is not None
    assert (stored.systolic_bp, stored.diastolic_bp, stored.version) == (132, 84, 1)
    assert (stored.team_id, stored.doctor_id, stored.device_id) == (
        world.tree.team.id,
        world.doctor.id,
        "tablet-test",
    )
    assert stored.contract_id is not None and stored.category == "public_health"


def test_same_batch_twice_returns_same_ids_and_adds_no_rows(
    client: FlaskClient, world: World, doctor: str
) -> None:
    batch = [bp_record(world.resident), record(world.home.residents[1], "home_visit")]
    first = results(post_batch(client, doctor, batch))
    changed = dict(batch[0], systolic_bp=180)  # a replay never changes the stored record
    second = results(post_batch(client, doctor, [changed, batch[1]]))
    assert [r["status"] for r in second] == ["duplicate", "duplicate"]
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert _count() == 2
    assert db.session.get(ServiceRecord, first[0]["id"]).systolic_bp == 132  # type: ignore[union-attr]


def test_doubled_client_uuid_inside_one_batch_is_stored_once(
    client: FlaskClient, world: World, doctor: str
) -> None:
    one = bp_record(world.resident)
    got = results(post_batch(client, doctor, [one, dict(one)]))
    assert [r["status"] for r in got] == ["created", "duplicate"]
    assert got[0]["id"] == got[1]["id"]
    assert _count() == 1


def test_invalid_records_are_reported_and_the_valid_ones_stored(
    client: FlaskClient, world: World, doctor: str
) -> None:
    batch = [
        bp_record(world.resident),
        bp_record(world.home.residents[1], sbp=300),
        record(world.home.residents[1], "home_visit"),
    ]
    got = results(post_batch(client, doctor, batch))
    assert [r["status"] for r in got] == ["created", "invalid", "created"]
    assert got[1]["id"] is None
    assert got[1]["errors"] == {"systolic_bp": "收缩压应在 70–260 mmHg 之间"}
    assert _count() == 2


def test_doctor_cannot_record_for_another_teams_resident(
    client: FlaskClient, world: World, doctor: str
) -> None:
    sibling = world.sibling_home.residents[0]
    missing_id = sibling.id + 10_000
    got = results(post_batch(client, doctor, [record(sibling), record(missing_id)]))
    assert [r["status"] for r in got] == ["invalid", "invalid"]
    # The same words for another team's resident and for no resident at all: nothing leaks.
    assert got[0]["errors"] == got[1]["errors"] == {"resident_id": "居民不存在或不在您的管辖范围内"}
    assert _count() == 0


def test_same_resident_type_and_day_is_stored_with_a_warning_and_flagged(
    client: FlaskClient, world: World, doctor: str
) -> None:
    first = results(post_batch(client, doctor, [bp_record(world.resident)]))[0]
    again = results(post_batch(client, doctor, [bp_record(world.resident, sbp=128)]))[0]
    assert again["status"] == "created"
    assert len(again["warnings"]) == 1 and "重复" in again["warnings"][0]
    assert db.session.get(ServiceRecord, again["id"]).possible_duplicate  # type: ignore[union-attr]
    assert not db.session.get(ServiceRecord, first["id"]).possible_duplicate  # type: ignore[union-attr]


def test_same_resident_type_and_day_twice_in_one_batch_flags_the_second(
    client: FlaskClient, world: World, doctor: str
) -> None:
    got = results(
        post_batch(client, doctor, [bp_record(world.resident), bp_record(world.resident)])
    )
    assert [r["status"] for r in got] == ["created", "created"]
    assert got[0]["warnings"] == [] and "重复" in got[1]["warnings"][0]


def test_more_than_200_records_are_refused_whole(
    client: FlaskClient, world: World, doctor: str
) -> None:
    response = post_batch(client, doctor, [record(world.resident)] * 201)
    assert response.status_code == 400
    assert "每批最多 200 条" in response.get_json()["error"]
    assert _count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "请求体应为 JSON 对象"),
        ({"records": "x"}, "records 应为记录数组"),
        ({"records": [], "device_id": 7}, "device_id"),
    ],
)
def test_malformed_body_gets_a_chinese_400(
    client: FlaskClient, doctor: str, body: Any, message: str
) -> None:
    response = client.post("/api/v1/services/batch", json=body, headers={"X-CSRFToken": doctor})
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_upload_without_csrf_header_is_refused(
    client: FlaskClient, world: World, doctor: str
) -> None:
    response = client.post("/api/v1/services/batch", json={"records": [record(world.resident)]})
    assert response.status_code == 400
    assert "令牌" in response.get_json()["error"]
    assert _count() == 0


def test_anonymous_upload_gets_401_json(client: FlaskClient, world: World) -> None:
    token = csrf_token(client)  # a valid token, but nobody logged in
    response = client.post(
        "/api/v1/services/batch",
        json={"records": [record(world.resident)]},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "未登录或登录已过期"
    assert _count() == 0


def test_county_auditor_may_not_upload(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.county, api=True)
    response = post_batch(client, token, [record(world.resident)])
    assert response.status_code == 403
    assert _count() == 0


def test_queries_per_batch_do_not_grow_with_its_size(
    client: FlaskClient, world: World, doctor: str, count_queries: Any
) -> None:
    from tests.factories.contracts import signed_household

    with clock.frozen(TODAY):
        homes = [signed_household(world.tree.team, 5, *TERM) for _ in range(20)]
        db.session.commit()
    people = [p for h in homes for p in h.residents]
    small = [bp_record(p) for p in people[:5]]
    large = [bp_record(p) for p in people[5:100]] + [record(p, "home_visit") for p in people[:100]]
    db.session.expunge_all()  # the test shares the app's session: start each count cold
    with count_queries() as few:
        assert {r["status"] for r in results(post_batch(client, doctor, small))} == {"created"}
    db.session.expunge_all()
    with count_queries() as many:
        assert {r["status"] for r in results(post_batch(client, doctor, large))} == {"created"}
    assert len(large) == 195
    assert many.count == few.count


def test_insert_skips_a_client_uuid_stored_meanwhile(world: World) -> None:
    """The path a concurrent upload takes: the row appeared after the existence check."""
    with clock.frozen(TODAY):
        payload = bp_record(world.resident)
        doctor = db.session.get(User, world.doctor.id)
        first = upload_batch(doctor, "a", [payload])[0]
        row = {c.name: getattr(db.session.get(ServiceRecord, first.id), c.name)
               for c in ServiceRecord.__table__.columns if c.name != "id"}  # fmt: skip
        assert insert_ignoring_duplicates([row]) == {}
    assert _count() == 1


def _upload_in_thread(app: Flask, user_id: int, batch: list[dict[str, Any]], barrier: threading.Barrier,
                      out: list[Any]) -> None:  # fmt: skip
    try:
        with app.app_context(), clock.frozen(TODAY):
            user = db.session.get(User, user_id)
            barrier.wait(timeout=30)
            got = upload_batch(user, f"tablet-{threading.get_ident()}", batch)
            db.session.commit()
            out.append([r.as_dict() for r in got])
    except Exception as exc:  # noqa: BLE001 - reported to the main thread
        out.append(exc)


def test_concurrent_uploads_of_the_same_records_store_each_once(app: Flask, world: World) -> None:
    from tests.factories.contracts import signed_household

    with clock.frozen(TODAY):
        homes = [signed_household(world.tree.team, 5, *TERM) for _ in range(6)]
        db.session.commit()
    batch = [bp_record(p) for h in homes for p in h.residents]
    threads_n = 6
    barrier = threading.Barrier(threads_n)
    out: list[Any] = []
    threads = [
        threading.Thread(target=_upload_in_thread, args=(app, world.doctor.id, batch, barrier, out))
        for _ in range(threads_n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    errors = [o for o in out if isinstance(o, Exception)]
    assert not errors, errors
    assert len(out) == threads_n
    db.session.expire_all()
    assert _count() == len(batch)
    created = Counter(r["client_uuid"] for res in out for r in res if r["status"] == "created")
    assert set(created.values()) == {1} and len(created) == len(batch)
    ids = {(r["client_uuid"], r["id"]) for res in out for r in res}
    assert len(ids) == len(batch)  # every thread got the one stored id of each record
