"""Member ratings (个人系数): each team member's performance coefficient c for a year, entered by
the team's leader until the year's settlement leaves draft. The attendance coefficient a is no
longer typed in: it comes from the monthly attendance records (``fdoctor.teamsplit``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.errors import SettlementError, SettlementStateError
from fdoctor.settlement.figures import check_year, parse_number
from fdoctor.settlement.models import MemberRating, Settlement
from fdoctor.settlement.parameters import MEMBER_ROLES
from fdoctor.settlement.queries import get_settlement


class RatingsInvalid(SettlementError):
    """Some members' values are wrong; ``errors`` maps each member's user id to its messages."""

    def __init__(self, errors: dict[int, list[str]]) -> None:
        super().__init__("；".join(m for messages in errors.values() for m in messages))
        self.errors = errors


def team_members(team_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.org_unit_id == team_id, User.role.in_(MEMBER_ROLES), User.active)
            .order_by(User.id)
        )
    )


def ratings_for(team_id: int, year: int) -> dict[int, MemberRating]:
    return {
        r.user_id: r
        for r in db.session.scalars(
            select(MemberRating).where(MemberRating.team_id == team_id, MemberRating.year == year)
        )
    }


def ratings_frozen(year: int) -> Settlement | None:
    """The year's settlement once it has left draft: ratings can no longer change it."""
    sheet = get_settlement(year, "settlement")
    return sheet if sheet is not None and sheet.status != "draft" else None


def save_ratings(team: OrgUnit, year: int, values: dict[int, str], user: Any) -> int:
    """Store c of the team's members for a year (a comes from attendance days); all rows or none.
    Empty rows are skipped.

    Every row is checked before anything is written; ``RatingsInvalid`` names each bad row."""
    check_year(year)
    frozen = ratings_frozen(year)
    if frozen is not None:
        raise SettlementStateError(f"{year} 年度结算表{frozen.status_label}，成员系数不能再修改")
    members = {m.id: m for m in team_members(team.id)}
    errors: dict[int, list[str]] = {}
    parsed: dict[int, Decimal] = {}
    for user_id, c_text in values.items():
        member = members.get(user_id)
        if member is None or member.on_probation:
            continue
        if not (c_text or "").strip():
            continue
        messages = []
        try:
            c = parse_number(c_text, f"「{member.display_name}」的个人绩效考评系数 c", places=2,
                             low=Decimal("0.8"), high=Decimal("1.2"))  # fmt: skip
        except SettlementError as exc:
            messages.append(str(exc))
        if messages:
            errors[user_id] = messages
            continue
        parsed[user_id] = c
    if errors:
        raise RatingsInvalid(errors)
    existing = ratings_for(team.id, year)
    now = clock.now()
    for user_id, c in parsed.items():
        row = existing.get(user_id)
        if row is None:
            row = MemberRating(
                year=year,
                user_id=user_id,
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
            )
            db.session.add(row)
        row.c = c
        row.entered_at, row.entered_by_id = now, getattr(user, "id", None)
    db.session.flush()
    return len(parsed)
