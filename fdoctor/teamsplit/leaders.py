"""The institution's rule for its team leaders: they share the team split, or are paid from a
management share of the institution's amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.teamsplit.entry import TeamSplitError, two_place_decimal
from fdoctor.teamsplit.models import LeaderRule


def leader_rule(institution: OrgUnit) -> LeaderRule | None:
    return db.session.scalar(select(LeaderRule).where(LeaderRule.institution_id == institution.id))


def save_leader_rule(institution: OrgUnit, mode: str, rate_pct: str, user: Any) -> LeaderRule:
    """``mode`` "in_split" (leaders share the team split) or "management" (paid from
    ``rate_pct`` % of the institution's amount by their team's result)."""
    if mode not in ("in_split", "management"):
        raise TeamSplitError("请选择负责人分配方式")
    rate: Decimal | None = None
    if mode == "management":
        pct = two_place_decimal(
            rate_pct, "负责人统筹比例（%）", lambda value: 0 < value < 100, "大于 0、小于 100"
        )
        rate = pct / 100
    row = leader_rule(institution)
    if row is None:
        row = LeaderRule(institution_id=institution.id)
        db.session.add(row)
    row.leaders_in_split = mode == "in_split"
    row.management_rate = rate
    row.updated_at, row.updated_by_id = clock.now(), getattr(user, "id", None)
    db.session.flush()
    return row
