"""What the database itself refuses in a team's distribution (二次分配的制衡与公示).

The service refuses with the reason in Chinese; these guards (installed by
``fdoctor.core.triggers`` on SQLite and PostgreSQL) keep the order whatever writes the rows:

* a distribution is created only as ``proposed`` and only on a locked settlement sheet;
* it becomes ``published`` only from ``proposed``, confirmed by someone other than the proposer,
  with the publication and the end of the 公示 recorded;
* it becomes ``approved`` only from ``published``, with the approval recorded, on a day after the
  公示 ended and with no unanswered objection; it never goes back;
* once published its proposal, confirmation and 公示 cannot change; once approved nothing can;
* an objection is added only while its distribution is published and the 公示 has not ended; its
  reason, author and time never change, an answer is given once, and no objection is deleted.
"""

from __future__ import annotations

from fdoctor.core.triggers import Guard, Rule, changed, columns_of, register
from fdoctor.distribution.models import TeamDistribution

# Kept free of "%", ":" and quotes so that no driver mistakes them for placeholders.
CREATE_MESSAGE = "二次分配只能在结算表锁定后由团队长提交"
PUBLISH_MESSAGE = "二次分配须经提交人以外的团队代表确认后才能公示"
APPROVE_MESSAGE = "二次分配须在公示期满且异议均已答复后才能批准"
BACKWARD_MESSAGE = "二次分配不能退回到之前的状态"
FROZEN_MESSAGE = "公示中的二次分配方案不能修改"
APPROVED_MESSAGE = "已批准的二次分配不能修改或删除"
OBJECTION_MESSAGE = "只能在公示期内对公示中的二次分配提出异议"
OBJECTION_FROZEN_MESSAGE = "异议的内容不能修改，答复只能填写一次，异议不能删除"

_SHEET_LOCKED = (
    "EXISTS (SELECT 1 FROM settlement s WHERE s.id = NEW.settlement_id AND s.status = 'locked')"
)
_OPEN_OBJECTION = (
    "EXISTS (SELECT 1 FROM distribution_objection o "
    "WHERE o.distribution_id = NEW.id AND o.answered_at IS NULL)"
)
_APPROVED_PROPERLY = """(OLD.status = 'published'
    AND NEW.approved_at IS NOT NULL AND NEW.approved_by_id IS NOT NULL
    AND NEW.publicity_ends_on IS NOT NULL AND {day} > NEW.publicity_ends_on
    AND NOT {open})"""
_PUBLISHED_PROPERLY = """(OLD.status = 'proposed'
    AND NEW.confirmed_at IS NOT NULL AND NEW.confirmed_by_id IS NOT NULL
    AND NEW.confirmed_by_id <> NEW.proposed_by_id
    AND NEW.published_at IS NOT NULL AND NEW.publicity_ends_on IS NOT NULL)"""
_APPROVING = "OLD.status <> 'approved' AND NEW.status = 'approved' AND NOT "
_RANK = "(CASE {row}.status WHEN 'proposed' THEN 1 WHEN 'published' THEN 2 ELSE 3 END)"

DISTRIBUTION_GUARD = Guard(
    "trg_team_distribution_order",
    "team_distribution",
    (
        Rule(("INSERT",), f"NEW.status <> 'proposed' OR NOT {_SHEET_LOCKED}", CREATE_MESSAGE),
        Rule(("UPDATE", "DELETE"), "OLD.status = 'approved'", APPROVED_MESSAGE),
        Rule(
            ("UPDATE",),
            f"{_RANK.format(row='NEW')} < {_RANK.format(row='OLD')}",
            BACKWARD_MESSAGE,
        ),
        Rule(
            ("UPDATE",),
            f"OLD.status <> 'published' AND NEW.status = 'published' AND NOT {_PUBLISHED_PROPERLY}",
            PUBLISH_MESSAGE,
        ),
        Rule(
            ("UPDATE",),
            _APPROVING
            + _APPROVED_PROPERLY.format(day="date(NEW.approved_at)", open=_OPEN_OBJECTION),
            APPROVE_MESSAGE,
            postgresql=_APPROVING
            + _APPROVED_PROPERLY.format(day="CAST(NEW.approved_at AS DATE)", open=_OPEN_OBJECTION),
        ),
        Rule(
            ("UPDATE",),
            "OLD.status = 'published' AND "
            + changed(
                columns_of(
                    TeamDistribution.__table__,
                    except_=("status", "approved_at", "approved_by_id"),
                )
            ),
            FROZEN_MESSAGE,
        ),
    ),
)

_OPEN_FOR_OBJECTIONS = (
    "EXISTS (SELECT 1 FROM team_distribution d WHERE d.id = NEW.distribution_id "
    "AND d.status = 'published' AND {day} <= d.publicity_ends_on)"
)
OBJECTION_GUARD = Guard(
    "trg_distribution_objection_order",
    "distribution_objection",
    (
        Rule(
            ("INSERT",),
            "NOT " + _OPEN_FOR_OBJECTIONS.format(day="date(NEW.created_at)"),
            OBJECTION_MESSAGE,
            postgresql="NOT " + _OPEN_FOR_OBJECTIONS.format(day="CAST(NEW.created_at AS DATE)"),
        ),
        Rule(
            ("UPDATE",),
            changed(("id", "distribution_id", "user_id", "reason", "created_at"))
            + " OR OLD.answered_at IS NOT NULL",
            OBJECTION_FROZEN_MESSAGE,
        ),
        Rule(("DELETE",), "1 = 1", OBJECTION_FROZEN_MESSAGE),
    ),
)

GUARDS = (DISTRIBUTION_GUARD, OBJECTION_GUARD)
register(*GUARDS)
