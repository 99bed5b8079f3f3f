"""Checks and balances of a team's second distribution: the leader proposes, the group's
representative confirms and publishes (公示, 3 working days), members object and the leader
answers, the institution approves after the 公示 — through the pages, step by step, with every
refusal in Chinese and the database keeping the order even against raw SQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from fdoctor.audit.models import AuditEntry
from fdoctor.core import clock
from fdoctor.distribution import services
from fdoctor.distribution.models import DistributionObjection, TeamDistribution
from fdoctor.distribution.services import DistributionError, add_working_days
from fdoctor.extensions import db
from tests.app.distribution.conftest import Locked, lock_sheet
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db

# The sheet is locked on Friday 2027-01-15 (the settlement fixtures' day); published that day,
# 3 working days of 公示 are Monday 18 to Wednesday 20 January.
PUBLISHED_ON = date(2027, 1, 15)
ENDS_ON = date(2027, 1, 20)
DURING = datetime(2027, 1, 20, 17, 0)
AFTER = datetime(2027, 1, 21, 9, 0)


def _post(client: FlaskClient, path: str, text_value: str = "") -> str:
    token = csrf_token(client, "/distribution/")
    response = client.post(path, data={"csrf_token": token, "text": text_value})
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _proposed(locked: Locked) -> TeamDistribution:
    distribution = services.propose(locked.sheet, locked.world["T1"], locked.leader, "按结算明细")
    db.session.commit()
    return distribution


def _published(locked: Locked) -> TeamDistribution:
    distribution = _proposed(locked)
    services.confirm(distribution, locked.nurse, "已核对")
    db.session.commit()
    return distribution


def test_working_days_skip_the_weekend() -> None:
    assert add_working_days(PUBLISHED_ON, 3) == ENDS_ON
    assert add_working_days(date(2027, 1, 18), 1) == date(2027, 1, 19)  # Monday → Tuesday
    assert add_working_days(date(2027, 1, 22), 1) == date(2027, 1, 25)  # Friday → Monday


def test_the_whole_way_through_the_pages(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    team, sheet = locked.world["T1"], locked.sheet
    page = f"/distribution/{sheet.id}/team/{team.id}"

    auth.login_as("t1-leader")
    html = _post(client, f"{page}/propose", "按结算表明细分配")
    assert "已提交二次分配方案，待二次分配工作小组代表确认" in html
    distribution = services.distribution_for(sheet.id, team.id)
    assert distribution is not None and distribution.status == "proposed"
    # The team's amount and its members' part as the locked sheet has them.
    assert distribution.team_fen == distribution.members_fen + _reserve_fen(locked)

    # Before the 公示 a plain member sees no list.
    auth.login_as("t1-new")
    assert 'id="lines-hidden"' in client.get(page).get_data(as_text=True)

    auth.login_as("t1-nurse")
    html = _post(client, f"/distribution/{distribution.id}/confirm", "已核对")
    assert "已确认方案，方案已在团队内公示" in html and "公示期至 2027-01-20" in html
    db.session.refresh(distribution)
    assert distribution.status == "published"
    assert distribution.confirmed_by_id == locked.nurse.id
    assert distribution.publicity_ends_on == ENDS_ON and distribution.publicity_days == 3

    auth.login_as("t1-new")
    html = client.get(page).get_data(as_text=True)
    assert 'id="distribution-lines"' in html and "t1-leader" in html
    with clock.frozen(DURING):
        html = _post(client, f"/distribution/{distribution.id}/object", "我的出勤天数有误")
    assert "已提交异议，等待团队长答复" in html and "我的出勤天数有误" in html

    objection = db.session.scalar(select(DistributionObjection))
    assert objection is not None
    with clock.frozen(AFTER):
        auth.login_as("t1-leader")
        html = _post(
            client,
            f"/distribution/objection/{objection.id}/answer",
            "已核对考勤记录，天数无误",
        )
        assert "已答复异议" in html
        auth.login_as("c1-admin")
        html = _post(client, f"/distribution/{distribution.id}/approve")
    assert "已批准本团队的二次分配" in html
    db.session.refresh(distribution)
    assert distribution.status == "approved" and distribution.approved_by_id == locked.centre.id

    # Every step is in the audit trail.
    entries = db.session.execute(
        select(AuditEntry.table_name, AuditEntry.action).where(
            AuditEntry.table_name.in_(
                ("team_distribution", "distribution_objection", "distribution_settings")
            )
        )
    ).all()
    assert entries.count(("distribution_settings", "create")) == 1
    assert entries.count(("team_distribution", "create")) == 1
    assert entries.count(("team_distribution", "update")) == 2  # confirmed, approved
    assert entries.count(("distribution_objection", "create")) == 1
    assert entries.count(("distribution_objection", "update")) == 1  # answered


def _reserve_fen(locked: Locked) -> int:
    from fdoctor.settlement.models import SettlementLine

    value = db.session.scalar(
        select(SettlementLine.entitled_fen).where(
            SettlementLine.settlement_id == locked.sheet.id,
            SettlementLine.level == "reserve",
            SettlementLine.team_id == locked.world["T1"].id,
        )
    )
    assert value is not None
    return int(value)


def test_the_proposer_may_not_confirm_their_own_proposal(locked: Locked) -> None:
    distribution = _proposed(locked)
    with pytest.raises(DistributionError, match="提交人不能确认自己提交的方案"):
        services.confirm(distribution, locked.leader, "")


def test_only_the_named_representative_confirms(locked: Locked) -> None:
    distribution = _proposed(locked)
    with pytest.raises(DistributionError, match="只有本团队指定的二次分配工作小组代表可以确认"):
        services.confirm(distribution, locked.trainee, "")


def test_the_leader_cannot_be_the_representative(locked: Locked) -> None:
    with pytest.raises(DistributionError, match="代表不能是团队长"):
        services.save_settings(locked.world["T1"], locked.leader.id, "3", locked.centre)


def test_only_the_leader_proposes_and_only_on_a_locked_sheet(locked: Locked) -> None:
    with pytest.raises(DistributionError, match="只有本团队的团队长可以提交"):
        services.propose(locked.sheet, locked.world["T1"], locked.nurse, "")


def test_an_unlocked_sheet_takes_no_proposal(app: object) -> None:
    world = build_world()
    centre = make_user("c1-admin", "centre_admin", world["甲一"])
    sheet = lock_sheet(world, lock=False)
    services.save_settings(world["T1"], world.users["T1N"].id, "3", centre)
    with pytest.raises(DistributionError, match="结算表锁定后才能提交"):
        services.propose(sheet, world["T1"], world.users["T1L"], "")


def test_approval_is_refused_during_the_publicity(locked: Locked) -> None:
    distribution = _published(locked)
    with (
        clock.frozen(DURING),
        pytest.raises(DistributionError, match="公示期至 2027-01-20 结束，公示期内不能批准"),
    ):
        services.approve(distribution, locked.centre)


def test_approval_is_refused_before_confirmation(locked: Locked) -> None:
    distribution = _proposed(locked)
    with (
        clock.frozen(AFTER),
        pytest.raises(DistributionError, match="尚未经二次分配工作小组代表确认"),
    ):
        services.approve(distribution, locked.centre)


def test_approval_is_refused_with_an_open_objection(locked: Locked) -> None:
    distribution = _published(locked)
    with clock.frozen(DURING):
        services.object_to(distribution, locked.trainee, "试用期不参与分配的依据是什么")
        db.session.commit()
    with (
        clock.frozen(AFTER),
        pytest.raises(DistributionError, match="尚有 1 条异议未答复，不能批准"),
    ):
        services.approve(distribution, locked.centre)


def test_only_the_teams_own_institution_approves(locked: Locked) -> None:
    distribution = _published(locked)
    with clock.frozen(AFTER), pytest.raises(DistributionError, match="只有本机构"):
        services.approve(distribution, locked.other_centre)


def test_an_objection_after_the_publicity_is_refused(locked: Locked) -> None:
    distribution = _published(locked)
    with (
        clock.frozen(AFTER),
        pytest.raises(DistributionError, match="公示期已于 2027-01-20 结束，不能再提出异议"),
    ):
        services.object_to(distribution, locked.nurse, "迟到的异议")


def test_a_non_member_cannot_object(locked: Locked, client: FlaskClient, auth: AuthActions) -> None:
    distribution = _published(locked)
    with pytest.raises(DistributionError, match="只有本团队的成员可以对本团队的二次分配提出异议"):
        services.object_to(distribution, locked.outsider, "我也有意见")
    # Through the page the other team's distribution does not even exist for them.
    auth.login_as("t2-nurse")
    response = client.post(
        f"/distribution/{distribution.id}/object",
        data={"csrf_token": csrf_token(client, "/distribution/"), "text": "我也有意见"},
    )
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(DistributionObjection)) == 0


def test_an_objection_needs_a_reason(locked: Locked) -> None:
    distribution = _published(locked)
    with pytest.raises(DistributionError, match="请填写异议理由"):
        services.object_to(distribution, locked.nurse, "  ")


def test_a_refusal_on_the_page_is_shown_in_chinese(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    distribution = _published(locked)
    auth.login_as("c1-admin")
    html = _post(client, f"/distribution/{distribution.id}/approve")
    assert "公示期内不能批准" in html
    db.session.refresh(distribution)
    assert distribution.status == "published"


def _raw(sql: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_the_database_keeps_the_order(locked: Locked) -> None:
    proposed = _proposed(locked)
    # Published without a confirmation by someone other than the proposer.
    with pytest.raises(DatabaseError, match="二次分配须经提交人以外的团队代表确认后才能公示"):
        _raw(
            "UPDATE team_distribution SET status = 'published', confirmed_by_id = proposed_by_id,"
            " confirmed_at = proposed_at, published_at = proposed_at,"
            " publicity_ends_on = :ends WHERE id = :id",
            ends=ENDS_ON, id=proposed.id,
        )  # fmt: skip
    services.confirm(proposed, locked.nurse, "")
    db.session.commit()
    # Approved on the last day of the 公示.
    with pytest.raises(DatabaseError, match="二次分配须在公示期满且异议均已答复后才能批准"):
        _raw(
            "UPDATE team_distribution SET status = 'approved', approved_at = :at,"
            " approved_by_id = :by WHERE id = :id",
            at=DURING, by=locked.centre.id, id=proposed.id,
        )  # fmt: skip
    # An objection dated after the 公示.
    with pytest.raises(DatabaseError, match="只能在公示期内对公示中的二次分配提出异议"):
        _raw(
            "INSERT INTO distribution_objection (distribution_id, county_id, institution_id,"
            " team_id, user_id, reason, created_at) VALUES (:d, :c, :i, :t, :u, 'x', :at)",
            d=proposed.id, c=proposed.county_id, i=proposed.institution_id,
            t=proposed.team_id, u=locked.nurse.id, at=AFTER,
        )  # fmt: skip
    # The published proposal cannot be rewritten.
    with pytest.raises(DatabaseError, match="公示中的二次分配方案不能修改"):
        _raw("UPDATE team_distribution SET members_fen = 1 WHERE id = :id", id=proposed.id)
    with clock.frozen(AFTER):
        services.approve(proposed, locked.centre)
        db.session.commit()
    with pytest.raises(DatabaseError, match="已批准的二次分配不能修改或删除"):
        _raw("UPDATE team_distribution SET status = 'published' WHERE id = :id", id=proposed.id)


def test_the_centre_names_the_representative_on_its_page(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    team = locked.world["T2"]
    auth.login_as("c1-admin")
    html = client.get("/distribution/").get_data(as_text=True)
    assert f'id="settings-{team.id}"' in html and "甲一中心团队" in html
    token = csrf_token(client, "/distribution/")
    response = client.post(
        f"/distribution/settings/{team.id}",
        data={"csrf_token": token, "representative_id": str(locked.outsider.id),
              "publicity_days": "5"},
    )  # fmt: skip
    assert response.status_code == 302
    settings = services.settings_for(team.id)
    assert settings is not None
    assert settings.representative_id == locked.outsider.id and settings.publicity_days == 5
    # A centre admin of another institution cannot reach the team at all.
    auth.login_as("c2-admin")
    response = client.post(
        f"/distribution/settings/{team.id}",
        data={"csrf_token": csrf_token(client, "/distribution/"), "publicity_days": "3"},
    )
    assert response.status_code == 404


def test_pages_of_another_team_and_steps_of_another_role_are_refused(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    distribution = _published(locked)
    page = f"/distribution/{locked.sheet.id}/team/{locked.world['T1'].id}"
    auth.login_as("t2-nurse")
    assert client.get(page).status_code == 404
    auth.login_as("c2-admin")
    assert client.get(page).status_code == 404
    # A doctor cannot approve, a centre admin cannot confirm: refused by role before anything.
    auth.login_as("t1-nurse")
    token = csrf_token(client, "/distribution/")
    assert (
        client.post(f"/distribution/{distribution.id}/approve", data={"csrf_token": token})
    ).status_code == 403
    auth.login_as("c1-admin")
    token = csrf_token(client, "/distribution/")
    assert (
        client.post(f"/distribution/{distribution.id}/confirm", data={"csrf_token": token})
    ).status_code == 403
    db.session.refresh(distribution)
    assert distribution.status == "published"


def test_a_second_proposal_and_a_second_answer_are_refused(locked: Locked) -> None:
    distribution = _published(locked)
    with pytest.raises(DistributionError, match="已经提交，不能重复提交"):
        services.propose(locked.sheet, locked.world["T1"], locked.leader, "")
    objection = services.object_to(distribution, locked.nurse, "请说明 k 的计算")
    services.answer(objection, locked.leader, "按服务记录条数计算")
    db.session.commit()
    with pytest.raises(DistributionError, match="该异议已经答复"):
        services.answer(objection, locked.leader, "再答一次")
    with pytest.raises(DistributionError, match="只有本团队的团队长可以答复异议"):
        services.answer(objection, locked.nurse, "代答")
