"""The team's second distribution under checks and balances (二次分配的制衡与公示), and who
represents the team's distribution group (二次分配工作小组).

One ``TeamDistribution`` per team and locked settlement sheet moves
``proposed → published → approved``: the team leader proposes the member lines the sheet
computed for the team (with a note), the group's representative — a second member of the team —
confirms it, which publishes it to the team for ``publicity_days`` working days (公示); members
may object (``DistributionObjection``) until ``publicity_ends_on``, the leader answers, and the
institution approves once the period is over with no open objection. The database refuses moves
out of order (``triggers.py``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import ScopedMixin
from fdoctor.extensions import db
from fdoctor.settlement.models import Fen

# The seeds name no number of days for 公示; three working days is the usual minimum.
DEFAULT_PUBLICITY_DAYS = 3
DISTRIBUTION_STATUSES = {
    "proposed": "团队长已提交，待代表确认",
    "published": "公示中",
    "approved": "机构已批准",
}


class DistributionSettings(ScopedMixin, db.Model):
    """Per team: the representative of the distribution group and the length of the 公示."""

    __tablename__ = "distribution_settings"
    __table_args__ = (
        UniqueConstraint("team_id"),
        CheckConstraint(
            "publicity_days >= 1 AND publicity_days <= 30", name="publicity_days_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    representative_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    publicity_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_PUBLICITY_DAYS)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    representative = relationship("User", foreign_keys=[representative_id])
    team = relationship("OrgUnit", foreign_keys="DistributionSettings.team_id")


class TeamDistribution(ScopedMixin, db.Model):
    """A team's distribution of its amount in a locked sheet, on its way to the institution."""

    __tablename__ = "team_distribution"
    __table_args__ = (
        UniqueConstraint("settlement_id", "team_id"),
        CheckConstraint("status IN ('proposed', 'published', 'approved')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    # The sheet's team line amount and what its members are paid, as proposed (the lines are locked).
    team_fen: Mapped[int] = mapped_column(Fen)
    members_fen: Mapped[int] = mapped_column(Fen)
    proposal_note: Mapped[str] = mapped_column(Text, default="")
    proposed_at: Mapped[datetime] = mapped_column(DateTime)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    confirm_note: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    publicity_days: Mapped[int | None] = mapped_column(Integer)
    publicity_ends_on: Mapped[date | None] = mapped_column(Date)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    settlement = relationship("Settlement")
    team = relationship("OrgUnit", foreign_keys="TeamDistribution.team_id")
    proposed_by = relationship("User", foreign_keys=[proposed_by_id])
    confirmed_by = relationship("User", foreign_keys=[confirmed_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    objections: Mapped[list[DistributionObjection]] = relationship(
        back_populates="distribution", order_by="DistributionObjection.id"
    )

    @property
    def status_label(self) -> str:
        return DISTRIBUTION_STATUSES.get(self.status, self.status)

    @property
    def open_objections(self) -> list[DistributionObjection]:
        return [o for o in self.objections if o.answered_at is None]


class DistributionObjection(ScopedMixin, db.Model):
    """A member's objection (异议) during the 公示, with the leader's answer."""

    __tablename__ = "distribution_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    distribution_id: Mapped[int] = mapped_column(ForeignKey("team_distribution.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    distribution: Mapped[TeamDistribution] = relationship(back_populates="objections")
    user = relationship("User", foreign_keys=[user_id])
    answered_by = relationship("User", foreign_keys=[answered_by_id])
