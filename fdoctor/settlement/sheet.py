"""The sheets' data for the exports: the settlement sheet (结算表) and the county → institution,
institution → team and team → member distribution sheets, as the ``Sheet`` that
``fdoctor.reports.settlement_sheet`` turns into PDF and Excel. Built from the lines the user may
see; reads only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from assessments.attendance import LEAVE_KINDS
from assessments.money import yuan
from fdoctor.audit.checkpoints import anchor_line, latest_checkpoint
from fdoctor.core import clock
from fdoctor.corrections.sheet import annexes as correction_annexes
from fdoctor.extensions import db
from fdoctor.reports import settlement_sheet as rs
from fdoctor.settlement.models import Settlement, SettlementLine
from fdoctor.settlement.queries import stored_explanation, visible_lines

SHEETS = {
    "settlement": "结算表",
    "county": "县（市、区）→ 医疗机构分配表",
    "institution": "医疗机构 → 团队分配表",
    "team": "团队 → 成员分配表",
}
AMOUNT_NOTE = (
    "金额单位：元。份额为精确值四舍五入保留 8 位小数；金额按最大余额法取整到分，"
    "同一组各行之和恰好等于上级金额。"
)

Children = dict[int | None, list[SettlementLine]]


def sheet_available(settlement: Settlement, sheet: str) -> bool:
    return sheet in SHEETS and (settlement.kind == "settlement" or sheet == "settlement")


def sheet_data(
    settlement: Settlement, sheet: str, user: Any | None = None, pool_unit_id: int | None = None
) -> Any:
    """The ``Sheet`` for an export, built from the lines the user may see."""
    lines = visible_lines(settlement, user)
    inputs = json.loads(settlement.inputs_json)
    subtitle = f"{settlement.year} 年度 · {settlement.kind_label} · 第 {settlement.version} 版"
    input_rows = _parameter_rows(inputs)
    common: dict[str, Any] = {
        "sha256": settlement.sha256,
        "status_label": settlement.status_label,
        "day": clock.today(),
        "notes": [AMOUNT_NOTE] + ([rs.SCORE_RULE_NOTE] if settlement.kind == "settlement" else []),
        "input_columns": _input_columns(),
        "audit_anchor": (
            anchor_line(latest_checkpoint(db.session)) if settlement.status == "locked" else ""
        ),
    }
    title = settlement.title if sheet == "settlement" else f"{settlement.year}年度{SHEETS[sheet]}"
    if sheet == "settlement":
        columns, groups, grand = _settlement_sheet(
            settlement, lines, inputs, input_rows, pool_unit_id
        )
    else:
        children: Children = defaultdict(list)
        for line in lines:
            children[line.parent_id].append(line)
        builder = {"county": _county_sheet, "institution": _institution_sheet}.get(
            sheet, _team_sheet
        )
        columns, groups = builder(lines, children, input_rows)
        grand = _grand_total(columns, groups)
    return rs.Sheet(
        title, subtitle, columns, groups, grand_total=grand, input_rows=input_rows,
        annexes=correction_annexes(settlement, sheet, user), **common,
    )  # fmt: skip


# --------------------------------------------------------------------------- the inputs' table


def _input_columns() -> list[rs.Column]:
    return [
        rs.Column("类别", rs.TEXT, 28),
        rs.Column("单位/成员", rs.TEXT, 50),
        rs.Column("签约人口 P", rs.INT, 22),
        rs.Column("得分", rs.DECIMAL, 16),
        rs.Column("考核期", rs.TEXT, 18),
        rs.Column("考核记录号", rs.INT, 18),
        rs.Column("修订版", rs.INT, 14),
        rs.Column("说明", rs.TEXT, 80),
    ]


def _parameter_rows(inputs: dict[str, Any]) -> list[list[Any]]:
    params = inputs["parameters"]
    return [
        ["参数", "统计日期", None, None, None, None, None, f"签约人口按 {inputs['as_of']} 统计"],
        [
            "参数",
            "比例",
            None,
            None,
            None,
            None,
            None,
            f"预拨比例 {params['preallocation_rate']}；部门基金提取比例 {params['reserve_rate']}；"
            f"k 上限 {params['attainment_cap']}（{'已配置' if params['source'] == 'configured' else '默认值'}）",
        ],
    ]


def _input_row(line: SettlementLine, label: str, note: str = "") -> list[Any]:
    return [
        label,
        line.name,
        line.signed_population,
        line.score,
        line.source_period,
        line.source_assessment_id,
        line.source_revision,
        note,
    ]


# --------------------------------------------------------------------------- the settlement sheet


def _settlement_sheet(
    settlement: Settlement,
    lines: list[SettlementLine],
    inputs: dict[str, Any],
    input_rows: list[list[Any]],
    pool_unit_id: int | None,
) -> tuple[list[rs.Column], list[rs.Group], list[Any]]:
    """Counties grouped by pool (of one pool if ``pool_unit_id``), with the pools' funds."""
    pool_lines = _pool_lines(settlement)
    pool_names = {line_id: name for line_id, (name, _unit) in pool_lines.items()}
    counties = [
        line
        for line in lines
        if line.level == "county"
        and (
            pool_unit_id is None
            or pool_lines.get(line.parent_id or 0, ("", None))[1] == pool_unit_id
        )
    ]
    for pool in inputs["pools"]:
        if pool_unit_id is None or pool["unit_id"] == pool_unit_id:
            input_rows.append(
                ["结算池资金", pool["name"], None, None, None, None, None,
                 f"资金 {yuan(pool['fund_fen'])} 元"]
            )  # fmt: skip
    by_pool: Children = defaultdict(list)
    for line in counties:
        by_pool[line.parent_id].append(line)
    if settlement.kind == "settlement":
        return _county_settlement_groups(by_pool, pool_names, input_rows)
    return _county_preallocation_groups(by_pool, pool_names, lines, input_rows)


def _county_settlement_groups(
    by_pool: Children, pool_names: dict[int, str], input_rows: list[list[Any]]
) -> tuple[list[rs.Column], list[rs.Group], list[Any]]:
    columns = [
        rs.Column("结算池", rs.TEXT, 24),
        rs.Column("县（市、区）", rs.TEXT, 30),
        rs.Column("签约人口 P", rs.INT, 26),
        rs.Column("考核得分 S", rs.DECIMAL, 22),
        rs.Column("P×S", rs.DECIMAL, 36),
        rs.Column("份额", rs.SHARE, 26),
        rs.Column("应得（元）", rs.FEN, 36),
        rs.Column("已预拨（元）", rs.FEN, 34),
        rs.Column("差额（元）", rs.FEN, 36),
    ]
    groups = []
    for parent_id, members in by_pool.items():
        name = pool_names.get(parent_id or 0, "")
        rows = [
            [name, c.name, c.signed_population, c.score, _dec_or_none(c.weight),
             _dec_or_none(c.share_display), c.entitled_fen, c.preallocated_fen, c.balance_fen]
            for c in members
        ]  # fmt: skip
        total = [f"{name} 小计", "", _sum([r[2] for r in rows]), None, _sum([r[4] for r in rows]),
                 None, _sum([r[6] for r in rows]), _sum([r[7] for r in rows]), _sum([r[8] for r in rows])]  # fmt: skip
        groups.append(rs.Group(f"结算池：{name}", rows, total))
        for c in members:
            input_rows.append(
                _input_row(c, "县（市、区）", f"预拨 {yuan(c.preallocated_fen or 0)} 元")
            )
    totals = [g.total for g in groups if g.total]
    grand = ["合计", "", _sum([t[2] for t in totals]), None, _sum([t[4] for t in totals]), None,
             _sum([t[6] for t in totals]), _sum([t[7] for t in totals]), _sum([t[8] for t in totals])]  # fmt: skip
    return columns, groups, grand


def _county_preallocation_groups(
    by_pool: Children,
    pool_names: dict[int, str],
    lines: list[SettlementLine],
    input_rows: list[list[Any]],
) -> tuple[list[rs.Column], list[rs.Group], list[Any]]:
    columns = [
        rs.Column("结算池", rs.TEXT, 30),
        rs.Column("县（市、区）", rs.TEXT, 40),
        rs.Column("签约人口 P", rs.INT, 34),
        rs.Column("上年应得（元）", rs.FEN, 44),
        rs.Column("预拨依据", rs.TEXT, 40),
        rs.Column("预拨（元）", rs.FEN, 44),
    ]
    groups = []
    for parent_id, members in by_pool.items():
        name = pool_names.get(parent_id or 0, "")
        rows: list[list[Any]] = []
        for c in members:
            figures = stored_explanation(c).get("figures", {})
            basis = "按上年应得" if figures.get("basis") == "last_year" else "按签约人口"
            rows.append([name, c.name, c.signed_population, figures.get("last_year_entitled_fen"),
                         basis, c.preallocated_fen])  # fmt: skip
            input_rows.append(_input_row(c, "县（市、区）", basis))
        note = ""
        pool_line = next((p for p in lines if p.id == parent_id), None)
        if pool_line is not None:
            f = stored_explanation(pool_line).get("figures", {})
            note = (
                f"当年资金 {yuan(f.get('fund_fen', 0))} 元，预拨比例 {f.get('rate')}，"
                f"预拨额度 {yuan(f.get('budget_fen', 0))} 元，未预拨 {yuan(f.get('unallocated_fen', 0))} 元"
            )
        total = [f"{name} 小计", "", _sum([r[2] for r in rows]), _sum([r[3] for r in rows]), "",
                 _sum([r[5] for r in rows])]  # fmt: skip
        groups.append(rs.Group(f"结算池：{name}", rows, total, note))
    totals = [g.total for g in groups if g.total]
    grand = ["合计", "", _sum([t[2] for t in totals]), _sum([t[3] for t in totals]), "",
             _sum([t[5] for t in totals])]  # fmt: skip
    return columns, groups, grand


def _pool_lines(settlement: Settlement) -> dict[int, tuple[str, int | None]]:
    """Pool lines' names and units by line id (names only: no figure leaves the scope)."""
    rows = db.session.execute(
        select(SettlementLine.id, SettlementLine.name, SettlementLine.unit_id).where(
            SettlementLine.settlement_id == settlement.id, SettlementLine.level == "pool"
        )
    ).all()
    return {line_id: (name, unit_id) for line_id, name, unit_id in rows}


# --------------------------------------------------------------------------- the distribution sheets


def _county_sheet(
    lines: list[SettlementLine], children: Children, input_rows: list[list[Any]]
) -> tuple[list[rs.Column], list[rs.Group]]:
    """County → institution: each county's amount shared among its institutions."""
    columns = [
        rs.Column("医疗机构", rs.TEXT, 70),
        rs.Column("签约人口 P", rs.INT, 28),
        rs.Column("年终考核得分 S", rs.DECIMAL, 28),
        rs.Column("P×S", rs.DECIMAL, 38),
        rs.Column("份额", rs.SHARE, 28),
        rs.Column("应得（元）", rs.FEN, 38),
        rs.Column("得分来源", rs.TEXT, 40),
    ]
    groups = []
    for county in (line for line in lines if line.level == "county"):
        rows: list[list[Any]] = []
        for inst in children[county.id]:
            rows.append([inst.name, inst.signed_population, inst.score, _dec_or_none(inst.weight),
                         _dec_or_none(inst.share_display), inst.entitled_fen, _source_text(inst)])  # fmt: skip
            input_rows.append(_input_row(inst, "医疗机构"))
        total = ["小计", _sum([r[1] for r in rows]), None, _sum([r[3] for r in rows]), None,
                 _sum([r[5] for r in rows]), ""]  # fmt: skip
        groups.append(
            rs.Group(f"{county.name}：应得 {yuan(county.entitled_fen or 0)} 元", rows, total)
        )
    return columns, groups


def _institution_sheet(
    lines: list[SettlementLine], children: Children, input_rows: list[list[Any]]
) -> tuple[list[rs.Column], list[rs.Group]]:
    """Institution → team: each part (centre, stations) shared among its teams."""
    columns = [
        rs.Column("部分", rs.TEXT, 50),
        rs.Column("团队", rs.TEXT, 66),
        rs.Column("签约人口 P", rs.INT, 26),
        rs.Column("季度考核平均 S̄", rs.DECIMAL, 28),
        rs.Column("P×S̄", rs.DECIMAL, 34),
        rs.Column("部分内份额", rs.SHARE, 28),
        rs.Column("应得（元）", rs.FEN, 36),
    ]
    groups = []
    for inst in (line for line in lines if line.level == "institution"):
        rows: list[list[Any]] = []
        notes = []
        for part in children[inst.id]:
            if part.level == "management":
                notes.append(
                    f"团队负责人不参与团队分配，负责人统筹 {yuan(part.entitled_fen or 0)} 元"
                    f"（比例 {part.weight}）"
                )
                for leader in children[part.id]:
                    rows.append([part.name, f"{leader.name}（负责人）", None, leader.score,
                                 _dec_or_none(leader.weight), _dec_or_none(leader.share_display),
                                 leader.entitled_fen])  # fmt: skip
                    input_rows.append(_input_row(leader, "团队负责人", "按 y × 团队考核得分"))
                continue
            notes.append(f"{part.name}：{yuan(part.entitled_fen or 0)} 元（比例 {part.weight}）")
            for team in children[part.id]:
                rows.append([part.name, team.name, team.signed_population, team.score,
                             _dec_or_none(team.weight), _dec_or_none(team.share_display), team.entitled_fen])  # fmt: skip
                sources = stored_explanation(team).get("sources", [])
                input_rows.append(
                    _input_row(team, "团队", "季度考核：" + "、".join(
                        f"{s['period']} {s['value']}（记录 {s['assessment_id']}，第 {s['revision']} 版）" for s in sources
                    ))
                )  # fmt: skip
        total = ["小计", "", _sum([r[2] for r in rows]), None, _sum([r[4] for r in rows]), None,
                 _sum([r[6] for r in rows])]  # fmt: skip
        groups.append(
            rs.Group(
                f"{inst.name}：应得 {yuan(inst.entitled_fen or 0)} 元",
                rows,
                total,
                "；".join(notes),
            )
        )
    return columns, groups


def _team_sheet(
    lines: list[SettlementLine], children: Children, input_rows: list[list[Any]]
) -> tuple[list[rs.Column], list[rs.Group]]:
    """Team → member: each team's amount shared among its members and the reserve (部门基金),
    with each member's sources (points, days), deductions and what is paid."""
    columns = [
        rs.Column("成员", rs.TEXT, 28),
        rs.Column("岗位", rs.TEXT, 18),
        rs.Column("工作量点数", rs.DECIMAL, 20),
        rs.Column("k", rs.DECIMAL, 14),
        rs.Column("y", rs.DECIMAL, 12),
        rs.Column("c", rs.DECIMAL, 12),
        rs.Column("出勤（天）", rs.TEXT, 22),
        rs.Column("a", rs.DECIMAL, 16),
        rs.Column("权重 k×y×c×a", rs.DECIMAL, 22),
        rs.Column("份额", rs.SHARE, 20),
        rs.Column("分配（元）", rs.FEN, 26),
        rs.Column("扣分", rs.DECIMAL, 12),
        rs.Column("扣款（元）", rs.FEN, 20),
        rs.Column("实发（元）", rs.FEN, 26),
    ]
    groups = []
    for team in (line for line in lines if line.level == "team"):
        rows: list[list[Any]] = []
        note = ""
        for member in children[team.id]:
            if member.level == "reserve":
                figures = stored_explanation(member).get("figures", {})
                rows.append(["部门基金", f"提取 {member.weight}", None, None, None, None, None,
                             None, None, None, None, None, figures.get("deducted_fen"),
                             member.entitled_fen])  # fmt: skip
                note = _fund_note(figures, member.entitled_fen or 0)
                continue
            f = stored_explanation(member).get("factors", {})
            rows.append([_member_name(member.name, f), f.get("post"), _dec_or_none(f.get("points")),
                         f.get("k"), f.get("y"), f.get("c"), _days_text(f), f.get("a"),
                         _dec_or_none(member.weight), _dec_or_none(member.share_display),
                         f.get("gross_fen", member.entitled_fen),
                         _dec_or_none(f.get("deduction_points")), f.get("deducted_fen"),
                         member.entitled_fen])  # fmt: skip
            input_rows.append(_input_row(member, "成员", member_sources_text(f)))
        total = ["小计", "", None, None, None, None, "", None, None, None,
                 _sum([r[10] for r in rows]), None, _sum([r[12] for r in rows]),
                 _sum([r[13] for r in rows])]  # fmt: skip
        groups.append(
            rs.Group(f"{team.name}：应得 {yuan(team.entitled_fen or 0)} 元", rows, total, note)
        )
    return columns, groups


def _member_name(name: str, f: dict[str, Any]) -> str:
    if f.get("probation"):
        return name + "（试用期）"
    if f.get("paid_by_management"):
        return name + "（负责人，由负责人统筹支付）"
    return name


def _days_text(f: dict[str, Any]) -> str:
    if f.get("a_source") != "days" or f.get("days_due") is None:
        return ""
    return f"{f['days_worked']}/{f['days_due']}"


def member_sources_text(f: dict[str, Any]) -> str:
    """A member's factors with their sources, in one line of Chinese (for the inputs' table)."""
    if f.get("k_source") == "points":
        work = (
            f"工作量 {f.get('points')} 点 / 标准 {f.get('standard_points') or '—'} 点"
            f"（有效服务 {f.get('services')} 次；{f.get('point_table') or '市级默认工作量点数表'}）"
        )
    else:
        work = f"服务 {f.get('services')} 次 / 标准 {f.get('standard')} 次"
    if f.get("a_source") == "days" and f.get("days_due") is not None:
        leave = "、".join(
            f"{LEAVE_KINDS.get(kind, kind)} {n} 天"
            for kind, n in (f.get("leave_days") or {}).items()
        )
        days = f"出勤 {f['days_worked']}/{f['days_due']} 天" + (f"（{leave}）" if leave else "")
    else:
        days = "出勤系数录入"
    text = (
        f"岗位 {f.get('post') or '—'}；{work}；{days}；"
        f"k {f.get('k')}，y {f.get('y')}，c {f.get('c')}，a {f.get('a')}"
    )
    if f.get("deducted_fen"):
        text += f"；扣 {f.get('deduction_points')} 分，扣款 {yuan(f['deducted_fen'])} 元进部门基金"
    if f.get("paid_by_management"):
        text += "；负责人不参与团队分配"
    return text


def _fund_note(figures: dict[str, Any], reserve_fen: int) -> str:
    parts = [
        f"部门基金 {yuan(reserve_fen)} 元 = 提取 {yuan(figures.get('configured_reserve_fen', 0))} 元"
    ]
    if figures.get("deducted_fen"):
        parts.append(f"扣分扣款 {yuan(figures['deducted_fen'])} 元")
    if figures.get("undistributed_fen"):
        parts.append(f"无人分配 {yuan(figures['undistributed_fen'])} 元")
    rule = (
        "团队负责人参与团队分配"
        if figures.get("leaders_in_split", True)
        else "团队负责人不参与团队分配（由负责人统筹支付）"
    )
    return " + ".join(parts) + f"；{rule}"


def _grand_total(columns: list[rs.Column], groups: list[rs.Group]) -> list[Any]:
    """The distribution sheets' last row: the sum of the amount column, the texts blank."""
    # The last amount column is what is paid (the team sheet also shows the gross and deductions).
    amount_index = max(i for i, c in enumerate(columns) if c.kind == rs.FEN)
    grand: list[Any] = ["合计"] + [None] * (len(columns) - 1)
    grand[amount_index] = _sum([g.total[amount_index] for g in groups if g.total])
    for i, column in enumerate(columns):
        if column.kind == rs.TEXT and i > 0:
            grand[i] = ""
    return grand


# --------------------------------------------------------------------------- cells


def _dec_or_none(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _sum(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _source_text(line: SettlementLine) -> str:
    if line.source_assessment_id is None:
        return ""
    return f"{line.source_period}，记录 {line.source_assessment_id}，第 {line.source_revision} 版"
