"""Service records (服务记录): basic medical, public health and referral services."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import BigId, ScopedMixin
from fdoctor.extensions import db

SERVICE_CATEGORIES = {
    "basic_medical": "基本医疗",
    "public_health": "基本公共卫生",
    "referral": "双向转诊",
}
# type -> (category, label)
SERVICE_TYPES: dict[str, tuple[str, str]] = {
    "consultation": ("basic_medical", "门诊/咨询"),
    "home_visit": ("basic_medical", "上门服务"),
    "prescription_review": ("basic_medical", "长处方/用药指导"),
    "hypertension_followup": ("public_health", "高血压随访"),
    "diabetes_followup": ("public_health", "糖尿病随访"),
    "elderly_checkup": ("public_health", "老年人健康体检"),
    "child_checkup": ("public_health", "儿童健康检查"),
    "maternal_visit": ("public_health", "孕产妇访视"),
    "vaccination": ("public_health", "预防接种"),
    "health_education": ("public_health", "健康教育"),
    "mental_followup": ("public_health", "严重精神障碍随访"),
    "tb_followup": ("public_health", "肺结核患者随访"),
    "referral_up": ("referral", "上转"),
    "referral_down": ("referral", "下转"),
}
VERIFICATION_STATES = {
    "unverified": "未核实",
    "confirmed": "已核实",
    "disputed": "存疑",
    "false": "虚假",
}


class ServiceRecord(ScopedMixin, db.Model):
    __tablename__ = "service_record"
    __table_args__ = (
        Index("ix_service_record_team_date_type", "team_id", "service_date", "type"),
        Index("ix_service_record_county_date", "county_id", "service_date"),
        Index("ix_service_record_resident_type_date", "resident_id", "type", "service_date"),
        Index("ix_service_record_doctor_date", "doctor_id", "service_date"),
        CheckConstraint("systolic_bp IS NULL OR (systolic_bp BETWEEN 50 AND 300)", name="sbp_range"),
        CheckConstraint("diastolic_bp IS NULL OR (diastolic_bp BETWEEN 30 AND 200)", name="dbp_range"),
        CheckConstraint(
            "fasting_glucose IS NULL OR (fasting_glucose BETWEEN 1 AND 40)", name="glucose_range"
        ),
        CheckConstraint("attendance IS NULL OR attendance >= 0", name="attendance_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)  # offline replay key
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    service_date: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32), index=True)
    # Type-specific fields.
    systolic_bp: Mapped[int | None] = mapped_column(Integer)
    diastolic_bp: Mapped[int | None] = mapped_column(Integer)
    fasting_glucose: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))  # mmol/L
    attendance: Mapped[int | None] = mapped_column(Integer)  # health-education events
    topic: Mapped[str | None] = mapped_column(String(200))
    other_institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    other_institution_name: Mapped[str | None] = mapped_column(String(100))
    referral_received_at: Mapped[datetime | None] = mapped_column(DateTime)
    referral_received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    # Timeliness (indicator A5) and provenance.
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    verification: Mapped[str] = mapped_column(String(16), default="unverified", index=True)

    resident = relationship("Resident")
    doctor = relationship("User", foreign_keys=[doctor_id])

    @property
    def type_label(self) -> str:
        return SERVICE_TYPES.get(self.type, ("", self.type))[1]

    @property
    def verification_label(self) -> str:
        return VERIFICATION_STATES.get(self.verification, self.verification)
