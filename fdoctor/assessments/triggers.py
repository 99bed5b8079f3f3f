"""What the database itself refuses on a published assessment (installed by ``fdoctor.core.triggers``).

A published assessment (``published``, ``appealed``, ``acknowledged`` or ``superseded``) keeps
every column it shows or depends on, and cannot be deleted; its items neither (no item added,
changed or removed). Only the workflow's own moves remain, each with the evidence the app leaves:

* ``published → acknowledged``: acknowledgement time and user recorded, at or after publication,
  the user belonging to the assessee unit in the assessee role of the level;
* ``published → appealed``: a pending appeal of this assessment, submitted on or before the appeal
  deadline, the only appeal of its level, period and assessee (none at the L1 self-check);
* ``appealed → published``: the appeal answered without an accepted indicator;
* ``published | acknowledged | appealed → superseded``: a newer revision of this row already
  written, no appeal pending; ``is_current`` turns false in the same step and never otherwise.

A row enters those statuses only through ``published``. The workflow writes a correction in that
order (``fdoctor.assessments.revisions.new_revision``).

The service records of a period whose L3 assessment of their institution is published (any
revision, current or not: H1 locks January–June, H2 the whole year) cannot be deleted or changed,
nor moved into such a period; only their verification state (and the bookkeeping that goes with
it: ``version``, ``updated_at``, ``updated_by_id``) may still move, because the review of disputed
records is itself an audited process that can mark a record false after publication.
"""

from __future__ import annotations

from fdoctor.assessments.levels import ASSESSEE_ROLE
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.core.triggers import Guard, Rule, changed, columns_of, register
from fdoctor.records.models import ServiceRecord

LOCKED = "('published', 'appealed', 'acknowledged', 'superseded')"
# What may still move on a published row: the status by the rules below, the acknowledgement
# (once), the current flag (when superseded) and the ORM's optimistic-lock counter.
MOVABLE = ("status", "is_current", "acknowledged_at", "acknowledged_by_id", "row_version")
FROZEN = columns_of(Assessment.__table__, except_=MOVABLE)
ITEM_COLUMNS = columns_of(AssessmentItem.__table__)

MSG_LOCKED = "已公示的考核结果不可修改或删除，更正须提交带理由的修订"
MSG_TRANSITION = "已公示的考核只能按流程确认、申诉、答复或修订，不能改为该状态"
MSG_ENTRY = "考核须先公示，才能确认、申诉或修订"
MSG_ACKNOWLEDGE = "确认考核结果须由被考核单位的负责人在公示后确认，并记录确认人和确认时间"
MSG_APPEAL = "申诉须在申诉期内提交，每份考核只能申诉一次（月度自查不设申诉）"
MSG_ANSWER = "申诉尚未答复，或已采纳须以修订版本更正，不能直接恢复公示"
MSG_SUPERSEDE = "只有新的修订版本写入后，原考核才能标记为已被修订并取消当前版本"

_ASSESSEE_ROLE_SQL = (
    "CASE OLD.level "
    + " ".join(f"WHEN '{level}' THEN '{role.value}'" for level, role in ASSESSEE_ROLE.items())
    + " END"
)
_PENDING = "EXISTS (SELECT 1 FROM assessment_appeal p WHERE p.assessment_id = OLD.id AND p.status = 'pending')"

_ALLOWED_MOVES = """(
       (OLD.status = 'published' AND NEW.status IN ('acknowledged', 'appealed', 'superseded'))
    OR (OLD.status = 'appealed' AND NEW.status IN ('published', 'superseded'))
    OR (OLD.status = 'acknowledged' AND NEW.status = 'superseded'))"""

_ACKNOWLEDGED_PROPERLY = f"""(OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL
    AND NEW.acknowledged_at >= COALESCE(OLD.published_at, NEW.acknowledged_at)
    AND EXISTS (SELECT 1 FROM user_account u WHERE u.id = NEW.acknowledged_by_id
                AND u.org_unit_id = OLD.unit_id AND u.role = {_ASSESSEE_ROLE_SQL}))"""

_APPEALED_PROPERLY = """(OLD.level <> 'L1' AND OLD.appeal_deadline IS NOT NULL
    AND EXISTS (SELECT 1 FROM assessment_appeal p WHERE p.assessment_id = OLD.id
                AND p.status = 'pending' AND date(p.submitted_at) <= OLD.appeal_deadline)
    AND (SELECT count(*) FROM assessment_appeal p JOIN assessment a ON a.id = p.assessment_id
         WHERE a.level = OLD.level AND a.period = OLD.period AND a.unit_id = OLD.unit_id) = 1)"""

_ANSWERED_WITHOUT_CHANGE = f"""(NOT {_PENDING}
    AND EXISTS (SELECT 1 FROM assessment_appeal p WHERE p.assessment_id = OLD.id
                AND p.status = 'answered' AND p.revision_id IS NULL))"""

_SUPERSEDED_PROPERLY = f"""(NOT NEW.is_current AND NOT {_PENDING}
    AND EXISTS (SELECT 1 FROM assessment n WHERE n.supersedes_id = OLD.id
                AND n.revision > OLD.revision))"""

ASSESSMENT_GUARD = Guard(
    "trg_assessment_locked",
    "assessment",
    (
        Rule(("DELETE",), f"OLD.status IN {LOCKED}", MSG_LOCKED),
        Rule(("UPDATE",), f"OLD.status IN {LOCKED} AND {changed(FROZEN)}", MSG_LOCKED),
        Rule(
            ("UPDATE",),
            f"OLD.status NOT IN {LOCKED} AND NEW.status IN ('appealed', 'acknowledged', 'superseded')",
            MSG_ENTRY,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status IN {LOCKED} AND NEW.status <> OLD.status AND NOT {_ALLOWED_MOVES}",
            MSG_TRANSITION,
        ),
        Rule(
            ("UPDATE",),
            "OLD.status = 'published' AND NEW.status = 'acknowledged' "
            f"AND NOT {_ACKNOWLEDGED_PROPERLY}",
            MSG_ACKNOWLEDGE,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status IN {LOCKED} AND NOT (OLD.status = 'published' AND NEW.status = 'acknowledged') "
            f"AND {changed(('acknowledged_at', 'acknowledged_by_id'))}",
            MSG_LOCKED,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status = 'published' AND NEW.status = 'appealed' AND NOT {_APPEALED_PROPERLY}",
            MSG_APPEAL,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status = 'appealed' AND NEW.status = 'published' AND NOT {_ANSWERED_WITHOUT_CHANGE}",
            MSG_ANSWER,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status IN {LOCKED} AND OLD.status <> 'superseded' AND NEW.status = 'superseded' "
            f"AND NOT {_SUPERSEDED_PROPERLY}",
            MSG_SUPERSEDE,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status IN {LOCKED} AND NEW.is_current {{ne}} OLD.is_current "
            "AND NOT (OLD.status <> 'superseded' AND NEW.status = 'superseded')",
            MSG_SUPERSEDE,
        ),
    ),
)

_PARENT_LOCKED = "(SELECT status FROM assessment WHERE id = {row}.assessment_id) IN " + LOCKED
ITEM_GUARD = Guard(
    "trg_assessment_item_locked",
    "assessment_item",
    (
        Rule(("INSERT",), _PARENT_LOCKED.format(row="NEW"), MSG_LOCKED),
        Rule(
            ("UPDATE",),
            f"({_PARENT_LOCKED.format(row='OLD')} OR {_PARENT_LOCKED.format(row='NEW')}) "
            f"AND {changed(ITEM_COLUMNS)}",
            MSG_LOCKED,
        ),
        Rule(("DELETE",), _PARENT_LOCKED.format(row="OLD"), MSG_LOCKED),
    ),
)

RECORD_MOVABLE = ("verification", "version", "updated_at", "updated_by_id")
RECORD_FROZEN = columns_of(ServiceRecord.__table__, except_=RECORD_MOVABLE)
MSG_RECORD = "该服务记录所在期间的三级考核已公示，记录已锁定，不可修改或删除"

_L3_LOCKED = f"""EXISTS (SELECT 1 FROM assessment a WHERE a.level = 'L3' AND a.status IN {LOCKED}
    AND a.unit_id = {{row}}.institution_id AND substr(a.period, 1, 4) = {{year}}
    AND (substr(a.period, 6) = 'H2' OR {{month}} <= 6))"""


def _l3_locked(row: str, dialect: str) -> str:
    if dialect == "sqlite":
        year = f"substr({row}.service_date, 1, 4)"
        month = f"CAST(substr({row}.service_date, 6, 2) AS INTEGER)"
    else:
        year = f"to_char({row}.service_date, 'YYYY')"
        month = f"EXTRACT(MONTH FROM {row}.service_date)"
    return _L3_LOCKED.format(row=row, year=year, month=month)


def _record_update(dialect: str) -> str:
    return (
        f"{changed(RECORD_FROZEN)} AND ({_l3_locked('OLD', dialect)} "
        f"OR {_l3_locked('NEW', dialect)})"
    )


RECORD_GUARD = Guard(
    "trg_service_record_locked",
    "service_record",
    (
        Rule(("UPDATE",), _record_update("sqlite"), MSG_RECORD, _record_update("postgresql")),
        Rule(("DELETE",), _l3_locked("OLD", "sqlite"), MSG_RECORD, _l3_locked("OLD", "postgresql")),
    ),
)

register(ASSESSMENT_GUARD, ITEM_GUARD, RECORD_GUARD)
