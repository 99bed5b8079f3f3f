"""Input that used to crash: ``"--1"`` ids, dates at year 0001/9999 moved by their offset, lone
surrogates, NUL bytes, 100,000-deep JSON and huge page numbers. Each gets a Chinese 400 (or a
per-record error), the same on SQLite and PostgreSQL, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.core.input_guard import BAD_TEXT_MESSAGE, DEEP_JSON_MESSAGE
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.records.models import ServiceRecord
from tests.conftest import AuthActions
from tests.factories.records import TODAY, World, bp_record, make_world, results

pytestmark = pytest.mark.db

OUT_OF_RANGE = "输入的数值超出允许范围或格式不正确"


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


@pytest.fixture()
def doctor(world: World, auth: AuthActions) -> str:
    return auth.login_as(world.doctor, api=True)


def _records() -> int:
    return db.session.scalar(select(func.count(ServiceRecord.id))) or 0


def _post_raw(client: FlaskClient, token: str, body: str, url: str = "/api/v1/services/batch"):
    return client.post(
        url, data=body, content_type="application/json", headers={"X-CSRFToken": token}
    )


def _batch_body(*records: dict[str, Any], device_id: str = "tablet-test") -> str:
    # json.dumps escapes a lone surrogate as "\ud800", exactly what a client would send.
    return json.dumps({"records": list(records), "device_id": device_id})


# --- text no database stores alike ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["备注\x00后面", "\ud800", "前\udfff后"])
@pytest.mark.parametrize("where", ["notes", "device_id", "key"])
def test_nul_and_lone_surrogates_in_a_batch_are_refused_alike(
    client: FlaskClient, world: World, doctor: str, bad: str, where: str
) -> None:
    item = bp_record(world.resident)
    if where == "notes":
        item["notes"] = bad
        body = _batch_body(item)
    elif where == "device_id":
        body = _batch_body(item, device_id=bad)
    else:
        item[bad] = "x"
        body = _batch_body(item)
    response = _post_raw(client, doctor, body)
    assert response.status_code == 400
    assert response.get_json() == {"error": BAD_TEXT_MESSAGE, "status": 400}
    assert _records() == 0


def test_nul_in_an_edit_is_refused(client: FlaskClient, world: World, doctor: str) -> None:
    item = bp_record(world.resident)
    [created] = results(_post_raw(client, doctor, _batch_body(item)))
    edit = {**item, "notes": "改\x00", "base_version": 1}
    response = client.put(
        f"/api/v1/services/{created['client_uuid']}",
        data=json.dumps(edit),
        content_type="application/json",
        headers={"X-CSRFToken": doctor},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == BAD_TEXT_MESSAGE
    stored = db.session.get(ServiceRecord, created["id"])
    assert stored is not None and stored.notes is None


def test_nul_in_a_query_string_is_refused(client: FlaskClient, world: World, doctor: str) -> None:
    response = client.get("/api/v1/services", query_string={"since": "2026-01-01\x00"})
    assert response.status_code == 400
    assert response.get_json()["error"] == BAD_TEXT_MESSAGE
    page = client.get("/households/", query_string={"q": "张\x00"})
    assert page.status_code == 400
    assert BAD_TEXT_MESSAGE in page.get_data(as_text=True)


def test_nul_in_a_form_field_is_refused_and_nothing_stored(
    client: FlaskClient, world: World, doctor: str
) -> None:
    before = db.session.scalar(select(func.count(Resident.id)))
    response = client.post(
        f"/households/{world.home.id}/residents/new",
        data={"csrf_token": doctor, "name": "王\x00芳", "citizen_id": "", "relation": "女"},
    )
    assert response.status_code == 400
    assert BAD_TEXT_MESSAGE in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Resident.id))) == before


# --- structure --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/services/batch",
                                 "/api/v1/services/00000000-0000-4000-8000-000000000000"])  # fmt: skip
def test_json_nested_100000_deep_is_refused(
    client: FlaskClient, world: World, doctor: str, url: str
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    method = client.post if url.endswith("batch") else client.put
    for body in (deep, '{"records": ' + deep + "}"):
        response = method(
            url, data=body, content_type="application/json", headers={"X-CSRFToken": doctor}
        )
        assert response.status_code == 400
        assert response.get_json()["error"] == DEEP_JSON_MESSAGE


def test_moderately_nested_json_is_refused_before_any_view_walks_it(
    client: FlaskClient, world: World, doctor: str
) -> None:
    item = bp_record(world.resident, notes="x")
    item["extra"] = json.loads("[" * 40 + "]" * 40)
    response = _post_raw(client, doctor, _batch_body(item))
    assert response.status_code == 400
    assert _records() == 0


# --- numbers and dates ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["--1", "+-1", "²", "١٢", "1_0", "0x10", "1e3"])
def test_malformed_integer_ids_get_a_per_record_error(
    client: FlaskClient, world: World, doctor: str, value: str
) -> None:
    item = bp_record(world.resident)
    item["resident_id"] = value
    [result] = results(_post_raw(client, doctor, _batch_body(item)))
    assert result["status"] == "invalid"
    assert result["errors"]["resident_id"] == "居民必须是整数"
    assert _records() == 0


@pytest.mark.parametrize("value", ["--1", "²", "1e999", "99999999999999999999999999999999"])
@pytest.mark.parametrize("name", ["after_id", "limit", "team"])
def test_malformed_or_huge_query_integers_do_not_crash(
    client: FlaskClient, world: World, doctor: str, value: str, name: str
) -> None:
    response = client.get("/api/v1/residents", query_string={name: value})
    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert response.get_json()["error"] == f"参数 {name} 应为整数"


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+00:01"],
)
def test_entered_at_shifted_past_the_calendar_is_a_per_record_error(
    client: FlaskClient, world: World, doctor: str, moment: str
) -> None:
    item = bp_record(world.resident, entered_at=moment)
    [result] = results(_post_raw(client, doctor, _batch_body(item)))
    assert result["status"] == "invalid"
    assert result["errors"]["entered_at"] == "录入时间超出有效范围"


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
@pytest.mark.parametrize("param", ["since", "cursor"])
def test_since_shifted_past_the_calendar_is_a_400(
    client: FlaskClient, world: World, doctor: str, since: str, param: str
) -> None:
    value = since if param == "since" else f"{since}|1"
    response = client.get("/api/v1/services", query_string={param: value})
    assert response.status_code == 400
    assert "since 应为 ISO 时间" in response.get_json()["error"]


@pytest.mark.parametrize("service_date", ["0001-01-01", "9999-12-31"])
def test_service_dates_at_the_ends_of_the_calendar_are_refused_per_record(
    client: FlaskClient, world: World, doctor: str, service_date: str
) -> None:
    item = bp_record(world.resident, service_date=service_date)
    [result] = results(_post_raw(client, doctor, _batch_body(item)))
    assert result["status"] == "invalid"
    assert _records() == 0


@pytest.mark.parametrize("page", [str(10**30), str(2**63), str(2**62)])
@pytest.mark.parametrize("path", ["/services/", "/households/", "/assessments/notifications"])
def test_huge_page_numbers_get_a_400_or_an_empty_page(
    client: FlaskClient, world: World, doctor: str, page: str, path: str
) -> None:
    response = client.get(path, query_string={"page": page, "q": "张"})
    assert response.status_code in {200, 400}, response.status_code
    if response.status_code == 400:
        assert OUT_OF_RANGE in response.get_data(as_text=True)


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "10000-01", "0-0"])
def test_a_month_at_the_end_of_the_calendar_is_a_chinese_400(
    client: FlaskClient, world: World, doctor: str, month: str
) -> None:
    # Never silently another month (issue: ?year=abc showed another year), never a 500.
    response = client.get("/services/", query_string={"month": month})
    assert response.status_code == 400
    assert f"参数 month 的值“{month}”不是有效月份" in response.get_data(as_text=True)
