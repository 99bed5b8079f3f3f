"""Writing the team split's sources: attendance (typed in one table or imported), the county's
point table, deductions, fund awards and the leader rule. Every write parses what a user typed
(Chinese message on anything wrong, naming the row), writes all rows or none, and flushes; the
view commits once. The tables are audited (``fdoctor.audit``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select

from assessments.attendance import LEAVE_KINDS
from assessments.money import yuan
from assessments.workload import DEFAULT_POINT_TABLE
from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.query import YEAR_RANGE
from fdoctor.extensions import db
from fdoctor.imports.reader import ImportFileError, read_table
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import SERVICE_TYPES
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import parse_yuan
from fdoctor.settlement.models import SETTLEMENT_STATUSES, Settlement, SettlementLine
from fdoctor.settlement.parameters import MEMBER_ROLES
from fdoctor.settlement.queries import get_settlement
from fdoctor.teamsplit.models import (
    AWARD_KINDS,
    LEAVE_COLUMNS,
    AttendanceRecord,
    FundAward,
    LeaderRule,
    MemberDeduction,
    PointValue,
)

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# The attendance table's fields: form/column key -> Chinese label.
ATTENDANCE_FIELDS: dict[str, str] = {
    "days_due": "应出勤天数",
    "days_worked": "实际出勤天数",
    **{column: f"{LEAVE_KINDS[kind]}天数" for kind, column in LEAVE_COLUMNS.items()},
}
# The spreadsheet's columns (the institution's own attendance sheet, one row per member).
IMPORT_ID_COLUMN = "用户名"
IMPORT_NAME_COLUMN = "姓名"


class TeamSplitError(SettlementError):
    """A refusal in Chinese (a ``SettlementError``, so the pages treat it alike)."""


def parse_month(text: str | None) -> str:
    """A month "YYYY-MM" that has begun (attendance is recorded for past and current months)."""
    raw = (text or "").strip()
    match = MONTH_RE.match(raw)
    if (
        not match
        or not 1 <= int(match.group(2)) <= 12
        or not YEAR_RANGE[0] <= int(match.group(1)) <= YEAR_RANGE[1]
    ):
        raise TeamSplitError(f"月份格式应为 YYYY-MM：{raw or '（空）'}")
    today = clock.today()
    if (int(match.group(1)), int(match.group(2))) > (today.year, today.month):
        raise TeamSplitError(f"{raw} 尚未开始，不能录入出勤")
    return raw


def frozen_settlement(year: int) -> Settlement | None:
    """The year's settlement once it has left draft: its sources can no longer change it."""
    sheet = get_settlement(year, "settlement")
    return sheet if sheet is not None and sheet.status != "draft" else None


def _check_not_frozen(year: int, what: str) -> None:
    sheet = frozen_settlement(year)
    if sheet is not None:
        raise TeamSplitError(f"{year} 年度结算表{sheet.status_label}，{what}不能再修改")


# --------------------------------------------------------------------------- attendance


def institution_members(institution: OrgUnit) -> list[tuple[OrgUnit, User]]:
    """Every active member of the institution's teams, by team code then user id."""
    rows = db.session.execute(
        select(OrgUnit, User)
        .join(User, User.org_unit_id == OrgUnit.id)
        .where(
            OrgUnit.kind == "team",
            OrgUnit.institution_id == institution.id,
            OrgUnit.active,
            User.role.in_(MEMBER_ROLES),
            User.active,
        )
        .order_by(OrgUnit.code, User.id)
    ).all()
    return [(team, user) for team, user in rows]


def attendance_for(institution: OrgUnit, month: str) -> dict[int, AttendanceRecord]:
    return {
        r.user_id: r
        for r in db.session.scalars(
            select(AttendanceRecord).where(
                AttendanceRecord.institution_id == institution.id, AttendanceRecord.month == month
            )
        )
    }


def _days(text: Any, label: str, *, required: bool) -> int:
    raw = "" if text is None else str(text).strip()
    if raw.endswith(".0"):
        raw = raw[:-2]
    if not raw:
        if required:
            raise TeamSplitError(f"请填写{label}")
        return 0
    if not raw.isdigit():
        raise TeamSplitError(f"{label}必须是不小于 0 的整数天：{raw}")
    value = int(raw)
    if value > 31:
        raise TeamSplitError(f"{label}不能超过 31 天：{raw}")
    return value


def _attendance_row(values: dict[str, Any], who: str) -> dict[str, int]:
    """One member's days, checked: whole days, and worked + leave ≤ due (Chinese, naming who)."""
    parsed = {
        key: _days(values.get(key), f"{who}的{label}", required=key in ("days_due", "days_worked"))
        for key, label in ATTENDANCE_FIELDS.items()
    }
    leave = sum(parsed[column] for column in LEAVE_COLUMNS.values())
    if parsed["days_worked"] + leave > parsed["days_due"]:
        raise TeamSplitError(
            f"{who}的实际出勤天数（{parsed['days_worked']}）与请假天数（{leave}）之和"
            f"不能多于应出勤天数（{parsed['days_due']}）"
        )
    return parsed


def _blank(values: dict[str, Any]) -> bool:
    return all(not str(values.get(key) or "").strip() for key in ATTENDANCE_FIELDS)


def save_attendance(
    institution: OrgUnit, month_text: str, rows: dict[int, dict[str, Any]], user: Any
) -> int:
    """Store the month's attendance of the institution's members: all rows or none.

    ``rows``: user id -> field -> text (``ATTENDANCE_FIELDS``). A row left entirely blank is
    skipped; every other row is checked and the errors of all rows are reported together.
    """
    month = parse_month(month_text)
    _check_not_frozen(int(month[:4]), "出勤记录")
    members = {u.id: (team, u) for team, u in institution_members(institution)}
    errors: list[str] = []
    parsed: dict[int, dict[str, int]] = {}
    for user_id, values in rows.items():
        if user_id not in members:
            errors.append(f"成员（编号 {user_id}）不属于本机构的团队")
            continue
        if _blank(values):
            continue
        who = f"「{members[user_id][1].display_name}」"
        try:
            parsed[user_id] = _attendance_row(values, who)
        except TeamSplitError as exc:
            errors.append(str(exc))
    if errors:
        raise TeamSplitError("；".join(errors))
    if not parsed:
        raise TeamSplitError("没有填写任何成员的出勤")
    existing = attendance_for(institution, month)
    now = clock.now()
    for user_id, days in parsed.items():
        team, _member = members[user_id]
        row = existing.get(user_id)
        if row is None:
            row = db.session.scalar(
                select(AttendanceRecord).where(
                    AttendanceRecord.user_id == user_id, AttendanceRecord.month == month
                )
            )
        if row is None:
            row = AttendanceRecord(user_id=user_id, month=month)
            db.session.add(row)
        row.county_id, row.institution_id, row.team_id = (
            team.county_id,
            team.institution_id,
            team.id,
        )
        for key, value in days.items():
            setattr(row, key, value)
        row.entered_at, row.entered_by_id = now, getattr(user, "id", None)
    db.session.flush()
    return len(parsed)


def import_attendance(
    institution: OrgUnit, month_text: str, filename: str, content: bytes, user: Any
) -> int:
    """The institution's attendance spreadsheet (.xlsx or .csv) for a month, one row a member.

    Columns: 用户名 (or 姓名 when unique in the institution), 应出勤天数, 实际出勤天数, and
    病假天数, 事假天数, 产假天数, 工休假天数, 婚假天数 (blank = 0). Errors name the row.
    """
    try:
        table = read_table(filename, content)
    except ImportFileError as exc:
        raise TeamSplitError(str(exc)) from None
    headers = set(table.headers)
    if IMPORT_ID_COLUMN not in headers and IMPORT_NAME_COLUMN not in headers:
        raise TeamSplitError(f"表格缺少“{IMPORT_ID_COLUMN}”或“{IMPORT_NAME_COLUMN}”列")
    for key in ("days_due", "days_worked"):
        if ATTENDANCE_FIELDS[key] not in headers:
            raise TeamSplitError(f"表格缺少“{ATTENDANCE_FIELDS[key]}”列")
    members = institution_members(institution)
    by_username = {u.username: u for _, u in members}
    by_name: dict[str, list[User]] = {}
    for _, u in members:
        by_name.setdefault(u.display_name, []).append(u)
    rows: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    for row in table.rows:
        username, name = row.text(IMPORT_ID_COLUMN), row.text(IMPORT_NAME_COLUMN)
        values = {key: row.text(label) for key, label in ATTENDANCE_FIELDS.items()}
        if not username and not name and _blank(values):
            continue
        found = by_username.get(username) if username else None
        if found is None and not username and name:
            matches = by_name.get(name, [])
            if len(matches) > 1:
                errors.append(
                    f"第 {row.number} 行：本机构有 {len(matches)} 名「{name}」，请填写用户名"
                )
                continue
            found = matches[0] if matches else None
        if found is None:
            errors.append(f"第 {row.number} 行：本机构团队中没有成员「{username or name}」")
            continue
        if found.id in rows:
            errors.append(f"第 {row.number} 行：成员「{found.display_name}」重复")
            continue
        try:
            _attendance_row(values, f"第 {row.number} 行「{found.display_name}」")
        except TeamSplitError as exc:
            errors.append(str(exc))
            continue
        rows[found.id] = values
    if errors:
        raise TeamSplitError("；".join(errors[:50]))
    return save_attendance(institution, month_text, rows, user)


# --------------------------------------------------------------------------- point table


@dataclass(frozen=True)
class PointRow:
    service_type: str
    label: str
    default: Decimal
    county: Decimal | None

    @property
    def points(self) -> Decimal:
        return self.county if self.county is not None else self.default


def point_rows(county: OrgUnit | None) -> list[PointRow]:
    """The default table's types with the county's overrides (None: the city's default)."""
    overrides: dict[str, Decimal] = {}
    if county is not None:
        overrides = dict(
            db.session.execute(
                select(PointValue.service_type, PointValue.points).where(
                    PointValue.county_id == county.id
                )
            ).all()
        )
    return [
        PointRow(t, SERVICE_TYPES.get(t, ("", t))[1], p, overrides.get(t))
        for t, p in DEFAULT_POINT_TABLE.points.items()
    ]


def _points(text: str, label: str) -> Decimal:
    raw = text.strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise TeamSplitError(f"{label}必须是数字：{raw}") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or value < 0 or value > 1000:
        raise TeamSplitError(f"{label}必须在 0 到 1000 之间：{raw}")
    if isinstance(exponent, int) and exponent < -2:
        raise TeamSplitError(f"{label}最多保留 2 位小数：{raw}")
    return value


def save_point_values(county: OrgUnit, values: dict[str, str], user: Any) -> int:
    """The county's points per service type; blank = the city's default. All or none."""
    errors: list[str] = []
    parsed: dict[str, Decimal | None] = {}
    for row in point_rows(county):
        text = (values.get(row.service_type) or "").strip()
        if not text:
            parsed[row.service_type] = None
            continue
        try:
            parsed[row.service_type] = _points(text, f"「{row.label}」的点数")
        except TeamSplitError as exc:
            errors.append(str(exc))
    if errors:
        raise TeamSplitError("；".join(errors))
    existing = {
        p.service_type: p
        for p in db.session.scalars(select(PointValue).where(PointValue.county_id == county.id))
    }
    now = clock.now()
    changed = 0
    for service_type, value in parsed.items():
        row = existing.get(service_type)
        if value is None or value == DEFAULT_POINT_TABLE.points[service_type]:
            if row is not None:
                db.session.delete(row)
                changed += 1
            continue
        if row is None:
            row = PointValue(county_id=county.id, service_type=service_type)
            db.session.add(row)
        if row.points != value:
            row.points = value
            row.updated_at, row.updated_by_id = now, getattr(user, "id", None)
            changed += 1
    db.session.flush()
    return changed


# --------------------------------------------------------------------------- deductions


def team_members(team: OrgUnit) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.org_unit_id == team.id, User.role.in_(MEMBER_ROLES), User.active)
            .order_by(User.id)
        )
    )


def _text(value: str | None, label: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise TeamSplitError(f"请填写{label}")
    if len(text) > limit:
        raise TeamSplitError(f"{label}不能超过 {limit} 个字")
    return text


def _day(value: str | None, label: str) -> date:
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        raise TeamSplitError(f"{label}格式应为 YYYY-MM-DD：{value or '（空）'}") from None
    if day > clock.today():
        raise TeamSplitError(f"{label}不能晚于今天：{day.isoformat()}")
    return day


def _member_of(team: OrgUnit, user_id: Any) -> User:
    try:
        ident = int(user_id)
    except (TypeError, ValueError):
        raise TeamSplitError("请选择成员") from None
    member = next((m for m in team_members(team) if m.id == ident), None)
    if member is None:
        raise TeamSplitError("该成员不属于本团队")
    return member


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
    member = _member_of(team, user_id)
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, parse in (
        ("points", lambda: _deduction_points(points_text)),
        ("reason", lambda: _text(reason, "扣分原因", 500)),
        ("decided_by", lambda: _text(decided_by, "决定人（或小组）", 60)),
        ("decided_on", lambda: _day(decided_on, "决定日期")),
    ):
        try:
            values[key] = parse()
        except TeamSplitError as exc:
            errors.append(str(exc))
    if errors:
        raise TeamSplitError("；".join(errors))
    _check_not_frozen(values["decided_on"].year, "扣分")
    row = MemberDeduction(
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


def _deduction_points(text: str) -> Decimal:
    raw = (text or "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise TeamSplitError(f"扣分必须是数字：{raw or '（空）'}") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or value <= 0 or value > 100:
        raise TeamSplitError(f"扣分必须大于 0、不超过 100：{raw}")
    if isinstance(exponent, int) and exponent < -2:
        raise TeamSplitError(f"扣分最多保留 2 位小数：{raw}")
    return value


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


# --------------------------------------------------------------------------- the team fund


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
    member = _member_of(team, user_id)
    if kind not in AWARD_KINDS:
        raise TeamSplitError("请选择奖励类别（特殊贡献奖或技能优胜奖）")
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, parse in (
        ("amount_fen", lambda: parse_yuan(amount_text, "奖励金额（元）")),
        ("reason", lambda: _text(reason, "奖励理由", 500)),
        ("awarded_on", lambda: _day(awarded_on, "奖励日期")),
    ):
        try:
            values[key] = parse()
        except SettlementError as exc:
            errors.append(str(exc))
    if errors:
        raise TeamSplitError("；".join(errors))
    if values["amount_fen"] <= 0:
        raise TeamSplitError("奖励金额必须大于 0")
    fund = fund_of(team)
    if values["amount_fen"] > fund.balance_fen:
        raise TeamSplitError(
            f"部门基金余额不足：余额 {yuan(fund.balance_fen)} 元（只计已锁定的结算），"
            f"奖励 {yuan(values['amount_fen'])} 元"
        )
    row = FundAward(
        user_id=member.id,
        kind=kind,
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


# --------------------------------------------------------------------------- leader rule


def leader_rule(institution: OrgUnit) -> LeaderRule | None:
    return db.session.scalar(select(LeaderRule).where(LeaderRule.institution_id == institution.id))


def save_leader_rule(institution: OrgUnit, mode: str, rate_pct: str, user: Any) -> LeaderRule:
    """``mode`` "in_split" (leaders share the team split) or "management" (paid from
    ``rate_pct`` % of the institution's amount by their team's result)."""
    if mode not in ("in_split", "management"):
        raise TeamSplitError("请选择负责人分配方式")
    rate: Decimal | None = None
    if mode == "management":
        raw = (rate_pct or "").strip()
        try:
            pct = Decimal(raw)
        except InvalidOperation:
            raise TeamSplitError(f"负责人统筹比例（%）必须是数字：{raw or '（空）'}") from None
        exponent = pct.as_tuple().exponent
        if not pct.is_finite() or pct <= 0 or pct >= 100:
            raise TeamSplitError(f"负责人统筹比例（%）必须大于 0、小于 100：{raw}")
        if isinstance(exponent, int) and exponent < -2:
            raise TeamSplitError(f"负责人统筹比例（%）最多保留 2 位小数：{raw}")
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
