"""Households (户) and residents (居民): the writes behind the forms and the import.

Services flush; the view commits. Checks return Chinese messages keyed by field name so that the
forms and the import report can both show them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from fdoctor.auth.models import User
from fdoctor.core import citizen_id as cid
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.core.roles import RECORDERS, Role
from fdoctor.core.scope import in_scope, scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import STORED_TAGS, Household, Pregnancy, Resident
from fdoctor.households.search import (  # noqa: F401 - the search lives there; re-exported
    GridOption,
    grid_options,
    grid_subtree_ids,
    search_residents,
)
from fdoctor.org.models import GridCell, OrgUnit

PHONE_PATTERN = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8}|\d{7,8})$")
HOUSEHOLD_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")
PHONE_MESSAGE = "联系电话格式不正确（手机号11位，或固定电话如 0374-1234567）"
# Common answers for 与户主关系; other short answers are accepted too.
RELATIONS = (
    "本人",
    "配偶",
    "子",
    "女",
    "父亲",
    "母亲",
    "孙子",
    "孙女",
    "兄弟姐妹",
    "儿媳",
    "女婿",
    "其他",
)
HEAD_RELATION = "本人"
DOCTOR_ROLES = (Role.DOCTOR.value, Role.TEAM_LEADER.value)
SEX_LABELS = {"M": "男", "F": "女"}
# A maternal tag on someone outside these ages (at the pregnancy's start) contradicts the ID.
MATERNAL_AGES = (15, 55)


class HouseholdError(UserFacingError):
    """A user-facing error in Chinese, optionally about one field."""

    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class FieldErrors(ValueError):
    """Several field-level problems at once: ``{field: [Chinese message, ...]}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("；".join(m for msgs in errors.values() for m in msgs))
        self.errors = errors


# --- who may write where --------------------------------------------------------------------


def can_write(user: Any | None = None) -> bool:
    user = current_user if user is None else user
    return getattr(user, "role", None) in {r.value for r in RECORDERS}


def writable_teams(user: Any | None = None) -> list[OrgUnit]:
    """Teams the user may register households and sign contracts in: doctors and leaders their
    own team, a centre its teams; nobody else."""
    if not can_write(user):
        return []
    return list(
        db.session.scalars(
            select(OrgUnit)
            .where(OrgUnit.kind == "team", OrgUnit.active, scope_clause(OrgUnit, user))
            .order_by(OrgUnit.code)
        )
    )


def team_doctors(team_ids: Iterable[int]) -> list[User]:
    """Active doctors and team leaders of the given teams."""
    ids = list(team_ids)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_(DOCTOR_ROLES), User.org_unit_id.in_(ids), User.active)
            .order_by(User.org_unit_id, User.display_name, User.id)
        )
    )


# --- households -----------------------------------------------------------------------------


@dataclass
class HouseholdInput:
    team_id: int | None
    grid_cell_id: int | None
    address: str
    phone: str = ""
    responsible_doctor_id: int | None = None
    code: str = ""


def check_phone(phone: str) -> str | None:
    phone = (phone or "").strip()
    if phone and not PHONE_PATTERN.match(phone):
        return PHONE_MESSAGE
    return None


def next_household_code(team: OrgUnit) -> str:
    """``<team code>-H<n>``: one more than the highest number used in the team."""
    prefix = f"{team.code}-H"
    # Fixed width, so the text maximum is the numeric one (other codes with the prefix are skipped).
    top = db.session.scalar(
        select(func.max(Household.code)).where(
            Household.code.startswith(prefix, autoescape=True),
            func.length(Household.code) == len(prefix) + 5,
        )
    )
    tail = top[len(prefix) :] if top else ""
    return f"{prefix}{(int(tail) if tail.isdigit() else 0) + 1:05d}"


def save_household(
    data: HouseholdInput,
    household: Household | None = None,
    user: Any | None = None,
    require_doctor: bool = True,
) -> Household:
    """Create or edit a household in one of the user's teams. Raises :class:`FieldErrors`."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    teams = {t.id: t for t in writable_teams(user)}
    team = teams.get(data.team_id or 0)
    if team is None:
        bad("team_id", "请选择您所管辖的家庭医生团队")
    cell = db.session.get(GridCell, data.grid_cell_id) if data.grid_cell_id else None
    if cell is None or cell.team_id not in teams:
        bad("grid_cell_id", "请选择您所管辖范围内的网格")
    elif team is not None and cell.team_id != team.id:
        bad("grid_cell_id", "所选网格不属于该团队")
    elif db.session.scalar(select(GridCell.id).where(GridCell.parent_id == cell.id).limit(1)):
        bad("grid_cell_id", "请选择到最末一级网格（楼栋，或没有楼栋的小区/村）")
    address = (data.address or "").strip()
    if not address:
        bad("address", "请填写家庭地址")
    elif len(address) > 200:
        bad("address", "地址不能超过200个字")
    message = check_phone(data.phone)
    if message:
        bad("phone", message)
    if data.responsible_doctor_id:
        doctor = db.session.get(User, data.responsible_doctor_id)
        if (
            doctor is None
            or doctor.role not in DOCTOR_ROLES
            or not doctor.active
            or team is None
            or doctor.org_unit_id != team.id
        ):
            bad("responsible_doctor_id", "责任医生须是该团队的医生")
    elif require_doctor:
        bad("responsible_doctor_id", "请选择责任医生")
    code = (data.code or "").strip()
    if code:
        if not HOUSEHOLD_CODE_PATTERN.match(code):
            bad("code", "户编号只能包含字母、数字、连字符和下划线，最长40位")
        else:
            other = db.session.scalar(select(Household).where(Household.code == code))
            if other is not None and (household is None or other.id != household.id):
                bad("code", f"户编号 {code} 已被使用")
    if errors:
        raise FieldErrors(errors)
    assert team is not None and cell is not None
    if household is None:
        household = Household(code=code or next_household_code(team))
        db.session.add(household)
    elif code:
        household.code = code
    moved = household.team_id is not None and household.team_id != team.id
    household.county_id = team.county_id  # type: ignore[assignment]
    household.institution_id = team.institution_id  # type: ignore[assignment]
    household.team_id = team.id
    household.grid_cell_id = cell.id
    household.station_id = cell.station_id
    household.address = address
    household.phone = (data.phone or "").strip() or None
    household.responsible_doctor_id = data.responsible_doctor_id or None
    db.session.flush()
    if moved:
        move_residents(household)
    return household


def move_residents(household: Household) -> None:
    """Residents follow their household's scope. Row by row through the ORM so that the audit
    trail records each change (a household has a handful of members)."""
    residents = db.session.scalars(select(Resident).where(Resident.household_id == household.id))
    for person in residents:
        person.county_id = household.county_id
        person.institution_id = household.institution_id
        person.team_id = household.team_id
    db.session.flush()


# --- residents ------------------------------------------------------------------------------


@dataclass
class ResidentInput:
    name: str
    citizen_id: str
    relation: str = HEAD_RELATION
    is_head: bool = False
    phone: str = ""
    sex: str = ""  # "", "M" or "F": if given, must agree with the ID
    birth_date: date | None = None  # if given, must agree with the ID
    tags: set[str] = field(default_factory=set)
    lmp_date: date | None = None
    tb_treatment_start: date | None = None


def duplicate_message(other: Resident, user: Any | None = None) -> str:
    """Name the household where the person already is (its address only if the user sees it)."""
    household = other.household
    if in_scope(household, user):
        return (
            f"身份证号已登记：{other.name} 已在家庭 {household.code}（{household.address}）中，"
            "不能重复登记"
        )
    return f"身份证号已登记在您管辖范围外的家庭 {household.code} 中，如需迁入请联系原所属机构"


def check_resident(
    data: ResidentInput, today: date | None = None
) -> tuple[cid.CitizenId | None, dict[str, list[str]]]:
    """Field checks that need no database: ID, sex and birth date, tags, dates."""
    today = today or clock.today()
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    name = (data.name or "").strip()
    if not name:
        bad("name", "请填写姓名")
    elif len(name) > 50:
        bad("name", "姓名不能超过50个字")
    parsed: cid.CitizenId | None = None
    try:
        parsed = cid.parse(data.citizen_id, today=today)
    except cid.CitizenIdError as exc:
        bad("citizen_id", str(exc))
    if parsed is not None:
        if data.sex and data.sex != parsed.sex:
            bad("sex", f"性别与身份证号不符：身份证号显示为{SEX_LABELS[parsed.sex]}性")
        if data.birth_date and data.birth_date != parsed.birth_date:
            bad(
                "birth_date",
                f"出生日期与身份证号不符：身份证号显示为 {parsed.birth_date.isoformat()}",
            )
    relation = (data.relation or "").strip()
    if not relation:
        bad("relation", "请填写与户主关系")
    elif len(relation) > 16:
        bad("relation", "与户主关系不能超过16个字")
    elif data.is_head and relation != HEAD_RELATION:
        bad("relation", "户主的“与户主关系”应为“本人”")
    elif relation == HEAD_RELATION and not data.is_head:
        bad("relation", "“本人”即户主：请勾选户主，或填写该成员与户主的关系")
    message = check_phone(data.phone)
    if message:
        bad("phone", message)
    unknown = set(data.tags) - set(STORED_TAGS)
    if unknown:
        bad("tags", f"未知的人群标签：{'、'.join(sorted(unknown))}")
    if "maternal" in data.tags:
        if parsed is not None and parsed.sex != "F":
            bad("tags", "孕产妇标签只适用于女性")
        elif parsed is not None:
            # The age when the pregnancy began (today's if no date is given yet).
            age = parsed.age_on(min(data.lmp_date or today, today))
            if not MATERNAL_AGES[0] <= age <= MATERNAL_AGES[1]:
                bad(
                    "tags",
                    f"孕产妇标签与身份证号不符：按身份证号的出生日期，该居民当时{age}岁，"
                    f"孕产妇应为{MATERNAL_AGES[0]}至{MATERNAL_AGES[1]}岁的女性",
                )
        if data.lmp_date is None:
            bad("lmp_date", "孕产妇须填写末次月经日期")
    if data.lmp_date is not None:
        if data.lmp_date > today:
            bad("lmp_date", "末次月经日期不能晚于今天")
        elif parsed is not None and data.lmp_date <= parsed.birth_date:
            bad("lmp_date", "末次月经日期不能早于出生日期")
    if "tuberculosis" in data.tags and data.tb_treatment_start is None:
        bad("tb_treatment_start", "肺结核患者须填写治疗开始日期")
    if data.tb_treatment_start is not None:
        if data.tb_treatment_start > today:
            bad("tb_treatment_start", "治疗开始日期不能晚于今天")
        elif parsed is not None and data.tb_treatment_start < parsed.birth_date:
            bad("tb_treatment_start", "治疗开始日期不能早于出生日期")
    return parsed, errors


def save_resident(
    household: Household,
    data: ResidentInput,
    resident: Resident | None = None,
    user: Any | None = None,
    today: date | None = None,
) -> Resident:
    """Create or edit a resident of ``household``. Raises :class:`FieldErrors`.

    A duplicate citizen ID names the household the person is already in. The unique index on
    ``citizen_id`` is the guard against two concurrent registrations; its error is translated.
    """
    parsed, errors = check_resident(data, today)
    if parsed is not None:
        other = db.session.scalar(select(Resident).where(Resident.citizen_id == parsed.number))
        if other is not None and (resident is None or other.id != resident.id):
            errors.setdefault("citizen_id", []).append(duplicate_message(other, user))
    if (data.relation or "").strip() == HEAD_RELATION:
        message = second_self_message(household, resident)
        if message:
            errors.setdefault("relation", []).append(message)
    if errors:
        raise FieldErrors(errors)
    assert parsed is not None
    if resident is None:
        resident = Resident(household_id=household.id)
        db.session.add(resident)
    apply_resident(resident, household, data, parsed)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        other = db.session.scalar(select(Resident).where(Resident.citizen_id == parsed.number))
        message = duplicate_message(other, user) if other is not None else "保存失败，请重试"
        raise FieldErrors({"citizen_id": [message]}) from None
    if data.is_head:
        clear_other_heads(household.id, resident.id)
    return resident


def second_self_message(household: Household, resident: Resident | None) -> str | None:
    """The error when another active member of ``household`` is already its "本人" (head)."""
    other = db.session.scalar(
        select(Resident).where(
            Resident.household_id == household.id,
            Resident.relation == HEAD_RELATION,
            Resident.status == "active",
            *([Resident.id != resident.id] if resident is not None and resident.id else []),
        )
    )
    if other is None:
        return None
    return (
        f"该家庭已有户主（本人）{other.name}，一户只能有一位“本人”；"
        "如需更换户主，请先将原户主改为其他关系"
    )


def apply_resident(
    resident: Resident, household: Household, data: ResidentInput, parsed: cid.CitizenId
) -> None:
    """Copy checked input onto the row (no flush)."""
    resident.household_id = household.id
    resident.county_id = household.county_id
    resident.institution_id = household.institution_id
    resident.team_id = household.team_id
    resident.name = data.name.strip()
    resident.citizen_id = parsed.number
    resident.id_tail = parsed.number[-6:]
    resident.sex = parsed.sex
    resident.birth_date = parsed.birth_date
    resident.phone = (data.phone or "").strip() or None
    resident.relation = data.relation.strip()
    resident.is_head = bool(data.is_head)
    resident.set_tags(set(data.tags))
    resident.tb_treatment_start = data.tb_treatment_start
    if resident.status is None:
        resident.status = "active"
    if data.lmp_date is not None:
        set_pregnancy(resident, household.county_id, data.lmp_date)


def set_pregnancy(resident: Resident, county_id: int, lmp: date) -> bool:
    """Record the LMP on the current (undelivered) pregnancy, or start one. True if changed."""
    current = open_pregnancy(resident)
    if current is not None:
        if current.lmp_date == lmp:
            return False
        current.lmp_date = lmp
        return True
    pregnancy = Pregnancy(county_id=county_id, lmp_date=lmp)
    resident.pregnancies.append(pregnancy)
    return True


def open_pregnancy(resident: Resident) -> Pregnancy | None:
    """The latest pregnancy without a delivery date, if any."""
    return next((p for p in reversed(resident.pregnancies) if p.delivery_date is None), None)


def clear_other_heads(household_id: int, head_id: int) -> None:
    """One head per household: setting a head unsets the others (through the ORM, audited)."""
    others = db.session.scalars(
        select(Resident).where(
            Resident.household_id == household_id, Resident.id != head_id, Resident.is_head
        )
    )
    for person in others:
        person.is_head = False
    db.session.flush()
