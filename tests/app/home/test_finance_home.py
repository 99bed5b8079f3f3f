"""The finance office's home page shows money (the latest sheets, amounts by county, pool funds),
not service counts; the funds page lists every year's pool funds for finance and the city."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from tests.conftest import AuthActions
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _in_january() -> Iterator[None]:
    with clock.frozen(date(YEAR + 1, 1, 15)):
        yield


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world()
    built.users["city"] = make_user("city-user", "city_admin", built["city"])
    built.users["finance"] = make_user("finance-user", "finance", built["city"])
    built.users["county"] = make_user("county-user", "county_auditor", built["甲区"])
    db.session.commit()
    return built


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_finance_home_shows_the_sheet_its_amounts_by_county_and_the_funds(
    world: Any, auth: AuthActions
) -> None:
    settlement, _ = build_settlement(YEAR, "settlement", world.users["city"])
    db.session.commit()
    html = auth.client_for("finance-user").get("/").get_data(as_text=True)
    text = _text(html)
    assert "资金概况" in text and "本月服务" not in text and "签约居民" not in text
    assert f"{YEAR} 年度结算表 草稿 15,000.00 元" in text
    assert f'href="/settlement/{settlement.id}"' in html
    counties = text[text.index("各县（市、区）金额") : text.index("结算池资金（元）")]
    assert "甲区 9 90.00 6,694.21" in counties and "丙县" in counties
    funds = text[text.index("结算池资金（元）") :]
    assert f"结算池 {YEAR} 年度 {YEAR + 1} 年度" in funds
    assert "市区 10,000.00 未配置" in funds and "合计 15,000.00 —" in funds
    # The draft waits for the city's review: not the finance office's to-do yet.
    assert "待审核通过" not in text


def test_a_sheet_reviewed_by_the_city_waits_for_finance(world: Any, auth: AuthActions) -> None:
    from fdoctor.settlement.approval import transition

    settlement, _ = build_settlement(YEAR, "settlement", world.users["city"])
    transition(settlement, "review", world.users["city"])
    db.session.commit()
    html = auth.client_for("finance-user").get("/").get_data(as_text=True)
    assert f"{YEAR} 年度结算表（第 1 版，已审核）待批准" in html
    assert f'href="/settlement/{settlement.id}">去处理</a>' in html


def test_without_sheets_the_finance_home_says_so(world: Any, auth: AuthActions) -> None:
    text = _text(auth.client_for("finance-user").get("/").get_data(as_text=True))
    assert "尚无结算表" in text and "市区 10,000.00" in text


def test_the_funds_page_lists_every_year_for_finance_and_the_city_only(
    world: Any, auth: AuthActions
) -> None:
    finance = auth.client_for("finance-user")
    assert "结算池资金" in finance.get("/").get_data(as_text=True)  # in the menu
    text = _text(finance.get("/funds").get_data(as_text=True))
    assert f"结算池 {YEAR} 年度 {YEAR + 1} 年度" in text
    assert "县市 5,000.00 未配置" in text
    city = auth.client_for("city-user").get(f"/funds?year={YEAR}").get_data(as_text=True)
    assert f"/settlement/config?year={YEAR}#funds" in city
    assert auth.client_for("county-user").get("/funds").status_code == 403
