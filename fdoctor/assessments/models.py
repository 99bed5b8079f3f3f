"""Assessments (考核) of the four tiers, their indicator scores, appeals and rectification items.

One row per (level, period, assessee, revision). A published assessment is immutable; a correction
is a new revision (``supersedes_id`` + ``revision_reason``) and exactly one revision is current.

Levels stored in ``Assessment.level``: ``L1``–``L4`` (SPEC 5) and ``L4S``, the city's own scoring of
one institution drawn for the municipal spot check (市级抽查); the L4 score of a county combines its
institutions' reported L3 results with those spot-check scores.

Also here: the L4 draw (``SpotCheckDraw``), reminders and flags raised by the scheduled jobs
(``Notification``) and the monthly workload report (``WorkloadReport``).
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

from fdoctor.core.types import BigId
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
# How an item's points came about.
ITEM_SOURCES = {
    "metric": "按记录计算",
    "manual": "考核人员评分",
    "override": "修订/申诉更正",
}
APPEAL_STATUSES = {"pending": "待答复", "answered": "已答复"}
APPEAL_DECISIONS = {"accepted": "采纳", "rejected": "驳回"}
RECTIFICATION_STATUSES = {"open": "待整改", "rectified": "已整改待核验", "verified": "已核验"}


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
    level: Mapped[str] = mapped_column(String(4))  # L1..L4, L4S (spot check of one institution)
    period: Mapped[str] = mapped_column(String(10))  # 2026-03, 2026-Q1, 2026-H2, 2026
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)  # assessee
    assessor_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    index_code: Mapped[str] = mapped_column(String(40))  # e.g. city-2026
    index_version: Mapped[str] = mapped_column(String(20), default="1")
    # The index file scored with (its name under assessments/indexes/) and its SHA-256.
    index_file: Mapped[str | None] = mapped_column(String(200))
    index_sha256: Mapped[str | None] = mapped_column(String(64))
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
    # Set by the flag_overdue job: the first day the assessment was overdue (due_on + 1).
    overdue_since: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    appeal_deadline: Mapped[date | None] = mapped_column(Date)
    # Optimistic concurrency: every UPDATE checks and bumps it, so two assessors saving the same
    # assessment at once cannot silently overwrite each other (the second gets StaleDataError).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}

    unit = relationship("OrgUnit", foreign_keys=[unit_id])
    assessor_unit = relationship("OrgUnit", foreign_keys=[assessor_unit_id])
    items: Mapped[list[AssessmentItem]] = relationship(
        back_populates="assessment", order_by="AssessmentItem.code"
    )
    appeals: Mapped[list[Appeal]] = relationship(
        back_populates="assessment", order_by="Appeal.id", foreign_keys="Appeal.assessment_id"
    )

    @property
    def status_label(self) -> str:
        return ASSESSMENT_STATUSES.get(self.status, self.status)


class AssessmentItem(db.Model):
    """One indicator of an assessment: the metric as measured and the points given."""

    __tablename__ = "assessment_item"
    __table_args__ = (UniqueConstraint("assessment_id", "code"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(50))
    dimension: Mapped[str] = mapped_column(String(1))
    max_points: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    rule: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str | None] = mapped_column(String(40))
    numerator: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    denominator: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    value: Mapped[str | None] = mapped_column(
        Text
    )  # the metric value as JSON (ratio, counts, mean)
    points: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    reason: Mapped[str | None] = mapped_column(Text)  # required for manual points below the maximum
    detail: Mapped[str | None] = mapped_column(Text)  # the formula with the numbers filled in
    # metric | manual | override (see ITEM_SOURCES); manual items wait for the assessor's points.
    source: Mapped[str] = mapped_column(String(10), default="metric")
    target: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    description: Mapped[str | None] = mapped_column(Text)  # the index's explanation
    score_detail: Mapped[str | None] = mapped_column(Text)  # the scoring arithmetic
    drill: Mapped[str | None] = mapped_column(Text)  # JSON: labels of the records behind the metric

    assessment: Mapped[Assessment] = relationship(back_populates="items")

    @property
    def source_label(self) -> str:
        return ITEM_SOURCES.get(self.source, self.source)


class Appeal(db.Model):
    """An appeal (申诉) by the assessee against a published assessment, per indicator."""

    __tablename__ = "assessment_appeal"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The revision created when at least one indicator was accepted.
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))

    assessment: Mapped[Assessment] = relationship(
        back_populates="appeals", foreign_keys=[assessment_id]
    )
    items: Mapped[list[AppealItem]] = relationship(
        back_populates="appeal", order_by="AppealItem.code"
    )
    submitted_by = relationship("User", foreign_keys=[submitted_by_id])
    answered_by = relationship("User", foreign_keys=[answered_by_id])

    @property
    def status_label(self) -> str:
        return APPEAL_STATUSES.get(self.status, self.status)


class AppealItem(db.Model):
    """One appealed indicator: the assessee's reason, the assessor's decision and answer."""

    __tablename__ = "assessment_appeal_item"
    __table_args__ = (UniqueConstraint("appeal_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("assessment_appeal.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    requested_points: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    decision: Mapped[str | None] = mapped_column(String(10))  # accepted | rejected
    corrected_points: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    answer: Mapped[str | None] = mapped_column(Text)

    appeal: Mapped[Appeal] = relationship(back_populates="items")

    @property
    def decision_label(self) -> str:
        return APPEAL_DECISIONS.get(self.decision or "", "待答复")


class Rectification(db.Model):
    """A rectification item (整改): an indicator under 60% of its maximum, with owner and deadline."""

    __tablename__ = "rectification"
    __table_args__ = (
        UniqueConstraint("assessment_id", "code"),
        Index("ix_rectification_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("assessment_item.id"))
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(50))
    points: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    max_points: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    # Scope columns copied from the assessment (the assessee's place in the tree).
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    evidence: Mapped[str | None] = mapped_column(Text)
    rectified_at: Mapped[datetime | None] = mapped_column(DateTime)
    rectified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verify_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    overdue_since: Mapped[date | None] = mapped_column(Date)  # set by the flag_overdue job

    assessment: Mapped[Assessment] = relationship(foreign_keys=[assessment_id])
    item: Mapped[AssessmentItem] = relationship(foreign_keys=[item_id])
    owner_unit = relationship("OrgUnit", foreign_keys=[owner_unit_id])
    owner_user = relationship("User", foreign_keys=[owner_user_id])

    @property
    def status_label(self) -> str:
        return RECTIFICATION_STATUSES.get(self.status, self.status)


class SpotCheckDraw(db.Model):
    """The municipal spot check draw (市级抽查) of one year: the seed and every candidate.

    Candidates are stored with the draw so that anyone can recompute it from the stored seed with
    ``assessments.sampling.draw_spot_check`` and compare.
    """

    __tablename__ = "spot_check_draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    per_county: Mapped[int] = mapped_column(Integer, default=2)
    drawn_at: Mapped[datetime] = mapped_column(DateTime)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    items: Mapped[list[SpotCheckDrawItem]] = relationship(
        back_populates="draw",
        order_by="[SpotCheckDrawItem.county_id, SpotCheckDrawItem.draw_order]",
    )


class SpotCheckDrawItem(db.Model):
    """One candidate institution of a county; ``draw_order`` is set when it was drawn."""

    __tablename__ = "spot_check_draw_item"
    __table_args__ = (UniqueConstraint("draw_id", "institution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("spot_check_draw.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    selected: Mapped[bool] = mapped_column(default=False)
    draw_order: Mapped[int | None] = mapped_column(Integer)  # 1 = drawn first
    # Filled when the L4 score of the county is computed.
    reported_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    spot_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    flagged: Mapped[bool] = mapped_column(default=False)

    draw: Mapped[SpotCheckDraw] = relationship(back_populates="items")
    institution = relationship("OrgUnit", foreign_keys=[institution_id])
    county = relationship("OrgUnit", foreign_keys=[county_id])


NOTIFICATION_KINDS = {
    "remind_l1": "月度自查提醒",
    "assessment_overdue": "考核逾期",
    "rectification_overdue": "整改逾期",
    "contract_expiring": "签约即将到期",
    "contract_expired": "签约已到期",
}


class Notification(db.Model):
    """A reminder or flag raised by a job, shown to the unit it concerns.

    ``key`` makes jobs idempotent: one notification per (kind, object, deadline) whatever the
    number of runs.
    """

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(200))  # a path inside the app
    created_at: Mapped[datetime] = mapped_column(DateTime)

    unit = relationship("OrgUnit", foreign_keys=[unit_id])

    @property
    def kind_label(self) -> str:
        return NOTIFICATION_KINDS.get(self.kind, self.kind)


class WorkloadReport(db.Model):
    """The monthly workload report (当月工作量报表) of one county."""

    __tablename__ = "workload_report"
    __table_args__ = (UniqueConstraint("county_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    period: Mapped[str] = mapped_column(String(10))  # 2026-03
    created_at: Mapped[datetime] = mapped_column(DateTime)
    total: Mapped[int] = mapped_column(Integer, default=0)

    county = relationship("OrgUnit", foreign_keys=[county_id])
    rows: Mapped[list[WorkloadReportRow]] = relationship(
        back_populates="report",
        order_by="[WorkloadReportRow.team_id, WorkloadReportRow.service_type]",
    )


class WorkloadReportRow(db.Model):
    """Services of one type by one team in the report's month."""

    __tablename__ = "workload_report_row"
    __table_args__ = (UniqueConstraint("report_id", "team_id", "service_type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("workload_report.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    service_type: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)

    report: Mapped[WorkloadReport] = relationship(back_populates="rows")
    team = relationship("OrgUnit", foreign_keys=[team_id])
