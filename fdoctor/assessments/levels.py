"""The assessment levels: who assesses whom, and the periods each level is judged on.

Who assesses whom (SPEC 5):

=====  =====================  ============================  ===============  ==================
level  assessee (grain)       assessor unit                 assessor role    assessee role
=====  =====================  ============================  ===============  ==================
L1     every team             the team itself (自查)         team_leader      team_leader
L2     every team             its institution               centre_admin     team_leader
L3     every institution      its county                    county_auditor   centre_admin
L4     every county           the city                      city_admin       county_auditor
L4S    each sampled inst.     the city (市级抽查)            city_admin       centre_admin
=====  =====================  ============================  ===============  ==================

Stations are not assessed at L2: no role is attached to a station (``ROLE_UNIT_KINDS``), so nobody
could acknowledge or appeal a station's result; the station's work counts in its teams.
"""

from __future__ import annotations

from assessments.tiers import (
    ASSESSMENT_LEVEL_LABELS,
    ASSESSMENT_LEVELS,
    SPOT_CHECK_LEVEL,
    Level,
    Period,
    PeriodNotEnded,
    ensure_period_ended,
    level_tier,
)
from fdoctor.assessments.errors import AssessmentError
from fdoctor.core import clock
from fdoctor.core.roles import Role

SPOT_LEVEL = SPOT_CHECK_LEVEL
LEVELS = ASSESSMENT_LEVELS
LEVEL_LABELS = ASSESSMENT_LEVEL_LABELS
ASSESSEE_KIND = {
    "L1": "team",
    "L2": "team",
    "L3": "institution",
    "L4": "county",
    SPOT_LEVEL: "institution",
}
ASSESSOR_ROLE = {
    "L1": Role.TEAM_LEADER,
    "L2": Role.CENTRE_ADMIN,
    "L3": Role.COUNTY_AUDITOR,
    "L4": Role.CITY_ADMIN,
    SPOT_LEVEL: Role.CITY_ADMIN,
}
ASSESSEE_ROLE = {
    "L1": Role.TEAM_LEADER,
    "L2": Role.TEAM_LEADER,
    "L3": Role.CENTRE_ADMIN,
    "L4": Role.COUNTY_AUDITOR,
    SPOT_LEVEL: Role.CENTRE_ADMIN,
}


def tier(level: str) -> Level:
    """The tier calendar's level for an assessment level (the spot check follows L4)."""
    return level_tier(level)


def parse_level(text: str) -> str:
    level = (text or "").strip().upper()
    if level not in LEVELS:
        raise AssessmentError(f"未知的考核层级「{text}」，可选：L1、L2、L3、L4", 422)
    return level


def invalid_period(message: str) -> AssessmentError:
    """The refusal of a malformed period, or one of another kind than its level's
    (``fdoctor.core.periods.parse_period(text, level, error=invalid_period)``)."""
    return AssessmentError(message, 422)


def ensure_judgeable(period: Period, action: str) -> None:
    """Refuse (409) to open, draw or sample for ``period`` before it ends, by the clock's today."""
    try:
        ensure_period_ended(period, clock.today(), action)
    except PeriodNotEnded as exc:
        raise AssessmentError(str(exc), 409) from None
