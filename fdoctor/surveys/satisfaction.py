"""Ordinary satisfaction surveys (入户 or 自助, outside any sample), and the answers every survey
checks: the four-grade satisfaction and the comment."""

from __future__ import annotations

from datetime import date
from typing import Any

from assessments.tiers import Period, PeriodKind
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.surveys.errors import MAX_TEXT, SurveyError
from fdoctor.surveys.models import SATISFACTION_GRADES, SurveyResponse

ORDINARY_CHANNELS = ("visit", "self")


def check_grade(satisfaction: int | None) -> int:
    if satisfaction not in SATISFACTION_GRADES:
        raise SurveyError("请选择满意度：满意、较满意、一般或不满意")
    return satisfaction


def check_comment(comment: str | None) -> str | None:
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_TEXT:
        raise SurveyError(f"备注不能超过 {MAX_TEXT} 字")
    return comment


def record_survey(
    resident: Resident,
    user: Any,
    *,
    channel: str,
    surveyed_on: date,
    satisfaction: int | None,
    knows_doctor: bool | None,
    comment: str | None = None,
) -> SurveyResponse:
    """An ordinary satisfaction survey (入户 or 自助), outside any sample. Flushes."""
    if channel not in ORDINARY_CHANNELS:
        raise SurveyError("调查方式应为入户或自助")
    if surveyed_on > clock.today():
        raise SurveyError("调查日期不能晚于今天")
    if resident.team_id is None:
        raise SurveyError("该居民尚未归属家庭医生团队，无法登记调查")
    grade = check_grade(satisfaction)
    if knows_doctor is None:
        raise SurveyError("请选择居民是否知道自己的家庭医生")
    response = SurveyResponse(
        resident_id=resident.id,
        period=str(Period.containing(PeriodKind.QUARTER, surveyed_on)),
        surveyed_on=surveyed_on,
        channel=channel,
        surveyor_id=user.id,
        satisfaction=grade,
        knows_doctor=knows_doctor,
        comment=check_comment(comment),
        created_at=clock.now(),
        county_id=resident.county_id,
        institution_id=resident.institution_id,
        team_id=resident.team_id,
    )
    db.session.add(response)
    db.session.flush()
    return response
