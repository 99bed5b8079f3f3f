"""The sources of the team split (二次分配) beyond the factors typed in: monthly attendance in
days, the county's workload point table, the team's internal deductions, the team fund's
awards, and each institution's rule for its team leaders.

The rules themselves are the pure core's (``assessments.attendance``, ``assessments.workload``,
``assessments.distribution``); these tables hold what the rules read. Every table here decides
money and is audited (``fdoctor.audit.tables.AUDITED_TABLES``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import ScopedMixin
from fdoctor.extensions import db
from fdoctor.settlement.models import Fen

# Leave kinds as columns of the attendance record (``assessments.attendance.LEAVE_KINDS``).
LEAVE_COLUMNS = {
    "sick": "sick_days",
    "personal": "personal_days",
    "maternity": "maternity_days",
    "annual": "annual_days",
    "marriage": "marriage_days",
}
AWARD_KINDS = {"special_contribution": "特殊贡献奖", "skill": "技能优胜奖"}


class AttendanceRecord(ScopedMixin, db.Model):
    """A member's attendance for one month (``month`` "YYYY-MM"), entered by the centre.

    ``days_due`` working days of the month, ``days_worked`` days worked, and the days on each
    kind of leave (none of which earns a bonus). ``days_worked + Σ leave ≤ days_due``.
    """

    __tablename__ = "attendance_record"
    __table_args__ = (
        UniqueConstraint("user_id", "month"),
        CheckConstraint(
            "days_due >= 0 AND days_worked >= 0 AND sick_days >= 0 AND personal_days >= 0 "
            "AND maternity_days >= 0 AND annual_days >= 0 AND marriage_days >= 0",
            name="days_not_negative",
        ),
        CheckConstraint(
            "days_worked + sick_days + personal_days + maternity_days + annual_days "
            "+ marriage_days <= days_due",
            name="days_within_due",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    days_due: Mapped[int] = mapped_column(Integer)
    days_worked: Mapped[int] = mapped_column(Integer)
    sick_days: Mapped[int] = mapped_column(Integer, default=0)
    personal_days: Mapped[int] = mapped_column(Integer, default=0)
    maternity_days: Mapped[int] = mapped_column(Integer, default=0)
    annual_days: Mapped[int] = mapped_column(Integer, default=0)
    marriage_days: Mapped[int] = mapped_column(Integer, default=0)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user = relationship("User", foreign_keys=[user_id])

    def leave_days(self) -> dict[str, int]:
        return {kind: getattr(self, column) or 0 for kind, column in LEAVE_COLUMNS.items()}


class PointValue(db.Model):
    """A county's points for one service type, overriding the city's default point table."""

    __tablename__ = "point_value"
    __table_args__ = (
        UniqueConstraint("county_id", "service_type"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    service_type: Mapped[str] = mapped_column(String(32))
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class MemberDeduction(ScopedMixin, db.Model):
    """Points deducted from a member by the team's internal check (团队内部考核扣分).

    Each point costs 1% of the member's amount of the year of ``decided_on``; the money goes to
    the team fund. ``decided_by`` names who decided (e.g. the distribution group).
    """

    __tablename__ = "member_deduction"
    __table_args__ = (CheckConstraint("points > 0 AND points <= 100", name="points_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    decided_on: Mapped[date] = mapped_column(Date, index=True)
    points: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(60))
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user = relationship("User", foreign_keys=[user_id])


class FundAward(ScopedMixin, db.Model):
    """An award paid from the team fund (部门基金): 特殊贡献奖 or 技能优胜奖, with its reason."""

    __tablename__ = "fund_award"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("kind IN ('special_contribution', 'skill')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    awarded_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(24))
    amount_fen: Mapped[int] = mapped_column(Fen)
    reason: Mapped[str] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user = relationship("User", foreign_keys=[user_id])

    @property
    def kind_label(self) -> str:
        return AWARD_KINDS.get(self.kind, self.kind)


class LeaderRule(db.Model):
    """An institution's rule for its team leaders (部门负责人).

    ``leaders_in_split`` True: leaders are ordinary members of their team's split. False: they
    take no part in it and are paid from ``management_rate`` of the institution's amount, by
    their team's result. An institution without a row follows the seed (False) and needs a rate
    once it has a leader.
    """

    __tablename__ = "leader_rule"
    __table_args__ = (
        CheckConstraint(
            "management_rate IS NULL OR (management_rate >= 0 AND management_rate <= 1)",
            name="management_rate_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), unique=True)
    leaders_in_split: Mapped[bool] = mapped_column(Boolean, default=False)
    management_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    institution = relationship("OrgUnit", foreign_keys=[institution_id])
