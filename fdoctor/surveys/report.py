"""The verification report: per team, how many sampled residents were called and how many of the
records they were asked about are now found false."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import distinct, func, select

from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import SurveyRecordCheck, SurveyResponse, VerificationSampleItem


@dataclass(frozen=True)
class TeamVerification:
    """A team's verification figures for one sample period and level."""

    team_id: int
    team_name: str
    sampled: int
    called: int
    unreachable: int
    checked: int
    not_received: int
    false_records: int

    @property
    def coverage(self) -> float | None:
        return self.called / self.sampled if self.sampled else None

    @property
    def false_rate(self) -> float | None:
        return self.false_records / self.checked if self.checked else None


def verification_report(sample_ids: Iterable[int]) -> list[TeamVerification]:
    """Per team over the given samples: coverage = called / sampled residents; false-record rate =
    records checked by these calls that are now ``false`` / records checked. Three grouped queries.
    """
    ids = list(sample_ids)
    if not ids:
        return []
    Item = VerificationSampleItem
    items = db.session.execute(
        select(
            Item.team_id,
            func.count(Item.id),
            func.count(Item.id).filter(Item.status == "done"),
            func.count(Item.id).filter(Item.status == "unreachable"),
        )
        .where(Item.sample_id.in_(ids))
        .group_by(Item.team_id)
    ).all()
    checks = db.session.execute(
        select(
            Item.team_id,
            func.count(distinct(SurveyRecordCheck.service_record_id)),
            func.count(distinct(SurveyRecordCheck.service_record_id)).filter(
                SurveyRecordCheck.answer == "not_received"
            ),
            func.count(distinct(SurveyRecordCheck.service_record_id)).filter(
                ServiceRecord.verification == "false"
            ),
        )
        .join(SurveyResponse, SurveyResponse.sample_item_id == Item.id)
        .join(SurveyRecordCheck, SurveyRecordCheck.response_id == SurveyResponse.id)
        .join(ServiceRecord, ServiceRecord.id == SurveyRecordCheck.service_record_id)
        .where(Item.sample_id.in_(ids))
        .group_by(Item.team_id)
    ).all()
    by_team = {row[0]: row[1:] for row in checks}
    names = dict(
        db.session.execute(
            select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_([row[0] for row in items]))
        ).all()
    )
    report = []
    for team_id, sampled, called, unreachable in items:
        checked, not_received, false_records = by_team.get(team_id, (0, 0, 0))
        report.append(
            TeamVerification(
                team_id=team_id,
                team_name=names.get(team_id, str(team_id)),
                sampled=sampled,
                called=called,
                unreachable=unreachable,
                checked=checked,
                not_received=not_received,
                false_records=false_records,
            )
        )
    report.sort(key=lambda row: (row.team_name, row.team_id))
    return report
