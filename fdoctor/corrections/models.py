"""Corrections after lock (锁定后更正): a locked settlement found to rest on a wrong fact.

A ``SettlementCorrection`` names the locked sheet, its cause (a service record found false, or a
new revision of a score the sheet used), the fact changed (``change_json``), the reason in
Chinese, who and when, and the later settlement it is carried into. Its
``SettlementCorrectionLine`` rows are the difference at every level (pool → county → institution
→ part → team → member and reserve) in fen; the children's differences add up exactly to their
parent's, and a pool's is 0. The locked sheet itself never changes (``fdoctor.settlement``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import BigId
from fdoctor.extensions import db
from fdoctor.settlement.models import Fen

CAUSE_KINDS = {"record": "服务记录认定虚假", "assessment": "考核得分修订"}


class SettlementCorrection(db.Model):
    """One correction of a locked settlement, carried into the first later settlement built."""

    __tablename__ = "settlement_correction"
    __table_args__ = (
        # Idempotent: one correction per sheet and cause, however often the cause is noticed.
        UniqueConstraint("settlement_id", "cause_kind", "cause_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)  # the locked sheet's year
    pool_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    cause_kind: Mapped[str] = mapped_column(String(16))  # record | assessment
    cause_id: Mapped[int] = mapped_column(Integer)  # service_record.id or assessment.id
    change_json: Mapped[str] = mapped_column(Text)  # the fact changed, as the core takes it
    reason: Mapped[str] = mapped_column(Text)  # Chinese, shown on both sheets
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    carried_into_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), index=True)
    moved_fen: Mapped[int] = mapped_column(Fen, default=0)  # Σ of the positive member/reserve lines

    settlement = relationship("Settlement", foreign_keys=[settlement_id])
    carried_into = relationship("Settlement", foreign_keys=[carried_into_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    lines: Mapped[list[SettlementCorrectionLine]] = relationship(
        back_populates="correction", order_by="SettlementCorrectionLine.position"
    )

    @property
    def cause_label(self) -> str:
        return CAUSE_KINDS.get(self.cause_kind, self.cause_kind)


class SettlementCorrectionLine(db.Model):
    """One line's difference: the locked amount (as corrected by earlier corrections), the
    corrected amount, and after − before. Scoped like ``SettlementLine`` by its place."""

    __tablename__ = "settlement_correction_line"
    __table_args__ = (UniqueConstraint("correction_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    correction_id: Mapped[int] = mapped_column(ForeignKey("settlement_correction.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    parent_key: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    before_fen: Mapped[int] = mapped_column(Fen)
    after_fen: Mapped[int] = mapped_column(Fen)
    difference_fen: Mapped[int] = mapped_column(Fen)

    correction: Mapped[SettlementCorrection] = relationship(back_populates="lines")
