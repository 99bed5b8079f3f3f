"""The assessment workflow (考核流程): allowed transitions, checked for role, unit and state.

``open → draft → submitted → published (公示) → acknowledged``; from ``published`` the assessee may
appeal (申诉) within ``ASSESSMENT_APPEAL_DAYS`` (default 7) days, once per assessment, per indicator
with a reason; the assessor answers each indicator: accepted indicators make a new revision (the old
one is kept as ``superseded``), if none is accepted the assessment returns to ``published``.
A published or acknowledged assessment is never edited: the assessor corrects it with a new
revision and a reason (``correct``). The L1 self-check has no appeal (the team assesses itself).

Rectification (整改): on acknowledgement every indicator under 60% of its maximum becomes a
``Rectification`` owned by the assessee (its unit, and the unit's first user of the assessee role),
with a deadline ``ASSESSMENT_RECTIFICATION_DAYS`` (default 30) days later:
``open → rectified`` (the owner, with evidence) ``→ verified`` (the assessor), or back to ``open``
when the assessor returns it.

Every function checks, raises ``AssessmentError`` with a Chinese message, and flushes; the view
commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from assessments.scoring import DEFAULT_RECTIFICATION_THRESHOLD
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.items import recompute_totals, refresh_metrics
from fdoctor.assessments.l4 import compute_l4
from fdoctor.assessments.levels import ASSESSEE_ROLE, ASSESSOR_ROLE, LEVEL_LABELS
from fdoctor.assessments.models import (
    Appeal,
    AppealItem,
    Assessment,
    AssessmentItem,
    Rectification,
)
from fdoctor.assessments.reads import assessment_chain, unit_leader
from fdoctor.assessments.settings import setting
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.core.signals import score_revised
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
    from fdoctor.assessments.models import ASSESSMENT_STATUSES

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
            _check_appeal_window(assessment, today or clock.today())
        except AssessmentError:
            allowed.discard("appeal")
    return allowed


# --------------------------------------------------------------------------- scoring


def _parse_points(item: AssessmentItem, raw: object) -> Decimal | None:
    text = str(raw if raw is not None else "").strip()
    if text == "":
        return None
    try:
        points = Decimal(text)
    except InvalidOperation:
        raise AssessmentError(
            f"指标 {item.code}（{item.name}）的分数“{text}”不是数字", 422
        ) from None
    if not points.is_finite():
        raise AssessmentError(f"指标 {item.code}（{item.name}）的分数“{text}”不是数字", 422)
    if not Decimal(0) <= points <= item.max_points:
        raise AssessmentError(
            f"指标 {item.code}（{item.name}）的分数应在 0 到 {item.max_points.normalize():f} 分之间，收到 {text}",
            422,
        )
    if points != points.quantize(Decimal("0.01")):
        raise AssessmentError(
            f"指标 {item.code}（{item.name}）的分数最多保留两位小数，收到 {text}", 422
        )
    return points.quantize(Decimal("0.01"))


def score_manual(
    assessment: Assessment, user: Any, entries: Mapping[str, tuple[object, str | None]]
) -> None:
    """Enter points and reasons of the manual items (``code → (points, reason)``) → draft.

    Empty points leave an item unscored (a partial save); a reason is required below the maximum.
    Everything is checked before anything is written.
    """
    check(assessment, user, "score")
    items = {item.code: item for item in assessment.items}
    planned: list[tuple[AssessmentItem, Decimal | None, str | None]] = []
    for code, (raw_points, raw_reason) in entries.items():
        item = items.get(code)
        if item is None:
            raise AssessmentError(f"此考核没有指标 {code}", 422)
        if item.source != "manual":
            raise AssessmentError(
                f"指标 {item.code}（{item.name}）由记录计算得分，不能手工评分", 422
            )
        points = _parse_points(item, raw_points)
        reason = (raw_reason or "").strip() or None
        if points is not None and points < item.max_points and reason is None:
            raise AssessmentError(
                f"指标 {item.code}（{item.name}）评分 {points} 分低于满分 {item.max_points.normalize():f} 分，须填写理由",
                422,
            )
        planned.append((item, points, reason))
    for item, points, reason in planned:
        item.points = points
        item.reason = reason
        item.score_detail = (
            f"考核人员评分 {points}（满分 {item.max_points.normalize():f}）"
            + (f"，理由：{reason}" if reason else "")
            if points is not None
            else item.score_detail
        )
    assessment.status = "draft"
    recompute_totals(assessment)
    db.session.flush()


def refresh(assessment: Assessment, user: Any) -> None:
    """Fill the metric items again from the records, keeping the manual points."""
    check(assessment, user, "refresh")
    refresh_metrics(assessment)
    if assessment.level == "L4":
        # Not ready yet (L3 results or spot checks missing): the page shows why, submit refuses.
        with suppress(AssessmentError):
            compute_l4(assessment)
    db.session.flush()


def submit(assessment: Assessment, user: Any) -> None:
    check(assessment, user, "submit")
    missing = [f"{i.code}（{i.name}）" for i in assessment.items if i.points is None]
    if missing:
        raise AssessmentError(f"以下指标尚未评分，不能提交：{'、'.join(missing)}", 409)
    no_reason = [
        f"{i.code}（{i.name}）"
        for i in assessment.items
        if i.source == "manual"
        and i.points is not None
        and i.points < i.max_points
        and not i.reason
    ]
    if no_reason:
        raise AssessmentError(f"以下指标低于满分但未填写理由：{'、'.join(no_reason)}", 409)
    if assessment.level == "L4":
        compute_l4(assessment)
    recompute_totals(assessment)
    assessment.status = "submitted"
    assessment.submitted_at = clock.now()
    assessment.submitted_by_id = user.id
    db.session.flush()


def reopen(assessment: Assessment, user: Any) -> None:
    check(assessment, user, "reopen")
    assessment.status = "draft"
    assessment.submitted_at = None
    assessment.submitted_by_id = None
    db.session.flush()


def publish(assessment: Assessment, user: Any, today: date | None = None) -> None:
    """Publish (公示) the result; the appeal window opens (none for the L1 self-check)."""
    check(assessment, user, "publish")
    today = today or clock.today()
    assessment.status = "published"
    assessment.published_at = clock.now()
    assessment.published_by_id = user.id
    assessment.appeal_deadline = _appeal_deadline(assessment, today)
    db.session.flush()


def _appeal_deadline(assessment: Assessment, today: date) -> date | None:
    if assessment.level == "L1":
        return None
    return today + timedelta(days=int(setting("ASSESSMENT_APPEAL_DAYS")))


def acknowledge(
    assessment: Assessment, user: Any, today: date | None = None
) -> list[Rectification]:
    """The assessee confirms the result; indicators under 60% become rectification items."""
    check(assessment, user, "acknowledge")
    assessment.status = "acknowledged"
    assessment.acknowledged_at = clock.now()
    assessment.acknowledged_by_id = user.id
    created = create_rectifications(assessment, today or clock.today())
    db.session.flush()
    return created


# --------------------------------------------------------------------------- appeals


def _check_appeal_window(assessment: Assessment, today: date) -> None:
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


def appeal(
    assessment: Assessment,
    user: Any,
    entries: Mapping[str, tuple[str | None, object]],
    today: date | None = None,
) -> Appeal:
    """Appeal indicators (``code → (reason, requested points or None)``) within the window."""
    check(assessment, user, "appeal")
    today = today or clock.today()
    _check_appeal_window(assessment, today)
    items = {item.code: item for item in assessment.items}
    planned: list[tuple[str, str, Decimal | None]] = []
    for code, (raw_reason, raw_points) in entries.items():
        item = items.get(code)
        if item is None:
            raise AssessmentError(f"此考核没有指标 {code}", 422)
        reason = (raw_reason or "").strip()
        if not reason:
            raise AssessmentError(f"申诉指标 {item.code}（{item.name}）须写明理由", 422)
        planned.append((code, reason, _parse_points(item, raw_points)))
    if not planned:
        raise AssessmentError("请至少选择一项指标并写明申诉理由", 422)
    record = Appeal(
        assessment_id=assessment.id,
        status="pending",
        submitted_at=clock.now(),
        submitted_by_id=user.id,
    )
    db.session.add(record)
    db.session.flush()
    for code, reason, points in planned:
        db.session.add(
            AppealItem(appeal_id=record.id, code=code, reason=reason, requested_points=points)
        )
    assessment.status = "appealed"
    db.session.flush()
    return record


def answer_appeal(
    record: Appeal,
    user: Any,
    decisions: Mapping[str, tuple[str, object, str | None]],
) -> Assessment:
    """Answer every appealed indicator (``code → (accepted|rejected, corrected points, answer)``).

    Accepted indicators make a new published revision with the corrected points; if all are
    rejected the assessment is published again unchanged. Returns the current assessment.
    """
    assessment = record.assessment
    check(assessment, user, "answer")
    if record.status != "pending":
        raise AssessmentError("该申诉已答复", 409)
    items = {item.code: item for item in assessment.items}
    changes: dict[str, tuple[Decimal, str]] = {}
    planned: list[tuple[AppealItem, str, Decimal | None, str]] = []
    for appealed in record.items:
        decision, raw_points, raw_answer = decisions.get(appealed.code, ("", None, None))
        answer = (raw_answer or "").strip()
        item = items[appealed.code]
        if decision not in {"accepted", "rejected"}:
            raise AssessmentError(f"请对申诉指标 {item.code}（{item.name}）选择采纳或驳回", 422)
        if not answer:
            raise AssessmentError(f"申诉指标 {item.code}（{item.name}）的答复须写明理由", 422)
        points = None
        if decision == "accepted":
            points = _parse_points(item, raw_points)
            if points is None:
                raise AssessmentError(
                    f"采纳申诉指标 {item.code}（{item.name}）须填写更正后的分数", 422
                )
            changes[item.code] = (points, f"申诉采纳：{answer}")
        planned.append((appealed, decision, points, answer))
    for appealed, decision, points, answer in planned:
        appealed.decision = decision
        appealed.corrected_points = points
        appealed.answer = answer
    record.status = "answered"
    record.answered_at = clock.now()
    record.answered_by_id = user.id
    db.session.flush()  # the database lets the assessment leave "appealed" once this is answered
    if not changes:
        assessment.status = "published"
        db.session.flush()
        return assessment
    reason = "申诉采纳：" + "；".join(
        f"{code} 更正为 {points} 分" for code, (points, _) in sorted(changes.items())
    )
    revision = _new_revision(
        assessment, user, changes, reason, appeal_deadline=assessment.appeal_deadline
    )
    record.revision_id = revision.id
    db.session.flush()
    return revision


# --------------------------------------------------------------------------- corrections


def correct(
    assessment: Assessment,
    user: Any,
    entries: Mapping[str, tuple[object, str | None]],
    reason: str | None,
    today: date | None = None,
) -> Assessment:
    """Correct a published result: a new published revision with the changed points and a reason."""
    check(assessment, user, "correct")
    revision_reason = (reason or "").strip()
    if not revision_reason:
        raise AssessmentError("修订已公示的考核结果须写明修订理由", 422)
    items = {item.code: item for item in assessment.items}
    changes: dict[str, tuple[Decimal, str]] = {}
    for code, (raw_points, raw_item_reason) in entries.items():
        item = items.get(code)
        if item is None:
            raise AssessmentError(f"此考核没有指标 {code}", 422)
        points = _parse_points(item, raw_points)
        if points is None or points == item.points:
            continue
        item_reason = (raw_item_reason or "").strip() or revision_reason
        changes[code] = (points, item_reason)
    if not changes:
        raise AssessmentError("没有需要修订的分数：请至少修改一项指标的分数", 422)
    today = today or clock.today()
    return _new_revision(
        assessment,
        user,
        changes,
        revision_reason,
        appeal_deadline=_appeal_deadline(assessment, today),
    )


_COPIED = (
    "level",
    "period",
    "unit_id",
    "assessor_unit_id",
    "county_id",
    "institution_id",
    "team_id",
    "index_code",
    "index_version",
    "index_file",
    "index_sha256",
    "reported_score",
    "spot_check_score",
    "flagged",
    "flag_reason",
    "opened_at",
    "due_on",
    "overdue_since",
    "submitted_at",
    "submitted_by_id",
    "total",
)
_ITEM_COPIED = (
    "code",
    "name",
    "dimension",
    "max_points",
    "rule",
    "metric",
    "numerator",
    "denominator",
    "value",
    "points",
    "reason",
    "detail",
    "source",
    "target",
    "description",
    "score_detail",
    "drill",
)


def _new_revision(
    old: Assessment,
    user: Any,
    changes: Mapping[str, tuple[Decimal, str]],
    reason: str,
    appeal_deadline: date | None,
) -> Assessment:
    """Copy ``old`` into a published revision with ``changes``; ``old`` becomes superseded.

    The order is the one the database's locks accept (``fdoctor.assessments.triggers``): the
    copy is written as ``submitted`` and not yet current, with its items (no item may be added to
    a published assessment); then ``old`` is superseded, which the database allows only once a
    newer revision exists, and which releases the one-current-revision index; then the copy
    becomes current and is published.
    """
    new = Assessment(**{name: getattr(old, name) for name in _COPIED})
    new.revision = old.revision + 1
    new.is_current = False
    new.supersedes_id = old.id
    new.revision_reason = reason
    new.status = "submitted"
    db.session.add(new)
    db.session.flush()
    for item in old.items:
        copy = AssessmentItem(
            assessment=new, **{name: getattr(item, name) for name in _ITEM_COPIED}
        )
        if item.code in changes:
            points, item_reason = changes[item.code]
            copy.score_detail = (
                f"第 {new.revision} 版更正：原 {item.points} 分 → {points} 分，理由：{item_reason}"
            )
            copy.points = points
            copy.reason = item_reason
            copy.source = "override"
        db.session.add(copy)
    db.session.flush()
    old.is_current = False
    old.status = "superseded"
    db.session.flush()  # the one-current-revision index must see the old row released first
    recompute_totals(new)
    new.is_current = True
    new.status = "published"
    new.published_at = clock.now()
    new.published_by_id = user.id
    new.appeal_deadline = appeal_deadline
    db.session.flush()
    score_revised.send(new, user=user)
    return new


# --------------------------------------------------------------------------- rectification


def create_rectifications(assessment: Assessment, today: date) -> list[Rectification]:
    """Indicators under 60% of their maximum → rectification items (once per indicator and chain)."""
    chain_ids = [a.id for a in assessment_chain(assessment)]
    already = set(
        db.session.scalars(
            select(Rectification.code).where(Rectification.assessment_id.in_(chain_ids))
        )
    )
    owner = unit_leader(assessment.unit_id, ASSESSEE_ROLE[assessment.level])
    deadline = today + timedelta(days=int(setting("ASSESSMENT_RECTIFICATION_DAYS")))
    created = []
    for item in assessment.items:
        if item.points is None or item.code in already:
            continue
        if item.points < item.max_points * DEFAULT_RECTIFICATION_THRESHOLD:
            rect = Rectification(
                assessment_id=assessment.id,
                item_id=item.id,
                code=item.code,
                name=item.name,
                points=item.points,
                max_points=item.max_points,
                county_id=assessment.county_id,
                institution_id=assessment.institution_id,
                team_id=assessment.team_id,
                owner_unit_id=assessment.unit_id,
                owner_user_id=owner.id if owner is not None else None,
                deadline=deadline,
                status="open",
                created_at=clock.now(),
            )
            db.session.add(rect)
            created.append(rect)
    db.session.flush()
    return created


def _is_owner(rect: Rectification, user: Any) -> bool:
    level = rect.assessment.level
    return user.role == ASSESSEE_ROLE[level].value and user.org_unit_id == rect.owner_unit_id


def _is_verifier(rect: Rectification, user: Any) -> bool:
    assessment = rect.assessment
    return (
        user.role == ASSESSOR_ROLE[assessment.level].value
        and user.org_unit_id == assessment.assessor_unit_id
    )


def rectify(rect: Rectification, user: Any, evidence: str | None) -> None:
    """The owner reports the item rectified, with evidence."""
    if not _is_owner(rect, user):
        raise AssessmentError(f"只有整改责任单位（{rect.owner_unit.name}）可以提交整改情况", 403)
    if rect.status != "open":
        raise AssessmentError(f"整改项当前为“{rect.status_label}”，不能再提交整改情况", 409)
    text = (evidence or "").strip()
    if not text:
        raise AssessmentError("请填写整改措施与佐证材料说明", 422)
    rect.status = "rectified"
    rect.evidence = text
    rect.rectified_at = clock.now()
    rect.rectified_by_id = user.id
    db.session.flush()


def verify_rectification(
    rect: Rectification, user: Any, note: str | None, accept: bool = True
) -> None:
    """The assessor verifies a rectified item, or returns it to the owner with a note."""
    if not _is_verifier(rect, user):
        raise AssessmentError("只有考核单位可以核验整改", 403)
    if rect.status != "rectified":
        raise AssessmentError(f"整改项当前为“{rect.status_label}”，须先由责任单位提交整改情况", 409)
    text = (note or "").strip() or None
    if not accept and text is None:
        raise AssessmentError("退回整改须写明理由", 422)
    rect.verify_note = text
    if accept:
        rect.status = "verified"
        rect.verified_at = clock.now()
        rect.verified_by_id = user.id
    else:
        rect.status = "open"
    db.session.flush()


def level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, level)
