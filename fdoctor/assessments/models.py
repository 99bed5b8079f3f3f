"""Assessments (考核) of the four tiers, their indicator scores, appeals and rectification items.

One row per (level, period, assessee, revision). A published assessment is immutable; a correction
is a new revision (``supersedes_id`` + ``revision_reason``) and exactly one revision is current.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.extensions import db

ASSESSMENT_STATUSES = {
    "open": "已开启",
    "draft": "评分中",
    "submitted": "已提交",
    "published": "已公示",
    "acknowledged": "已确认",
    "appealed": "申诉中",
    "superseded": "已被修订",
}


class Assessment(db.Model):
    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("level", "period", "unit_id", "revision"),
        # Exactly one current revision per (level, period, assessee).
        Index(
            "uq_assessment_current",
            "level",
            "period",
            "unit_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
        Index("ix_assessment_level_period", "level", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(4))  # L1..L4
    period: Mapped[str] = mapped_column(String(10))  # 2026-03, 2026-Q1, 2026-H2, 2026
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)  # assessee
    assessor_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    index_code: Mapped[str] = mapped_column(String(40))  # e.g. city-2026
    index_version: Mapped[str] = mapped_column(String(20), default="1")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(default=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
    revision_reason: Mapped[str | None] = mapped_column(Text)
    total: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    dimension_a: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    dimension_b: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    dimension_c: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    # L4: reported (L3-based) and spot-check scores, combined 40/60 into ``total``.
    reported_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    spot_check_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    flagged: Mapped[bool] = mapped_column(default=False)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    due_on: Mapped[date] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    appeal_deadline: Mapped[date | None] = mapped_column(Date)

    unit = relationship("OrgUnit", foreign_keys=[unit_id])
    assessor_unit = relationship("OrgUnit", foreign_keys=[assessor_unit_id])
    items: Mapped[list[AssessmentItem]] = relationship(
        back_populates="assessment", order_by="AssessmentItem.code"
    )

    @property
    def status_label(self) -> str:
        return ASSESSMENT_STATUSES.get(self.status, self.status)


class AssessmentItem(db.Model):
    """One indicator of an assessment: the metric as measured and the points given."""

    __tablename__ = "assessment_item"
    __table_args__ = (UniqueConstraint("assessment_id", "code"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(50))
    dimension: Mapped[str] = mapped_column(String(1))
    max_points: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    rule: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str | None] = mapped_column(String(40))
    numerator: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    denominator: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    value: Mapped[str | None] = mapped_column(Text)  # the metric value as JSON (ratio, counts, mean)
    points: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    reason: Mapped[str | None] = mapped_column(Text)  # required for manual points below the maximum
    detail: Mapped[str | None] = mapped_column(Text)  # the formula with the numbers filled in

    assessment: Mapped[Assessment] = relationship(back_populates="items")
