"""The assessment pages: scoring through the forms, drill-down, sheets, dashboards, public board."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from fdoctor.assessments import steps
from fdoctor.assessments.models import Assessment, Notification, Rectification
from fdoctor.assessments.opening import open_assessments
from fdoctor.auth.models import User
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.scheduler.jobs import run_job
from tests.conftest import AuthActions, csrf_token
from tests.factories.assessments import PERIOD, TODAY, World, score_all_manual
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def _l1(world: World) -> Assessment:
    open_assessments("L1", PERIOD)
    db.session.commit()
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L1", Assessment.unit_id == world.tree.team.id)
    )
    assert a is not None
    return a


def test_the_team_leader_scores_submits_publishes_and_acknowledges_through_the_pages(
    app: Flask, world: World, auth: AuthActions
) -> None:
    a = _l1(world)
    client = auth.client_for(world.user("leader"))
    page = f"/assessments/{a.id}"
    token = csrf_token(client, page)
    form = {"csrf_token": token}
    for item in a.items:
        if item.source == "manual":
            form[f"points-{item.code}"] = str(item.max_points)
            form[f"reason-{item.code}"] = ""
    form["points-A4"], form["reason-A4"] = "2", "公示栏未更新"
    assert client.post(f"{page}/score", data=form).status_code == 302
    for step in ("submit", "publish", "acknowledge"):
        response = client.post(f"{page}/{step}", data={"csrf_token": token}, follow_redirects=True)
        assert response.status_code == 200
    db.session.expire_all()
    assert (
        a.status == "acknowledged"
        and next(i for i in a.items if i.code == "A4").reason == "公示栏未更新"
    )
    html = client.get(page).get_data(as_text=True)
    assert "已确认" in html and "公示栏未更新" in html


def test_a_refused_step_shows_the_chinese_reason_and_changes_nothing(
    app: Flask, world: World, auth: AuthActions
) -> None:
    a = _l1(world)
    client = auth.client_for(world.user("leader"))
    token = csrf_token(client, f"/assessments/{a.id}")
    response = client.post(
        f"/assessments/{a.id}/acknowledge", data={"csrf_token": token}, follow_redirects=True
    )
    assert "当前状态为“已开启”，不能确认" in response.get_data(as_text=True)
    db.session.expire_all()
    assert a.status == "open"
    response = client.post(
        f"/assessments/{a.id}/score",
        data={"csrf_token": token, "points-A4": "1", "reason-A4": ""},
        follow_redirects=True,
    )
    assert "须填写理由" in response.get_data(as_text=True)


def test_the_scoring_page_explains_every_metric_and_links_to_its_records(
    app: Flask, world: World, auth: AuthActions
) -> None:
    a = _l1(world)
    client = auth.client_for(world.user("leader"))
    html = client.get(f"/assessments/{a.id}").get_data(as_text=True)
    assert "分子 2 / 分母 20" in html  # A1: two signed residents of twenty
    assert "达到目标 35% 得满分" in html  # the index's explanation
    assert 'name="points-A4"' in html and 'name="reason-A4"' in html
    assert 'name="points-A1"' not in html
    drill = client.get(f"/assessments/{a.id}/items/A1/records").get_data(as_text=True)
    assert "共 2 条记录" in drill and world.household.residents[0].name in drill
    volume = client.get(f"/assessments/{a.id}/items/B1/records").get_data(as_text=True)
    assert "共 3 条记录" in volume and "门诊/咨询" in volume


def test_an_assessment_out_of_scope_is_not_found(
    app: Flask, world: World, auth: AuthActions
) -> None:
    a = _l1(world)
    client = auth.client_for(world.user("other_leader"))
    assert client.get(f"/assessments/{a.id}").status_code == 404
    assert client.get(f"/assessments/{a.id}/sheet.pdf").status_code == 404
    token = csrf_token(client, "/assessments/")
    assert client.post(f"/assessments/{a.id}/submit", data={"csrf_token": token}).status_code == 404


def test_the_list_filters_by_level_and_shows_overdue_and_reminders(
    app: Flask, world: World, auth: AuthActions
) -> None:
    _l1(world)
    open_assessments("L2", "2026-Q1")
    db.session.commit()
    run_job("remind_l1", period=PERIOD)
    client = auth.client_for(world.user("centre"))
    html = client.get("/assessments/?level=L2").get_data(as_text=True)
    assert "东街一队" in html and "东街二队" in html and "城关一队" not in html
    assert html.count("二级考核 · 季度考核") >= 2 and "月度自查尚未提交" in html


def test_opening_from_the_page_is_limited_to_the_role_level_and_own_unit(
    app: Flask, world: World, auth: AuthActions
) -> None:
    client = auth.client_for(world.user("leader"))
    token = csrf_token(client, "/assessments/")
    response = client.post(
        "/assessments/open", data={"csrf_token": token, "level": "L1", "period": PERIOD}
    )
    assert response.status_code == 302
    assert db.session.scalars(select(Assessment.unit_id)).all() == [world.tree.team.id]
    refused = client.post(
        "/assessments/open",
        data={"csrf_token": token, "level": "L2", "period": "2026-Q1"},
        follow_redirects=True,
    )
    assert "只能开启一级考核" in refused.get_data(as_text=True)
    bad = client.post(
        "/assessments/open",
        data={"csrf_token": token, "level": "L1", "period": "2026-13"},
        follow_redirects=True,
    )
    assert "月份应在 1–12 之间" in bad.get_data(as_text=True)


def test_the_assessment_sheet_pdf_has_the_chinese_text_and_the_total(
    app: Flask, world: World, auth: AuthActions
) -> None:
    a = _l1(world)
    score_all_manual(a, world.user("leader"), {"A4": Decimal(2)})
    db.session.commit()
    client = auth.client_for(world.user("leader"))
    response = client.get(f"/assessments/{a.id}/sheet.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    compact = re.sub(r"\s+", "", text)
    assert "东街一队" in compact and "签约覆盖率" in compact and "公示栏" not in compact
    assert f"总分：{a.total:.2f}".rstrip("0").rstrip(".") in compact
    assert "考核人" in compact


def test_the_assessment_sheet_excel_has_points_as_numbers(
    app: Flask, world: World, auth: AuthActions
) -> None:
    a = _l1(world)
    score_all_manual(a, world.user("leader"))
    db.session.commit()
    client = auth.client_for(world.user("leader"))
    response = client.get(f"/assessments/{a.id}/sheet.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = {row[0]: row for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert rows["A1"][1] == "签约覆盖率" and isinstance(rows["A1"][6], float)
    total_row = next(row for row in sheet.iter_rows(values_only=True) if row[1] == "总分")
    assert total_row[6] == pytest.approx(float(a.total))


def test_rectification_through_the_pages(app: Flask, world: World, auth: AuthActions) -> None:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    score_all_manual(a, world.user("centre"), {"A4": Decimal(0)})
    steps.submit(a, world.user("centre"))
    steps.publish(a, world.user("centre"), today=TODAY)
    steps.acknowledge(a, world.user("leader"), today=TODAY)
    db.session.commit()
    rect = db.session.scalar(select(Rectification).where(Rectification.code == "A4"))
    leader = auth.client_for(world.user("leader"))
    token = csrf_token(leader, f"/assessments/{a.id}")
    leader.post(
        f"/assessments/rectifications/{rect.id}/rectify",
        data={"csrf_token": token, "evidence": "已补公示"},
    )
    centre = auth.client_for(world.user("centre"))
    token = csrf_token(centre, f"/assessments/{a.id}")
    centre.post(
        f"/assessments/rectifications/{rect.id}/verify",
        data={"csrf_token": token, "decision": "accept", "note": "属实"},
    )
    db.session.expire_all()
    assert rect.status == "verified" and rect.evidence == "已补公示"
    assert "已核验" in centre.get("/assessments/rectifications").get_data(as_text=True)


def test_the_appeal_and_answer_through_the_pages(
    app: Flask, world: World, auth: AuthActions
) -> None:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    score_all_manual(a, world.user("centre"), {"B2": Decimal(4)})
    steps.submit(a, world.user("centre"))
    steps.publish(a, world.user("centre"), today=TODAY)
    db.session.commit()
    leader = auth.client_for(world.user("leader"))
    token = csrf_token(leader, f"/assessments/{a.id}")
    leader.post(
        f"/assessments/{a.id}/appeal",
        data={"csrf_token": token, "appeal-reason-B2": "样本不足", "appeal-points-B2": ""},
    )
    db.session.expire_all()
    assert a.status == "appealed"
    centre = auth.client_for(world.user("centre"))
    token = csrf_token(centre, f"/assessments/{a.id}")
    appeal_id = a.appeals[0].id
    response = centre.post(
        f"/assessments/appeals/{appeal_id}/answer",
        data={
            "csrf_token": token,
            "decision-B2": "accepted",
            "corrected-B2": "6",
            "answer-B2": "复核认可",
        },
    )
    db.session.expire_all()
    current = db.session.scalar(
        select(Assessment).where(
            Assessment.level == "L2", Assessment.unit_id == a.unit_id, Assessment.is_current
        )
    )
    assert current.revision == 2 and response.headers["Location"].endswith(
        f"/assessments/{current.id}#appeals"
    )


def test_dashboards_give_a_table_and_chart_data_per_level(
    app: Flask, world: World, auth: AuthActions
) -> None:
    open_assessments("L2", "2026-Q1")
    for a in db.session.scalars(
        select(Assessment).where(Assessment.institution_id == world.tree.institution.id)
    ):
        score_all_manual(a, world.user("centre"))
        steps.submit(a, world.user("centre"))
    db.session.commit()
    centre = auth.client_for(world.user("centre"))
    html = centre.get("/assessments/dashboard").get_data(as_text=True)
    assert "团队排名" in html and "data-chart-url" in html and "<script>" not in html
    data = centre.get("/assessments/dashboard/data.json").get_json()
    assert (
        sorted(data["labels"]) == ["东街一队", "东街二队"] and len(data["datasets"][0]["data"]) == 2
    )
    leader = auth.client_for(world.user("leader"))
    team = leader.get("/assessments/dashboard/data.json").get_json()
    assert "A1 签约覆盖率" in team["labels"]
    county = auth.client_for(world.user("county"))
    assert "各机构三级考核" in county.get("/assessments/dashboard").get_data(as_text=True)
    city = auth.client_for(world.user("city"))
    assert "各县区市级年度考核" in city.get("/assessments/dashboard").get_data(as_text=True)
    assert (
        leader.get(
            f"/assessments/dashboard?view=centre&unit={world.tree.other_team.institution_id}"
        ).status_code
        == 404
    )


def test_the_public_board_needs_no_login_and_shows_no_personal_data(
    app: Flask, world: World
) -> None:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    score_all_manual(a, world.user("centre"), {"A4": Decimal(1)})
    steps.submit(a, world.user("centre"))
    steps.publish(a, world.user("centre"), today=TODAY)
    db.session.commit()
    html = app.test_client().get("/public/").get_data(as_text=True)
    assert "东街一队" in html and f"{a.total:.2f}" in html
    assert "东街二队" not in html  # not published
    assert (
        "测试理由" not in html
        and "leader1" not in html
        and world.household.residents[0].name not in html
    )


def test_notifications_and_workload_pages(app: Flask, world: World, auth: AuthActions) -> None:
    run_job("open_l1", period=PERIOD)
    run_job("remind_l1", period=PERIOD)
    run_job("workload_report", period=PERIOD)
    leader = auth.client_for(world.user("leader"))
    notes = leader.get("/assessments/notifications").get_data(as_text=True)
    assert "东街一队：2026年3月月度自查尚未提交" in notes and "东街二队" not in notes
    county = auth.client_for(world.user("county"))
    listing = county.get("/assessments/workload").get_data(as_text=True)
    assert "甲区" in listing and "乙县" not in listing
    report_id = int(re.search(r"/assessments/workload/(\d+)\"", listing).group(1))
    assert "门诊/咨询" in county.get(f"/assessments/workload/{report_id}").get_data(as_text=True)
    book = load_workbook(
        io.BytesIO(county.get(f"/assessments/workload/{report_id}.xlsx").data)
    ).active
    values = list(book.iter_rows(values_only=True))
    assert values[2][:3] == ("甲区东街社区卫生服务中心", "东街一队", 3)
    # The last column: the team's workload points by the county's (here the default) table.
    from assessments.workload import DEFAULT_POINT_TABLE
    from fdoctor.records.models import SERVICE_TYPES

    header = values[1]
    assert header[-1] == "工作量点数"
    by_label = {label: t for t, (_category, label) in SERVICE_TYPES.items()}
    expected = sum(
        (
            Decimal(count) * DEFAULT_POINT_TABLE.points[by_label[label]]
            for label, count in zip(header[2:-2], values[2][2:-2], strict=True)
        ),
        Decimal(0),
    )
    assert expected > 0 and Decimal(str(values[2][-1])) == expected
    other = auth.client_for(world.user("other_county"))
    assert other.get(f"/assessments/workload/{report_id}").status_code == 404
    assert db.session.scalar(select(Notification.id).limit(1)) is not None


def test_the_l4_page_shows_the_seed_and_the_reproduction_check(
    app: Flask, world: World, auth: AuthActions
) -> None:

    from fdoctor.assessments.l4 import draw_l4_spot_check

    draw_l4_spot_check(2025, seed=42)
    db.session.commit()
    city = auth.client_for(world.user("city"))
    html = city.get("/assessments/l4/2025").get_data(as_text=True)
    assert 'id="draw-seed">42<' in html and "一致" in html
    county = auth.client_for(world.user("county"))
    assert "乙县" not in county.get("/assessments/l4/2025").get_data(as_text=True)


def _publish_all_l1() -> None:
    """Score, submit, publish and acknowledge every open L1 (as each team's leader)."""
    for a in db.session.scalars(select(Assessment).where(Assessment.status == "open")).all():
        unit = db.session.get(OrgUnit, a.unit_id)
        leader = db.session.scalar(
            select(User).where(User.org_unit_id == a.unit_id, User.role == "team_leader")
        ) or make_user(f"lead{a.unit_id}", "team_leader", unit)
        score_all_manual(a, leader, {"A4": Decimal(0)})
        steps.submit(a, leader)
        steps.publish(a, leader, today=TODAY)
        steps.acknowledge(a, leader, today=TODAY)
    db.session.commit()


@pytest.mark.parametrize(
    "path",
    [
        "/assessments/?level=L1",
        "/assessments/dashboard?view=centre&level=L1",
        "/assessments/rectifications",
        "/public/?level=L1",
    ],
)
def test_pages_make_the_same_number_of_queries_whatever_the_number_of_teams(
    app: Flask, world: World, count_queries: object, path: str, auth: AuthActions
) -> None:
    from fdoctor.org.services import add_unit

    institution_id = world.tree.institution.id
    client = auth.client_for(world.user("centre"))
    open_assessments("L1", PERIOD)
    _publish_all_l1()

    def measure() -> int:
        db.session.remove()  # the request must not find the rows already loaded by the test
        with count_queries() as counter:  # type: ignore[operator]
            assert client.get(path).status_code == 200
        db.session.remove()
        return int(counter.count)

    few = measure()
    institution = db.session.get(OrgUnit, institution_id)
    for k in range(4):
        add_unit(f"410001-01-T{10 + k}", f"东街{10 + k}队", "team", institution)
    open_assessments("L1", PERIOD)
    _publish_all_l1()
    assert measure() == few


def test_the_list_flags_an_unsubmitted_assessment_once_past_its_due_date(
    app: Flask, world: World, auth: AuthActions
) -> None:
    from datetime import date

    from fdoctor.core import clock

    _l1(world)
    client = auth.client_for(world.user("leader"))
    with clock.frozen(date(2026, 4, 5)):  # the due date itself is on time
        assert 'badge text-bg-danger">逾期' not in client.get("/assessments/").get_data(
            as_text=True
        )
        assert "没有符合条件的考核" in client.get("/assessments/?only=overdue").get_data(
            as_text=True
        )
    with clock.frozen(date(2026, 4, 6)):
        assert 'badge text-bg-danger">逾期' in client.get("/assessments/").get_data(as_text=True)
        overdue = client.get("/assessments/?only=overdue").get_data(as_text=True)
        assert overdue.count('<tr class="table-danger">') == 1
