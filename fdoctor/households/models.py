"""Households (户) and residents (居民) with their key-population tags."""

from __future__ import annotations

from datetime import date

from sqlalchemy import DDL, Date, ForeignKey, Index, String, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core import citizen_id as cid
from fdoctor.core.types import BigId, ScopedMixin, TimestampMixin
from fdoctor.extensions import db
from fdoctor.org.models import GridCell

# Stored tags (the age-derived elderly65 and child0_6 come from the birth date).
STORED_TAGS = {
    "maternal": "孕产妇",
    "hypertension": "高血压",
    "diabetes": "2型糖尿病",
    "mental_severe": "严重精神障碍",
    "tuberculosis": "肺结核",
    "disabled": "残疾人",
    "poverty": "脱贫人口",
    "special_family": "计生特殊家庭",
}
DERIVED_TAGS = {"elderly65": "65岁及以上老年人", "child0_6": "0-6岁儿童"}
TAG_LABELS = {**DERIVED_TAGS, **STORED_TAGS}
# Residents with any of these count as key population (重点人群) for indicator A2.
KEY_POPULATION_TAGS = frozenset(
    {
        "elderly65",
        "child0_6",
        "maternal",
        "hypertension",
        "diabetes",
        "mental_severe",
        "tuberculosis",
        "disabled",
        "poverty",
        "special_family",
    }
)
RESIDENT_STATUSES = {"active": "在册", "moved": "迁出", "deceased": "死亡"}


class Household(ScopedMixin, TimestampMixin, db.Model):
    __tablename__ = "household"
    __table_args__ = (
        Index("ix_household_team_grid", "team_id", "grid_cell_id"),
        # Search by part of the address: a trigram index on PostgreSQL (pg_trgm), a plain one
        # elsewhere (see fdoctor/households/search.py).
        Index(
            "ix_household_address_search",
            "address",
            postgresql_using="gin",
            postgresql_ops={"address": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # 户编号, stable for imports
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    responsible_doctor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), index=True
    )

    grid_cell: Mapped[GridCell] = relationship()
    residents: Mapped[list[Resident]] = relationship(
        back_populates="household", order_by="Resident.id"
    )
    responsible_doctor = relationship("User")

    @property
    def head(self) -> Resident | None:
        return next((r for r in self.residents if r.is_head), None)


class Resident(ScopedMixin, TimestampMixin, db.Model):
    __tablename__ = "resident"
    __table_args__ = (
        Index("ix_resident_county_name", "county_id", "name"),
        Index("ix_resident_id_tail", "id_tail"),
        # Search by the start of a name in any scope: trigrams on PostgreSQL (pg_trgm), a B-tree
        # range on SQLite (see fdoctor/households/search.py).
        Index(
            "ix_resident_name_search",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        # Residents by birth date. On PostgreSQL it also carries what the metrics' care-schedule
        # windows (B4, B6) read of each child, so the birth-date ranges of the schedule's rules
        # are index-only scans instead of a heap visit per child and rule.
        Index(
            "ix_resident_birth_date",
            "birth_date",
            postgresql_include=[
                "id",
                "status",
                "team_id",
                "institution_id",
                "county_id",
                "household_id",
            ],
        ),
        # The few residents under TB treatment, by treatment start (the metrics' B6 windows).
        Index(
            "ix_resident_tb_treatment_start",
            "tb_treatment_start",
            sqlite_where=text("tb_treatment_start IS NOT NULL"),
            postgresql_where=text("tb_treatment_start IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    citizen_id: Mapped[str] = mapped_column(String(18), unique=True)
    id_tail: Mapped[str] = mapped_column(String(6))  # last six characters, for search
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    relation: Mapped[str] = mapped_column(String(16), default="本人")  # 与户主关系
    is_head: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    tag_maternal: Mapped[bool] = mapped_column(default=False)
    tag_hypertension: Mapped[bool] = mapped_column(default=False)
    tag_diabetes: Mapped[bool] = mapped_column(default=False)
    tag_mental_severe: Mapped[bool] = mapped_column(default=False)
    tag_tuberculosis: Mapped[bool] = mapped_column(default=False)
    tag_disabled: Mapped[bool] = mapped_column(default=False)
    tag_poverty: Mapped[bool] = mapped_column(default=False)
    tag_special_family: Mapped[bool] = mapped_column(default=False)
    tb_treatment_start: Mapped[date | None] = mapped_column(Date)

    household: Mapped[Household] = relationship(back_populates="residents")
    pregnancies: Mapped[list[Pregnancy]] = relationship(
        back_populates="resident", order_by="Pregnancy.lmp_date"
    )

    def tags_on(self, day: date) -> list[str]:
        """Stored and age-derived tags, in a stable order."""
        tags = sorted(cid.derived_tags(self.birth_date, day))
        tags += [t for t in STORED_TAGS if getattr(self, f"tag_{t}")]
        return tags

    def set_tags(self, tags: set[str]) -> None:
        for tag in STORED_TAGS:
            setattr(self, f"tag_{tag}", tag in tags)

    def age_on(self, day: date) -> int:
        return cid.age_on(self.birth_date, day)

    @property
    def masked_id(self) -> str:
        return cid.mask(self.citizen_id)


class Pregnancy(db.Model):
    """One pregnancy of a resident: the maternal visit schedule is reckoned from it."""

    __tablename__ = "pregnancy"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    lmp_date: Mapped[date] = mapped_column(Date)  # 末次月经
    delivery_date: Mapped[date | None] = mapped_column(Date)

    resident: Mapped[Resident] = relationship(back_populates="pregnancies")


# The trigram indexes above need pg_trgm; the migration creates it too (db.create_all in tests).
event.listen(
    Household.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)
