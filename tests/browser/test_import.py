"""Importing in real Chromium: a file with a bad row shows the report and imports nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from tests.browser.conftest import browser_login, screenshot
from tests.factories.contracts import World, world  # noqa: F401 - world is a fixture
from tests.factories.users import PASSWORD


def _residents() -> int:
    return db.session.scalar(select(func.count(Resident.id))) or 0


def test_import_with_a_bad_row_shows_the_report_and_imports_nothing(
    page: Any,
    live_server: str,
    world: World,  # noqa: F811
) -> None:
    good = cid.make("410001", date(1960, 1, 2), 411)
    bad = cid.make("410001", date(1990, 3, 4), 412)
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")  # wrong check digit
    text = (
        "姓名,身份证号,户编号,与户主关系,人群标签\n"
        f"陈一,{good},H-T1-002,父亲,高血压\n"
        f"陈二,{bad},H-T1-002,女,\n"
        f"陈三,{cid.make('410001', date(1992, 5, 6), 413)},NO-SUCH,子,\n"
    )
    before = _residents()
    browser_login(page, live_server, "doc1", PASSWORD)
    page.goto(f"{live_server}/imports/")
    page.click("#kind-residents a.btn-primary")
    page.set_input_files(
        "#file", files=[{"name": "居民.csv", "mimeType": "text/csv", "buffer": text.encode("gbk")}]
    )
    page.click("#submit")
    page.wait_for_selector("#report-table")
    rows = page.locator("#report-table tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t") == [
        "3",
        "身份证号",
        "身份证号校验位不正确，请核对后重新输入",
    ]
    assert "户编号 NO-SUCH 不存在" in rows.nth(1).inner_text()
    assert "未写入任何数据" in page.inner_text("#import-report")
    assert page.locator("#report-xlsx").is_visible()
    screenshot(page, "import-report")
    assert _residents() == before
    # Script and CSP errors only: resource statuses (the 422 of the rejected upload and the browser's favicon.ico 404) are expected.
    assert [e for e in page.console_errors if "Failed to load resource" not in e] == []
