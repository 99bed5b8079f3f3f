"""Roster import (导入): households, residents, contracts and population denominators.

Every row is validated first (required columns, citizen IDs, dates, codes that must exist in the
user's scope, duplicates inside the file, residents already under an active contract, term
limits). Any problem → nothing is written and the report lists (row, column, problem). A clean
file is written in one transaction. Rows are matched on natural keys (户编号, 身份证号, 协议编号,
(机构编码, 年度, 人群类别)), so importing the same file again creates nothing and reports the rows
as unchanged.

Lookups are prefetched in bulk (chunked IN lists): no query per row.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember, ContractPackage, ServicePackage
from fdoctor.contracts.services import active_contracts_of, end_date_for, term_message
from fdoctor.core import citizen_id as cid
from fdoctor.core import clock
from fdoctor.core.roles import RECORDERS, Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import DERIVED_TAGS, STORED_TAGS, Household, Resident
from fdoctor.households.services import (
    DOCTOR_ROLES,
    HOUSEHOLD_CODE_PATTERN,
    ResidentInput,
    apply_resident,
    check_phone,
    check_resident,
    clear_other_heads,
    move_residents,
    open_pregnancy,
    writable_teams,
)
from fdoctor.imports.models import ImportRun
from fdoctor.imports.reader import (
    ImportFileError,
    Row,
    Table,
    parse_bool,
    parse_date,
    parse_int,
    read_table,
    split_list,
)
from fdoctor.org.models import POPULATION_CATEGORIES, GridCell, OrgUnit, PopulationFigure

CHUNK = 500
CONTRACT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")


@dataclass(frozen=True)
class Column:
    name: str  # the Chinese header
    required: bool
    help: str
    text: bool = False  # keep as text in the Excel template (IDs, codes, phones)


@dataclass(frozen=True, order=True)
class Problem:
    row: int  # spreadsheet row (header = 1); 0 for the file as a whole
    column: str
    message: str


@dataclass
class Outcome:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def fetch_in(make: Callable[[list[Any]], Any], values: Iterable[Any]) -> list[Any]:
    """Run ``make(chunk)`` (a select with ``IN chunk``) over chunks of the distinct values."""
    distinct = sorted({v for v in values if v is not None and v != ""}, key=str)
    found: list[Any] = []
    for i in range(0, len(distinct), CHUNK):
        found.extend(db.session.scalars(make(distinct[i : i + CHUNK])).all())
    return found


class Importer:
    """One kind of import: its columns, row checks and writes."""

    kind: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    roles: ClassVar[frozenset[str]] = frozenset(r.value for r in RECORDERS)

    def __init__(self, user: Any, today: date | None = None) -> None:
        self.user = user
        self.today = today or clock.today()
        self.problems: list[Problem] = []
        self.outcome = Outcome(kind=self.kind)

    # -- helpers --

    def bad(self, row: Row | int, column: str, message: str) -> None:
        number = row.number if isinstance(row, Row) else row
        self.problems.append(Problem(number, column, message))

    def unique_code(
        self, row: Row, column: str, pattern: re.Pattern[str], seen: dict[str, int]
    ) -> str:
        """A required natural-key code: its format, and not repeated inside the file."""
        code = self.required_text(row, column, 40)
        if code and not pattern.match(code):
            self.bad(row, column, "只能包含字母、数字、连字符和下划线")
        if code in seen:
            self.bad(row, column, f"与第{seen[code]}行的{column}重复")
        elif code:
            seen[code] = row.number
        return code

    def required_text(self, row: Row, column: str, max_len: int) -> str:
        value = row.text(column)
        if not value:
            self.bad(row, column, "必填，不能为空")
        elif len(value) > max_len:
            self.bad(row, column, f"不能超过{max_len}个字符")
        return value

    def date_value(self, row: Row, column: str, required: bool = False) -> date | None:
        try:
            value = parse_date(row.raw(column))
        except ValueError as exc:
            self.bad(row, column, str(exc))
            return None
        if value is None and required:
            self.bad(row, column, "必填，不能为空")
        return value

    def bool_value(self, row: Row, column: str) -> bool:
        try:
            return parse_bool(row.raw(column))
        except ValueError as exc:
            self.bad(row, column, str(exc))
            return False

    def int_value(self, row: Row, column: str, required: bool = False) -> int | None:
        try:
            value = parse_int(row.raw(column))
        except ValueError as exc:
            self.bad(row, column, str(exc))
            return None
        if value is None and required:
            self.bad(row, column, "必填，不能为空")
        return value

    def citizen_id_text(self, row: Row, column: str) -> str:
        if _is_number(row.raw(column)):
            # Excel turned the number into a float: the last digits are already lost.
            self.bad(
                row,
                column,
                "身份证号须以文本格式填写（按数字保存时后几位会丢失），请改为文本后重新导入",
            )
            return ""
        return cid.normalize(row.text(column))

    # -- the run --

    def check_headers(self, table: Table) -> bool:
        known = {c.name for c in self.columns}
        for column in self.columns:
            if column.required and column.name not in table.headers:
                self.bad(1, column.name, "缺少必填列，请使用导入模板")
        for name in table.headers:
            if name and name not in known:
                self.bad(
                    1,
                    name,
                    f"无法识别的列名（可用的列：{'、'.join(c.name for c in self.columns)}）",
                )
        if not table.rows:
            self.bad(0, "", "文件中没有数据行")
        return not self.problems

    def validate(self, table: Table) -> None:
        raise NotImplementedError

    def apply(self) -> None:
        raise NotImplementedError

    def run(self, table: Table) -> Outcome:
        """Validate every row; write only if all rows are good (the caller commits)."""
        self.outcome.rows = len(table.rows)
        if self.check_headers(table):
            self.validate(table)
        if self.problems:
            self.outcome.problems = sorted(set(self.problems))
            return self.outcome
        self.apply()
        db.session.flush()
        return self.outcome

    def count(self, created: bool, changed: bool) -> None:
        if created:
            self.outcome.created += 1
        elif changed:
            self.outcome.updated += 1
        else:
            self.outcome.unchanged += 1


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _set(obj: Any, **values: Any) -> bool:
    """Assign changed attributes only; True if anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


# --- households -----------------------------------------------------------------------------


@dataclass
class _HouseholdRow:
    row: Row
    code: str
    cell: GridCell
    address: str
    phone: str | None
    doctor_id: int | None
    existing: Household | None


class HouseholdImporter(Importer):
    kind = "households"
    label = "家庭（户）"
    description = "按户编号新增或更新家庭：网格、地址、电话和责任医生。"
    columns = (
        Column("户编号", True, "家庭的唯一编号；已存在的户编号会更新该户信息", text=True),
        Column("网格编码", True, "最末一级网格（楼栋，或没有楼栋的小区/村）的编码", text=True),
        Column("地址", True, "家庭住址，最多200字"),
        Column("联系电话", False, "手机号11位，或固定电话如 0374-1234567", text=True),
        Column("责任医生账号", False, "该网格所属团队医生的登录账号", text=True),
    )

    def validate(self, table: Table) -> None:
        teams = {t.id for t in writable_teams(self.user)}
        rows = table.rows
        cells = {
            c.code: c
            for c in fetch_in(lambda chunk: select(GridCell).where(GridCell.code.in_(chunk)), (r.text("网格编码") for r in rows))
        }  # fmt: skip
        parents = set(
            fetch_in(
                lambda chunk: select(GridCell.parent_id).where(GridCell.parent_id.in_(chunk)),
                (c.id for c in cells.values()),
            )
        )
        existing = {
            h.code: h
            for h in fetch_in(lambda chunk: select(Household).where(Household.code.in_(chunk)), (r.text("户编号") for r in rows))
        }  # fmt: skip
        doctors = {
            u.username: u
            for u in fetch_in(lambda chunk: select(User).where(User.username.in_(chunk)), (r.text("责任医生账号") for r in rows))
        }  # fmt: skip
        seen: dict[str, int] = {}
        self.parsed: list[_HouseholdRow] = []
        for row in rows:
            before = len(self.problems)
            code = self.unique_code(row, "户编号", HOUSEHOLD_CODE_PATTERN, seen)
            household = existing.get(code)
            if household is not None and household.team_id not in teams:
                self.bad(row, "户编号", f"户编号 {code} 已被您管辖范围外的家庭使用")
            cell_code = self.required_text(row, "网格编码", 40)
            cell = cells.get(cell_code)
            if cell_code and (cell is None or cell.team_id not in teams):
                self.bad(row, "网格编码", f"网格编码 {cell_code} 不存在或不在您的管辖范围内")
            elif cell is not None and cell.id in parents:
                self.bad(row, "网格编码", "请填写最末一级网格（楼栋，或没有楼栋的小区/村）的编码")
            address = self.required_text(row, "地址", 200)
            phone = row.text("联系电话")
            message = check_phone(phone)
            if message:
                self.bad(row, "联系电话", message)
            username = row.text("责任医生账号")
            doctor = doctors.get(username) if username else None
            if username and (
                doctor is None
                or doctor.role not in DOCTOR_ROLES
                or not doctor.active
                or (cell is not None and doctor.org_unit_id != cell.team_id)
            ):
                self.bad(row, "责任医生账号", f"{username} 不是该网格所属团队的医生")
            if len(self.problems) == before and cell is not None:
                self.parsed.append(
                    _HouseholdRow(
                        row,
                        code,
                        cell,
                        address,
                        phone or None,
                        doctor.id if doctor else None,
                        household,
                    )  # fmt: skip
                )

    def apply(self) -> None:
        teams = {t.id: t for t in writable_teams(self.user)}
        for item in self.parsed:
            team = teams[item.cell.team_id]
            household = item.existing
            created = household is None
            if household is None:
                household = Household(code=item.code)
                db.session.add(household)
            moved = not created and household.team_id != team.id
            changed = _set(
                household,
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
                grid_cell_id=item.cell.id,
                station_id=item.cell.station_id,
                address=item.address,
                phone=item.phone,
            )
            if item.doctor_id is not None:
                changed |= _set(household, responsible_doctor_id=item.doctor_id)
            if moved:
                db.session.flush()
                move_residents(household)
            self.count(created, changed)


# --- residents ------------------------------------------------------------------------------

_RESIDENT_FIELDS = {
    "name": "姓名",
    "citizen_id": "身份证号",
    "sex": "性别",
    "birth_date": "出生日期",
    "relation": "与户主关系",
    "phone": "联系电话",
    "tags": "人群标签",
    "lmp_date": "末次月经日期",
    "tb_treatment_start": "结核治疗开始日期",
}


def tag_aliases() -> dict[str, str]:
    """Accepted names of each tag: the code, its label, the denominator label, and a few more."""
    names: dict[str, str] = {}
    for code, label in {**STORED_TAGS, **DERIVED_TAGS}.items():
        names[code] = code
        names[label] = code
        names[POPULATION_CATEGORIES.get(code, label)] = code
    names.update(
        {"糖尿病": "diabetes", "孕妇": "maternal", "老年人": "elderly65", "儿童": "child0_6"}
    )
    return names


@dataclass
class _ResidentRow:
    row: Row
    household: Household
    data: ResidentInput
    parsed: cid.CitizenId
    existing: Resident | None


class ResidentImporter(Importer):
    kind = "residents"
    label = "居民"
    description = "按身份证号新增或更新居民，须先导入其所在家庭。"
    columns = (
        Column("姓名", True, "最多50字"),
        Column("身份证号", True, "18位，末位可为X；请以文本格式填写", text=True),
        Column("户编号", True, "所在家庭的户编号（须已存在于您的管辖范围内）", text=True),
        Column("与户主关系", True, "如 本人、配偶、子、女、父亲、母亲；户主填“本人”"),
        Column("是否户主", False, "是/否，默认否；每户只能有一名户主"),
        Column("性别", False, "男/女；可不填，填写时须与身份证号一致"),
        Column("出生日期", False, "可不填，填写时须与身份证号一致"),
        Column("联系电话", False, "手机号11位，或固定电话", text=True),
        Column(
            "人群标签",
            False,
            "多个用顿号分隔："
            + "、".join(STORED_TAGS.values())
            + "；65岁及以上老年人、0-6岁儿童按出生日期自动判断",
        ),  # fmt: skip
        Column("末次月经日期", False, "孕产妇必填"),
        Column("结核治疗开始日期", False, "肺结核患者必填"),
    )

    def validate(self, table: Table) -> None:
        teams = {t.id for t in writable_teams(self.user)}
        rows = table.rows
        households = {
            h.code: h
            for h in fetch_in(lambda chunk: select(Household).where(Household.code.in_(chunk)), (r.text("户编号") for r in rows))
        }  # fmt: skip
        numbers = [cid.normalize(r.text("身份证号")) for r in rows]
        existing = {
            p.citizen_id: p
            for p in fetch_in(
                lambda chunk: (
                    select(Resident)
                    .where(Resident.citizen_id.in_(chunk))
                    .options(selectinload(Resident.pregnancies), selectinload(Resident.household))
                ),
                numbers,
            )
        }
        aliases = tag_aliases()
        seen: dict[str, int] = {}
        heads: dict[str, int] = {}
        self.parsed: list[_ResidentRow] = []
        for row in rows:
            before = len(self.problems)
            household_code = self.required_text(row, "户编号", 40)
            household = households.get(household_code)
            if household_code and (household is None or household.team_id not in teams):
                self.bad(
                    row,
                    "户编号",
                    f"户编号 {household_code} 不存在或不在您的管辖范围内，请先导入家庭",
                )
                household = None
            number = self.citizen_id_text(row, "身份证号")
            if not number and not _is_number(row.raw("身份证号")):
                self.bad(row, "身份证号", "必填，不能为空")
            if number in seen:
                self.bad(row, "身份证号", f"与第{seen[number]}行的身份证号重复")
            elif number:
                seen[number] = row.number
            sex_text = row.text("性别")
            sex = {"男": "M", "女": "F", "M": "M", "F": "F", "": ""}.get(
                sex_text.upper() if sex_text.isascii() else sex_text
            )
            if sex is None:
                self.bad(row, "性别", "应填“男”或“女”")
                sex = ""
            tags: set[str] = set()
            derived: set[str] = set()
            for name in split_list(row.raw("人群标签")):
                code = aliases.get(name)
                if code is None:
                    self.bad(
                        row,
                        "人群标签",
                        f"无法识别的人群标签“{name}”，可用：{'、'.join(STORED_TAGS.values())}",
                    )
                elif code in DERIVED_TAGS:
                    derived.add(code)
                else:
                    tags.add(code)
            is_head = self.bool_value(row, "是否户主")
            if is_head and household_code:
                if household_code in heads:
                    self.bad(
                        row,
                        "是否户主",
                        f"与第{heads[household_code]}行同为户 {household_code} 的户主，每户只能有一名户主",
                    )
                else:
                    heads[household_code] = row.number
            data = ResidentInput(
                name=row.text("姓名"),
                citizen_id=number,
                relation=row.text("与户主关系"),
                is_head=is_head,
                phone=row.text("联系电话"),
                sex=sex,
                birth_date=self.date_value(row, "出生日期"),
                tags=tags,
                lmp_date=self.date_value(row, "末次月经日期"),
                tb_treatment_start=self.date_value(row, "结核治疗开始日期"),
            )
            parsed, errors = check_resident(data, self.today) if number else (None, {})
            for key, messages in errors.items():
                for message in messages:
                    self.bad(row, _RESIDENT_FIELDS[key], message)
            if parsed is not None:
                age_tags = cid.derived_tags(parsed.birth_date, self.today)
                for code in sorted(derived - age_tags):
                    self.bad(
                        row,
                        "人群标签",
                        f"按身份证号的出生日期，该居民不属于“{DERIVED_TAGS[code]}”（此标签自动判断，可不填）",
                    )
            person = existing.get(number)
            if person is not None and person.team_id not in teams:
                self.bad(
                    row,
                    "身份证号",
                    f"身份证号已登记在您管辖范围外的家庭 {person.household.code} 中",
                )
            if len(self.problems) == before and household is not None and parsed is not None:
                self.parsed.append(_ResidentRow(row, household, data, parsed, person))

    def apply(self) -> None:
        head_ids: dict[int, int] = {}
        for item in self.parsed:
            person = item.existing
            created = person is None
            if person is None:
                person = Resident(household_id=item.household.id, status="active")
                db.session.add(person)
                before: tuple[Any, ...] = ()
            else:
                before = _resident_state(person)
            apply_resident(person, item.household, item.data, item.parsed)
            self.count(created, not created and _resident_state(person) != before)
            if item.data.is_head:
                db.session.flush()
                head_ids[item.household.id] = person.id
        db.session.flush()
        for household_id, head_id in head_ids.items():
            clear_other_heads(household_id, head_id)


def _resident_state(person: Resident) -> tuple[Any, ...]:
    pregnancy = open_pregnancy(person)
    return (
        person.household_id,
        person.team_id,
        person.name,
        person.citizen_id,
        person.phone,
        person.relation,
        person.is_head,
        tuple(getattr(person, f"tag_{t}") for t in STORED_TAGS),
        person.tb_treatment_start,
        pregnancy.lmp_date if pregnancy is not None else None,
    )


# --- contracts ------------------------------------------------------------------------------


@dataclass
class _ContractRow:
    row: Row
    code: str
    household: Household
    residents: list[Resident]
    team: OrgUnit
    doctor: User
    packages: list[tuple[ServicePackage, int]]
    signed_on: date
    start: date
    years: int
    first_contact: bool
    existing: Contract | None

    @property
    def end(self) -> date:
        return end_date_for(self.start, self.years)


class ContractImporter(Importer):
    kind = "contracts"
    label = "签约协议"
    description = (
        "按协议编号新增签约（或更新已导入协议的医生、服务包、首诊标志），须先导入家庭和居民。"
    )
    columns = (
        Column(
            "协议编号",
            True,
            "协议的唯一编号；已存在的协议只能更新医生、服务包、签约日期和基层首诊",
            text=True,
        ),
        Column("户编号", True, "签约家庭的户编号", text=True),
        Column(
            "成员身份证号", True, "签约成员的身份证号，多人用顿号分隔；须是该户在册成员", text=True
        ),
        Column("开始日期", True, "服务开始日期"),
        Column("年限", True, "整数：重点人群及慢病高危人群1至3年，其他居民3至5年"),
        Column("团队编码", False, "默认为该户所属团队", text=True),
        Column("责任医生账号", False, "默认为该户的责任医生", text=True),
        Column(
            "服务包",
            False,
            "个性化服务包编码，多个用顿号分隔；可写 编码*人数；基础包自动包含",
            text=True,
        ),
        Column("签约日期", False, "默认等于开始日期"),
        Column("基层首诊", False, "是/否，默认否"),
    )

    def validate(self, table: Table) -> None:
        teams = {t.id: t for t in writable_teams(self.user)}
        teams_by_code = {t.code: t for t in teams.values()}
        rows = table.rows
        households = {
            h.code: h
            for h in fetch_in(lambda chunk: select(Household).where(Household.code.in_(chunk)), (r.text("户编号") for r in rows))
        }  # fmt: skip
        residents = fetch_in(
            lambda chunk: select(Resident).where(Resident.household_id.in_(chunk)),
            (h.id for h in households.values()),
        )
        by_household: dict[int, dict[str, Resident]] = {}
        for person in residents:
            by_household.setdefault(person.household_id, {})[person.citizen_id] = person
        taken = active_contracts_of(p.id for p in residents)
        existing = {
            c.code: c
            for c in fetch_in(
                lambda chunk: (
                    select(Contract)
                    .where(Contract.code.in_(chunk))
                    .options(selectinload(Contract.members), selectinload(Contract.packages))
                ),
                (r.text("协议编号") for r in rows),
            )
        }
        doctors = {
            u.username: u
            for u in fetch_in(lambda chunk: select(User).where(User.username.in_(chunk)), (r.text("责任医生账号") for r in rows))
        }  # fmt: skip
        doctors_by_id = {
            u.id: u
            for u in fetch_in(
                lambda chunk: select(User).where(User.id.in_(chunk)),
                (h.responsible_doctor_id for h in households.values()),
            )
        }
        packages = list(db.session.scalars(select(ServicePackage).where(ServicePackage.active)))
        seen: dict[str, int] = {}
        signed_in_file: dict[int, int] = {}
        self.parsed: list[_ContractRow] = []
        for row in rows:
            before = len(self.problems)
            code = self.unique_code(row, "协议编号", CONTRACT_CODE_PATTERN, seen)
            contract = existing.get(code)
            if contract is not None and contract.team_id not in teams:
                self.bad(row, "协议编号", f"协议编号 {code} 已被您管辖范围外的协议使用")
                contract = None
            household_code = self.required_text(row, "户编号", 40)
            household = households.get(household_code)
            if household_code and (household is None or household.team_id not in teams):
                self.bad(row, "户编号", f"户编号 {household_code} 不存在或不在您的管辖范围内")
                household = None
            members: list[Resident] = []
            raw_members = row.raw("成员身份证号")
            if _is_number(raw_members):
                self.bad(
                    row, "成员身份证号", "身份证号须以文本格式填写（按数字保存时后几位会丢失）"
                )
                numbers: list[str] = []
            else:
                numbers = [cid.normalize(n) for n in split_list(raw_members)]
            if not numbers and not _is_number(raw_members):
                self.bad(row, "成员身份证号", "必填，至少一名签约成员")
            for number in dict.fromkeys(numbers):
                try:
                    cid.parse(number, today=self.today)
                except cid.CitizenIdError as exc:
                    self.bad(row, "成员身份证号", f"{number}：{exc}")
                    continue
                person = by_household.get(household.id, {}).get(number) if household else None
                if person is None:
                    if household is not None:
                        self.bad(
                            row,
                            "成员身份证号",
                            f"{cid.mask(number)} 不是户 {household_code} 的成员，请先导入居民",
                        )
                    continue
                if person.status != "active":
                    self.bad(row, "成员身份证号", f"{person.name} 已不在册，不能签约")
                    continue
                members.append(person)
            if len(numbers) != len(set(numbers)):
                self.bad(row, "成员身份证号", "同一成员的身份证号填写了两次")
            start = self.date_value(row, "开始日期", required=True)
            years = self.int_value(row, "年限", required=True)
            if years is not None and not 1 <= years <= 5:
                self.bad(row, "年限", "年限应为1至5年的整数")
            elif start is not None and years is not None and members:
                message = term_message(members, start, years)
                if message:
                    self.bad(row, "年限", message)
            team_code = row.text("团队编码")
            team = (
                teams_by_code.get(team_code)
                if team_code
                else (teams.get(household.team_id) if household else None)
            )
            if team_code and team is None:
                self.bad(row, "团队编码", f"团队编码 {team_code} 不存在或不在您的管辖范围内")
            username = row.text("责任医生账号")
            doctor = doctors.get(username) if username else (
                doctors_by_id.get(household.responsible_doctor_id or 0) if household else None
            )  # fmt: skip
            if username and doctor is None:
                self.bad(row, "责任医生账号", f"账号 {username} 不存在")
            elif not username and household is not None and doctor is None:
                self.bad(row, "责任医生账号", "该户未设责任医生，请填写责任医生账号")
            elif (
                doctor is not None
                and team is not None
                and (
                    doctor.role not in DOCTOR_ROLES
                    or not doctor.active
                    or doctor.org_unit_id != team.id
                )
            ):
                self.bad(row, "责任医生账号", f"{doctor.username} 不是团队“{team.name}”的医生")
            chosen = self.packages_of(row, packages, household, len(members))
            signed_on = self.date_value(row, "签约日期") or (
                min(start, self.today) if start else None
            )
            if signed_on is not None and signed_on > self.today:
                self.bad(row, "签约日期", "签约日期不能晚于今天")
            first_contact = self.bool_value(row, "基层首诊")
            active = (
                start is not None and years is not None and end_date_for(start, years) >= self.today
            )
            if contract is not None:
                same = (
                    contract.household_id == (household.id if household else None)
                    and {m.resident_id for m in contract.members} == {p.id for p in members}
                    and contract.start_date == start
                    and years is not None
                    and contract.end_date == end_date_for(start, years)
                )
                if not same and len(self.problems) == before:
                    self.bad(
                        row,
                        "协议编号",
                        f"协议 {code} 已存在，导入不能修改其家庭、成员或服务期，请在系统中办理续约或解约",
                    )
                active = active and contract.status == "active"
            if active:
                for person in members:
                    other = taken.get(person.id)
                    if other is not None and other.code != code:
                        self.bad(
                            row,
                            "成员身份证号",
                            f"{person.name} 已有有效签约协议 {other.code}（至 {other.end_date.isoformat()}），一人只能有一份有效协议",
                        )
                    elif person.id in signed_in_file:
                        self.bad(
                            row,
                            "成员身份证号",
                            f"{person.name} 已在第{signed_in_file[person.id]}行签约，一人只能有一份有效协议",
                        )
                    else:
                        signed_in_file[person.id] = row.number
            if len(self.problems) == before:
                assert household is not None and team is not None and doctor is not None
                assert start is not None and years is not None and signed_on is not None
                self.parsed.append(
                    _ContractRow(
                        row,
                        code,
                        household,
                        members,
                        team,
                        doctor,
                        chosen,
                        signed_on,
                        start,
                        years,
                        first_contact,
                        contract,
                    )  # fmt: skip
                )

    def packages_of(
        self,
        row: Row,
        packages: Sequence[ServicePackage],
        household: Household | None,
        members: int,
    ) -> list[tuple[ServicePackage, int]]:
        county_id = household.county_id if household else None
        offered = [p for p in packages if p.county_id in (None, county_id)]
        by_name = {p.code: p for p in offered} | {p.name: p for p in offered}
        chosen = [(p, members) for p in offered if p.kind == "basic"]
        if not chosen:
            self.bad(row, "服务包", "系统中没有可用的基础服务包，请联系管理员")
        for item in split_list(row.raw("服务包")):
            match = re.fullmatch(r"(.+?)(?:[*×xX](\d+))?", item)
            assert match is not None
            name, count = match[1], match[2]
            package = by_name.get(name)
            if package is None:
                self.bad(row, "服务包", f"服务包“{name}”不存在或已停用")
                continue
            if package.kind == "basic":
                continue  # always included
            persons = int(count) if count else members
            if members and not 1 <= persons <= members:
                self.bad(row, "服务包", f"“{package.name}”的服务人数应为1至{members}人")
                continue
            chosen.append((package, persons))
        return chosen

    def apply(self) -> None:
        for item in self.parsed:
            status = "active" if item.end >= self.today else "expired"
            fees = {
                p.id: (0 if p.kind == "basic" else p.fee_fen * persons)
                for p, persons in item.packages
            }
            contract = item.existing
            if contract is None:
                scope = {
                    "county_id": item.team.county_id,
                    "institution_id": item.team.institution_id,
                    "team_id": item.team.id,
                }
                contract = Contract(
                    code=item.code,
                    household_id=item.household.id,
                    doctor_id=item.doctor.id,
                    signed_on=item.signed_on,
                    start_date=item.start,
                    end_date=item.end,
                    status=status,
                    first_contact=item.first_contact,
                    copies_signed=0,
                    created_by_id=getattr(self.user, "id", None),
                    **scope,
                )
                db.session.add(contract)
                db.session.flush()
                for person in item.residents:
                    db.session.add(
                        ContractMember(
                            contract_id=contract.id,
                            resident_id=person.id,
                            is_active=status == "active",
                            **scope,
                        )  # fmt: skip
                    )
                for package_id, fee in fees.items():
                    db.session.add(
                        ContractPackage(contract_id=contract.id, package_id=package_id, fee_fen=fee)
                    )
                self.count(True, False)
                continue
            changed = _set(
                contract,
                doctor_id=item.doctor.id,
                signed_on=item.signed_on,
                first_contact=item.first_contact,
            )
            current = {cp.package_id: cp for cp in contract.packages}
            for package_id, cp in current.items():
                if package_id not in fees:
                    db.session.delete(cp)
                    changed = True
                elif cp.fee_fen != fees[package_id]:
                    cp.fee_fen = fees[package_id]
                    changed = True
            for package_id, fee in fees.items():
                if package_id not in current:
                    db.session.add(
                        ContractPackage(contract_id=contract.id, package_id=package_id, fee_fen=fee)
                    )
                    changed = True
            self.count(False, changed)


# --- population denominators ----------------------------------------------------------------

POPULATION_UNIT_KINDS = {"institution", "station"}


@dataclass
class _PopulationRow:
    row: Row
    unit: OrgUnit
    year: int
    category: str
    count: int


class PopulationImporter(Importer):
    kind = "population"
    label = "人口数据（分母）"
    description = "按（机构编码、年度、人群类别）新增或更新常住人口和重点人群数。"
    roles = frozenset({Role.CENTRE_ADMIN.value})
    columns = (
        Column("机构编码", True, "医疗机构或服务站/村卫生室的编码", text=True),
        Column("年度", True, "四位年份，如 2026"),
        Column("人群类别", True, "：".join(("可填", "、".join(POPULATION_CATEGORIES.values())))),
        Column("人数", True, "非负整数"),
    )

    def validate(self, table: Table) -> None:
        rows = table.rows
        units = {
            u.code: u
            for u in fetch_in(
                lambda chunk: select(OrgUnit).where(
                    OrgUnit.code.in_(chunk), scope_clause(OrgUnit, self.user)
                ),
                (r.text("机构编码") for r in rows),
            )
        }
        categories = {code: code for code in POPULATION_CATEGORIES} | {
            label: code for code, label in POPULATION_CATEGORIES.items()
        }
        seen: dict[tuple[str, int | None, str], int] = {}
        self.parsed: list[_PopulationRow] = []
        for row in rows:
            before = len(self.problems)
            code = self.required_text(row, "机构编码", 32)
            unit = units.get(code)
            if code and unit is None:
                self.bad(row, "机构编码", f"机构编码 {code} 不存在或不在您的管辖范围内")
            elif unit is not None and unit.kind not in POPULATION_UNIT_KINDS:
                self.bad(row, "机构编码", "人口数据只能导入到医疗机构或服务站/村卫生室")
            year = self.int_value(row, "年度", required=True)
            if year is not None and not 2000 <= year <= self.today.year + 1:
                self.bad(row, "年度", f"年度应在2000至{self.today.year + 1}之间")
            name = self.required_text(row, "人群类别", 32)
            category = categories.get(name)
            if name and category is None:
                self.bad(
                    row,
                    "人群类别",
                    f"无法识别的人群类别“{name}”，可用：{'、'.join(POPULATION_CATEGORIES.values())}",
                )
            count = self.int_value(row, "人数", required=True)
            if count is not None and count < 0:
                self.bad(row, "人数", "人数不能为负数")
            key = (code, year, category or name)
            if key in seen:
                self.bad(row, "人群类别", f"与第{seen[key]}行重复（同一机构、年度和人群类别）")
            else:
                seen[key] = row.number
            if len(self.problems) == before:
                assert (
                    unit is not None
                    and year is not None
                    and category is not None
                    and count is not None
                )
                self.parsed.append(_PopulationRow(row, unit, year, category, count))

    def apply(self) -> None:
        unit_ids = {item.unit.id for item in self.parsed}
        existing = {
            (f.org_unit_id, f.year, f.category): f
            for f in fetch_in(lambda chunk: select(PopulationFigure).where(PopulationFigure.org_unit_id.in_(chunk)), unit_ids)
        }  # fmt: skip
        for item in self.parsed:
            figure = existing.get((item.unit.id, item.year, item.category))
            if figure is None:
                db.session.add(
                    PopulationFigure(
                        org_unit_id=item.unit.id,
                        county_id=item.unit.county_id,
                        year=item.year,
                        category=item.category,
                        count=item.count,
                    )  # fmt: skip
                )
                self.count(True, False)
            else:
                self.count(False, _set(figure, count=item.count))


IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls
    for cls in (HouseholdImporter, ResidentImporter, ContractImporter, PopulationImporter)
}


def kinds_for(user: Any) -> list[type[Importer]]:
    role = getattr(user, "role", None)
    return [cls for cls in IMPORTERS.values() if role in cls.roles]


# --- running an upload ----------------------------------------------------------------------


def import_file(
    kind: str, filename: str, content: bytes, user: Any, today: date | None = None
) -> Outcome:
    """Read, validate and (if every row is good) write one file. Flushes; the caller commits.

    On any problem the session is rolled back, so nothing of the file stays in it.
    """
    importer = IMPORTERS[kind](user, today)
    try:
        table = read_table(filename, content)
    except ImportFileError as exc:
        return Outcome(kind=kind, problems=[Problem(0, "", str(exc))])
    try:
        outcome = importer.run(table)
    except IntegrityError:
        # Someone changed the same rows between our checks and our writes (e.g. signed the
        # same resident): the database refused, and nothing of this file is kept.
        db.session.rollback()
        return Outcome(kind=kind, rows=len(table.rows), problems=[
            Problem(0, "", "导入时数据被他人同时修改（例如同一居民刚被签约），本次导入已全部撤销，请重新导入")
        ])  # fmt: skip
    if not outcome.ok:
        db.session.rollback()
    return outcome


def record_run(kind: str, filename: str, content: bytes, outcome: Outcome, user: Any) -> ImportRun:
    """Keep the run and its report (a rejected run writes only this row). Flushes."""
    run = ImportRun(
        user_id=user.id,
        org_unit_id=user.org_unit_id,
        kind=kind,
        filename=(filename or "")[-255:],
        file_sha256=hashlib.sha256(content).hexdigest(),
        status="imported" if outcome.ok else "rejected",
        row_count=outcome.rows,
        created_count=outcome.created,
        updated_count=outcome.updated,
        unchanged_count=outcome.unchanged,
        problems_json=json.dumps(
            [[p.row, p.column, p.message] for p in outcome.problems], ensure_ascii=False
        ),
    )
    db.session.add(run)
    db.session.flush()
    return run


def recent_runs(user: Any, limit: int = 20) -> list[ImportRun]:
    return list(
        db.session.scalars(
            select(ImportRun)
            .where(ImportRun.user_id == user.id)
            .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
            .limit(limit)
        )
    )


def iter_problem_rows(problems: Iterable[tuple[int, str, str]]) -> Iterator[list[str]]:
    """The report as table rows: 行号 (or 文件 for the file as a whole), 列名, 问题."""
    for row, column, message in problems:
        yield ["文件" if row == 0 else str(row), column or "—", message]
