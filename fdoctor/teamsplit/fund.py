"""The team fund (部门基金): what each year's settlement put in, the awards paid from it, and its
balance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from assessments.money import yuan
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.figures import parse_yuan
from fdoctor.settlement.models import SETTLEMENT_STATUSES, Settlement, SettlementLine
from fdoctor.teamsplit.entry import (
    TeamSplitError,
    add_member_row,
    member_of,
    parse_fields,
    past_day,
    required_text,
)
from fdoctor.teamsplit.models import AWARD_KINDS, FundAward


@dataclass(frozen=True)
class FundYear:
    year: int
    status: str
    status_label: str
    reserve_fen: int
    figures: dict[str, Any]


@dataclass(frozen=True)
class Fund:
    """A team's fund: what each year's settlement put in, the awards paid, and the balance.

    Only locked settlements count towards the balance (their money is final); a sheet still in
    draft or review is shown as pending."""

    years: list[FundYear]
    awards: list[FundAward]
    credited_fen: int
    awarded_fen: int

    @property
    def balance_fen(self) -> int:
        return self.credited_fen - self.awarded_fen


def fund_of(team: OrgUnit) -> Fund:
    rows = db.session.execute(
        select(
            Settlement.year,
            Settlement.status,
            SettlementLine.entitled_fen,
            SettlementLine.explanation,
        )
        .join(Settlement, Settlement.id == SettlementLine.settlement_id)
        .where(
            Settlement.kind == "settlement",
            SettlementLine.level == "reserve",
            SettlementLine.team_id == team.id,
        )
        .order_by(Settlement.year.desc())
    ).all()
    years = [
        FundYear(
            year=year,
            status=status,
            status_label=SETTLEMENT_STATUSES.get(status, status),
            reserve_fen=amount or 0,
            figures=json.loads(explanation or "{}").get("figures", {}),
        )
        for year, status, amount, explanation in rows
    ]
    awards = list(
        db.session.scalars(
            select(FundAward)
            .where(FundAward.team_id == team.id)
            .order_by(FundAward.awarded_on.desc(), FundAward.id.desc())
        )
    )
    credited = sum(y.reserve_fen for y in years if y.status == "locked")
    awarded = db.session.scalar(
        select(func.coalesce(func.sum(FundAward.amount_fen), 0)).where(FundAward.team_id == team.id)
    )
    return Fund(years, awards, credited, int(awarded or 0))


def add_award(
    team: OrgUnit,
    user_id: Any,
    kind: str,
    amount_text: str,
    reason: str,
    awarded_on: str,
    user: Any,
) -> FundAward:
    """An award from the team fund (特殊贡献奖/技能优胜奖), at most the fund's balance."""
    member = member_of(team, user_id)
    if kind not in AWARD_KINDS:
        raise TeamSplitError("请选择奖励类别（特殊贡献奖或技能优胜奖）")
    values = parse_fields(
        (
            ("amount_fen", lambda: parse_yuan(amount_text, "奖励金额（元）")),
            ("reason", lambda: required_text(reason, "奖励理由", 500)),
            ("awarded_on", lambda: past_day(awarded_on, "奖励日期")),
        )
    )
    if values["amount_fen"] <= 0:
        raise TeamSplitError("奖励金额必须大于 0")
    fund = fund_of(team)
    if values["amount_fen"] > fund.balance_fen:
        raise TeamSplitError(
            f"部门基金余额不足：余额 {yuan(fund.balance_fen)} 元（只计已锁定的结算），"
            f"奖励 {yuan(values['amount_fen'])} 元"
        )
    return add_member_row(FundAward, team, member, user, {"kind": kind, **values})
