"""Population denominators (人口数据): matched on (机构编码, 年度, 人群类别); centres only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from fdoctor.core.roles import Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.imports.importers.base import Column, Importer, fetch_in, set_changed
from fdoctor.imports.reader import Row, Table
from fdoctor.org.models import POPULATION_CATEGORIES, OrgUnit, PopulationFigure

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
                self.count(False, set_changed(figure, count=item.count))
