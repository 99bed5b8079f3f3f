"""The settlement (结算) of a year: city → counties → institutions, then each institution's
parts, teams and members (``assessments.cascade.teams``).

* city → counties per pool: ``settle_pools`` with P and the L4 score S;
* county → institutions: ``settle_pools`` with P and the L3 year-end (H2) score.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from assessments.cascade.groups import (
    POPULATION_RULE,
    GroupPart,
    Sheet,
    figure,
    part_columns,
    score_value,
    settle_group,
    share_steps,
    unique_keys,
)
from assessments.cascade.inputs import CountyInput, InstitutionInput, PoolInput, SettlementInputs
from assessments.cascade.lines import Explanation, Line
from assessments.cascade.management import institution_management
from assessments.cascade.teams import institution_parts
from assessments.cascade.text import num
from assessments.money import SettlementInputError, yuan
from assessments.settlement import share_for_display

__all__ = ["settle"]


def settle(inputs: SettlementInputs, *, members: bool = True) -> list[Line]:
    """The lines of the year's settlement sheet, depth-first; without ``members``, down to the
    teams only (no member or reserve lines, and the members' factors are not checked)."""
    params = inputs.parameters
    sheet = Sheet(
        year=inputs.year,
        reserve_rate=params.reserve_rate,
        cap=params.attainment_cap,
        population_note=POPULATION_RULE.format(as_of=inputs.as_of),
        members=members,
    )
    for pool in inputs.pools:
        _pool(sheet, pool)
    return sheet.lines


# city → counties
def _pool(sheet: Sheet, pool: PoolInput) -> None:
    counties = pool.counties
    where = f"结算池「{pool.name}」"
    if not counties:
        raise SettlementInputError(f"{where}下没有县（市、区）")
    fund = pool.fund_fen
    keys = unique_keys([c.name for c in counties], [c.code for c in counties])
    scores = [score_value(c.score, c.name, c.signed_population, "县（市、区）") for c in counties]
    populations = [c.signed_population for c in counties]
    parts = settle_group(where, fund, keys, populations, scores)
    total_weight = sum((p.weight for p in parts), Decimal(0))
    preallocated = sum(c.preallocated_fen for c in counties)
    key = f"pool:{pool.unit_id}"
    sheet.lines.append(
        Line(
            key=key,
            level="pool",
            name=pool.name,
            unit_id=pool.unit_id,
            signed_population=sum(populations),
            weight=total_weight,
            share=Fraction(1),
            share_display=share_for_display(Fraction(1)),
            exact_fen=Fraction(fund),
            entitled_fen=fund,
            preallocated_fen=preallocated,
            balance_fen=fund - preallocated,
            rounding_adjustment=Fraction(0),
            explanation=Explanation(
                formula="各县（市、区）应得 = P × S ÷ Σ(P × S) × 结算池资金",
                steps=(
                    f"结算池资金 = {num(fund)} 分（{yuan(fund)} 元），由市卫健委在结算配置中录入",
                    f"Σ P = {num(sum(populations))} 人；Σ(P × S) = {figure(total_weight)}",
                    f"{len(counties)} 个县（市、区）应得合计 = {yuan(sum(p.entitled for p in parts))} 元"
                    "（最大余额法保证合计恰好等于资金）",
                    f"已预拨合计 {yuan(preallocated)} 元，差额合计 {yuan(fund - preallocated)} 元",
                ),
                notes=(sheet.population_note,),
            ),
        )
    )
    for county, part in zip(counties, parts, strict=True):
        _county(sheet, pool, county, part, key, total_weight)


def _county(
    sheet: Sheet,
    pool: PoolInput,
    county: CountyInput,
    part: GroupPart,
    parent: str,
    total_weight: Decimal | Fraction,
) -> None:
    score = county.score
    pre = county.preallocated_fen
    balance = part.entitled - pre
    steps = [
        f"P（签约人口）= {num(county.signed_population)} 人；"
        + (
            f"S（{score.period} 年度市级考核得分）= {score.value}"
            if score
            else "S：无考核得分（签约人口为 0，不参与分配）"
        )
    ]
    steps += share_steps(
        part,
        f"{num(county.signed_population)} × {score.value if score else '0'}",
        figure(total_weight),
        pool.fund_fen,
        f"结算池「{pool.name}」资金",
    )
    if pre:
        steps.append(f"已预拨 {yuan(pre)} 元（{county.preallocation_note or '当年预拨'}）")
    else:
        steps.append("当年未预拨（预拨 0 元）")
    steps.append(
        f"差额 = 应得 {yuan(part.entitled)} − 预拨 {yuan(pre)} = {yuan(balance)} 元"
        + ("（应补拨）" if balance > 0 else "（应追回）" if balance < 0 else "（无差额）")
    )
    key = f"county:{county.unit_id}"
    sheet.lines.append(
        Line(
            key=key,
            parent=parent,
            level="county",
            name=county.name,
            unit_id=county.unit_id,
            county_id=county.unit_id,
            signed_population=county.signed_population,
            score=score.value if score else None,
            source=score,
            preallocated_fen=pre,
            balance_fen=balance,
            **part_columns(part),
            explanation=Explanation(
                formula="应得 = P × S ÷ Σ(P × S) × 结算池资金；差额 = 应得 − 预拨",
                steps=tuple(steps),
                notes=(sheet.population_note,),
                sources=(score,) if score else (),
            ),
        )
    )
    _institutions(sheet, county, part.entitled, key)


# county → institutions
def _institutions(sheet: Sheet, county: CountyInput, amount: int, parent: str) -> None:
    institutions = county.institutions
    where = f"县（市、区）「{county.name}」的机构分配"
    if not institutions:
        if amount > 0:
            raise SettlementInputError(
                f"县（市、区）「{county.name}」没有医疗机构，无法分配 {yuan(amount)} 元"
            )
        return
    keys = unique_keys([i.name for i in institutions], [i.code for i in institutions])
    scores = [score_value(i.score, i.name, i.signed_population, "医疗机构") for i in institutions]
    populations = [i.signed_population for i in institutions]
    parts = settle_group(where, amount, keys, populations, scores)
    total_weight = sum((p.weight for p in parts), Decimal(0))
    for inst, part in zip(institutions, parts, strict=True):
        key = f"institution:{inst.unit_id}"
        sheet.lines.append(
            _institution_line(sheet, county, inst, part, parent, total_weight, amount)
        )
        teams_amount = institution_management(sheet, county, inst, part.entitled, key)
        institution_parts(sheet, county, inst, teams_amount, key)


def _institution_line(
    sheet: Sheet,
    county: CountyInput,
    inst: InstitutionInput,
    part: GroupPart,
    parent: str,
    total_weight: Decimal | Fraction,
    amount: int,
) -> Line:
    score = inst.score
    steps = [
        f"P（签约人口）= {num(inst.signed_population)} 人；"
        + (
            f"S（{score.period} 县区年终考核得分）= {score.value}"
            if score
            else "S：无考核得分（签约人口为 0，不参与分配）"
        )
    ]
    steps += share_steps(
        part,
        f"{num(inst.signed_population)} × {score.value if score else '0'}",
        figure(total_weight),
        amount,
        f"「{county.name}」应得",
    )
    return Line(
        key=f"institution:{inst.unit_id}",
        parent=parent,
        level="institution",
        name=inst.name,
        unit_id=inst.unit_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        signed_population=inst.signed_population,
        score=score.value if score else None,
        source=score,
        **part_columns(part),
        explanation=Explanation(
            formula="机构应得 = P × S ÷ Σ(P × S) × 县（市、区）应得",
            steps=tuple(steps),
            notes=(sheet.population_note,),
            sources=(score,) if score else (),
        ),
    )
