"""The members' monthly attendance: typed in one table for the whole institution, or imported
from its own spreadsheet; all rows or none, the errors of every row reported together."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from assessments.attendance import LEAVE_KINDS
from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.query import YEAR_RANGE
from fdoctor.extensions import db
from fdoctor.imports.reader import ImportFileError, read_table
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.parameters import MEMBER_ROLES
from fdoctor.teamsplit.entry import TeamSplitError, check_not_frozen
from fdoctor.teamsplit.models import LEAVE_COLUMNS, AttendanceRecord

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
    check_not_frozen(int(month[:4]), "出勤记录")
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
