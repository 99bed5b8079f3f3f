"""The team's internal check: deductions of points from a member, recorded by the team leader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.teamsplit.entry import (
    add_member_row,
    check_not_frozen,
    member_of,
    parse_fields,
    past_day,
    required_text,
    two_place_decimal,
)
from fdoctor.teamsplit.models import MemberDeduction


def add_deduction(
    team: OrgUnit,
    user_id: Any,
    points_text: str,
    reason: str,
    decided_by: str,
    decided_on: str,
    user: Any,
) -> MemberDeduction:
    """A deduction of the team's internal check: each point costs 1% of the member's amount."""
    member = member_of(team, user_id)
    values = parse_fields(
        (
            ("points", lambda: _deduction_points(points_text)),
            ("reason", lambda: required_text(reason, "扣分原因", 500)),
            ("decided_by", lambda: required_text(decided_by, "决定人（或小组）", 60)),
            ("decided_on", lambda: past_day(decided_on, "决定日期")),
        )
    )
    check_not_frozen(values["decided_on"].year, "扣分")
    return add_member_row(MemberDeduction, team, member, user, values)


def _deduction_points(text: str) -> Decimal:
    return two_place_decimal(text, "扣分", lambda value: 0 < value <= 100, "大于 0、不超过 100")


def deductions_of(team: OrgUnit, year: int) -> list[MemberDeduction]:
    return list(
        db.session.scalars(
            select(MemberDeduction)
            .where(
                MemberDeduction.team_id == team.id,
                MemberDeduction.decided_on >= date(year, 1, 1),
                MemberDeduction.decided_on <= date(year, 12, 31),
            )
            .order_by(MemberDeduction.decided_on, MemberDeduction.id)
        )
    )
