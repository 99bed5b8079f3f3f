"""Contracts (签约协议): matched on 协议编号, for households and residents already imported.

A new code signs the members for the term; an existing contract may only change its doctor,
packages, signing date and first-contact flag (renewal and termination are done in the app).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember, ContractPackage, ServicePackage
from fdoctor.contracts.services import (
    active_contracts_of,
    end_date_for,
    package_fit_message,
    term_message,
)
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.households.services import DOCTOR_ROLES, writable_teams
from fdoctor.imports.importers.base import (
    Column,
    Importer,
    fetch_in,
    households_by_code,
    is_number,
    set_changed,
    users_by_username,
)
from fdoctor.imports.reader import Row, Table, split_list
from fdoctor.org.models import OrgUnit

CONTRACT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")


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


@dataclass
class _Lookups:
    """Everything the rows refer to, fetched in bulk, and what the file itself has used so far."""

    teams: dict[int, OrgUnit]  # the user's writable teams
    teams_by_code: dict[str, OrgUnit]
    households: dict[str, Household]
    by_household: dict[int, dict[str, Resident]]  # household id → citizen ID → resident
    taken: dict[int, Contract]  # resident id → their active contract
    existing: dict[str, Contract]
    doctors: dict[str, User]
    doctors_by_id: dict[int, User]  # the households' responsible doctors
    packages: list[ServicePackage]
    seen: dict[str, int] = field(default_factory=dict)  # contract code → first row
    signed_in_file: dict[int, int] = field(default_factory=dict)  # resident id → row


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
        lookups = self.prefetch(table.rows)
        self.parsed: list[_ContractRow] = []
        for row in table.rows:
            item = self.check_row(row, lookups)
            if item is not None:
                self.parsed.append(item)

    # -- validation, step by step --

    def prefetch(self, rows: list[Row]) -> _Lookups:
        teams = {t.id: t for t in writable_teams(self.user)}
        households = households_by_code(rows)
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
        doctors = users_by_username(rows)
        doctors_by_id = {
            u.id: u
            for u in fetch_in(
                lambda chunk: select(User).where(User.id.in_(chunk)),
                (h.responsible_doctor_id for h in households.values()),
            )
        }
        packages = list(db.session.scalars(select(ServicePackage).where(ServicePackage.active)))
        return _Lookups(
            teams=teams,
            teams_by_code={t.code: t for t in teams.values()},
            households=households,
            by_household=by_household,
            taken=taken,
            existing=existing,
            doctors=doctors,
            doctors_by_id=doctors_by_id,
            packages=packages,
        )

    def check_row(self, row: Row, lookups: _Lookups) -> _ContractRow | None:
        """One row's checks, in order; the parsed row when it has no problem."""
        before = len(self.problems)
        code = self.unique_code(row, "协议编号", CONTRACT_CODE_PATTERN, lookups.seen)
        contract = self.existing_contract(row, code, lookups)
        household_code = self.required_text(row, "户编号", 40)
        household = self.household_of(row, household_code, lookups)
        members = self.members_of(row, household, household_code, lookups)
        start = self.date_value(row, "开始日期", required=True)
        years = self.int_value(row, "年限", required=True)
        self.check_term(row, start, years, members)
        team = self.team_of(row, household, lookups)
        doctor = self.doctor_of(row, household, team, lookups)
        chosen = self.packages_of(row, lookups.packages, household, len(members))
        if start is not None:
            for package, persons in chosen:
                message = package_fit_message(package, members, persons, start)
                if message:
                    self.bad(row, "服务包", message)
        signed_on = self.signed_on_of(row, start)
        first_contact = self.bool_value(row, "基层首诊")
        active = (
            start is not None and years is not None and end_date_for(start, years) >= self.today
        )
        if contract is not None:
            clean = len(self.problems) == before
            self.check_unchanged(row, code, contract, household, members, start, years, clean)
            active = active and contract.status == "active"
        if active:
            self.check_single_contract(row, code, members, lookups)
        if len(self.problems) != before:
            return None
        assert household is not None and team is not None and doctor is not None
        assert start is not None and years is not None and signed_on is not None
        return _ContractRow(
            row, code, household, members, team, doctor, chosen, signed_on, start, years,
            first_contact, contract,
        )  # fmt: skip

    def existing_contract(self, row: Row, code: str, lookups: _Lookups) -> Contract | None:
        """The contract already under this code, if it is in the user's scope."""
        contract = lookups.existing.get(code)
        if contract is not None and contract.team_id not in lookups.teams:
            self.bad(row, "协议编号", f"协议编号 {code} 已被您管辖范围外的协议使用")
            return None
        return contract

    def household_of(self, row: Row, household_code: str, lookups: _Lookups) -> Household | None:
        household = lookups.households.get(household_code)
        if household_code and (household is None or household.team_id not in lookups.teams):
            self.bad(row, "户编号", f"户编号 {household_code} 不存在或不在您的管辖范围内")
            return None
        return household

    def member_numbers(self, row: Row) -> list[str]:
        """The normalised citizen IDs of 成员身份证号, as written (repeats kept)."""
        raw_members = row.raw("成员身份证号")
        if is_number(raw_members):
            self.bad(row, "成员身份证号", "身份证号须以文本格式填写（按数字保存时后几位会丢失）")
            return []
        numbers = [cid.normalize(n) for n in split_list(raw_members)]
        if not numbers:
            self.bad(row, "成员身份证号", "必填，至少一名签约成员")
        return numbers

    def members_of(
        self, row: Row, household: Household | None, household_code: str, lookups: _Lookups
    ) -> list[Resident]:
        """The residents to sign: valid IDs of active members of the row's household."""
        numbers = self.member_numbers(row)
        in_household = lookups.by_household.get(household.id, {}) if household else {}
        members: list[Resident] = []
        for number in dict.fromkeys(numbers):
            try:
                cid.parse(number, today=self.today)
            except cid.CitizenIdError as exc:
                self.bad(row, "成员身份证号", f"{number}：{exc}")
                continue
            person = in_household.get(number) if household else None
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
        return members

    def check_term(
        self, row: Row, start: date | None, years: int | None, members: list[Resident]
    ) -> None:
        if years is not None and not 1 <= years <= 5:
            self.bad(row, "年限", "年限应为1至5年的整数")
        elif start is not None and years is not None and members:
            message = term_message(members, start, years)
            if message:
                self.bad(row, "年限", message)

    def team_of(self, row: Row, household: Household | None, lookups: _Lookups) -> OrgUnit | None:
        """The team of 团队编码, or else the household's."""
        team_code = row.text("团队编码")
        team = (
            lookups.teams_by_code.get(team_code)
            if team_code
            else (lookups.teams.get(household.team_id or 0) if household else None)
        )
        if team_code and team is None:
            self.bad(row, "团队编码", f"团队编码 {team_code} 不存在或不在您的管辖范围内")
        return team

    def doctor_of(
        self, row: Row, household: Household | None, team: OrgUnit | None, lookups: _Lookups
    ) -> User | None:
        """The doctor of 责任医生账号, or else the household's; an active doctor of the team."""
        username = row.text("责任医生账号")
        doctor = lookups.doctors.get(username) if username else (
            lookups.doctors_by_id.get(household.responsible_doctor_id or 0) if household else None
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
        return doctor

    def signed_on_of(self, row: Row, start: date | None) -> date | None:
        """签约日期, by default the start (or today, if the start is later); never after today."""
        signed_on = self.date_value(row, "签约日期") or (min(start, self.today) if start else None)
        if signed_on is not None and signed_on > self.today:
            self.bad(row, "签约日期", "签约日期不能晚于今天")
        return signed_on

    def check_unchanged(
        self,
        row: Row,
        code: str,
        contract: Contract,
        household: Household | None,
        members: list[Resident],
        start: date | None,
        years: int | None,
        clean: bool,
    ) -> None:
        """An existing contract keeps its household, members and term (reported on a clean row)."""
        same = (
            contract.household_id == (household.id if household else None)
            and {m.resident_id for m in contract.members} == {p.id for p in members}
            and contract.start_date == start
            and years is not None
            and contract.end_date == end_date_for(start, years)
        )
        if not same and clean:
            self.bad(
                row,
                "协议编号",
                f"协议 {code} 已存在，导入不能修改其家庭、成员或服务期，请在系统中办理续约或解约",
            )

    def check_single_contract(
        self, row: Row, code: str, members: list[Resident], lookups: _Lookups
    ) -> None:
        """One active contract per person: none elsewhere, none on an earlier row of the file."""
        for person in members:
            other = lookups.taken.get(person.id)
            if other is not None and other.code != code:
                self.bad(
                    row,
                    "成员身份证号",
                    f"{person.name} 已有有效签约协议 {other.code}（至 {other.end_date.isoformat()}），一人只能有一份有效协议",
                )
            elif person.id in lookups.signed_in_file:
                self.bad(
                    row,
                    "成员身份证号",
                    f"{person.name} 已在第{lookups.signed_in_file[person.id]}行签约，一人只能有一份有效协议",
                )
            else:
                lookups.signed_in_file[person.id] = row.number

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

    # -- writing --

    def apply(self) -> None:
        for item in self.parsed:
            fees = {
                p.id: (0 if p.kind == "basic" else p.fee_fen * persons)
                for p, persons in item.packages
            }
            if item.existing is None:
                self.create(item, fees)
                self.count(True, False)
            else:
                self.count(False, self.update(item.existing, item, fees))

    def create(self, item: _ContractRow, fees: dict[int, int]) -> None:
        """A new contract with its members and packages."""
        status = "active" if item.end >= self.today else "expired"
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

    def update(self, contract: Contract, item: _ContractRow, fees: dict[int, int]) -> bool:
        """What an import may change on an existing contract; True if anything changed."""
        changed = set_changed(
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
        return changed
