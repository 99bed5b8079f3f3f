"""Suspicion flags (疑点标记) on service records and contracts.

A flag is raised by ``fdoctor.flags.services.detect_flags`` and is never deleted: the centre (or
county) dismisses or confirms it with a reason, and both the decision and the flag stay on record.
``(kind, subject_key)`` is unique, so detection run twice over the same period adds nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import BigId, ScopedMixin
from fdoctor.extensions import db

FLAG_KINDS = {
    "backdated": "集中补录（服务后逾7天批量录入）",
    "duplicate": "同一居民同日同类重复",
    "velocity": "录入过快",
    "outside_grid": "服务非责任网格居民",
    "signed_not_served": "签而不约（一年无服务）",
    # The field detectors (assessments/detectors.py, docs/flags.md).
    "volume": "单日服务量异常",
    "near_duplicate": "同一居民同类服务数日内重复",
    "copied_reading": "读数与上次相同",
    "implausible_reading": "读数不合常理",
    "threshold_cluster": "读数聚集在控制线下",
    "digit_preference": "血压尾数偏好",
    "shared_phone": "多户共用电话",
    "unaware_resident": "居民不知道家庭医生",
    "unreachable": "居民多次无法联系",
    "no_first_service": "签约满 90 天未服务（需电话联系）",
    "clock_skew": "平板时钟与服务器不符",
}
FLAG_STATUSES = {"open": "待处理", "dismissed": "已排除", "confirmed": "已确认"}
FLAG_DECISIONS = {"dismissed": "排除疑点", "confirmed": "确认疑点"}


class SuspicionFlag(ScopedMixin, db.Model):
    """One suspicion about one service record or one contract."""

    __tablename__ = "suspicion_flag"
    __table_args__ = (
        UniqueConstraint("kind", "subject_key"),
        Index("ix_suspicion_flag_team_status", "team_id", "status"),
        CheckConstraint(
            "service_record_id IS NOT NULL OR contract_id IS NOT NULL", name="has_subject"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    # "record:<id>" or "contract:<id>:<year>": what makes a flag the same flag on a re-run.
    subject_key: Mapped[str] = mapped_column(String(64))
    service_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_record.id"), index=True
    )
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)
    # The doctor (or the user who entered the records) the suspicion is about.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    subject_date: Mapped[date] = mapped_column(Date, index=True)
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    detected_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution_reason: Mapped[str | None] = mapped_column(Text)

    user = relationship("User", foreign_keys=[user_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])
    team = relationship("OrgUnit", foreign_keys="SuspicionFlag.team_id")

    @property
    def kind_label(self) -> str:
        return FLAG_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return FLAG_STATUSES.get(self.status, self.status)
