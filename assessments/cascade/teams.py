"""An institution's parts and teams.

* institution → centre part / stations part: ``split_by_ratio`` with the configured split;
* each part → its teams: by P × S̄, S̄ the exact mean of the year's published L2 scores;
* each team → its members: ``assessments.cascade.members``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from assessments.cascade.groups import (
    Sheet,
    figure,
    line_part,
    part_columns,
    settle_exact,
    share_steps,
    unique_keys,
)
from assessments.cascade.inputs import (
    CountyInput,
    InstitutionInput,
    Part,
    PublishedScore,
    TeamInput,
)
from assessments.cascade.lines import Explanation, Figure, Line, whole_figure
from assessments.cascade.members import team_members
from assessments.cascade.text import approx, frac, num
from assessments.memo import Memo
from assessments.money import (
    SettlementInputError,
    exact_decimal,
    fraction_sum,
    round_half_up,
    to_fraction,
    yuan,
)
from assessments.settlement import share_for_display, split_by_ratio
from assessments.values import value

__all__ = [
    "DEFAULT_PART_LABELS",
    "PARTS",
    "PART_LABELS",
    "TeamMean",
    "institution_parts",
    "sheet_team_mean",
    "team_mean",
    "team_steps",
]

# Labels of the two parts of an institution by its subtype: urban centre/stations, rural
# township health centre/village clinics (SPEC 7.4).
PART_LABELS: dict[str, dict[Part, str]] = {
    "community_centre": {"centre": "社区卫生服务中心部分", "stations": "社区卫生服务站部分"},
    "township_centre": {"centre": "乡镇卫生院部分", "stations": "村卫生室部分"},
}
DEFAULT_PART_LABELS: dict[Part, str] = {"centre": "机构本部部分", "stations": "站点部分"}
PARTS: tuple[Part, Part] = ("centre", "stations")
SCORE_PLACES = 2


@value
class TeamMean:
    """A team's S̄: the exact mean of its published L2 scores (None without scores), the mean as
    the sheet shows it (two places, half up), and how it was got, in Chinese."""

    value: Fraction | None
    shown: Decimal | None
    steps: tuple[str, ...]

    @property
    def text(self) -> str:
        """The exact mean for the explanation: ``87.125``, or ``262/3（≈87.333333）``."""
        return "0" if self.value is None else figure(self.value)


def _published_cents(team: str, score: PublishedScore) -> int:
    """A published L2 score in hundredths (an int from 0 to 10,000), checked.

    A city's teams publish a few thousand distinct scores: each Decimal checked once is
    remembered by its value (which alone decides it); a refusal is never remembered.
    """
    value = score.value
    plain = type(value) is Decimal and value.is_finite()
    if plain:
        known = _CENTS.get(value)
        if known is not None:
            return known
    exact = to_fraction(value, f"团队「{team}」{score.period} 的季度考核得分")
    if not 0 <= exact <= 100 or 100 % exact.denominator:
        raise SettlementInputError(
            f"团队「{team}」{score.period} 的季度考核得分必须在 0 到 100 之间、"
            f"最多两位小数：{score.value}"
        )
    cents = exact.numerator * (100 // exact.denominator)
    if plain:
        _CENTS.keep(value, cents)
    return cents


_CENTS: Memo[Decimal, int] = Memo()
_HUNDREDTHS = Decimal("0.01")


def team_mean(team: TeamInput, year: int) -> TeamMean:
    """The exact mean of the year's published L2 scores present, and how it was got.

    The rule of the sheet: each published total (two decimals, as published) is an input; the
    mean is kept exact and weighs the team's share as it is; only the shown S̄ is rounded.
    """
    scores = team.l2
    if not scores:
        if team.signed_population > 0:
            raise SettlementInputError(f"团队「{team.name}」缺少本年度季度考核得分")
        return TeamMean(None, None, (_NO_SCORES,))
    exact, shown = _exact_mean(team.name, scores)
    return TeamMean(exact, shown, _mean_steps(scores, year, exact, shown))


_NO_SCORES = "无季度考核得分（签约人口为 0，不参与分配）"


def _exact_mean(team: str, scores: tuple[PublishedScore, ...]) -> tuple[Fraction, Decimal]:
    """The exact mean of published scores (checked) and the mean as shown (two places)."""
    cents = [_published_cents(team, s) for s in scores]
    exact = Fraction(sum(cents), 100 * len(cents))
    return exact, exact_decimal(round_half_up(exact, SCORE_PLACES)).quantize(_HUNDREDTHS)


def _mean_steps(
    scores: tuple[PublishedScore, ...], year: int, exact: Fraction, shown: Decimal
) -> tuple[str, ...]:
    """How a team's S̄ came about from its published scores (Chinese)."""
    periods = "、".join(s.period for s in scores)
    present = {s.period for s in scores}
    missing = [p for p in (f"{year}-Q{q}" for q in range(1, 5)) if p not in present]
    steps = [
        f"季度考核得分（{len(scores)} 个季度：{periods}）= "
        + " + ".join(str(s.value) for s in scores)
        + f"，平均 S̄ = {figure(exact)}（按精确值计算份额，不先四舍五入；表中显示 {shown}）"
    ]
    if missing:
        steps.append(f"未计入（无已公示得分）：{'、'.join(missing)}；取已有季度的平均")
    return tuple(steps)


def sheet_team_mean(sheet: Sheet, team: TeamInput) -> TeamMean:
    """``team_mean(team, sheet.year)``, worked out once a sheet.

    An institution's management share and its teams' split both need each team's S̄; it is a
    pure function of the team and the year, so the second reading takes the first's result (the
    same object). A refusal is not kept: it is raised again, the same, if asked again.
    """
    known = sheet.team_means.get(id(team))
    if known is not None and known[0] is team:
        return known[1]
    mean = team_mean(team, sheet.year)
    sheet.team_means[id(team)] = (team, mean)
    return mean


# institution → centre part / stations part → teams
def institution_parts(
    sheet: Sheet, county: CountyInput, inst: InstitutionInput, amount: int, parent: str
) -> None:
    """The institution's amount split into its parts, and each part over its teams."""
    labels = PART_LABELS.get(inst.subtype or "", DEFAULT_PART_LABELS)
    means = {t.unit_id: sheet_team_mean(sheet, t) for t in inst.teams}
    by_part = {p: [t for t in inst.teams if t.part == p] for p in PARTS}

    def part_weight(part: Part) -> Fraction:
        return fraction_sum(
            [t.signed_population * (means[t.unit_id].value or Fraction(0)) for t in by_part[part]]
        )

    used = [p for p in PARTS if by_part[p] and part_weight(p) > 0]
    if not used:
        if amount > 0:
            raise SettlementInputError(
                f"医疗机构「{inst.name}」没有可分配的团队（团队的签约人口×得分均为 0），"
                f"无法分配 {yuan(amount)} 元"
            )
        used = [p for p in PARTS if by_part[p]]
        if not used:
            return
    configured = {"centre": inst.split.centre, "stations": inst.split.stations}
    ratios = {p: configured[p] for p in used} if len(used) == 2 else {used[0]: Decimal(1)}
    amounts = split_by_ratio(amount, {labels[p]: ratios[p] for p in used})
    for p in used:
        part_amount = amounts[labels[p]]
        key = f"split:{inst.unit_id}:{p}"
        sheet.lines.append(
            _split_line(county, inst, p, used, ratios, amount, part_amount, by_part, parent)
        )
        _teams(sheet, county, inst, by_part[p], means, part_amount, key, labels[p])


def _split_line(
    county: CountyInput,
    inst: InstitutionInput,
    p: Part,
    used: list[Part],
    ratios: dict[Part, Decimal],
    amount: int,
    part_amount: int,
    by_part: dict[Part, list[TeamInput]],
    parent: str,
) -> Line:
    labels = PART_LABELS.get(inst.subtype or "", DEFAULT_PART_LABELS)
    split = inst.split
    ratio_total = sum(ratios.values(), Decimal(0))
    source_text = "本机构单独配置" if split.source == "institution" else "全市默认配置"
    share = Fraction(ratios[p]) / Fraction(ratio_total)
    exact = share * amount
    notes: tuple[str, ...] = ()
    if len(used) == 2:
        steps = [
            f"拆分比例（{source_text}）：中心 {split.centre} : 站点 {split.stations}",
            f"份额 = {ratios[p]} ÷ {ratio_total} = {frac(share)}",
            f"精确金额 = {frac(share)} × 机构应得 {num(amount)} 分 = {approx(exact)} 分",
            f"按最大余额法取整：{num(part_amount)} 分（{yuan(part_amount)} 元）",
            f"舍入调整 = {approx(part_amount - exact, sign=True)} 分"
            f"（精确值 {frac(part_amount - exact)} 分）",
        ]
    else:
        other: Part = "stations" if p == "centre" else "centre"
        reason = "没有团队" if not by_part[other] else "团队的签约人口×得分均为 0"
        steps = [f"{labels[other]}{reason}，机构应得 {yuan(amount)} 元全部归{labels[p]}"]
        notes = (
            ("未配置拆分比例：本机构只有一部分参与分配，无需拆分",)
            if split.source == "none"
            else (
                f"配置的拆分比例（{source_text}）为 {split.centre} : "
                f"{split.stations}，本机构只有一部分参与分配",
            )
        )
    return Line(
        key=f"split:{inst.unit_id}:{p}",
        parent=parent,
        level="split",
        name=labels[p],
        unit_id=inst.unit_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        weight=ratios[p],
        share=share,
        share_display=share_for_display(share),
        exact_fen=exact,
        entitled_fen=part_amount,
        rounding_adjustment=part_amount - exact,
        explanation=Explanation(
            formula="部分金额 = 拆分比例 ÷ 比例合计 × 机构应得",
            steps=tuple(steps),
            notes=notes,
            figures={"part": p, "ratio": str(ratios[p])},
        ),
    )


def _teams(
    sheet: Sheet,
    county: CountyInput,
    inst: InstitutionInput,
    teams: list[TeamInput],
    means: dict[int, TeamMean],
    amount: int,
    parent: str,
    part_label: str,
) -> None:
    where = f"医疗机构「{inst.name}」{part_label}的团队分配"
    keys = unique_keys([t.name for t in teams], [t.code for t in teams])
    weights = [t.signed_population * (means[t.unit_id].value or Fraction(0)) for t in teams]
    parts = settle_exact(where, amount, keys, weights)
    # What ``team_steps`` writes the steps from besides the line's own columns and sources:
    # the same for every team of the part.
    figures: dict[str, Figure] = {
        "year": sheet.year,
        "fund_fen": amount,
        "part_label": part_label,
        "total_weight": frac(fraction_sum(weights)),
    }
    for team, part in zip(teams, parts, strict=True):
        mean = means[team.unit_id]
        key = f"team:{team.unit_id}"
        sheet.lines.append(
            Line(
                key=key,
                parent=parent,
                level="team",
                name=team.name,
                unit_id=team.unit_id,
                county_id=county.unit_id,
                institution_id=inst.unit_id,
                team_id=team.unit_id,
                signed_population=team.signed_population,
                score=mean.shown,
                **part_columns(part),
                explanation=Explanation(
                    formula="团队应得 = P × S̄ ÷ Σ(P × S̄) × 所在部分金额（S̄ = 本年度已公示季度考核得分的精确平均，不先四舍五入）",
                    steps=(),  # written when the line is shown: team_steps
                    notes=(sheet.population_note,),
                    sources=team.l2,
                    figures=figures,
                ),
            )
        )
        if sheet.members:
            team_members(sheet, county, inst, team, part.entitled, key)


def team_steps(line: Line) -> tuple[str, ...]:
    """How a team's amount came about, step by step (Chinese), from what its line keeps: P, the
    published scores (``sources``), the part's fund, label and Σ(P × S̄) (``figures``) and the
    line's weight, share, exact amount, amount and rounding. A pure function of them, so the
    cascade does not write them: they are written when the line is shown (``line_steps``)."""
    figures = line.explanation.figures or {}
    population = line.signed_population or 0
    scores = line.explanation.sources
    steps = [f"P（签约人口）= {num(population)} 人"]
    if scores:
        exact, shown = _exact_mean(line.name, scores)
        steps += _mean_steps(scores, whole_figure(figures, "year"), exact, shown)
        mean_text = figure(exact)
    else:
        steps.append(_NO_SCORES)
        mean_text = "0"
    steps += share_steps(
        line_part(line),
        f"{num(population)} × {mean_text}",
        figure(Fraction(str(figures["total_weight"]))),
        whole_figure(figures, "fund_fen"),
        str(figures["part_label"]),
    )
    return tuple(steps)
