"""Settlement (结算) and its configuration: pool funds, splits, post coefficients, ratings.

A ``Settlement`` is one sheet for a year: the pre-allocation (预拨) for year Y or the settlement
(结算) of year Y paid in Y+1. Its ``SettlementLine`` rows are the cascade city → pool → county →
institution → part (centre/stations) → team → member (and the team reserve). The figures live
twice: as rows (to query and scope) and in ``outputs_json`` (covered with ``inputs_json`` by the
SHA-256). Once locked, the database itself refuses any change (see ``triggers.py``).
Money is integer fen (分) throughout.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core import dialect
from fdoctor.core.types import BigId, ScopedMixin
from fdoctor.extensions import db

SETTLEMENT_KINDS = {"preallocation": "预拨", "settlement": "结算"}
SETTLEMENT_STATUSES = {
    "draft": "草稿",
    "reviewed": "已审核",
    "approved": "已批准",
    "locked": "已锁定",
}
LINE_LEVELS = {
    "pool": "结算池",
    "county": "县（市、区）",
    "institution": "医疗机构",
    "split": "机构内拆分",
    "team": "家庭医生团队",
    "member": "团队成员",
    "reserve": "部门基金",
    "management": "负责人统筹",
    "leader": "团队负责人",
}
# Fen amounts can pass 2^31 (21 million yuan) for a city fund.
Fen = BigInteger().with_variant(Integer(), "sqlite")


class Settlement(db.Model):
    """One settlement sheet of a year and kind, moving draft → reviewed → approved → locked."""

    __tablename__ = "settlement"
    __table_args__ = (
        UniqueConstraint("year", "kind"),
        CheckConstraint("kind IN ('preallocation', 'settlement')", name="kind_known"),
        CheckConstraint(
            "status IN ('draft', 'reviewed', 'approved', 'locked')", name="status_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # Bumped each time a draft is recomputed with a different result.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Loaded when first read, not with the row: at city scale they are megabytes, and lists of
    # sheets, approvals and the build's look-up of the draft need neither.
    inputs_json: Mapped[str] = mapped_column(Text, deferred=True)
    outputs_json: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    total_fen: Mapped[int] = mapped_column(Fen, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    created_by = relationship("User", foreign_keys=[created_by_id])
    computed_by = relationship("User", foreign_keys=[computed_by_id])
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    locked_by = relationship("User", foreign_keys=[locked_by_id])

    @property
    def kind_label(self) -> str:
        return SETTLEMENT_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return SETTLEMENT_STATUSES.get(self.status, self.status)

    @property
    def title(self) -> str:
        if self.kind == "preallocation":
            return f"{self.year}年度家庭医生签约服务补助资金预拨表"
        return f"{self.year}年度家庭医生签约服务补助资金结算表"

    def __repr__(self) -> str:
        return f"<Settlement {self.year} {self.kind} {self.status}>"


# A sheet's inputs and outputs are each megabytes of JSON at city scale: written with lz4 rather
# than PostgreSQL's default compression (``dialect.compress_with_lz4``; migration b7c41d9e2f53).
LARGE_JSON_COLUMNS = ("inputs_json", "outputs_json")


@event.listens_for(Settlement.__table__, "after_create")
def _compress_large_json(target: Any, connection: Any, **_kw: Any) -> None:
    dialect.compress_with_lz4(connection, target.name, LARGE_JSON_COLUMNS)


class SettlementLine(db.Model):
    """One figure of the cascade: a pool, county, institution, part, team, member or reserve.

    ``county_id``/``institution_id``/``team_id`` are the line's place in the tree (NULL above
    it), so ``fdoctor.core.scope`` filters lines like any scoped table: a county auditor sees
    the county's line and everything below it, never the pool line or a sibling county. They
    are copies of the ``unit_id`` of the line's own ancestors in the same sheet (the county's,
    the institution's and the team's lines, whose ``unit_id`` is a foreign key), so they carry no
    foreign key of their own: the build writes some 13,000 lines with one COPY, and each key
    was one more check a line (migration f2a7c1d95b3e).
    Exact values (``share``, ``exact_fen``, ``rounding_adjustment``) are fractions as text.
    """

    __tablename__ = "settlement_line"
    __table_args__ = (
        UniqueConstraint("settlement_id", "key"),
        Index("ix_settlement_line_settlement_position", "settlement_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Look-ups by sheet use the (settlement_id, position) index (migration a3e8d2c6b1f4).
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"))
    position: Mapped[int] = mapped_column(Integer)  # depth-first order of the tree
    key: Mapped[str] = mapped_column(String(64))  # e.g. "team:57", stable across recomputation
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_line.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    county_id: Mapped[int | None] = mapped_column(Integer, index=True)
    institution_id: Mapped[int | None] = mapped_column(Integer, index=True)
    team_id: Mapped[int | None] = mapped_column(Integer, index=True)
    signed_population: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    source_assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
    source_revision: Mapped[int | None] = mapped_column(Integer)
    source_period: Mapped[str | None] = mapped_column(String(10))
    weight: Mapped[str | None] = mapped_column(String(64))  # exact decimal, e.g. P × S
    share: Mapped[str | None] = mapped_column(String(200))  # exact fraction "2562/5051"
    share_display: Mapped[str | None] = mapped_column(String(20))  # 8 decimals, half-up
    exact_fen: Mapped[str | None] = mapped_column(String(200))  # exact fraction of fen
    entitled_fen: Mapped[int | None] = mapped_column(Fen)
    preallocated_fen: Mapped[int | None] = mapped_column(Fen)
    balance_fen: Mapped[int | None] = mapped_column(Fen)
    rounding_adjustment: Mapped[str | None] = mapped_column(String(200))  # fraction of a fen
    explanation: Mapped[str] = mapped_column(Text, default="{}")  # JSON: formula, sources, notes

    settlement: Mapped[Settlement] = relationship()
    parent: Mapped[SettlementLine | None] = relationship(remote_side=[id])
    unit = relationship("OrgUnit", foreign_keys=[unit_id])
    user = relationship("User", foreign_keys=[user_id])

    @property
    def level_label(self) -> str:
        return LINE_LEVELS.get(self.level, self.level)


# --------------------------------------------------------------------------- configuration


class PoolFund(db.Model):
    """The subsidy fund of a settlement pool (结算池资金) for a year, in fen."""

    __tablename__ = "pool_fund"
    __table_args__ = (
        UniqueConstraint("pool_id", "year"),
        CheckConstraint("fund_fen >= 0", name="fund_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    fund_fen: Mapped[int] = mapped_column(Fen)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    pool = relationship("OrgUnit", foreign_keys=[pool_id])


class SettlementParameters(db.Model):
    """Rates of a year; a year without a row uses the defaults of SPEC 7 (70%, 10%, k ≤ 1.2)."""

    __tablename__ = "settlement_parameters"
    __table_args__ = (
        CheckConstraint("reserve_rate >= 0 AND reserve_rate <= 1", name="reserve_rate_range"),
        CheckConstraint(
            "preallocation_rate >= 0 AND preallocation_rate <= 1", name="preallocation_rate_range"
        ),
        CheckConstraint("attainment_cap > 0", name="attainment_cap_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    reserve_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    preallocation_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    attainment_cap: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class InstitutionSplit(db.Model):
    """Centre part vs stations part of an institution's amount (e.g. 60/40).

    ``institution_id`` NULL is the city default (at most one, kept by the service); a row for an
    institution overrides it. The ratios are proportions: 60/40, 3/2 and 0.6/0.4 agree.
    """

    __tablename__ = "institution_split"
    __table_args__ = (
        CheckConstraint("centre_ratio >= 0 AND stations_ratio >= 0", name="ratios_not_negative"),
        CheckConstraint("centre_ratio + stations_ratio > 0", name="ratios_not_all_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), unique=True)
    centre_ratio: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    stations_ratio: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    institution = relationship("OrgUnit", foreign_keys=[institution_id])


class PostCoefficient(db.Model):
    """The post coefficient y (岗位系数) of a post (岗位, ``User.post``)."""

    __tablename__ = "post_coefficient"
    __table_args__ = (CheckConstraint("coefficient > 0", name="coefficient_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post: Mapped[str] = mapped_column(String(32), unique=True)
    coefficient: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class WorkloadStandard(db.Model):
    """Workload points a member should reach in a year (标准工作量点数); k = points / standard,
    capped. Points are counting records × the county's point table (``fdoctor.teamsplit``).

    ``post`` "" is the default for every post; a row with a post name overrides it.
    """

    __tablename__ = "workload_standard"
    __table_args__ = (
        UniqueConstraint("year", "post"),
        CheckConstraint("standard_points > 0", name="standard_points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    post: Mapped[str] = mapped_column(String(32), default="")
    standard_points: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class MemberRating(ScopedMixin, db.Model):
    """A member's individual coefficient for a year, entered by the team leader.

    c performance (个人绩效考评系数, 0.8–1.2). ``a`` (出勤系数) is no longer typed in: it comes
    from the member's monthly attendance records (``fdoctor.teamsplit``); the column stays,
    nullable, for the ratings entered before.
    """

    __tablename__ = "member_rating"
    __table_args__ = (
        UniqueConstraint("year", "user_id"),
        CheckConstraint("c >= 0.8 AND c <= 1.2", name="c_range"),
        CheckConstraint("a >= 0 AND a <= 1", name="a_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    c: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    a: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user = relationship("User", foreign_keys=[user_id])


class SettlementSimulation(db.Model):
    """A named what-if on a draft settlement (模拟测算): its overrides (funds, scores, splits, the
    reserve rate) as JSON, who saved it and when, and the draft version it was made on. The
    amounts are not stored: they are recomputed beside the draft (``fdoctor.settlement.simulation``).
    """

    __tablename__ = "settlement_simulation"
    __table_args__ = (UniqueConstraint("settlement_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    overrides_json: Mapped[str] = mapped_column(Text)
    base_version: Mapped[int] = mapped_column(Integer)
    base_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    created_by = relationship("User", foreign_keys=[created_by_id])
