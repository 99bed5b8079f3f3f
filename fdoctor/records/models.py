"""Service records (服务记录): basic medical, public health and referral services."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from fdoctor.core import clock
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
REFERRAL_TYPES = frozenset({"referral_up", "referral_down"})


class ServiceRecord(ScopedMixin, db.Model):
    __tablename__ = "service_record"
    __table_args__ = (
        Index("ix_service_record_team_date_type", "team_id", "service_date", "type"),
        Index("ix_service_record_county_date", "county_id", "service_date"),
        Index("ix_service_record_resident_type_date", "resident_id", "type", "service_date"),
        Index("ix_service_record_doctor_date", "doctor_id", "service_date"),
        # The tablet's refresh (GET /api/v1/services?since=) and the referral inbox.
        Index("ix_service_record_team_updated", "team_id", "updated_at"),
        Index("ix_service_record_other_institution", "other_institution_id", "type"),
        # The counting records (SPEC 4) by resident: the metrics probe it per resident or
        # contract (A3 served, B3 follow-ups, B4/B6 windows and checkups, C4 latest readings).
        # On PostgreSQL the readings ride along, so the probes read the index alone.
        Index(
            "ix_service_record_counting",
            "resident_id",
            "type",
            "service_date",
            sqlite_where=text("verification IN ('unverified', 'confirmed')"),
            postgresql_where=text("verification IN ('unverified', 'confirmed')"),
            postgresql_include=["id", "systolic_bp", "diastolic_bp", "fasting_glucose"],
        ),
        CheckConstraint(
            "systolic_bp IS NULL OR (systolic_bp BETWEEN 50 AND 300)", name="sbp_range"
        ),
        CheckConstraint(
            "diastolic_bp IS NULL OR (diastolic_bp BETWEEN 30 AND 200)", name="dbp_range"
        ),
        CheckConstraint(
            "fasting_glucose IS NULL OR (fasting_glucose BETWEEN 1 AND 40)", name="glucose_range"
        ),
        CheckConstraint("attendance IS NULL OR attendance >= 0", name="attendance_range"),
        CheckConstraint(
            "form_seconds IS NULL OR (form_seconds BETWEEN 0 AND 86400)", name="form_seconds_range"
        ),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        CheckConstraint(
            "longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"
        ),
    )

    # ScopedMixin's scope columns without its single-column indexes on county_id and team_id:
    # ix_service_record_county_date and ix_service_record_team_date_type / _team_updated lead
    # with them and serve the same look-ups (and the foreign keys' checks), so storing a record
    # maintains two indexes fewer. The columns stay last, where the mixin puts them.
    @declared_attr
    def county_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr signature
        return mapped_column(ForeignKey("org_unit.id"), nullable=False, sort_order=1)

    @declared_attr
    def institution_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(ForeignKey("org_unit.id"), nullable=False, index=True, sort_order=1)

    @declared_attr
    def team_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("org_unit.id"), nullable=True, sort_order=1)

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
    # Same resident, type and day as another record: stored anyway, shown as a warning.
    possible_duplicate: Mapped[bool] = mapped_column(default=False, server_default=false())
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the server got it
    # Evidence at capture (issue 16), all optional, sent by the tablet with the record.
    # The tablet's clock minus the server's when the batch arrived (seconds): a clock set back to
    # back-date entries shows here, an upload days after an offline entry does not.
    clock_skew_seconds: Mapped[int | None] = mapped_column(Integer)
    # When the form was opened (tablet clock) and how long it stayed open until saved.
    form_opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    form_seconds: Mapped[int | None] = mapped_column(Integer)
    # Where the tablet was when the record was saved, if the device allowed and the user agreed.
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    location_accuracy_m: Mapped[int | None] = mapped_column(Integer)
    # The resident's confirmation: a signature drawn on the tablet, as SVG path data
    # ("M x y L x y …", integer coordinates in a 400×160 box; see evidence.SIGNATURE_PATH).
    resident_signature: Mapped[str | None] = mapped_column(Text)
    # Any change (edit, receipt, review) moves updated_at: devices refresh from it.
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime, default=clock.now, onupdate=clock.now
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    resident = relationship("Resident")
    doctor = relationship("User", foreign_keys=[doctor_id])
    entered_by = relationship("User", foreign_keys=[entered_by_id])
    updated_by = relationship("User", foreign_keys=[updated_by_id])
    referral_received_by = relationship("User", foreign_keys=[referral_received_by_id])
    team = relationship("OrgUnit", foreign_keys="ServiceRecord.team_id")
    other_institution = relationship("OrgUnit", foreign_keys=[other_institution_id])

    @property
    def type_label(self) -> str:
        return SERVICE_TYPES.get(self.type, ("", self.type))[1]

    @property
    def verification_label(self) -> str:
        return VERIFICATION_STATES.get(self.verification, self.verification)

    @property
    def is_referral(self) -> bool:
        return self.type in REFERRAL_TYPES


VERSION_KINDS = {"previous": "历史版本", "conflict": "冲突修改"}
VERSION_STATUSES = {
    "superseded": "已被替换",
    "open": "待审核",
    "accepted": "已采用",
    "rejected": "未采用（保留）",
}


class ServiceRecordVersion(ScopedMixin, db.Model):
    """A state of a record's editable fields that is not (or not yet) the current one.

    * ``kind="previous"``: the fields as they were at ``version`` before an edit or a reviewer's
      choice replaced them; the author is whoever replaced them.
    * ``kind="conflict"``: an edit made on a device from ``version`` (its base) after someone else
      had already changed the record. It waits (``status="open"``) until a reviewer accepts it
      (the current state becomes a ``previous`` row) or rejects it (it stays here). Nothing is
      overwritten without leaving a row behind.

    ``edit_uuid`` is the device's id for the edit, so a replayed edit is recognised.
    """

    __tablename__ = "service_record_version"
    __table_args__ = (Index("ix_service_record_version_kind_status", "kind", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    edit_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    authored_at: Mapped[datetime] = mapped_column(DateTime)  # on the device, for edits
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)

    record: Mapped[ServiceRecord] = relationship()
    author = relationship("User", foreign_keys=[author_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])

    @property
    def kind_label(self) -> str:
        return VERSION_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return VERSION_STATUSES.get(self.status, self.status)
