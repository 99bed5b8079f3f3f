"""Corrections on the sheets: the annexes of the exports (PDF and Excel) and of the pages.

* A **locked** sheet with corrections found after its lock gets the annex 锁定后更正: each
  correction, its reason and its difference lines, and the sheet it is carried into. The sheet's
  own lines never change.
* A sheet that **carries** corrections gets the annex 往年更正调整: each correction with its
  reason and lines, then per line the sheet's own amount, the adjustment and what is paid
  (应付合计 = 本表应得 + 往年更正调整; ``assessments.cascade.corrections.payable``).

Each export shows only the levels of its own table and the lines the user may see.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from assessments.cascade.corrections import payable
from fdoctor.core.scope import scope_clause, visible_unit
from fdoctor.corrections.models import SettlementCorrection, SettlementCorrectionLine
from fdoctor.corrections.services import carried_into, corrections_of
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.reports import settlement_sheet as rs
from fdoctor.settlement.models import LINE_LEVELS, Settlement, SettlementLine

# The levels each export's table shows.
SHEET_LEVELS = {
    "settlement": ("county",),
    "county": ("county", "institution"),
    "institution": ("institution", "split", "team"),
    "team": ("team", "member", "reserve"),
    # The sheet's page shows every level.
    "page": ("county", "institution", "split", "team", "member", "reserve"),
}


def _visible(
    corrections: list[SettlementCorrection], user: Any | None
) -> list[SettlementCorrection]:
    """The corrections the user may see: those with a line in the user's scope (a correction's
    reason names the record's doctor and team); one that moved no money, to city-wide users."""
    if not corrections:
        return []
    ids = [c.id for c in corrections]
    seen = set(
        db.session.scalars(
            select(SettlementCorrectionLine.correction_id)
            .where(
                SettlementCorrectionLine.correction_id.in_(ids),
                scope_clause(SettlementCorrectionLine, user),
            )
            .distinct()
        )
    )
    with_lines = set(
        db.session.scalars(
            select(SettlementCorrectionLine.correction_id)
            .where(SettlementCorrectionLine.correction_id.in_(ids))
            .distinct()
        )
    )
    unit = visible_unit(user)
    city_wide = unit is None or unit.kind == "city"
    return [c for c in corrections if c.id in seen or (city_wide and c.id not in with_lines)]


def _visible_lines(
    corrections: list[SettlementCorrection], levels: tuple[str, ...], user: Any | None
) -> dict[int, list[SettlementCorrectionLine]]:
    if not corrections:
        return {}
    out: dict[int, list[SettlementCorrectionLine]] = defaultdict(list)
    for line in db.session.scalars(
        select(SettlementCorrectionLine)
        .where(
            SettlementCorrectionLine.correction_id.in_([c.id for c in corrections]),
            SettlementCorrectionLine.level.in_(levels),
            scope_clause(SettlementCorrectionLine, user),
        )
        .order_by(SettlementCorrectionLine.correction_id, SettlementCorrectionLine.position)
    ):
        out[line.correction_id].append(line)
    return out


NO_DIFFERENCE = "（本表所列层级无金额变化）"


def _names(lines: dict[int, list[SettlementCorrectionLine]]) -> dict[int, str]:
    """Each line's name as the annex shows it: a reserve (部门基金) with its team's name."""
    teams = {line.team_id for group in lines.values() for line in group if line.level == "reserve"}
    team_names = (
        dict(
            db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(teams))).all()
        )
        if teams
        else {}
    )
    return {
        line.id: (
            f"{line.name}（{team_names.get(line.team_id, '')}）"
            if line.level == "reserve"
            else line.name
        )
        for group in lines.values()
        for line in group
    }


def _sheet_name(settlement: Settlement | None) -> str:
    if settlement is None:
        return "待结转（下一份结算表生成时计入）"
    return f"{settlement.year} 年度结算表（{settlement.status_label}）"


def locked_annex(settlement: Settlement, sheet: str, user: Any | None = None) -> rs.Annex | None:
    """The corrections found after ``settlement`` was locked, or None when there are none."""
    if settlement.status != "locked" or settlement.kind != "settlement":
        return None
    corrections = _visible(corrections_of(settlement), user)
    if not corrections:
        return None
    lines = _visible_lines(corrections, SHEET_LEVELS[sheet], user)
    names = _names(lines)
    groups = [
        rs.Group(
            title=f"更正 #{c.id}（{c.cause_label}）→ 结转至：{_sheet_name(c.carried_into)}",
            note=c.reason + ("" if lines.get(c.id) else NO_DIFFERENCE),
            rows=[
                [
                    LINE_LEVELS.get(line.level, line.level),
                    names[line.id],
                    line.before_fen,
                    line.after_fen,
                    line.difference_fen,
                ]
                for line in lines.get(c.id, [])
            ],  # fmt: skip
        )
        for c in corrections
    ]
    return rs.Annex(
        title="附表：锁定后更正（本表各行金额不变，差额结转至下一份结算表）",
        columns=[
            rs.Column("层级", rs.TEXT, 30),
            rs.Column("单位/成员", rs.TEXT, 70),
            rs.Column("本表金额（含此前更正）", rs.FEN, 40),
            rs.Column("更正后金额", rs.FEN, 36),
            rs.Column("差额", rs.FEN, 32),
        ],
        groups=groups,
        sheet_name="锁定后更正",
        notes=[
            f"本表锁定后发现 {len(corrections)} 项更正。本表及其 SHA-256 不变；"
            "差额 = 按锁定时的输入数据、仅改正该项事实后重新计算的金额 − 本表（含此前更正）金额，"
            "各级差额逐级相加恰好相等，同一结算池差额合计为 0（资金总额固定）。"
        ],
    )


def carried_annex(settlement: Settlement, sheet: str, user: Any | None = None) -> rs.Annex | None:
    """The corrections of earlier years carried into ``settlement``, or None."""
    corrections = _visible(carried_into(settlement), user)
    if not corrections:
        return None
    levels = SHEET_LEVELS[sheet]
    lines = _visible_lines(corrections, levels, user)
    label = _names(lines)
    adjustments: dict[str, int] = defaultdict(int)
    names: dict[str, tuple[str, str]] = {}
    groups = []
    for c in corrections:
        rows = []
        for line in lines.get(c.id, []):
            adjustments[line.key] += line.difference_fen
            names[line.key] = (line.level, label[line.id])
            rows.append(
                [LINE_LEVELS.get(line.level, line.level), label[line.id], None, line.difference_fen,
                 None]
            )  # fmt: skip
        groups.append(
            rs.Group(
                title=f"更正 #{c.id}（{c.settlement.year} 年度结算表，{c.cause_label}）",
                note=c.reason + ("" if rows else NO_DIFFERENCE),
                rows=rows,
            )
        )
    entitled = dict(
        db.session.execute(
            select(SettlementLine.key, SettlementLine.entitled_fen).where(
                SettlementLine.settlement_id == settlement.id,
                SettlementLine.key.in_(list(adjustments)),
            )
        ).all()
    )
    paid = payable({k: v or 0 for k, v in entitled.items()}, adjustments)
    summary = [
        [LINE_LEVELS.get(level, level), name, entitled.get(key), adjustments[key], paid[key]]
        for key, (level, name) in names.items()
    ]
    groups.append(rs.Group(title="汇总：应付合计 = 本表应得 + 往年更正调整", rows=summary))
    return rs.Annex(
        title="附表：往年更正调整（计入本表应付金额）",
        columns=[
            rs.Column("层级", rs.TEXT, 30),
            rs.Column("单位/成员", rs.TEXT, 70),
            rs.Column("本表应得", rs.FEN, 36),
            rs.Column("往年更正调整", rs.FEN, 36),
            rs.Column("应付合计", rs.FEN, 36),
        ],
        groups=groups,
        sheet_name="往年更正调整",
        notes=[
            f"本表计入往年锁定结算表的更正 {len(corrections)} 项（已列入本表输入数据，受 SHA-256 校验）。"
            "往年结算表本身不变；差额按锁定时的输入数据重新计算，正数应补发、负数应扣回。"
            "本表已不存在的单位或成员（如已调离），单独列示其调整金额。"
        ],
    )


def annexes(settlement: Settlement, sheet: str, user: Any | None = None) -> list[rs.Annex]:
    """The correction annexes of one export of ``settlement``."""
    if settlement.kind != "settlement" or sheet not in SHEET_LEVELS:
        return []
    found = [locked_annex(settlement, sheet, user), carried_annex(settlement, sheet, user)]
    return [a for a in found if a is not None]
