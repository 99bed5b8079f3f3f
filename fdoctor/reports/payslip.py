"""A member's pay slip (个人绩效工资条) as a PDF: the amount, each factor with its explanation,
how the amount was computed and, once the team's distribution is published, the team's list.

Takes plain data (``Slip``); reads nothing. Every text goes through ``pdf.paragraph``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from assessments.money import yuan
from fdoctor.reports.pdf import grid_table, paragraph, styles


@dataclass(frozen=True)
class Factor:
    key: str
    label: str
    value: str
    meaning: str


@dataclass(frozen=True)
class ListRow:
    name: str
    kind: str  # "member" or "reserve"
    amount_fen: int
    is_me: bool = False


@dataclass(frozen=True)
class Slip:
    title: str
    member: str
    team: str
    institution: str
    year: int
    amount_fen: int
    team_fen: int | None
    sha256: str
    formula: str
    factors: list[Factor]
    steps: list[str]
    notes: list[str]
    status_text: str
    published: bool
    team_list: list[ListRow] = field(default_factory=list)


def build_payslip_pdf(slip: Slip) -> bytes:
    s = styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
        topMargin=15 * mm, bottomMargin=15 * mm, title=slip.title, author="fdoctor",
    )  # fmt: skip
    width = A4[0] - 30 * mm
    story: list[object] = [
        paragraph(slip.title, s["title"]),
        paragraph(f"{slip.institution} · {slip.team} · {slip.member}", s["subtitle"]),
        Spacer(1, 4 * mm),
        paragraph(f"本人应发金额：{yuan(slip.amount_fen)} 元", s["base"]),
    ]
    if slip.team_fen is not None:
        story.append(paragraph(f"团队应得：{yuan(slip.team_fen)} 元", s["base"]))
    story += [
        paragraph(f"计算公式：{slip.formula}", s["base"]),
        paragraph(f"团队二次分配：{slip.status_text}", s["base"]),
        Spacer(1, 3 * mm),
    ]
    rows: list[list[object]] = [[paragraph(t, s["cell"]) for t in ("项目", "数值", "说明")]] + [
        [
            paragraph(f.label, s["cell"]),
            paragraph(f.value, s["cell_right"]),
            paragraph(f.meaning, s["cell"]),
        ]  # fmt: skip
        for f in slip.factors
    ]
    story.append(grid_table(rows, [40 * mm, 30 * mm, width - 70 * mm]))
    story += [Spacer(1, 3 * mm), paragraph("计算过程", s["base"])]
    story += [paragraph(f"{i}. {step}", s["small"]) for i, step in enumerate(slip.steps, 1)]
    story += [paragraph(f"注：{note}", s["small"]) for note in slip.notes]
    if slip.published and slip.team_list:
        story += [Spacer(1, 4 * mm), paragraph("团队二次分配公示名单", s["base"])]
        list_rows: list[list[object]] = [
            [paragraph(t, s["cell"]) for t in ("成员", "金额（元）")]
        ] + [
            [
                paragraph(r.name + ("（本人）" if r.is_me else ""), s["cell"]),
                paragraph(yuan(r.amount_fen), s["cell_right"]),
            ]  # fmt: skip
            for r in slip.team_list
        ]
        story.append(grid_table(list_rows, [width - 40 * mm, 40 * mm]))
    story += [Spacer(1, 4 * mm), paragraph(f"结算表 SHA-256：{slip.sha256}", s["small"])]
    doc.build(story)
    return buffer.getvalue()
