"""Residents (居民): matched on 身份证号, into households already imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import DERIVED_TAGS, STORED_TAGS, Household, Resident
from fdoctor.households.services import (
    HEAD_RELATION,
    ResidentInput,
    apply_resident,
    check_resident,
    clear_other_heads,
    open_pregnancy,
    writable_teams,
)
from fdoctor.imports.importers.base import (
    Column,
    Importer,
    fetch_in,
    households_by_code,
    is_number,
)
from fdoctor.imports.reader import Row, Table, split_list
from fdoctor.org.models import POPULATION_CATEGORIES

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
_SEXES = {"男": "M", "女": "F", "M": "M", "F": "F", "": ""}


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


@dataclass
class _Lookups:
    teams: set[int]
    households: dict[str, Household]
    existing: dict[str, Resident]  # by citizen ID
    aliases: dict[str, str]
    seen: dict[str, int]  # citizen ID → first row in the file
    heads: dict[str, int]  # household code → the row naming its head
    # household id → its stored "本人" (older data may hold more than one)
    selves: dict[int, list[Resident]] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)  # citizen ID → relation in the file


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
        lookups = self.prefetch(table.rows)
        self.parsed: list[_ResidentRow] = []
        for row in table.rows:
            item = self.check_row(row, lookups)
            if item is not None:
                self.parsed.append(item)

    def prefetch(self, rows: list[Row]) -> _Lookups:
        teams = {t.id for t in writable_teams(self.user)}
        households = households_by_code(rows)
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
        selves: dict[int, list[Resident]] = {}
        for p in fetch_in(
            lambda chunk: select(Resident).where(
                Resident.household_id.in_(chunk),
                Resident.relation == HEAD_RELATION,
                Resident.status == "active",
            ),
            [h.id for h in households.values()],
        ):
            selves.setdefault(p.household_id, []).append(p)
        relations = {cid.normalize(r.text("身份证号")): r.text("与户主关系").strip() for r in rows}
        return _Lookups(teams, households, existing, tag_aliases(), {}, {}, selves, relations)

    def check_row(self, row: Row, lookups: _Lookups) -> _ResidentRow | None:
        """One row's checks; the parsed row when it has no problem."""
        before = len(self.problems)
        household_code = self.required_text(row, "户编号", 40)
        household = lookups.households.get(household_code)
        if household_code and (household is None or household.team_id not in lookups.teams):
            self.bad(
                row,
                "户编号",
                f"户编号 {household_code} 不存在或不在您的管辖范围内，请先导入家庭",
            )
            household = None
        number = self.citizen_id_of(row, lookups.seen)
        sex = self.sex_of(row)
        tags, derived = self.tags_of(row, lookups.aliases)
        # An empty 是否户主 (or a file without the column) follows the relation: "本人" is the head.
        if row.text("是否户主").strip():
            is_head = self.bool_value(row, "是否户主")
        else:
            is_head = row.text("与户主关系").strip() == HEAD_RELATION
        if is_head and household_code:
            self.check_single_head(row, household_code, lookups.heads)
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
        parsed = self.check_data(row, data, derived)
        if household is not None and data.relation.strip() == HEAD_RELATION:
            self.check_single_self(row, household, number, lookups)
        person = lookups.existing.get(number)
        if person is not None and person.team_id not in lookups.teams:
            self.bad(
                row,
                "身份证号",
                f"身份证号已登记在您管辖范围外的家庭 {person.household.code} 中",
            )
        if len(self.problems) == before and household is not None and parsed is not None:
            return _ResidentRow(row, household, data, parsed, person)
        return None

    def citizen_id_of(self, row: Row, seen: dict[str, int]) -> str:
        """The normalised 身份证号: present and not repeated inside the file."""
        number = self.citizen_id_text(row, "身份证号")
        if not number and not is_number(row.raw("身份证号")):
            self.bad(row, "身份证号", "必填，不能为空")
        if number in seen:
            self.bad(row, "身份证号", f"与第{seen[number]}行的身份证号重复")
        elif number:
            seen[number] = row.number
        return number

    def sex_of(self, row: Row) -> str:
        """The sex code: "M", "F", or "" when not given."""
        sex_text = row.text("性别")
        sex = _SEXES.get(sex_text.upper() if sex_text.isascii() else sex_text)
        if sex is None:
            self.bad(row, "性别", "应填“男”或“女”")
            return ""
        return sex

    def tags_of(self, row: Row, aliases: dict[str, str]) -> tuple[set[str], set[str]]:
        """The stored tags named in the row, and the derived (age) ones it names."""
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
        return tags, derived

    def check_single_head(self, row: Row, household_code: str, heads: dict[str, int]) -> None:
        if household_code in heads:
            self.bad(
                row,
                "是否户主",
                f"与第{heads[household_code]}行同为户 {household_code} 的户主，每户只能有一名户主",
            )
        else:
            heads[household_code] = row.number

    def check_single_self(
        self, row: Row, household: Household, number: str, lookups: _Lookups
    ) -> None:
        """A household keeps one "本人": the stored one unless the file gives them another relation."""
        stored_selves = lookups.selves.get(household.id, [])
        if any(stored.citizen_id == number for stored in stored_selves):
            return  # the row is (one of) the household's stored "本人" itself
        for stored in sorted(stored_selves, key=lambda r: r.id):
            if lookups.relations.get(stored.citizen_id, HEAD_RELATION) != HEAD_RELATION:
                continue  # the same file gives them another relation
            self.bad(
                row,
                "与户主关系",
                f"户 {household.code} 已有户主（本人）{stored.name}，一户只能有一位“本人”；"
                "如需更换户主，请在同一文件中将原户主改为其他关系",
            )
            return

    def check_data(self, row: Row, data: ResidentInput, derived: set[str]) -> cid.CitizenId | None:
        """The resident's own checks, and the age tags the row names that its birth date denies."""
        parsed, errors = check_resident(data, self.today) if data.citizen_id else (None, {})
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
        return parsed

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
