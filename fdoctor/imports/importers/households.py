"""Households (家庭/户): matched on 户编号; grid cell, address, phone and responsible doctor."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.households.services import (
    DOCTOR_ROLES,
    HOUSEHOLD_CODE_PATTERN,
    check_phone,
    move_residents,
    writable_teams,
)
from fdoctor.imports.importers.base import (
    Column,
    Importer,
    fetch_in,
    households_by_code,
    set_changed,
    users_by_username,
)
from fdoctor.imports.reader import Row, Table
from fdoctor.org.models import GridCell


@dataclass
class _HouseholdRow:
    row: Row
    code: str
    cell: GridCell
    address: str
    phone: str | None
    doctor_id: int | None
    existing: Household | None


@dataclass
class _Lookups:
    teams: set[int]
    cells: dict[str, GridCell]
    parents: set[int]  # cells that have cells below them
    existing: dict[str, Household]
    doctors: dict[str, User]


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
        lookups = self.prefetch(table.rows)
        seen: dict[str, int] = {}
        self.parsed: list[_HouseholdRow] = []
        for row in table.rows:
            item = self.check_row(row, lookups, seen)
            if item is not None:
                self.parsed.append(item)

    def prefetch(self, rows: list[Row]) -> _Lookups:
        teams = {t.id for t in writable_teams(self.user)}
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
        return _Lookups(
            teams=teams,
            cells=cells,
            parents=parents,
            existing=households_by_code(rows),
            doctors=users_by_username(rows),
        )

    def check_row(self, row: Row, lookups: _Lookups, seen: dict[str, int]) -> _HouseholdRow | None:
        """One row's checks; the parsed row when it has no problem."""
        teams = lookups.teams
        before = len(self.problems)
        code = self.unique_code(row, "户编号", HOUSEHOLD_CODE_PATTERN, seen)
        household = lookups.existing.get(code)
        if household is not None and household.team_id not in teams:
            self.bad(row, "户编号", f"户编号 {code} 已被您管辖范围外的家庭使用")
        cell_code = self.required_text(row, "网格编码", 40)
        cell = lookups.cells.get(cell_code)
        if cell_code and (cell is None or cell.team_id not in teams):
            self.bad(row, "网格编码", f"网格编码 {cell_code} 不存在或不在您的管辖范围内")
        elif cell is not None and cell.id in lookups.parents:
            self.bad(row, "网格编码", "请填写最末一级网格（楼栋，或没有楼栋的小区/村）的编码")
        address = self.required_text(row, "地址", 200)
        phone = row.text("联系电话")
        message = check_phone(phone)
        if message:
            self.bad(row, "联系电话", message)
        username = row.text("责任医生账号")
        doctor = lookups.doctors.get(username) if username else None
        if username and (
            doctor is None
            or doctor.role not in DOCTOR_ROLES
            or not doctor.active
            or (cell is not None and doctor.org_unit_id != cell.team_id)
        ):
            self.bad(row, "责任医生账号", f"{username} 不是该网格所属团队的医生")
        if len(self.problems) != before or cell is None:
            return None
        return _HouseholdRow(
            row, code, cell, address, phone or None, doctor.id if doctor else None, household
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
            changed = set_changed(
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
                changed |= set_changed(household, responsible_doctor_id=item.doctor_id)
            if moved:
                db.session.flush()
                move_residents(household)
            self.count(created, changed)
