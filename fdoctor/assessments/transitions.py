"""The assessment workflow's rules (考核流程): which transition, by whom, from which state.

``open → draft → submitted → published (公示) → acknowledged``; from ``published`` the assessee may
appeal (申诉) within ``ASSESSMENT_APPEAL_DAYS`` (default 7) days, once per assessment (``appeals``);
a published or acknowledged assessment is never edited, only corrected with a new revision
(``revisions``). The L1 self-check has no appeal (the team assesses itself). The steps themselves
are in ``marking`` (scoring), ``steps`` (refresh, submit, reopen, publish, acknowledge),
``appeals``, ``revisions`` and ``rectification``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.levels import ASSESSEE_ROLE, ASSESSOR_ROLE
from fdoctor.assessments.models import ASSESSMENT_STATUSES, Appeal, Assessment
from fdoctor.assessments.settings import setting
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.extensions import db

ASSESSOR = "assessor"
ASSESSEE = "assessee"


@dataclass(frozen=True)
class Transition:
    name: str
    label: str  # the verb, in Chinese
    sources: frozenset[str]
    target: str | None  # None: the status does not change (or depends on the outcome)
    actor: str  # assessor | assessee


def _t(name: str, label: str, sources: set[str], target: str | None, actor: str) -> Transition:
    return Transition(name, label, frozenset(sources), target, actor)


# The whole workflow in one table: anything not listed here is refused.
TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t("score", "评分", {"open", "draft"}, "draft", ASSESSOR),
        _t("refresh", "重新计算指标", {"open", "draft"}, None, ASSESSOR),
        _t("submit", "提交", {"draft"}, "submitted", ASSESSOR),
        _t("reopen", "退回修改", {"submitted"}, "draft", ASSESSOR),
        _t("publish", "公示", {"submitted"}, "published", ASSESSOR),
        _t("acknowledge", "确认", {"published"}, "acknowledged", ASSESSEE),
        _t("appeal", "申诉", {"published"}, "appealed", ASSESSEE),
        _t("answer", "答复申诉", {"appealed"}, None, ASSESSOR),
        _t("correct", "修订", {"published", "acknowledged"}, "superseded", ASSESSOR),
    )
}
IMMUTABLE = frozenset({"published", "acknowledged", "appealed", "superseded"})


def _role_label(role: Role) -> str:
    return role.label


def _is_actor(assessment: Assessment, user: Any, actor: str) -> bool:
    if actor == ASSESSOR:
        return (
            user.role == ASSESSOR_ROLE[assessment.level].value
            and user.org_unit_id == assessment.assessor_unit_id
        )
    return (
        user.role == ASSESSEE_ROLE[assessment.level].value
        and user.org_unit_id == assessment.unit_id
    )


def check(assessment: Assessment, user: Any, name: str) -> Transition:
    """Raise unless ``user`` may do transition ``name`` on the assessment now."""
    transition = TRANSITIONS[name]
    if not assessment.is_current or assessment.status == "superseded":
        raise AssessmentError(
            f"该考核已被修订，请在最新版本上{transition.label}（本版为第 {assessment.revision} 版）",
            409,
        )
    if not _is_actor(assessment, user, transition.actor):
        if transition.actor == ASSESSOR:
            unit = assessment.assessor_unit.name if assessment.assessor_unit else "考核单位"
            who = f"考核单位（{unit}）的{_role_label(ASSESSOR_ROLE[assessment.level])}"
        else:
            who = f"被考核单位（{assessment.unit.name}）的{_role_label(ASSESSEE_ROLE[assessment.level])}"
        raise AssessmentError(f"只有{who}可以{transition.label}此考核", 403)
    if assessment.status not in transition.sources:
        if assessment.status in IMMUTABLE and name in {"score", "refresh"}:
            raise AssessmentError(
                f"考核已{assessment.status_label}，结果不可修改；如需更正，请由考核单位发起修订并说明理由",
                409,
            )
        allowed = "、".join(_status_label(s) for s in sorted(transition.sources))
        raise AssessmentError(
            f"当前状态为“{assessment.status_label}”，不能{transition.label}（仅“{allowed}”状态可以）",
            409,
        )
    return transition


def _status_label(status: str) -> str:
    return ASSESSMENT_STATUSES.get(status, status)


def allowed_actions(assessment: Assessment, user: Any, today: date | None = None) -> set[str]:
    """The transitions ``user`` may do now (for the buttons); appeal also needs the deadline."""
    allowed = set()
    for name in TRANSITIONS:
        try:
            check(assessment, user, name)
        except AssessmentError:
            continue
        allowed.add(name)
    if "appeal" in allowed:
        try:
            check_appeal_window(assessment, today or clock.today())
        except AssessmentError:
            allowed.discard("appeal")
    return allowed


def appeal_deadline(assessment: Assessment, today: date) -> date | None:
    if assessment.level == "L1":
        return None
    return today + timedelta(days=int(setting("ASSESSMENT_APPEAL_DAYS")))


def check_appeal_window(assessment: Assessment, today: date) -> None:
    if assessment.level == "L1":
        raise AssessmentError("月度自查由团队自评自查，不设申诉", 409)
    if assessment.appeal_deadline is None or today > assessment.appeal_deadline:
        deadline = (
            assessment.appeal_deadline.isoformat() if assessment.appeal_deadline else "公示时"
        )
        raise AssessmentError(f"申诉期已过（截止 {deadline}），不能再申诉", 409)
    earlier = db.session.scalar(
        select(Appeal.id)
        .join(Assessment, Appeal.assessment_id == Assessment.id)
        .where(
            Assessment.level == assessment.level,
            Assessment.period == assessment.period,
            Assessment.unit_id == assessment.unit_id,
        )
    )
    if earlier is not None:
        raise AssessmentError("每份考核只能申诉一次，此考核已申诉过", 409)
