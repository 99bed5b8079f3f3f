"""The team's second distribution step by step: propose (team leader), confirm and publish (the
distribution group's representative), object (any member, during the 公示), answer (team
leader), approve (the institution). Each step checks who acts and in which order, and refuses
with a Chinese message; the database keeps the same order (``triggers.py``). Flushes; the view
commits once. Every row written here is in the audit trail."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.core.roles import Role
from fdoctor.distribution.models import (
    DEFAULT_PUBLICITY_DAYS,
    DistributionObjection,
    DistributionSettings,
    TeamDistribution,
)
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.models import Settlement, SettlementLine
from fdoctor.settlement.parameters import MEMBER_ROLES

MAX_TEXT = 500


class DistributionError(UserFacingError):
    """A refused step of the second distribution (Chinese message, meant for the user)."""


def add_working_days(day: date, days: int) -> date:
    """The ``days``-th working day (Monday to Friday) after ``day``.

    No holiday calendar exists in the app yet, so public holidays count as working days.
    """
    current, left = day, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def is_member(user: Any, team: OrgUnit) -> bool:
    """An active doctor or team leader of ``team`` (the people its distribution pays)."""
    return bool(
        getattr(user, "active", False)
        and getattr(user, "role", None) in MEMBER_ROLES
        and getattr(user, "org_unit_id", None) == team.id
    )


def is_leader(user: Any, team: OrgUnit) -> bool:
    return is_member(user, team) and user.role == Role.TEAM_LEADER.value


def settings_for(team_id: int) -> DistributionSettings | None:
    return db.session.scalar(
        select(DistributionSettings).where(DistributionSettings.team_id == team_id)
    )


def publicity_days_for(team_id: int) -> int:
    settings = settings_for(team_id)
    return settings.publicity_days if settings else DEFAULT_PUBLICITY_DAYS


def _text(value: str | None, what: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DistributionError(f"请填写{what}")
    if len(text) > MAX_TEXT:
        raise DistributionError(f"{what}不能超过 {MAX_TEXT} 个字")
    return text


def save_settings(team: OrgUnit, representative_id: int | None, days: str, user: Any) -> None:
    """The centre admin names the team's representative and the length of its 公示."""
    if user.role != Role.CENTRE_ADMIN.value or user.org_unit_id != team.institution_id:
        raise DistributionError("只有本机构的管理员可以设置团队的二次分配工作小组代表")
    try:
        publicity_days = int(days)
    except (TypeError, ValueError):
        raise DistributionError("公示天数须为 1–30 之间的整数") from None
    if not 1 <= publicity_days <= 30:
        raise DistributionError("公示天数须为 1–30 之间的整数")
    if representative_id is not None:
        representative = db.session.get(User, representative_id)
        if representative is None or not is_member(representative, team):
            raise DistributionError("代表须为本团队在岗的成员")
        if representative.role == Role.TEAM_LEADER.value:
            raise DistributionError("代表不能是团队长：方案由团队长提交，须由另一名成员确认")
    settings = settings_for(team.id)
    if settings is None:
        settings = DistributionSettings(
            county_id=team.county_id, institution_id=team.institution_id, team_id=team.id
        )
        db.session.add(settings)
    settings.representative_id = representative_id
    settings.publicity_days = publicity_days
    settings.updated_at, settings.updated_by_id = clock.now(), user.id
    db.session.flush()


def team_lines(settlement_id: int, team_id: int) -> list[SettlementLine]:
    """The team's line, its members' lines and its fund (部门基金) in the sheet, in sheet order."""
    return list(
        db.session.scalars(
            select(SettlementLine)
            .where(
                SettlementLine.settlement_id == settlement_id,
                SettlementLine.team_id == team_id,
                SettlementLine.level.in_(("team", "member", "reserve")),
            )
            .order_by(SettlementLine.position)
        )
    )


def distribution_for(settlement_id: int, team_id: int) -> TeamDistribution | None:
    return db.session.scalar(
        select(TeamDistribution).where(
            TeamDistribution.settlement_id == settlement_id, TeamDistribution.team_id == team_id
        )
    )


def propose(settlement: Settlement, team: OrgUnit, user: Any, note: str | None) -> TeamDistribution:
    """The team leader puts the sheet's member lines of the team forward, with a note."""
    if not is_leader(user, team):
        raise DistributionError("只有本团队的团队长可以提交二次分配方案")
    if settlement.kind != "settlement" or settlement.status != "locked":
        raise DistributionError("结算表锁定后才能提交二次分配方案（锁定前金额仍可能变化）")
    if distribution_for(settlement.id, team.id) is not None:
        raise DistributionError("本团队本年度的二次分配方案已经提交，不能重复提交")
    settings = settings_for(team.id)
    if settings is None or settings.representative_id is None:
        raise DistributionError("本团队尚未指定二次分配工作小组代表，请机构管理员先指定")
    lines = team_lines(settlement.id, team.id)
    team_line = next((line for line in lines if line.level == "team"), None)
    members = [line for line in lines if line.level == "member"]
    if team_line is None or not members:
        raise DistributionError("结算表中没有本团队的成员分配明细")
    distribution = TeamDistribution(
        settlement_id=settlement.id,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        status="proposed",
        team_fen=team_line.entitled_fen or 0,
        members_fen=sum(line.entitled_fen or 0 for line in members),
        proposal_note=_text(note, "说明", required=False),
        proposed_at=clock.now(),
        proposed_by_id=user.id,
    )
    db.session.add(distribution)
    db.session.flush()
    return distribution


def _team(distribution: TeamDistribution) -> OrgUnit:
    team = db.session.get(OrgUnit, distribution.team_id)
    assert team is not None
    return team


def confirm(distribution: TeamDistribution, user: Any, note: str | None) -> TeamDistribution:
    """The representative confirms the leader's proposal; it is published to the team at once."""
    team = _team(distribution)
    if distribution.status != "proposed":
        raise DistributionError(f"方案当前状态为「{distribution.status_label}」，不能再确认")
    if user.id == distribution.proposed_by_id:
        raise DistributionError("提交人不能确认自己提交的方案，须由二次分配工作小组代表确认")
    settings = settings_for(team.id)
    if settings is None or settings.representative_id != user.id or not is_member(user, team):
        raise DistributionError("只有本团队指定的二次分配工作小组代表可以确认方案")
    now = clock.now()
    days = settings.publicity_days
    distribution.confirmed_at, distribution.confirmed_by_id = now, user.id
    distribution.confirm_note = _text(note, "确认意见", required=False)
    distribution.published_at, distribution.publicity_days = now, days
    distribution.publicity_ends_on = add_working_days(now.date(), days)
    distribution.status = "published"
    db.session.flush()
    return distribution


def object_to(
    distribution: TeamDistribution, user: Any, reason: str | None
) -> DistributionObjection:
    """A member of the team objects, with a reason, while the 公示 runs."""
    team = _team(distribution)
    if not is_member(user, team):
        raise DistributionError("只有本团队的成员可以对本团队的二次分配提出异议")
    if distribution.status != "published":
        raise DistributionError(
            f"方案当前状态为「{distribution.status_label}」，不在公示期，不能提出异议"
        )
    assert distribution.publicity_ends_on is not None
    if clock.today() > distribution.publicity_ends_on:
        raise DistributionError(
            f"公示期已于 {distribution.publicity_ends_on:%Y-%m-%d} 结束，不能再提出异议"
        )
    objection = DistributionObjection(
        distribution_id=distribution.id,
        county_id=distribution.county_id,
        institution_id=distribution.institution_id,
        team_id=distribution.team_id,
        user_id=user.id,
        reason=_text(reason, "异议理由", required=True),
        created_at=clock.now(),
    )
    db.session.add(objection)
    db.session.flush()
    return objection


def answer(objection: DistributionObjection, user: Any, text: str | None) -> DistributionObjection:
    """The team leader answers an objection (once)."""
    distribution = objection.distribution
    if not is_leader(user, _team(distribution)):
        raise DistributionError("只有本团队的团队长可以答复异议")
    if objection.answered_at is not None:
        raise DistributionError("该异议已经答复")
    if distribution.status != "published":
        raise DistributionError(f"方案当前状态为「{distribution.status_label}」，不能答复异议")
    objection.answer = _text(text, "答复", required=True)
    objection.answered_at, objection.answered_by_id = clock.now(), user.id
    db.session.flush()
    return objection


def approve(distribution: TeamDistribution, user: Any) -> TeamDistribution:
    """The institution approves once the 公示 is over and every objection has an answer."""
    if user.role != Role.CENTRE_ADMIN.value or user.org_unit_id != distribution.institution_id:
        raise DistributionError("只有本机构（社区卫生服务中心/乡镇卫生院）可以批准二次分配")
    if distribution.status == "proposed":
        raise DistributionError("方案尚未经二次分配工作小组代表确认并公示，不能批准")
    if distribution.status != "published":
        raise DistributionError(f"方案当前状态为「{distribution.status_label}」，不能再批准")
    assert distribution.publicity_ends_on is not None
    if clock.today() <= distribution.publicity_ends_on:
        raise DistributionError(
            f"公示期至 {distribution.publicity_ends_on:%Y-%m-%d} 结束，公示期内不能批准"
        )
    open_count = db.session.scalar(
        select(func.count(DistributionObjection.id)).where(
            DistributionObjection.distribution_id == distribution.id,
            DistributionObjection.answered_at.is_(None),
        )
    )
    if open_count:
        raise DistributionError(f"尚有 {open_count} 条异议未答复，不能批准")
    distribution.approved_at, distribution.approved_by_id = clock.now(), user.id
    distribution.status = "approved"
    db.session.flush()
    return distribution


def is_published(distribution: TeamDistribution | None) -> bool:
    """Whether the team's list may be shown to every member (公示 started)."""
    return distribution is not None and distribution.status in ("published", "approved")
