"""A year is settled only after it ends; its pre-allocation only after the year before ends.

The settlement of year Y reads Y's scores and its population at 31 December Y (from 1 January
Y+1); the pre-allocation for Y reads the population at 31 December Y−1 (from 1 January Y).
Each is tried at 23:59 on the last day (refused, in Chinese, naming the first allowed day) and at
00:00 on the next day (built), through the service and the build form.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.models import Settlement
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db

# (kind, the year that must have ended, the refusal's action text)
CASES = [
    ("settlement", YEAR, f"生成 {YEAR} 年度结算表"),
    ("preallocation", YEAR - 1, f"生成 {YEAR} 年度预拨表"),
]


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world()
    built.users["city"] = make_user("city-user", "city_admin", built["city"])
    db.session.commit()
    return built


def _sheets() -> int:
    return db.session.scalar(select(func.count()).select_from(Settlement))


def _refusal(ended: int, action: str) -> str:
    return f"{ended} 尚未结束，最早可于 {ended + 1}-01-01 {action}。"


@pytest.mark.parametrize(("kind", "ended", "action"), CASES)
def test_building_refuses_the_last_day_of_the_year_and_builds_the_next_day(
    world: Any, kind: str, ended: int, action: str
) -> None:
    with (
        clock.frozen(datetime(ended, 12, 31, 23, 59)),
        pytest.raises(SettlementError) as e,
    ):
        build_settlement(YEAR, kind, world.users["city"])
    assert str(e.value) == _refusal(ended, action)
    assert _sheets() == 0
    with clock.frozen(datetime(ended + 1, 1, 1, 0, 0)):
        settlement, changed = build_settlement(YEAR, kind, world.users["city"])
    db.session.commit()
    assert changed and (settlement.year, settlement.kind, settlement.status) == (
        YEAR,
        kind,
        "draft",
    )


def test_a_year_in_progress_and_a_later_year_are_refused(world: Any) -> None:
    with clock.frozen(date(YEAR, 12, 6)):
        for year, kind, ended in (
            (YEAR, "settlement", YEAR),
            (YEAR + 1, "settlement", YEAR + 1),
            (YEAR + 1, "preallocation", YEAR),
        ):
            with pytest.raises(SettlementError, match=f"^{ended} 尚未结束"):
                build_settlement(year, kind, world.users["city"])
    assert _sheets() == 0


@pytest.mark.parametrize(("kind", "ended", "action"), CASES)
def test_the_build_form_refuses_the_last_day_in_chinese_and_builds_the_next_day(
    client: FlaskClient, world: Any, kind: str, ended: int, action: str, auth: AuthActions
) -> None:
    with clock.frozen(datetime(ended, 12, 31, 23, 59)):
        assert auth.login("city-user", PASSWORD).status_code == 302
        token = csrf_token(client, "/settlement/")
        refused = client.post(
            "/settlement/build",
            data={"year": YEAR, "kind": kind, "csrf_token": token},
            follow_redirects=True,
        )
    assert refused.status_code == 200
    assert _refusal(ended, action) in refused.get_data(as_text=True)
    assert _sheets() == 0
    after = date(ended, 12, 31) + timedelta(days=1)
    with clock.frozen(datetime(after.year, after.month, after.day, 0, 0)):
        built = client.post(
            "/settlement/build", data={"year": YEAR, "kind": kind, "csrf_token": token}
        )
    assert built.status_code == 302
    assert _sheets() == 1
