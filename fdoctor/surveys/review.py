"""The review queue (复核): settling a record a resident disputed on a call, and why it is disputed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from fdoctor.core import clock
from fdoctor.core.signals import record_found_false
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.errors import MAX_TEXT, SurveyError
from fdoctor.surveys.models import REVIEW_DECISIONS, RecordReview, SurveyRecordCheck, SurveyResponse


def review_record(record: ServiceRecord, decision: str, reason: str, user: Any) -> RecordReview:
    """Settle a disputed record: ``confirmed`` or ``false`` (a reason is required for false)."""
    if decision not in REVIEW_DECISIONS:
        raise SurveyError("请选择“核实属实”或“认定虚假”")
    reason = (reason or "").strip()
    if decision == "false" and not reason:
        raise SurveyError("认定虚假须填写理由")
    if len(reason) > MAX_TEXT:
        raise SurveyError(f"理由不能超过 {MAX_TEXT} 字")
    if record.verification != "disputed":
        raise SurveyError("该记录不在待复核状态", status=409)
    record.verification = decision
    review = RecordReview(
        service_record_id=record.id,
        decision=decision,
        reason=reason or None,
        reviewed_by_id=user.id,
        reviewed_at=clock.now(),
        county_id=record.county_id,
        institution_id=record.institution_id,
        team_id=record.team_id,
    )
    db.session.add(review)
    db.session.flush()
    if decision == "false":
        record_found_false.send(record, user=user)
    return review


@dataclass(frozen=True)
class DisputeEvidence:
    """Why a record is disputed: the latest call answer about it."""

    answer: str
    surveyed_on: date


def dispute_evidence(record_ids: Iterable[int]) -> dict[int, DisputeEvidence]:
    """The latest call answer per record (one query for a page of the review queue)."""
    ids = list(record_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(
            SurveyRecordCheck.service_record_id,
            SurveyRecordCheck.answer,
            SurveyResponse.surveyed_on,
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyRecordCheck.response_id)
        .where(SurveyRecordCheck.service_record_id.in_(ids))
        .order_by(SurveyResponse.surveyed_on, SurveyRecordCheck.id)
    ).all()
    return {rid: DisputeEvidence(answer, day) for rid, answer, day in rows}
