"""What the writes of the team split's sources share: the refusal (``TeamSplitError``), the
year's settlement not yet frozen, the member belonging to the team, the fields a user types (a
required text, a day not in the future, a decimal of two places, all checked at once) and the
member's row recorded with the team's scope.

Every write parses what a user typed (Chinese message on anything wrong, naming the row), writes
all rows or none, and flushes; the view commits once. The tables are audited (``fdoctor.audit``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.models import Settlement
from fdoctor.settlement.parameters import MEMBER_ROLES
from fdoctor.settlement.queries import get_settlement
from fdoctor.teamsplit.models import FundAward, MemberDeduction

MemberRow = TypeVar("MemberRow", MemberDeduction, FundAward)


class TeamSplitError(SettlementError):
    """A refusal in Chinese (a ``SettlementError``, so the pages treat it alike)."""


def frozen_settlement(year: int) -> Settlement | None:
    """The year's settlement once it has left draft: its sources can no longer change it."""
    sheet = get_settlement(year, "settlement")
    return sheet if sheet is not None and sheet.status != "draft" else None


def check_not_frozen(year: int, what: str) -> None:
    """Refuse a change to ``what`` once the year's settlement has left draft."""
    sheet = frozen_settlement(year)
    if sheet is not None:
        raise TeamSplitError(f"{year} 年度结算表{sheet.status_label}，{what}不能再修改")


def team_members(team: OrgUnit) -> list[User]:
    """The team's active members, by user id."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.org_unit_id == team.id, User.role.in_(MEMBER_ROLES), User.active)
            .order_by(User.id)
        )
    )


def required_text(value: str | None, label: str, limit: int) -> str:
    """``value`` stripped: not blank, at most ``limit`` characters."""
    text = (value or "").strip()
    if not text:
        raise TeamSplitError(f"请填写{label}")
    if len(text) > limit:
        raise TeamSplitError(f"{label}不能超过 {limit} 个字")
    return text


def past_day(value: str | None, label: str) -> date:
    """An ISO day (YYYY-MM-DD) no later than today."""
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        raise TeamSplitError(f"{label}格式应为 YYYY-MM-DD：{value or '（空）'}") from None
    if day > clock.today():
        raise TeamSplitError(f"{label}不能晚于今天：{day.isoformat()}")
    return day


def member_of(team: OrgUnit, user_id: Any) -> User:
    """The team's active member whose id ``user_id`` is (as typed in the form)."""
    try:
        ident = int(user_id)
    except (TypeError, ValueError):
        raise TeamSplitError("请选择成员") from None
    member = next((m for m in team_members(team) if m.id == ident), None)
    if member is None:
        raise TeamSplitError("该成员不属于本团队")
    return member


def two_place_decimal(
    text: str | None, label: str, within: Callable[[Decimal], bool], bounds: str
) -> Decimal:
    """``text`` as a number of at most 2 decimal places for which ``within`` holds; ``bounds``
    says in Chinese what it must be (``在 0 到 1000 之间``, ``大于 0、不超过 100`` …)."""
    raw = (text or "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise TeamSplitError(f"{label}必须是数字：{raw or '（空）'}") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not within(value):
        raise TeamSplitError(f"{label}必须{bounds}：{raw}")
    if isinstance(exponent, int) and exponent < -2:
        raise TeamSplitError(f"{label}最多保留 2 位小数：{raw}")
    return value


def parse_fields(parsers: Iterable[tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
    """Each field's parsed value by key, or one refusal naming every field that is wrong."""
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, parse in parsers:
        try:
            values[key] = parse()
        except SettlementError as exc:
            errors.append(str(exc))
    if errors:
        raise TeamSplitError("；".join(errors))
    return values


def add_member_row(
    model: type[MemberRow], team: OrgUnit, member: User, user: Any, values: dict[str, Any]
) -> MemberRow:
    """A row of ``model`` about ``member`` of ``team``, entered now by ``user``; flushed."""
    row = model(
        user_id=member.id,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        entered_at=clock.now(),
        entered_by_id=getattr(user, "id", None),
        **values,
    )
    db.session.add(row)
    db.session.flush()
    return row
