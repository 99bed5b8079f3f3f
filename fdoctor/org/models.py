"""The organisation tree (行政区划与机构), population denominators and the service grid (网格)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import TimestampMixin
from fdoctor.extensions import db

# city → settlement pool (捆绑结算组) → county (县/市/区) → institution → station (optional) → team
UNIT_KINDS = ("city", "pool", "county", "institution", "station", "team")
UNIT_KIND_LABELS = {
    "city": "市",
    "pool": "结算池",
    "county": "县（市、区）",
    "institution": "医疗机构",
    "station": "服务站/村卫生室",
    "team": "家庭医生团队",
}
# Subtypes shown to users.
SUBTYPE_LABELS = {
    "district": "区",
    "county": "县",
    "county_city": "县级市",
    "community_centre": "社区卫生服务中心",
    "township_centre": "乡镇卫生院",
    "community_station": "社区卫生服务站",
    "village_clinic": "村卫生室",
}

# Population denominators per unit and year: registered residents and key populations.
POPULATION_CATEGORIES = {
    "registered": "常住人口",
    "elderly65": "65岁及以上老年人",
    "child0_6": "0-6岁儿童",
    "maternal": "孕产妇",
    "hypertension": "高血压患者",
    "diabetes": "2型糖尿病患者",
    "mental_severe": "严重精神障碍患者",
    "tuberculosis": "肺结核患者",
    "disabled": "残疾人",
    "poverty": "脱贫人口",
    "special_family": "计生特殊家庭",
}


class OrgUnit(TimestampMixin, db.Model):
    """One node of the organisation tree; ``path`` ("/1/4/9/") makes subtree queries one LIKE."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    subtype: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    # Denormalised ancestors for one-column scope filters.
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6))  # 行政区划代码 of a county
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[OrgUnit | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list[OrgUnit]] = relationship(
        foreign_keys=[parent_id], back_populates="parent", order_by="OrgUnit.code"
    )

    @property
    def kind_label(self) -> str:
        return SUBTYPE_LABELS.get(self.subtype or "", UNIT_KIND_LABELS.get(self.kind, self.kind))

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.name}>"


class PopulationFigure(db.Model):
    """A yearly denominator: registered population or a key-population count of one unit."""

    __tablename__ = "population_figure"
    __table_args__ = (UniqueConstraint("org_unit_id", "year", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)

    org_unit: Mapped[OrgUnit] = relationship(foreign_keys=[org_unit_id])


GRID_KINDS = {"area": "片区", "community": "小区/村", "building": "楼栋"}


class GridCell(db.Model):
    """The service grid (分片包户制): area → community/village → building (optional)."""

    __tablename__ = "grid_cell"
    __table_args__ = (Index("ix_grid_cell_team_kind", "team_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)

    parent: Mapped[GridCell | None] = relationship(remote_side=[id])
    team: Mapped[OrgUnit] = relationship(foreign_keys=[team_id])

    @property
    def kind_label(self) -> str:
        return GRID_KINDS.get(self.kind, self.kind)
