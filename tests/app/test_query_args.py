"""A malformed year, period or month in the query string is a clear Chinese 400, not another year."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/settlement/?year=abc", "年份"),
        ("/settlement/?year=1999", "年份"),
        ("/assessments/index-file?year=20x6", "年份"),
        ("/assessments/?period=2026-Q9", "周期"),
        ("/assessments/dashboard?period=abc", "周期"),
        ("/assessments/dashboard/data.json?period=abc", "周期"),
        ("/public/?period=abc", "周期"),
        ("/surveys/report?period=abc", "周期"),
        ("/services/?month=2026-13", "月份"),
    ],
)
def test_a_malformed_query_parameter_is_a_chinese_400(
    client: FlaskClient, url: str, word: str, auth: AuthActions
) -> None:
    tree = make_tree()
    make_user("city", "city_admin", tree.city)
    db.session.commit()
    with clock.frozen(date(2026, 10, 10)):
        auth.login("city", PASSWORD)
        response = client.get(url)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "不是有效" in text and word in text


def test_a_valid_year_is_still_shown(client: FlaskClient, auth: AuthActions) -> None:
    tree = make_tree()
    make_user("city", "city_admin", tree.city)
    db.session.commit()
    with clock.frozen(date(2026, 10, 10)):
        auth.login("city", PASSWORD)
        response = client.get("/settlement/?year=2025")
    assert response.status_code == 200
    assert "2025" in response.get_data(as_text=True)
