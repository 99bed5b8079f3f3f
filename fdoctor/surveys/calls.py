"""Verification calls (回访): what a call asks a sampled resident, and recording the answers.

Calls: each sampled resident is asked the four-grade satisfaction question, whether they know
their family doctor, and about up to ``RECORDS_PER_CALL`` (3) of their team's service records of
the period, picked with ``draw(record ids, 3, seed=f"{sample seed}:{resident id}")``.
``not_received`` sends the record to the review queue (``disputed``); ``received`` confirms a
record still ``unverified``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from assessments.sampling import draw
from assessments.tiers import Period
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.errors import SurveyError
from fdoctor.surveys.models import (
    RECORD_CHECK_ANSWERS,
    SurveyRecordCheck,
    SurveyResponse,
    VerificationSample,
    VerificationSampleItem,
)
from fdoctor.surveys.samples import stored_doctor_weights
from fdoctor.surveys.satisfaction import check_comment, check_grade

RECORDS_PER_CALL = 3
CALL_CHANNELS = ("phone", "visit")


def sample_period(sample: VerificationSample) -> Period:
    return Period.parse(sample.period)


def records_to_check(item: VerificationSampleItem) -> list[ServiceRecord]:
    """Up to three of the resident's service records by the sampled team in the sample's period,
    picked with a draw seeded by the sample seed and the resident (the same every time), each
    record weighted by its doctor's stored risk: the call asks about the riskiest doctor's work."""
    sample = item.sample
    period = sample_period(sample)
    records = db.session.scalars(
        select(ServiceRecord).where(
            ServiceRecord.resident_id == item.resident_id,
            ServiceRecord.team_id == item.team_id,
            ServiceRecord.service_date >= period.start,
            ServiceRecord.service_date <= period.end,
            ServiceRecord.verification != "false",
        )
    ).all()
    by_id = {r.id: r for r in records}
    doctor_weights = stored_doctor_weights(sample)
    weights = {r.id: doctor_weights.get(r.doctor_id, Decimal(1)) for r in records}
    picked = draw(list(by_id), RECORDS_PER_CALL, f"{sample.seed}:{item.resident_id}", weights)
    return sorted((by_id[i] for i in picked), key=lambda r: (r.service_date, r.id))


def record_call(
    item: VerificationSampleItem,
    user: Any,
    *,
    outcome: str,
    channel: str = "phone",
    satisfaction: int | None = None,
    knows_doctor: bool | None = None,
    answers: Mapping[int, str] | None = None,
    comment: str | None = None,
) -> SurveyResponse | None:
    """Record one verification call. ``outcome`` is ``done`` or ``unreachable``.

    ``done`` writes the response, one check per picked record, the records' verification states
    and the item's status; the caller commits once, or rolls back everything on an error.
    """
    if item.status == "done":
        raise SurveyError("该居民已完成回访，不能重复登记", status=409)
    if outcome == "unreachable":
        item.status = "unreachable"
        db.session.flush()
        return None
    if outcome != "done":
        raise SurveyError("请选择回访结果：已接通或无法联系")
    if channel not in CALL_CHANNELS:
        raise SurveyError("回访方式应为电话或入户")
    grade = check_grade(satisfaction)
    if knows_doctor is None:
        raise SurveyError("请选择居民是否知道自己的家庭医生")
    comment = check_comment(comment)
    answers = dict(answers or {})
    records = records_to_check(item)
    if set(answers) != {r.id for r in records}:
        raise SurveyError("请逐条回答抽取的服务记录（记录如有变化，请刷新页面后重试）")
    team = db.session.get(OrgUnit, item.team_id)
    assert team is not None and team.institution_id is not None and team.county_id is not None
    today = clock.today()
    response = SurveyResponse(
        resident_id=item.resident_id,
        period=item.sample.period,
        surveyed_on=today,
        channel=channel,
        surveyor_id=user.id,
        sample_item_id=item.id,
        satisfaction=grade,
        knows_doctor=knows_doctor,
        comment=comment,
        created_at=clock.now(),
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(response)
    db.session.flush()
    for record in records:
        answer = answers[record.id]
        if answer not in RECORD_CHECK_ANSWERS:
            raise SurveyError(f"服务记录 #{record.id} 的回答无效：应为已接受、未接受或不确定")
        db.session.add(
            SurveyRecordCheck(response_id=response.id, service_record_id=record.id, answer=answer)
        )
        if answer == "not_received" and record.verification in ("unverified", "confirmed"):
            record.verification = "disputed"
        elif answer == "received" and record.verification == "unverified":
            record.verification = "confirmed"
    item.status = "done"
    db.session.flush()
    return response


def item_response(item: VerificationSampleItem) -> SurveyResponse | None:
    return db.session.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.sample_item_id == item.id)
        .order_by(SurveyResponse.id.desc())
    )
