"""Tallies: per doctor, team, month and service type, the counting and the false service records;
per unit and month end, the signed residents.

Both are derived figures: ``fdoctor.tallies.services`` keeps ``service_tally`` in step with
``service_record`` in the transaction that writes a record, and ``rebuild_month`` recomputes a
month of either from a scan. They are not audited (the records they count are).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fdoctor.core.types import BigId
from fdoctor.extensions import db

# A record without a team is tallied under team_key 0 (a NULL would defeat the unique key).
NO_TEAM = 0


class ServiceTally(db.Model):
    """Service records of one doctor, team, institution, county, month and type.

    ``counting``: records whose verification counts (unverified or confirmed; SPEC 4, 6);
    ``false_count``: records verified false. Disputed records are in neither until resolved.
    """

    __tablename__ = "service_tally"
    __table_args__ = (
        UniqueConstraint(
            "period",
            "doctor_id",
            "team_key",
            "type",
            "institution_id",
            "county_id",
            name="uq_service_tally_key",
        ),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM of the service date
    doctor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    team_key: Mapped[int] = mapped_column(Integer)  # the team's id, or NO_TEAM
    type: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    counting: Mapped[int] = mapped_column(Integer, default=0)
    false_count: Mapped[int] = mapped_column(Integer, default=0)


class SignedPopulation(db.Model):
    """Residents signed on the last day of ``period`` by contracts of one unit (team, institution
    or county), counted once each (``metrics`` A1's definition)."""

    __tablename__ = "signed_population"
    __table_args__ = (UniqueConstraint("period", "unit_id", name="uq_signed_population_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))  # team | institution | county
    signed: Mapped[int] = mapped_column(Integer)
