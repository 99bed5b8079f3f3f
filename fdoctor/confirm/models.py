"""A resident's own answers through a confirmation link, and the link's rate limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fdoctor.core.types import BigId
from fdoctor.extensions import db


class ResidentAnswer(db.Model):
    """One resident's answer for one quarter through a confirmation link (one per quarter: the
    unique key is the protection against ballot stuffing); the answers themselves are a
    ``survey_response`` (channel ``self``) with a ``survey_record_check`` per visit."""

    __tablename__ = "resident_answer"
    __table_args__ = (UniqueConstraint("resident_id", "period", name="uq_resident_answer_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    period: Mapped[str] = mapped_column(String(10))  # the quarter answered in, e.g. 2026-Q4
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id"))
    answered_at: Mapped[datetime] = mapped_column(DateTime)


class ResidentLinkHit(db.Model):
    """One answer submitted from an address (a digest of it): the page's rate limit."""

    __tablename__ = "resident_link_hit"
    __table_args__ = (Index("ix_resident_link_hit_source_at", "source", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
