"""Importing residents: encodings, every row checked, a bad row imports nothing, no duplicates."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Pregnancy, Resident
from fdoctor.imports.models import ImportRun
from tests.app.imports.helpers import count, csv_bytes, upload, xlsx_bytes
from tests.conftest import AuthActions
from tests.factories.contracts import TODAY, World

pytestmark = pytest.mark.db

HEADER = [
    "姓名",
    "身份证号",
    "户编号",
    "与户主关系",
    "是否户主",
    "联系电话",
    "人群标签",
    "末次月经日期",
]
MAN = cid.make("410001", date(1958, 5, 6), 311)
WOMAN = cid.make("410001", date(1996, 7, 8), 312)
CHILD = cid.make("410001", date(2022, 1, 2), 313)


def _rows() -> list[list[object]]:
    return [
        HEADER,
        ["周大勇", MAN, "H-T1-002", "父亲", "否", "13512345678", "高血压、2型糖尿病", ""],
        ["吴小红", WOMAN, "H-T1-002", "配偶", "否", "", "孕产妇", "2026-01-15"],
        ["周乐乐", CHILD, "H-T1-002", "子", "", "", "0-6岁儿童", ""],
    ]


def _new_residents() -> int:
    return count(Resident)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_or_gbk_imports(
    client: FlaskClient, world: World, encoding: str, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    before = _new_residents()
    status, _ = upload(client, token, "residents", csv_bytes(_rows(), encoding), "居民.csv")
    assert status == 302
    assert _new_residents() == before + 3
    man = db.session.scalar(select(Resident).where(Resident.citizen_id == MAN))
    assert man is not None
    assert (man.sex, man.birth_date, man.relation) == ("M", date(1958, 5, 6), "父亲")
    assert man.tags_on(TODAY) == ["elderly65", "hypertension", "diabetes"]
    assert man.household_id == world.households["h2"].id


def test_maternal_row_gets_a_pregnancy(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    upload(client, token, "residents", csv_bytes(_rows()), "居民.csv")
    woman = db.session.scalar(select(Resident).where(Resident.citizen_id == WOMAN))
    assert woman is not None
    lmp = db.session.scalar(select(Pregnancy.lmp_date).where(Pregnancy.resident_id == woman.id))
    assert lmp == date(2026, 1, 15)


def test_file_with_one_bad_row_imports_nothing_and_reports_it(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[2][1] = WOMAN[:17] + ("0" if WOMAN[17] != "0" else "1")  # row 3: wrong check digit
    before = _new_residents()
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert _new_residents() == before
    assert "<td>3</td><td>身份证号</td><td>身份证号校验位不正确，请核对后重新输入</td>" in html
    assert "未写入任何数据" in html
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.status == "rejected"
    assert run.problems == [(3, "身份证号", "身份证号校验位不正确，请核对后重新输入")]


def test_report_can_be_downloaded(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[1][2] = "NO-SUCH"
    upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None
    text = client.get(f"/imports/runs/{run.id}/report.csv").data.decode("utf-8-sig")
    assert text.splitlines()[0] == "行号,列名,问题"
    assert "2,户编号,户编号 NO-SUCH 不存在或不在您的管辖范围内，请先导入家庭" in text


def test_same_file_twice_creates_no_duplicates(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    content = csv_bytes(_rows())
    upload(client, token, "residents", content, "居民.csv")
    before = (count(Resident), count(Pregnancy))
    status, _ = upload(client, token, "residents", content, "居民.csv")
    assert status == 302
    assert (count(Resident), count(Pregnancy)) == before
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.unchanged_count == 3 and run.created_count == 0


def test_citizen_id_stored_as_an_excel_number_is_reported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[1][1] = float(MAN[:17]) * 10  # what Excel keeps of an ID typed into a number cell
    status, html = upload(client, token, "residents", xlsx_bytes(rows), "居民.xlsx")
    assert status == 422
    assert "身份证号须以文本格式填写" in html


def test_duplicate_id_inside_the_file_is_reported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[3][1] = MAN
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "与第2行的身份证号重复" in html


def test_household_out_of_scope_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[1][2] = "H-T2-001"
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "户编号 H-T2-001 不存在或不在您的管辖范围内" in html


def test_person_registered_in_another_county_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[1][1] = world.people["foreign"].citizen_id
    rows[1][0] = "孙丽"
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "身份证号已登记在您管辖范围外的家庭 H-X-001 中" in html


def test_two_heads_for_one_household_are_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[1][3:5] = ["本人", "是"]
    rows[2][3:5] = ["本人", "是"]
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "与第2行同为户 H-T1-002 的户主" in html


def test_age_tag_that_does_not_fit_the_birth_date_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[2][6] = "65岁及以上老年人"
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "该居民不属于“65岁及以上老年人”" in html


def test_unknown_tag_is_refused(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[1][6] = "高血脂"
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "无法识别的人群标签“高血脂”" in html


def test_maternal_without_last_period_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows()
    rows[2][7] = ""
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "<td>3</td><td>末次月经日期</td><td>孕产妇须填写末次月经日期</td>" in html


def test_entered_sex_must_match_the_id(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [r + [s] for r, s in zip(_rows(), ["性别", "女", "女", "男"], strict=True)]
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "<td>2</td><td>性别</td><td>性别与身份证号不符：身份证号显示为男性</td>" in html


def test_existing_resident_is_updated_by_id(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    son = world.people["son"]
    rows = [HEADER, ["张小明", son.citizen_id, "H-T1-001", "子", "否", "13698765432", "残疾人", ""]]
    status, _ = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 302
    db.session.expire_all()
    saved = db.session.get(Resident, son.id)
    assert saved is not None and saved.phone == "13698765432" and saved.tag_disabled


def test_a_second_self_in_a_stored_household_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [HEADER, ["周大勇", MAN, "H-T1-001", "本人", "是", "", "", ""]]
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "已有户主（本人）张建国" in html
    assert _new_residents() == 6


def test_the_head_is_replaced_when_the_file_gives_the_old_one_another_relation(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    elder = world.people["elder"]
    rows = [
        HEADER,
        [elder.name, elder.citizen_id, "H-T1-001", "父亲", "否", "", "", ""],
        ["周大勇", MAN, "H-T1-001", "本人", "是", "", "", ""],
    ]
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 302, html
    selves = db.session.scalars(
        select(Resident.name).where(
            Resident.household_id == world.households["h1"].id, Resident.relation == "本人"
        )
    ).all()
    assert selves == ["周大勇"]
