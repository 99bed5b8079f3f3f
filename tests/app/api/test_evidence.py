"""Evidence at capture: form time, location, signature and the tablet's clock, kept and checked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from tests.conftest import AuthActions
from tests.factories.records import TODAY, World, bp_record, make_world, record, results

pytestmark = pytest.mark.db

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, 0)  # the frozen clock
SIGNATURE = "M12 80L20 74L31 70L44 75L52 90M60 60L70 62"


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(NOW):
        yield make_world()


@pytest.fixture()
def doctor(world: World, auth: AuthActions) -> str:
    return auth.login_as(world.doctor, api=True)


def _post(client: FlaskClient, token: str, records: list[dict], **body: object) -> object:
    return client.post(
        "/api/v1/services/batch",
        json={"device_id": "tablet-test", "records": records, **body},
        headers={"X-CSRFToken": token},
    )


def test_a_record_keeps_its_evidence_beside_the_servers_receive_time(
    client: FlaskClient, world: World, doctor: str
) -> None:
    payload = bp_record(
        world.resident,
        entered_at="2026-06-15T08:40:30",
        form_opened_at="2026-06-15T08:36:00",
        location={"latitude": 34.7466123, "longitude": "113.6253", "accuracy_m": 18.4},
        resident_signature=SIGNATURE,
    )
    [got] = results(_post(client, doctor, [payload], device_time="2026-06-15T09:00:05+08:00"))
    assert got["status"] == "created", got
    stored = db.session.get(ServiceRecord, got["id"])
    assert stored is not None
    assert stored.entered_at == datetime(2026, 6, 15, 8, 40, 30)
    assert stored.uploaded_at == NOW  # the server's receive time, beside the tablet's entry time
    assert stored.form_opened_at == datetime(2026, 6, 15, 8, 36, 0)
    assert stored.form_seconds == 270
    assert stored.latitude == Decimal("34.746612")
    assert stored.longitude == Decimal("113.625300")
    assert stored.location_accuracy_m == 18
    assert stored.resident_signature == SIGNATURE
    assert stored.clock_skew_seconds == 5
    read = client.get(f"/api/v1/services/{payload['client_uuid']}").get_json()["record"]
    assert read["form_seconds"] == 270
    assert read["clock_skew_seconds"] == 5
    assert read["has_location"] is True and read["has_signature"] is True
    assert "resident_signature" not in read


def test_evidence_is_optional_and_a_clock_set_back_shows_as_skew(
    client: FlaskClient, world: World, doctor: str
) -> None:
    plain = record(world.resident, entered_at="2026-06-15T08:00:00")
    [got] = results(_post(client, doctor, [plain], device_time="2026-06-12T09:00:00"))
    stored = db.session.get(ServiceRecord, got["id"])
    assert stored is not None
    assert (stored.form_seconds, stored.latitude, stored.resident_signature) == (None, None, None)
    assert stored.clock_skew_seconds == -3 * 86400
    [again] = results(_post(client, doctor, [record(world.home.residents[1])]))
    assert db.session.get(ServiceRecord, again["id"]).clock_skew_seconds is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"form_opened_at": "2026-06-15T08:50:00"}, "form_opened_at", "表单打开时间晚于保存时间"),
        ({"form_opened_at": "2026-06-14T08:00:00"}, "form_opened_at", "超过 24 小时"),
        ({"form_opened_at": "昨天"}, "form_opened_at", "表单打开时间格式"),
        ({"location": {"latitude": 91, "longitude": 113}}, "location", "纬度应在 -90–90"),
        ({"location": {"latitude": 34, "longitude": "东经"}}, "location", "经度应在"),
        (
            {"location": {"latitude": 34, "longitude": 113, "accuracy_m": -1}},
            "location",
            "定位精度",
        ),
        ({"location": [34, 113]}, "location", "位置应为包含经纬度的对象"),
        ({"resident_signature": "M1 1L2 2"}, "resident_signature", "签名过短"),
        ({"resident_signature": "M1 1L2 2<script>"}, "resident_signature", "格式不正确"),
        ({"resident_signature": "M1 1L500 2L3 3L4 4L5 5"}, "resident_signature", "超出签名框"),
        ({"resident_signature": "M1 1" + "L2 2" * 4000}, "resident_signature", "签名过大"),
        ({"resident_signature": 42}, "resident_signature", "格式不正确"),
    ],
)
def test_bad_evidence_is_refused_with_a_chinese_message_and_nothing_stored(
    client: FlaskClient, world: World, doctor: str, fields: dict, field: str, message: str
) -> None:
    payload = record(world.resident, entered_at="2026-06-15T08:40:00", **fields)
    [got] = results(_post(client, doctor, [payload]))
    assert got["status"] == "invalid"
    assert message in got["errors"][field]
    assert db.session.query(ServiceRecord).count() == 0


def test_an_unreadable_device_time_refuses_the_batch(
    client: FlaskClient, world: World, doctor: str
) -> None:
    response = _post(client, doctor, [record(world.resident)], device_time="late")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "device_time" in response.get_json()["error"]  # type: ignore[attr-defined]
    assert db.session.query(ServiceRecord).count() == 0


def test_the_openapi_document_describes_the_evidence(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    batch = spec["paths"]["/services/batch"]["post"]["requestBody"]["content"]["application/json"]
    schema = batch["schema"]
    assert "device_time" in schema["properties"]
    fields = schema["properties"]["records"]["items"]["properties"]
    assert {"form_opened_at", "location", "resident_signature"} <= set(fields)


def test_the_record_page_shows_the_evidence_and_draws_the_signature(
    client: FlaskClient, world: World, doctor: str
) -> None:
    payload = bp_record(
        world.resident,
        entered_at="2026-06-15T08:40:30",
        form_opened_at="2026-06-15T08:36:00",
        resident_signature=SIGNATURE,
    )
    [got] = results(_post(client, doctor, [payload], device_time="2026-06-15T08:55:00"))
    page = client.get(f"/services/{got['id']}").get_data(as_text=True)
    assert "表单用时 4 分 30 秒" in page
    assert "平板时钟比服务器慢 5 分钟" in page
    assert "未记录位置" in page
    assert f'<path d="{SIGNATURE}"' in page
