"""Satisfaction surveys and verification calls (满意度/知晓率调查, 抽查复核), and complaints."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import BigId, ScopedMixin
from fdoctor.extensions import db

# The four-grade scale of 科室评优方案篇五.
SATISFACTION_GRADES = {100: "满意", 80: "较满意", 60: "一般", 20: "不满意"}
SURVEY_CHANNELS = {"phone": "电话", "visit": "入户", "self": "自助"}
RECORD_CHECK_ANSWERS = {"received": "已接受", "not_received": "未接受", "unsure": "不确定"}
COMPLAINT_STATUSES = {"open": "待核实", "verified": "属实", "rejected": "不属实"}


class VerificationSample(db.Model):
    """A seeded random draw of residents to call, recorded so the draw can be audited."""

    __tablename__ = "verification_sample"
    __table_args__ = (UniqueConstraint("org_unit_id", "level", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    level: Mapped[str] = mapped_column(String(4))  # L2 (centre) or L3 (county)
    period: Mapped[str] = mapped_column(String(10))
    seed: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[str] = mapped_column(String(10), default="0.05")
    minimum: Mapped[int] = mapped_column(Integer, default=20)
    drawn_at: Mapped[datetime] = mapped_column(DateTime)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    items: Mapped[list[VerificationSampleItem]] = relationship(back_populates="sample")
    teams: Mapped[list[VerificationSampleTeam]] = relationship(
        order_by="VerificationSampleTeam.team_id"
    )
    org_unit = relationship("OrgUnit", foreign_keys=[org_unit_id])
    drawn_by = relationship("User")


class VerificationSampleItem(db.Model):
    __tablename__ = "verification_sample_item"
    __table_args__ = (UniqueConstraint("sample_id", "resident_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("verification_sample.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    draw_order: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|unreachable

    sample: Mapped[VerificationSample] = relationship(back_populates="items")
    resident = relationship("Resident")


class SurveyResponse(ScopedMixin, db.Model):
    __tablename__ = "survey_response"
    __table_args__ = (
        Index("ix_survey_response_team_period", "team_id", "period"),
        CheckConstraint("satisfaction IS NULL OR satisfaction IN (100, 80, 60, 20)", name="grade"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    period: Mapped[str] = mapped_column(String(10))  # e.g. 2026-Q1
    surveyed_on: Mapped[date] = mapped_column(Date, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    surveyor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sample_item_id: Mapped[int | None] = mapped_column(ForeignKey("verification_sample_item.id"))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    knows_doctor: Mapped[bool | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    resident = relationship("Resident")
    surveyor = relationship("User")
    checks: Mapped[list[SurveyRecordCheck]] = relationship(back_populates="response")


class SurveyRecordCheck(db.Model):
    """The resident's answer about one sampled service record: received / not received / unsure."""

    __tablename__ = "survey_record_check"
    __table_args__ = (UniqueConstraint("response_id", "service_record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id"), index=True)
    service_record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), index=True)
    answer: Mapped[str] = mapped_column(String(16))

    response: Mapped[SurveyResponse] = relationship(back_populates="checks")
    service_record = relationship("ServiceRecord")


class Complaint(ScopedMixin, db.Model):
    """A complaint (投诉) against a team or doctor; verified ones deduct C1 points."""

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    received_on: Mapped[date] = mapped_column(Date, index=True)
    channel: Mapped[str] = mapped_column(String(32))
    complainant: Mapped[str | None] = mapped_column(String(50))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    doctor = relationship("User", foreign_keys=[doctor_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])
    team = relationship("OrgUnit", foreign_keys="Complaint.team_id")

    @property
    def status_label(self) -> str:
        return COMPLAINT_STATUSES.get(self.status, self.status)


SAMPLE_ITEM_STATUSES = {"pending": "待回访", "done": "已回访", "unreachable": "无法联系"}
SAMPLE_LEVELS = {"L2": "中心季度抽查", "L3": "县区半年抽查"}
REVIEW_DECISIONS = {"confirmed": "核实属实", "false": "认定虚假"}


class VerificationSampleTeam(db.Model):
    """One team's part of a verification draw: the inputs an auditor needs to replay it.

    ``population`` signed residents were candidates; ``open_flags`` open suspicion flags gave the
    ``risk_weight`` (text, a Decimal) that raised the standard size to ``size``.
    """

    __tablename__ = "verification_sample_team"
    __table_args__ = (UniqueConstraint("sample_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("verification_sample.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    population: Mapped[int] = mapped_column(Integer)
    open_flags: Mapped[int] = mapped_column(Integer, default=0)
    risk_weight: Mapped[str] = mapped_column(String(12), default="1")
    size: Mapped[int] = mapped_column(Integer)
    # Residents added because doctors of the team were disputed in the previous period.
    widened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    team = relationship("OrgUnit")


class VerificationSampleDoctor(db.Model):
    """One doctor's risk when a verification sample was drawn (``assessments.risk``): the
    inputs and the weight that raised their residents' chance of a call, stored for replay."""

    __tablename__ = "verification_sample_doctor"
    __table_args__ = (
        UniqueConstraint(
            "sample_id", "doctor_id", "team_id", name="uq_verification_sample_doctor_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("verification_sample.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    open_flags: Mapped[int] = mapped_column(Integer, default=0)
    checked: Mapped[int] = mapped_column(Integer, default=0)
    found_false: Mapped[int] = mapped_column(Integer, default=0)
    disputed_before: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[str] = mapped_column(String(12), default="1")

    doctor = relationship("User")


class RecordReview(ScopedMixin, db.Model):
    """The centre's or county's decision on a disputed service record (复核): confirmed or false."""

    __tablename__ = "record_review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime)

    reviewed_by = relationship("User")
