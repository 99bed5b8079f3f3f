"""Contracts (签约协议): packages, members, terms."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import BigId, ScopedMixin, TimestampMixin
from fdoctor.extensions import db

CONTRACT_STATUSES = {
    "active": "有效",
    "expired": "已到期",
    "terminated": "已解约",
    "renewed": "已续约",
}
PACKAGE_KINDS = {"basic": "基础包", "personalised": "个性化包"}
# Term limits (seed 5): key populations and chronic high-risk 1–3 years, others 3–5 years.
KEY_TERM_YEARS = (1, 3)
GENERAL_TERM_YEARS = (3, 5)


class ServicePackage(TimestampMixin, db.Model):
    __tablename__ = "service_package"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)  # per person per year
    description: Mapped[str] = mapped_column(Text, default="")
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (CheckConstraint("fee_fen >= 0", name="fee_not_negative"),)


class Contract(ScopedMixin, TimestampMixin, db.Model):
    __tablename__ = "contract"
    __table_args__ = (
        Index("ix_contract_team_status_end", "team_id", "status", "end_date"),
        Index("ix_contract_county_status", "county_id", "status"),
        CheckConstraint("end_date > start_date", name="term_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # 协议编号
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    first_contact: Mapped[bool] = mapped_column(default=False)  # 基层首诊
    copies_signed: Mapped[int] = mapped_column(Integer, default=0)  # 0, 1 or 2 paper copies
    copies_signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    terminated_on: Mapped[date | None] = mapped_column(Date)
    termination_reason: Mapped[str | None] = mapped_column(Text)
    renewed_from_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    household = relationship("Household")
    doctor = relationship("User", foreign_keys=[doctor_id])
    members: Mapped[list[ContractMember]] = relationship(back_populates="contract")
    packages: Mapped[list[ContractPackage]] = relationship(back_populates="contract")

    @property
    def status_label(self) -> str:
        return CONTRACT_STATUSES.get(self.status, self.status)


class ContractMember(ScopedMixin, db.Model):
    """A resident covered by a contract (scoped like the contract, for per-team counts).

    ``is_active`` mirrors the contract's status so that a partial unique index lets the database
    itself refuse a second active contract for the same resident.
    """

    __tablename__ = "contract_member"
    __table_args__ = (
        UniqueConstraint("contract_id", "resident_id"),
        Index(
            "uq_contract_member_one_active",
            "resident_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        # Which contracts cover a resident, whatever their status: the metrics' signed test per
        # resident (B4, B6 care-schedule windows) probes it instead of hashing every member.
        Index("ix_contract_member_resident_id", "resident_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    is_active: Mapped[bool] = mapped_column(default=True)

    contract: Mapped[Contract] = relationship(back_populates="members")
    resident = relationship("Resident")


class ContractPackage(db.Model):
    __tablename__ = "contract_package"
    __table_args__ = (UniqueConstraint("contract_id", "package_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("service_package.id"))
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)  # fee agreed, per year, all members

    contract: Mapped[Contract] = relationship(back_populates="packages")
    package: Mapped[ServicePackage] = relationship()
